package sqlitewrite

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaveOpen leaves a write transaction open on the connection of b, one
// that has written row 1, as a transaction whose ROLLBACK failed is left.
func leaveOpen(t *testing.T, b *Batcher) {
	t.Helper()
	ctx := context.Background()
	_, err := b.c.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	require.NoError(t, insert(1)(ctx, &b.c.Tx))
}

// TestWriteAfterTransactionLeftOpen: a transaction left open on the
// Batcher's connection (one whose ROLLBACK failed, an error that Rollback
// drops) is rolled back by the next Write's Begin, which then begins its
// own: that Write commits, without the rows of the transaction left open,
// rather than failing with SQLite's "cannot start a transaction within a
// transaction".
func TestWriteAfterTransactionLeftOpen(t *testing.T) {
	db, _, b := openDB(t)
	ctx := context.Background()
	leaveOpen(t, b)

	require.NoError(t, b.Write(ctx, insert(2)))
	assert.Equal(t, []int{2}, keys(t, db))
	require.NoError(t, b.Write(ctx, insert(3)), "the Batcher works on")
	assert.Equal(t, []int{2, 3}, keys(t, db))
}

// TestBeginEndedAfterTransactionLeftOpen: a Begin whose context has ended
// still rolls back a transaction left open on its connection, and fails
// with the context's error, leaving no transaction open: the next Begin
// begins.
func TestBeginEndedAfterTransactionLeftOpen(t *testing.T) {
	db, _, b := openDB(t)
	ctx := context.Background()
	leaveOpen(t, b)

	ended, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, b.c.Begin(ended), context.Canceled)
	require.NoError(t, b.c.Begin(ctx))
	require.NoError(t, insert(2)(ctx, &b.c.Tx))
	require.NoError(t, b.c.Commit())
	assert.Equal(t, []int{2}, keys(t, db))
}
