package pki

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCacheRefusalAtABound: a chain refused at the very time of a bound
// that the verification compares is refused again from the cache at that
// time, with the same error value: a bound reached is passed (now.Before
// it is false), so that the refusal's span starts there. Revoked at t0,
// the NotBefore of every certificate and the this update of the CRLs;
// expired a nanosecond after the card's NotAfter plus the skew, the first
// time at which the check of the certificates presented refuses it.
func TestCacheRefusalAtABound(t *testing.T) {
	for _, tt := range []struct {
		name string
		at   time.Time
		want error
	}{
		{"revoked at the NotBefore and this update", t0, ErrRevoked},
		{"expired at the NotAfter plus the skew plus a nanosecond", t0.Add(2*time.Hour + DefaultSkew + time.Nanosecond), ErrExpired},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHierarchy(t)
			short, chain := h.shortCard(t) // valid until t0 + 2h
			require.NoError(t, h.ca.Revoke(mustParse(t, short).SerialNumber, ReasonKeyCompromise))
			v := newVerifier(t, h, newClock(tt.at), VerifierOptions{})
			addCRLs(t, h, v)

			_, first := v.VerifyCard(chain)
			requireRefusal(t, first, tt.want, 0)
			assert.Equal(t, 1, v.cache.refusals(), "the refusal kept")
			_, again := v.VerifyCard(chain)
			assert.Same(t, first, again, "the refusal served from the cache")
		})
	}
}

// TestCacheSizeDefault: CacheSize zero keeps 4096 chains, of which 1024
// refusals at most; a positive size keeps as many, a quarter of them
// refusals (rounded down); a negative one, no cache.
func TestCacheSizeDefault(t *testing.T) {
	h := newHierarchy(t)
	for _, tt := range []struct {
		size, max, refused int
	}{
		{0, 4096, 1024},
		{7, 7, 1},
		{3, 3, 0},
	} {
		v := newVerifier(t, h, newClock(t0), VerifierOptions{CacheSize: tt.size})
		require.NotNil(t, v.cache, "CacheSize %d", tt.size)
		assert.Equal(t, tt.max, v.cache.max, "CacheSize %d: chains", tt.size)
		assert.Equal(t, tt.refused, v.cache.maxRefused, "CacheSize %d: refusals", tt.size)
	}
	assert.Nil(t, newVerifier(t, h, newClock(t0), VerifierOptions{CacheSize: -1}).cache, "CacheSize -1: no cache")
}
