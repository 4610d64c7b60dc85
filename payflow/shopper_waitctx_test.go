package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestWaitPaymentWithEndedContextShowsNothing: a WaitPayment whose
// context ended before the call fails with the context's error, also when
// the API (a Platform in process) does not look at the context: it puts
// neither the session's pending request nor a receipt to collect on
// screen, and the next WaitPayment shows them.
func TestWaitPaymentWithEndedContextShowsNothing(t *testing.T) {
	ended, cancel := withCancelCause(context.Background())
	cancel()
	t.Run("pending request", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		sv, err := w.seller.Request(context.Background(), basket)
		require.NoError(t, err)
		screen, err := w.shopper.WaitPayment(ended)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, screen)
		_, err = w.shopper.Payment()
		require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing put on screen")

		screen, err = w.shopper.WaitPayment(context.Background())
		require.NoError(t, err)
		assert.Equal(t, sv.ID, screen.ID)
	})
	t.Run("receipt to collect", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		first, _ := w.payWithLostReply(t, loseFirstApprove(w.f.Platform, payflow.ErrUnavailable))
		shown, err := w.shopper.Payment()
		require.NoError(t, err)
		screen, err := w.shopper.WaitPayment(ended)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, screen)
		on, err := w.shopper.Payment()
		require.NoError(t, err)
		assert.Equal(t, shown, on, "the screen stays as it was")

		screen, err = w.shopper.WaitPayment(context.Background())
		require.NoError(t, err)
		assert.Equal(t, first.ID, screen.ID)
		assert.Equal(t, payflow.StateCaptured, screen.State)
	})
}
