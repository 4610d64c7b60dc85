// Package pkitest is the conformance suite of the stores behind a
// pki.Challenger: pki's MemoryNonces and MemoryCounters pass it, and
// another NonceStore or CounterStore, in memory or in a database, can run
// it from its own tests. The stores of package payflow, which refuse
// counters above 2^63-1, are tested by payflow/paytest instead.
//
//	func TestNonces(t *testing.T) {
//		pkitest.NonceStore(t, func(t *testing.T) pki.NonceStore { return openStore(t) })
//	}
package pkitest

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/casimpay/casimpay/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t0 is the time the suites pass to the stores; they use no clock of their
// own.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func nonce(b byte) []byte {
	n := make([]byte, 32)
	for i := range n {
		n[i] = b
	}
	return n
}

// NonceStore runs the conformance suite against stores made by newStore,
// which is called once per subtest and must return an empty store: a
// nonce added is consumed once, then refused with pki.ErrNonce, as is one
// differing in any byte or never added (which leaves the one added
// usable) and one consumed at its expiry or later; nonces are consumed
// independently, in any order; and of 8 goroutines consuming one nonce at
// once exactly one succeeds, the others getting pki.ErrNonce.
func NonceStore(t *testing.T, newStore func(t *testing.T) pki.NonceStore) {
	ctx := context.Background()
	t.Run("consume once", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.Add(ctx, nonce(1), t0.Add(time.Minute)))
		require.NoError(t, s.Consume(ctx, nonce(1), t0))
		assert.ErrorIs(t, s.Consume(ctx, nonce(1), t0), pki.ErrNonce)
	})
	t.Run("unknown", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.Add(ctx, nonce(1), t0.Add(time.Minute)))
		other := nonce(1)
		other[31] ^= 1
		assert.ErrorIs(t, s.Consume(ctx, other, t0), pki.ErrNonce, "keyed by every byte")
		assert.ErrorIs(t, s.Consume(ctx, nonce(2), t0), pki.ErrNonce)
		require.NoError(t, s.Consume(ctx, nonce(1), t0), "failed lookups leave it usable")
	})
	t.Run("expiry", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.Add(ctx, nonce(1), t0.Add(time.Minute)))
		require.NoError(t, s.Add(ctx, nonce(2), t0.Add(time.Minute)))
		require.NoError(t, s.Consume(ctx, nonce(2), t0.Add(time.Minute-time.Millisecond)))
		assert.ErrorIs(t, s.Consume(ctx, nonce(1), t0.Add(time.Minute)), pki.ErrNonce, "expired at its expiry")
	})
	t.Run("independent", func(t *testing.T) {
		s := newStore(t)
		for b := byte(1); b <= 10; b++ {
			require.NoError(t, s.Add(ctx, nonce(b), t0.Add(time.Minute)))
		}
		for b := byte(10); b >= 1; b-- {
			require.NoError(t, s.Consume(ctx, nonce(b), t0))
		}
	})
	t.Run("concurrent consume", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.Add(ctx, nonce(7), t0.Add(time.Minute)))
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				err := s.Consume(ctx, nonce(7), t0)
				if err == nil {
					ok.Add(1)
				} else if !errors.Is(err, pki.ErrNonce) {
					t.Errorf("consume: %v", err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), ok.Load(), "exactly one consumer wins")
	})
}

// CounterStore runs the conformance suite against stores made by newStore,
// which is called once per subtest and must return an empty store: a
// card's counter is taken when it rises, up to 2^64-1; one equal or lower,
// and 0 for a card never seen, is refused with pki.ErrCounterRegression
// (when the error is a *pki.CounterError, naming the card, the counter
// held and the one refused) and changes nothing; each card has a counter
// of its own; and of 8 goroutines advancing one card to one counter at
// once exactly one succeeds, the others getting ErrCounterRegression.
func CounterStore(t *testing.T, newStore func(t *testing.T) pki.CounterStore) {
	ctx := context.Background()
	const card, other = "89014103211118510720", "8944500102198304826"
	regression := func(t *testing.T, err error, last, got uint64) {
		t.Helper()
		require.ErrorIs(t, err, pki.ErrCounterRegression)
		var ce *pki.CounterError
		if errors.As(err, &ce) {
			assert.Equal(t, pki.CounterError{CardID: card, Last: last, Got: got}, *ce)
		}
	}
	t.Run("increasing", func(t *testing.T) {
		s := newStore(t)
		for _, c := range []uint64{1, 2, 10, math.MaxInt64, math.MaxUint64} {
			require.NoError(t, s.Advance(ctx, card, c))
		}
	})
	t.Run("repeat and regression", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.Advance(ctx, card, 5))
		regression(t, s.Advance(ctx, card, 5), 5, 5)
		regression(t, s.Advance(ctx, card, 4), 5, 4)
		require.NoError(t, s.Advance(ctx, card, 6), "a refused counter changes nothing")
	})
	t.Run("zero", func(t *testing.T) {
		s := newStore(t)
		regression(t, s.Advance(ctx, card, 0), 0, 0)
	})
	t.Run("per card", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.Advance(ctx, card, 100))
		require.NoError(t, s.Advance(ctx, other, 1))
		regression(t, s.Advance(ctx, card, 1), 100, 1)
	})
	t.Run("concurrent compare-and-set", func(t *testing.T) {
		s := newStore(t)
		require.NoError(t, s.Advance(ctx, card, 1))
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				err := s.Advance(ctx, card, 2)
				if err == nil {
					ok.Add(1)
				} else if !errors.Is(err, pki.ErrCounterRegression) {
					t.Errorf("advance: %v", err)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int32(1), ok.Load(), "exactly one writer of the same counter wins")
	})
}
