package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSelectWithEndedContextAsksNoChallenge: a Select whose context ended
// before it, of a peer whose name the phone keeps, sends nothing, not even
// the challenge of its proof, with an API (a Platform in process) that
// does not look at the context.
func TestSelectWithEndedContextAsksNoChallenge(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &challengeHookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.hear(t)
	peers, err := w.shopper.Peers(ctx) // logs in; the peer's name is kept
	require.NoError(t, err)
	require.Len(t, peers, 1)
	challenged := false
	api.mu.Lock()
	api.hook = func() { challenged = true }
	api.mu.Unlock()
	ended, cancel := withCancelCause(ctx)
	cancel()
	c, err := w.shopper.Select(ended, peers[0].EID)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, c)
	assert.False(t, challenged, "no challenge sent")
}
