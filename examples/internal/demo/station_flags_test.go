package demo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/outwait"
)

// useAssetsTill replaces the till of w with one whose party has assets
// (Party.Assets), on the same card.
func useAssetsTill(t *testing.T, w *pairedPhones) {
	t.Helper()
	party := *Grocery.Party("till")
	party.Assets = true
	till, err := NewPhone(&party, w.cards["till"], w.cloud.Platform, NewPrinter(&w.out).Screen("seller"), w.cloud.Authority.Root.DER())
	require.NoError(t, err)
	w.till = till
}

// flagsAt returns the flags of the advert that st sends at now.
func flagsAt(t *testing.T, st *Station, now time.Time) adv.Flags {
	t.Helper()
	return advertAt(t, st, now).Flags
}

// TestStationAdvertFlags: a phone's station sends the flags that its
// payflow phone sets at the station's time: assets when its party has
// them, and busy exactly while the session the phone selected last is
// paired, as the phone saw it, and that time is before the session's
// expiry; not while it waits for the other phone, nor from the expiry on,
// also while the phones' clock still reads a time before it. A station
// without a phone, a bystander's, sends no flags.
func TestStationAdvertFlags(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	stopWallClock(t)
	w := newPhones(ctx, t, nil, nil)
	useAssetsTill(t, w)
	bob := &Station{Party: Grocery.Party("bob"), Card: w.cards["bob"]}
	now := WallClock()
	assert.Equal(t, adv.Flags(0), flagsAt(t, w.alice.Station, now), "Alice, no session")
	assert.Equal(t, adv.FlagAssets, flagsAt(t, w.till.Station, now), "the till, no session")
	assert.Equal(t, adv.Flags(0), flagsAt(t, bob, now), "a bystander")

	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{w.alice.Station, w.till.Station}, []*Listener{w.alice.Scanner, w.till.Scanner}, now))
	tc := selectPeer(ctx, t, w.till, "Alice")
	require.False(t, tc.Paired)
	assert.Equal(t, adv.FlagAssets, flagsAt(t, w.till.Station, now), "the till waits for Alice")
	ac := selectPeer(ctx, t, w.alice, "Corner Grocer")
	require.True(t, ac.Paired)
	require.Equal(t, tc.SessionID, ac.SessionID)
	assert.Equal(t, adv.FlagBusy, flagsAt(t, w.alice.Station, now), "Alice paired")
	assert.Equal(t, adv.FlagAssets, flagsAt(t, w.till.Station, now), "the till has not seen the session paired")
	_, err := w.till.AwaitPaired(ctx)
	require.NoError(t, err)
	assert.Equal(t, adv.FlagBusy|adv.FlagAssets, flagsAt(t, w.till.Station, now), "the till paired")

	for _, at := range []time.Time{now, ac.ExpiresAt.Add(-time.Nanosecond)} {
		assert.Equal(t, adv.FlagBusy, flagsAt(t, w.alice.Station, at), "Alice at %v", at)
		assert.Equal(t, adv.FlagBusy|adv.FlagAssets, flagsAt(t, w.till.Station, at), "the till at %v", at)
		assert.Equal(t, adv.Flags(0), flagsAt(t, bob, at), "a bystander at %v", at)
	}
	require.True(t, WallClock().Before(ac.ExpiresAt))
	for _, at := range []time.Time{ac.ExpiresAt, ac.ExpiresAt.Add(time.Hour)} {
		assert.Equal(t, adv.Flags(0), flagsAt(t, w.alice.Station, at), "Alice at %v, expired", at)
		assert.Equal(t, adv.FlagAssets, flagsAt(t, w.till.Station, at), "the till at %v, expired", at)
	}
}

// TestServiceQueueShowsFlags: a line of the service queue on a phone's
// screen shows the flags of the peer's latest advert that the queue holds
// (queue.Peer.Packet): busy, for a phone in a paired session, and assets;
// a peer without flags shows none.
func TestServiceQueueShowsFlags(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopWallClock(t)
	w := newPhones(ctx, t, nil, nil)
	useAssetsTill(t, w)
	pr := NewPrinter(&w.out)
	root := w.cloud.Authority.Root.DER()
	bob, err := NewPhone(Grocery.Party("bob"), w.cards["bob"], w.cloud.Platform, pr.Screen("shopper"), root)
	require.NoError(t, err)
	cart, err := NewPhone(Grocery.Party("coffee-cart"), w.cards["coffee-cart"], w.cloud.Platform, pr.Screen("seller"), root)
	require.NoError(t, err)
	now := WallClock()
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{w.alice.Station, w.till.Station}, []*Listener{w.alice.Scanner, w.till.Scanner}, now))
	selectPeer(ctx, t, w.till, "Alice")
	selectPeer(ctx, t, w.alice, "Corner Grocer")
	_, err = w.till.AwaitPaired(ctx)
	require.NoError(t, err)

	hear := func(ph *Phone, st *Station, rssi int) adv.EID {
		t.Helper()
		p := advertAt(t, st, now)
		require.NoError(t, ph.Scanner.Queue.Observe(p, rssi, now))
		return p.EID
	}
	till, coffee := hear(bob, w.till.Station, -60), hear(bob, cart.Station, -70)
	alice, other := hear(cart, w.alice.Station, -60), hear(cart, bob.Station, -70)

	w.out.Reset()
	_, err = bob.ServiceQueue(ctx)
	require.NoError(t, err)
	_, err = cart.ServiceQueue(ctx)
	require.NoError(t, err)
	assert.Equal(t, "[shopper] Service queue: 2 sellers nearby, nearest first\n"+
		fmt.Sprintf("[shopper]   1. Corner Grocer     -60 dBm  (EID %s…)  [busy, assets]\n", till.String()[:8])+
		fmt.Sprintf("[shopper]   2. Coffee Cart       -70 dBm  (EID %s…)\n", coffee.String()[:8])+
		"[seller]  Service queue: 2 shoppers nearby, nearest first\n"+
		fmt.Sprintf("[seller]    1. Alice             -60 dBm  (EID %s…)  [busy]\n", alice.String()[:8])+
		fmt.Sprintf("[seller]    2. Bob               -70 dBm  (EID %s…)\n", other.String()[:8]), w.out.String())
}
