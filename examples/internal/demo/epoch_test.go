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
	endEpoch := standStill(t)

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
	endEpoch()
	bcancel := broadcast(ctx, t, &wg, radio, alice, till)
	defer bcancel()
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

// standStill sets the phones' clock (WallClock) to stand still just
// before the end of the epoch of the cloud's clock, until the returned
// function sets it to stand still just after it: the cloud takes the EIDs
// of the epoch after its own.
func standStill(t *testing.T) (endEpoch func()) {
	end := adv.EpochStart(adv.Epoch(time.Now()) + 1)
	var at atomic.Int64
	at.Store(end.Add(-time.Millisecond).UnixNano())
	old := WallClock
	WallClock = func() time.Time { return time.Unix(0, at.Load()) }
	t.Cleanup(func() { WallClock = old })
	return func() { at.Store(end.UnixNano()) }
}

// broadcast has the phones hear each other every 50 ms, in wg, until the
// returned function is called.
func broadcast(ctx context.Context, t *testing.T, wg *sync.WaitGroup, radio *Radio, phones ...*Phone) (stop func()) {
	var stations []*Station
	var listeners []*Listener
	for _, ph := range phones {
		stations, listeners = append(stations, ph.Station), append(listeners, ph.Scanner)
	}
	ctx, stop = context.WithCancel(ctx)
	wg.Go(func() {
		for ctxsleep.Sleep(ctx, 50*time.Millisecond) == nil {
			if err := radio.Broadcast(stations, listeners, WallClock()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	return stop
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

// pairHookAPI calls hook with the number of each Pair call, before the
// call when before is set and once it returned otherwise.
type pairHookAPI struct {
	payflow.API
	before bool
	hook   func(n int32)
	n      atomic.Int32
}

func (a *pairHookAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	n := a.n.Add(1)
	if a.before {
		a.hook(n)
	}
	s, err := a.API.Pair(ctx, req)
	if !a.before {
		a.hook(n)
	}
	return s, err
}

// TestPairingCrossesReselection: Alice's selection of the till, signed
// before the end of the EID epoch, reaches the cloud only after the till,
// waiting, selected Alice again after the EIDs changed: it pairs the
// session that the till left. Alice, paired there, finds the till's
// selection of her new EID, selects the till again, and both phones pair
// in the till's new session.
func TestPairingCrossesReselection(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	endEpoch := standStill(t)

	signed, release, reselected := make(chan struct{}), make(chan struct{}), make(chan struct{})
	w := newPhones(ctx, t, func(p payflow.API) payflow.API {
		return &pairHookAPI{API: p, before: true, hook: func(n int32) {
			if n == 1 { // Alice's first selection, signed: held
				close(signed)
				<-release
			}
		}}
	}, func(p payflow.API) payflow.API {
		return &pairHookAPI{API: p, hook: func(n int32) {
			if n == 2 { // the till's selection after the EIDs changed
				close(reselected)
			}
		}}
	})
	alice, till := w.alice, w.till
	for _, ph := range []*Phone{alice, till} {
		require.NoError(t, ph.Login(ctx))
	}
	radio := NewRadio(1, 0)

	// Before the epoch ends, the phones hear each other and select each
	// other, Alice's selection held on its way to the cloud.
	require.NoError(t, radio.Broadcast([]*Station{alice.Station, till.Station}, []*Listener{alice.Scanner, till.Scanner}, WallClock()))
	first := selectPeer(ctx, t, till, "Alice")
	entries, err := alice.ServiceQueue(ctx)
	require.NoError(t, err)
	grocer, err := alice.Choose(entries, "Corner Grocer")
	require.NoError(t, err)
	var ac0 *payflow.Confirmation
	var aerr0 error
	selected := make(chan struct{})
	go func() {
		defer close(selected)
		ac0, aerr0 = alice.Confirm(ctx, grocer)
	}()
	<-signed

	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	var wg sync.WaitGroup
	var tc *payflow.Confirmation
	var terr error
	wg.Go(func() { tc, terr = till.awaitPaired(wctx, "Alice") })

	// The epoch ends: both phones advertise their new EIDs; the till
	// selects Alice again, and then Alice's selection reaches the cloud.
	endEpoch()
	bcancel := broadcast(ctx, t, &wg, radio, alice, till)
	defer bcancel()
	select {
	case <-reselected:
	case <-wctx.Done():
		t.Fatalf("the till did not select Alice again: %v\n%s", wctx.Err(), w.out.String())
	}
	close(release)
	<-selected
	require.NoError(t, aerr0)
	require.Equal(t, first.SessionID, ac0.SessionID, "Alice's selection pairs the session the till left")

	ac, aerr := alice.awaitPaired(wctx, "Corner Grocer")
	bcancel()
	wg.Wait()
	require.NoError(t, aerr, w.out.String())
	require.NoError(t, terr, w.out.String())
	assert.NotEqual(t, first.SessionID, tc.SessionID, "the till's new session")
	assert.Equal(t, tc.SessionID, ac.SessionID, w.out.String())
	assert.Contains(t, w.out.String(), "[shopper] Corner Grocer selected this phone again after the EIDs changed: selecting it again\n")
}
