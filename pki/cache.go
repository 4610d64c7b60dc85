package pki

import (
	"container/list"
	"sync"
	"sync/atomic"
	"time"
)

// cache keeps verified chains, and chains refused as revoked or expired, by
// chainKey, least recently used first out, both within one bound, max; the
// refusals are at most maxRefused (a quarter of max, rounded down: none in
// a cache of fewer than 4), the least recently used refusal making way for
// a new one, so that refusals never evict verified chains from more than a
// quarter of the room. An entry is served only within its validity and only
// while the CRLs held are those it was checked with. That of a verified
// chain starts no earlier than the latest NotBefore of its chain and of the
// certificates presented and ThisUpdate of the CRLs it relied on (less the
// skew), nor before the NotBefore, without the skew, of a root not
// presented that starts after every certificate presented, and ends no
// later than the earliest NotAfter of its chain and NextUpdate of those
// CRLs, nor past the NotAfter plus the skew of a certificate presented
// (Verifier.withinPresented); that of a refusal is the span within which no
// time the verification compared is crossed (Verifier.refusalSpan), with
// no end when every such time is past.
type cache struct {
	max, maxRefused int

	mu      sync.Mutex
	ll      *list.List // of *cacheEntry, most recently used first
	refused *list.List // the elements of ll that hold refusals, most recently used first
	idx     map[[32]byte]*list.Element
}

type cacheEntry struct {
	key     [32]byte
	res     *result
	crls    *map[string]*heldCRL // the CRLs held when res was checked
	refusal *list.Element        // in refused, for a refusal
}

func newCache(max int) *cache {
	return &cache{max: max, maxRefused: max / 4, ll: list.New(), refused: list.New(), idx: make(map[[32]byte]*list.Element)}
}

// get returns the result held for key (a refusal when its err is set),
// if it is valid at now (from its validFrom on, before its expiry unless
// that is zero) and was checked while crls, the CRLs held now, were: a
// result checked before a CRL was accepted is not served, even in the
// instant before AddCRL clears the cache.
func (c *cache) get(key [32]byte, now time.Time, crls *map[string]*heldCRL) *result {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.idx[key]
	if !ok {
		return nil
	}
	e := el.Value.(*cacheEntry)
	res := e.res
	if e.crls != crls || !res.within(now) {
		c.removeLocked(el)
		return nil
	}
	c.ll.MoveToFront(el)
	if e.refusal != nil {
		c.refused.MoveToFront(e.refusal)
	}
	return res
}

// put stores res, checked at now while crls were the CRLs held, unless a
// CRL has been accepted since (current holds others): the chain was then
// checked against CRLs that may already be replaced; nor when res is not
// valid at now (within): a chain accepted within the skew after the
// NotAfter of a certificate of its path or the next update of a CRL it
// relies on, whose entry expires at that time, which get would drop at
// every lookup, after it had evicted another. A refusal beyond maxRefused
// evicts the least recently used refusal; when maxRefused is 0 a refusal
// is not kept, and only takes out what key held.
func (c *cache) put(key [32]byte, res *result, now time.Time, crls *map[string]*heldCRL, current *atomic.Pointer[map[string]*heldCRL]) {
	if !res.within(now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if current.Load() != crls {
		return
	}
	if el, ok := c.idx[key]; ok {
		c.removeLocked(el)
	}
	if res.err != nil && c.maxRefused == 0 {
		return
	}
	e := &cacheEntry{key: key, res: res, crls: crls}
	el := c.ll.PushFront(e)
	c.idx[key] = el
	if res.err != nil {
		e.refusal = c.refused.PushFront(el)
		for c.refused.Len() > c.maxRefused {
			c.removeLocked(c.refused.Back().Value.(*list.Element))
		}
	}
	for c.ll.Len() > c.max {
		c.removeLocked(c.ll.Back())
	}
}

// removeLocked removes the entry held in el.
func (c *cache) removeLocked(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.ll.Remove(el)
	delete(c.idx, e.key)
	if e.refusal != nil {
		c.refused.Remove(e.refusal)
	}
}

// clear removes every chain: none is served, verified or refused, once
// the CRLs it was checked with are replaced.
func (c *cache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	c.refused.Init()
	clear(c.idx)
}
