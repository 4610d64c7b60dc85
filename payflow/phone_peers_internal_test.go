package payflow

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/queue"
)

// TestPeersKeepAnExpiredNameTheRateRefusesToRenew: a peer shown under a
// name that expired less than PeerNameTTL ago, whose resolution the
// platform then refuses for the card's rate, stays on the screen under
// that name; an entry shows the peer's smoothed RSSI and the level the
// queue orders it by, as the queue holds them.
func TestPeersKeepAnExpiredNameTheRateRefusesToRenew(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p := namingPhone(&now)
	q, err := queue.New(adv.Shopper, queue.Options{Now: func() time.Time { return now }, TTL: queue.MaxTTL})
	require.NoError(t, err)
	p.queue = q
	named := testEID(2)
	api := &budgetAPI{names: map[adv.EID]string{named: "Named Shop"}, budget: 1}
	p.api = api
	for _, rssi := range []int{-50, -52} { // within the queue's dead band
		require.NoError(t, q.Observe(adv.Packet{Role: adv.Seller, EID: named}, rssi, now))
	}
	snap := q.Snapshot()
	require.Len(t, snap, 1)
	require.NotEqual(t, snap[0].RSSI, snap[0].Level)
	want := []QueueEntry{{EID: named, Name: "Named Shop", MerchantID: "shop", RSSI: snap[0].RSSI, Level: snap[0].Level}}
	peers, err := p.Peers(context.Background())
	require.NoError(t, err)
	assert.Equal(t, want, peers)

	now = now.Add(PeerNameTTL + time.Second) // the name expired; the budget is spent
	peers, err = p.Peers(context.Background())
	require.NoError(t, err)
	assert.Equal(t, want, peers, "shown under its expired name")
	assert.Equal(t, []adv.EID{named, named}, api.asked)
}
