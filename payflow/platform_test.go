package payflow_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// shop is a paytest.Shop with lower-case helpers for these tests.
type shop struct {
	*paytest.Shop
	shopper, seller *paytest.Card
	session         *payflow.SessionView
}

const (
	merchantID = paytest.MerchantID
	funds      = paytest.Funds
)

// basketPaid is the shopper's and the merchant's balances once the
// shopper paid the basket of 690 once.
var basketPaid = [2]payflow.Balance{{Posted: funds - 690}, {Posted: 690}}

func newShop(tb testing.TB, manual bool, opts paytest.Options) *shop {
	tb.Helper()
	return newShopOn(tb, memory.New(), manual, opts)
}

// newShopOn is newShop with the platform's state in st.
func newShopOn(tb testing.TB, st payflow.Store, manual bool, opts paytest.Options) *shop {
	tb.Helper()
	return newShopOnLedger(tb, st, ledgermemory.New(), manual, opts)
}

// newShopOnLedger is newShopOn with the ledger on ls.
func newShopOnLedger(tb testing.TB, st payflow.Store, ls ledger.Store, manual bool, opts paytest.Options) *shop {
	tb.Helper()
	ps := paytest.NewShop(paytest.NewFixture(tb, st, ls, opts), manual)
	return &shop{Shop: ps, shopper: ps.Shopper, seller: ps.Seller, session: ps.Session}
}

// newProcess returns another platform process of the shop: a Platform
// on its ledger, store, verifier, receipt key and chain and its clock,
// with opts' other options.
func (s *shop) newProcess(t testing.TB, opts payflow.PlatformOptions) *payflow.Platform {
	t.Helper()
	opts.Ledger, opts.Store, opts.Verifier, opts.Key, opts.Chain, opts.Now = s.Ledger, s.Store, s.Verifier, s.Key, s.PlatformChain, s.Clock.Now
	p, err := payflow.NewPlatform(opts)
	require.NoError(t, err)
	return p
}

// balances returns the shopper's and the merchant's EUR balances.
func (s *shop) balances(t *testing.T) [2]payflow.Balance {
	t.Helper()
	return s.Balances("EUR")
}

// basket returns a new payment request for the basket (2 apples, 1
// bread: 690) in s's session, signed by s's seller card.
func (s *shop) basket() []byte {
	return s.seller.MustSign(paytest.Request(s.session, "EUR", 690, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1}))
}

// request creates a signed request for the basket (2 apples, 1 bread:
// 690) and returns its view and signed bytes.
func (s *shop) request(t *testing.T) (*payflow.PaymentView, []byte) {
	t.Helper()
	msg := s.basket()
	v, err := s.Platform.CreateRequest(context.Background(), &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)
	return v, msg
}

// held creates a request for the basket and approves it, on a shop whose
// merchant captures manually, and returns its held view.
func (s *shop) held(t *testing.T) *payflow.PaymentView {
	t.Helper()
	v, _ := s.request(t)
	h, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, h.State)
	return h
}

// captured has the shopper approve request id with a fresh consent and,
// on a shop whose merchant captures manually (manual), the seller capture
// all of the hold, and returns the captured view.
func (s *shop) captured(t *testing.T, id payflow.ID, manual bool) *payflow.PaymentView {
	t.Helper()
	ctx := context.Background()
	v, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
	require.NoError(t, err)
	if manual {
		require.Equal(t, payflow.StateHeld, v.State)
		v, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
		require.NoError(t, err)
	}
	require.Equal(t, payflow.StateCaptured, v.State)
	return v
}

// approveLost creates a request for the basket and approves it on a store
// that loses the record of its settlement: the approval fails with errLost
// and the request stays approving. It returns the request's ID.
func (s *shop) approveLost(t *testing.T) payflow.ID {
	t.Helper()
	v, _ := s.request(t)
	_, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.ErrorIs(t, err, errLost)
	s.requireState(t, v.ID, payflow.StateApproving)
	return v.ID
}

// consent fetches the payer's view of v and signs a consent to it.
func (s *shop) consent(t *testing.T, id payflow.ID) []byte {
	t.Helper()
	pv, err := s.Platform.Payment(context.Background(), s.shopper.Token, id)
	require.NoError(t, err)
	require.Len(t, pv.ConsentNonce, record.NonceSize)
	return s.shopper.MustSign(paytest.Consent(pv))
}

// takeID has the ledger hold id as a transfer of 1 EUR from the
// shopper's wallet to the merchant that another client of the ledger
// made (code 9), touching no hold.
func (s *shop) takeID(t *testing.T, id ledger.ID) {
	t.Helper()
	res, err := s.Ledger.CreateTransfers(context.Background(), []ledger.Transfer{{
		ID: id, DebitAccountID: payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID),
		CreditAccountID: payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), Amount: 1, Ledger: eurLedger, Code: 9,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
}

// payout moves amount of the merchant's EUR balance out to its bank (the
// funding source).
func (s *shop) payout(t *testing.T, amount uint64) {
	t.Helper()
	eur := uint32(978)
	res, err := s.Ledger.CreateTransfers(context.Background(), []ledger.Transfer{{
		ID: ledger.NewID(), DebitAccountID: payflow.AccountID(payflow.AccountMerchant, eur, merchantID),
		CreditAccountID: payflow.AccountID(payflow.AccountFunding, eur, ""), Amount: amount, Ledger: eur, Code: 9,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
}

// sweep runs the recovery sweep and checks how many settlements it
// finished.
func (s *shop) sweep(t *testing.T, want int, msg ...any) {
	t.Helper()
	n, err := s.Platform.RecoverSweep(context.Background(), 0)
	require.NoError(t, err)
	assert.Equal(t, want, n, msg...)
}

func TestPurchase(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()

	// Both phones resolve the other's EID into a name.
	who, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err)
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Corner Grocer", Role: 2, MerchantID: merchantID}, who)
	who, err = s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: s.shopper.EID()})
	require.NoError(t, err)
	assert.Equal(t, &payflow.ResolveResponse{DisplayName: "Alice", Role: 1}, who)
	assert.Len(t, s.session.PairingCode, 6)
	assert.Equal(t, "Alice", s.session.ShopperName)
	assert.Equal(t, payflow.SessionID(s.shopper.EID(), s.seller.EID()), s.session.ID)

	v, msg := s.request(t)
	assert.Equal(t, payflow.StatePending, v.State)
	assert.Equal(t, uint64(690), v.Amount)
	assert.Equal(t, []payflow.Line{
		{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 120, Amount: 240},
		{SKU: "bread", Name: "Sourdough bread", Quantity: 1, UnitPrice: 450, Amount: 450},
	}, v.Lines)
	assert.Nil(t, v.ConsentNonce, "the seller gets no consent nonce")
	again, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err, "the same signed request is a retry")
	assert.Equal(t, v, again)

	consent := s.consent(t, v.ID)
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, done.State)
	assert.Equal(t, uint64(690), done.Captured)
	assert.Equal(t, basketPaid, s.balances(t))

	// The receipt verifies offline with the platform's certificate.
	info, err := s.Platform.Info(ctx)
	require.NoError(t, err)
	vp, err := s.PlatformVerifier.VerifyPlatform(info.Chain)
	require.NoError(t, err)
	var rc record.Receipt
	require.NoError(t, vp.VerifyReceipt(done.Receipt, &rc))
	ch := record.Hash(consent)
	assert.Equal(t, record.ReceiptPayment, rc.Kind)
	assert.Equal(t, v.RequestHash, rc.RequestHash)
	assert.Equal(t, ch[:], rc.ConsentHash)
	assert.Equal(t, uint64(690), rc.Amount)
	post := payflow.TransferID(v.ID, 1, 0, 2)
	assert.Equal(t, [][]byte{post[:]}, rc.TransferIDs)
	assert.Equal(t, []record.Line{{SKU: "apple", Name: "Apple", Quantity: 2, UnitPrice: 120}, {SKU: "bread", Name: "Sourdough bread", Quantity: 1, UnitPrice: 450}}, rc.Lines)

	// A tampered receipt does not verify.
	bad := append([]byte{}, done.Receipt...)
	bad[len(bad)-1] ^= 1
	assert.ErrorIs(t, vp.VerifyReceipt(bad, &rc), record.ErrSignature)

	// The seller sees the same captured request.
	sv, err := s.Platform.Payment(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, done, sv)
}

func TestRefunds(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	refund := func(amount uint64, currency string) (*record.RefundRequest, []byte) {
		id := payflow.ID{}
		_, err := rand.Read(id[:])
		require.NoError(t, err)
		r := &record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: amount, Currency: currency}
		return r, s.seller.MustSign(r)
	}

	_, first := refund(200, "EUR")
	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: first})
	require.NoError(t, err)
	assert.Equal(t, uint64(200), rv.Amount)
	assert.Equal(t, uint64(200), rv.Refunded)
	var rc record.Receipt
	vp, err := s.PlatformVerifier.VerifyPlatform(s.PlatformChain)
	require.NoError(t, err)
	require.NoError(t, vp.VerifyReceipt(rv.Receipt, &rc))
	assert.Equal(t, record.ReceiptRefund, rc.Kind)
	assert.Equal(t, rv.ID[:], rc.RefundID)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 490}, {Posted: 490}}, s.balances(t))

	// The same refund again is a retry: same view, money moved once.
	again, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: first})
	require.NoError(t, err)
	assert.Equal(t, rv, again)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 490}, {Posted: 490}}, s.balances(t))

	tests := []struct {
		name     string
		amount   uint64
		currency string
		want     error
	}{
		{"above what is left", 491, "EUR", payflow.ErrLimit},
		{"above captured", 691, "EUR", payflow.ErrLimit},
		{"other currency", 100, "USD", payflow.ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, msg := refund(tt.amount, tt.currency)
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds - 490}, {Posted: 490}}, s.balances(t))
		})
	}

	// Another refund under a used ID is a conflict.
	r, _ := refund(10, "EUR")
	r.RefundID = rv.ID[:]
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: s.seller.MustSign(r)})
	assert.ErrorIs(t, err, payflow.ErrConflict)

	// The rest can be refunded; then nothing more.
	_, rest := refund(490, "EUR")
	rv, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: rest})
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rv.Refunded)
	_, one := refund(1, "EUR")
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: one})
	assert.ErrorIs(t, err, payflow.ErrLimit)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {Posted: 0}}, s.balances(t))
}

// approveAltered is a case of TestRefusals: the shopper's card signs the
// consent to a new request's payment screen as alter changes it, and the
// platform is asked to approve it.
func approveAltered(alter func(*record.Consent)) func(*testing.T, *shop, *[2]payflow.Balance) error {
	return func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
		v, _ := s.request(t)
		pv, err := s.Platform.Payment(context.Background(), s.shopper.Token, v.ID)
		require.NoError(t, err)
		c := paytest.Consent(pv)
		alter(c)
		_, err = s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.shopper.MustSign(c)})
		return err
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// run returns the error of the refused call; before is taken
		// just before it.
		run  func(t *testing.T, s *shop, before *[2]payflow.Balance) error
		want error
	}{
		{"replayed consent nonce", func(t *testing.T, s *shop, before *[2]payflow.Balance) error {
			v, _ := s.request(t)
			pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.shopper.MustSign(paytest.Consent(pv))})
			require.NoError(t, err)
			*before = s.balances(t)
			// Another consent over the nonce that the first spent.
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.shopper.MustSign(paytest.Consent(pv))})
			return err
		}, payflow.ErrReplay},
		{"consent for a changed amount", approveAltered(func(c *record.Consent) { c.Amount = 69 }), payflow.ErrMismatch},
		{"consent for the amount in another currency", approveAltered(func(c *record.Consent) { c.Currency = "USD" }), payflow.ErrMismatch},
		{"consent for another request hash", approveAltered(func(c *record.Consent) { c.RequestHash = make([]byte, 32) }), payflow.ErrMismatch},
		{"consent naming another payee", approveAltered(func(c *record.Consent) { c.MerchantID = "other" }), payflow.ErrMismatch},
		{"consent signed by another card", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			mallory := s.NewCard("Mallory")
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: mallory.MustSign(paytest.Consent(pv))})
			return err
		}, payflow.ErrForbidden},
		{"consent with a tampered signature", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			c[len(c)-1] ^= 0x01
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			return err
		}, payflow.ErrSignature},
		{"consent without a nonce from the platform", approveAltered(func(c *record.Consent) { c.Nonce = make([]byte, 32) }), payflow.ErrReplay},
		{"request from a card that is not a merchant's", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			r := paytest.Request(s.session, "EUR", 690)
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.shopper.MustSign(r)})
			return err
		}, payflow.ErrForbidden},
		{"request for another merchant than the session's", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			// The seller card moved to another merchant after the shopper
			// confirmed this one.
			require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "other-2", Name: "Other Shop", Currency: "EUR",
				SellerCardIDs: []string{s.seller.ID}}))
			r := paytest.Request(s.session, "EUR", 100)
			r.MerchantID = "other-2"
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
			return err
		}, payflow.ErrForbidden},
		{"capture beyond the amount of a captured payment", func(t *testing.T, s *shop, before *[2]payflow.Balance) error {
			v, _ := s.request(t)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			require.NoError(t, err)
			*before = s.balances(t)
			_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 10_000})
			return err
		}, payflow.ErrFinal},
		{"request with a wrong total", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			r := paytest.Request(s.session, "EUR", 691, record.Item{SKU: "apple", Quantity: 2}, record.Item{SKU: "bread", Quantity: 1})
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
			return err
		}, payflow.ErrMismatch},
		{"request in another currency", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			r := paytest.Request(s.session, "USD", 690)
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
			return err
		}, payflow.ErrMismatch},
		{"request ID reused for another request", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			r := paytest.Request(s.session, "EUR", 100)
			r.RequestID = v.ID[:]
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
			return err
		}, payflow.ErrConflict},
		{"expired request", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			s.Clock.Advance(payflow.DefaultRequestTTL)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			pv, err2 := s.Platform.Payment(ctx, s.seller.Token, v.ID)
			require.NoError(t, err2)
			assert.Equal(t, payflow.StateExpired, pv.State)
			return err
		}, payflow.ErrExpired},
		{"approve after cancel", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			cv, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, cv.State)
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			return err
		}, payflow.ErrFinal},
		{"approve after decline", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			dv, err := s.Platform.Decline(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateDeclined, dv.State)
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			return err
		}, payflow.ErrFinal},
		{"cancel by the shopper", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			_, err := s.Platform.Cancel(ctx, s.shopper.Token, v.ID)
			return err
		}, payflow.ErrForbidden},
		{"decline after capture", func(t *testing.T, s *shop, before *[2]payflow.Balance) error {
			v, _ := s.request(t)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			require.NoError(t, err)
			*before = s.balances(t)
			_, err = s.Platform.Decline(ctx, s.shopper.Token, v.ID)
			return err
		}, payflow.ErrFinal},
		{"insufficient funds", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			r := paytest.Request(s.session, "EUR", funds+1)
			v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
			require.NoError(t, err)
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			pv, err2 := s.Platform.Payment(ctx, s.seller.Token, v.ID)
			require.NoError(t, err2)
			assert.Equal(t, payflow.StatePending, pv.State, "the request stays pending")
			return err
		}, payflow.ErrFunds},
		{"revoked card", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			c := s.consent(t, v.ID)
			s.Revoke(s.shopper)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			return err
		}, payflow.ErrCard},
		{"login of a revoked card", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			s.Revoke(s.shopper)
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.shopper.Proof(record.RoleShopper, nil)})
			return err
		}, payflow.ErrCard},
		{"counter regression", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			older := s.seller.MustSign(paytest.Request(s.session, "EUR", 100))
			newer := s.seller.MustSign(paytest.Request(s.session, "EUR", 200))
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: newer})
			require.NoError(t, err)
			_, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: older})
			return err
		}, payflow.ErrClone},
		{"unknown EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			_, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: make([]byte, 16)})
			return err
		}, payflow.ErrNotFound},
		{"stale EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			eid := s.seller.EID()
			s.Clock.Advance(25 * time.Minute)
			_, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: eid})
			return err
		}, payflow.ErrNotFound},
		{"pairing with an unknown EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			unknown := make([]byte, 16)
			_, err := rand.Read(unknown)
			require.NoError(t, err)
			_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, unknown)})
			return err
		}, payflow.ErrNotFound},
		{"pairing as seller without a merchant, naming an unknown EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			unknown := make([]byte, 16)
			_, err := rand.Read(unknown)
			require.NoError(t, err)
			_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleSeller, unknown)})
			return err
		}, payflow.ErrForbidden},
		{"pairing as seller without a merchant, naming its own EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleSeller, s.shopper.EID())})
			return err
		}, payflow.ErrForbidden},
		{"resolve without a token", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			_, err := s.Platform.Resolve(ctx, "nope", &payflow.ResolveRequest{EID: s.seller.EID()})
			return err
		}, payflow.ErrUnauthorized},
		{"login as seller without a merchant", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: s.shopper.Proof(record.RoleSeller, nil)})
			return err
		}, payflow.ErrForbidden},
		{"login proof replayed", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			p := s.shopper.Proof(record.RoleShopper, nil)
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: p})
			require.NoError(t, err)
			_, err = s.Platform.Login(ctx, &payflow.LoginRequest{Proof: p})
			return err
		}, payflow.ErrReplay},
		{"login proof with a tampered signature", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			p := s.shopper.Proof(record.RoleShopper, nil)
			p[len(p)-1] ^= 0x01
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: p})
			return err
		}, payflow.ErrSignature},
		{"request with a tampered signature", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			msg := s.seller.MustSign(paytest.Request(s.session, "EUR", 690))
			msg[len(msg)-1] ^= 0x01
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
			return err
		}, payflow.ErrSignature},
		{"refund with a tampered signature", func(t *testing.T, s *shop, before *[2]payflow.Balance) error {
			v, _ := s.request(t)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			require.NoError(t, err)
			*before = s.balances(t)
			msg := s.seller.MustSign(&record.RefundRequest{RefundID: bytes.Repeat([]byte{9}, 16), RequestID: v.ID[:], Amount: 10, Currency: "EUR"})
			msg[len(msg)-1] ^= 0x01
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			return err
		}, payflow.ErrSignature},
		{"refund by the shopper's card", func(t *testing.T, s *shop, before *[2]payflow.Balance) error {
			v, _ := s.request(t)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			require.NoError(t, err)
			*before = s.balances(t)
			msg := s.shopper.MustSign(&record.RefundRequest{RefundID: bytes.Repeat([]byte{9}, 16), RequestID: v.ID[:], Amount: 10, Currency: "EUR"})
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			return err
		}, payflow.ErrForbidden},
		{"refund of a pending request", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			msg := s.seller.MustSign(&record.RefundRequest{RefundID: bytes.Repeat([]byte{9}, 16), RequestID: v.ID[:], Amount: 10, Currency: "EUR"})
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			return err
		}, payflow.ErrConflict},
		{"request in an unpaired session", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			bob := s.NewCard("Bob")
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, bob.EID())})
			require.NoError(t, err)
			sess := &payflow.SessionView{ID: payflow.SessionID(bob.EID(), s.seller.EID()), ShopperCardID: bob.ID, MerchantID: merchantID}
			_, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(paytest.Request(sess, "EUR", 100))})
			return err
		}, payflow.ErrConflict},
		{"request for another payer than the session's", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			r := paytest.Request(s.session, "EUR", 100)
			r.PayerCardID = s.seller.ID
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
			return err
		}, payflow.ErrMismatch},
		{"shopper card pairing with a shopper card, as with an unknown EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			bob := s.NewCard("Bob")
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, bob.EID())})
			return err
		}, payflow.ErrNotFound},
		{"seller card pairing as a shopper", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			bob := s.NewCard("Bob")
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleShopper, bob.EID())})
			return err
		}, payflow.ErrForbidden},
		{"shopper pairing naming its own EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, s.shopper.EID())})
			return err
		}, payflow.ErrInvalid},
		{"seller pairing naming its own EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.seller.Proof(record.RoleSeller, s.seller.EID())})
			return err
		}, payflow.ErrInvalid},
		{"session seen by a third card", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			bob := s.NewCard("Bob")
			bob.Login(record.RoleShopper)
			_, err := s.Platform.Session(ctx, bob.Token, s.session.ID)
			return err
		}, payflow.ErrNotFound},
		{"payment seen by a third card", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			v, _ := s.request(t)
			bob := s.NewCard("Bob")
			bob.Login(record.RoleShopper)
			_, err := s.Platform.Payment(ctx, bob.Token, v.ID)
			return err
		}, payflow.ErrForbidden},
		{"login with another card's EID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			p := s.shopper.ProofNaming(record.RoleShopper, s.seller.EID(), nil)
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: p})
			return err
		}, payflow.ErrMismatch},
		{"challenge for no ICCID", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			_, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: "8944500102198304827"})
			return err
		}, payflow.ErrInvalid},
		{"expired token", func(t *testing.T, s *shop, _ *[2]payflow.Balance) error {
			s.Clock.Advance(payflow.DefaultTokenTTL)
			_, err := s.Platform.Catalog(ctx, s.shopper.Token, merchantID)
			return err
		}, payflow.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			before := s.balances(t)
			err := tt.run(t, s, &before)
			assert.ErrorIs(t, err, tt.want)
			assert.Equal(t, before, s.balances(t), "the ledger did not move")
		})
	}
}

func TestInsufficientFundsThenRetry(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	r := paytest.Request(s.session, "EUR", funds+500)
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
	require.NoError(t, err)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.ErrorIs(t, err, payflow.ErrFunds)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{2}, s.shopper.ID, "EUR", 500))
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, done.State)
	assert.Equal(t, [2]payflow.Balance{{Posted: 0}, {Posted: funds + 500}}, s.balances(t))
}

func TestManualCapture(t *testing.T) {
	ctx := context.Background()
	approve := func(t *testing.T) (*shop, *payflow.PaymentView) {
		s := newShop(t, true, paytest.Options{})
		v, _ := s.request(t)
		held, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
		require.NoError(t, err)
		assert.Equal(t, payflow.StateHeld, held.State)
		assert.Nil(t, held.Receipt)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}, s.balances(t))
		return s, held
	}
	t.Run("partial capture", func(t *testing.T) {
		s, v := approve(t)
		_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 691})
		assert.ErrorIs(t, err, payflow.ErrLimit)
		_, err = s.Platform.Capture(ctx, s.shopper.Token, &payflow.CaptureRequest{RequestID: v.ID})
		assert.ErrorIs(t, err, payflow.ErrForbidden)
		c, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 500})
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCaptured, c.State)
		assert.Equal(t, uint64(500), c.Captured)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds - 500}, {Posted: 500}}, s.balances(t))
		again, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 500})
		require.NoError(t, err)
		assert.Equal(t, c, again)
		_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: 600})
		assert.ErrorIs(t, err, payflow.ErrFinal)
		var rc record.Receipt
		require.NoError(t, record.Open(c.Receipt, &rc))
		assert.Equal(t, uint64(500), rc.Amount)
	})
	t.Run("cancel voids the hold", func(t *testing.T) {
		s, v := approve(t)
		c, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCancelled, c.State)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
		_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
		assert.ErrorIs(t, err, payflow.ErrFinal)
	})
	t.Run("views show the hold's expiry while held", func(t *testing.T) {
		s := newShop(t, true, paytest.Options{})
		v, _ := s.request(t)
		assert.True(t, v.HoldExpiresAt.IsZero(), "pending: no hold")
		approved := s.Clock.Now()
		held, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
		require.NoError(t, err)
		assert.True(t, approved.Add(payflow.DefaultHoldTTL).Equal(held.HoldExpiresAt), held.HoldExpiresAt)
		for _, token := range []string{s.seller.Token, s.shopper.Token} {
			pv, err := s.Platform.Payment(ctx, token, v.ID)
			require.NoError(t, err)
			assert.True(t, held.HoldExpiresAt.Equal(pv.HoldExpiresAt), pv.HoldExpiresAt)
		}
		c, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
		require.NoError(t, err)
		assert.True(t, c.HoldExpiresAt.IsZero(), "captured: no hold")
	})
	t.Run("capture after the hold's expiry", func(t *testing.T) {
		s, v := approve(t)
		// At the hold's expiry, before the sweep has voided it.
		s.Clock.Advance(payflow.DefaultHoldTTL)
		s.RefreshCRLs()
		s.seller.Login(record.RoleSeller)
		_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
		require.ErrorIs(t, err, payflow.ErrExpired)
		s.requireState(t, v.ID, payflow.StateExpired)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "the hold is voided")
		_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
		assert.ErrorIs(t, err, payflow.ErrExpired)
		n, err := s.Platform.ExpireDue(ctx, 0)
		require.NoError(t, err)
		assert.Equal(t, 0, n, "nothing left to expire")
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
	})
	// Every call on a held payment at or after its hold's expiry, before
	// the sweep came, settles the expiry: the hold is voided and the
	// request expired, and a cancellation is expired as a capture is.
	for _, tt := range []struct {
		name string
		call func(s *shop, id payflow.ID) (*payflow.PaymentView, error)
		err  error // nil: the call shows the request expired
	}{
		{"cancel", func(s *shop, id payflow.ID) (*payflow.PaymentView, error) {
			return s.Platform.Cancel(ctx, s.seller.Token, id)
		}, payflow.ErrExpired},
		{"payer's read", func(s *shop, id payflow.ID) (*payflow.PaymentView, error) {
			return s.Platform.Payment(ctx, s.shopper.Token, id)
		}, nil},
		{"seller's read", func(s *shop, id payflow.ID) (*payflow.PaymentView, error) {
			return s.Platform.Payment(ctx, s.seller.Token, id)
		}, nil},
	} {
		t.Run(tt.name+" after the hold's expiry", func(t *testing.T) {
			s, v := approve(t)
			s.Clock.Advance(payflow.DefaultHoldTTL - time.Second)
			s.RefreshCRLs()
			s.shopper.Login(record.RoleShopper)
			s.seller.Login(record.RoleSeller)
			pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateHeld, pv.State, "a second before the hold's expiry")
			s.Clock.Advance(time.Second)
			got, err := tt.call(s, v.ID)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, payflow.StateExpired, got.State)
				assert.Nil(t, got.ConsentNonce)
			}
			s.requireState(t, v.ID, payflow.StateExpired)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "the hold is voided")
			_, err = s.Platform.Cancel(ctx, s.seller.Token, v.ID)
			assert.ErrorIs(t, err, payflow.ErrExpired)
			n, err := s.Platform.ExpireDue(ctx, 0)
			require.NoError(t, err)
			assert.Equal(t, 0, n, "nothing left to expire")
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
		})
	}
	t.Run("a read finishes an expiry under way", func(t *testing.T) {
		st := &faultStore{Store: memory.New()}
		s := newShopOn(t, st, true, paytest.Options{})
		v := s.held(t)
		s.Clock.Advance(payflow.DefaultHoldTTL)
		loseNextUpdateFrom(st, "voiding")
		_, err := s.Platform.ExpireDue(ctx, 0)
		require.ErrorContains(t, err, "connection lost")
		r, err := s.Store.Payment(ctx, v.ID)
		require.NoError(t, err)
		assert.Equal(t, "voiding", r.State)
		assert.Equal(t, payflow.StateExpired, r.VoidTo)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "the ledger voided the hold")
		s.RefreshCRLs()
		s.shopper.Login(record.RoleShopper)
		pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateExpired, pv.State)
		s.requireState(t, v.ID, payflow.StateExpired)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
		require.NoError(t, s.Ledger.Verify(ctx))
	})
	t.Run("hold expires", func(t *testing.T) {
		s, v := approve(t)
		n, err := s.Platform.ExpireDue(ctx, 0)
		require.NoError(t, err)
		assert.Equal(t, 0, n)
		s.Clock.Advance(payflow.DefaultHoldTTL)
		n, err = s.Platform.ExpireDue(ctx, 0)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
		s.requireState(t, v.ID, payflow.StateExpired)
	})
}

func TestExpireDue(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	s.Clock.Advance(payflow.DefaultRequestTTL - time.Second)
	n, err := s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, n)
	s.Clock.Advance(time.Second)
	n, err = s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	s.requireState(t, v.ID, payflow.StateExpired)
	_, err = s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	assert.ErrorIs(t, err, payflow.ErrExpired)
}

// platCertFor returns a certificate of pub, which pki's CA would not
// issue for a key off P-256, signed by a P-256 key of its own.
func platCertFor(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "casimpay test platform"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	require.NoError(t, err)
	return der
}

// platPointless is a receipt key whose public key is ECDSA P-256 without
// a point, which crypto/ecdsa cannot compare or verify with.
type platPointless struct{ crypto.Signer }

func (platPointless) Public() crypto.PublicKey { return &ecdsa.PublicKey{Curve: elliptic.P256()} }

// TestNewPlatformRefusesKeyOffP256: a receipt key that is not ECDSA P-256
// (on another curve, with a certificate that matches it, or without a
// point) is refused by NewPlatform, as its godoc says, rather than taken:
// no receipt can be signed with it (ES256, PROTOCOL.md §3), so the first
// payment would be settled in the ledger before its receipt failed.
func TestNewPlatformRefusesKeyOffP256(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	opts := func(key crypto.Signer, chain [][]byte) payflow.PlatformOptions {
		return payflow.PlatformOptions{Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier, Key: key, Chain: chain, Now: s.Clock.Now}
	}
	for _, curve := range []elliptic.Curve{elliptic.P224(), elliptic.P384(), elliptic.P521()} {
		key, err := ecdsa.GenerateKey(curve, rand.Reader)
		require.NoError(t, err)
		_, err = payflow.NewPlatform(opts(key, [][]byte{platCertFor(t, key.Public())}))
		assert.EqualError(t, err, "payflow: receipt key is not ECDSA P-256", curve.Params().Name)
	}
	_, err := payflow.NewPlatform(opts(platPointless{}, s.PlatformChain))
	assert.EqualError(t, err, "payflow: receipt key is not ECDSA P-256", "no point")

	before := s.balances(t)
	v, _ := s.request(t)
	_, err = s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err, "the shop's P-256 key signs its receipts")
	assert.Equal(t, before[0].Posted-690, s.balances(t)[0].Posted)
}

// TestNewPlatformRefusesKeyThatCannotSign: NewPlatform refuses, without
// a panic, a receipt key that is a nil pointer, and one that is an
// *ecdsa.PrivateKey without its private scalar (its public key that of
// the chain's certificate), with which record.Sign refuses every receipt,
// so that the first payment would be settled in the ledger before its
// receipt failed; a store that is a nil pointer is none either, and a
// random source that is one stands for the default.
func TestNewPlatformRefusesKeyThatCannotSign(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	opts := payflow.PlatformOptions{Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier, Chain: s.PlatformChain, Now: s.Clock.Now}
	opts.Key = (*ecdsa.PrivateKey)(nil)
	_, err := payflow.NewPlatform(opts)
	assert.EqualError(t, err, "payflow: no receipt key and chain", "a nil pointer")
	opts.Key = &ecdsa.PrivateKey{PublicKey: s.Key.PublicKey}
	_, err = payflow.NewPlatform(opts)
	assert.EqualError(t, err, "payflow: receipt key has no private scalar")
	opts.Key, opts.Store = s.Key, (*memory.Store)(nil)
	_, err = payflow.NewPlatform(opts)
	assert.EqualError(t, err, "payflow: no store")

	opts.Store, opts.Rand = s.Store, (*bytes.Reader)(nil)
	p, err := payflow.NewPlatform(opts)
	require.NoError(t, err)
	_, err = p.Challenge(context.Background(), &payflow.ChallengeRequest{CardID: s.shopper.ID})
	assert.NoError(t, err, "a challenge drawn from crypto/rand")
}

// misnamedSigner signs with its Signer but names pub as its public key, as
// an HSM's signer set up with another key's certificate would.
type misnamedSigner struct {
	crypto.Signer
	pub crypto.PublicKey
}

func (s misnamedSigner) Public() crypto.PublicKey { return s.pub }

// TestNewPlatformRefusesKeyThatSignsForNoOne: NewPlatform refuses a receipt
// key that does not sign with the private key of its public key (that of
// the chain's certificate): an *ecdsa.PrivateKey whose scalar is another
// key's, and a signer of another type that names one key and signs with
// another; a signer that cannot sign when NewPlatform checks it is
// refused with its error. Each would sign receipts that verify under no
// certificate of the key, the first payment settled in the ledger before
// its receipt failed at the phones. A signer of another type that signs
// with its key starts, and its receipts verify.
func TestNewPlatformRefusesKeyThatSignsForNoOne(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	opts := payflow.PlatformOptions{Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier, Chain: s.PlatformChain, Now: s.Clock.Now}
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	//lint:ignore SA1019 a key whose scalar is another key's
	opts.Key = &ecdsa.PrivateKey{PublicKey: s.Key.PublicKey, D: other.D}
	_, err = payflow.NewPlatform(opts)
	assert.EqualError(t, err, "payflow: receipt key does not sign with its public key's private key", "another key's scalar")
	opts.Key = misnamedSigner{Signer: other, pub: s.Key.Public()}
	_, err = payflow.NewPlatform(opts)
	assert.EqualError(t, err, "payflow: receipt key does not sign with its public key's private key", "a signer of another key")
	down := &downSigner{Signer: s.Key}
	down.down.Store(true)
	opts.Key = down
	_, err = payflow.NewPlatform(opts)
	assert.ErrorIs(t, err, errSignerDown)
	assert.EqualError(t, err, "payflow: checking the receipt key: "+errSignerDown.Error())

	opts.Key = misnamedSigner{Signer: s.Key, pub: s.Key.Public()}
	p, err := payflow.NewPlatform(opts)
	require.NoError(t, err)
	v, _ := s.request(t)
	done, err := p.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	var rc record.Receipt
	_, err = s.PlatformVerifier.VerifyReceipt(done.Receipt, s.PlatformChain, &rc)
	assert.NoError(t, err, "the receipt of a signer of its key")
}

// limitedShop returns a shop whose cards may resolve 3 EIDs at once and 1
// more a second, each with its budget full.
func limitedShop(t *testing.T) *shop {
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1}})
	s.Clock.Advance(time.Second) // refills what the shop's pairing drew
	return s
}

// spendBudget resolves the seller's EID with the shopper's token until
// the limitedShop's budget is spent, and returns the request.
func spendBudget(t *testing.T, s *shop) *payflow.ResolveRequest {
	t.Helper()
	req := &payflow.ResolveRequest{EID: s.seller.EID()}
	for range 3 {
		_, err := s.Platform.Resolve(context.Background(), s.shopper.Token, req)
		require.NoError(t, err)
	}
	return req
}

func TestResolveRateLimit(t *testing.T) {
	s := limitedShop(t)
	ctx := context.Background()
	req := spendBudget(t, s)
	_, err := s.Platform.Resolve(ctx, s.shopper.Token, req)
	assert.ErrorIs(t, err, payflow.ErrRateLimited)
	s.shopper.Login(record.RoleShopper)
	_, err = s.Platform.Resolve(ctx, s.shopper.Token, req)
	assert.ErrorIs(t, err, payflow.ErrRateLimited, "a new login of the same card has no fresh budget")
	_, err = s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: s.shopper.EID()})
	assert.NoError(t, err, "another card has its own budget")
	s.Clock.Advance(time.Second)
	_, err = s.Platform.Resolve(ctx, s.shopper.Token, req)
	assert.NoError(t, err)
}

// TestRateLimitedRetryAfter: a refusal for the card's budget of EID
// resolutions, of a resolution or a pairing, names that budget ("too many
// EID resolutions") and says when its next resolution is allowed.
func TestRateLimitedRetryAfter(t *testing.T) {
	s := limitedShop(t)
	ctx := context.Background()
	req := spendBudget(t, s)
	_, err := s.Platform.Resolve(ctx, s.shopper.Token, req)
	requireRateLimited(t, err, "EID resolutions", time.Second) // the budget is empty: one token at 1 a second

	s.Clock.Advance(500 * time.Millisecond)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, s.seller.EID())})
	requireRateLimited(t, err, "EID resolutions", 500*time.Millisecond) // half a token has refilled

	s.Clock.Advance(500 * time.Millisecond)
	_, err = s.Platform.Resolve(ctx, s.shopper.Token, req)
	require.NoError(t, err, "the next token is there when the refusal said")
}

// TestRateLimitedRetryAfterSlowRate: at a ResolveRate so slow that the
// next resolution is further off than a time.Duration reaches (about 292
// years), the refusal still says to retry after a time to come, the
// longest a time.Duration holds, not a time before now.
func TestRateLimitedRetryAfterSlowRate(t *testing.T) {
	for _, rate := range []float64{1e-11, 5e-324} {
		s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{ResolveBurst: 1, ResolveRate: rate}})
		// The shop's pairing drew the shopper's burst.
		_, err := s.Platform.Resolve(context.Background(), s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
		require.ErrorIs(t, err, payflow.ErrRateLimited)
		rl, ok := errors.AsType[*payflow.RateLimitedError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, time.Duration(1<<63-1), rl.RetryAfter, "rate %v", rate)
	}
}

// TestPairRateLimit: pairing resolves the peer's EID from the budget of
// the signing card that Resolve draws on, so that EIDs cannot be probed
// through pairing proofs beyond it. A proof refused for the budget is no
// verdict on it: it stays unspent and goes through once the budget has
// refilled.
func TestPairRateLimit(t *testing.T) {
	s := limitedShop(t)
	ctx := context.Background()
	req := &payflow.ResolveRequest{EID: s.seller.EID()}
	for range 2 {
		_, err := s.Platform.Resolve(ctx, s.shopper.Token, req)
		require.NoError(t, err)
	}
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err, "the third resolution of the burst")
	_, err = s.Platform.Resolve(ctx, s.shopper.Token, req)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "pairing drew on the budget")

	proof := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.ErrorIs(t, err, payflow.ErrRateLimited)
	probe := s.shopper.Proof(record.RoleShopper, bytes.Repeat([]byte{7}, record.EIDSize))
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: probe})
	require.ErrorIs(t, err, payflow.ErrRateLimited, "an unknown EID is not told apart either")
	_, err = s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: s.shopper.EID()})
	require.NoError(t, err, "another card has its own budget")

	s.Clock.Advance(time.Second)
	v, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err, "the refused proof was not spent")
	assert.Equal(t, payflow.SessionPaired, v.State)
}

// TestResolveRevokedCard: the EIDs of a card whose certificate was
// revoked after its enrolment, and after this process cached the card and
// resolved one of them, resolve as an EID never enrolled does: the same
// not_found reply, which draws on the budget of resolutions as a
// not_found does (nothing is given back); and a pairing that names one is
// not_found as one naming an unknown EID is.
func TestResolveRevokedCard(t *testing.T) {
	s := limitedShop(t)
	ctx := context.Background()
	req := &payflow.ResolveRequest{EID: s.seller.EID()}
	who, err := s.Platform.Resolve(ctx, s.shopper.Token, req)
	require.NoError(t, err, "before the revocation")
	require.Equal(t, "Corner Grocer", who.DisplayName)
	s.Revoke(s.seller)

	unknown := &payflow.ResolveRequest{EID: bytes.Repeat([]byte{7}, record.EIDSize)}
	_, notFound := s.Platform.Resolve(ctx, s.shopper.Token, unknown)
	require.ErrorIs(t, notFound, payflow.ErrNotFound)
	who, err = s.Platform.Resolve(ctx, s.shopper.Token, req)
	require.ErrorIs(t, err, payflow.ErrNotFound, "%+v", who)
	assert.Nil(t, who)
	assert.Equal(t, payflow.AsError(notFound), payflow.AsError(err), "the reply of an unknown EID")
	_, err = s.Platform.Resolve(ctx, s.shopper.Token, req)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "each not_found drew on the budget of 3")

	s.Clock.Advance(2 * time.Second)
	_, notFound = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, unknown.EID)})
	require.ErrorIs(t, notFound, payflow.ErrNotFound)
	_, err = s.Platform.Pair(ctx, &payflow.PairRequest{Proof: s.shopper.Proof(record.RoleShopper, s.seller.EID())})
	require.ErrorIs(t, err, payflow.ErrNotFound, "a pairing naming the revoked card")
	assert.Equal(t, payflow.AsError(notFound), payflow.AsError(err), "the reply of a pairing naming an unknown EID")
	_, err = s.Platform.Resolve(ctx, s.shopper.Token, req)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "both pairings drew on the budget")
}

// TestSessionOfRevokedCard: once the certificate of either card of a
// paired session is revoked, the session answers its other card as a
// session that does not exist: the same not_found reply as an unknown
// session ID, without the revoked card's name; the revoked card's own
// token is card_not_trusted, and a card of neither side is not_found, as
// for any stored session. A payment request in it is
// not_found the same way when its shopper card is revoked, and
// card_not_trusted, its own record, when its seller card is; the revoked
// shopper's consent to a request made before is card_not_trusted. No
// money moves.
func TestSessionOfRevokedCard(t *testing.T) {
	for _, revoked := range []string{"shopper", "seller"} {
		t.Run(revoked, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			ctx := context.Background()
			bob := s.NewCard("Bob")
			bob.Login(record.RoleShopper)
			before := s.balances(t)
			v, _ := s.request(t)
			consent := s.consent(t, v.ID)
			card := s.shopper
			if revoked == "seller" {
				card = s.seller
			}
			s.Revoke(card)

			for _, c := range []*paytest.Card{s.shopper, s.seller} {
				if c == card {
					_, err := s.Platform.Session(ctx, c.Token, s.session.ID)
					require.ErrorIs(t, err, payflow.ErrCard, "asked by the revoked %s", c.Name)
					continue
				}
				_, unknown := s.Platform.Session(ctx, c.Token, payflow.ID{0xee})
				require.ErrorIs(t, unknown, payflow.ErrNotFound)
				view, err := s.Platform.Session(ctx, c.Token, s.session.ID)
				require.ErrorIs(t, err, payflow.ErrNotFound, "asked by %s: %+v", c.Name, view)
				assert.Nil(t, view)
				assert.Equal(t, payflow.AsError(unknown), payflow.AsError(err), "asked by %s: the reply of an unknown session", c.Name)
			}
			_, err := s.Platform.Session(ctx, bob.Token, s.session.ID)
			assert.ErrorIs(t, err, payflow.ErrNotFound, "a card of neither side")

			r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})
			_, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
			if revoked == "shopper" {
				_, unknown := s.Platform.Session(ctx, s.seller.Token, payflow.ID{0xee})
				require.ErrorIs(t, err, payflow.ErrNotFound, "a request in the session")
				assert.Equal(t, payflow.AsError(unknown), payflow.AsError(err), "the reply of an unknown session")
				_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				require.ErrorIs(t, err, payflow.ErrCard, "the revoked shopper's consent")
				s.requireState(t, v.ID, payflow.StatePending)
			} else {
				require.ErrorIs(t, err, payflow.ErrCard, "a request of the revoked seller card")
			}
			_, err = s.Store.Payment(ctx, payflow.ID(r.RequestID))
			assert.ErrorIs(t, err, payflow.ErrNotFound, "no request was stored")
			assert.Equal(t, before, s.balances(t), "no money moved")
		})
	}
}

// TestTokenOfRevokedCard: a login token issued before its card's
// certificate was revoked, or before the store lost the card's record
// (deleted by hand, behind the platform's back, and read again once the
// platform's cached copy expired), authenticates nothing from then on:
// every call that takes a token (Resolve, Session, Catalog, Payment,
// Decline, Cancel of a pending or a held request, Capture) is
// card_not_trusted, with the reply (code and message) that a login of the
// revoked card gets now, or, for the deleted card, whose login is
// bad_signature as that of any card the platform does not hold, the reply
// that the card is not enrolled, and changes nothing: the requests stay
// as they were and no money moves. The other card's token still works.
func TestTokenOfRevokedCard(t *testing.T) {
	for _, lost := range []string{"revoked", "deleted"} {
		for _, side := range []string{"shopper", "seller"} {
			t.Run(lost+" "+side, func(t *testing.T) {
				st := &handDeleted{Store: memory.New()}
				s := newShopOn(t, st, true, paytest.Options{})
				ctx := context.Background()
				pending, _ := s.request(t)
				held, _ := s.request(t)
				v, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, held.ID)})
				require.NoError(t, err)
				require.Equal(t, payflow.StateHeld, v.State)
				card, other, role := s.shopper, s.seller, record.RoleShopper
				if side == "seller" {
					card, other, role = s.seller, s.shopper, record.RoleSeller
				}
				eur := uint32(978)
				accounts := []ledger.ID{
					payflow.AccountID(payflow.AccountWallet, eur, s.shopper.ID),
					payflow.AccountID(payflow.AccountMerchant, eur, merchantID),
				}
				before, err := s.Ledger.LookupAccounts(ctx, accounts)
				require.NoError(t, err)
				require.Len(t, before, 2)
				proof := card.Proof(role, nil)
				if lost == "revoked" {
					s.Revoke(card)
				} else {
					st.delete(t, card.ID)
					s.Clock.Advance(payflow.DefaultCacheTTL + time.Second) // the cached card expires
				}
				_, loginErr := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: proof})
				want := payflow.AsError(loginErr)
				if lost == "revoked" {
					require.ErrorIs(t, loginErr, payflow.ErrCard)
				} else {
					require.ErrorIs(t, loginErr, payflow.ErrSignature, "the login of a card the platform does not hold")
					want = &payflow.Error{Code: "card_not_trusted", Message: "payflow: card not trusted: card " + card.ID + " is not enrolled", Status: http.StatusForbidden}
				}

				for _, c := range []struct {
					name string
					call func() error
				}{
					{"resolve", func() error {
						_, err := s.Platform.Resolve(ctx, card.Token, &payflow.ResolveRequest{EID: other.EID()})
						return err
					}},
					{"session", func() error { _, err := s.Platform.Session(ctx, card.Token, s.session.ID); return err }},
					{"catalog", func() error { _, err := s.Platform.Catalog(ctx, card.Token, merchantID); return err }},
					{"payment", func() error { _, err := s.Platform.Payment(ctx, card.Token, pending.ID); return err }},
					{"decline", func() error { _, err := s.Platform.Decline(ctx, card.Token, pending.ID); return err }},
					{"cancel pending", func() error { _, err := s.Platform.Cancel(ctx, card.Token, pending.ID); return err }},
					{"cancel held", func() error { _, err := s.Platform.Cancel(ctx, card.Token, held.ID); return err }},
					{"capture", func() error {
						_, err := s.Platform.Capture(ctx, card.Token, &payflow.CaptureRequest{RequestID: held.ID})
						return err
					}},
				} {
					err := c.call()
					require.ErrorIs(t, err, payflow.ErrCard, c.name)
					assert.Equal(t, want, payflow.AsError(err), c.name)
					assert.Equal(t, "card_not_trusted", payflow.AsError(err).Code, c.name)
				}
				s.requireState(t, pending.ID, payflow.StatePending)
				s.requireState(t, held.ID, payflow.StateHeld)
				after, err := s.Ledger.LookupAccounts(ctx, accounts)
				require.NoError(t, err)
				assert.Equal(t, before, after, "no money moved")
				cat, err := s.Platform.Catalog(ctx, other.Token, merchantID)
				require.NoError(t, err, "the other card's token")
				assert.Equal(t, paytest.Catalog, cat.Items)
			})
		}
	}
}

// TestTokenOfExpiredCard: the token of a seller card whose certificate
// has expired since its login captures no hold and reads nothing, once
// the expiry is past the verifier's clock skew, with the reply of a login
// of the card, which is refused for the expiry (pki.ErrExpired); before,
// within the skew after the certificate's end, the token still serves as
// it does before that end: with the CRLs fresh, and with them stale or
// not yet valid too, which a token call takes as they are.
func TestTokenOfExpiredCard(t *testing.T) {
	for _, crls := range []string{"fresh", "stale", "not yet valid"} {
		t.Run(crls+" CRLs", func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			ctx := context.Background()
			login := s.newSellerCard(t, 30*time.Minute)
			lr, err := login()
			require.NoError(t, err)
			held, _ := s.request(t)
			v, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, held.ID)})
			require.NoError(t, err)
			require.Equal(t, payflow.StateHeld, v.State)
			before := s.balances(t)
			if crls == "stale" {
				s.AddCRLs(s.Clock.Now().Add(time.Minute)) // stale from 6 minutes on (a minute, and the skew)
			}

			s.Clock.Advance(29 * time.Minute) // before the certificate's end
			_, err = s.Platform.Catalog(ctx, lr.Token, merchantID)
			require.NoError(t, err, "before the certificate's end")
			s.Clock.Advance(2 * time.Minute) // past the certificate's end, within the skew
			if crls == "not yet valid" {
				futureCRLs(s)
			}
			_, err = s.Platform.Catalog(ctx, lr.Token, merchantID)
			require.NoError(t, err, "within the skew, as before the certificate's end")

			s.Clock.Advance(5 * time.Minute)
			if crls != "stale" {
				s.RefreshCRLs()
			}
			_, loginErr := login()
			require.ErrorIs(t, loginErr, payflow.ErrCard)
			assert.Contains(t, loginErr.Error(), pki.ErrExpired.Error(), "the login is refused for the expiry")
			for _, c := range []struct {
				name string
				call func() error
			}{
				{"resolve", func() error {
					_, err := s.Platform.Resolve(ctx, lr.Token, &payflow.ResolveRequest{EID: s.shopper.EID()})
					return err
				}},
				{"catalog", func() error { _, err := s.Platform.Catalog(ctx, lr.Token, merchantID); return err }},
				{"payment", func() error { _, err := s.Platform.Payment(ctx, lr.Token, held.ID); return err }},
				{"capture", func() error {
					_, err := s.Platform.Capture(ctx, lr.Token, &payflow.CaptureRequest{RequestID: held.ID})
					return err
				}},
				{"cancel", func() error { _, err := s.Platform.Cancel(ctx, lr.Token, held.ID); return err }},
			} {
				err := c.call()
				require.ErrorIs(t, err, payflow.ErrCard, c.name)
				assert.Equal(t, payflow.AsError(loginErr), payflow.AsError(err), "%s: the reply of the card's login", c.name)
			}
			s.requireState(t, held.ID, payflow.StateHeld)
			assert.Equal(t, before, s.balances(t), "no money moved")
		})
	}
}

// newSellerCard enrols another seller card of the shop's merchant (which
// captures manually), a key in Go memory under a certificate valid for
// validity, and returns a function that logs it in as a seller, each
// proof over a fresh challenge with the card's next counter.
func (s *shop) newSellerCard(t *testing.T, validity time.Duration) func() (*payflow.LoginResponse, error) {
	t.Helper()
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	id, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	cert, err := s.Issuer.IssueCard(key.Public(), id, pki.IssueOptions{Validity: validity})
	require.NoError(t, err)
	secret := bytes.Repeat([]byte{7}, adv.SecretSize)
	_, err = s.Platform.EnrollCard(ctx, append([][]byte{cert}, s.Issuer.Chain()...), secret, "Till 2")
	require.NoError(t, err)
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: merchantID, Name: "Corner Grocer", Currency: "EUR", ManualCapture: true, SellerCardIDs: []string{s.seller.ID, id},
	}))
	counter := uint64(0)
	return func() (*payflow.LoginResponse, error) {
		ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: id})
		require.NoError(t, err)
		eid, err := adv.DeriveEID(secret, adv.Epoch(s.Clock.Now()))
		require.NoError(t, err)
		counter++
		proof := &record.AuthProof{
			CardHeader: record.CardHeader{CardID: id, Counter: counter},
			Nonce:      ch.Nonce, Role: record.RoleSeller, EID: eid[:], PeerEID: make([]byte, record.EIDSize),
		}
		msg, err := record.Sign(rand.Reader, key, proof)
		require.NoError(t, err)
		return s.Platform.Login(ctx, &payflow.LoginRequest{Proof: msg})
	}
}

// TestPairReplayKeepsBudget: a pairing proof sent again after it was
// accepted is nonce_replayed, and one whose counter the card has passed
// card_counter_regression, however often it comes, and neither takes from
// the signing card's budget of EID resolutions: not in the process that
// accepted the proof, nor in another one serving the same database, so
// that a captured proof replayed keeps no card from pairing. Both are
// told so also once the budget is spent, by a process that never saw
// them.
func TestPairReplayKeepsBudget(t *testing.T) {
	s := limitedShop(t)
	ctx := context.Background()
	stale := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	proof := s.shopper.Proof(record.RoleShopper, s.seller.EID())
	_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: proof})
	require.NoError(t, err, "the first resolution of the burst of 3")
	other := s.newProcess(t, payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1})
	for _, p := range []*payflow.Platform{s.Platform, other} {
		for range 5 {
			_, err := p.Pair(ctx, &payflow.PairRequest{Proof: proof})
			require.ErrorIs(t, err, payflow.ErrReplay)
			_, err = p.Pair(ctx, &payflow.PairRequest{Proof: stale})
			require.ErrorIs(t, err, payflow.ErrClone)
		}
	}
	req := &payflow.ResolveRequest{EID: s.seller.EID()}
	for _, tt := range []struct {
		p    *payflow.Platform
		left int
	}{{s.Platform, 2}, {other, 3}} {
		for range tt.left {
			_, err := tt.p.Resolve(ctx, s.shopper.Token, req)
			require.NoError(t, err, "the budget is whole but for the accepted proof")
		}
		_, err := tt.p.Resolve(ctx, s.shopper.Token, req)
		require.ErrorIs(t, err, payflow.ErrRateLimited)
		_, err = tt.p.Pair(ctx, &payflow.PairRequest{Proof: proof})
		require.ErrorIs(t, err, payflow.ErrReplay, "a spent proof is refused before the budget")
		_, err = tt.p.Pair(ctx, &payflow.PairRequest{Proof: stale})
		require.ErrorIs(t, err, payflow.ErrClone, "a stale one too")
	}
	third := s.newProcess(t, payflow.PlatformOptions{ResolveBurst: 3, ResolveRate: 1})
	for range 3 {
		_, err := third.Resolve(ctx, s.shopper.Token, req)
		require.NoError(t, err)
	}
	_, err = third.Pair(ctx, &payflow.PairRequest{Proof: proof})
	assert.ErrorIs(t, err, payflow.ErrReplay, "a process that never saw the proof, its budget spent")
	_, err = third.Pair(ctx, &payflow.PairRequest{Proof: stale})
	assert.ErrorIs(t, err, payflow.ErrClone, "a process that never saw the proof, its budget spent")
}

func TestRecoverSweep(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	// A process recorded the consent and died before the ledger moved.
	s.recordConsent(t, v.ID, s.consent(t, v.ID), "")
	pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, pv.State)
	assert.Nil(t, pv.ConsentNonce, "no consent nonce while a consent is being settled")

	s.sweep(t, 0, "too recent to recover")
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, r.State)
	assert.NotEmpty(t, r.Receipt)
	assert.Equal(t, basketPaid, s.balances(t))
}

// TestRecoverCommittedChain: a process committed the linked hold-and-post
// chain of an immediate capture and died before recording it. The sweep
// finds the chain in the ledger, moves nothing again and signs the
// receipt naming the posts.
func TestRecoverCommittedChain(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	var first record.Receipt
	require.NoError(t, record.Open(done.Receipt, &first))
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	r.State, r.Captured, r.Receipt, r.SettledAt = payflow.StateApproving, 0, nil, time.Time{}
	require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StateCaptured))

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	r, err = s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, r.State)
	assert.Equal(t, uint64(690), r.Captured)
	var rc record.Receipt
	require.NoError(t, record.Verify(r.Receipt, &s.Key.PublicKey, &rc))
	post := payflow.TransferID(v.ID, 1, 0, 2)
	assert.Equal(t, [][]byte{post[:]}, rc.TransferIDs)
	assert.Equal(t, first.TransferIDs, rc.TransferIDs)
	assert.Equal(t, basketPaid, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestRecoverRefusedHold: the ledger refused a hold for want of funds and
// the process died before putting the request back to pending. The sweep
// gets id_already_failed for the same hold, keeps the refusal and makes
// the request pending again; a new consent, once the wallet is funded, is
// a new attempt with hold IDs of its own.
func TestRecoverRefusedHold(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(paytest.Request(s.session, "EUR", funds+500))})
	require.NoError(t, err)
	consent := s.consent(t, v.ID)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	require.ErrorIs(t, err, payflow.ErrFunds)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StatePending, r.State)
	require.Equal(t, uint32(1), r.Attempt)
	h := record.Hash(consent)
	r.State, r.Consent, r.ConsentHash = payflow.StateApproving, consent, h[:]
	r.HoldExpiresAt = s.Clock.Now().Add(payflow.DefaultHoldTTL)
	require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StatePending))

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	r, err = s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, r.State)
	assert.Nil(t, r.Consent)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
	s.sweep(t, 0, "nothing left to recover")

	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{2}, s.shopper.ID, "EUR", 500))
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, done.State)
	assert.Equal(t, [2]payflow.Balance{{Posted: 0}, {Posted: funds + 500}}, s.balances(t))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestCatalogNames: a catalog accepts what a receipt can carry and
// nothing else (nor a SKU twice, nor a price over 2^63-1); a purchase of an
// item with a non-ASCII name gets a receipt that names it.
func TestCatalogNames(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	before, err := s.Platform.Catalog(ctx, s.shopper.Token, merchantID)
	require.NoError(t, err)
	milk := payflow.CatalogItem{SKU: "milk", Name: "Milk", UnitPrice: 95}
	for _, bad := range [][]payflow.CatalogItem{
		{{SKU: "comté", Name: "Comté", UnitPrice: 910}},
		{{SKU: "milk", Name: "Milk \u202e05.0", UnitPrice: 95}},
		{{SKU: "milk", Name: "Milk\n", UnitPrice: 95}},
		{{SKU: "milk", Name: "", UnitPrice: 95}},
		{{SKU: "milk", Name: " Milk", UnitPrice: 95}},
		{milk, {SKU: "milk", Name: "Skimmed milk", UnitPrice: 85}},
		{milk, {SKU: "cream", Name: "Cream", UnitPrice: record.MaxAmount + 1}},
	} {
		err := s.Platform.SetCatalog(ctx, merchantID, bad)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "%+v", bad)
	}
	after, err := s.Platform.Catalog(ctx, s.shopper.Token, merchantID)
	require.NoError(t, err)
	assert.Equal(t, before, after, "nothing set")
	require.NoError(t, s.Platform.SetCatalog(ctx, merchantID, []payflow.CatalogItem{{SKU: "comte", Name: "Comté 200 g", UnitPrice: 910}}))
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(paytest.Request(s.session, "EUR", 1820, record.Item{SKU: "comte", Quantity: 2}))})
	require.NoError(t, err)
	assert.Equal(t, []payflow.Line{{SKU: "comte", Name: "Comté 200 g", Quantity: 2, UnitPrice: 910, Amount: 1820}}, v.Lines)
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, done.State)
	var rc record.Receipt
	require.NoError(t, record.Verify(done.Receipt, &s.Key.PublicKey, &rc))
	assert.Equal(t, []record.Line{{SKU: "comte", Name: "Comté 200 g", Quantity: 2, UnitPrice: 910}}, rc.Lines)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 1820}, {Posted: 1820}}, s.balances(t))
}

// TestRequestWithTooLongReceipt: a request is refused (invalid) when its
// receipt, the catalog's names added to its lines, would be too long to
// sign (record.MaxMessage): before, 100 lines of long SKUs and names, a
// request of some 7 200 bytes, were captured with a receipt of some 14 000
// bytes that no phone verifies. Nothing is stored and no money moves; a
// request of fewer such lines is paid with a receipt that verifies.
func TestRequestWithTooLongReceipt(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	items := s.longCatalog(t)
	r := paytest.Request(s.session, "EUR", uint64(len(items)), items...)
	msg := s.seller.MustSign(r)
	require.LessOrEqual(t, len(msg), record.MaxMessage, "the request itself fits")
	_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.ErrorIs(t, err, payflow.ErrInvalid)
	_, err = s.Store.Payment(ctx, payflow.ID(r.RequestID))
	require.ErrorIs(t, err, payflow.ErrNotFound)

	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(paytest.Request(s.session, "EUR", 50, items[:50]...))})
	require.NoError(t, err)
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, done.State)
	var rc record.Receipt
	require.NoError(t, record.Verify(done.Receipt, &s.Key.PublicKey, &rc))
	assert.Len(t, rc.Lines, 50)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 50}, {Posted: 50}}, s.balances(t))
}

// TestLargestReceiptCarriesChain: the longest receipt the platform signs,
// of the most lines of long SKUs and names whose receipt fits
// (record.MaxMessage without the chain), carries the platform's chain as
// well: it is record.ChainSize bytes longer, over record.MaxMessage and
// within record.MaxMessage + record.MaxChain, and verifies as a phone
// verifies it, by that chain.
func TestLargestReceiptCarriesChain(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	items := s.longCatalog(t)
	n := len(items)
	var v *payflow.PaymentView
	for ; n > 0; n-- {
		var err error
		v, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(paytest.Request(s.session, "EUR", uint64(n), items[:n]...))})
		if err == nil {
			break
		}
		require.ErrorIs(t, err, payflow.ErrInvalid, "%d lines", n)
	}
	require.Positive(t, n)
	done, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, done.State)

	rc := s.VerifiedReceipt(t, done.Receipt)
	assert.Len(t, rc.Lines, n)
	chain, err := record.ReceiptChain(done.Receipt)
	require.NoError(t, err)
	assert.Equal(t, s.PlatformChain, chain)
	payload, err := record.Marshal(rc)
	require.NoError(t, err)
	size := record.MessageSize(record.TypeReceipt, payload)
	assert.LessOrEqual(t, size, record.MaxMessage)
	assert.Len(t, done.Receipt, size+record.ChainSize(chain))
	assert.Greater(t, len(done.Receipt), record.MaxMessage)
	assert.LessOrEqual(t, len(done.Receipt), record.MaxMessage+record.MaxChain)
}

// longCatalog gives the merchant a catalog of record.MaxItems items of
// the longest SKUs and names, priced 1, and returns an item of each.
func (s *shop) longCatalog(t *testing.T) []record.Item {
	t.Helper()
	var cat []payflow.CatalogItem
	var items []record.Item
	for i := range record.MaxItems {
		sku := fmt.Sprintf("%03d", i) + strings.Repeat("s", record.MaxText-3)
		cat = append(cat, payflow.CatalogItem{SKU: sku, Name: strings.Repeat("n", record.MaxText), UnitPrice: 1})
		items = append(items, record.Item{SKU: sku, Quantity: 1})
	}
	require.NoError(t, s.Platform.SetCatalog(context.Background(), merchantID, cat))
	return items
}

// oldLines is a Store that, once armed, reads every payment with the lines
// of a request stored before CreateRequest checked the length of its
// receipt, as a database of an earlier version holds it: 69 lines of the
// longest SKUs and names, 690 in all, whose receipt is too long to sign;
// with name set, its own lines named so instead, a name that a receipt
// may not carry, from a catalog that an earlier version did not check.
type oldLines struct {
	payflow.Store
	armed bool
	name  string
}

func (s *oldLines) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	p, err := s.Store.Payment(ctx, id)
	if err == nil {
		s.lengthen(p)
	}
	return p, err
}

func (s *oldLines) DuePayments(ctx context.Context, state string, t time.Time, limit int) ([]*payflow.PaymentRecord, error) {
	ps, err := s.Store.DuePayments(ctx, state, t, limit)
	for _, p := range ps {
		s.lengthen(p)
	}
	return ps, err
}

func (s *oldLines) lengthen(p *payflow.PaymentRecord) {
	if !s.armed {
		return
	}
	if s.name != "" {
		p.Lines = slices.Clone(p.Lines)
		for i := range p.Lines {
			p.Lines[i].Name = s.name
		}
		return
	}
	p.Lines = nil
	for i := range 69 {
		sku := fmt.Sprintf("%03d", i) + strings.Repeat("s", record.MaxText-3)
		p.Lines = append(p.Lines, payflow.Line{SKU: sku, Name: strings.Repeat("n", record.MaxText), Quantity: 1, UnitPrice: 10, Amount: 10})
	}
}

// TestApproveStoredRequestWithTooLongReceipt: a consent to a request stored
// before its receipt's length was checked, whose receipt would be too long
// to sign, is refused (invalid) before any money moves, whether the
// merchant captures at once or manually: the request stays pending with
// nothing of the consent stored, the consent is spent, and the merchant
// can still cancel it. Before, the payment was captured (or held) and the
// receipt's signature then failed, leaving it approving for good. So is
// one whose lines are named as no receipt may carry (a trailing space).
func TestApproveStoredRequestWithTooLongReceipt(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		manual bool
		name   string
		want   string
	}{
		{false, "", "its receipt would be"},
		{true, "", "its receipt would be"},
		{false, "Apple ", "its receipt: "},
		{true, "Apple ", "its receipt: "},
	} {
		t.Run(fmt.Sprintf("manual=%v,name=%q", tt.manual, tt.name), func(t *testing.T) {
			manual := tt.manual
			st := &oldLines{Store: memory.New(), name: tt.name}
			s := newShopOn(t, st, manual, paytest.Options{})
			v, _ := s.request(t)
			st.armed = true
			c := s.consent(t, v.ID)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.ErrorIs(t, err, payflow.ErrInvalid)
			assert.ErrorContains(t, err, tt.want)
			r, err := st.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, r.State)
			assert.Nil(t, r.Consent)
			assert.Nil(t, r.ConsentHash)
			assert.Zero(t, r.Attempt)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved")

			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			assert.ErrorIs(t, err, payflow.ErrReplay, "the refused consent is spent")
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			assert.ErrorIs(t, err, payflow.ErrInvalid)
			cv, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, cv.State)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
		})
	}
}

// TestCaptureStoredPaymentWithTooLongReceipt: a held payment of a request
// stored before its receipt's length was checked, whose receipt would be
// too long to sign, is refused a capture (invalid) before any money moves:
// it stays held, and its hold is voided when the merchant cancels it or
// when it expires. Before, the capture posted the money and the receipt's
// signature then failed, leaving it capturing for good.
func TestCaptureStoredPaymentWithTooLongReceipt(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		end   func(t *testing.T, s *shop, id payflow.ID)
		state string
	}{
		{"cancelled", func(t *testing.T, s *shop, id payflow.ID) {
			_, err := s.Platform.Cancel(ctx, s.seller.Token, id)
			require.NoError(t, err)
		}, payflow.StateCancelled},
		{"expired", func(t *testing.T, s *shop, id payflow.ID) {
			s.Clock.Advance(payflow.DefaultHoldTTL)
			n, err := s.Platform.ExpireDue(ctx, 0)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
		}, payflow.StateExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &oldLines{Store: memory.New()}
			s := newShopOn(t, st, true, paytest.Options{})
			v := s.held(t)
			st.armed = true
			for _, amount := range []uint64{0, 500} {
				_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID, Amount: amount})
				require.ErrorIs(t, err, payflow.ErrInvalid)
				s.requireState(t, v.ID, payflow.StateHeld)
				assert.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}, s.balances(t), "nothing posted")
			}
			tt.end(t, s, v.ID)
			s.requireState(t, v.ID, tt.state)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "the hold is voided")
		})
	}
}

// TestRecoverStoredSettlementWithTooLongReceipt: a settlement that an
// earlier version began, moving the money, for a request whose receipt is
// too long to sign cannot be finished; every try of the recovery sweep
// reports it (internal, naming the request) and moves nothing more, and
// defers it (the sweep at the same time leaves it).
func TestRecoverStoredSettlementWithTooLongReceipt(t *testing.T) {
	ctx := context.Background()
	st := &oldLines{Store: &settleFault{Store: memory.New()}}
	s := newShopOn(t, st, false, paytest.Options{})
	id := s.approveLost(t)
	st.armed = true
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	for range 2 {
		n, err := s.Platform.RecoverSweep(ctx, 0)
		assert.Zero(t, n)
		require.ErrorIs(t, err, payflow.ErrInternal)
		assert.ErrorContains(t, err, id.String())
		s.requireState(t, id, payflow.StateApproving)
		assert.Equal(t, basketPaid, s.balances(t), "moved once")
		s.sweep(t, 0, "deferred")
		s.Clock.Advance(payflow.DefaultRecoverAfter)
	}
}

// TestApproveCancelRace runs approve and cancel at once on two platforms
// sharing one store and one ledger: exactly one wins, and the ledger agrees
// with the winner.
func TestApproveCancelRace(t *testing.T) {
	for range 20 {
		s := newShop(t, false, paytest.Options{})
		other := s.newProcess(t, payflow.PlatformOptions{})
		paytest.RaceApproveCancel(t, s.Shop, other)
	}
}

func TestSessionViews(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	a, err := s.Platform.Session(ctx, s.shopper.Token, s.session.ID)
	require.NoError(t, err)
	b, err := s.Platform.Session(ctx, s.seller.Token, s.session.ID)
	require.NoError(t, err)
	assert.Equal(t, a, b, "both screens show the same session")
	assert.Equal(t, s.session, a)
	assert.Equal(t, payflow.SessionPaired, a.State)
	assert.Equal(t, "Corner Grocer", a.MerchantName)

	// One side alone leaves the session waiting.
	bob := s.NewCard("Bob")
	w, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionWaiting, w.State)
	assert.NotEqual(t, s.session.ID, w.ID)
}

// TestFundBeforeOpen: funding a wallet that is not open is not_found and
// burns nothing: the same funding ID goes through once the wallet is open.
func TestFundBeforeOpen(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob := s.NewCard("Bob")
	require.ErrorIs(t, s.Platform.Fund(ctx, payflow.ID{7}, bob.ID, "EUR", 100), payflow.ErrNotFound)
	require.NoError(t, s.Platform.OpenAccount(ctx, bob.ID, "EUR"))
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{7}, bob.ID, "EUR", 100))
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{7}, bob.ID, "EUR", 100), "a retry funds once")
	b, err := s.Platform.Balance(ctx, bob.ID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, uint64(100), b.Posted)
}

// TestHoldOverflowRefused: a hold the ledger refuses because an account's
// totals would pass 2^63-1 fails the approval with over_limit and returns
// the request to pending, where it can be declined or expire.
func TestHoldOverflowRefused(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v := overflowingRequest(t, s)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.ErrorIs(t, err, payflow.ErrLimit)
	st, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, st.State)
	// The ledger keeps no record of an overflow: the platform spends the
	// chain's first ID, so that a process with an older copy of the
	// request cannot hold its money later.
	requireSpent(t, s, payflow.TransferID(v.ID, st.Attempt, 1, 1))
	dv, err := s.Platform.Decline(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, dv.State)
}

// requireSpent checks that the ledger holds no transfer id and refuses
// any transfer under it as an ID that failed before.
func requireSpent(t *testing.T, s *shop, id ledger.ID) {
	t.Helper()
	ctx := context.Background()
	found, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{id})
	require.NoError(t, err)
	require.Empty(t, found)
	res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
		ID: id, DebitAccountID: ledger.IDFromUint64(1), CreditAccountID: ledger.IDFromUint64(2), Amount: 1, Ledger: 978, Code: 1,
	}})
	require.NoError(t, err)
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferIDAlreadyFailed}, res)
}

// overflowingRequest has the merchant issued nearly the ledger's limit of
// tickets and sell them all, and returns a pending request for eleven
// more, whose hold would take the merchant's posted debits past the limit
// (the ledger checks that before the balance).
func overflowingRequest(t *testing.T, s *shop) *payflow.PaymentView {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, s.Platform.Issue(ctx, payflow.ID{9}, merchantID, paytest.Ticket, ledger.AmountLimit-10))
	tickets := func(n uint64) *payflow.PaymentView {
		r := paytest.Request(s.session, "EUR", 0)
		r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: n}}
		v, err := s.Create(r)
		require.NoError(t, err)
		return v
	}
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, tickets(ledger.AmountLimit-10).ID)})
	require.NoError(t, err)
	return tickets(11)
}

// TestCaptureCannotOverflow: a capture's posts never take an account's
// posted totals past the ledger's limit of 2^63-1, because the ledger
// counts the pending totals with the posted ones when it makes a hold or
// any other transfer. With the merchant's EUR credits posted 1380 short
// of the limit, two holds of 690 fill it up to the limit exactly; a third
// hold is refused at approval with overflows_credits (over_limit, the
// request pending again), and so is a transfer of 1 into the merchant's
// account while the two holds are pending; both captures then post, one
// after the other, the merchant's credits posted ending at the limit.
// (The payer's wallet debits no more than its credits, which the ledger
// checks alike: the merchant's credits are the totals a capture moves
// that can come near the limit.)
func TestCaptureCannotOverflow(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	merchant := payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID)
	wallet := payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID)

	// An operator's account in the EUR ledger credits the merchant up to
	// 1380 short of the limit.
	operator := ledger.Account{ID: ledger.NewID(), Ledger: eurLedger, Code: 9}
	ares, err := s.Ledger.CreateAccounts(ctx, []ledger.Account{operator})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, ares)
	require.Equal(t, uint64(0), s.ledgerAccount(t, merchant).CreditsPosted)
	s.requireTransfer(t, operator.ID, merchant, ledger.AmountLimit-1380, ledger.TransferCreated)

	a := s.held(t)
	b := s.held(t)
	m := s.ledgerAccount(t, merchant)
	assert.Equal(t, ledger.AmountLimit-1380, m.CreditsPosted)
	assert.Equal(t, uint64(1380), m.CreditsPending)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 1380}, {Posted: ledger.AmountLimit - 1380, Incoming: 1380}}, s.balances(t))

	// A third hold would take the merchant's credits pending and posted
	// past the limit: the ledger refuses it, though its credits posted
	// plus the hold would not pass it.
	c, _ := s.request(t)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, c.ID)})
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.EqualError(t, err, "payflow: over limit: ledger: overflows_credits")
	s.requireState(t, c.ID, payflow.StatePending)
	// So is any other transfer into the merchant's account.
	s.requireTransfer(t, operator.ID, merchant, 1, ledger.TransferOverflowsCredits)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds, Held: 1380}, {Posted: ledger.AmountLimit - 1380, Incoming: 1380}}, s.balances(t))

	// a's posts, then b's after a's posted.
	for _, v := range []*payflow.PaymentView{a, b} {
		cv, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCaptured, cv.State)
	}
	m = s.ledgerAccount(t, merchant)
	assert.Equal(t, ledger.AmountLimit, m.CreditsPosted, "posted up to the limit exactly")
	assert.Equal(t, uint64(0), m.CreditsPending)
	w := s.ledgerAccount(t, wallet)
	assert.Equal(t, uint64(funds), w.CreditsPosted)
	assert.Equal(t, uint64(2*690), w.DebitsPosted)
	assert.Equal(t, uint64(0), w.DebitsPending)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - 1380}, {Posted: ledger.AmountLimit}}, s.balances(t))

	// With the merchant's credits posted at the limit, the third hold is
	// refused on its posted totals alone.
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, c.ID)})
	assert.EqualError(t, err, "payflow: over limit: ledger: overflows_credits_posted")
	s.requireState(t, c.ID, payflow.StatePending)
}

// ledgerAccount returns the account id as the ledger holds it.
func (s *shop) ledgerAccount(t *testing.T, id ledger.ID) ledger.Account {
	t.Helper()
	found, err := s.Ledger.LookupAccounts(context.Background(), []ledger.ID{id})
	require.NoError(t, err)
	require.Len(t, found, 1)
	return found[0]
}

// requireTransfer has the ledger transfer amount EUR from the account
// from to the account to, outside the platform, and checks its answer.
func (s *shop) requireTransfer(t *testing.T, from, to ledger.ID, amount uint64, want ledger.CreateTransferResult) {
	t.Helper()
	res, err := s.Ledger.CreateTransfers(context.Background(), []ledger.Transfer{{
		ID: ledger.NewID(), DebitAccountID: from, CreditAccountID: to, Amount: amount, Ledger: eurLedger, Code: 9,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{want}, res)
}

// requireState checks that the store holds the payment request id in
// state.
func (s *shop) requireState(t *testing.T, id payflow.ID, state string) {
	t.Helper()
	r, err := s.Store.Payment(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, state, r.State)
}

// errLost is the error of a dropped database connection, which the fault
// stores below inject.
var errLost = errors.New("connection lost")

// once is a fault that strikes the first time it is taken.
type once struct{ taken bool }

func (o *once) take() bool {
	first := !o.taken
	o.taken = true
	return first
}

// TestSweepHoldOverflowRefused: the recovery sweep that meets a hold
// refused past the ledger's limit records the refusal (pending) and counts
// the settlement as finished, as it does for insufficient funds.
func TestSweepHoldOverflowRefused(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v := overflowingRequest(t, s)
	// A process recorded the consent and stopped before the ledger.
	s.recordConsent(t, v.ID, s.consent(t, v.ID), "")

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	p, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, p.State)
}

// TestRefundWithoutMerchantFunds: a refund the merchant's balance cannot
// cover fails for good, releases its reservation, and moves nothing.
func TestRefundWithoutMerchantFunds(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	s.payout(t, 600)
	before := s.balances(t)

	msg := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
	for range 2 {
		_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
		assert.ErrorIs(t, err, payflow.ErrFunds, "final: a retry gets the same answer")
	}
	assert.Equal(t, before, s.balances(t))
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), r.Refunded, "the reservation is released")

	// A refund the balance covers goes through under a new ID.
	msg = s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000002"), RequestID: v.ID[:], Amount: 90, Currency: "EUR"})
	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	assert.Equal(t, uint64(90), rv.Refunded)
	assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + 90}, {Posted: 0}}, s.balances(t))
}

// settleFault is a Store on which the first update of a payment out of
// approving is lost, as a crash or a dropped database connection between
// the ledger's settlement and its record would lose it, or, with race,
// comes after another process recorded the settlement (with its own
// receipt).
type settleFault struct {
	payflow.Store
	race bool
	once
}

func (s *settleFault) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if from == payflow.StateApproving && s.take() {
		if !s.race {
			return errLost
		}
		other := *p
		other.Receipt = []byte("the other process's receipt")
		if err := s.Store.UpdatePayment(ctx, &other, from); err != nil {
			return err
		}
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

// TestApproveRetried: the consent sent again after its first call failed
// between the consent's acceptance and the record of its settlement (the
// phone saw an error) finishes the settlement, once, and gets the receipt;
// sent again once the payment is settled, it gets the same view.
func TestApproveRetried(t *testing.T) {
	st := &settleFault{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorContains(t, err, "connection lost")
	r, err := st.Payment(ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.StateApproving, r.State)

	pv, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, pv.State)
	var rc record.Receipt
	require.NoError(t, record.Open(pv.Receipt, &rc))
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, basketPaid, s.balances(t))

	again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	assert.Equal(t, pv, again)
	assert.Equal(t, basketPaid, s.balances(t), "charged once")
}

// TestHoldRetriedWithAnotherTTL: a settlement interrupted after the
// ledger moved is finished by a process configured with another hold TTL;
// it submits the same holds (their timeout comes from the payment, not
// from its own options), finds them, and captures once.
func TestHoldRetriedWithAnotherTTL(t *testing.T) {
	st := &settleFault{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	id := s.approveLost(t)

	other, err := payflow.NewPlatform(payflow.PlatformOptions{Ledger: s.Ledger, Store: st, Verifier: s.Verifier,
		Key: s.Key, Chain: s.PlatformChain, Now: s.Clock.Now, HoldTTL: payflow.DefaultHoldTTL + time.Hour})
	require.NoError(t, err)
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := other.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	r, err := st.Payment(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, r.State)
	assert.Equal(t, basketPaid, s.balances(t))
}

// TestApproveLosesSettlement: an Approve whose settlement another process
// recorded first answers with what that process recorded, not with its
// own unrecorded receipt.
func TestApproveLosesSettlement(t *testing.T) {
	st := &settleFault{Store: memory.New(), race: true}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	pv, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, pv.State)
	assert.Equal(t, []byte("the other process's receipt"), pv.Receipt)
	assert.Equal(t, basketPaid, s.balances(t))
}

// refundFailLost returns a Store that, when lost is set, loses the first
// update marking a refund failed, as a crash or a dropped database
// connection would.
func refundFailLost(lost bool) *faultStore {
	st := &faultStore{Store: memory.New()}
	if lost {
		st.updateRefund.arm(plan[*payflow.RefundRecord]{when: func(r *payflow.RefundRecord) bool { return r.State == payflow.RefundFailed }, fails: 1})
	}
	return st
}

// TestRefundRefusalLost: when the record of a refund's refusal by the
// ledger is lost, the ledger answers every later try with
// id_already_failed; the refusal stands with its first reason (the
// merchant's balance, or the payer's wallet totals past the ledger's
// limit), so a retry and the recovery sweep both fail the refund with that
// code, release its reservation and move nothing.
func TestRefundRefusalLost(t *testing.T) {
	for _, tt := range []struct {
		name   string
		refund func(t *testing.T, s *shop) (*payflow.PaymentView, payflow.ID, []byte)
		want   error
	}{
		{"funds", func(t *testing.T, s *shop) (*payflow.PaymentView, payflow.ID, []byte) {
			v, _ := s.request(t)
			_, err := s.Platform.Approve(context.Background(), &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			require.NoError(t, err)
			s.payout(t, 600) // leaves 90
			id := payflow.ID([]byte("refund-000000001"))
			return v, id, s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
		}, payflow.ErrFunds},
		{"overflow", overflowingRefund, payflow.ErrLimit},
	} {
		for _, via := range []string{"retry", "sweep"} {
			t.Run(tt.name+"/"+via, func(t *testing.T) {
				st := refundFailLost(true)
				s := newShopOn(t, st, false, paytest.Options{})
				ctx := context.Background()
				v, id, msg := tt.refund(t, s)
				before := s.balances(t)

				_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
				require.ErrorContains(t, err, "connection lost")
				stored, err := st.Refund(ctx, id)
				require.NoError(t, err)
				require.Equal(t, payflow.RefundPending, stored.State)

				if via == "retry" {
					_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
					assert.ErrorIs(t, err, tt.want)
				} else {
					s.Clock.Advance(payflow.DefaultRecoverAfter)
					s.sweep(t, 1)
				}
				stored, err = st.Refund(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, payflow.RefundFailed, stored.State)
				assert.Equal(t, payflow.AsError(tt.want).Code, stored.Failure)
				_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
				assert.ErrorIs(t, err, tt.want, "the recorded refusal answers")
				p, err := st.Payment(ctx, v.ID)
				require.NoError(t, err)
				assert.Equal(t, uint64(0), p.Refunded, "the reservation is released")
				assert.Equal(t, before, s.balances(t))
			})
		}
	}
}

// TestRefundRetriedAfterLostAcceptance: the signed refund, its card's
// counter and the payment's reservation commit together, so when that
// commit is lost the same signed refund sent again goes through, once.
func TestRefundRetriedAfterLostAcceptance(t *testing.T) {
	st := &faultStore{Store: memory.New()}
	// The first acceptance of a refund is lost, as a dropped database
	// connection would lose it.
	st.accept.arm(plan[*payflow.Acceptance]{when: func(a *payflow.Acceptance) bool { return a.Refund != nil }, fails: 1})
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	before := s.balances(t)
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorContains(t, err, "connection lost")
	assert.Equal(t, before, s.balances(t))
	for range 2 {
		rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
		require.NoError(t, err)
		assert.Equal(t, uint64(200), rv.Refunded)
	}
	assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + 200}, {Posted: before[1].Posted - 200}}, s.balances(t))
}

// TestRecoverRefund: a refund reserved by a process that died before the
// ledger moved is completed by RecoverSweep, once.
func TestRecoverRefund(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: v.ID[:], Amount: 300, Currency: "EUR"})
	p, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	p.Refunded = 300
	h := record.Hash(msg)
	ref := &payflow.RefundRecord{ID: payflow.ID([]byte("refund-000000001")), RequestID: v.ID, State: payflow.RefundPending,
		Amount: 300, Currency: "EUR", Request: msg, Hash: h[:], Refunded: 300, CreatedAt: s.Clock.Now()}
	var rr record.RefundRequest
	require.NoError(t, record.Open(msg, &rr))
	require.NoError(t, s.Store.Accept(ctx, &payflow.Acceptance{CardID: rr.CardID, Counter: rr.Counter,
		Refund: ref, Update: p, From: payflow.StateCaptured}))
	before := s.balances(t)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + 300}, {Posted: before[1].Posted - 300}}, s.balances(t))
	got, err := s.Store.Refund(ctx, ref.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundDone, got.State)
	var rc record.Receipt
	require.NoError(t, record.Open(got.Receipt, &rc))
	assert.Equal(t, record.ReceiptRefund, rc.Kind)

	// The seller's retry of the same refund gets the stored one.
	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	assert.Equal(t, got.Receipt, rv.Receipt)
	s.sweep(t, 0)
	assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + 300}, {Posted: before[1].Posted - 300}}, s.balances(t))
}

// TestRecoverCaptureAndVoid: manual captures and cancellations left half
// done are completed by RecoverSweep.
func TestRecoverCaptureAndVoid(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		state, voidTo, want string
		balances            [2]payflow.Balance
	}{
		{"capturing", "", payflow.StateCaptured, [2]payflow.Balance{{Posted: funds - 400}, {Posted: 400}}},
		{"voiding", payflow.StateCancelled, payflow.StateCancelled, [2]payflow.Balance{{Posted: funds}, {}}},
	} {
		t.Run(tt.state, func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v, _ := s.request(t)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
			require.NoError(t, err)
			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			r.State, r.CaptureAmount, r.VoidTo, r.UpdatedAt = tt.state, 400, tt.voidTo, s.Clock.Now()
			require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StateHeld))
			s.Clock.Advance(payflow.DefaultRecoverAfter)
			s.sweep(t, 1)
			r, err = s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.State)
			assert.Equal(t, tt.balances, s.balances(t))
		})
	}
}

// TestRefundIDRefusedForAnotherClient: a refund whose transfer ID the
// ledger keeps failed because it refused a transfer that another client
// of the ledger wrote under it (here debit_account_not_found) meets
// id_already_failed, as a retry of a refund refused for want of funds
// whose record was lost does: the ledger keeps no reason or content with
// a failed ID, so the platform answers it as that refusal,
// insufficient_funds, and ends it failed, its reservation released,
// nothing moved; the same refund sent again answers the same.
func TestRefundIDRefusedForAnotherClient(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	id := payflow.ID([]byte("refund-000000009"))
	res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
		ID: payflow.TransferID(id, 0, 0, 4), DebitAccountID: ledger.IDFromUint64(1),
		CreditAccountID: payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), Amount: 1, Ledger: eurLedger, Code: 9,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferDebitAccountNotFound}, res)
	before := s.balances(t)

	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 10, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrFunds)
	r := requireRefund(t, s.Store, id, payflow.RefundFailed, 0) // the reservation released
	assert.Equal(t, "insufficient_funds", r.Failure)
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	assert.ErrorIs(t, err, payflow.ErrFunds, "the same refund sent again")
	assert.Equal(t, before, s.balances(t), "nothing moved")
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestRefundOverflowRefused: a refund the ledger refuses because the
// payer's wallet totals would pass 2^63-1 is over_limit and final: the
// refund is failed, its reservation released, nothing moved, and the same
// signed refund again gets the ledger's earlier refusal.
func TestRefundOverflowRefused(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, id, msg := overflowingRefund(t, s)
	before := s.balances(t)
	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrLimit)
	requireRefund(t, s.Store, id, payflow.RefundFailed, 0) // the reservation released
	assert.Equal(t, before, s.balances(t))

	requireSpent(t, s, payflow.TransferID(id, 0, 0, 4))
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	assert.ErrorIs(t, err, payflow.ErrLimit)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, n, "a failed refund is not due")

	// A refund that fits goes through.
	ok := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-fits-0001"), RequestID: v.ID[:], Amount: 10, Currency: "EUR"})
	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: ok})
	require.NoError(t, err)
	assert.Equal(t, uint64(10), rv.Refunded)
}

// overflowingRefund has the shopper pay the basket and its wallet funded
// to 10 short of the ledger's limit, and returns the paid request and the
// ID and bytes of a signed refund of 11 of it, which would take the
// wallet's totals past the limit. TestRefundOverflowLostRetry: the retry
// of a refund whose overflow refusal was not recorded learns the reason
// from the spent limit mark and asks the ledger nothing more: its
// transfer and the probe of the mark, no second spending of the IDs
// already spent.
func TestRefundOverflowLostRetry(t *testing.T) {
	ctx := context.Background()
	st := refundFailLost(true)
	ls := &countingLedger{Store: ledgermemory.New()}
	s := newShopOnLedger(t, st, ls, false, paytest.Options{})
	_, id, msg := overflowingRefund(t, s)
	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorContains(t, err, "connection lost")

	before := ls.updates.Load()
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.Equal(t, int32(2), ls.updates.Load()-before, "the refund's transfer and the probe of its limit mark")
	stored, err := st.Refund(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundFailed, stored.State)
	assert.Equal(t, "over_limit", stored.Failure)
}

// limitMark returns the limit mark of the transfer ID id (kind 7 of it,
// as the platform derives it).
func limitMark(id ledger.ID) ledger.ID { return payflow.TransferID(payflow.ID(id), 0, 0, 7) }

// TestRefundLimitMarkTaken: a refund that the ledger refuses for
// overflowing the payer's wallet totals, whose limit mark the ledger holds
// as a transfer that another client of the ledger wrote, cannot have its
// reason kept: it is conflict, as a refund whose own transfer ID is so
// taken, and ends failed with that code, its reservation released, its
// transfer ID spent, nothing moved; so also when the record of that
// refusal was lost and the retry meets the ledger's id_already_failed.
// The same refund sent again answers the same.
func TestRefundLimitMarkTaken(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused", true: "refusal lost"}[lost], func(t *testing.T) {
			ctx := context.Background()
			st := refundFailLost(lost) // the fault armed only if the refusal's record is to be lost
			s := newShopOn(t, st, false, paytest.Options{})
			_, id, msg := overflowingRefund(t, s)
			tid := payflow.TransferID(id, 0, 0, 4)
			s.takeID(t, limitMark(tid))
			before := s.balances(t)

			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			if lost {
				require.ErrorIs(t, err, errLost)
				requireRefund(t, st, id, payflow.RefundPending, 11)
				_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			}
			require.ErrorIs(t, err, payflow.ErrConflict)
			r := requireRefund(t, st, id, payflow.RefundFailed, 0)
			assert.Equal(t, "conflict", r.Failure)
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, payflow.ErrConflict, "the same refund sent again")
			requireSpent(t, s, tid)
			assert.Equal(t, before, s.balances(t), "nothing moved")
			s.Clock.Advance(payflow.DefaultRecoverAfter)
			s.sweep(t, 0, "nothing under way")
		})
	}
}

func overflowingRefund(t *testing.T, s *shop) (*payflow.PaymentView, payflow.ID, []byte) {
	t.Helper()
	ctx := context.Background()
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.NoError(t, s.Platform.Fund(ctx, payflow.ID{8}, s.shopper.ID, "EUR", ledger.AmountLimit-10-funds))
	id := payflow.ID([]byte("refund-overflows"))
	return v, id, s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 11, Currency: "EUR"})
}

// TestApproveReadLost: a store error while Approve reads the payment back
// after a lost compare-and-set leaves the consent unspent, so the same
// consent sent again settles the payment, once.
func TestApproveReadLost(t *testing.T) {
	// The first acceptance of a consent loses its compare-and-set to
	// another writer (which changed nothing that matters) and the read of
	// the payment after it then fails, as a dropped database connection
	// would.
	st := &faultStore{Store: memory.New()}
	st.accept.arm(plan[*payflow.Acceptance]{when: func(a *payflow.Acceptance) bool { return a.Update != nil }, fails: 1,
		err: payflow.ErrConflict, then: st.payment.failNext})
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorContains(t, err, "connection lost")
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))

	pv, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, pv.State)
	assert.Equal(t, basketPaid, s.balances(t))
	again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.NoError(t, err, "sent once more, it gets the settled view")
	assert.Equal(t, pv, again)
	assert.Equal(t, basketPaid, s.balances(t))
}

// TestRequestStoreErrorSpendsNothing: a store error while a signed request
// is checked is no verdict on it: its nonce and counter stay unspent and
// the same signed request sent again is created.
func TestRequestStoreErrorSpendsNothing(t *testing.T) {
	st := &faultStore{Store: memory.New()}
	st.session.failNext() // as a dropped database connection would fail it
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	msg := s.basket()
	_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.ErrorContains(t, err, "connection lost")
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, v.State)
	assert.Equal(t, uint64(690), v.Amount)
}

// TestRequestAssetReadLostSpendsNothing: a store error while the legs of a
// signed request are looked up is no verdict on it (not an unregistered
// asset): its counter stays unspent and the same signed request sent again
// is created.
func TestRequestAssetReadLostSpendsNothing(t *testing.T) {
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	ctx := context.Background()
	r := paytest.Request(s.session, "EUR", 100)
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 2}}
	msg := s.seller.MustSign(r)
	st.asset.failAll()
	_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.ErrorIs(t, err, errLost)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	st.asset.disarm()
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, v.State)
	assert.Equal(t, []payflow.AssetLeg{{Asset: paytest.Ticket, Amount: 2}}, v.Legs)
}

// TestRequestResentAfterExpiry: the same signed request sent again once it
// is past its expiry shows it expired, as every other read does, not
// pending.
func TestRequestResentAfterExpiry(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, msg := s.request(t)
	require.Equal(t, payflow.StatePending, v.State)
	s.Clock.Advance(payflow.DefaultRequestTTL)
	again, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateExpired, again.State)
	s.requireState(t, v.ID, payflow.StateExpired)
}

// TestRefundOfRequestPastExpiry: a refund of a request still pending in
// the store at its expiry is refused expired, as every read of the request
// now shows it, and nothing moves.
func TestRefundOfRequestPastExpiry(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	s.Clock.Advance(payflow.DefaultRequestTTL)
	id := payflow.ID{0x7e, 1}
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 100, Currency: "EUR"})
	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrExpired)
	s.requireState(t, v.ID, payflow.StateExpired)
	_, err = s.Store.Refund(ctx, id)
	assert.ErrorIs(t, err, payflow.ErrNotFound)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}

// TestHoldLastsItsTTL: the ledger keeps the funds of a held payment on
// hold at least until the payment's hold expiry, also when the hold TTL is
// not a whole number of seconds, so that a capture before that expiry
// captures instead of meeting a hold the ledger already released.
func TestHoldLastsItsTTL(t *testing.T) {
	ctx := context.Background()
	ttl := 2500 * time.Millisecond
	s := newShop(t, true, paytest.Options{Platform: payflow.PlatformOptions{HoldTTL: ttl}})
	v, _ := s.request(t)
	held, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, held.State)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	hold, err := s.Ledger.LookupTransfers(ctx, []ledger.ID{payflow.TransferID(v.ID, 1, 0, 1)})
	require.NoError(t, err)
	require.Len(t, hold, 1)
	assert.Equal(t, uint32(3), hold[0].Timeout, "the hold TTL rounded up to whole seconds")

	s.Clock.Advance(ttl - 100*time.Millisecond)
	require.True(t, s.Clock.Now().Before(r.HoldExpiresAt))
	c, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, c.State)
	assert.Equal(t, basketPaid, s.balances(t))
}

var errRefundsDue = errors.New("refunds due: connection lost")

// TestRecoverSweepReportsEveryError: a recovery sweep that fails to list
// the refunds due still reports why the settlements it tried before
// failed.
func TestRecoverSweepReportsEveryError(t *testing.T) {
	ctx := context.Background()
	// The store never records a settlement (as a database that lost its
	// connection), then fails to list the refunds due.
	st := &faultStore{Store: memory.New()}
	st.updatePayment.arm(plan[paymentUpdate]{when: func(u paymentUpdate) bool { return u.from == payflow.StateApproving }, fails: -1})
	s := newShopOn(t, st, false, paytest.Options{})
	s.approveLost(t)

	st.dueRefunds.arm(plan[time.Time]{fails: -1, err: errRefundsDue})
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, errRefundsDue)
	assert.ErrorIs(t, err, errLost, "the failed settlement is reported")
}

// TestRecoverSweepGoesOnAfterARefundFails: a recovery sweep that cannot
// read the payment of one pending refund reports it and still completes
// the next refund; the failed one is deferred, and completed by a sweep
// once RecoverAfter has passed again.
func TestRecoverSweepGoesOnAfterARefundFails(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	p, err := st.Payment(ctx, v.ID)
	require.NoError(t, err)
	var ids []payflow.ID
	for i, amount := range []uint64{100, 200} {
		id := payflow.ID([]byte("refund-00000000" + string(rune('0'+i))))
		msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: amount, Currency: "EUR"})
		var rr record.RefundRequest
		require.NoError(t, record.Open(msg, &rr))
		p.Refunded += amount
		h := record.Hash(msg)
		ref := &payflow.RefundRecord{ID: id, RequestID: v.ID, State: payflow.RefundPending, Amount: amount, Currency: "EUR",
			Request: msg, Hash: h[:], Refunded: p.Refunded, CreatedAt: s.Clock.Now()}
		require.NoError(t, st.Accept(ctx, &payflow.Acceptance{CardID: rr.CardID, Counter: rr.Counter, Refund: ref, Update: p, From: payflow.StateCaptured}))
		ids = append(ids, id)
	}
	before := s.balances(t)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	st.payment.failNext()
	n, err := s.Platform.RecoverSweep(ctx, 0)
	assert.ErrorIs(t, err, errLost)
	assert.Equal(t, 1, n)
	states := map[string]int{}
	var refunded uint64
	for _, id := range ids {
		r, err := st.Refund(ctx, id)
		require.NoError(t, err)
		states[r.State]++
		if r.State == payflow.RefundDone {
			refunded += r.Amount
		}
	}
	assert.Equal(t, map[string]int{payflow.RefundPending: 1, payflow.RefundDone: 1}, states)
	assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + refunded}, {Posted: before[1].Posted - refunded}}, s.balances(t))

	s.sweep(t, 0, "deferred")
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 1)
	assert.Equal(t, [2]payflow.Balance{{Posted: before[0].Posted + 300}, {Posted: before[1].Posted - 300}}, s.balances(t))
}

// TestExpireDueGoesOnAfterAFailure: an expiry that cannot be recorded is
// reported, and the other due request is expired all the same.
func TestExpireDueGoesOnAfterAFailure(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	first, _ := s.request(t)
	s.Clock.Advance(time.Millisecond) // the first is due first
	second, _ := s.request(t)
	// Recording the expiry of the first fails, as a dropped database
	// connection would fail it.
	st.updatePayment.arm(plan[paymentUpdate]{when: func(u paymentUpdate) bool {
		return u.p.ID == first.ID && u.p.State == payflow.StateExpired
	}, fails: -1})
	s.Clock.Advance(payflow.DefaultRequestTTL)
	n, err := s.Platform.ExpireDue(ctx, 0)
	assert.ErrorIs(t, err, errLost)
	assert.Equal(t, 1, n)
	for id, want := range map[payflow.ID]string{first.ID: payflow.StatePending, second.ID: payflow.StateExpired} {
		r, err := st.Payment(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, r.State)
	}
}

// updateHook is a Store whose UpdatePayment runs hook first: a non-nil
// error of hook is the update's, as a dropped database connection would
// fail it.
type updateHook struct {
	payflow.Store
	hook func(p *payflow.PaymentRecord, from string) error
}

func (s *updateHook) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if s.hook != nil {
		if err := s.hook(p, from); err != nil {
			return err
		}
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

// loseRefusals returns a hook that loses the next n updates that put a
// refused consent's request back to pending, as a crash or a dropped
// database connection between the ledger's refusal and its record would.
func loseRefusals(n int) func(p *payflow.PaymentRecord, from string) error {
	return func(p *payflow.PaymentRecord, from string) error {
		if n > 0 && from == payflow.StateApproving && p.State == payflow.StatePending {
			n--
			return errLost
		}
		return nil
	}
}

// TestHoldOverflowRefusalLost: when the record of a hold refused past the
// ledger's limit is lost, the same consent sent again meets the ledger's
// id_already_failed and still answers over_limit, the first refusal's
// reason, not insufficient_funds; the request is pending again and
// nothing moves.
func TestHoldOverflowRefusalLost(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v := overflowingRequest(t, s)
	before := s.Balances(paytest.Ticket)
	c := s.consent(t, v.ID)
	st.hook = loseRefusals(1)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorContains(t, err, "connection lost")
	s.requireState(t, v.ID, payflow.StateApproving)

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrLimit)
	s.requireState(t, v.ID, payflow.StatePending)
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrReplay, "the settlement is finished")
	assert.Equal(t, before, s.Balances(paytest.Ticket))
	require.NoError(t, s.Ledger.Verify(ctx))
}

// TestHoldLimitMarkTaken: a hold chain that the ledger refuses for
// overflowing an account's totals, whose limit mark (of the chain's first
// ID) the ledger holds as a transfer that another client of the ledger
// wrote, is conflict, as a chain one of whose IDs is so taken: the
// request is pending again, nothing moved, the chain's first ID spent; so
// also when the record of that refusal was lost and the consent sent
// again meets the ledger's id_already_failed.
func TestHoldLimitMarkTaken(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused", true: "refusal lost"}[lost], func(t *testing.T) {
			ctx := context.Background()
			st := &updateHook{Store: memory.New()}
			s := newShopOn(t, st, false, paytest.Options{})
			v := overflowingRequest(t, s)
			first := payflow.TransferID(v.ID, 1, 1, 1) // the hold of the ticket leg, the chain's first
			s.takeID(t, limitMark(first))
			before := [2][2]payflow.Balance{s.balances(t), s.Balances(paytest.Ticket)}
			c := s.consent(t, v.ID)

			if lost {
				st.hook = loseRefusals(1)
				_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
				require.ErrorIs(t, err, errLost)
				s.requireState(t, v.ID, payflow.StateApproving)
			}
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.ErrorIs(t, err, payflow.ErrConflict)
			s.requireState(t, v.ID, payflow.StatePending)
			requireSpent(t, s, first)
			assert.Equal(t, before, [2][2]payflow.Balance{s.balances(t), s.Balances(paytest.Ticket)}, "nothing moved")
			s.Clock.Advance(payflow.DefaultRecoverAfter)
			s.sweep(t, 0, "nothing under way")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestHoldFundsRefusalLostTwice: a hold refused for want of funds whose
// record is lost twice answers insufficient_funds at the third try: asking
// the ledger why a hold failed leaves the answer as it was.
func TestHoldFundsRefusalLostTwice(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New(), hook: loseRefusals(2)}
	s := newShopOn(t, st, false, paytest.Options{})
	v, err := s.Create(paytest.Request(s.session, "EUR", funds+500))
	require.NoError(t, err)
	c := s.consent(t, v.ID)
	for range 2 {
		_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
		require.ErrorContains(t, err, "connection lost")
	}
	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrFunds)
	s.requireState(t, v.ID, payflow.StatePending)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))
}

// acceptHook is a Store whose Accept of a consent (an update out of
// pending) first runs hook, once: the copy of the consent sent at the same
// moment gets there first.
type acceptHook struct {
	payflow.Store
	hook func()
}

func (s *acceptHook) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if h := s.hook; h != nil && a.Update != nil && a.From == payflow.StatePending {
		s.hook = nil
		h()
	}
	return s.Store.Accept(ctx, a)
}

// TestApproveSentTwiceAtOnce: of two copies of one consent sent at the
// same moment, both read the request pending and one is accepted first;
// the other gets the reply of that settlement, not nonce_replayed: the
// receipt, or the hold's refusal with its code (conflict for a post's ID
// that the ledger holds as another client's transfer), or, when the first
// call ended before recording the settlement, the settlement it finishes.
// Money moves once. Sent again later, a settled consent gets the request's
// view and a refused one is a replay.
func TestApproveSentTwiceAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name   string
		amount uint64
		lose   bool // the first call's record of the capture is lost
		taken  bool // the ledger holds a transfer of 1 EUR under the money leg's post ID
		want   error
		after  [2]payflow.Balance
	}{
		{"captured", 690, false, false, nil, basketPaid},
		{"finished by the second", 690, true, false, nil, basketPaid},
		{"refused", funds + 1, false, false, payflow.ErrFunds, [2]payflow.Balance{{Posted: funds}, {}}},
		{"post ID taken", 690, false, true, payflow.ErrConflict, [2]payflow.Balance{{Posted: funds - 1}, {Posted: 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			hooks := &updateHook{Store: memory.New()}
			st := &acceptHook{Store: hooks}
			s := newShopOn(t, st, false, paytest.Options{})
			v, err := s.Create(paytest.Request(s.session, "EUR", tt.amount))
			require.NoError(t, err)
			c := s.consent(t, v.ID)
			if tt.taken {
				s.takeID(t, payflow.TransferID(v.ID, 1, 0, 2))
			}
			if tt.lose {
				hooks.hook = func(p *payflow.PaymentRecord, from string) error {
					if from == payflow.StateApproving {
						hooks.hook = nil
						return errLost
					}
					return nil
				}
			}
			var first *payflow.PaymentView
			var firstErr error
			st.hook = func() {
				first, firstErr = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			}
			second, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			switch {
			case tt.want != nil:
				require.ErrorIs(t, firstErr, tt.want)
				require.ErrorIs(t, err, tt.want)
				s.requireState(t, v.ID, payflow.StatePending)
			case tt.lose:
				require.ErrorContains(t, firstErr, "connection lost")
				require.NoError(t, err)
				assert.Equal(t, payflow.StateCaptured, second.State)
				assert.NotEmpty(t, second.Receipt)
			default:
				require.NoError(t, firstErr)
				require.NoError(t, err)
				assert.Equal(t, payflow.StateCaptured, second.State)
				assert.Equal(t, first, second)
			}
			assert.Equal(t, tt.after, s.balances(t))
			again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			if tt.want != nil {
				assert.ErrorIs(t, err, payflow.ErrReplay, "sent again later, the refused consent is a replay")
			} else {
				require.NoError(t, err, "sent again later, the settled consent gets the request's view")
				assert.Equal(t, second, again)
			}
			assert.Equal(t, tt.after, s.balances(t))
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestCancelAndCaptureRetried: a cancellation or a capture whose call
// ended after the request was recorded voiding or capturing and before
// the ledger's outcome was (the merchant saw an error) is finished by the
// same call sent again, at once, which answers the final outcome; money
// moves once. Another capture amount meanwhile is a conflict.
func TestCancelAndCaptureRetried(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		state string // the settlement under way
		call  func(s *shop, id payflow.ID, amount uint64) (*payflow.PaymentView, error)
		want  string
		after [2]payflow.Balance
	}{
		{"voiding", func(s *shop, id payflow.ID, _ uint64) (*payflow.PaymentView, error) {
			return s.Platform.Cancel(ctx, s.seller.Token, id)
		}, payflow.StateCancelled, [2]payflow.Balance{{Posted: funds}, {}}},
		{"capturing", func(s *shop, id payflow.ID, amount uint64) (*payflow.PaymentView, error) {
			return s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id, Amount: amount})
		}, payflow.StateCaptured, [2]payflow.Balance{{Posted: funds - 400}, {Posted: 400}}},
	} {
		t.Run(tt.state, func(t *testing.T) {
			st := &updateHook{Store: memory.New()}
			s := newShopOn(t, st, true, paytest.Options{})
			v := s.held(t)
			st.hook = func(p *payflow.PaymentRecord, from string) error {
				if from == tt.state {
					st.hook = nil
					return errLost
				}
				return nil
			}
			_, err := tt.call(s, v.ID, 400)
			require.ErrorContains(t, err, "connection lost")
			s.requireState(t, v.ID, tt.state)
			if tt.state == "capturing" {
				_, err = tt.call(s, v.ID, 500)
				require.ErrorIs(t, err, payflow.ErrConflict, "another amount")
			}

			got, err := tt.call(s, v.ID, 400)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.State)
			s.requireState(t, v.ID, tt.want)
			assert.Equal(t, tt.after, s.balances(t))
			again, err := tt.call(s, v.ID, 400)
			require.NoError(t, err)
			assert.Equal(t, got, again)
			assert.Equal(t, tt.after, s.balances(t), "moved once")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestActionDuringSettlementConflict: a call that a settlement under way
// forbids, its outcome not recorded (the request left approving,
// capturing or voiding), fails with conflict saying which settlement is
// under way, not the state that the request's view shows (pending or
// held), in which the call would be allowed: a cancellation while a
// consent is settled or a capture is made, and a capture while a
// cancellation's void is. The request stays as it was.
func TestActionDuringSettlementConflict(t *testing.T) {
	ctx := context.Background()
	cancel := func(s *shop, id payflow.ID) error {
		_, err := s.Platform.Cancel(ctx, s.seller.Token, id)
		return err
	}
	capture := func(s *shop, id payflow.ID) error {
		_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
		return err
	}
	for _, tt := range []struct {
		name  string
		state string                             // the settlement left under way
		leave func(s *shop, id payflow.ID) error // the call that leaves it so
		call  func(s *shop, id payflow.ID) error
		want  string
	}{
		{"cancel while approving", payflow.StateApproving, func(s *shop, id payflow.ID) error {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, id)})
			return err
		}, cancel, "payflow: conflicting request: a consent to the request is being settled"},
		{"cancel while capturing", "capturing", capture, cancel, "payflow: conflicting request: the payment is being captured"},
		{"capture while voiding", "voiding", cancel, capture, "payflow: conflicting request: the payment's hold is being voided"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := &updateHook{Store: memory.New()}
			s := newShopOn(t, st, true, paytest.Options{})
			var v *payflow.PaymentView
			if tt.state == payflow.StateApproving {
				v, _ = s.request(t)
			} else {
				v = s.held(t)
			}
			st.hook = func(p *payflow.PaymentRecord, from string) error {
				if from == tt.state {
					st.hook = nil
					return errLost
				}
				return nil
			}
			require.ErrorContains(t, tt.leave(s, v.ID), "connection lost")
			s.requireState(t, v.ID, tt.state)
			before := s.balances(t)

			err := tt.call(s, v.ID)
			require.ErrorIs(t, err, payflow.ErrConflict)
			assert.EqualError(t, err, tt.want)
			assert.Equal(t, "conflict", payflow.AsError(err).Code)
			assert.Equal(t, 409, payflow.AsError(err).Status)
			s.requireState(t, v.ID, tt.state)
			assert.Equal(t, before, s.balances(t), "nothing moved")
		})
	}
}

// TestVoidRetriedAfterHoldNotFound: a void that met no hold in the ledger
// (the ledger lost it: restored from an older backup than the platform's
// state) counts the hold as released, and so does its retry after the
// request's update was lost, although the ledger then answers
// id_already_failed for the void's ID: the cancellation ends cancelled.
func TestVoidRetriedAfterHoldNotFound(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, true, paytest.Options{})
	v := s.heldWithoutHold(t)
	before := s.balances(t)
	loseNextUpdateFrom(st, "voiding")
	_, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.ErrorContains(t, err, "connection lost")
	s.requireState(t, v.ID, "voiding")
	got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State)
	s.requireState(t, v.ID, payflow.StateCancelled)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}

// heldWithoutHold creates a request for the basket and records it held
// with a consent, its hold expiry DefaultHoldTTL from now, without a hold
// in the ledger: as a ledger restored from an older backup than the
// platform's state leaves it. It returns the request's pending view.
func (s *shop) heldWithoutHold(t *testing.T) *payflow.PaymentView {
	t.Helper()
	v, _ := s.request(t)
	s.recordHeldWithoutHold(t, v.ID)
	return v
}

// recordHeldWithoutHold records the pending request id held with a
// consent of the shopper, its hold expiry DefaultHoldTTL from now, without
// a hold in the ledger (see heldWithoutHold).
func (s *shop) recordHeldWithoutHold(t *testing.T, id payflow.ID) {
	t.Helper()
	ctx := context.Background()
	consent := s.consent(t, id)
	r, err := s.Store.Payment(ctx, id)
	require.NoError(t, err)
	h := record.Hash(consent)
	r.State, r.Attempt, r.Consent, r.ConsentHash = payflow.StateHeld, 1, consent, h[:]
	r.HoldExpiresAt = s.Clock.Now().Add(payflow.DefaultHoldTTL)
	require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StatePending))
}

// TestCaptureOfLostHold: a capture of a held request whose hold the ledger
// does not hold (restored from an older backup than the platform's state)
// fails internal, the ledger answering its post pending_transfer_not_found
// and keeping the post's ID failed, and leaves the request capturing; the
// next capture, and every later one, fails with conflict, the request
// held again (PROTOCOL.md §6.2, held → capturing → held), nothing moved.
// The request can still be cancelled.
func TestCaptureOfLostHold(t *testing.T) {
	s := newShop(t, true, paytest.Options{})
	v := s.heldWithoutHold(t)
	s.captureLostHold(t, v.ID, func() any { return s.balances(t) })
}

// TestChainFoundWithOtherFields: a retried chain whose transfers the
// ledger holds already is taken as made only when they are the transfers
// asked for. Here the hold of an immediate capture exists as asked but
// its post (linked behind it, so the ledger never compares it) posts
// another amount: the hold moved, not by the platform, and is no longer
// there to void. The settlement is ErrInternal, and stays so at every
// try: the platform submits nothing more that moves money and records no
// capture.
func TestChainFoundWithOtherFields(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	eur := uint32(978)
	hold := payflow.TransferID(v.ID, 1, 0, 1)
	res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
		ID: hold, DebitAccountID: payflow.AccountID(payflow.AccountWallet, eur, s.shopper.ID),
		CreditAccountID: payflow.AccountID(payflow.AccountMerchant, eur, merchantID), Amount: 690,
		UserData128: ledger.ID(v.ID), Timeout: uint32(payflow.DefaultHoldTTL / time.Second), Ledger: eur,
		Code: payflow.TransferPayment, Flags: ledger.TransferPending | ledger.TransferLinked,
	}, {
		ID: payflow.TransferID(v.ID, 1, 0, 2), PendingID: hold, Amount: 1, Ledger: eur,
		Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	before := s.balances(t)

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrInternal)
	s.requireState(t, v.ID, payflow.StateApproving)
	assert.Equal(t, before, s.balances(t), "nothing more moved")
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	_, err = s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrInternal)
	s.requireState(t, v.ID, payflow.StateApproving)
	assert.Equal(t, before, s.balances(t), "nothing more moved")
}

// TestRefundOfAssetLegs: a refund returns money only: the tickets of a
// request's legs stay in the payer's wallet, and a request of tickets
// alone (amount zero), whose receipt names the ticket's transfer alone,
// has nothing to refund.
func TestRefundOfAssetLegs(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v := ticketRequest(t, s)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, paid, s.allBalances(t))
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000001"), RequestID: v.ID[:], Amount: 240, Currency: "EUR"})
	rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.NoError(t, err)
	assert.Equal(t, uint64(240), rv.Refunded)
	assert.Equal(t, [2][2]payflow.Balance{{{Posted: funds}, {}}, paid[1]}, s.allBalances(t), "the ticket stays with the payer")

	r := paytest.Request(s.session, "EUR", 0)
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}}
	tv, err := s.Create(r)
	require.NoError(t, err)
	got, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, tv.ID)})
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, got.State)
	// Its receipt names the one transfer that moved the ticket (leg 1,
	// the post of its hold): no money leg, so no transfer of one.
	rc := s.VerifiedReceipt(t, got.Receipt)
	post := payflow.TransferID(tv.ID, 1, 1, 2)
	assert.Equal(t, [][]byte{post[:]}, rc.TransferIDs)
	assert.Equal(t, uint64(0), rc.Amount)
	msg = s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-000000002"), RequestID: tv.ID[:], Amount: 1, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.Equal(t, [2]payflow.Balance{{Posted: 2}, {Posted: 8}}, s.Balances(paytest.Ticket))
}

// TestTransferCodesAndUserData: the ledger transfers of a payment carry
// the codes and user data 128 of PROTOCOL.md §6.4: a hold and its post
// (which writes none and takes the hold's) code 1 and the request ID, a
// refund code 2 and the ID of the request it refunds, a funding code 3
// and the funding's own ID.
func TestTransferCodesAndUserData(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	v, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	refundID := payflow.ID{0x52}
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: s.seller.MustSign(
		&record.RefundRequest{RefundID: refundID[:], RequestID: v.ID[:], Amount: 10, Currency: "EUR"})})
	require.NoError(t, err)
	fundingID := payflow.ID{0x46}
	require.NoError(t, s.Platform.Fund(ctx, fundingID, s.shopper.ID, "EUR", 5))

	want := []struct {
		id       ledger.ID
		code     uint16
		userData payflow.ID
	}{
		{payflow.TransferID(v.ID, 1, 0, 1), payflow.TransferPayment, v.ID},
		{payflow.TransferID(v.ID, 1, 0, 2), payflow.TransferPayment, v.ID},
		{payflow.TransferID(refundID, 0, 0, 4), payflow.TransferRefund, v.ID},
		{payflow.TransferID(fundingID, 0, 0, 5), payflow.TransferFunding, fundingID},
	}
	ids := make([]ledger.ID, len(want))
	for i, w := range want {
		ids[i] = w.id
	}
	got, err := s.Ledger.LookupTransfers(ctx, ids)
	require.NoError(t, err)
	require.Len(t, got, len(want))
	for i, w := range want {
		assert.Equal(t, w.id, got[i].ID, "transfer %d", i)
		assert.Equal(t, w.code, got[i].Code, "transfer %d", i)
		assert.Equal(t, ledger.ID(w.userData), got[i].UserData128, "transfer %d", i)
	}
}

// TestNewPlatformRefusesChainPhonesRefuse: NewPlatform verifies its
// receipt chain as the phones verify the chain of Info before a card
// signs a consent and before a receipt is taken (pki.Verifier's
// VerifyPlatform), and refuses at start, with that verifier's error, a
// chain whose certificate lacks the receipt-signing extended key usage
// (a card certificate of the receipt key), one whose certificate the next
// does not sign, one that no trusted root anchors, and one without the
// intermediate that phones, which hold only the root, need: a platform
// started with it would settle every payment and every phone would refuse
// its receipts. The phones' verifier refuses each chain the same way.
func TestNewPlatformRefusesChainPhonesRefuse(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	iccid, err := simcardtest.RandomICCID(nil)
	require.NoError(t, err)
	cardCert, err := s.Issuer.IssueCard(s.Key.Public(), iccid, pki.IssueOptions{})
	require.NoError(t, err)
	_, otherIssuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	otherCert, err := otherIssuer.IssuePlatform(s.Key.Public(), "casimpay test platform", pki.IssueOptions{})
	require.NoError(t, err)
	for _, c := range []struct {
		name  string
		chain [][]byte
		want  error
		cert  int
	}{
		{"no receipt EKU", append([][]byte{cardCert}, s.Issuer.Chain()...), pki.ErrUsage, 0},
		{"not signed by the next", append([][]byte{otherCert}, s.Issuer.Chain()...), pki.ErrUntrusted, 0},
		{"not anchored", append([][]byte{otherCert}, otherIssuer.Chain()...), pki.ErrUntrusted, 1},
		{"no intermediate", s.PlatformChain[:1], pki.ErrUntrusted, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, perr := s.PlatformVerifier.VerifyPlatform(c.chain)
			require.ErrorIs(t, perr, c.want, "phones refuse the chain")
			_, err := payflow.NewPlatform(payflow.PlatformOptions{
				Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier, Key: s.Key, Chain: c.chain, Now: s.Clock.Now,
			})
			require.ErrorIs(t, err, c.want)
			var pe *pki.Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, c.cert, pe.Cert)
			assert.Equal(t, "payflow: receipt certificate chain: "+pe.Error(), err.Error())
		})
	}
	_, err = payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier, Key: s.Key, Chain: s.PlatformChain, Now: s.Clock.Now,
	})
	assert.NoError(t, err, "the chain that phones verify")
}

// TestNewPlatformRefusesChainTooLongForReceipts: NewPlatform refuses at
// start, with record.ErrMalformed, a receipt chain that phones verify but
// that is too long to go in every receipt (more than record.MaxChain
// bytes: here certificates whose CRL distribution points are long URLs),
// rather than fail the receipt of every payment it settles; such a chain
// that phones refuse too is refused for that, with the verifier's error;
// the same hierarchy with short URLs starts.
func TestNewPlatformRefusesChainTooLongForReceipts(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	chainOf := func(urlLen int) (*pki.Verifier, [][]byte) {
		url := func(name string) string {
			u := "https://pki.invalid/" + name + "/"
			return u + strings.Repeat("x", urlLen-len(u))
		}
		key := func() *ecdsa.PrivateKey {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			require.NoError(t, err)
			return k
		}
		root, err := pki.NewRoot(key(), pki.CAOptions{CRLURL: url("root")})
		require.NoError(t, err)
		ca, err := root.NewIntermediate(key(), pki.CAOptions{CRLURL: url("platform")})
		require.NoError(t, err)
		cert, err := ca.IssuePlatform(s.Key.Public(), "casimpay test platform", pki.IssueOptions{})
		require.NoError(t, err)
		v, err := pki.NewVerifier(pki.VerifierOptions{
			Roots: [][]byte{root.DER()}, Now: s.Clock.Now, Revocation: pki.RevocationBestEffort,
		})
		require.NoError(t, err)
		return v, append([][]byte{cert}, ca.Chain()...)
	}
	start := func(v *pki.Verifier, chain [][]byte) error {
		_, err := payflow.NewPlatform(payflow.PlatformOptions{
			Ledger: s.Ledger, Store: s.Store, Verifier: v, Key: s.Key, Chain: chain, Now: s.Clock.Now,
		})
		return err
	}

	v, chain := chainOf(2200)
	size := 0
	for _, c := range chain {
		size += len(c)
	}
	require.Greater(t, size, record.MaxChain)
	_, err := v.VerifyPlatform(chain)
	require.NoError(t, err, "phones verify the chain")
	err = start(v, chain)
	require.ErrorIs(t, err, record.ErrMalformed)
	assert.Equal(t, "payflow: receipt certificate chain: "+record.CheckChain(chain).Error(), err.Error())
	err = start(s.Verifier, chain)
	require.ErrorIs(t, err, pki.ErrUntrusted, "a chain too long that phones refuse is refused as they refuse it")
	assert.NotErrorIs(t, err, record.ErrMalformed)

	assert.NoError(t, start(chainOf(40)))
}
