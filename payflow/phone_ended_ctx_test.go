package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/queue"
)

// TestPhoneCallsWithEndedContextSendNothing: a decline, a selection, a
// login, a capture or a cancellation of a held request whose context
// ended before the call fails with the context's error, also when the API
// (a Platform in process) does not look at the context: nothing is sent,
// the card signs nothing, and the request or the queue stays as it was.
// A selection of a peer that the queue lacks fails with
// queue.ErrUnknownPeer all the same.
func TestPhoneCallsWithEndedContextSendNothing(t *testing.T) {
	ctx := context.Background()
	ended, cancel := context.WithCancel(ctx)
	cancel()
	for _, shown := range []bool{false, true} {
		name := map[bool]string{false: "Decline", true: "DeclineShown"}[shown]
		t.Run(name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			w.pair(t)
			sv, screen := w.request(t)
			var v *payflow.PaymentView
			var err error
			if shown {
				v, err = w.shopper.DeclineShown(ended, screen)
			} else {
				v, err = w.shopper.Decline(ended)
			}
			require.ErrorIs(t, err, context.Canceled)
			assert.Nil(t, v)
			w.assertState(t, sv.ID, payflow.StatePending, "nothing declined")
			on, err := w.shopper.Payment()
			require.NoError(t, err)
			assert.Equal(t, screen, on, "the request stays on screen")
		})
	}
	// selector is a phone's Select and its queue and wait for the
	// pairing, for either role.
	type selector interface {
		Peers(context.Context) ([]payflow.QueueEntry, error)
		Select(context.Context, adv.EID) (*payflow.Confirmation, error)
		WaitPaired(context.Context) (*payflow.Confirmation, error)
		Queue() *queue.Queue
	}
	for _, seller := range []bool{false, true} {
		t.Run(map[bool]string{false: "shopper Select", true: "seller Select"}[seller], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			w.hear(t)
			var p selector = w.shopper
			card := w.shopperCard
			if seller {
				p, card = w.seller, w.sellerCard
			}
			peers, err := p.Peers(ctx) // the peer's name is kept
			require.NoError(t, err)
			require.Len(t, peers, 1)
			counter, err := card.Card.Counter()
			require.NoError(t, err)
			c, err := p.Select(ended, peers[0].EID)
			require.ErrorIs(t, err, context.Canceled)
			assert.Nil(t, c)
			after, err := card.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, counter, after, "the card signed no pairing proof")
			_, err = p.WaitPaired(ctx)
			require.ErrorIs(t, err, payflow.ErrNotPaired)
			_, selected := p.Queue().Selected()
			assert.False(t, selected, "the queue shows no peer selected")
			_, err = p.Select(ended, adv.EID{1})
			require.ErrorIs(t, err, queue.ErrUnknownPeer, "a peer that the queue lacks comes first")
		})
	}
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "Capture", true: "CaptureHeld"}[held], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			id := w.pairAndHold(t)
			capture := func() (*payflow.Receipt, error) { return w.seller.Capture(ended, 0) }
			if held {
				capture = func() (*payflow.Receipt, error) { return w.seller.CaptureHeld(ended, id, 0) }
			}
			rc, err := capture()
			require.ErrorIs(t, err, context.Canceled)
			assert.Nil(t, rc)
			w.assertState(t, id, payflow.StateHeld, "nothing captured")
		})
	}
	t.Run("Login", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		counter := w.counter(t)
		l, err := w.shopper.Login(ended)
		require.ErrorIs(t, err, context.Canceled)
		assert.Nil(t, l)
		assert.Equal(t, counter, w.counter(t), "the card signed no auth proof")
		_, err = w.shopper.Login(ctx)
		require.NoError(t, err)
		assert.Equal(t, counter+1, w.counter(t))
	})
	t.Run("CancelHeld", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		id := w.pairAndHold(t)
		v, err := w.seller.CancelHeld(ended, id)
		require.ErrorIs(t, err, context.Canceled)
		assert.Nil(t, v)
		w.assertState(t, id, payflow.StateHeld, "nothing cancelled")
		held, err := w.seller.Held(ctx)
		require.NoError(t, err)
		require.Len(t, held, 1, "still kept as held")
		assert.Equal(t, id, held[0].ID)
	})
}
