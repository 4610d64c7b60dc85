package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestShopperDeclineWithNothingOnScreen: a Decline while no payment
// request is on the shopper's screen (one requested, not yet read by
// WaitPayment) fails with ErrNoPayment and declines nothing: the request
// stays pending, and the shopper declines it once it is shown.
func TestShopperDeclineWithNothingOnScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)

	v, err := w.shopper.Decline(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	assert.Nil(t, v)
	w.assertState(t, sv.ID, payflow.StatePending)

	shown, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, sv.ID, shown.ID)
	v, err = w.shopper.Decline(ctx)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, v.State)
	w.assertState(t, sv.ID, payflow.StateDeclined)
}
