package queue

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// model is a slow, obviously correct service queue: the rules of the Queue
// godoc, applied by scanning everything every time.
type model struct {
	ttl        time.Duration
	cap        int
	alpha, hys float64
	peers      map[adv.EID]*Peer
	taken      map[adv.EID]int // the order peers were taken in, by count
	n          int
}

// take records that the peer of e was taken in (again).
func (m *model) take(e adv.EID) {
	m.n++
	m.taken[e] = m.n
}

func (m *model) expired(p *Peer, now time.Time) bool {
	return !p.Selected && now.Sub(p.LastSeen) > m.ttl
}

func (m *model) sweep(now time.Time) {
	for e, p := range m.peers {
		if m.expired(p, now) {
			delete(m.peers, e)
		}
	}
}

func (m *model) observe(pk adv.Packet, rssi int, at, now time.Time) error {
	r := float64(rssi)
	if p, ok := m.peers[pk.EID]; now.Sub(at) > m.ttl && (!ok || m.expired(p, now)) {
		return nil
	}
	if p, ok := m.peers[pk.EID]; ok {
		if !p.Selected && at.Sub(p.LastSeen) > m.ttl {
			*p = Peer{Packet: pk, RSSI: r, LastRSSI: rssi, Level: r, FirstSeen: at, LastSeen: at, Reports: 1}
			m.take(pk.EID)
			return nil
		}
		switch {
		case !at.Before(p.LastSeen):
			p.Packet, p.LastRSSI, p.LastSeen = pk, rssi, at
		case at.Before(p.FirstSeen) && p.FirstSeen.Sub(at) <= m.ttl:
			p.FirstSeen = at
		}
		p.RSSI += m.alpha * (r - p.RSSI)
		p.Reports++
		if math.Abs(p.RSSI-p.Level) > m.hys {
			p.Level = p.RSSI
		}
		return nil
	}
	if len(m.peers) >= m.cap {
		m.sweep(now)
	}
	if len(m.peers) >= m.cap {
		var victim *Peer
		for _, p := range m.peers {
			if p.Selected {
				continue
			}
			if victim == nil || evictFirst(p, victim) {
				victim = p
			}
		}
		if victim == nil || r <= victim.RSSI {
			return ErrFull
		}
		delete(m.peers, victim.Packet.EID)
	}
	m.peers[pk.EID] = &Peer{Packet: pk, RSSI: r, LastRSSI: rssi, Level: r, FirstSeen: at, LastSeen: at, Reports: 1}
	m.take(pk.EID)
	return nil
}

// evictFirst reports whether a full queue evicts a before b: by lower
// RSSI, earlier LastSeen, later FirstSeen, lower EID.
func evictFirst(a, b *Peer) bool {
	return cmp.Or(
		cmp.Compare(a.RSSI, b.RSSI),
		a.LastSeen.Compare(b.LastSeen),
		b.FirstSeen.Compare(a.FirstSeen),
		slices.Compare(a.Packet.EID[:], b.Packet.EID[:]),
	) < 0
}

func (m *model) snapshot(now time.Time) []Peer {
	m.sweep(now)
	out := []Peer{}
	for _, p := range m.peers {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b Peer) int {
		if c := cmp.Compare(b.Level, a.Level); c != 0 {
			return c
		}
		return cmp.Compare(m.taken[a.Packet.EID], m.taken[b.Packet.EID])
	})
	return out
}

func (m *model) selectPeer(e adv.EID, now time.Time) error {
	p, ok := m.peers[e]
	if !ok || m.expired(p, now) {
		return ErrUnknownPeer
	}
	for _, q := range m.peers {
		q.Selected = false
	}
	p.Selected = true
	return nil
}

// act runs on q and m the action that k, out of 100, picks: a report of
// one of peers sellers (k < 80), late now and then when late is set, a
// selection (k < 86) or a deselection (k < 89), and requires the same
// answers of both. It reports false, doing nothing, for another k.
func act(t *testing.T, rng *rand.Rand, q *Queue, m *model, now time.Time, k, peers int, late bool, where string) bool {
	t.Helper()
	switch {
	case k < 80:
		pk := seller(rng.IntN(peers))
		if rng.IntN(10) == 0 {
			pk.Flags = adv.FlagBusy
		}
		rssi := -100 + rng.IntN(70)
		at := now
		if late && rng.IntN(5) == 0 {
			at = now.Add(-time.Millisecond*time.Duration(rng.IntN(int(2*q.ttl/time.Millisecond))) - time.Microsecond)
		}
		require.Equal(t, m.observe(pk, rssi, at, now), q.Observe(pk, rssi, at), where)
	case k < 86:
		e := eid(rng.IntN(peers))
		_, err := q.Select(e)
		require.Equal(t, m.selectPeer(e, now), err, where)
	case k < 89:
		q.Deselect()
		for _, p := range m.peers {
			p.Selected = false
		}
	default:
		return false
	}
	return true
}

// TestAgainstModel runs random reports, selections, prunes and snapshots
// against the queue and the model, and requires the same answers. Report
// times increase, but for late reports, some older than the TTL.
func TestAgainstModel(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 42))
		c := newClock()
		opts := Options{TTL: 5 * time.Second, Capacity: 1 + rng.IntN(10), Hysteresis: float64(rng.IntN(6)) - 1}
		q := newQueue(t, c, opts)
		m := &model{ttl: q.ttl, cap: q.cap, alpha: q.alpha, hys: q.hyst, peers: make(map[adv.EID]*Peer), taken: make(map[adv.EID]int)}
		for step := range 3000 {
			now := c.Add(time.Millisecond * time.Duration(1+rng.IntN(1500)))
			switch k := rng.IntN(100); {
			case act(t, rng, q, m, now, k, 25, true, fmt.Sprintf("seed %d step %d", seed, step)):
				// a report, a selection or a deselection
			case k < 93:
				q.Prune()
				m.sweep(now)
			default:
				require.Equal(t, m.snapshot(now), q.Snapshot(), "seed %d step %d", seed, step)
			}
		}
		require.Equal(t, m.snapshot(c.Now()), q.Snapshot(), "seed %d", seed)
	}
}

// shown is what a user sees of a snapshot: the peers in order, with their
// advert, their level and whether they are selected.
type shown struct {
	Packet   adv.Packet
	Level    float64
	Selected bool
}

func seen(ps []Peer) []shown {
	out := make([]shown, len(ps))
	for i, p := range ps {
		out[i] = shown{Packet: p.Packet, Level: p.Level, Selected: p.Selected}
	}
	return out
}

// TestUILoopAgainstModel runs random reports, selections and prunes, with
// a UI loop that draws a snapshot for each notification it receives and
// other code that takes snapshots of its own, and requires that after every
// sweep (a Prune, or a snapshot of the other code) the UI loop either has a
// notification waiting or drew what a user would see now.
func TestUILoopAgainstModel(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		c := newClock()
		q := newQueue(t, c, Options{TTL: 5 * time.Second, Capacity: 1 + rng.IntN(10)})
		m := &model{ttl: q.ttl, cap: q.cap, alpha: q.alpha, hys: q.hyst, peers: make(map[adv.EID]*Peer), taken: make(map[adv.EID]int)}
		drawn := []shown{}
		for step := range 3000 {
			now := c.Add(time.Millisecond * time.Duration(1+rng.IntN(1500)))
			swept := false
			switch k := rng.IntN(120); {
			case act(t, rng, q, m, now, k, 15, false, fmt.Sprintf("seed %d step %d", seed, step)):
				// a report, a selection or a deselection
			case k < 96:
				q.Prune()
				m.sweep(now)
				swept = true
			case k < 106:
				require.Equal(t, m.snapshot(now), q.Snapshot(), "seed %d step %d: other code's snapshot", seed, step)
				swept = true
			default:
				if drain(q) {
					drawn = seen(q.Snapshot())
				}
			}
			if swept && len(q.changes) == 0 {
				require.Equal(t, seen(m.snapshot(now)), drawn, "seed %d step %d: no notification waits, so the UI loop shows the queue", seed, step)
			}
		}
	}
}
