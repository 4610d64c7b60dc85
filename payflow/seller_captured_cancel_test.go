package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerCancelAnsweredCaptured: a Seller's Cancel or CancelHeld that
// the platform answers with the view of the request captured, which is no
// cancellation, fails with ErrFinal as a paid request's does, the request
// on screen staying there, and the held one no longer kept once a read
// shows it ended.
func TestSellerCancelAnsweredCaptured(t *testing.T) {
	testCancelAnsweredEnded(t, payflow.StateCaptured, "", payflow.ErrFinal)
}

// TestSellerCancelAnsweredExpired: a Seller's Cancel or CancelHeld that
// the platform answers with the view of the request expired, and no
// error, fails with ErrExpired as a request past its expiry does: the
// request on screen stays there, shown expired, and the held one is no
// longer kept once a read shows it expired.
func TestSellerCancelAnsweredExpired(t *testing.T) {
	testCancelAnsweredEnded(t, payflow.StateExpired, payflow.StateExpired, payflow.ErrExpired)
}

// TestSellerCancelAnsweredDeclined: a Seller's Cancel or CancelHeld that
// the platform answers with the view of the request declined, and no
// error, fails with ErrFinal as a declined request's does: the request on
// screen stays there, shown declined, and the held one is no longer kept
// once a read shows it declined.
func TestSellerCancelAnsweredDeclined(t *testing.T) {
	testCancelAnsweredEnded(t, payflow.StateDeclined, payflow.StateDeclined, payflow.ErrFinal)
}

// testCancelAnsweredEnded checks that Cancel and CancelHeld, answered with
// the view of the request in state answered while the reads show it in
// state read (as the platform holds it, when empty), fail with want, the
// request on screen staying there, as read, and the held one no longer
// kept.
func testCancelAnsweredEnded(t *testing.T, answered, read string, want error) {
	ctx := context.Background()
	t.Run("Cancel", func(t *testing.T) {
		w, api, sv := newRestateWorldAsking(t)
		api.set(&api.cancelled, answered)
		api.set(&api.state, read)
		v, err := w.seller.Cancel(ctx)
		api.set(&api.cancelled, "")
		require.ErrorIs(t, err, want)
		assert.Nil(t, v)
		on, err := w.seller.Status(ctx)
		require.NoError(t, err, "still on screen")
		assert.Equal(t, sv.ID, on.ID)
		if read != "" {
			assert.Equal(t, read, on.State)
		}
	})
	t.Run("CancelHeld", func(t *testing.T) {
		w, api := newRestateWorld(t, true)
		id := w.pairAndHold(t)
		api.set(&api.cancelled, answered)
		api.set(&api.state, read)
		v, err := w.seller.CancelHeld(ctx, id)
		api.set(&api.cancelled, "")
		require.ErrorIs(t, err, want)
		assert.Nil(t, v)
		held, err := w.seller.Held(ctx)
		require.NoError(t, err)
		assert.Empty(t, held)
	})
}
