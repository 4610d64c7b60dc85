package payflow_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

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
