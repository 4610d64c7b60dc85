package payflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
)

// inDebt returns a limiter (burst 2, 1 a second, sweeping from minSweep
// buckets) holding n cards that each drew one resolution at t0, so that
// each is in debt until a second later, and their keys.
func inDebt(t testing.TB, n, minSweep int, t0 time.Time) (*limiter, []string) {
	var l limiter
	l.init(1, 2, minSweep)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "card " + strconv.Itoa(i)
		require.NoError(t, l.allow(keys[i], t0))
	}
	return &l, keys
}

// TestLimiterSweep: a new card sweeps the refilled buckets once the
// limiter holds minSweep of them, and then not before their number has
// doubled, so that every new card costs amortised constant time however
// many cards are in debt. No card in debt is ever forgotten: each stays
// limited however many cards come after it. The limiter sweeps from 100
// buckets here, from minLimiterSweep in a platform.
func TestLimiterSweep(t *testing.T) {
	const minSweep = 100
	t0 := time.Unix(1_800_000_000, 0)
	l, keys := inDebt(t, minSweep, minSweep, t0)
	for _, k := range keys[:minSweep/2] {
		require.NoError(t, l.allow(k, t0), "the first half draws its whole burst")
	}
	require.Len(t, l.buckets, minSweep)

	t1 := t0.Add(time.Second) // the second half has refilled
	require.NoError(t, l.allow("new", t1))
	assert.Equal(t, minSweep/2+1, len(l.buckets), "the sweep dropped the refilled half and nothing else")
	for _, k := range keys[:minSweep/2] {
		require.NoError(t, l.allow(k, t1), "%s: one refilled", k)
		require.ErrorIs(t, l.allow(k, t1), ErrRateLimited, "%s: its debt is kept", k)
	}

	l, keys = inDebt(t, minSweep, minSweep, t0)
	require.NoError(t, l.allow("first", t0), "at the threshold, with every card in debt")
	require.Equal(t, minSweep+1, len(l.buckets), "no card in debt is dropped")
	for _, k := range keys {
		require.NoError(t, l.allow(k, t0), "%s: the last of its burst", k)
		require.ErrorIs(t, l.allow(k, t0), ErrRateLimited, "%s: its debt is kept", k)
	}
	// Every card drew its whole burst at t0: all have refilled at t2, but
	// the next sweep waits until the buckets number twice those the last
	// one left.
	t2 := t0.Add(2 * time.Second)
	for i := range minSweep - 1 {
		require.NoError(t, l.allow("later "+strconv.Itoa(i), t2))
		require.Equal(t, minSweep+2+i, len(l.buckets), "no sweep before the buckets have doubled")
	}
	require.NoError(t, l.allow("last", t2))
	assert.Equal(t, minSweep, len(l.buckets), "the sweep dropped the cards of t0 and kept those of t2")
}

// TestServerErrorNil: no error is no platform failure, and has no *Error;
// an error that wraps no sentinel is an internal one, an unavailable one
// too is the platform's failure, and a verdict on the call is not.
func TestServerErrorNil(t *testing.T) {
	assert.Nil(t, AsError(nil))
	assert.False(t, serverError(nil))
	for _, tc := range []struct {
		err    error
		code   string
		server bool
	}{
		{errors.New("lost connection"), "internal", true},
		{fmt.Errorf("%w: database down", ErrUnavailable), "unavailable", true},
		{fmt.Errorf("%w: unknown EID", ErrNotFound), "not_found", false},
		{&RateLimitedError{RetryAfter: time.Second}, "rate_limited", false},
	} {
		require.NotNil(t, AsError(tc.err), "%v", tc.err)
		assert.Equal(t, tc.code, AsError(tc.err).Code, "%v", tc.err)
		assert.Equal(t, tc.server, serverError(tc.err), "%v", tc.err)
	}
}

// BenchmarkLimiterNewCard: the resolution of a card the limiter does not
// hold yet, while 100 000 cards are in debt.
func BenchmarkLimiterNewCard(b *testing.B) {
	t0 := time.Unix(1_800_000_000, 0)
	l, _ := inDebt(b, 100000, minLimiterSweep, t0)
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = "new " + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := l.allow(keys[i], t0); err != nil {
			b.Fatal(err)
		}
	}
}

// cardsOnly is a Store that holds enrolled cards and nothing else.
type cardsOnly struct {
	Store
	cards map[string]*CardRecord
}

func (s *cardsOnly) Card(_ context.Context, id string) (*CardRecord, error) {
	if c, ok := s.cards[id]; ok {
		return c, nil
	}
	return nil, ErrNotFound
}

func (s *cardsOnly) Cards(_ context.Context, fn func(*CardRecord) error) error {
	for _, id := range slices.Sorted(maps.Keys(s.cards)) {
		if err := fn(s.cards[id]); err != nil {
			return err
		}
	}
	return nil
}

// TestReloadFreesDeletedCard: a Reload that no longer finds a card in the
// store takes it out of the EID resolver and its entry out of the card
// cache, and keeps the others; one whose scan fails takes out nothing.
func TestReloadFreesDeletedCard(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	const alice, bob = "8944000000000000001", "8944000000000000002"
	st := &cardsOnly{cards: map[string]*CardRecord{
		alice: {ID: alice, AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize), DisplayName: "Alice"},
		bob:   {ID: bob, AdvSecret: bytes.Repeat([]byte{0x5b}, adv.SecretSize), DisplayName: "Bob"},
	}}
	p := &Platform{store: st, now: func() time.Time { return now }}
	p.cache.init(DefaultCacheTTL)
	require.NoError(t, p.Reload(ctx))
	for _, id := range []string{alice, bob} {
		_, err := p.card(ctx, id)
		require.NoError(t, err)
	}
	require.Equal(t, []string{alice, bob}, p.resolver.CardIDs())

	delete(st.cards, alice)
	failing := &failingScan{Store: st}
	p.store = failing
	require.ErrorIs(t, p.Reload(ctx), errScan)
	assert.Equal(t, []string{alice, bob}, p.resolver.CardIDs(), "a failed scan tells no card deleted")
	p.store = st
	require.NoError(t, p.Reload(ctx))
	assert.Equal(t, []string{bob}, p.resolver.CardIDs(), "the resolver")
	assert.Nil(t, p.cache.entry(alice), "the cache")
	assert.NotNil(t, p.cache.entry(bob), "the card still stored stays cached")
}

var errScan = errors.New("scan failed")

// failingScan is a Store whose scans of the cards fail after calling fn
// for none of them.
type failingScan struct{ Store }

func (s *failingScan) Cards(context.Context, func(*CardRecord) error) error { return errScan }

// BenchmarkResolveHit: the resolution of the current EID of a card that
// the EID resolver and the cache hold, from every processor at once.
func BenchmarkResolveHit(b *testing.B) {
	t0 := time.Unix(1_800_000_000, 0)
	c := &CardRecord{ID: "8944000000000000001", AdvSecret: bytes.Repeat([]byte{0x5a}, adv.SecretSize), DisplayName: "Alice"}
	p := &Platform{store: &cardsOnly{cards: map[string]*CardRecord{c.ID: c}}, now: func() time.Time { return t0 }}
	p.cache.init(time.Hour)
	require.NoError(b, p.resolver.enrol(c.ID, c.AdvSecret))
	k, err := adv.NewEIDKey(c.AdvSecret)
	require.NoError(b, err)
	eid := k.EID(adv.Epoch(t0))
	got, err := p.resolve(context.Background(), eid[:])
	require.NoError(b, err)
	require.Equal(b, c.ID, got.ID)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.resolve(context.Background(), eid[:]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
