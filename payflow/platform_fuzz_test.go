package payflow_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// FuzzPlatformRecords hands arbitrary bytes to every platform call that
// decodes a signed record, checked first by CheckRecord as the HTTP
// handler checks it. Whatever the bytes, neither must panic, a record
// that CheckRecord refuses must be refused by the call with the same
// code, message and status, and the call must fail with one of the
// package's codes other than internal, and must not move the ledger.
func FuzzPlatformRecords(f *testing.F) {
	s := newShop(f, false, paytest.Options{SoftCards: true})
	ctx := context.Background()
	before := s.Balances("EUR")
	v, err := s.Create(paytest.Request(s.Session, "EUR", 100))
	if err != nil {
		f.Fatal(err)
	}
	// Seeds: records of each kind that fail for a reason (replayed
	// nonce, wrong role, …), and some broken envelopes.
	f.Add(byte(0), s.Shopper.Proof(record.RoleShopper, nil))
	f.Add(byte(1), s.Seller.Proof(record.RoleSeller, s.Shopper.EID()))
	f.Add(byte(2), s.Seller.MustSign(paytest.Request(s.Session, "USD", 1)))
	consent := s.Consent(v.ID)
	consent[len(consent)-1] ^= 1
	f.Add(byte(3), consent)
	f.Add(byte(4), s.Seller.MustSign(&record.RefundRequest{RefundID: bytes.Repeat([]byte{9}, 16), RequestID: v.ID[:], Amount: 1, Currency: "EUR"}))
	f.Add(byte(3), []byte{0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40})
	f.Add(byte(0), []byte{})
	f.Fuzz(func(t *testing.T, kind byte, msg []byte) {
		var req any
		var call func(ctx context.Context) error
		switch kind % 5 {
		case 0:
			in := &payflow.LoginRequest{Proof: msg}
			req, call = in, func(ctx context.Context) error { _, err := s.Platform.Login(ctx, in); return err }
		case 1:
			in := &payflow.PairRequest{Proof: msg}
			req, call = in, func(ctx context.Context) error { _, err := s.Platform.Pair(ctx, in); return err }
		case 2:
			in := &payflow.CreateRequest{Request: msg}
			req, call = in, func(ctx context.Context) error { _, err := s.Platform.CreateRequest(ctx, in); return err }
		case 3:
			in := &payflow.ApproveRequest{Consent: msg}
			req, call = in, func(ctx context.Context) error { _, err := s.Platform.Approve(ctx, in); return err }
		case 4:
			in := &payflow.RefundRequest{Refund: msg}
			req, call = in, func(ctx context.Context) error { _, err := s.Platform.Refund(ctx, in); return err }
		}
		// The handler checks the record first (CheckRecord), and then
		// runs the call under the context it returns; a record that
		// the check refuses is refused by the call as the check
		// refused it, with its code, message and status.
		checked, cerr := s.Platform.CheckRecord(ctx, req)
		if cerr != nil {
			checked = ctx
		}
		err := call(checked)
		if cerr != nil {
			got, want := payflow.AsError(err), payflow.AsError(cerr)
			if got == nil || got.Code != want.Code || got.Message != want.Message || got.Status != want.Status {
				t.Fatalf("kind %d: CheckRecord refused %v, the call %v", kind%5, cerr, err)
			}
		}
		if err == nil {
			return // a seed that happens to be valid
		}
		if code := payflow.AsError(err).Code; code == "internal" || code == "unavailable" {
			t.Fatalf("kind %d: %v", kind%5, err)
		}
		a, err1 := s.Platform.Balance(ctx, s.Shopper.ID, "EUR")
		b, err2 := s.Platform.Balance(ctx, paytest.MerchantID, "EUR")
		if got := [2]payflow.Balance{a, b}; err1 != nil || err2 != nil || got != before {
			t.Fatalf("the ledger moved: %v, was %v", got, before)
		}
	})
}
