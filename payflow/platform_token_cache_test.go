package payflow_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki/record"
)

// TestTokenReadOncePerProcess: a platform process reads a token from the
// store at most once while it lasts (none for a token it issued), and
// still refuses it once it has expired (reading the store for it, as
// every call with a token that it does not keep), or its card is
// revoked; a token that the store does not hold is read at every call.
func TestTokenReadOncePerProcess(t *testing.T) {
	ctx := context.Background()
	st := &storeReads{Store: memory.New()}
	tokenReads := func() int { _, n := st.reads(); return n }
	s := newShopOn(t, st, false, paytest.Options{})
	l := s.shopper.Login(record.RoleShopper)
	for range 3 {
		require.NoError(t, s.Platform.CheckToken(ctx, l.Token))
	}
	assert.Equal(t, 0, tokenReads(), "a token issued by this process")

	other := renewedPlatform(t, s.Fixture)
	for range 3 {
		require.NoError(t, other.CheckToken(ctx, l.Token))
	}
	assert.Equal(t, 1, tokenReads(), "a token issued by another process, read once")

	for range 2 {
		assert.ErrorIs(t, other.CheckToken(ctx, "bm90LWlzc3VlZA"), payflow.ErrUnauthorized)
	}
	assert.Equal(t, 3, tokenReads(), "a token that the store does not hold, read every time")

	s.Revoke(s.shopper)
	assert.ErrorIs(t, s.Platform.CheckToken(ctx, l.Token), payflow.ErrCard, "revoked")
	assert.ErrorIs(t, other.CheckToken(ctx, l.Token), payflow.ErrCard, "revoked")

	l = s.seller.Login(record.RoleSeller)
	require.NoError(t, s.Platform.CheckToken(ctx, l.Token))
	s.Clock.Advance(payflow.DefaultTokenTTL)
	err := s.Platform.CheckToken(ctx, l.Token)
	assert.ErrorIs(t, err, payflow.ErrUnauthorized)
	assert.ErrorContains(t, err, "token expired")
	assert.Equal(t, 4, tokenReads(), "an expired token, read from the store as before it was kept")
}

// TestKeptTokenExpiresByWallClock: a token that a process issued, with a
// clock that carries a monotonic reading (time.Now, the default), expires
// for it at its expiry by the wall clock, as the store's copy does, also
// when the monotonic clock lags the wall clock (a machine resumed from a
// suspend, which its monotonic clock does not count, or a wall clock set
// forward): past it, the token is "token expired" there as in another
// process, and once the store has deleted it. (The store is a SQL store,
// which keeps times without a monotonic reading.)
func TestKeptTokenExpiresByWallClock(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "casimpay.db"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	s := newShopOn(t, st, false, paytest.Options{})
	start := time.Now()
	var mu sync.Mutex
	var lag time.Duration // of the monotonic clock behind the wall clock
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return monotonicLag(start.Add(s.Clock.Now().Sub(start)), lag)
	}
	now := clock()
	lagged := monotonicLag(now, time.Hour)
	require.Equal(t, -time.Hour, lagged.Sub(now), "the monotonic reading moved back")
	require.True(t, lagged.Round(0).Equal(now.Round(0)), "the wall clock kept")

	p, err := payflow.NewPlatform(payflow.PlatformOptions{Ledger: s.Ledger, Store: s.Store, Verifier: s.Verifier,
		Key: s.Key, Chain: s.PlatformChain, Now: clock})
	require.NoError(t, err)
	l, err := p.Login(ctx, &payflow.LoginRequest{Proof: s.shopper.Proof(record.RoleShopper, nil)})
	require.NoError(t, err)
	require.NoError(t, p.CheckToken(ctx, l.Token))
	other := renewedPlatform(t, s.Fixture)

	mu.Lock()
	lag = 2 * payflow.DefaultTokenTTL
	mu.Unlock()
	s.Clock.Advance(2 * payflow.DefaultTokenTTL)
	err = other.CheckToken(ctx, l.Token)
	require.ErrorIs(t, err, payflow.ErrUnauthorized)
	require.ErrorContains(t, err, "token expired", "read from the store")
	err = p.CheckToken(ctx, l.Token)
	assert.ErrorIs(t, err, payflow.ErrUnauthorized)
	assert.ErrorContains(t, err, "token expired", "kept by the process that issued it")

	_, err = s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	h := sha256.Sum256([]byte(l.Token))
	_, err = s.Store.Token(ctx, h[:])
	require.ErrorIs(t, err, payflow.ErrNotFound, "deleted")
	assert.ErrorIs(t, p.CheckToken(ctx, l.Token), payflow.ErrUnauthorized, "deleted from the store")
}

// monotonicLag returns t, which carries a monotonic clock reading, with
// that reading moved back by lag and its wall clock kept, as time.Now
// reads the clocks once the wall clock has gained lag on the monotonic
// clock. It writes the monotonic reading of time.Time (its second word),
// which the caller checks with Sub.
func monotonicLag(t time.Time, lag time.Duration) time.Time {
	(*struct {
		wall uint64
		ext  int64
		loc  *time.Location
	})(unsafe.Pointer(&t)).ext -= int64(lag)
	return t
}

// TestKeptTokenSweptThenClockBack: a token that a process deleted from
// the store as expired (ExpireDue, its clock past the token's expiry) is
// refused by that process as the store read refuses it, "unknown token",
// once its clock has gone back before that expiry, though the process
// kept the token.
func TestKeptTokenSweptThenClockBack(t *testing.T) {
	ctx := context.Background()
	s := newShopOn(t, memory.New(), false, paytest.Options{})
	l := s.shopper.Login(record.RoleShopper)
	require.NoError(t, s.Platform.CheckToken(ctx, l.Token))
	other := renewedPlatform(t, s.Fixture)

	s.Clock.Advance(2 * payflow.DefaultTokenTTL)
	_, err := s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	s.Clock.Advance(-2 * payflow.DefaultTokenTTL)
	err = other.CheckToken(ctx, l.Token)
	require.ErrorIs(t, err, payflow.ErrUnauthorized)
	require.ErrorContains(t, err, "unknown token", "read from the store")
	err = s.Platform.CheckToken(ctx, l.Token)
	assert.ErrorIs(t, err, payflow.ErrUnauthorized)
	assert.ErrorContains(t, err, "unknown token", "kept by the process that deleted it")

	l = s.shopper.Login(record.RoleShopper)
	assert.NoError(t, s.Platform.CheckToken(ctx, l.Token), "a token issued since")
}
