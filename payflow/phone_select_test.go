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
	w, api, peers := heardPeerWorld(t)
	challenged := false
	api.mu.Lock()
	api.hook = func() { challenged = true }
	api.mu.Unlock()
	ended, cancel := withCancelCause(context.Background())
	cancel()
	c, err := w.shopper.Select(ended, peers[0].EID)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, c)
	assert.False(t, challenged, "no challenge sent")
}
