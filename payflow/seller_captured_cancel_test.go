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
	ctx := context.Background()
	t.Run("Cancel", func(t *testing.T) {
		w, api, sv := newRestateWorldAsking(t)
		api.set(&api.cancelled, payflow.StateCaptured)
		v, err := w.seller.Cancel(ctx)
		api.set(&api.cancelled, "")
		require.ErrorIs(t, err, payflow.ErrFinal)
		assert.Nil(t, v)
		on, err := w.seller.Status(ctx)
		require.NoError(t, err, "still on screen")
		assert.Equal(t, sv.ID, on.ID)
	})
	t.Run("CancelHeld", func(t *testing.T) {
		w, api := newRestateWorld(t, true)
		id := w.pairAndHold(t)
		api.set(&api.cancelled, payflow.StateCaptured)
		v, err := w.seller.CancelHeld(ctx, id)
		api.set(&api.cancelled, "")
		require.ErrorIs(t, err, payflow.ErrFinal)
		assert.Nil(t, v)
		held, err := w.seller.Held(ctx)
		require.NoError(t, err)
		assert.Empty(t, held)
	})
}
