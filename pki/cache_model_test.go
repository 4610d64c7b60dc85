package pki

import (
	"container/list"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// cacheModel is the cache as a slice, most recently used first: what
// get and put must do, without the lists.
type cacheModel struct {
	max, maxRefused int
	entries         []cacheEntry // refusal unset
}

func (m *cacheModel) find(key [32]byte) int {
	return slices.IndexFunc(m.entries, func(e cacheEntry) bool { return e.key == key })
}

func (m *cacheModel) remove(i int) { m.entries = slices.Delete(m.entries, i, i+1) }

func (m *cacheModel) get(key [32]byte, now time.Time, crls *map[string]*heldCRL) *result {
	i := m.find(key)
	if i < 0 {
		return nil
	}
	e := m.entries[i]
	m.remove(i)
	if e.crls != crls || !modelWithin(e.res, now) {
		return nil
	}
	m.entries = slices.Insert(m.entries, 0, e)
	return e.res
}

// modelWithin reports whether res may be served at now: from its
// validFrom on, and before its expiry unless that is zero.
func modelWithin(res *result, now time.Time) bool {
	return !now.Before(res.validFrom) && (res.expiry.IsZero() || now.Before(res.expiry))
}

func (m *cacheModel) put(key [32]byte, res *result, now time.Time, crls, current *map[string]*heldCRL) {
	if crls != current || !modelWithin(res, now) {
		return
	}
	if i := m.find(key); i >= 0 {
		m.remove(i)
	}
	m.entries = slices.Insert(m.entries, 0, cacheEntry{key: key, res: res, crls: crls})
	for res.err != nil {
		n, last := 0, -1
		for i, e := range m.entries {
			if e.res.err != nil {
				n, last = n+1, i
			}
		}
		if n <= m.maxRefused {
			break
		}
		m.remove(last)
	}
	if len(m.entries) > m.max {
		m.entries = m.entries[:m.max]
	}
}

// checkCacheModel fails t unless c holds m's entries in m's order, its
// index and its list of refusals agree with them (the refusals in the
// order they have among all entries), and both bounds hold.
func checkCacheModel(t *testing.T, c *cache, m *cacheModel, step int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ll.Len() != len(m.entries) || len(c.idx) != len(m.entries) {
		t.Fatalf("step %d: %d entries, %d indexed, model %d", step, c.ll.Len(), len(c.idx), len(m.entries))
	}
	var refusals []*list.Element
	i := 0
	for el := c.ll.Front(); el != nil; el = el.Next() {
		e, want := el.Value.(*cacheEntry), m.entries[i]
		if e.key != want.key || e.res != want.res || e.crls != want.crls {
			t.Fatalf("step %d: entry %d differs from the model's", step, i)
		}
		if c.idx[e.key] != el {
			t.Fatalf("step %d: entry %d not indexed", step, i)
		}
		if (e.res.err != nil) != (e.refusal != nil) {
			t.Fatalf("step %d: entry %d: refusal element %v, error %v", step, i, e.refusal, e.res.err)
		}
		if e.refusal != nil {
			if e.refusal.Value.(*list.Element) != el {
				t.Fatalf("step %d: the refusal element of entry %d holds another entry", step, i)
			}
			refusals = append(refusals, el)
		}
		i++
	}
	if c.refused.Len() != len(refusals) {
		t.Fatalf("step %d: %d refusals listed, %d held", step, c.refused.Len(), len(refusals))
	}
	i = 0
	for r := c.refused.Front(); r != nil; r = r.Next() {
		if r.Value.(*list.Element) != refusals[i] {
			t.Fatalf("step %d: refusal %d out of the order of the entries", step, i)
		}
		i++
	}
	if c.refused.Len() > c.maxRefused || c.ll.Len() > c.max {
		t.Fatalf("step %d: %d of %d refusals, %d of %d entries", step, c.refused.Len(), c.maxRefused, c.ll.Len(), c.max)
	}
}

// TestCacheModel runs get, put and clear, from fixed seeds, on caches of 1
// to 12 entries and on cacheModel, and checks after each that the cache
// holds what the model does: the same results served, the same entries
// in the same order of use, refusals evicted least recently used first
// within a quarter of the room.
func TestCacheModel(t *testing.T) {
	for size := 1; size <= 12; size++ {
		for seed := range uint64(8) {
			r := rand.New(rand.NewPCG(seed, uint64(size)))
			c := newCache(size)
			m := &cacheModel{max: size, maxRefused: size / 4}
			held, other := new(map[string]*heldCRL), new(map[string]*heldCRL)
			var current atomic.Pointer[map[string]*heldCRL]
			current.Store(held)
			for step := range 1000 {
				var key [32]byte
				key[0] = byte(r.IntN(size*2 + 2))
				now := t0.Add(time.Duration(r.IntN(100)) * time.Second)
				crls := current.Load()
				if r.IntN(10) == 0 {
					crls = other // checked under CRLs since replaced
				}
				switch op := r.IntN(20); {
				case op < 8:
					if got, want := c.get(key, now, crls), m.get(key, now, crls); got != want {
						t.Fatalf("size %d seed %d step %d: get %p, model %p", size, seed, step, got, want)
					}
				case op < 19:
					res := &result{
						validFrom: t0.Add(time.Duration(r.IntN(50)) * time.Second),
						expiry:    t0.Add(time.Duration(50+r.IntN(50)) * time.Second),
					}
					if r.IntN(2) == 0 {
						res.err = ErrRevoked
						if r.IntN(4) == 0 {
							res.expiry = time.Time{} // a refusal without end
						}
					}
					c.put(key, res, now, crls, &current)
					m.put(key, res, now, crls, current.Load())
				default: // a CRL accepted, or the same CRL again
					if r.IntN(2) == 0 {
						held, other = other, held
						current.Store(held)
					}
					c.clear()
					m.entries = nil
				}
				checkCacheModel(t, c, m, step)
			}
		}
	}
}
