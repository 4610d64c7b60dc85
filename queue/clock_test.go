package queue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// racer is a clock that lets another call of the queue in right after a
// call reads it, as early as the queue allows: at once, before the call
// takes the queue's lock, when the call reads the clock without it (as a
// call of another goroutine may do while this one waits for the lock), or
// else once the call has returned. Its methods are for one goroutine.
type racer struct {
	clock
	q     *Queue
	cut   func() // the call to let in at the next reading
	after func() // the call let in once the current call returns
}

func (r *racer) Now() time.Time {
	t := r.clock.Now()
	if cut := r.cut; cut != nil {
		r.cut = nil
		if r.q.mu.TryLock() { // not held: the other call gets in first
			r.q.mu.Unlock()
			cut()
		} else {
			r.after = cut
		}
	}
	return t
}

// race runs call, which reads the clock at the current time, and other,
// which reads it wait later, let in right after call's reading.
func (r *racer) race(call func(), wait time.Duration, other func()) {
	r.cut = func() {
		r.Add(wait)
		other()
	}
	call()
	if after := r.after; after != nil {
		r.after = nil
		after()
	}
}

func newRacer(t *testing.T, opts Options) *racer {
	t.Helper()
	r := &racer{clock: *newClock()}
	opts.Now = r.Now
	q, err := New(adv.Shopper, opts)
	require.NoError(t, err)
	r.q = q
	return r
}

// TestClockOrder: a call that reads the clock while another call, which
// read it later, holds the queue's lock applies its time after that call,
// never before it, so that neither call sees the other's time as a step
// back of the clock. A peer reported by a call that read the clock 3 s
// after a sweep that waited for the lock keeps the times of its report,
// and expires the TTL after it, not 3 s early; a newcomer's FirstSeen
// is never before its first report.
func TestClockOrder(t *testing.T) {
	const wait = 3 * time.Second
	sweeps := []struct {
		name  string
		sweep func(t *testing.T, q *Queue)
	}{
		{"Prune", func(t *testing.T, q *Queue) { assert.Zero(t, q.Prune()) }},
		{"Snapshot", func(t *testing.T, q *Queue) { assert.Equal(t, []adv.EID{eid(1)}, eids(q.Snapshot())) }},
		{"AppendSnapshot", func(t *testing.T, q *Queue) {
			assert.Equal(t, []adv.EID{eid(1)}, eids(q.AppendSnapshot(make([]Peer, 0, 2))))
		}},
		{"Observe of a full queue", func(t *testing.T, q *Queue) {
			assert.ErrorIs(t, q.Observe(seller(9), -90, time.Time{}), ErrFull)
		}},
	}
	for _, s := range sweeps {
		t.Run(s.name+", a known peer reported", func(t *testing.T) {
			r := newRacer(t, Options{Capacity: 1})
			t0 := r.Now()
			require.NoError(t, r.q.Observe(seller(1), -60, time.Time{}))
			r.Add(5 * time.Second)
			var reported time.Time
			r.race(func() { s.sweep(t, r.q) }, wait, func() {
				reported = r.Now()
				require.NoError(t, r.q.Observe(seller(1), -60, time.Time{}))
			})
			want := Peer{Packet: seller(1), RSSI: -60, LastRSSI: -60, Level: -60, FirstSeen: t0, LastSeen: reported, Reports: 2}
			assert.Equal(t, []Peer{want}, r.q.Snapshot())
			r.Add(DefaultTTL)
			assert.Equal(t, []Peer{want}, r.q.Snapshot(), "the TTL after the report: still there")
			r.Add(time.Nanosecond)
			assert.Empty(t, r.q.Snapshot())
		})
	}
	t.Run("Prune, a newcomer reported", func(t *testing.T) {
		r := newRacer(t, Options{})
		var reported time.Time
		r.race(func() { assert.Zero(t, r.q.Prune()) }, wait, func() {
			reported = r.Now()
			require.NoError(t, r.q.Observe(seller(1), -60, time.Time{}))
		})
		assert.Equal(t, []Peer{{Packet: seller(1), RSSI: -60, LastRSSI: -60, Level: -60, FirstSeen: reported, LastSeen: reported, Reports: 1}},
			r.q.Snapshot())
	})
}

// TestClockReadUnderLock: every call that reads the clock reads it while
// holding the queue's lock, so that the times the calls apply follow the
// order in which they take effect.
func TestClockReadUnderLock(t *testing.T) {
	calls := []struct {
		name string
		call func(q *Queue)
	}{
		{"Observe", func(q *Queue) { _ = q.Observe(seller(2), -60, time.Time{}) }},
		{"Prune", func(q *Queue) { q.Prune() }},
		{"Snapshot", func(q *Queue) { q.Snapshot() }},
		{"AppendSnapshot", func(q *Queue) { q.AppendSnapshot(nil) }},
		{"Select", func(q *Queue) { _, _ = q.Select(eid(1)) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			base := newClock()
			q := newQueue(t, base, Options{})
			reads, unlocked := 0, 0
			require.NoError(t, q.Observe(seller(1), -60, time.Time{}))
			q.now = func() time.Time {
				reads++
				if q.mu.TryLock() {
					q.mu.Unlock()
					unlocked++
				}
				return base.Now()
			}
			c.call(q)
			assert.Equal(t, 1, reads, "clock readings")
			assert.Zero(t, unlocked, "readings without the lock")
		})
	}
}
