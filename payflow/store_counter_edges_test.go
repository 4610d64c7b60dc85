package payflow_test

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/postgres"
	"github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki"
)

// eachStore runs f on a fresh store of each kind: memory, SQLite and,
// when it is configured, PostgreSQL (skipped otherwise).
func eachStore(t *testing.T, f func(t *testing.T, s payflow.Store)) {
	ctx := context.Background()
	t.Run("memory", func(t *testing.T) { f(t, memory.New()) })
	t.Run("sqlite", func(t *testing.T) {
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "casimpay.db"), sqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		s, err := postgres.Open(ctx, testenv.PostgresSchema(t), postgres.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		f(t, s)
	})
}

// TestAcceptCounterAtMaxInt64: the highest counter a store holds,
// 2^63-1, is accepted like any counter above the card's, with its nonce,
// and is then the card's: the same counter again is refused with a
// *pki.CounterError whose Last and Got are both 2^63-1, and its nonce
// left unused.
func TestAcceptCounterAtMaxInt64(t *testing.T) {
	eachStore(t, func(t *testing.T, s payflow.Store) {
		ctx := context.Background()
		card := "8900000000000000001"
		exp := time.Unix(1_800_000_000, 0)
		n1, n2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: n1, NonceExpires: exp, CardID: card, Counter: 7}))
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: n2, NonceExpires: exp, CardID: card, Counter: math.MaxInt64}))
		held := &pki.CounterError{CardID: card, Last: math.MaxInt64, Got: math.MaxInt64}
		assert.Equal(t, held, s.Spent(ctx, nil, card, math.MaxInt64))
		n3 := bytes.Repeat([]byte{3}, 32)
		assert.Equal(t, held, s.Accept(ctx, &payflow.Acceptance{Nonce: n3, NonceExpires: exp, CardID: card, Counter: math.MaxInt64}))
		assert.ErrorIs(t, s.Spent(ctx, n2, "8900000000000000002", 1), pki.ErrNonce, "the nonce accepted is used")
		assert.NoError(t, s.Spent(ctx, n3, "8900000000000000002", 1), "the nonce refused is not")
		assert.Equal(t, held, s.Advance(ctx, card, math.MaxInt64), "Advance reads the counter that Accept wrote")
	})
}
