package payflow_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// challengeHookAPI runs the hook, if any, once the platform answered the
// next challenge, before that answer goes on.
type challengeHookAPI struct {
	payflow.API
	mu   sync.Mutex
	hook func()
}

func (a *challengeHookAPI) Challenge(ctx context.Context, req *payflow.ChallengeRequest) (*payflow.ChallengeResponse, error) {
	ch, err := a.API.Challenge(ctx, req)
	a.mu.Lock()
	hook := a.hook
	a.hook = nil
	a.mu.Unlock()
	if hook != nil {
		hook()
	}
	return ch, err
}

// heardPeerWorld is a world whose shopper, through a challengeHookAPI
// without a hook, has logged in and heard the seller, whose name it keeps:
// peers is its one peer.
func heardPeerWorld(t *testing.T) (*phoneWorld, *challengeHookAPI, []payflow.QueueEntry) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	api := &challengeHookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.hear(t)
	peers, err := w.shopper.Peers(context.Background()) // logs in; the peer's name is kept
	require.NoError(t, err)
	require.Len(t, peers, 1)
	return w, api, peers
}

// TestProofWhoseContextEndsSignsNothing: a login or a selection whose
// context ends after it began, here as the platform answers the
// challenge, with an API (a Platform in process) that does not look at
// the context, fails with the context's error before the card signs: the
// card signs no auth proof, and no login or pairing is sent. The next
// call logs in, or pairs.
func TestProofWhoseContextEndsSignsNothing(t *testing.T) {
	ctx := context.Background()
	t.Run("Login", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		api := &challengeHookAPI{API: w.f.Platform}
		w.useShopper(t, api)
		ending, cancel := withCancelCause(ctx)
		defer cancel()
		api.hook = cancel
		w.requireLoginSignsNothing(t, ending)
	})
	t.Run("Select", func(t *testing.T) {
		w, api, peers := heardPeerWorld(t)
		ending, cancel := withCancelCause(ctx)
		defer cancel()
		api.mu.Lock()
		api.hook = cancel
		api.mu.Unlock()
		counter := w.counter(t)
		c, err := w.shopper.Select(ending, peers[0].EID)
		require.ErrorIs(t, err, errCallerGone)
		assert.Nil(t, c)
		assert.Equal(t, counter, w.counter(t), "the card signed no pairing proof")
		_, err = w.shopper.WaitPaired(ctx)
		require.ErrorIs(t, err, payflow.ErrNotPaired, "nothing paired")
		_, err = w.shopper.Select(ctx, peers[0].EID)
		require.NoError(t, err)
		assert.Equal(t, counter+1, w.counter(t))
	})
}

// requireLoginSignsNothing checks that the shopper's Login with ctx, which
// ends before the card would sign, fails with ctx's cause, the card
// signing no auth proof, and that a Login after it logs in.
func (w *phoneWorld) requireLoginSignsNothing(t *testing.T, ctx context.Context) {
	t.Helper()
	counter := w.counter(t)
	l, err := w.shopper.Login(ctx)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, l)
	assert.Equal(t, counter, w.counter(t), "the card signed no auth proof")
	_, err = w.shopper.Login(context.Background())
	require.NoError(t, err)
	assert.Equal(t, counter+1, w.counter(t))
}
