package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestPaymentReadBySellerCardsOfMerchant: a request's view is the payer's,
// with a consent nonce while it is pending, and any seller card's of its
// merchant, the session's or another, without one; a card of another
// merchant, or a shopper card that is not the payer, is ErrForbidden.
func TestPaymentReadBySellerCardsOfMerchant(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	till, other, bob := s.thirdCards(t)
	v, _ := s.request(t)

	payer, err := s.Platform.Payment(ctx, s.shopper.Token, v.ID)
	require.NoError(t, err)
	assert.Len(t, payer.ConsentNonce, record.NonceSize, "the payer's view")
	for _, c := range []*paytest.Card{s.seller, till} {
		got, err := s.Platform.Payment(ctx, c.Token, v.ID)
		require.NoError(t, err, c.ID)
		assert.Nil(t, got.ConsentNonce, c.ID)
		assert.Equal(t, v.ID, got.ID, c.ID)
		assert.Equal(t, payflow.StatePending, got.State, c.ID)
	}
	for _, c := range []*paytest.Card{other, bob} {
		_, err := s.Platform.Payment(ctx, c.Token, v.ID)
		assert.ErrorIs(t, err, payflow.ErrForbidden, c.ID)
	}
}

// thirdCards enrolls and logs in three cards besides s's two: till, a
// second seller card of s's merchant; other, the seller card of another
// merchant ("other", in EUR); and bob, a shopper card.
func (s *shop) thirdCards(t *testing.T) (till, other, bob *paytest.Card) {
	t.Helper()
	ctx := context.Background()
	till = s.NewCard("Till 2")
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: merchantID, Name: "Corner Grocer", Currency: "EUR", SellerCardIDs: []string{s.seller.ID, till.ID},
	}))
	till.Login(record.RoleSeller)
	other = s.NewCard("Other till")
	require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{ID: "other", Name: "Other Shop", Currency: "EUR", SellerCardIDs: []string{other.ID}}))
	other.Login(record.RoleSeller)
	bob = s.NewCard("Bob")
	bob.Login(record.RoleShopper)
	return till, other, bob
}
