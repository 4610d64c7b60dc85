package payflow

import (
	"context"
	"maps"
	"sync"
	"time"
)

// cache keeps enrolled cards and merchants for a short while, so that the
// many reads of one purchase do not each go to the database. Entries live
// CacheTTL; a change made by this process drops its entry at once (and
// keeps out a read of the store that began before it), one made by
// another process is seen here within CacheTTL. Certificates are
// not trusted from it: every record is verified against the pki.Verifier
// and its CRLs. It is safe for concurrent use.
type cache struct {
	ttl time.Duration

	mu        sync.Mutex
	gen       uint64 // counts forget calls: a read older than one is not kept
	cards     map[string]cached[*CardRecord]
	merchants map[string]cached[*Merchant]
}

type cached[T any] struct {
	v       T
	expires time.Time
}

const maxCached = 100000

func (c *cache) init(ttl time.Duration) {
	c.ttl = ttl
	c.cards = make(map[string]cached[*CardRecord])
	c.merchants = make(map[string]cached[*Merchant])
}

// generation returns the count of forget calls, which a caller takes
// before it reads the store and hands to put.
func (c *cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

func get[T any](c *cache, m map[string]cached[T], key string, now time.Time) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := m[key]
	if !ok || !now.Before(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}

// put keeps v, read from the store after generation returned gen, unless
// forget was called since: v may then predate the change forget announced.
func put[T any](c *cache, m map[string]cached[T], key string, v T, gen uint64, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(m) >= maxCached {
		clear(m)
	}
	m[key] = cached[T]{v: v, expires: now.Add(c.ttl)}
}

// forget drops the entry of key after a change of the store.
func forget[T any](c *cache, m map[string]cached[T], key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(m, key)
}

// forgetCardsOf drops, after a change of merchant's seller cards, every
// card cached as one of them, whether this process wrote it so or read it
// so after another process did, and every card in ids.
func (c *cache) forgetCardsOf(merchant string, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	maps.DeleteFunc(c.cards, func(_ string, e cached[*CardRecord]) bool { return e.v.MerchantID == merchant })
	for _, id := range ids {
		delete(c.cards, id)
	}
}

// card returns an enrolled card; the caller must not modify it.
func (p *Platform) card(ctx context.Context, id string) (*CardRecord, error) {
	now := p.now()
	if c, ok := get(&p.cache, p.cache.cards, id, now); ok {
		return c, nil
	}
	gen := p.cache.generation()
	c, err := p.store.Card(ctx, id)
	if err != nil {
		return nil, err
	}
	put(&p.cache, p.cache.cards, id, c, gen, now)
	return c, nil
}

// merchant returns a merchant; the caller must not modify it.
func (p *Platform) merchant(ctx context.Context, id string) (*Merchant, error) {
	now := p.now()
	if m, ok := get(&p.cache, p.cache.merchants, id, now); ok {
		return m, nil
	}
	gen := p.cache.generation()
	m, err := p.store.Merchant(ctx, id)
	if err != nil {
		return nil, err
	}
	put(&p.cache, p.cache.merchants, id, m, gen, now)
	return m, nil
}
