package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestRequestIntoColleaguesSession: a second seller card of the session's
// merchant signs a request into the session that the first seller card
// paired: ErrNotFound, the session being another card's, nothing stored,
// and its counter spent (a refusal after the signature), so the same
// request sent again is ErrClone.
func TestRequestIntoColleaguesSession(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	till, _, _ := s.thirdCards(t)
	r := paytest.Request(s.session, "EUR", 100)
	err := createRefusedSpent(t, s, till.MustSign(r), r, payflow.ErrNotFound)
	assert.EqualError(t, err, "payflow: not found")
}

// TestRequestOfMovedSellerCard: a seller card moved to another merchant,
// bakery-2, after it paired a session signs a request into that session:
// ErrForbidden, nothing stored, whether it names its former merchant, the
// session's (the card being no seller card of that merchant any more), or
// its new one (the session being with the merchant the shopper
// confirmed, as the refusal says).
func TestRequestOfMovedSellerCard(t *testing.T) {
	for _, tt := range []struct {
		name, merchant string
		// text is the refusal's text; empty: not compared (the former
		// merchant's names the card).
		text string
	}{
		{"former merchant", merchantID, ""},
		{"new merchant", "bakery-2", `payflow: forbidden: the session is with merchant "grocer-1"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			require.NoError(t, s.Platform.EnrollMerchant(context.Background(), payflow.Merchant{
				ID: "bakery-2", Name: "Bakery", Currency: "EUR", SellerCardIDs: []string{s.seller.ID},
			}))
			r := paytest.Request(s.session, "EUR", 100)
			r.MerchantID = tt.merchant
			_, err := s.Create(r)
			require.ErrorIs(t, err, payflow.ErrForbidden)
			requireNotStored(t, s, r)
			if tt.text != "" {
				assert.EqualError(t, err, tt.text)
			}
		})
	}
}

// TestRequestTTLOneSecond: a request asking for the shortest lifetime,
// one second, expires one second after its creation, not after the
// default RequestTTL.
func TestRequestTTLOneSecond(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	r := paytest.Request(s.session, "EUR", 690)
	r.TTL = 1
	v, err := s.Create(r)
	require.NoError(t, err)
	assert.Equal(t, s.Clock.Now().Add(time.Second), v.ExpiresAt)
}

// TestRequestToAnotherPayer: a request into a paired session naming as
// its payer a shopper card other than the session's is ErrMismatch,
// nothing stored.
func TestRequestToAnotherPayer(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	_, _, bob := s.thirdCards(t)
	r := paytest.Request(s.session, "EUR", 100)
	r.PayerCardID = bob.ID
	_, err := s.Create(r)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.EqualError(t, err, "payflow: does not match the request: the payer is not the shopper of the session")
	requireNotStored(t, s, r)
}

// TestRequestLegOfUnregisteredAsset: a request with a leg of an asset that
// is not registered is ErrInvalid, nothing stored, and its counter spent
// (a verdict on the request), so the same request sent again is ErrClone.
func TestRequestLegOfUnregisteredAsset(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	r := paytest.Request(s.session, "EUR", 100)
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}, {Asset: "ticket:gala", Amount: 1}}
	err := createRefusedSpent(t, s, s.seller.MustSign(r), r, payflow.ErrInvalid)
	assert.EqualError(t, err, `payflow: invalid request: asset "ticket:gala" is not registered`)
}

// TestConsentNamingAnotherCurrencyOrPayee: a consent to a pending request
// that names another currency, or another merchant as its payee, than the
// request is ErrMismatch and spent (ErrReplay sent again); the request
// stays pending and no money moves.
func TestConsentNamingAnotherCurrencyOrPayee(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		alter   func(*record.Consent)
		message string
	}{
		{"currency", func(c *record.Consent) { c.Currency = "USD" }, "payflow: does not match the request: consent is for 690 USD, the request for 690 EUR"},
		{"payee", func(c *record.Consent) { c.MerchantID = "other" }, "payflow: does not match the request: consent names another payee"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			v, _ := s.request(t)
			pv, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
			require.NoError(t, err)
			c := paytest.Consent(pv)
			tt.alter(c)
			consent := s.shopper.MustSign(c)
			before := s.balances(t)
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.EqualError(t, err, tt.message)
			s.requireState(t, v.ID, payflow.StatePending)
			assert.Equal(t, before, s.balances(t), "no money moved")
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			assert.ErrorIs(t, err, payflow.ErrReplay, "sent again, spent")
		})
	}
}

// TestCancelByAnotherMerchantForbidden: a seller card of another merchant
// cancelling a pending request, or a held one, is ErrForbidden; the
// request stays as it was and its hold stays in place.
func TestCancelByAnotherMerchantForbidden(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	v, _ := s.request(t)
	h := s.held(t)
	_, other, _ := s.thirdCards(t)
	held := s.balances(t)
	for id, state := range map[payflow.ID]string{v.ID: payflow.StatePending, h.ID: payflow.StateHeld} {
		_, err := s.Platform.Cancel(ctx, other.Token, id)
		require.ErrorIs(t, err, payflow.ErrForbidden)
		assert.EqualError(t, err, "payflow: forbidden: only the merchant cancels")
		s.requireState(t, id, state)
	}
	assert.Equal(t, held, s.balances(t), "the hold stays")
}
