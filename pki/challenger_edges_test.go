package pki

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/pki/record"
)

// TestChallengerNonceLifetime: a nonce of a Challenger made without a TTL
// is usable for DefaultNonceTTL, two minutes (PROTOCOL.md §4.6), from its
// issue: answered a nanosecond before that it is taken, at that time it is
// refused with ErrNonce, and the record refused for it leaves the card's
// counter as it was.
func TestChallengerNonceLifetime(t *testing.T) {
	ctx := context.Background()
	h := newHierarchy(t)
	issued := t0.Add(time.Hour)
	clk := newClock(issued)
	c := newChallenger(t, h, clk, ChallengerOptions{})
	require.Equal(t, 2*time.Minute, DefaultNonceTTL)

	last, err := c.NewNonce(ctx)
	require.NoError(t, err)
	expired, err := c.NewNonce(ctx)
	require.NoError(t, err)

	clk.set(issued.Add(2*time.Minute - time.Nanosecond))
	_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 1, last), new(record.AuthProof))
	require.NoError(t, err, "usable until two minutes after its issue")

	clk.set(issued.Add(2 * time.Minute))
	_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 2, expired), new(record.AuthProof))
	require.ErrorIs(t, err, ErrNonce, "expired two minutes after its issue")

	fresh, err := c.NewNonce(ctx)
	require.NoError(t, err)
	_, err = c.Verify(ctx, h.chain(), proof(t, h, testICCID, 2, fresh), new(record.AuthProof))
	assert.NoError(t, err, "the record refused for its expired nonce took no counter")
}

// ctxBlindNonces is a NonceStore that does not look at its ctx: it uses
// its MemoryNonces as if every ctx were live.
type ctxBlindNonces struct{ *MemoryNonces }

func (s ctxBlindNonces) Add(_ context.Context, nonce []byte, expires time.Time) error {
	return s.MemoryNonces.Add(context.Background(), nonce, expires)
}

func (s ctxBlindNonces) Consume(_ context.Context, nonce []byte, now time.Time) error {
	return s.MemoryNonces.Consume(context.Background(), nonce, now)
}

// TestVerifyEndedContextBeforeStores: a Challenger's Verify with a ctx
// that has ended fails with the ctx's error before it calls its stores,
// also stores that do not look at the ctx: the nonce stays unspent.
func TestVerifyEndedContextBeforeStores(t *testing.T) {
	h := newHierarchy(t)
	nonces := ctxBlindNonces{NewMemoryNonces(0)}
	c := newChallenger(t, h, newClock(t0.Add(time.Hour)), ChallengerOptions{Nonces: nonces})
	nonce, err := c.NewNonce(context.Background())
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Verify(cancelled, h.chain(), proof(t, h, testICCID, 1, nonce), new(record.AuthProof))
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, nonces.Len(), "the nonce not spent")
}
