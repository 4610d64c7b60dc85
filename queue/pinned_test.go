package queue

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestOptionLimits: New refuses a TTL of −1 ns and one of ten minutes and
// 1 ns, and takes one of exactly ten minutes (an EID epoch).
func TestOptionLimits(t *testing.T) {
	for _, tt := range []struct {
		name string
		ttl  time.Duration
		want error
	}{
		{"one nanosecond below zero", -time.Nanosecond, ErrOptions},
		{"ten minutes", 10 * time.Minute, nil},
		{"ten minutes and one nanosecond", 10*time.Minute + time.Nanosecond, ErrOptions},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q, err := New(adv.Shopper, Options{TTL: tt.ttl})
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
				assert.Nil(t, q)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.ttl, q.ttl)
		})
	}
}

// TestRSSIRange: Observe takes an RSSI from −127 to 20 dBm and refuses
// −128 and 21 with ErrRSSI.
func TestRSSIRange(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	assert.NoError(t, q.Observe(seller(1), -127, c.Now()))
	assert.NoError(t, q.Observe(seller(2), 20, c.Now()))
	assert.ErrorIs(t, q.Observe(seller(3), -128, c.Now()), ErrRSSI)
	assert.ErrorIs(t, q.Observe(seller(4), 21, c.Now()), ErrRSSI)
	assert.Equal(t, []adv.EID{eid(2), eid(1)}, eids(q.Snapshot()))
}

// TestDefaultTTL: with the zero Options a peer is listed 10 s after its
// report and forgotten 10 s and 1 ns after it.
func TestDefaultTTL(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	require.NoError(t, q.Observe(seller(1), -60, c.Now()))
	c.Add(10 * time.Second)
	assert.Equal(t, []adv.EID{eid(1)}, eids(q.Snapshot()))
	c.Add(time.Nanosecond)
	assert.Equal(t, 1, q.Prune())
	assert.Empty(t, q.Snapshot())
}

// TestDefaultCapacity: with the zero Options the queue holds 1,024 peers
// and turns away the 1,025th, no stronger than them, with ErrFull.
func TestDefaultCapacity(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	for i := range 1024 {
		require.NoError(t, q.Observe(seller(i), -60, c.Now()))
	}
	assert.ErrorIs(t, q.Observe(seller(1024), -60, c.Now()), ErrFull)
	assert.Len(t, q.Snapshot(), 1024)
}

// TestNotMadeSnapshot: the Snapshot of a Queue that New did not make is an
// empty slice, not nil.
func TestNotMadeSnapshot(t *testing.T) {
	for _, q := range []*Queue{new(Queue), nil} {
		s := q.Snapshot()
		assert.NotNil(t, s)
		assert.Equal(t, []Peer{}, s)
	}
}

// TestReportTimeAfterNow: a report time after Options.Now() counts as now,
// as the report is taken in: of two reports of a peer timed 1 h and 1 s
// after now, the second, received last at the same time, gives its Packet,
// and the peer is last seen now.
func TestReportTimeAfterNow(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{Alpha: 1})
	now := c.Now()
	busy := seller(1)
	busy.Flags = adv.FlagBusy
	require.NoError(t, q.Observe(seller(1), -60, now.Add(time.Hour)))
	require.True(t, drain(q))
	require.NoError(t, q.Observe(busy, -58, now.Add(time.Second)))
	assert.True(t, drain(q), "the busy flag is shown")
	p, err := q.Select(eid(1))
	require.NoError(t, err)
	assert.Equal(t, Peer{Packet: busy, RSSI: -58, LastRSSI: -58, Level: -60, FirstSeen: now, LastSeen: now, Reports: 2, Selected: true}, p)
}

// TestTxPowerNotifies: a report whose advert differs from the peer's
// Packet in its Tx power alone notifies, and the Packet takes it.
func TestTxPowerNotifies(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	t0 := c.Now()
	require.NoError(t, q.Observe(seller(1), -60, t0))
	require.True(t, drain(q))
	louder := seller(1)
	louder.TxPower = -4
	require.NoError(t, q.Observe(louder, -60, t0))
	assert.True(t, drain(q), "a new Tx power notifies")
	assert.Equal(t, []Peer{{Packet: louder, RSSI: -60, LastRSSI: -60, Level: -60, FirstSeen: t0, LastSeen: t0, Reports: 2}}, q.Snapshot())
}

// TestNoHysteresis: with a negative Hysteresis (−1, or −Inf) Level follows
// every change of the filtered RSSI and notifies it, but a report that
// leaves the RSSI as it was changes no Level and does not notify.
func TestNoHysteresis(t *testing.T) {
	for _, h := range []float64{-1, math.Inf(-1)} {
		t.Run(fmt.Sprint(h), func(t *testing.T) {
			c := newClock()
			q := newQueue(t, c, Options{Alpha: 1, Hysteresis: h})
			t0 := c.Now()
			require.NoError(t, q.Observe(seller(1), -60, t0))
			require.True(t, drain(q))
			require.NoError(t, q.Observe(seller(1), -60, t0))
			assert.False(t, drain(q), "the same RSSI: no change")
			require.NoError(t, q.Observe(seller(1), -61, t0))
			assert.True(t, drain(q), "1 dB: a Level change")
			assert.Equal(t, []Peer{{Packet: seller(1), RSSI: -61, LastRSSI: -61, Level: -61, FirstSeen: t0, LastSeen: t0, Reports: 3}}, q.Snapshot())
		})
	}
}

// TestFullStepBackAfterSweep: a full queue whose peer was reported, taken
// in, seen back after it expired or selected after the last sweep, with a
// time after which the clock steps back, sweeps for a weak newcomer, which
// it turns away with ErrFull: the peer is then taken as last seen at the
// step (and first seen then, if first seen after it), not at the time of
// the next snapshot.
func TestFullStepBackAfterSweep(t *testing.T) {
	for _, tt := range []struct {
		name string
		// setup fills the queue, sweeps it, reports and steps the clock
		// back; it returns the peer wanted in the final snapshot.
		setup func(t *testing.T, c *clock, q *Queue) []Peer
	}{
		{"a peer reported after the sweep", func(t *testing.T, c *clock, q *Queue) []Peer {
			t0 := c.Now()
			require.NoError(t, q.Observe(seller(1), -40, t0))
			require.NoError(t, q.Observe(seller(2), -50, t0))
			require.Zero(t, q.Prune())
			require.NoError(t, q.Observe(seller(1), -40, c.Add(5*time.Second)))
			step := c.Add(-3 * time.Second)
			return []Peer{
				{Packet: seller(1), RSSI: -40, LastRSSI: -40, Level: -40, FirstSeen: t0, LastSeen: step, Reports: 2},
				{Packet: seller(2), RSSI: -50, LastRSSI: -50, Level: -50, FirstSeen: t0, LastSeen: t0, Reports: 1},
			}
		}},
		{"a peer taken in after the sweep", func(t *testing.T, c *clock, q *Queue) []Peer {
			t0 := c.Now()
			require.NoError(t, q.Observe(seller(1), -40, t0))
			require.Zero(t, q.Prune())
			require.NoError(t, q.Observe(seller(2), -50, c.Add(5*time.Second)))
			step := c.Add(-3 * time.Second)
			return []Peer{
				{Packet: seller(1), RSSI: -40, LastRSSI: -40, Level: -40, FirstSeen: t0, LastSeen: t0, Reports: 1},
				{Packet: seller(2), RSSI: -50, LastRSSI: -50, Level: -50, FirstSeen: step, LastSeen: step, Reports: 1},
			}
		}},
		{"a peer back after it expired", func(t *testing.T, c *clock, q *Queue) []Peer {
			t0 := c.Now()
			require.NoError(t, q.Observe(seller(1), -40, t0))
			require.NoError(t, q.Observe(seller(2), -50, t0))
			_, err := q.Select(eid(2))
			require.NoError(t, err)
			require.Zero(t, q.Prune())
			require.NoError(t, q.Observe(seller(1), -40, c.Add(DefaultTTL+2*time.Second)))
			step := c.Add(-DefaultTTL)
			return []Peer{
				{Packet: seller(1), RSSI: -40, LastRSSI: -40, Level: -40, FirstSeen: step, LastSeen: step, Reports: 1},
				{Packet: seller(2), RSSI: -50, LastRSSI: -50, Level: -50, FirstSeen: t0, LastSeen: t0, Reports: 1, Selected: true},
			}
		}},
		{"a selected peer", func(t *testing.T, c *clock, q *Queue) []Peer {
			t0 := c.Now()
			require.NoError(t, q.Observe(seller(1), -40, t0))
			_, err := q.Select(eid(1))
			require.NoError(t, err)
			require.NoError(t, q.Observe(seller(2), -50, t0.Add(-3*time.Second)))
			require.Zero(t, q.Prune())
			step := c.Add(-2 * time.Second)
			return []Peer{
				{Packet: seller(1), RSSI: -40, LastRSSI: -40, Level: -40, FirstSeen: step, LastSeen: step, Reports: 1, Selected: true},
				{Packet: seller(2), RSSI: -50, LastRSSI: -50, Level: -50, FirstSeen: t0.Add(-3 * time.Second), LastSeen: t0.Add(-3 * time.Second), Reports: 1},
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			q := newQueue(t, c, Options{Capacity: 2})
			want := tt.setup(t, c, q)
			drain(q)
			assert.ErrorIs(t, q.Observe(seller(3), -90, c.Now()), ErrFull)
			assert.False(t, drain(q), "ErrFull does not notify")
			c.Add(time.Second)
			assert.Equal(t, want, q.Snapshot())
		})
	}
}

// TestStepBackKeepsFirstSeen: a sweep that finds a peer last seen after
// now, but first seen before it, brings LastSeen back to now and leaves
// FirstSeen.
func TestStepBackKeepsFirstSeen(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	t0 := c.Now()
	require.NoError(t, q.Observe(seller(1), -60, t0))
	require.NoError(t, q.Observe(seller(1), -60, c.Add(5*time.Second)))
	step := c.Add(-3 * time.Second)
	assert.Equal(t, []Peer{{Packet: seller(1), RSSI: -60, LastRSSI: -60, Level: -60, FirstSeen: t0, LastSeen: step, Reports: 2}}, q.Snapshot())
}

// TestPruneCount: Prune returns the number of peers it forgot, three of
// three expired peers.
func TestPruneCount(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	for i := range 3 {
		require.NoError(t, q.Observe(seller(i), -60, c.Now()))
	}
	c.Add(DefaultTTL + time.Nanosecond)
	assert.Equal(t, 3, q.Prune())
	assert.Empty(t, q.Snapshot())
}

// TestObserveErrorOrder: Observe checks the advert before the RSSI, so a
// report wrong on both counts gets the advert's error: ErrRole for a role
// that is not valid, ErrSameRole for this phone's own.
func TestObserveErrorOrder(t *testing.T) {
	c := newClock()
	q := newQueue(t, c, Options{})
	for _, rssi := range []int{127, MinRSSI - 1} {
		assert.ErrorIs(t, q.Observe(adv.Packet{Role: 9, EID: eid(1)}, rssi, c.Now()), ErrRole)
		assert.ErrorIs(t, q.Observe(adv.Packet{Role: adv.Shopper, EID: eid(1)}, rssi, c.Now()), ErrSameRole)
	}
	assert.Empty(t, q.Snapshot())
}
