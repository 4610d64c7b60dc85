package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerRefusesPayableAnswerToCancel: a Seller's cancellation that
// the platform answers with the view of the request still payable
// (pending or held), which is no cancellation, fails Cancel, CancelHeld
// and a Request that withdraws the request on screen with ErrInternal,
// the request kept as last seen: on screen, among the held ones, and
// withdrawn by the next call, the Request making nothing meanwhile.
func TestSellerRefusesPayableAnswerToCancel(t *testing.T) {
	ctx := context.Background()
	for _, state := range []string{payflow.StatePending, payflow.StateHeld} {
		t.Run("Cancel "+state, func(t *testing.T) {
			w, api, sv := newRestateWorldAsking(t)
			requireInternalWhile(t, api, &api.cancelled, state, func() error {
				v, err := w.seller.Cancel(ctx)
				assert.Nil(t, v)
				return err
			})
			v, err := w.seller.Status(ctx)
			require.NoError(t, err, "still on screen")
			assert.Equal(t, sv.ID, v.ID)
			assert.Equal(t, payflow.StateCancelled, v.State)
		})
		t.Run("CancelHeld "+state, func(t *testing.T) {
			w, api := newRestateWorld(t, true)
			id := w.pairAndHold(t)
			requireInternalWhile(t, api, &api.cancelled, state, func() error {
				v, err := w.seller.CancelHeld(ctx, id)
				assert.Nil(t, v)
				return err
			})
			requireKeptHeld(t, w.seller, id)
			v, err := w.seller.CancelHeld(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, v.State)
			held, err := w.seller.Held(ctx)
			require.NoError(t, err)
			assert.Empty(t, held)
		})
		t.Run("Request "+state, func(t *testing.T) {
			w, api, sv := newRestateWorldAsking(t)
			counter, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			requireInternalWhile(t, api, &api.cancelled, state, func() error {
				v, err := w.seller.Request(ctx, basket)
				assert.Nil(t, v)
				return err
			})
			after, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, counter, after, "the card signed no request")
			on, err := w.seller.Status(ctx)
			require.NoError(t, err, "still on screen")
			assert.Equal(t, sv.ID, on.ID)
			v, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			assert.Equal(t, payflow.SessionRequestID(sv.SessionID, 1), v.ID)
			w.assertState(t, sv.ID, payflow.StateCancelled)
		})
	}
}
