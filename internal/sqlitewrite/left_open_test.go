package sqlitewrite

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteAfterTransactionLeftOpen: a transaction left open on the
// Batcher's connection (one whose ROLLBACK failed, an error that Rollback
// drops) is rolled back by the next Write's Begin, which then begins its
// own: that Write commits, without the rows of the transaction left open,
// rather than failing with SQLite's "cannot start a transaction within a
// transaction".
func TestWriteAfterTransactionLeftOpen(t *testing.T) {
	db, _, b := openDB(t)
	ctx := context.Background()
	_, err := b.c.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	require.NoError(t, insert(1)(ctx, &b.c.Tx))

	require.NoError(t, b.Write(ctx, insert(2)))
	assert.Equal(t, []int{2}, keys(t, db))
	require.NoError(t, b.Write(ctx, insert(3)), "the Batcher works on")
	assert.Equal(t, []int{2, 3}, keys(t, db))
}
