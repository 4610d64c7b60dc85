package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestShopperWaitRefusesUnknownState: a Shopper's WaitPayment that reads
// the session's next request in a state that no request's view has fails
// with ErrInternal and does not move past it: the next WaitPayment reads
// it again and shows it once the platform shows it pending.
func TestShopperWaitRefusesUnknownState(t *testing.T) {
	// The deadline only bounds a wait that would otherwise last until
	// the session expires.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := newMemoryPhoneWorld(t, false)
	api := &restateAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.pair(t)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	requireInternalWhile(t, api, &api.state, payflow.StateApproving, func() error {
		v, err := w.shopper.WaitPayment(ctx)
		assert.Nil(t, v)
		return err
	})
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing on screen")
	v, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, v.ID, "read again")
	assert.Equal(t, payflow.StatePending, v.State)
}
