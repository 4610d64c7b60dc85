package payflow_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerRequestRefusesCapturedForAnotherAmount: a Request that the
// platform answers with the view of the new request captured for what no
// capture of it can have captured (nothing of 690, for a merchant that
// captures at once) takes it as Status and Wait take such a view: it fails
// with ErrMismatch, not reported paid, as one answered with the view of
// another request: the request goes on no screen, is not seen paid, and is
// kept to be withdrawn: a Cancel that the platform answers so again fails
// so too, and once the platform shows the request as it holds it, the
// next Cancel withdraws it, the shopper charged nothing.
func TestSellerRequestRefusesCapturedForAnotherAmount(t *testing.T) {
	ctx := context.Background()
	w, api := newRestateWorld(t, false)
	c := w.pair(t)
	id := payflow.SessionRequestID(c.SessionID, 0)
	shopper := w.shopperCard.Enrolment.ICCID
	api.set(&api.created, payflow.StateCaptured)
	v, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	var pe *payflow.PaidError
	assert.False(t, errors.As(err, &pe), "not reported paid")
	assert.Nil(t, v)
	assert.Nil(t, payflow.Screen(w.seller), "on no screen")
	assert.False(t, payflow.SawPaid(w.seller, id), "not seen paid")
	_, err = w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment)

	v, err = w.seller.Cancel(ctx) // sent again, answered so again
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.False(t, errors.As(err, &pe), "not reported paid")
	assert.Nil(t, v)
	assert.Nil(t, payflow.Screen(w.seller))
	assert.False(t, payflow.SawPaid(w.seller, id))

	api.set(&api.created, "")
	v, err = w.seller.Cancel(ctx)
	require.NoError(t, err, "kept, and withdrawn")
	assert.Equal(t, id, v.ID)
	assert.Equal(t, payflow.StateCancelled, v.State)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, shopper), "charged nothing")
}
