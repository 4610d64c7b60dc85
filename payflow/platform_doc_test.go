package payflow_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
)

// TestStoreCardsEndsAtFnError: an error of Cards' fn ends the walk, as
// Store.Cards says: fn is called for the first card only, and Cards
// returns that error itself.
func TestStoreCardsEndsAtFnError(t *testing.T) {
	eachStore(t, func(t *testing.T, s payflow.Store) {
		ctx := context.Background()
		for i, id := range []string{"8900000000000000001", "8900000000000000002"} {
			c := &payflow.CardRecord{ID: id, AdvSecret: bytes.Repeat([]byte{byte(i + 1)}, adv.SecretSize), DisplayName: "card"}
			require.NoError(t, s.PutCard(ctx, c))
		}
		stop := errors.New("stop")
		var seen []string
		err := s.Cards(ctx, func(c *payflow.CardRecord) error {
			seen = append(seen, c.ID)
			return stop
		})
		assert.Same(t, stop, err)
		assert.Equal(t, []string{"8900000000000000001"}, seen)
	})
}

// TestStoreAddKeepsTheNonceHeld: Add of a nonce that the store holds
// already is ErrConflict, and the nonce held keeps its expiry: Consume
// after it, before the expiry asked the second time, finds it expired.
func TestStoreAddKeepsTheNonceHeld(t *testing.T) {
	eachStore(t, func(t *testing.T, s payflow.Store) {
		ctx := context.Background()
		n := []byte("nonce")
		require.NoError(t, s.Add(ctx, n, checkedAt))
		assert.ErrorIs(t, s.Add(ctx, n, checkedAt.Add(time.Hour)), payflow.ErrConflict)
		assert.ErrorIs(t, s.Consume(ctx, n, checkedAt.Add(time.Minute)), pki.ErrNonce)
		assert.ErrorIs(t, s.Consume(ctx, n, checkedAt.Add(-time.Minute)), pki.ErrNonce, "consumed by the call before")
	})
}

// TestStoreLookupIdempotentRefusesAnUnstorableKey: a Store's
// LookupIdempotent refuses a key that no Store keeps with ErrInvalid, as
// its BeginIdempotent does; a key of MaxKeySize bytes is looked up, and
// has no entry.
func TestStoreLookupIdempotentRefusesAnUnstorableKey(t *testing.T) {
	eachStore(t, func(t *testing.T, s payflow.Store) {
		ctx := context.Background()
		r, ok := s.(payflow.ReplyReader)
		require.True(t, ok, "%T is a ReplyReader", s)
		for _, bad := range []string{"a\x00b", "\xff", strings.Repeat("k", payflow.MaxKeySize+1)} {
			rep, err := r.LookupIdempotent(ctx, bad, []byte{1}, checkedAt)
			assert.ErrorIs(t, err, payflow.ErrInvalid, "key %q", bad)
			assert.Nil(t, rep, "key %q", bad)
			_, err = s.BeginIdempotent(ctx, bad, []byte{1}, checkedAt, checkedAt.Add(time.Minute))
			assert.ErrorIs(t, err, payflow.ErrInvalid, "key %q claimed", bad)
		}
		rep, err := r.LookupIdempotent(ctx, strings.Repeat("k", payflow.MaxKeySize), []byte{1}, checkedAt)
		assert.NoError(t, err)
		assert.Nil(t, rep)
	})
}

// TestNewPlatformNonceKeyFromRand: NewPlatform offers the store a nonce
// key read from PlatformOptions.Rand, which a store that holds none keeps,
// and fails, with Rand's error, when Rand cannot give it, also over a
// store that holds a key already.
func TestNewPlatformNonceKeyFromRand(t *testing.T) {
	ctx := context.Background()
	opts := platformOptions(t)
	opts.Store = memory.New() // the fixture's holds its platform's key
	key := bytes.Repeat([]byte{0x42}, 32)
	opts.Rand = io.MultiReader(bytes.NewReader(key), rand.Reader)
	_, err := payflow.NewPlatform(opts)
	require.NoError(t, err)
	got, err := opts.Store.NonceKey(ctx, bytes.Repeat([]byte{1}, 32))
	require.NoError(t, err)
	assert.Equal(t, key, got, "the key read from Rand is the store's")

	down := errors.New("random source down")
	opts.Rand = iotest.ErrReader(down)
	p, err := payflow.NewPlatform(opts)
	assert.ErrorIs(t, err, down)
	assert.EqualError(t, err, "payflow: nonce key: random source down")
	assert.True(t, p == nil, "no platform")
}

// TestBalanceOfAnUnknownUnit: Balance in a unit that is neither a
// currency nor a registered asset is ErrInvalid, for a card and for a
// merchant, as Balance's godoc says, and in a currency the owner has no
// account in ErrNotFound.
func TestBalanceOfAnUnknownUnit(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	for _, owner := range []string{s.shopper.ID, merchantID} {
		_, err := s.Platform.Balance(ctx, owner, "coupon")
		require.ErrorIs(t, err, payflow.ErrInvalid, owner)
		assert.EqualError(t, err, `payflow: invalid request: "coupon" is neither a currency nor a registered asset`, owner)
		_, err = s.Platform.Balance(ctx, owner, "USD")
		assert.ErrorIs(t, err, payflow.ErrNotFound, owner)
	}
}
