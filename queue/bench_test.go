package queue

import (
	"fmt"
	"testing"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/cputime"
)

// BenchmarkObserve reports adverts of peers the queue already holds, in
// steady state.
func BenchmarkObserve(b *testing.B) {
	for _, n := range []int{1, DefaultCapacity} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			c := newClock()
			q := newQueue(b, c, Options{})
			at := c.Now()
			ps := make([]adv.Packet, n)
			for i := range ps {
				ps[i] = seller(i)
				if err := q.Observe(ps[i], -50-i%40, at); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			start := cputime.Process()
			for b.Loop() {
				_ = q.Observe(ps[i%n], -50-i%13, at)
				i++
			}
			cputime.Report(b, start)
		})
	}
}

// BenchmarkMapLookup is the baseline of Observe: finding a peer by EID in a
// Go map of 1,024 entries.
func BenchmarkMapLookup(b *testing.B) {
	m := make(map[adv.EID]int32, DefaultCapacity)
	for i := range DefaultCapacity {
		m[eid(i)] = int32(i)
	}
	keys := make([]adv.EID, DefaultCapacity)
	for i := range keys {
		keys[i] = eid(i)
	}
	b.ReportAllocs()
	i, sum := 0, int32(0)
	start := cputime.Process()
	for b.Loop() {
		sum += m[keys[i%DefaultCapacity]]
		i++
	}
	cputime.Report(b, start)
	_ = sum
}

// BenchmarkFlood reports adverts of new EIDs to a full queue, most of them
// turned away.
func BenchmarkFlood(b *testing.B) {
	c := newClock()
	q := newQueue(b, c, Options{})
	at := c.Now()
	b.ReportAllocs()
	i := 0
	start := cputime.Process()
	for b.Loop() {
		_ = q.Observe(seller(i), MinRSSI+i%(MaxRSSI-MinRSSI+1), at)
		i++
	}
	cputime.Report(b, start)
}

func BenchmarkSnapshot(b *testing.B) {
	c := newClock()
	q := newQueue(b, c, Options{})
	at := c.Now()
	for i := range DefaultCapacity {
		if err := q.Observe(seller(i), -30-i%90, at); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Snapshot", func(b *testing.B) {
		b.ReportAllocs()
		start := cputime.Process()
		for b.Loop() {
			_ = q.Snapshot()
		}
		cputime.Report(b, start)
	})
	b.Run("AppendSnapshot", func(b *testing.B) {
		buf := make([]Peer, 0, DefaultCapacity)
		b.ReportAllocs()
		start := cputime.Process()
		for b.Loop() {
			buf = q.AppendSnapshot(buf[:0])
		}
		cputime.Report(b, start)
	})
}
