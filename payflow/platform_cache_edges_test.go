package payflow

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
