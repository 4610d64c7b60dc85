package payflow

import (
	"context"
	"sync"
	"time"
)

// cache keeps enrolled cards and merchants for a short while, so that the
// many reads of one purchase do not each go to the database. Entries live
// CacheTTL; a change made by this process replaces its entry at once, one
// made by another process is seen here within CacheTTL. Certificates are
// not trusted from it: every record is verified against the pki.Verifier
// and its CRLs. It is safe for concurrent use.
type cache struct {
	ttl time.Duration

	mu        sync.Mutex
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

func put[T any](c *cache, m map[string]cached[T], key string, v T, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(m) >= maxCached {
		clear(m)
	}
	m[key] = cached[T]{v: v, expires: now.Add(c.ttl)}
}

func forget[T any](c *cache, m map[string]cached[T], key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(m, key)
}

// card returns an enrolled card; the caller must not modify it.
func (p *Platform) card(ctx context.Context, id string) (*CardRecord, error) {
	now := p.now()
	if c, ok := get(&p.cache, p.cache.cards, id, now); ok {
		return c, nil
	}
	c, err := p.store.Card(ctx, id)
	if err != nil {
		return nil, err
	}
	put(&p.cache, p.cache.cards, id, c, now)
	return c, nil
}

// merchant returns a merchant; the caller must not modify it.
func (p *Platform) merchant(ctx context.Context, id string) (*Merchant, error) {
	now := p.now()
	if m, ok := get(&p.cache, p.cache.merchants, id, now); ok {
		return m, nil
	}
	m, err := p.store.Merchant(ctx, id)
	if err != nil {
		return nil, err
	}
	put(&p.cache, p.cache.merchants, id, m, now)
	return m, nil
}
