package payflow_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// resolveCount counts the resolutions that the phone sends.
type resolveCount struct {
	payflow.API
	calls atomic.Int32
}

func (a *resolveCount) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	a.calls.Add(1)
	return a.API.Resolve(ctx, token, req)
}

// TestPeersWithEndedContext: a Peers whose context ended asks the
// platform nothing, also when the API (a Platform in process) does not
// look at the context: while a peer heard needs asking about, it fails
// with the context's error and returns no snapshot; once every peer heard
// is named by a name kept, it returns the queue screen, as a read of the
// screen.
func TestPeersWithEndedContext(t *testing.T) {
	ctx := context.Background()
	ended, cancel := withCancelCause(ctx)
	cancel()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &resolveCount{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	w.hear(t)

	peers, err := w.shopper.Peers(ended)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, peers)
	assert.Zero(t, api.calls.Load(), "nothing asked")

	named, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, named, 1)
	assert.Equal(t, int32(1), api.calls.Load())

	peers, err = w.shopper.Peers(ended)
	require.NoError(t, err, "every peer named by a name kept")
	assert.Equal(t, named, peers)
	assert.Equal(t, int32(1), api.calls.Load(), "nothing asked")
}

// TestPeersRenewalWithEndedContext: a peer shown under a name that
// expired less than PeerNameTTL ago is shown under it while the name is
// asked for again; a Peers whose context ended fails with the context's
// error instead, asking nothing. With a context that lasts, the name is
// asked for once more and the peer shown.
func TestPeersRenewalWithEndedContext(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &resolveCount{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	w.hear(t)
	named, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, named, 1)
	require.Equal(t, int32(1), api.calls.Load())

	f.Clock.Advance(payflow.PeerNameTTL) // the name expired, just
	w.hear(t)
	ended, cancel := withCancelCause(ctx)
	cancel()
	peers, err := w.shopper.Peers(ended)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, peers)
	assert.Equal(t, int32(1), api.calls.Load(), "nothing asked")

	peers, err = w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, named[0].Name, peers[0].Name)
	assert.Equal(t, int32(2), api.calls.Load(), "asked again")
}
