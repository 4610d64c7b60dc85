package payflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// TestTableClearsEvictedKeys: the keys that a put into a full table drops
// from the head of the order of the entries are cleared at once, so that
// the table holds no memory of them until it compacts its order.
func TestTableClearsEvictedKeys(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	tb := newTable[int](2)
	tb.keep("a", 1, t0.Add(time.Minute), t0)
	tb.keep("b", 2, t0.Add(time.Second), t0)
	tb.keep("c", 3, t0.Add(time.Minute), t0)
	require.Equal(t, map[string]int{"b": 2, "c": 3}, values(tb))
	tb.keep("d", 4, t0.Add(2*time.Minute), t0.Add(time.Second))
	require.Equal(t, map[string]int{"c": 3, "d": 4}, values(tb))
	require.Equal(t, 2, tb.head, "a and b dropped from the head")
	assert.Equal(t, []tableKey{{}, {}}, tb.order[:tb.head])
	assert.Equal(t, []tableKey{{"c", 3}, {"d", 4}}, tb.order[tb.head:])
}

// changedStore is countingStore whose read of a card or a merchant runs
// during after it has read it, as a change made meanwhile.
type changedStore struct {
	countingStore
	during func()
}

func (s *changedStore) Card(ctx context.Context, id string) (*CardRecord, error) {
	c, err := s.countingStore.Card(ctx, id)
	s.changed()
	return c, err
}

func (s *changedStore) Merchant(ctx context.Context, id string) (*Merchant, error) {
	m, err := s.countingStore.Merchant(ctx, id)
	s.changed()
	return m, err
}

// changed runs during once.
func (s *changedStore) changed() {
	if f := s.during; f != nil {
		s.during = nil
		f()
	}
}

// TestMerchantChangedDuringReadIsReadAgain: a merchant that this process
// changes while a read of it is under way is not kept as that read found
// it: the next read goes to the store and finds the change.
func TestMerchantChangedDuringReadIsReadAgain(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	st := &changedStore{countingStore: countingStore{merchants: map[string]*Merchant{"m": {ID: "m", Name: "Shop"}}}}
	p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)
	st.during = func() {
		st.merchants["m"] = &Merchant{ID: "m", Name: "Shop B"}
		forget(&p.cache, p.cache.merchants, "m")
	}

	m, err := p.merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, "Shop", m.Name, "as the read found it")
	m, err = p.merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, "Shop B", m.Name, "read again after the change")
	assert.Equal(t, 2, st.merchReads)
	m, err = p.merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, "Shop B", m.Name)
	assert.Equal(t, 2, st.merchReads, "kept once read after the change")
}

// TestCardChangedDuringReadIsReadAgain: a card that this process enrols
// again, or enrols for the first time, while a read of it is under way
// is not kept as that read found it (with its former record, or absent):
// the next read goes to the store and finds the change.
func TestCardChangedDuringReadIsReadAgain(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	const id = "8944000000000000001"
	record := func(name string) *CardRecord {
		return &CardRecord{ID: id, AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize), DisplayName: name}
	}
	for name, before := range map[string]*CardRecord{"enrolled again": record("Alice"), "enrolled": nil} {
		t.Run(name, func(t *testing.T) {
			cards := map[string]*CardRecord{}
			if before != nil {
				cards[id] = before
			}
			st := &changedStore{countingStore: countingStore{cardsOnly: cardsOnly{cards: cards}}}
			p := cachedPlatform(&Platform{store: st, now: func() time.Time { return now }}, DefaultCacheTTL)
			st.during = func() {
				cards[id] = record("Alice B")
				p.cache.forgetCard(id)
			}

			c, err := p.card(ctx, id)
			if before != nil {
				require.NoError(t, err)
				assert.Equal(t, "Alice", c.DisplayName, "as the read found it")
			} else {
				assert.ErrorIs(t, err, ErrNotFound, "as the read found it")
			}
			for range 2 {
				c, err = p.card(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, "Alice B", c.DisplayName, "read again after the change")
			}
			assert.Equal(t, 2, st.cardReads, "kept once read after the change")
		})
	}
}

// TestSweepKeptByWallClock: the time of the latest sweep is kept without
// the monotonic clock reading that time.Now gives it, so that a later
// sweep is compared with it by the wall clock, as the store compares
// expiries: a sweep at an earlier wall time (the clock set back) never
// moves it back, whatever its monotonic reading.
func TestSweepKeptByWallClock(t *testing.T) {
	var c tokenCache
	now := time.Now()
	require.Contains(t, now.String(), " m=", "time.Now carries a monotonic reading")
	c.sweep(now)
	assert.NotContains(t, c.swept.String(), " m=", "kept with a monotonic reading: %v", c.swept)
	assert.True(t, c.swept.Equal(now))
	c.sweep(now.Add(-time.Second).Round(0))
	assert.True(t, c.swept.Equal(now), "a sweep at an earlier time")
}

// TestCacheFullCardsAndMerchantsDropOne: the cache keeps maxCached cards
// and maxCached merchants; one more put within CacheTTL drops the oldest
// alone.
func TestCacheFullCardsAndMerchantsDropOne(t *testing.T) {
	var c cache
	c.init(10 * time.Second)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range maxCached + 1 {
		id := strconv.Itoa(i)
		put(&c, c.cards, id, &cachedCard{rec: &CardRecord{ID: id}}, 0, t0.Add(time.Duration(i)))
		put(&c, c.merchants, id, &Merchant{ID: id}, 0, t0.Add(time.Duration(i)))
	}
	require.Len(t, c.cards.m, maxCached)
	require.Len(t, c.merchants.m, maxCached)
	now := t0.Add(time.Second)
	_, ok := get(&c, c.cards, "0", now)
	assert.False(t, ok, "the oldest card is dropped")
	_, ok = get(&c, c.merchants, "0", now)
	assert.False(t, ok, "the oldest merchant is dropped")
	for _, id := range []string{"1", strconv.Itoa(maxCached / 2), strconv.Itoa(maxCached)} {
		e, ok := get(&c, c.cards, id, now)
		if assert.True(t, ok, "card %s", id) {
			assert.Equal(t, id, e.rec.ID)
		}
		m, ok := get(&c, c.merchants, id, now)
		if assert.True(t, ok, "merchant %s", id) {
			assert.Equal(t, id, m.ID)
		}
	}
}

// TestTokenExpiringAtSweepNotAnswered: a token that expires at the time of
// the latest sweep, which the store deletes with those expired before it,
// is not answered by the token cache, even at an earlier time.
func TestTokenExpiringAtSweepNotAnswered(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	h := sha256.Sum256([]byte("token"))
	var c tokenCache
	c.put(&TokenRecord{Hash: bytes.Clone(h[:]), CardID: "8944000000000000001", ExpiresAt: now.Add(time.Hour)}, now)
	c.sweep(now.Add(time.Hour - time.Nanosecond))
	got, ok := c.get(h, now)
	require.True(t, ok, "expires after the sweep")
	assert.Equal(t, "8944000000000000001", got.CardID)
	c.sweep(now.Add(time.Hour))
	_, ok = c.get(h, now)
	assert.False(t, ok, "expires at the sweep")
}
