package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/postgres"
	"github.com/casimpay/casimpay/pki"
)

// TestCloseTwice: Close closes the store's statements and its pool: a
// call after it fails with the store's ErrClosed, no connection is left
// open, and a second Close does nothing and returns nil.
func TestCloseTwice(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, testenv.PostgresSchema(t), postgres.Options{})
	require.NoError(t, err)
	_, err = s.Card(ctx, "8900000000000000001") // its statement prepared
	require.ErrorIs(t, err, payflow.ErrNotFound)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "the second Close")
	_, err = s.Card(ctx, "8900000000000000001")
	assert.ErrorIs(t, err, sqlstate.ErrClosed)
	assert.Zero(t, postgres.Pool(s).Stats().OpenConnections)
}

// TestPipelineEndedBeforeConnection: a call run as a pipeline (Consume)
// whose context has ended before it takes a connection of the pool fails
// with the context's error and runs nothing: the nonce is kept.
func TestPipelineEndedBeforeConnection(t *testing.T) {
	ctx := context.Background()
	s := open(t, testenv.PostgresSchema(t))
	at := time.Unix(1_800_000_000, 0)
	nonce := []byte("casimpay-nonce-ended")
	require.NoError(t, s.Add(ctx, nonce, at.Add(time.Hour)))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, s.Consume(cctx, nonce, at), context.Canceled)
	assert.NoError(t, s.Consume(ctx, nonce, at), "the nonce kept")
	assert.ErrorIs(t, s.Consume(ctx, nonce, at), pki.ErrNonce)
}

// TestPipelineEndsWaitingForConnection: a call run as a pipeline
// (Consume) that waits for a connection of the pool, all of them taken,
// returns once its context ends, with the context's error, while the
// connections are still taken, and runs nothing: the nonce is kept.
func TestPipelineEndsWaitingForConnection(t *testing.T) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, testenv.PostgresSchema(t), postgres.Options{MaxConns: 1})
	require.NoError(t, err)
	defer s.Close()
	at := time.Unix(1_800_000_000, 0)
	nonce := []byte("casimpay-nonce-waiting")
	require.NoError(t, s.Add(ctx, nonce, at.Add(time.Hour)))
	pool := postgres.Pool(s)
	held, err := pool.Conn(ctx)
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Consume(cctx, nonce, at) }()
	await(t, "Consume waiting for a connection", done, func() bool { return pool.Stats().WaitCount == 1 })
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled, "Consume returned, the connection still held")
	require.NoError(t, held.Close())
	assert.NoError(t, s.Consume(ctx, nonce, at), "the nonce kept")
}
