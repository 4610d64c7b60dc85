package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
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
