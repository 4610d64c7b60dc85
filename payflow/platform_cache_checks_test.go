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
