package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// shopperMadeSeller has the shop's shopper card listed as a seller card
// of merchant, the shop's own or another, after it paired the shop's
// session: the enrolment leaves the session as it is, paired.
func shopperMadeSeller(t *testing.T, s *shop, merchant string) {
	t.Helper()
	ctx := context.Background()
	m := payflow.Merchant{ID: merchant, Name: "Till Shop", Currency: "EUR", SellerCardIDs: []string{s.shopper.ID}}
	if merchant == merchantID {
		m.Name, m.SellerCardIDs = "Corner Grocer", append(m.SellerCardIDs, s.seller.ID)
	}
	require.NoError(t, s.Platform.EnrollMerchant(ctx, m))
	v, err := s.Platform.Session(ctx, s.seller.Token, s.session.ID)
	require.NoError(t, err)
	require.Equal(t, payflow.SessionPaired, v.State, "the enrolment ends no session")
}

// TestRequestRefusedForShopperMadeSellerCard: a payment request into a
// paired session whose shopper card has since become a merchant's seller
// card (of the session's merchant or another), which is no session's
// shopper and pays nothing, is forbidden (PROTOCOL.md §6.3): nothing is
// stored, the seller card's counter is spent (sent again, the request is
// card_counter_regression) and the ledger does not move.
func TestRequestRefusedForShopperMadeSellerCard(t *testing.T) {
	for _, merchant := range []string{merchantID, "till-shop"} {
		t.Run(merchant, func(t *testing.T) {
			ctx := context.Background()
			s := newShop(t, false, paytest.Options{})
			shopperMadeSeller(t, s, merchant)
			before := s.balances(t)
			r := paytest.Request(s.session, "EUR", 100)
			msg := s.seller.MustSign(r)
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
			require.Error(t, err)
			assert.Equal(t, "forbidden", payflow.AsError(err).Code)
			assert.EqualError(t, err, "payflow: forbidden: the session's shopper card is a merchant's seller card")
			requireNotStored(t, s, r)
			_, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
			assert.ErrorIs(t, err, payflow.ErrClone, "sent again, its counter spent")
			assert.Equal(t, before, s.balances(t), "the ledger did not move")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestConsentRefusedForPayerMadeSellerCard: a consent to a pending request
// signed by its payer card once that card has become a merchant's seller
// card (of the request's merchant or another), over a consent nonce that
// the card fetched before the change (its view carries none since,
// PROTOCOL.md §6.3), is forbidden, naming the card (PROTOCOL.md §6.4):
// the consent is spent (sent again, it is nonce_replayed), nothing of it
// is stored, the request stays pending, and the ledger does not move.
func TestConsentRefusedForPayerMadeSellerCard(t *testing.T) {
	for _, merchant := range []string{merchantID, "till-shop"} {
		t.Run(merchant, func(t *testing.T) {
			ctx := context.Background()
			s := newShop(t, false, paytest.Options{})
			v, _ := s.request(t)
			consent := s.consent(t, v.ID)
			shopperMadeSeller(t, s, merchant)
			before := s.balances(t)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			require.Error(t, err)
			assert.Equal(t, "forbidden", payflow.AsError(err).Code)
			assert.EqualError(t, err, "payflow: forbidden: card "+s.shopper.ID+" is a merchant's seller card, not a shopper")
			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			assert.ErrorIs(t, err, payflow.ErrReplay, "sent again, the consent spent")
			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, r.State)
			assert.Nil(t, r.Consent, "no consent stored")
			assert.Nil(t, r.ConsentHash)
			assert.Equal(t, before, s.balances(t), "the ledger did not move")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}

// TestAcceptedConsentOfPayerMadeSellerCard: a consent accepted before its
// payer card became a merchant's seller card, sent again, is answered as
// it was before the change (PROTOCOL.md §6.4), not refused as a seller
// card's consent: one whose settlement a lost write left approving
// finishes it, and one settled whose reply was lost gets the request's
// view; the money moves once.
func TestAcceptedConsentOfPayerMadeSellerCard(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lost  bool  // the first call's record of the settlement is lost
		first error // the first call's error
	}{
		{"approving", true, errLost},
		{"settled", false, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := &settleFault{Store: memory.New()}
			st.taken = !tt.lost
			s := newShopOn(t, st, false, paytest.Options{})
			v, _ := s.request(t)
			consent := s.consent(t, v.ID)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			require.ErrorIs(t, err, tt.first)
			shopperMadeSeller(t, s, "till-shop")
			again, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCaptured, again.State)
			assert.NotEmpty(t, again.Receipt)
			assert.Equal(t, basketPaid, s.balances(t), "the money moved once")
			require.NoError(t, s.Ledger.Verify(ctx))
		})
	}
}
