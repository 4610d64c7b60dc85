package demo

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// advertAt returns the advert of st at the time at, parsed.
func advertAt(t *testing.T, st *Station, at time.Time) adv.Packet {
	t.Helper()
	b, err := st.Advert(at)
	require.NoError(t, err)
	p, err := adv.Parse(b)
	require.NoError(t, err)
	return p
}

// TestChooseNewestEID: a phone that heard the till under its EIDs of two
// epochs, that of the epoch before first, nearer, and heard last, shows
// both entries under the till's name, and the tap on that name chooses
// the entry of the EID first heard last, the till's EID now, second in
// the list, and says so. The phones' clock and the cloud's stand still
// together, so that the cloud resolves the EID of the epoch before
// (it resolves those of its own epoch and the epochs next to it).
func TestChooseNewestEID(t *testing.T) {
	ctx := t.Context()
	stopWallClock(t)
	w := newPhonesAt(ctx, t, WallClock, nil, nil)
	require.NoError(t, w.alice.Login(ctx))
	now := WallClock()
	before, current := advertAt(t, w.till.Station, adv.EpochStart(adv.Epoch(now)-1)), advertAt(t, w.till.Station, now)
	q := w.alice.Scanner.Queue
	require.NoError(t, q.Observe(before, -50, now.Add(-2*time.Second)))
	require.NoError(t, q.Observe(current, -70, now.Add(-time.Second)))
	require.NoError(t, q.Observe(before, -50, now))
	entries, err := w.alice.ServiceQueue(ctx)
	require.NoError(t, err)
	require.Len(t, entries, 2, w.out.String())
	require.Equal(t, before.EID, entries[0].EID, "the nearer first")
	require.Equal(t, "Corner Grocer", entries[0].Name)
	require.Equal(t, "Corner Grocer", entries[1].Name)

	w.out.Reset()
	e, err := w.alice.Choose(entries, "Corner Grocer")
	require.NoError(t, err)
	assert.Equal(t, current.EID, e.EID)
	assert.Equal(t, "[shopper] Alice taps 2. Corner Grocer\n", w.out.String())
}

// unresolvedAPI answers the resolution of the EIDs heard with
// payflow.ErrUnavailable, as a cloud that does not answer.
type unresolvedAPI struct{ payflow.API }

func (unresolvedAPI) Resolve(context.Context, string, *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	return nil, payflow.ErrUnavailable
}

// TestServiceQueueUnresolved: a phone that heard the till but whose
// resolution of the EIDs the cloud does not answer shows no service queue
// and fails with the cloud's error.
func TestServiceQueueUnresolved(t *testing.T) {
	ctx := t.Context()
	w := newPhones(ctx, t, func(api payflow.API) payflow.API { return unresolvedAPI{api} }, nil)
	require.NoError(t, w.alice.Login(ctx))
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{w.till.Station}, []*Listener{w.alice.Scanner}, WallClock()))
	w.out.Reset()
	entries, err := w.alice.ServiceQueue(ctx)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.Nil(t, entries)
	assert.Empty(t, w.out.String())
}

// TestEIDsChanged: a till waiting for Alice's confirmation tells that the
// EIDs changed once its own epoch is no longer the one it started waiting
// in, whatever it selected, or once the newest of Alice's EIDs that it
// heard is not the one selected; not while it selected nothing, nor for a
// pick that it did not hear, nor while the cloud does not answer the
// resolution of the EIDs heard. The phones' clock stands still, so that
// their epoch is the one the test tells, and their service queues keep
// what they heard however long the logins took.
func TestEIDsChanged(t *testing.T) {
	ctx := t.Context()
	stopWallClock(t)
	w := newPhones(ctx, t, nil, nil)
	down, err := NewPhone(Grocery.Party("till"), w.cards["till"], unresolvedAPI{w.cloud.Platform}, NewPrinter(&w.out).Screen("seller"), w.cloud.Authority.Root.DER())
	require.NoError(t, err)
	now := WallClock()
	epoch := adv.Epoch(now)
	// hear has ph hear Alice's advert of the epoch of at, at seen, and
	// returns its EID.
	hear := func(ph *Phone, at, seen time.Time) adv.EID {
		t.Helper()
		p := advertAt(t, w.alice.Station, at)
		require.NoError(t, ph.Scanner.Queue.Observe(p, -60, seen))
		return p.EID
	}
	for _, ph := range []*Phone{w.till, down} {
		require.NoError(t, ph.Login(ctx))
		hear(ph, now, now.Add(-time.Second))
	}
	till := w.till
	assert.False(t, till.eidsChanged(ctx, "Alice", epoch), "nothing selected")
	assert.True(t, till.eidsChanged(ctx, "Alice", epoch-1), "the epoch waited in ended, nothing selected")

	for _, ph := range []*Phone{w.till, down} {
		_, err := ph.Scanner.Queue.Select(hear(ph, now, now.Add(-time.Second)))
		require.NoError(t, err)
	}
	assert.False(t, till.eidsChanged(ctx, "Alice", epoch), "Alice's newest EID selected")
	assert.True(t, till.eidsChanged(ctx, "Alice", epoch-1), "the epoch waited in ended")
	assert.False(t, till.eidsChanged(ctx, "Bob", epoch), "Bob not heard")
	assert.False(t, down.eidsChanged(ctx, "Alice", epoch), "the EIDs heard not resolved")

	hear(till, adv.EpochStart(epoch+1), now) // Alice's EID of the next epoch, first heard last
	assert.True(t, till.eidsChanged(ctx, "Alice", epoch), "Alice heard under a newer EID")
}

// TestMovedOn: a phone that selected the other phone (pick) before the
// EID epoch ended tells that pick moved on once pick selected it under
// the EIDs of the new epoch, and returns pick's entry of the new EID to
// select again; not while the EIDs it selected are the newest, nor
// while pick has not selected it under the new ones. Both the till and
// Alice's phone tell it, each naming the session of the two EIDs with
// the shopper's first.
func TestMovedOn(t *testing.T) {
	for _, role := range []string{"seller", "shopper"} {
		t.Run(role, func(t *testing.T) {
			ctx := t.Context()
			endEpoch := standStill(t).EndEpoch
			w := newPhones(ctx, t, nil, nil)
			ph, other, pick, otherPick := w.till, w.alice, "Alice", "Corner Grocer"
			if role == "shopper" {
				ph, other, pick, otherPick = other, ph, otherPick, pick
			}
			for _, p := range []*Phone{ph, other} {
				require.NoError(t, p.Login(ctx))
			}
			radio := NewRadio(1, 0)
			require.NoError(t, radio.Broadcast([]*Station{other.Station}, []*Listener{ph.Scanner}, WallClock()))
			first := selectPeer(ctx, t, ph, pick)
			_, moved := ph.movedOn(ctx, first, pick)
			assert.False(t, moved, "the EIDs selected are the newest")

			endEpoch()
			require.NoError(t, radio.Broadcast([]*Station{ph.Station, other.Station}, []*Listener{ph.Scanner, other.Scanner}, WallClock()))
			_, moved = ph.movedOn(ctx, first, pick)
			assert.False(t, moved, "pick selected nothing under the new EIDs")

			selectPeer(ctx, t, other, otherPick)
			e, moved := ph.movedOn(ctx, first, pick)
			assert.True(t, moved, "pick selected this phone under the new EIDs")
			newest, err := other.EID(WallClock())
			require.NoError(t, err)
			assert.Equal(t, newest, e.EID)
			assert.Equal(t, pick, e.Name)
		})
	}
}
