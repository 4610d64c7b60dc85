package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestSellerWaitEndsWhilePending: a Wait whose context ends as the
// platform answers that the request is still pending fails with that
// context's cause before it reads again, and leaves the request on
// screen (Status shows it pending): a Wait with a context that lasts then
// returns it captured, with its receipt, once the shopper paid.
func TestSellerWaitEndsWhilePending(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	w.pair(t)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)

	ended, cancel := withCancelCause(ctx)
	api.paymentID, api.answered = sv.ID, cancel
	v, rc, err := w.seller.Wait(ended)
	require.Equal(t, errCallerGone, err)
	assert.Nil(t, v)
	assert.Nil(t, rc)
	shown, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, shown.ID)
	assert.Equal(t, payflow.StatePending, shown.State)

	_, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	paid, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	v, rc, err = w.seller.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, paid.Signed, rc.Signed)
}
