package demo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestServiceQueueShowsLevel: the service queue on a phone's screen shows
// each peer's strength as the queue orders them (queue.Peer.Level, the
// smoothed RSSI held in a dead band), so that the list, nearest first,
// reads in order: here the till, heard at -70 dBm and then at -54 dBm,
// has a smoothed RSSI of -66 dBm, within the dead band of its level of
// -70 dBm, and stays below the Coffee Cart, heard at -68 dBm. The phones'
// clock stands still, so that Alice's service queue keeps what she heard.
func TestServiceQueueShowsLevel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopWallClock(t)
	w := newPhones(ctx, t, nil, nil)
	cart, err := NewPhone(Grocery.Party("coffee-cart"), w.cards["coffee-cart"], w.cloud.Platform, NewPrinter(&w.out).Screen("seller"), w.cloud.Authority.Root.DER())
	require.NoError(t, err)
	now := WallClock()
	hear := func(st *Station, rssi int) adv.EID {
		t.Helper()
		p := advertAt(t, st, now)
		require.NoError(t, w.alice.Scanner.Queue.Observe(p, rssi, now))
		return p.EID
	}
	till := hear(w.till.Station, -70)
	hear(w.till.Station, -54)
	coffee := hear(cart.Station, -68)
	peers := w.alice.Scanner.Queue.Snapshot()
	require.Len(t, peers, 2)
	require.Equal(t, till, peers[1].Packet.EID)
	require.Equal(t, -66.0, peers[1].RSSI)
	require.Equal(t, -70.0, peers[1].Level)

	w.out.Reset()
	entries, err := w.alice.ServiceQueue(ctx)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	assert.Equal(t, "[shopper] Service queue: 2 sellers nearby, nearest first\n"+
		fmt.Sprintf("[shopper]   1. Coffee Cart       -68 dBm  (EID %s…)\n", coffee.String()[:8])+
		fmt.Sprintf("[shopper]   2. Corner Grocer     -70 dBm  (EID %s…)\n", till.String()[:8]), w.out.String())
}
