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
// decodes a signed record. Whatever the bytes, the call must not panic,
// must fail with one of the package's codes other than internal, and must
// not move the ledger.
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
		var err error
		switch kind % 5 {
		case 0:
			_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: msg})
		case 1:
			_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: msg})
		case 2:
			_, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
		case 3:
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
		case 4:
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
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
