package sqlitewrite

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sqlite3 "modernc.org/sqlite/lib"
)

// TestLoneWriteTransactionLost: a write alone whose statement makes SQLite
// roll its transaction back fails with that statement's error when it
// returns it, and with COMMIT's when it ignores it: never with
// ErrTransactionLost, which is for the writes of a batch of several.
func TestLoneWriteTransactionLost(t *testing.T) {
	db, _, b := openDB(t)
	ctx := context.Background()
	require.NoError(t, b.Write(ctx, insert(1)))
	for _, returned := range []bool{true, false} {
		err := b.Write(ctx, func(ctx context.Context, tx *Tx) error {
			if err := insert(2)(ctx, tx); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT OR ROLLBACK INTO t (k, v) VALUES (1, 'again')`)
			if returned {
				return err
			}
			return nil
		})
		require.Error(t, err, "returned %v", returned)
		assert.NotErrorIs(t, err, ErrTransactionLost, "returned %v", returned)
		if returned {
			assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqliteCode(err), "%v", err)
		} else {
			assert.Equal(t, sqlite3.SQLITE_ERROR, sqliteCode(err), "COMMIT without a transaction: %v", err)
		}
		assert.Equal(t, []int{1}, keys(t, db))
	}
	require.NoError(t, b.Write(ctx, insert(3)), "the Batcher works on")
	assert.Equal(t, []int{1, 3}, keys(t, db))
}

// TestBatchOneKept: a batch in which one write fails and one is kept
// commits the one kept.
func TestBatchOneKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		boom := errors.New("boom")
		errs, _ := inOneBatch(t, l, b,
			func(ctx context.Context, tx *Tx) error {
				require.NoError(t, insert(1)(ctx, tx))
				return boom
			},
			insert(2),
		)
		assert.ErrorIs(t, errs[0], boom)
		assert.NoError(t, errs[1])
		assert.Equal(t, []int{2}, keys(t, db))
	})
}

// TestBeginFails: when BEGIN fails (here, another connection holds the
// write lock and the busy timeout is zero), every write of the batch fails
// with its error, none runs, the Lock is released, and the next Write
// begins again.
func TestBeginFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		_, err := b.c.ExecContext(context.Background(), "PRAGMA busy_timeout = 0")
		require.NoError(t, err)
		release := holdWriteLock(t, db)
		var ran atomic.Int32
		counted := func(k int) func(context.Context, *Tx) error {
			return func(ctx context.Context, tx *Tx) error {
				ran.Add(1)
				return insert(k)(ctx, tx)
			}
		}
		errs, _ := inOneBatch(t, l, b, counted(1), counted(2), counted(3))
		for i, err := range errs {
			assert.Equal(t, sqlite3.SQLITE_BUSY, sqliteCode(err), "write %d: %v", i, err)
		}
		assert.Zero(t, ran.Load())
		require.True(t, l.TryLock(), "the Lock is released when BEGIN fails")
		l.Unlock()
		release()
		require.NoError(t, b.Write(context.Background(), insert(4)), "the Batcher works on")
		assert.Equal(t, []int{4}, keys(t, db))
	})
}

// TestMaxBatch: a batch holds at most MaxBatch writes; those queued beyond
// run in the next batch, so a transaction lost in the first does not take
// them with it.
func TestMaxBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		require.NoError(t, b.Write(context.Background(), insert(0)))
		fns := []func(context.Context, *Tx) error{func(ctx context.Context, tx *Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT OR ROLLBACK INTO t (k, v) VALUES (0, 'again')`)
			require.Error(t, err)
			return nil // ignored: the batch's transaction is lost
		}}
		for k := 1; k <= MaxBatch; k++ {
			fns = append(fns, insert(k))
		}
		errs, _ := inOneBatch(t, l, b, fns...)
		for i, err := range errs[:MaxBatch] {
			assert.ErrorIs(t, err, ErrTransactionLost, "write %d", i)
		}
		assert.NoError(t, errs[MaxBatch], "the write beyond MaxBatch runs in a batch of its own")
		assert.Equal(t, []int{0, MaxBatch}, keys(t, db))
	})
}

// TestCancelledBeforeItsTurn: a write of a batch whose context ends before
// its fn has started (here, while the write before it runs) is not run and
// returns the context's error; the others of the batch commit.
func TestCancelledBeforeItsTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		first := leaderWaiting(t, l, b, func(ctx context.Context, tx *Tx) error {
			cancel()
			return insert(1)(ctx, tx)
		})
		var ran atomic.Bool
		second := make(chan error, 1)
		go func() {
			second <- b.Write(ctx, func(ctx context.Context, tx *Tx) error {
				ran.Store(true)
				return insert(2)(ctx, tx)
			})
		}()
		queuedWith(t, b, ctx)
		third := make(chan error, 1)
		go func() { third <- b.Write(context.Background(), insert(3)) }()
		requireState(t, b, func() bool { return len(b.queue) == 3 })
		l.Unlock()
		require.NoError(t, <-first)
		assert.ErrorIs(t, <-second, context.Canceled)
		require.NoError(t, <-third)
		assert.False(t, ran.Load())
		assert.Equal(t, []int{1, 3}, keys(t, db))
	})
}
