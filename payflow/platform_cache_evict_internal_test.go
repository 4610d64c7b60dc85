package payflow

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCacheFullMapDropsExpiredOrOldest: a put into a map of the cache that
// holds its limit of entries drops those expired by then, from the oldest
// on, or else the oldest one, and keeps every other: a card ID put again
// counts from its latest put, and one forgotten is not counted. The map
// never holds more than its limit.
func TestCacheFullMapDropsExpiredOrOldest(t *testing.T) {
	var c cache
	c.init(10 * time.Second)
	c.absent.limit = 3
	t0 := time.Unix(1_800_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	errAbsent := fmt.Errorf("%w: card", ErrNotFound)
	putAt := func(id string, ms int) {
		t.Helper()
		put(&c, c.absent, id, errAbsent, c.generation(), at(ms))
		require.LessOrEqual(t, len(c.absent.m), 3, "after the put of %s", id)
	}
	held := func(ms int, want ...string) {
		t.Helper()
		assert.Equal(t, want, slices.Sorted(maps.Keys(c.absent.m)))
		for _, id := range want {
			err, ok := get(&c, c.absent, id, at(ms))
			assert.True(t, ok, "%s", id)
			assert.Same(t, errAbsent, err, "%s", id)
		}
	}

	putAt("a", 0)
	putAt("b", 1000)
	putAt("c", 2000)
	held(2000, "a", "b", "c")
	putAt("d", 3000) // none expired: the oldest goes
	held(3000, "b", "c", "d")
	putAt("c", 4000) // held: nothing goes; c expires at 14 s now
	held(4000, "b", "c", "d")
	putAt("e", 5000) // none expired: the oldest, b, goes
	held(5000, "c", "d", "e")
	putAt("f", 13500) // d expired at 13 s, c expires at 14 s: only d goes
	held(13500, "c", "e", "f")
	putAt("g", 16000) // c and e expired: both go
	held(16000, "f", "g")
	putAt("h", 16000) // room: nothing goes
	held(16000, "f", "g", "h")
	forget(&c, c.absent, "f")
	held(16000, "g", "h")
	putAt("i", 17000)
	putAt("j", 18000) // none expired: the oldest left, g, goes
	held(18000, "h", "i", "j")
	c.forgetAbsent()
	held(18000)
	putAt("k", 19000)
	held(19000, "k")

	// The cards and the merchants are kept so too.
	c.merchants.limit = 1
	put(&c, c.merchants, "m1", &Merchant{ID: "m1"}, c.generation(), at(20000))
	put(&c, c.merchants, "m2", &Merchant{ID: "m2"}, c.generation(), at(21000))
	assert.Equal(t, []string{"m2"}, slices.Sorted(maps.Keys(c.merchants.m)))
	c.cards.limit = 1
	put(&c, c.cards, "c1", &cachedCard{rec: &CardRecord{ID: "c1"}}, c.generation(), at(20000))
	put(&c, c.cards, "c2", &cachedCard{rec: &CardRecord{ID: "c2"}}, c.generation(), at(21000))
	assert.Equal(t, []string{"c2"}, slices.Sorted(maps.Keys(c.cards.m)))
}

// TestCacheOrderStaysBounded: the order that a map of the cache keeps of
// its entries holds at most twice as many keys as the map, and 16 more,
// whether its entries are dropped by later puts of a full map, put again
// or forgotten.
func TestCacheOrderStaysBounded(t *testing.T) {
	var c cache
	c.init(time.Hour)
	c.absent.limit = 3
	t0 := time.Unix(1_800_000_000, 0)
	bounded := func() {
		t.Helper()
		require.LessOrEqual(t, len(c.absent.order), 2*len(c.absent.m)+16)
	}
	for i := range 1000 {
		put(&c, c.absent, strconv.Itoa(i), ErrNotFound, c.generation(), t0.Add(time.Duration(i)))
		bounded()
	}
	assert.Equal(t, []string{"997", "998", "999"}, slices.Sorted(maps.Keys(c.absent.m)))
	for i := range 1000 {
		put(&c, c.absent, "again", ErrNotFound, c.generation(), t0.Add(time.Duration(i)))
		bounded()
	}
	assert.Equal(t, []string{"998", "999", "again"}, slices.Sorted(maps.Keys(c.absent.m)))
	for i := range 1000 {
		id := "forgotten" + strconv.Itoa(i)
		put(&c, c.absent, id, ErrNotFound, c.generation(), t0.Add(time.Duration(i)))
		bounded()
		forget(&c, c.absent, id)
	}
	assert.Equal(t, []string{"999", "again"}, slices.Sorted(maps.Keys(c.absent.m)))
}

// TestAbsentCacheFullDropsOne: the cache keeps maxCached absent card IDs;
// one more put within CacheTTL drops the oldest alone.
func TestAbsentCacheFullDropsOne(t *testing.T) {
	var c cache
	c.init(10 * time.Second)
	t0 := time.Unix(1_800_000_000, 0)
	for i := range maxCached + 1 {
		put(&c, c.absent, strconv.Itoa(i), ErrNotFound, 0, t0.Add(time.Duration(i)))
	}
	require.Len(t, c.absent.m, maxCached)
	now := t0.Add(time.Second)
	_, ok := get(&c, c.absent, "0", now)
	assert.False(t, ok, "the oldest is dropped")
	for _, id := range []string{"1", strconv.Itoa(maxCached / 2), strconv.Itoa(maxCached)} {
		_, ok := get(&c, c.absent, id, now)
		assert.True(t, ok, "%s", id)
	}
}

// TestTokenCacheFullDropsExpiredOrOldest: the tokens a process keeps are
// kept as the cache's maps are: a put into a full token cache drops the
// tokens expired by then, from the oldest kept on, or else the oldest one,
// and keeps every other; at maxCached tokens, one more drops the oldest
// alone.
func TestTokenCacheFullDropsExpiredOrOldest(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	hash := func(name string) [sha256.Size]byte { return sha256.Sum256([]byte(name)) }
	var c tokenCache
	putAt := func(name string, now, expires int) {
		t.Helper()
		h := hash(name)
		c.put(&TokenRecord{Hash: h[:], CardID: name, ExpiresAt: at(expires)}, at(now))
	}
	held := func(now int, want ...string) {
		t.Helper()
		require.Len(t, c.t.m, len(want))
		for _, name := range want {
			got, ok := c.get(hash(name), at(now))
			if assert.True(t, ok, "%s", name) {
				assert.Equal(t, name, got.CardID)
			}
		}
	}

	putAt("a", 0, 100)
	c.t.limit = 3
	putAt("b", 1, 101)
	putAt("c", 2, 50) // read from the store: issued before a
	held(2, "a", "b", "c")
	putAt("d", 3, 103) // none expired: the oldest, a, goes
	held(3, "b", "c", "d")
	putAt("e", 60, 160) // b, the oldest, has not expired: it goes, and c, expired, stays
	held(49, "c", "d", "e")
	putAt("f", 104, 204) // c and d, the oldest, expired by then: both go
	held(104, "e", "f")

	var full tokenCache
	for i := range maxCached + 1 {
		h := hash(strconv.Itoa(i))
		full.put(&TokenRecord{Hash: h[:], CardID: strconv.Itoa(i), ExpiresAt: at(3600)}, t0.Add(time.Duration(i)))
	}
	require.Len(t, full.t.m, maxCached)
	_, ok := full.get(hash("0"), at(1))
	assert.False(t, ok, "the oldest is dropped")
	for _, id := range []string{"1", strconv.Itoa(maxCached / 2), strconv.Itoa(maxCached)} {
		got, ok := full.get(hash(id), at(1))
		if assert.True(t, ok, "%s", id) {
			assert.Equal(t, id, got.CardID)
		}
	}
}
