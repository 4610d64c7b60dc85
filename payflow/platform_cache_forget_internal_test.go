package payflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestCacheForgetKeepsOutOlderReads: every forget of the cache, whatever
// it drops, keeps out the put of a read that began before it, and drops
// what it names at once.
func TestCacheForgetKeepsOutOlderReads(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	errAbsent := fmt.Errorf("%w: card", ErrNotFound)
	card := func(id, merchant string) *cachedCard {
		return &cachedCard{rec: &CardRecord{ID: id, MerchantID: merchant}}
	}
	for name, forgetAll := range map[string]func(c *cache){
		"forget":        func(c *cache) { forget(c, c.merchants, "m") },
		"forgetCard":    func(c *cache) { c.forgetCard("x") },
		"forgetAbsent":  func(c *cache) { c.forgetAbsent() },
		"forgetCardsOf": func(c *cache) { c.forgetCardsOf("m", nil) },
	} {
		t.Run(name, func(t *testing.T) {
			var c cache
			c.init(time.Minute)
			gen := c.generation()
			forgetAll(&c)
			put(&c, c.cards, "a", card("a", ""), gen, now)
			put(&c, c.absent, "b", errAbsent, gen, now)
			put(&c, c.merchants, "m", &Merchant{ID: "m"}, gen, now)
			assert.Empty(t, c.cards.m)
			assert.Empty(t, c.absent.m)
			assert.Empty(t, c.merchants.m)
			gen = c.generation()
			put(&c, c.cards, "a", card("a", ""), gen, now)
			_, ok := get(&c, c.cards, "a", now)
			assert.True(t, ok, "a read begun after")
		})
	}

	var c cache
	c.init(time.Minute)
	gen := c.generation()
	put(&c, c.cards, "x", card("x", ""), gen, now)
	put(&c, c.absent, "x", errAbsent, gen, now)
	put(&c, c.absent, "y", errAbsent, gen, now)
	c.forgetCard("x")
	_, ok := get(&c, c.cards, "x", now)
	assert.False(t, ok)
	_, ok = get(&c, c.absent, "x", now)
	assert.False(t, ok, "forgetCard drops the card ID from the absent ones")
	_, ok = get(&c, c.absent, "y", now)
	assert.True(t, ok)
	c.forgetAbsent()
	_, ok = get(&c, c.absent, "y", now)
	assert.False(t, ok)
}

// TestForgetCardsOfMerchant: forgetCardsOf drops the cards cached as the
// merchant's and those it names, and keeps the others.
func TestForgetCardsOfMerchant(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var c cache
	c.init(time.Minute)
	gen := c.generation()
	for id, merchant := range map[string]string{"s1": "m", "s2": "m", "o1": "other", "p1": "", "p2": ""} {
		put(&c, c.cards, id, &cachedCard{rec: &CardRecord{ID: id, MerchantID: merchant}}, gen, now)
	}
	c.forgetCardsOf("m", []string{"p1"})
	for id, want := range map[string]bool{"s1": false, "s2": false, "p1": false, "o1": true, "p2": true} {
		_, ok := get(&c, c.cards, id, now)
		assert.Equal(t, want, ok, "%s", id)
	}
}

// TestCacheEntryExpiresAtTTL: an entry is answered until CacheTTL after
// its read began, not at that time.
func TestCacheEntryExpiresAtTTL(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var c cache
	c.init(time.Minute)
	put(&c, c.merchants, "m", &Merchant{ID: "m"}, c.generation(), now)
	_, ok := get(&c, c.merchants, "m", now.Add(time.Minute-time.Nanosecond))
	assert.True(t, ok)
	_, ok = get(&c, c.merchants, "m", now.Add(time.Minute))
	assert.False(t, ok)
}

// TestTableDropsEveryEntryExpiredAtNow: a full table drops every oldest
// entry that expires at the time of the put, not only those expired
// before it.
func TestTableDropsEveryEntryExpiredAtNow(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	tb := newTable[int](2)
	tb.keep("a", 1, t0, t0.Add(-time.Second))
	tb.keep("b", 2, t0, t0.Add(-time.Second))
	tb.keep("c", 3, t0.Add(time.Minute), t0)
	assert.Equal(t, map[string]int{"c": 3}, values(tb))
}

func values[T any](tb *table[T]) map[string]T {
	m := make(map[string]T)
	for k, e := range tb.m {
		m[k] = e.v
	}
	return m
}

// TestTableClearsDroppedKeys: the keys that compact and empty drop from
// the order of the entries are cleared, so that the table holds no
// memory of them.
func TestTableClearsDroppedKeys(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	tb := newTable[int](10)
	for i := 0; ; i++ {
		require.Less(t, i, 100)
		before := len(tb.order)
		tb.keep("k", i, t0.Add(time.Minute), t0)
		if len(tb.order) < before {
			break // compacted
		}
	}
	assert.Equal(t, []tableKey{{"k", tb.seq}}, tb.order)
	for _, k := range tb.order[len(tb.order):cap(tb.order)] {
		assert.Equal(t, tableKey{}, k)
	}
	for i := range 5 {
		tb.keep(strconv.Itoa(i), i, t0.Add(time.Minute), t0)
	}
	tb.empty()
	assert.Empty(t, tb.m)
	assert.Empty(t, tb.order)
	for _, k := range tb.order[:cap(tb.order)] {
		assert.Equal(t, tableKey{}, k)
	}
}

// TestCachedCardKeepsDerivedKeys: the EID key and the certificate's key of
// a card are derived once and kept; an advertising secret that adv
// refuses is ErrInternal, and a card without a chain has no certificate's
// key.
func TestCachedCardKeepsDerivedKeys(t *testing.T) {
	ca := newTestCA(t)
	e := &cachedCard{rec: &CardRecord{ID: "8944000000000000001", AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize), Chain: ca.chain(t, "8944000000000000001")}}
	k1, err := e.eidKey()
	require.NoError(t, err)
	k2, err := e.eidKey()
	require.NoError(t, err)
	assert.Same(t, k1, k2)
	pub := e.leafKey()
	require.NotNil(t, pub)
	assert.Same(t, pub, e.leafKey())

	bad := &cachedCard{rec: &CardRecord{ID: "8944000000000000002", AdvSecret: []byte{1, 2, 3}}}
	_, err = bad.eidKey()
	assert.ErrorIs(t, err, ErrInternal)
	assert.NotErrorIs(t, err, ErrInvalid)
	assert.Nil(t, bad.key.Load())
	assert.Nil(t, bad.leafKey(), "no chain, no certificate's key")
}

// countingStore counts the reads of cards and merchants, and fails the
// next read of a card with fail when set.
type countingStore struct {
	cardsOnly
	merchants             map[string]*Merchant
	fail                  error
	cardReads, merchReads int
}

func (s *countingStore) Card(ctx context.Context, id string) (*CardRecord, error) {
	s.cardReads++
	if err := s.fail; err != nil {
		s.fail = nil
		return nil, err
	}
	return s.cardsOnly.Card(ctx, id)
}

func (s *countingStore) Merchant(_ context.Context, id string) (*Merchant, error) {
	s.merchReads++
	if m, ok := s.merchants[id]; ok {
		return m, nil
	}
	return nil, ErrNotFound
}

// TestCacheReadsStoreOnce: within CacheTTL, a card, a card ID that the
// store does not hold and a merchant are read from the store once; a
// failure of the store is not kept.
func TestCacheReadsStoreOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	const id, absent = "8944000000000000001", "8944000000000000009"
	st := &countingStore{
		cardsOnly: cardsOnly{cards: map[string]*CardRecord{id: {ID: id, AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize)}}},
		merchants: map[string]*Merchant{"m": {ID: "m", Name: "Shop"}},
	}
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)

	for range 2 {
		_, err := p.card(ctx, absent)
		assert.ErrorIs(t, err, ErrNotFound)
	}
	assert.Equal(t, 1, st.cardReads, "an absent card ID")

	down := errors.New("store down")
	st.fail = down
	_, err := p.card(ctx, id)
	assert.ErrorIs(t, err, down)
	assert.NotErrorIs(t, err, ErrNotFound)
	c, err := p.card(ctx, id)
	require.NoError(t, err, "a failure is not kept")
	assert.Equal(t, id, c.ID)
	_, err = p.card(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, 3, st.cardReads)

	for range 2 {
		m, err := p.merchant(ctx, "m")
		require.NoError(t, err)
		assert.Equal(t, "Shop", m.Name)
	}
	assert.Equal(t, 1, st.merchReads)
	now = now.Add(DefaultCacheTTL)
	_, err = p.merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, 2, st.merchReads, "after CacheTTL")
}

// TestTokenCacheKeepsItsOwnCopy: the token cache keeps a copy of a token
// with a SHA-256 hash, of which a change of the caller's changes nothing,
// none of another, drops a token it finds expired, and answers no token
// expired at the latest sweep, however far back the clock goes, or a
// later sweep at an earlier time.
func TestTokenCacheKeepsItsOwnCopy(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var c tokenCache
	c.put(&TokenRecord{Hash: []byte{1, 2, 3}, CardID: "x", ExpiresAt: now.Add(time.Hour)}, now)
	assert.True(t, c.t == nil || len(c.t.m) == 0, "a hash that is no SHA-256")

	h := sha256.Sum256([]byte("token"))
	tok := &TokenRecord{Hash: bytes.Clone(h[:]), CardID: "8944000000000000001", CertHash: []byte{9}, ExpiresAt: now.Add(time.Hour)}
	c.put(tok, now)
	tok.Hash[0]++
	tok.CertHash[0]++
	got, ok := c.get(h, now)
	require.True(t, ok)
	assert.Equal(t, h[:], got.Hash)
	assert.Equal(t, []byte{9}, got.CertHash)

	_, ok = c.get(h, now.Add(time.Hour))
	assert.False(t, ok)
	assert.Empty(t, c.t.m, "an expired token is dropped")

	tok = &TokenRecord{Hash: bytes.Clone(h[:]), CardID: "8944000000000000001", ExpiresAt: now.Add(time.Hour)}
	c.put(tok, now)
	c.sweep(now.Add(2 * time.Hour))
	c.sweep(now.Add(time.Minute))
	_, ok = c.get(h, now)
	assert.False(t, ok, "expired at the latest sweep")
}
