package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// TestSellerWaitRefusesUnreadableReceipt: a captured view whose receipt
// is missing, or does not decode on a phone that pins the platform's key,
// is ErrSignature for the seller's Wait, which shows no receipt; the view
// answered as the platform made it then ends Wait captured.
func TestSellerWaitRefusesUnreadableReceipt(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		alter  func(v *payflow.PaymentView)
		pinned bool
		want   error
		text   string
	}{
		{"none", func(v *payflow.PaymentView) { v.Receipt = nil }, false, payflow.ErrSignature, "no receipt"},
		{"none, pinned key", func(v *payflow.PaymentView) { v.Receipt = nil }, true, payflow.ErrSignature, "no receipt"},
		{"not a receipt, pinned key", func(v *payflow.PaymentView) { v.Receipt = []byte{0xa0} }, true, payflow.ErrSignature, "receipt: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, api := newTamperWorld(t)
			w.pinned = tt.pinned
			w.useSeller(t, api)
			w.pair(t)
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			w.shopperApproves(t)
			api.payment = func(v *payflow.PaymentView) {
				if v.State == payflow.StateCaptured {
					tt.alter(v)
				}
			}

			v, rc, err := w.seller.Wait(ctx)
			require.ErrorIs(t, err, tt.want)
			assert.ErrorContains(t, err, tt.text)
			assert.Nil(t, v)
			assert.Nil(t, rc)

			api.payment = nil
			v, rc, err = w.seller.Wait(ctx)
			require.NoError(t, err)
			assert.Equal(t, sv.ID, v.ID)
			assert.Equal(t, payflow.StateCaptured, v.State)
			assert.Equal(t, uint64(690), rc.Amount)
			assert.Equal(t, record.ReceiptPayment, rc.Kind)
		})
	}
}

// TestShopperRefusesRequestThatDoesNotOpen: a payment view whose
// seller-signed request does not open is ErrMismatch for the shopper's
// WaitPayment, which puts nothing on screen; the view answered as the
// platform made it then goes on screen.
func TestShopperRefusesRequestThatDoesNotOpen(t *testing.T) {
	ctx := context.Background()
	w, api := newTamperWorld(t)
	w.pair(t)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	api.payment = func(v *payflow.PaymentView) { v.Request = []byte{0xa0} }

	v, err := w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.ErrorContains(t, err, "the signed request: ")
	assert.Nil(t, v)
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing on screen")

	api.payment = nil
	v, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, v.ID)
}
