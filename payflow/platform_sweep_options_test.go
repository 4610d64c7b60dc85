package payflow_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestRequestTTLCappedByMaxRequestTTL: a request asking for a lifetime
// longer than a MaxRequestTTL that is set expires MaxRequestTTL after its
// creation, whether MaxRequestTTL is shorter or longer than its default,
// and one asking for less expires when it asks, beyond the default too.
func TestRequestTTLCappedByMaxRequestTTL(t *testing.T) {
	for _, c := range []struct {
		max  time.Duration
		ttl  time.Duration
		want time.Duration
	}{
		{5 * time.Minute, 10 * time.Minute, 5 * time.Minute},
		{time.Hour, 30 * time.Minute, 30 * time.Minute},
		{time.Hour, 2 * time.Hour, time.Hour},
	} {
		s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{MaxRequestTTL: c.max}})
		r := paytest.Request(s.session, "EUR", 690)
		r.TTL = uint32(c.ttl / time.Second)
		v, err := s.Create(r)
		require.NoError(t, err)
		assert.Equal(t, s.Clock.Now().Add(c.want), v.ExpiresAt, "MaxRequestTTL %v, TTL %v", c.max, c.ttl)
	}
}

// TestNewPlatformDrawsNonceKeyFromRand: the nonce key that NewPlatform
// stores at first use, in a store that holds none, is drawn from
// PlatformOptions.Rand.
func TestNewPlatformDrawsNonceKeyFromRand(t *testing.T) {
	opts := platformOptions(t)
	opts.Store = memory.New()
	drawn := bytes.Repeat([]byte{0x6e}, 32)
	opts.Rand = bytes.NewReader(drawn)
	_, err := payflow.NewPlatform(opts)
	require.NoError(t, err)
	key, err := opts.Store.NonceKey(context.Background(), bytes.Repeat([]byte{0x01}, 32))
	require.NoError(t, err)
	assert.Equal(t, drawn, key)
}
