package pki

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIssuePlatformAfterCAExpires: IssuePlatform, as IssueCard, refuses
// with ErrExpired a certificate that would start after its CA expires.
func TestIssuePlatformAfterCAExpires(t *testing.T) {
	h := newHierarchy(t)
	der, err := h.ca.IssuePlatform(newKey(t).Public(), "platform", IssueOptions{NotBefore: t0.Add(DefaultCAValidity + time.Hour)})
	requireRefusal(t, err, ErrExpired, -1)
	assert.EqualError(t, err, "pki: certificate expired or not yet valid: the CA expires before the certificate would start")
	assert.Nil(t, der)
}

// TestNewNonceIssuedTwice: a nonce that a Challenger's random source draws
// again while MemoryNonces holds it is not issued: NewNonce returns Add's
// ErrNonce.
func TestNewNonceIssuedTwice(t *testing.T) {
	h := newHierarchy(t)
	c := newChallenger(t, h, newClock(t0.Add(time.Hour)), ChallengerOptions{Rand: allOnes{}})
	first, err := c.NewNonce(context.Background())
	require.NoError(t, err)
	again, err := c.NewNonce(context.Background())
	require.ErrorIs(t, err, ErrNonce)
	assert.EqualError(t, err, "pki: unknown, used or expired nonce: nonce issued twice")
	assert.Nil(t, again)
	assert.NotEmpty(t, first)
}
