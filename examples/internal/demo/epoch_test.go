package demo

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/queue"
)

// Phones that select each other on either side of the end of an EID
// epoch each open a session of their own (PROTOCOL.md §6.1): the till
// selects Alice's EID of the epoch ending, Alice the till's EID of the
// next epoch. The till, waiting, selects Alice again once the EIDs
// changed, and both phones pair in Alice's session.
func TestPairingAcrossEIDRotation(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	endEpoch := standStill(t).EndEpoch

	w := newPhones(ctx, t, nil, nil)
	alice, till := w.alice, w.till
	radio := NewRadio(1, 0)

	// Before the epoch ends, the till hears Alice and selects her.
	require.NoError(t, radio.Broadcast([]*Station{alice.Station}, []*Listener{till.Scanner}, WallClock()))
	first := selectPeer(ctx, t, till, "Alice")

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	var wg sync.WaitGroup
	var tc, ac *payflow.Confirmation
	var terr, aerr error
	wg.Go(func() { tc, terr = till.awaitPaired(wctx, "Alice", first) })

	// The epoch ends: both phones advertise their new EIDs, and Alice
	// selects the till's new one.
	endEpoch()
	hear(t, radio, alice, till)
	second := selectPeer(ctx, t, alice, "Corner Grocer")
	require.NotEqual(t, first.SessionID, second.SessionID, "a session on either side of the epoch's end")

	ac, aerr = alice.awaitPaired(wctx, "Corner Grocer", second)
	wg.Wait()
	require.NoError(t, aerr, w.out.String())
	require.NoError(t, terr, w.out.String())
	assert.Equal(t, second.SessionID, tc.SessionID, "the till paired in Alice's session")
	assert.Equal(t, second.SessionID, ac.SessionID)
	assert.Equal(t, second.PairingCode, tc.PairingCode)
	assert.Contains(t, w.out.String(), "[seller]  No confirmation from Alice yet: selecting again after the EIDs changed\n")
	assert.Contains(t, w.out.String(), "[seller]  Confirmation: Alice, pairing code "+second.PairingCode+" (the other screen must show the same)\n", "the till shows the new pairing code")
}

// stillClock is a clock that stands still where the test sets it, about
// base (Set, EndEpoch).
type stillClock struct {
	base time.Time
	at   atomic.Int64 // UnixNano
}

// Now reads c.
func (c *stillClock) Now() time.Time { return time.Unix(0, c.at.Load()) }

// Set has c stand still d after its base (before it, for a negative d).
func (c *stillClock) Set(d time.Duration) { c.at.Store(c.base.Add(d).UnixNano()) }

// EndEpoch has a clock of standStill stand still just after the epoch's
// end, its base, at the start of the next: the cloud takes the EIDs of
// the epoch after its own.
func (c *stillClock) EndEpoch() { c.Set(0) }

// useStillClock sets the phones' clock (WallClock) to stand still at
// base until the test ends, and returns it: the test moves it on (Set),
// and may give it to the cloud too (Now).
func useStillClock(t *testing.T, base time.Time) *stillClock {
	t.Helper()
	c := &stillClock{base: base}
	c.Set(0)
	old := WallClock
	WallClock = c.Now
	t.Cleanup(func() { WallClock = old })
	return c
}

// standStill sets the phones' clock (WallClock) to stand still just
// before the end of the epoch of the cloud's clock, its base, until the
// test ends, and returns it: the test moves it on (EndEpoch, Set), and
// may give it to the cloud too (Now).
func standStill(t *testing.T) *stillClock {
	t.Helper()
	c := useStillClock(t, adv.EpochStart(adv.Epoch(time.Now())+1))
	c.Set(-time.Millisecond)
	return c
}

// hear has the phones hear each other's adverts of now (WallClock),
// which stands still (standStill): once, as the queues keep them.
func hear(t *testing.T, radio *Radio, phones ...*Phone) {
	t.Helper()
	var stations []*Station
	var listeners []*Listener
	for _, ph := range phones {
		stations, listeners = append(stations, ph.Station), append(listeners, ph.Scanner)
	}
	require.NoError(t, radio.Broadcast(stations, listeners, WallClock()))
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

// hookAPI calls the hooks set: beforePair before a Pair call and
// afterPair once it returned, with the number of the call, resolve
// before a Resolve call, with its context and request, and beforeRead
// before a Session call. A Pair call for which failPair
// returns an error fails with it, sent nowhere.
type hookAPI struct {
	payflow.API
	beforePair, afterPair func(n int32)
	failPair              func(n int32) error
	resolve               func(ctx context.Context, req *payflow.ResolveRequest)
	beforeRead            func()
	pairs                 atomic.Int32
	// sessions, held for reading by every Session call under way, is
	// held for writing to close the gate (heldRead).
	sessions sync.RWMutex
	// heldRead, once set (with sessions held for writing, so that no
	// Session call read before it is under way) to the context of the
	// till's wait (holdNextRead), holds the next Session call until its
	// own context (then its error) or that one ends, and is cleared by
	// it: a read of the wait fails as the wait ends, and one made after
	// the wait ended goes on at once.
	heldRead atomic.Pointer[context.Context]
}

func (a *hookAPI) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	if a.beforeRead != nil {
		a.beforeRead()
	}
	if held := a.heldRead.Swap(nil); held != nil {
		select {
		case <-ctx.Done():
		case <-(*held).Done():
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	a.sessions.RLock()
	defer a.sessions.RUnlock()
	return a.API.Session(ctx, token, id)
}

// holdNextRead has the next Session call held (heldRead) while wait,
// the context of the till's wait, lasts, once every Session call under
// way has ended.
func (a *hookAPI) holdNextRead(wait context.Context) {
	a.sessions.Lock()
	a.heldRead.Store(&wait)
	a.sessions.Unlock()
}

func (a *hookAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	n := a.pairs.Add(1)
	if a.beforePair != nil {
		a.beforePair(n)
	}
	if a.failPair != nil {
		if err := a.failPair(n); err != nil {
			return nil, err
		}
	}
	s, err := a.API.Pair(ctx, req)
	if a.afterPair != nil {
		a.afterPair(n)
	}
	return s, err
}

func (a *hookAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	if a.resolve != nil {
		a.resolve(ctx, req)
	}
	return a.API.Resolve(ctx, token, req)
}

// crossing is Alice's phone and the till, logged in, which heard each
// other before the end of the EID epoch of their clock (standStill):
// the till selected Alice (first), and Alice's selection of the till,
// signed, is held on its way to the cloud until release.
type crossing struct {
	*pairedPhones
	tillAPI  *hookAPI
	radio    *Radio
	endEpoch func()
	first    *payflow.Confirmation
	signed   chan struct{} // closed once Alice's selection is held
	held     chan struct{} // closed to let it go on
	selected chan struct{} // closed once it returned
	ac       *payflow.Confirmation
	aerr     error
}

// newCrossing returns the crossing, the till talking to the cloud
// through tillAPI, whose API it sets.
func newCrossing(ctx context.Context, t *testing.T, tillAPI *hookAPI) *crossing {
	x := &crossing{tillAPI: tillAPI, endEpoch: standStill(t).EndEpoch, radio: NewRadio(1, 0), signed: make(chan struct{}), held: make(chan struct{}), selected: make(chan struct{})}
	x.pairedPhones = newPhones(ctx, t, func(p payflow.API) payflow.API {
		return &hookAPI{API: p, beforePair: func(n int32) {
			if n == 1 { // Alice's first selection, signed: held
				close(x.signed)
				<-x.held
			}
		}}
	}, func(p payflow.API) payflow.API {
		tillAPI.API = p
		return tillAPI
	})
	for _, ph := range []*Phone{x.alice, x.till} {
		require.NoError(t, ph.Login(ctx))
	}
	require.NoError(t, x.radio.Broadcast([]*Station{x.alice.Station, x.till.Station}, []*Listener{x.alice.Scanner, x.till.Scanner}, WallClock()))
	x.first = selectPeer(ctx, t, x.till, "Alice")
	entries, err := x.alice.ServiceQueue(ctx)
	require.NoError(t, err)
	grocer, err := x.alice.Choose(entries, "Corner Grocer")
	require.NoError(t, err)
	go func() {
		defer close(x.selected)
		x.ac, x.aerr = x.alice.Confirm(ctx, grocer)
	}()
	<-x.signed
	return x
}

// release lets Alice's selection reach the cloud and returns its
// confirmation.
func (x *crossing) release(t *testing.T) *payflow.Confirmation {
	close(x.held)
	<-x.selected
	require.NoError(t, x.aerr)
	return x.ac
}

// tillWaits has the till wait for Alice (awaitPaired) in the session it
// selected, within wctx, which ends with ctx or the test, and, once the wait
// read the session (under the epoch before), ends the epoch and has both
// phones hear each other's new adverts. It returns wctx and wait, which
// waits for the till's wait to end and returns the till's outcome.
func (x *crossing) tillWaits(ctx context.Context, t *testing.T) (wctx context.Context, wait func() (*payflow.Confirmation, error)) {
	wctx, cancel := context.WithCancel(ctx)
	var tc *payflow.Confirmation
	var terr error
	read, done := make(chan struct{}), make(chan struct{})
	var once sync.Once
	x.tillAPI.beforeRead = func() { once.Do(func() { close(read) }) }
	go func() {
		defer close(done)
		tc, terr = x.till.awaitPaired(wctx, "Alice", x.first)
	}()
	select {
	case <-read:
	case <-done:
		cancel()
		t.Fatalf("the till's wait ended before it read the session: %v\n%s", terr, x.out.String())
	}
	x.endEpoch()
	hear(t, x.radio, x.alice, x.till)
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return wctx, func() (*payflow.Confirmation, error) {
		<-done
		return tc, terr
	}
}

// awaitReselection returns once c is closed, as the till selects Alice
// again, and fails t when wctx, the till's wait (tillWaits), ends first.
func (x *crossing) awaitReselection(t *testing.T, wctx context.Context, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-wctx.Done():
		t.Fatalf("the till did not select Alice again: %v\n%s", wctx.Err(), x.out.String())
	}
}

// TestPairingCrossesReselection: Alice's selection of the till, signed
// before the end of the EID epoch, reaches the cloud only after the till,
// waiting, selected Alice again after the EIDs changed: it pairs the
// session that the till left. Alice, paired there, finds the till's
// selection of her new EID, selects the till again, and both phones pair
// in the till's new session.
func TestPairingCrossesReselection(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	reselected := make(chan struct{})
	x := newCrossing(ctx, t, &hookAPI{afterPair: func(n int32) {
		if n == 2 { // the till's selection after the EIDs changed
			close(reselected)
		}
	}})

	// The epoch ends: both phones advertise their new EIDs; the till
	// selects Alice again, and then Alice's selection reaches the cloud.
	wctx, wait := x.tillWaits(ctx, t)
	x.awaitReselection(t, wctx, reselected)
	ac0 := x.release(t)
	require.Equal(t, x.first.SessionID, ac0.SessionID, "Alice's selection pairs the session the till left")

	ac, aerr := x.alice.awaitPaired(wctx, "Corner Grocer", ac0)
	tc, terr := wait()
	require.NoError(t, aerr, x.out.String())
	require.NoError(t, terr, x.out.String())
	assert.NotEqual(t, x.first.SessionID, tc.SessionID, "the till's new session")
	assert.Equal(t, tc.SessionID, ac.SessionID, x.out.String())
	assert.Contains(t, x.out.String(), "[shopper] Corner Grocer selected this phone again after the EIDs changed: selecting it again\n")
}

// TestPairingDuringReselection: Alice's selection of the till, signed
// before the end of the EID epoch, reaches the cloud as the till, waiting,
// asks for Alice's new EID (Resolve) once the EIDs changed, before it
// selected her again, and Alice, paired, goes on. The till, finding its
// session paired, says so and selects no other: both phones pair in that
// session.
func TestPairingDuringReselection(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	var armed atomic.Bool
	var aliceNew adv.EID // set before armed
	var x *crossing
	var ac *payflow.Confirmation
	var aerr error
	x = newCrossing(ctx, t, &hookAPI{resolve: func(_ context.Context, req *payflow.ResolveRequest) {
		// The till, its wait ended by the EIDs' change, looks for Alice
		// again and asks for her new EID.
		if armed.Load() && bytes.Equal(req.EID, aliceNew[:]) && armed.CompareAndSwap(true, false) {
			ac, aerr = x.alice.awaitPaired(ctx, "Corner Grocer", x.release(t))
		}
	}})
	var err error
	aliceNew, err = x.alice.EID(WallClock().Add(time.Millisecond)) // of the next epoch
	require.NoError(t, err)
	armed.Store(true)

	// The epoch ends: both phones advertise their new EIDs.
	_, wait := x.tillWaits(ctx, t)
	tc, terr := wait()
	require.False(t, armed.Load(), "the till asked for Alice's new EID")
	require.NoError(t, aerr, x.out.String())
	require.NoError(t, terr, x.out.String())
	assert.Equal(t, x.first.SessionID, ac.SessionID, x.out.String())
	assert.Equal(t, x.first.SessionID, tc.SessionID, x.out.String())
	assert.Contains(t, x.out.String(), "[seller]  Alice confirmed session "+Short(x.first.SessionID)+" meanwhile: waiting on in it\n")
	assert.Equal(t, int32(1), x.tillAPI.pairs.Load(), "the till selected Alice once")
}

// TestReselectionUnheardWaitsOn: the till, waiting for Alice's
// confirmation, selects her again once the EIDs changed, and that
// selection fails as Alice went unheard as it tapped her
// (queue.ErrUnknownPeer). The till waits on in the session it selected
// before, which Alice's selection, signed before the EIDs changed, then
// pairs: both phones pair there.
func TestReselectionUnheardWaitsOn(t *testing.T) {
	ctx := t.Context()
	failed := make(chan struct{})
	x := newCrossing(ctx, t, &hookAPI{failPair: func(n int32) error {
		if n != 2 { // the till's selection after the EIDs changed
			return nil
		}
		close(failed)
		return fmt.Errorf("payflow: selecting Alice: %w", queue.ErrUnknownPeer)
	}})
	wctx, wait := x.tillWaits(ctx, t)
	x.awaitReselection(t, wctx, failed)
	ac := x.release(t)
	require.Equal(t, x.first.SessionID, ac.SessionID, "Alice's selection pairs the session the till selected first")
	tc, terr := wait()
	require.NoError(t, terr, x.out.String())
	assert.Equal(t, x.first.SessionID, tc.SessionID, x.out.String())
	assert.Equal(t, int32(2), x.tillAPI.pairs.Load(), "the till selected Alice again once")
}

// TestPairedMeanwhileAfterReselection: the till, waiting for Alice's
// confirmation, selected her again once the epoch ended (its second
// session), and then hears her under the EID of the epoch after. As it
// asks for that EID, Alice confirms the second session, just after the
// till's last read of it. The till, looking whether the session it
// selected last was paired meanwhile, finds it paired, says so and
// selects no other: both phones pair in it. The phones' clock and the
// cloud's stand still but for the steps.
func TestPairedMeanwhileAfterReselection(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	clock := standStill(t) // the cloud's too

	reselected, again := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	var next adv.EID // set before armed
	var w *pairedPhones
	var tillAPI *hookAPI
	var ac *payflow.Confirmation
	var aerr error
	w = newPhonesAt(ctx, t, clock.Now, nil, func(p payflow.API) payflow.API {
		tillAPI = &hookAPI{API: p, afterPair: func(n int32) {
			switch n {
			case 2: // the till's selection after the epoch ended
				close(reselected)
			case 3:
				close(again)
			}
		}, resolve: func(wait context.Context, req *payflow.ResolveRequest) {
			if armed.Load() && bytes.Equal(req.EID, next[:]) && armed.CompareAndSwap(true, false) {
				tillAPI.holdNextRead(wait)
				var entries []payflow.QueueEntry
				if entries, aerr = w.alice.ServiceQueue(ctx); aerr == nil {
					var e payflow.QueueEntry
					if e, aerr = w.alice.Choose(entries, "Corner Grocer"); aerr == nil {
						ac, aerr = w.alice.Confirm(ctx, e)
					}
				}
			}
		}}
		return tillAPI
	})
	for _, ph := range []*Phone{w.alice, w.till} {
		require.NoError(t, ph.Login(ctx))
	}
	radio := NewRadio(1, 0)
	require.NoError(t, radio.Broadcast([]*Station{w.alice.Station}, []*Listener{w.till.Scanner}, WallClock()))
	first := selectPeer(ctx, t, w.till, "Alice")
	done := make(chan struct{})
	var tc *payflow.Confirmation
	var terr error
	go func() {
		defer close(done)
		tc, terr = w.till.awaitPaired(ctx, "Alice", first)
	}()
	t.Cleanup(func() { <-done }) // after cancel

	clock.EndEpoch() // the epoch ends: both phones hear each other's new adverts
	require.NoError(t, radio.Broadcast([]*Station{w.alice.Station, w.till.Station}, []*Listener{w.alice.Scanner, w.till.Scanner}, WallClock()))
	select {
	case <-reselected:
	case <-done:
		t.Fatalf("the till ended before it selected Alice again: %v\n%s", terr, w.out.String())
	}
	// The till hears Alice under the EID of the epoch after, first heard
	// last: its newest.
	clock.Set(time.Millisecond)
	p := advertAt(t, w.alice.Station, adv.EpochStart(adv.Epoch(clock.base)+1))
	next = p.EID
	armed.Store(true)
	require.NoError(t, w.till.Scanner.Queue.Observe(p, -60, WallClock()))
	select {
	case <-done:
	case <-again:
		t.Fatalf("the till selected Alice a third time:\n%s", w.out.String())
	}
	require.False(t, armed.Load(), "the till asked for Alice's EID of the epoch after")
	require.NoError(t, aerr, w.out.String())
	require.NoError(t, terr, w.out.String())
	assert.Equal(t, ac.SessionID, tc.SessionID, w.out.String())
	assert.NotEqual(t, first.SessionID, tc.SessionID)
	assert.Contains(t, w.out.String(), "[seller]  Alice confirmed session "+Short(ac.SessionID)+" meanwhile: waiting on in it\n")
}
