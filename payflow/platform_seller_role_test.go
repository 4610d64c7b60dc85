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

// heldBasket is the shopper's and the merchant's balances while the
// basket of 690 is held.
var heldBasket = [2]payflow.Balance{{Posted: funds, Held: 690}, {Incoming: 690}}

// heldPayerMadeSeller returns a shop whose merchant captures manually,
// with the basket held, its payer card listed since as a seller card of
// merchant (the shop's own or another) and logged in as one, and the
// held view.
func heldPayerMadeSeller(t *testing.T, merchant string) (*shop, *payflow.PaymentView) {
	t.Helper()
	s := newShop(t, true, paytest.Options{})
	h := s.held(t)
	shopperMadeSeller(t, s, merchant)
	s.shopper.Login(record.RoleSeller)
	require.Equal(t, heldBasket, s.balances(t))
	return s, h
}

// TestPayerMadeSellerCardOfOwnMerchantSettles: the payer card of a held
// request, listed since as a seller card of the request's own merchant
// and logged in as one, is a seller card of that merchant as any other
// (PROTOCOL.md §6.2, §6.3): it cancels the request, the hold voided, or
// captures part of it, the rest released, with the receipt naming it as
// the payer.
func TestPayerMadeSellerCardOfOwnMerchantSettles(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		ctx := context.Background()
		s, h := heldPayerMadeSeller(t, merchantID)
		v, err := s.Platform.Cancel(ctx, s.shopper.Token, h.ID)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCancelled, v.State)
		assert.Equal(t, s.shopper.ID, v.PayerCardID)
		assert.Zero(t, v.Captured)
		assert.Nil(t, v.Receipt)
		assert.Nil(t, v.ConsentNonce)
		s.requireState(t, h.ID, payflow.StateCancelled)
		assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "the hold voided")
		require.NoError(t, s.Ledger.Verify(ctx))
	})
	t.Run("capture", func(t *testing.T) {
		ctx := context.Background()
		s, h := heldPayerMadeSeller(t, merchantID)
		v, err := s.Platform.Capture(ctx, s.shopper.Token, &payflow.CaptureRequest{RequestID: h.ID, Amount: 500})
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCaptured, v.State)
		assert.Equal(t, uint64(500), v.Captured)
		rc := s.VerifiedReceipt(t, v.Receipt)
		assert.Equal(t, record.ReceiptPayment, rc.Kind)
		assert.Equal(t, h.ID[:], rc.RequestID)
		assert.Equal(t, uint64(500), rc.Amount)
		assert.Equal(t, "EUR", rc.Currency)
		assert.Equal(t, s.shopper.ID, rc.PayerCardID)
		assert.Equal(t, merchantID, rc.MerchantID)
		requireCapturedFor(t, s, h.ID, 500)
	})
}

// TestSellerCardOfOtherMerchantSettlesNothing: the payer card of a held
// request, listed since as a seller card of another merchant and logged
// in as one, neither cancels nor captures it (forbidden, PROTOCOL.md
// §6.2): the request stays held, its hold pending.
func TestSellerCardOfOtherMerchantSettlesNothing(t *testing.T) {
	ctx := context.Background()
	s, h := heldPayerMadeSeller(t, "till-shop")
	_, err := s.Platform.Cancel(ctx, s.shopper.Token, h.ID)
	require.ErrorIs(t, err, payflow.ErrForbidden)
	assert.EqualError(t, err, "payflow: forbidden: only the merchant cancels")
	_, err = s.Platform.Capture(ctx, s.shopper.Token, &payflow.CaptureRequest{RequestID: h.ID})
	require.ErrorIs(t, err, payflow.ErrForbidden)
	assert.EqualError(t, err, "payflow: forbidden: only the merchant captures")
	s.requireState(t, h.ID, payflow.StateHeld)
	assert.Equal(t, heldBasket, s.balances(t), "the hold still pending")
	require.NoError(t, s.Ledger.Verify(ctx))
}
