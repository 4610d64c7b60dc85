package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestSelectAsksAgainPastTheNamesGrace pins PROTOCOL.md §6.1: the grace
// in which the queue screen shows a peer under a name that expired less
// than 30 s ago while the platform refuses its resolution as
// rate_limited "is the queue screen's only: once the 30 s have passed, a
// `Select` asks again, sending the resolution again while the platform
// answers `rate_limited`, 3 times in all (`payflow.RateLimitTries`), and
// then fails with `rate_limited`". Peers still shows the seller under its
// expired name, and a Select of it sends the resolution 3 times, has the
// card sign no pairing proof, and fails with ErrRateLimited.
func TestSelectAsksAgainPastTheNamesGrace(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &resolveRefusals{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	toNextEpoch(t, w.f, time.Minute) // the EIDs stay those of one epoch
	p := w.shopperHearsSeller(t, w.sellerCard, -40)
	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	api.refuse.Store(true)
	w.f.Clock.Advance(payflow.PeerNameTTL + time.Second) // the name expired a second ago
	require.NoError(t, w.shopper.Queue().Observe(p, -40, time.Time{}))
	peers, err = w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1, "the queue screen's grace")
	assert.Equal(t, "Corner Shop", peers[0].Name)
	refused := api.refused.Load()
	before, err := w.shopperCard.Card.Counter()
	require.NoError(t, err)

	_, err = w.shopper.Select(ctx, p.EID)
	require.ErrorIs(t, err, payflow.ErrRateLimited)
	assert.Equal(t, int32(payflow.RateLimitTries), api.refused.Load()-refused, "resolutions sent")
	after, err := w.shopperCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before, after, "no pairing proof signed")
}
