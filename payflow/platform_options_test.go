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

// TestPlatformLifetimesSet: the lifetimes set in PlatformOptions hold in
// place of their defaults: a request that asks for no TTL expires
// RequestTTL after its creation, a challenge nonce ChallengeTTL after it
// was issued, and the recovery sweep finishes a settlement left half
// done RecoverAfter after it was written, not before.
func TestPlatformLifetimesSet(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{
		RequestTTL: 5 * time.Minute, ChallengeTTL: 20 * time.Second, RecoverAfter: 2 * time.Minute}})
	ch, err := s.Platform.Challenge(ctx, &payflow.ChallengeRequest{CardID: s.shopper.ID})
	require.NoError(t, err)
	assert.Equal(t, s.Clock.Now().Add(20*time.Second), ch.ExpiresAt, "ChallengeTTL")

	v, _ := s.request(t)
	assert.Equal(t, s.Clock.Now().Add(5*time.Minute), v.ExpiresAt, "RequestTTL")
	s.recordConsent(t, v.ID, s.consent(t, v.ID), "")
	s.Clock.Advance(payflow.DefaultRecoverAfter)
	s.sweep(t, 0, "within RecoverAfter")
	s.Clock.Advance(2*time.Minute - payflow.DefaultRecoverAfter)
	s.sweep(t, 1, "RecoverAfter after the consent was recorded")
	s.requireState(t, v.ID, payflow.StateCaptured)
}
