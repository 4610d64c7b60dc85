package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerRefundRereadOfAnotherRequest: a Refund of the request on
// screen, last seen pending, reads it again to see it captured; a read
// that is not of that request (here its request hash altered, as of
// another request under its ID) is ErrMismatch, and the card signs no
// refund: none is made (was: the card signed a refund checked against
// that view, which the platform made and whose receipt the phone then
// refused, saying that it may have been made, and passed over later).
func TestSellerRefundRereadOfAnotherRequest(t *testing.T) {
	ctx := context.Background()
	w, api := newTamperWorld(t)
	w.pair(t)
	_, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	w.shopperApproves(t) // the seller's screen still shows it pending
	paid := w.balance(t, w.shopperCard.Enrolment.ICCID)

	api.payment = func(v *payflow.PaymentView) { v.RequestHash[0] ^= 1 }
	before, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	rc, err := w.seller.Refund(ctx, 100)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, rc)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before, after, "no refund signed")
	assert.Equal(t, paid, w.balance(t, w.shopperCard.Enrolment.ICCID), "no refund made")

	api.payment = nil
	rc, err = w.seller.Refund(ctx, 100)
	require.NoError(t, err)
	assert.Equal(t, uint64(100), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: paid.Posted + 100}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}
