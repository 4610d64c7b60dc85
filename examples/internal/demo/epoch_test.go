package demo

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/ctxsleep"
	"github.com/casimpay/casimpay/payflow"
)

// Phones that select each other on either side of the end of an EID
// epoch each open a session of their own (PROTOCOL.md §6.1): the till
// selects Alice's EID of the epoch ending, Alice the till's EID of the
// next epoch. The till, waiting, selects Alice again once the EIDs
// changed, and both phones pair in Alice's session.
func TestPairingAcrossEIDRotation(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	// The phones' clock stands still just before the end of the epoch of
	// the cloud's clock, and then just after it: the cloud takes the EIDs
	// of the epoch after its own.
	end := adv.EpochStart(adv.Epoch(time.Now()) + 1)
	var at atomic.Int64
	at.Store(end.Add(-time.Millisecond).UnixNano())
	old := WallClock
	WallClock = func() time.Time { return time.Unix(0, at.Load()) }
	t.Cleanup(func() { WallClock = old })

	w := newPhones(ctx, t, nil, nil)
	alice, till := w.alice, w.till
	radio := NewRadio(1, 0)

	// Before the epoch ends, the till hears Alice and selects her.
	require.NoError(t, radio.Broadcast([]*Station{alice.Station}, []*Listener{till.Scanner}, WallClock()))
	first := selectPeer(ctx, t, till, "Alice")

	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	var wg sync.WaitGroup
	var tc, ac *payflow.Confirmation
	var terr, aerr error
	wg.Go(func() { tc, terr = till.awaitPaired(wctx, "Alice") })

	// The epoch ends: both phones advertise their new EIDs, and Alice,
	// who hears only the till's new one, selects it.
	at.Store(end.UnixNano())
	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	wg.Go(func() {
		for ctxsleep.Sleep(bctx, 50*time.Millisecond) == nil {
			if err := radio.Broadcast([]*Station{alice.Station, till.Station}, []*Listener{alice.Scanner, till.Scanner}, WallClock()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	require.NoError(t, radio.Broadcast([]*Station{till.Station}, []*Listener{alice.Scanner}, WallClock()))
	second := selectPeer(ctx, t, alice, "Corner Grocer")
	require.NotEqual(t, first.SessionID, second.SessionID, "a session on either side of the epoch's end")

	ac, aerr = alice.awaitPaired(wctx, "Corner Grocer")
	bcancel()
	wg.Wait()
	require.NoError(t, aerr, w.out.String())
	require.NoError(t, terr, w.out.String())
	assert.Equal(t, second.SessionID, tc.SessionID, "the till paired in Alice's session")
	assert.Equal(t, second.SessionID, ac.SessionID)
	assert.Equal(t, second.PairingCode, tc.PairingCode)
	assert.Contains(t, w.out.String(), "[seller]  No confirmation from Alice yet: selecting again after the EIDs changed\n")
	assert.Contains(t, w.out.String(), "[seller]  Confirmation: Alice, pairing code "+second.PairingCode+" (the other screen must show the same)\n", "the till shows the new pairing code")
}

// selectPeer has ph show its service queue, tap name and select it.
func selectPeer(ctx context.Context, t *testing.T, ph *Phone, name string) *payflow.Confirmation {
	t.Helper()
	entries, err := ph.ServiceQueue(ctx)
	require.NoError(t, err)
	e, err := ph.Choose(entries, name)
	require.NoError(t, err)
	c, err := ph.Confirm(ctx, e)
	require.NoError(t, err)
	return c
}
