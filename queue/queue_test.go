package queue

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func eid(i int) adv.EID {
	var e adv.EID
	binary.BigEndian.PutUint64(e[8:], uint64(i))
	e[0] = 0xe1
	return e
}

func seller(i int) adv.Packet { return adv.Packet{Role: adv.Seller, EID: eid(i), TxPower: -8} }

func newQueue(t testing.TB, c *clock, opts Options) *Queue {
	t.Helper()
	opts.Now = c.Now
	q, err := New(adv.Shopper, opts)
	require.NoError(t, err)
	return q
}

func eids(ps []Peer) []adv.EID {
	out := make([]adv.EID, len(ps))
	for i, p := range ps {
		out[i] = p.Packet.EID
	}
	return out
}

func drain(q *Queue) bool {
	select {
	case <-q.Changes():
		return true
	default:
		return false
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		role adv.Role
		opts Options
		want error
	}{
		{"defaults", adv.Shopper, Options{}, nil},
		{"seller", adv.Seller, Options{}, nil},
		{"no role", 0, Options{}, ErrRole},
		{"role 3", 3, Options{}, ErrRole},
		{"no role and a negative ttl", 0, Options{TTL: -time.Second}, ErrRole},
		{"negative ttl", adv.Seller, Options{TTL: -time.Second}, ErrOptions},
		{"negative capacity", adv.Seller, Options{Capacity: -1}, ErrOptions},
		{"capacity above the maximum", adv.Seller, Options{Capacity: MaxCapacity + 1}, ErrOptions},
		{"capacity of every int", adv.Seller, Options{Capacity: math.MaxInt}, ErrOptions},
		{"maximum capacity", adv.Seller, Options{Capacity: MaxCapacity}, nil},
		{"alpha above one", adv.Seller, Options{Alpha: 1.5}, ErrOptions},
		{"negative alpha", adv.Seller, Options{Alpha: -0.1}, ErrOptions},
		{"nan alpha", adv.Seller, Options{Alpha: math.NaN()}, ErrOptions},
		{"nan hysteresis", adv.Seller, Options{Hysteresis: math.NaN()}, ErrOptions},
		{"infinite hysteresis", adv.Seller, Options{Hysteresis: math.Inf(1)}, ErrOptions},
		{"no hysteresis", adv.Seller, Options{Hysteresis: -1}, nil},
		{"no hysteresis, minus infinity", adv.Seller, Options{Hysteresis: math.Inf(-1)}, nil},
		{"ttl above the maximum", adv.Seller, Options{TTL: MaxTTL + time.Nanosecond}, ErrOptions},
		{"ttl of every duration", adv.Seller, Options{TTL: math.MaxInt64}, ErrOptions},
		{"maximum ttl", adv.Seller, Options{TTL: MaxTTL}, nil},
		{"alpha one", adv.Seller, Options{Alpha: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := New(tt.role, tt.opts)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				assert.Nil(t, q)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, q.Changes())
			first := q.Changes()
			assert.True(t, first == q.Changes(), "the same channel every time")
			assert.Equal(t, tt.role, q.Role())
		})
	}
}

// TestDefaultClock: with a nil Options.Now the queue reads time.Now: a
// report with the zero time is last seen at a time between the readings of
// time.Now before and after Observe.
func TestDefaultClock(t *testing.T) {
	q, err := New(adv.Shopper, Options{})
	require.NoError(t, err)
	before := time.Now()
	require.NoError(t, q.Observe(seller(1), -60, time.Time{}))
	after := time.Now()
	s := q.Snapshot()
	require.Len(t, s, 1)
	assert.False(t, s[0].LastSeen.Before(before), "last seen %v, before %v", s[0].LastSeen, before)
	assert.False(t, s[0].LastSeen.After(after), "last seen %v, after %v", s[0].LastSeen, after)
}

// TestNotMade: a Queue that New did not make, the zero Queue or a nil
// *Queue, refuses reports and selections with ErrNotMade, holds no peer,
// and its Changes is closed, so that a UI loop over it ends at once; no
// method panics.
func TestNotMade(t *testing.T) {
	for _, tt := range []struct {
		name string
		q    *Queue
	}{
		{"zero", new(Queue)},
		{"nil", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			assert.Equal(t, adv.Role(0), q.Role(), "no role")
			assert.ErrorIs(t, q.Observe(seller(1), -50, time.Now()), ErrNotMade)
			p, err := q.Select(eid(1))
			assert.ErrorIs(t, err, ErrNotMade)
			assert.Equal(t, Peer{}, p)
			p, ok := q.Selected()
			assert.False(t, ok)
			assert.Equal(t, Peer{}, p)
			q.Deselect()
			assert.Equal(t, 0, q.Prune())
			assert.Empty(t, q.Snapshot())
			dst := []Peer{{Reports: 7}}
			assert.Equal(t, dst, q.AppendSnapshot(dst), "dst as it was")
			ch := q.Changes()
			require.NotNil(t, ch)
			_, open := <-ch
			assert.False(t, open, "Changes is closed")
		})
	}
}

func TestObserveRejects(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	now := c.Now()
	tests := []struct {
		name string
		p    adv.Packet
		rssi int
		want error
	}{
		{"own role", adv.Packet{Role: adv.Shopper, EID: eid(1)}, -50, ErrSameRole},
		{"no role", adv.Packet{EID: eid(1)}, -50, ErrRole},
		{"role 9", adv.Packet{Role: 9, EID: eid(1)}, -50, ErrRole},
		{"rssi unavailable", seller(1), 127, ErrRSSI},
		{"rssi too high", seller(1), MaxRSSI + 1, ErrRSSI},
		{"rssi too low", seller(1), MinRSSI - 1, ErrRSSI},
		{"weakest accepted", seller(1), MinRSSI, nil},
		{"strongest accepted", seller(2), MaxRSSI, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := q.Observe(tt.p, tt.rssi, now)
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
	assert.Equal(t, []adv.EID{eid(2), eid(1)}, eids(q.Snapshot()))
}

func TestSmoothingAndDeduplication(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	t0 := c.Now()
	require.NoError(t, q.Observe(seller(1), -60, t0))
	require.NoError(t, q.Observe(seller(1), -40, c.Add(time.Second)))
	require.NoError(t, q.Observe(seller(1), -40, c.Add(time.Second)))
	// A late report (older than the latest) still counts, but does not
	// move LastSeen back.
	require.NoError(t, q.Observe(seller(1), -40, t0.Add(time.Second/2)))

	s := q.Snapshot()
	require.Len(t, s, 1)
	p := s[0]
	// −60 → −55 → −51.25 → −48.4375 with α = 0.25.
	assert.Equal(t, -48.4375, p.RSSI)
	assert.Equal(t, -40, p.LastRSSI)
	// Level follows RSSI only out of the 4 dB band: −60 → −55 (5 dB away),
	// stays at −55 for −51.25 (3.75 dB), then → −48.4375 (6.56 dB).
	assert.Equal(t, -48.4375, p.Level)
	assert.Equal(t, 4, p.Reports)
	assert.Equal(t, t0, p.FirstSeen)
	assert.Equal(t, t0.Add(2*time.Second), p.LastSeen)
	assert.Equal(t, seller(1), p.Packet)
	assert.False(t, p.Selected)
}

// TestLateReports: reports that arrive out of the order of their times
// leave a peer's FirstSeen at the earliest time and its LastSeen, LastRSSI
// and Packet at those of the report with the latest time, while each
// counts in the filtered RSSI as it arrives.
func TestLateReports(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{Hysteresis: 50})
	t0 := c.Now()
	c.Add(5 * time.Second)
	busy := seller(1)
	busy.Flags = adv.FlagBusy
	louder := seller(1)
	louder.TxPower = -4

	require.NoError(t, q.Observe(seller(1), -50, t0.Add(3*time.Second)))
	require.True(t, drain(q))
	require.NoError(t, q.Observe(busy, -70, t0.Add(time.Second))) // before FirstSeen
	require.NoError(t, q.Observe(seller(1), -40, t0.Add(4*time.Second)))
	require.NoError(t, q.Observe(louder, -80, t0.Add(2*time.Second))) // between
	assert.False(t, drain(q), "the late adverts are not shown: nothing to notify")

	// −50 → −55 → −51.25 → −58.4375 with α = 0.25, in arrival order.
	assert.Equal(t, []Peer{{Packet: seller(1), RSSI: -58.4375, LastRSSI: -40, Level: -50,
		FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(4 * time.Second), Reports: 4}}, q.Snapshot())

	// Of reports with the same time, the one received last counts.
	require.NoError(t, q.Observe(busy, -60, t0.Add(4*time.Second)))
	assert.True(t, drain(q), "the busy flag is shown")
	assert.Equal(t, []Peer{{Packet: busy, RSSI: -58.828125, LastRSSI: -60, Level: -50,
		FirstSeen: t0.Add(time.Second), LastSeen: t0.Add(4 * time.Second), Reports: 5}}, q.Snapshot())

	// A report more than the TTL before FirstSeen does not move it: in
	// time order, it was of a sighting that had expired.
	require.NoError(t, q.Observe(seller(1), -60, t0.Add(-DefaultTTL-time.Nanosecond)))
	require.NoError(t, q.Observe(seller(1), -60, t0.Add(-DefaultTTL+time.Second)))
	assert.Equal(t, []Peer{{Packet: busy, RSSI: -59.3408203125, LastRSSI: -60, Level: -50,
		FirstSeen: t0.Add(-DefaultTTL + time.Second), LastSeen: t0.Add(4 * time.Second), Reports: 7}}, q.Snapshot())
}

func TestZeroTimeMeansNow(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	require.NoError(t, q.Observe(seller(1), -50, time.Time{}))
	s := q.Snapshot()
	require.Len(t, s, 1)
	assert.Equal(t, c.Now(), s[0].LastSeen)
}

func TestOrdering(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	t0 := c.Now()
	require.NoError(t, q.Observe(seller(1), -80, t0))
	require.NoError(t, q.Observe(seller(2), -40, t0))
	require.NoError(t, q.Observe(seller(3), -60, t0))
	// Equal strength: the peer taken in first comes first, whatever the
	// report times and the EIDs.
	require.NoError(t, q.Observe(seller(5), -60, t0.Add(time.Millisecond)))
	require.NoError(t, q.Observe(seller(4), -60, t0.Add(time.Millisecond)))
	require.NoError(t, q.Observe(seller(6), -60, t0.Add(-time.Second)))
	c.Add(time.Second)
	assert.Equal(t, []adv.EID{eid(2), eid(3), eid(5), eid(4), eid(6), eid(1)}, eids(q.Snapshot()))
}

// TestHysteresis reports two peers of similar strength with noise, and counts
// how often the first place changes hands.
func TestHysteresis(t *testing.T) {
	swaps := func(t *testing.T, opts Options) int {
		c := newClock()
		q := newQueue(t, c, opts)
		rng := rand.New(rand.NewPCG(7, 7))
		at := c.Now()
		require.NoError(t, q.Observe(seller(1), -60, at))
		require.NoError(t, q.Observe(seller(2), -61, at))
		n, first := 0, eid(1)
		for range 500 {
			at = c.Add(50 * time.Millisecond)
			require.NoError(t, q.Observe(seller(1), -60+rng.IntN(7)-3, at))
			require.NoError(t, q.Observe(seller(2), -61+rng.IntN(7)-3, at))
			s := q.Snapshot()
			require.Len(t, s, 2)
			if s[0].Packet.EID != first {
				n++
				first = s[0].Packet.EID
			}
		}
		return n
	}
	t.Run("default dead band holds the order", func(t *testing.T) {
		assert.Zero(t, swaps(t, Options{}))
	})
	t.Run("without hysteresis the order jumps", func(t *testing.T) {
		assert.Greater(t, swaps(t, Options{Hysteresis: -1}), 10)
	})
	t.Run("a peer that comes closer overtakes", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{})
		at := c.Now()
		require.NoError(t, q.Observe(seller(1), -60, at))
		require.NoError(t, q.Observe(seller(2), -62, at))
		for range 10 {
			at = c.Add(100 * time.Millisecond)
			require.NoError(t, q.Observe(seller(1), -60, at))
			require.NoError(t, q.Observe(seller(2), -45, at))
		}
		assert.Equal(t, []adv.EID{eid(2), eid(1)}, eids(q.Snapshot()))
	})
}

func TestExpiry(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	t0 := c.Now()
	require.NoError(t, q.Observe(seller(1), -50, t0))
	require.NoError(t, q.Observe(seller(2), -60, c.Add(5*time.Second)))

	c.Add(DefaultTTL - 5*time.Second)
	assert.Equal(t, []adv.EID{eid(1), eid(2)}, eids(q.Snapshot()), "exactly the TTL: still there")

	drain(q)
	c.Add(time.Nanosecond)
	assert.Equal(t, 1, q.Prune())
	assert.True(t, drain(q), "an expiry notifies")
	assert.Equal(t, []adv.EID{eid(2)}, eids(q.Snapshot()))
	assert.Zero(t, q.Prune())
	assert.False(t, drain(q))

	c.Add(5 * time.Second)
	assert.Empty(t, q.Snapshot(), "Snapshot forgets expired peers itself")
	assert.True(t, drain(q), "the snapshot taken after the last notification listed seller 2, which this one forgets")
}

// drawnPair returns a queue holding seller 1 and, heard 5 s later,
// seller 2, whose notification the UI loop took.
func drawnPair(t *testing.T) (*clock, *Queue) {
	t.Helper()
	c := newClock()
	q := newQueue(t, c, Options{})
	require.NoError(t, q.Observe(seller(1), -50, c.Now()))
	c.Add(5 * time.Second)
	require.NoError(t, q.Observe(seller(2), -60, c.Now()))
	require.True(t, drain(q))
	return c, q
}

// TestNotificationsSnapshotSweep: a UI loop that draws a snapshot on each
// notification draws once per change. The snapshot it takes forgets the
// peers that expired, without a notification, for it already leaves them
// out; a Prune afterwards finds nothing to forget.
func TestNotificationsSnapshotSweep(t *testing.T) {
	c, q := drawnPair(t)
	assert.Equal(t, []adv.EID{eid(1), eid(2)}, eids(q.Snapshot()))
	require.False(t, drain(q))

	c.Add(DefaultTTL - 5*time.Second + time.Nanosecond) // seller 1 expired
	require.NoError(t, q.Observe(seller(3), -70, c.Now()))
	require.True(t, drain(q), "a new peer notifies")
	assert.Equal(t, []adv.EID{eid(2), eid(3)}, eids(q.Snapshot()), "the snapshot drawn for it")
	assert.False(t, drain(q), "nothing changed since that snapshot")
	assert.Zero(t, q.Prune())
	assert.False(t, drain(q))

	c.Add(DefaultTTL) // seller 2 expired, seller 3 not
	assert.Equal(t, 1, q.Prune())
	assert.True(t, drain(q), "Prune notifies what it forgets")
}

// TestNotificationsOtherSnapshot: a snapshot taken by other code than the
// UI loop that forgets a peer the UI loop drew notifies, so that the loop
// draws the list without it; one that forgets only peers no snapshot listed
// since the last notification does not, nor does a snapshot that forgets
// nothing.
func TestNotificationsOtherSnapshot(t *testing.T) {
	c, q := drawnPair(t)
	assert.Equal(t, []adv.EID{eid(1), eid(2)}, eids(q.Snapshot()), "the UI loop draws")

	assert.Equal(t, []adv.EID{eid(1), eid(2)}, eids(q.Snapshot()), "other code looks")
	assert.False(t, drain(q), "a snapshot that forgets nothing does not notify")

	c.Add(DefaultTTL - 5*time.Second + time.Nanosecond) // seller 1 expired
	assert.Equal(t, []adv.EID{eid(2)}, eids(q.Snapshot()), "other code looks again")
	assert.True(t, drain(q), "the UI loop drew seller 1: it is told that seller 1 went")
	assert.Equal(t, []adv.EID{eid(2)}, eids(q.Snapshot()), "the UI loop draws")
	assert.False(t, drain(q))

	require.NoError(t, q.Observe(seller(3), -70, c.Now()))
	require.True(t, drain(q), "a new peer notifies")
	c.Add(DefaultTTL + time.Nanosecond) // seller 2 and seller 3 expired, neither listed since
	assert.Empty(t, q.Snapshot())
	assert.False(t, drain(q), "no snapshot listed them since the last notification: the UI loop's draw for it leaves them out")
}

// TestNotificationsPruneUnlisted: a Prune that forgets only peers that no
// snapshot listed since the last notification does not notify: the UI
// loop's snapshot for that notification, taken after the Prune, leaves them
// out, and another value would have it draw the same list again.
func TestNotificationsPruneUnlisted(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	require.NoError(t, q.Observe(seller(1), -50, c.Now()))
	require.True(t, drain(q), "the UI loop receives the new peer's notification")
	c.Add(DefaultTTL + time.Nanosecond)
	assert.Equal(t, 1, q.Prune())
	assert.False(t, drain(q), "no snapshot listed seller 1")
	assert.Empty(t, q.Snapshot(), "the UI loop draws for the notification it received")
	assert.False(t, drain(q))
}

func TestReappearance(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	t0 := c.Now()
	require.NoError(t, q.Observe(seller(1), -90, t0))
	t1 := c.Add(DefaultTTL + time.Second)
	require.NoError(t, q.Observe(seller(1), -40, t1))
	s := q.Snapshot()
	require.Len(t, s, 1)
	assert.Equal(t, t1, s[0].FirstSeen, "a peer back after the TTL is a new sighting")
	assert.Equal(t, -40.0, s[0].RSSI, "its old readings are not averaged in")
	assert.Equal(t, 1, s[0].Reports)
}

func TestSelection(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{Capacity: 3})
	t0 := c.Now()
	require.NoError(t, q.Observe(seller(1), -90, t0))
	require.NoError(t, q.Observe(seller(2), -50, t0))

	_, err := q.Select(eid(9))
	assert.ErrorIs(t, err, ErrUnknownPeer)
	_, ok := q.Selected()
	assert.False(t, ok)

	drain(q)
	p, err := q.Select(eid(1))
	require.NoError(t, err)
	assert.True(t, p.Selected)
	assert.Equal(t, eid(1), p.Packet.EID)
	assert.True(t, drain(q), "a selection notifies")
	sel, ok := q.Selected()
	require.True(t, ok)
	assert.Equal(t, eid(1), sel.Packet.EID)
	p, err = q.Select(eid(1))
	require.NoError(t, err)
	assert.True(t, p.Selected)
	assert.False(t, drain(q), "selecting the selected peer again changes nothing")

	// Full of stronger peers: the weak selected peer stays, the others go.
	require.NoError(t, q.Observe(seller(10), -40, t0))
	require.NoError(t, q.Observe(seller(11), -41, t0)) // evicts peer 2
	for i := 12; i < 20; i++ {
		assert.ErrorIs(t, q.Observe(seller(i), -30-i, t0), ErrFull)
	}
	s := q.Snapshot()
	assert.Equal(t, []adv.EID{eid(10), eid(11), eid(1)}, eids(s))
	assert.True(t, s[2].Selected)

	// Expiry spares it too, until it is deselected.
	c.Add(time.Minute)
	s = q.Snapshot()
	require.Len(t, s, 1)
	assert.Equal(t, eid(1), s[0].Packet.EID)
	assert.Equal(t, t0, s[0].LastSeen)

	drain(q)
	q.Deselect()
	assert.True(t, drain(q))
	assert.Empty(t, q.Snapshot())
	drain(q)
	q.Deselect()
	assert.False(t, drain(q), "deselecting nothing changes nothing")

	// An expired peer cannot be selected.
	require.NoError(t, q.Observe(seller(3), -50, t0))
	_, err = q.Select(eid(3))
	assert.ErrorIs(t, err, ErrUnknownPeer)
}

func TestSelectMoves(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	t0 := c.Now()
	require.NoError(t, q.Observe(seller(1), -50, t0))
	require.NoError(t, q.Observe(seller(2), -60, t0))
	_, err := q.Select(eid(1))
	require.NoError(t, err)
	_, err = q.Select(eid(2))
	require.NoError(t, err)
	s := q.Snapshot()
	require.Len(t, s, 2)
	assert.False(t, s[0].Selected)
	assert.True(t, s[1].Selected)
}

func TestEviction(t *testing.T) {
	t.Run("expired peers go first", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{Capacity: 2})
		t0 := c.Now()
		require.NoError(t, q.Observe(seller(1), -30, t0))
		require.NoError(t, q.Observe(seller(2), -30, t0))
		t1 := c.Add(DefaultTTL + time.Second)
		require.NoError(t, q.Observe(seller(3), -95, t1))
		assert.Equal(t, []adv.EID{eid(3)}, eids(q.Snapshot()))
	})
	t.Run("weakest, then stalest", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{Capacity: 3})
		t0 := c.Now()
		require.NoError(t, q.Observe(seller(1), -50, t0))
		require.NoError(t, q.Observe(seller(2), -70, t0))
		require.NoError(t, q.Observe(seller(3), -70, c.Add(time.Second)))
		require.NoError(t, q.Observe(seller(4), -60, c.Add(time.Second)))
		assert.Equal(t, []adv.EID{eid(1), eid(4), eid(3)}, eids(q.Snapshot()))
	})
	t.Run("ties: whatever the order of arrival", func(t *testing.T) {
		// Peers 1 to 4 are equally weak and last seen at once; peer 4
		// was first seen later than the others, which tie on that too.
		// The peer to go is the one first seen last, then, of those
		// first seen at once, the one with the lowest EID.
		for _, order := range [][]int{{1, 2, 3, 4}, {4, 3, 2, 1}, {2, 4, 1, 3}} {
			c := newClock()
			q := newQueue(t, c, Options{Capacity: 4})
			t0 := c.Now()
			t1 := c.Add(time.Second)
			for _, i := range order {
				if i != 4 {
					require.NoError(t, q.Observe(seller(i), -70, t0))
				}
				require.NoError(t, q.Observe(seller(i), -70, t1))
			}
			require.NoError(t, q.Observe(seller(5), -60, t1))
			require.NoError(t, q.Observe(seller(6), -60, t1))
			assert.ElementsMatch(t, []adv.EID{eid(2), eid(3), eid(5), eid(6)}, eids(q.Snapshot()), "order %v", order)
		}
	})
	t.Run("no stronger than the weakest", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{Capacity: 2})
		t0 := c.Now()
		require.NoError(t, q.Observe(seller(1), -50, t0))
		require.NoError(t, q.Observe(seller(2), -70, t0))
		drain(q)
		assert.ErrorIs(t, q.Observe(seller(3), -70, t0), ErrFull)
		assert.ErrorIs(t, q.Observe(seller(3), -80, t0), ErrFull)
		assert.False(t, drain(q))
		assert.Equal(t, []adv.EID{eid(1), eid(2)}, eids(q.Snapshot()))
	})
	t.Run("only the selected peer", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{Capacity: 1})
		require.NoError(t, q.Observe(seller(1), -90, c.Now()))
		_, err := q.Select(eid(1))
		require.NoError(t, err)
		assert.ErrorIs(t, q.Observe(seller(2), -20, c.Now()), ErrFull)
	})
}

// TestFlood sends 100,000 distinct EIDs to a default queue holding a
// selected weak peer: the queue stays bounded, keeps the selected peer, and
// keeps peers at least as strong as every one it turned away or evicted.
func TestFlood(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	at := c.Now()
	require.NoError(t, q.Observe(seller(0), -120, at))
	_, err := q.Select(eid(0))
	require.NoError(t, err)

	rng := rand.New(rand.NewPCG(1, 1))
	rssi := make(map[adv.EID]int, 100_000)
	for i := 1; i <= 100_000; i++ {
		r := MinRSSI + rng.IntN(MaxRSSI-MinRSSI+1)
		rssi[eid(i)] = r
		err := q.Observe(seller(i), r, at)
		if err != nil {
			require.ErrorIs(t, err, ErrFull)
		}
	}
	s := q.Snapshot()
	require.Len(t, s, DefaultCapacity)
	kept := make(map[adv.EID]bool, len(s))
	minKept := MaxRSSI
	selected := 0
	for _, p := range s {
		kept[p.Packet.EID] = true
		if p.Selected {
			selected++
			assert.Equal(t, eid(0), p.Packet.EID)
			continue
		}
		minKept = min(minKept, p.LastRSSI)
	}
	assert.Equal(t, 1, selected)
	maxGone := MinRSSI
	for e, r := range rssi {
		if !kept[e] {
			maxGone = max(maxGone, r)
		}
	}
	assert.GreaterOrEqual(t, minKept, maxGone)
	assert.Greater(t, minKept, MaxRSSI-10, "1,023 places among 100,000 uniform RSSIs are all near the top")
}

func TestNotifications(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	t0 := c.Now()
	assert.False(t, drain(q))

	require.NoError(t, q.Observe(seller(1), -60, t0))
	assert.True(t, drain(q), "a new peer notifies")

	require.NoError(t, q.Observe(seller(1), -62, t0))
	assert.False(t, drain(q), "a change within the dead band does not")

	busy := seller(1)
	busy.Flags = adv.FlagBusy
	require.NoError(t, q.Observe(busy, -60, t0))
	assert.True(t, drain(q), "new flags notify")

	require.NoError(t, q.Observe(busy, -20, t0))
	assert.True(t, drain(q), "a level change notifies")

	// Nobody reads: the scanner never blocks and the values coalesce.
	for i := 2; i < 1000; i++ {
		require.NoError(t, q.Observe(seller(i), -50, t0))
	}
	assert.True(t, drain(q))
	assert.False(t, drain(q))
}

// TestNotificationsReservedFlags: reserved flag bits, which adv.Parse keeps
// and a receiver ignores, are not shown (Peer.Packet has them cleared), so
// toggling them alone does not notify.
func TestNotificationsReservedFlags(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{Alpha: 1})
	t0 := c.Now()
	busy := seller(1)
	busy.Flags = adv.FlagBusy
	require.NoError(t, q.Observe(busy, -60, t0))
	require.True(t, drain(q))

	reserved := busy
	reserved.Flags |= 0x80
	require.NoError(t, q.Observe(reserved, -60, t0))
	assert.False(t, drain(q), "a reserved flag bit does not notify")
	assert.Equal(t, []Peer{{Packet: busy, RSSI: -60, LastRSSI: -60, Level: -60, FirstSeen: t0, LastSeen: t0, Reports: 2}},
		q.Snapshot(), "reserved flag bits cleared")
	require.NoError(t, q.Observe(busy, -60, t0))
	assert.False(t, drain(q), "nor clearing it")

	reserved.Flags = adv.FlagAssets | 0x04
	require.NoError(t, q.Observe(reserved, -60, t0))
	assert.True(t, drain(q), "a defined flag notifies, with a reserved one")
	tx := seller(1)
	tx.TxPower--
	require.NoError(t, q.Observe(tx, -60, t0))
	assert.True(t, drain(q), "a new Tx power notifies")

	newcomer := seller(2)
	newcomer.Flags = 0xfc
	require.NoError(t, q.Observe(newcomer, -70, t0))
	s := q.Snapshot()
	require.Len(t, s, 2)
	assert.Equal(t, seller(2), s[1].Packet, "a newcomer's reserved flag bits cleared")
}

func TestObserveAllocs(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	at := c.Now()
	for i := range DefaultCapacity {
		require.NoError(t, q.Observe(seller(i), -50-i%40, at))
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		_ = q.Observe(seller(i%DefaultCapacity), -50-i%30, at)
		i++
	})
	assert.Zero(t, allocs)
	buf := make([]Peer, 0, DefaultCapacity)
	assert.Zero(t, testing.AllocsPerRun(10, func() { buf = q.AppendSnapshot(buf[:0]) }))
}

func TestConcurrent(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{Capacity: 64})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 9))
			for range 2000 {
				err := q.Observe(seller(rng.IntN(200)), -30-rng.IntN(70), c.Now())
				if err != nil {
					assert.ErrorIs(t, err, ErrFull)
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			s := q.Snapshot()
			assert.LessOrEqual(t, len(s), 64)
			for i := 1; i < len(s); i++ {
				assert.GreaterOrEqual(t, s[i-1].Level, s[i].Level)
			}
			if len(s) > 0 {
				if _, err := q.Select(s[len(s)-1].Packet.EID); err != nil {
					assert.ErrorIs(t, err, ErrUnknownPeer)
				}
			}
		}
	})
	wg.Go(func() {
		for range 200 {
			c.Add(100 * time.Millisecond)
			q.Prune()
			q.Selected()
		}
	})
	done := make(chan struct{})
	var ui sync.WaitGroup
	ui.Go(func() {
		for {
			select {
			case <-q.Changes():
			case <-done:
				return
			}
		}
	})
	wg.Wait()
	close(done)
	ui.Wait()
	if p, ok := q.Selected(); ok {
		assert.True(t, p.Selected)
	}
}

// TestStaleReport: a report already older than the TTL when it arrives (a
// late scan batch) of a peer the queue does not hold live is ignored: it
// neither evicts a live peer of a full queue nor adds a peer, brings back
// an expired one or notifies. One of a live peer counts, without moving its
// LastSeen back.
func TestStaleReport(t *testing.T) {
	// live returns a queue holding seller 1, reported at −80 dBm now, its
	// notification taken.
	live := func(t *testing.T, opts Options) (*Queue, time.Time) {
		c := newClock()
		q := newQueue(t, c, opts)
		now := c.Now()
		require.NoError(t, q.Observe(seller(1), -80, now))
		require.True(t, drain(q))
		return q, now
	}
	t.Run("a full queue keeps its live peer", func(t *testing.T) {
		q, now := live(t, Options{Capacity: 1})
		assert.NoError(t, q.Observe(seller(2), -40, now.Add(-DefaultTTL-time.Second)))
		assert.False(t, drain(q), "no notification")
		assert.Equal(t, []adv.EID{eid(1)}, eids(q.Snapshot()), "the live peer stays")
	})
	t.Run("no peer added", func(t *testing.T) {
		q, now := live(t, Options{})
		assert.NoError(t, q.Observe(seller(2), -40, now.Add(-DefaultTTL-time.Nanosecond)))
		assert.False(t, drain(q), "no notification")
		assert.Zero(t, q.Prune(), "nothing to forget")
		assert.Equal(t, []Peer{{Packet: seller(1), RSSI: -80, LastRSSI: -80, Level: -80, FirstSeen: now, LastSeen: now, Reports: 1}},
			q.Snapshot())
		assert.False(t, drain(q))
	})
	t.Run("exactly the TTL old: added", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{})
		at := c.Now().Add(-DefaultTTL)
		require.NoError(t, q.Observe(seller(2), -40, at))
		assert.True(t, drain(q))
		assert.Equal(t, []Peer{{Packet: seller(2), RSSI: -40, LastRSSI: -40, Level: -40, FirstSeen: at, LastSeen: at, Reports: 1}},
			q.Snapshot())
	})
	t.Run("an expired peer stays expired", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{})
		t0 := c.Now()
		require.NoError(t, q.Observe(seller(1), -80, t0))
		busy := seller(1)
		busy.Flags = adv.FlagBusy
		c.Add(3 * DefaultTTL)
		drain(q)
		// A new sighting after the TTL, and a report within the TTL of
		// the last one, both older than the TTL now.
		assert.NoError(t, q.Observe(busy, -40, t0.Add(DefaultTTL+time.Second)))
		assert.NoError(t, q.Observe(busy, -40, t0.Add(time.Second)))
		assert.False(t, drain(q), "no notification")
		assert.Equal(t, 1, q.Prune(), "the expired peer is forgotten")
		assert.Empty(t, q.Snapshot())
	})
	t.Run("a live peer's report counts", func(t *testing.T) {
		q, now := live(t, Options{Alpha: 1})
		require.NoError(t, q.Observe(seller(1), -40, now.Add(-DefaultTTL-time.Second)))
		assert.True(t, drain(q), "a level change notifies")
		assert.Equal(t, []Peer{{Packet: seller(1), RSSI: -40, LastRSSI: -80, Level: -40, FirstSeen: now, LastSeen: now, Reports: 2}},
			q.Snapshot(), "LastSeen and LastRSSI those of the latest report; FirstSeen not moved back by more than the TTL")
	})
}

// TestOrderingClockStep: peers of equal strength stay in the order the queue
// took them in when the wall clock steps back between their first reports,
// as the clock of a phone that sets its time from the network does.
func TestOrderingClockStep(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	require.NoError(t, q.Observe(seller(2), -60, time.Time{}))
	c.Add(-time.Hour)
	require.NoError(t, q.Observe(seller(1), -60, time.Time{}))
	assert.Equal(t, []adv.EID{eid(2), eid(1)}, eids(q.Snapshot()))
}

// TestExpiryClockStepBack: when the clock steps back (a clock without a
// monotonic reading, set from the network), a peer no longer heard expires
// the TTL after the sweep that finds it last seen after now, not once the
// clock catches up; a report time after now counts as now.
func TestExpiryClockStepBack(t *testing.T) {
	t.Run("a peer last seen before the step", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{})
		require.NoError(t, q.Observe(seller(1), -60, time.Time{}))
		now := c.Add(-time.Hour)
		assert.Zero(t, q.Prune())
		s := q.Snapshot()
		require.Len(t, s, 1)
		assert.Equal(t, now, s[0].LastSeen, "last seen now at the latest")
		assert.Equal(t, now, s[0].FirstSeen)
		c.Add(DefaultTTL + time.Nanosecond)
		assert.Equal(t, 1, q.Prune())
		assert.Empty(t, q.Snapshot())
	})
	t.Run("a report time after now", func(t *testing.T) {
		c := newClock()
		q := newQueue(t, c, Options{})
		now := c.Now()
		require.NoError(t, q.Observe(seller(1), -60, now.Add(time.Hour)))
		s := q.Snapshot()
		require.Len(t, s, 1)
		assert.Equal(t, now, s[0].LastSeen)
		c.Add(DefaultTTL + time.Nanosecond)
		assert.Equal(t, 1, q.Prune())
	})
}

// TestFull: a newcomer that a full queue turns away (ErrFull) changes
// nothing a user sees and does not notify, whether the queue looked for
// expired peers or knew there was none; an expired peer always leaves
// room, even for the weakest newcomer.
func TestFull(t *testing.T) {
	sweptOrNot(t, func(t *testing.T, swept bool) {
		c := newClock()
		q := newQueue(t, c, Options{Capacity: 2})
		t0 := c.Now()
		require.NoError(t, q.Observe(seller(1), -50, t0))
		require.NoError(t, q.Observe(seller(2), -70, c.Add(time.Second)))
		if swept {
			require.Zero(t, q.Prune())
		}
		drain(q)
		c.Add(DefaultTTL - time.Second) // seller 1 the TTL old: not expired
		assert.ErrorIs(t, q.Observe(seller(3), -90, c.Now()), ErrFull)
		assert.Equal(t, []adv.EID{eid(1), eid(2)}, eids(q.Snapshot()), "unchanged")
		assert.False(t, drain(q), "ErrFull does not notify")
		require.NoError(t, q.Observe(seller(2), -70, c.Now()))
		drain(q)

		c.Add(time.Nanosecond) // seller 1 expired, seller 2 not
		require.NoError(t, q.Observe(seller(3), -90, c.Now()), "the expired peer leaves room")
		assert.True(t, drain(q))
		assert.Equal(t, []adv.EID{eid(2), eid(3)}, eids(q.Snapshot()))
	})
}

// TestFullClockStepBack: a full queue that a weak newcomer finds after the
// clock stepped back takes its peers as seen then, whether or not it knew
// before that none of them had expired; so a newcomer reported the TTL
// later finds them expired and takes a place.
func TestFullClockStepBack(t *testing.T) {
	sweptOrNot(t, func(t *testing.T, swept bool) {
		c := newClock()
		q := newQueue(t, c, Options{Capacity: 1})
		require.NoError(t, q.Observe(seller(1), -40, c.Now()))
		if swept {
			require.Zero(t, q.Prune())
		}
		step := c.Add(-time.Hour)
		assert.ErrorIs(t, q.Observe(seller(2), -80, step), ErrFull)
		c.Add(DefaultTTL + time.Nanosecond)
		require.NoError(t, q.Observe(seller(2), -80, c.Now()), "seller 1 expired the TTL after the step")
		assert.Equal(t, []adv.EID{eid(2)}, eids(q.Snapshot()))
	})
}

// sweptOrNot runs f in two subtests, which sweep the queue after its first
// reports (swept true) or not, so that a full queue knows, or does not,
// that none of its peers has expired.
func sweptOrNot(t *testing.T, f func(t *testing.T, swept bool)) {
	t.Run("before any sweep", func(t *testing.T) { f(t, false) })
	t.Run("after a sweep", func(t *testing.T) { f(t, true) })
}
