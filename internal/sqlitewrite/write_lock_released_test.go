package sqlitewrite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/internal/sqlitedb"
)

// beginElsewhere runs BEGIN IMMEDIATE on a connection of db other than the
// Batcher's, without waiting for a lock that another connection holds
// (busy timeout zero), as another store of the file or another process
// does, and returns its error: nil when SQLite's write lock of the file
// is free.
func beginElsewhere(t *testing.T, db *sql.DB) error {
	t.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.ExecContext(ctx, "PRAGMA busy_timeout = 0")
	require.NoError(t, err)
	defer func() {
		_, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 60000")
		require.NoError(t, err)
	}()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	return nil
}

// TestFailedWriteReleasesWriteLock: a Write that fails, alone or in a
// batch, whether its fn failed or the COMMIT did or SQLite rolled the
// transaction back under the batch, returns with no transaction left open
// on the Batcher's connection: SQLite's write lock of the file is free for
// the other connections as soon as Write returns, not held until the
// Batcher's next Write.
func TestFailedWriteReleasesWriteLock(t *testing.T) {
	boom := errors.New("boom")
	failing := func(ctx context.Context, tx *Tx) error {
		if err := insert(1)(ctx, tx); err != nil {
			return err
		}
		return boom
	}
	orphan := func(ctx context.Context, tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO child (id, p) VALUES (1, 99)`)
		return err
	}
	lost := func(ctx context.Context, tx *Tx) error {
		_, _ = tx.ExecContext(ctx, `INSERT OR ROLLBACK INTO t (k, v) VALUES (1, 'again')`)
		return nil
	}
	ctx := context.Background()
	t.Run("fn fails alone", func(t *testing.T) {
		db, _, b := openDB(t)
		assert.ErrorIs(t, b.Write(ctx, failing), boom)
		assert.NoError(t, beginElsewhere(t, db))
		assert.Empty(t, keys(t, db))
	})
	t.Run("COMMIT fails alone", func(t *testing.T) {
		db, _, b := openDB(t)
		err := b.Write(ctx, orphan)
		assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqliteCode(err), "%v", err)
		assert.NoError(t, beginElsewhere(t, db))
	})
	t.Run("every fn of a batch fails", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			db, l, b := openDB(t)
			errs, _ := inOneBatch(t, l, b, failing, failing)
			assert.ErrorIs(t, errs[0], boom)
			assert.ErrorIs(t, errs[1], boom)
			assert.NoError(t, beginElsewhere(t, db))
			assert.Empty(t, keys(t, db))
		})
	})
	t.Run("COMMIT of a batch fails", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			db, l, b := openDB(t)
			errs, _ := inOneBatch(t, l, b, insert(2), orphan)
			for i, err := range errs {
				assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqliteCode(err), "write %d: %v", i, err)
			}
			assert.NoError(t, beginElsewhere(t, db))
			assert.Empty(t, keys(t, db))
		})
	})
	t.Run("transaction lost under a batch", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			db, l, b := openDB(t)
			// The write after the lost one begins a transaction of its own
			// with its SAVEPOINT, which the batch must roll back.
			errs, _ := inOneBatch(t, l, b, insert(1), lost, insert(3))
			for i, err := range errs {
				assert.ErrorIs(t, err, ErrTransactionLost, "write %d", i)
			}
			assert.NoError(t, beginElsewhere(t, db))
			assert.Empty(t, keys(t, db))
		})
	})
}

// faultDB opens a new database file with a table t (k, v) through a
// pool whose statements f fails when armed, and returns f, a pool of
// other connections to the file, and the lock and a Batcher over the
// faulty pool. It is called in a synctest bubble, as inOneBatch is.
func faultDB(t *testing.T) (f *sqlfault.Faults, other *sql.DB, l *Lock, b *Batcher) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.db")
	f = &sqlfault.Faults{}
	w, err := sqlfault.Open(path, false, sqlitedb.Options{NoSync: true}, f)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	_, err = w.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	require.NoError(t, err)
	dsn, err := sqlitedb.DSN(path, false)
	require.NoError(t, err)
	other, err = sql.Open("sqlite", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	l, b = newBatcher(t, w, path)
	return f, other, l, b
}

// TestFailedSavepointReleasesWriteLock: when the SAVEPOINT of a write of a
// batch fails, every write of the batch fails with its error, nothing of
// the batch is kept, and SQLite's write lock is free when they return.
func TestFailedSavepointReleasesWriteLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, other, l, b := faultDB(t)

		// BEGIN, the batch's SAVEPOINT, the first write's and its INSERT, then
		// the second write's SAVEPOINT.
		f.Arm(5)
		errs, _ := inOneBatch(t, l, b, insert(1), insert(2))
		require.Equal(t, "exec SAVEPOINT", f.Failure())
		for i, err := range errs {
			assert.ErrorIs(t, err, sqlfault.ErrStatement, "write %d", i)
		}
		assert.NoError(t, beginElsewhere(t, other))
		assert.Empty(t, keys(t, other))
	})
}

// TestFailedStatementOfBatchReleasesWriteLock: when a statement that the
// Batcher runs around the writes fails (leaving the transaction open, as
// SQLite does), the writes fail as Write tells, nothing is kept, and
// SQLite's write lock is free when they return: the batch's own
// SAVEPOINT failing fails every write with its error; a ROLLBACK TO or a
// RELEASE failing fails them with ErrTransactionLost wrapping that
// statement's error, but the write whose failure ROLLBACK TO was to undo,
// which fails with its own; the first ROLLBACK of a write alone failing
// is run again.
func TestFailedStatementOfBatchReleasesWriteLock(t *testing.T) {
	boom := errors.New("boom")
	failing := func(context.Context, *Tx) error { return boom }
	tests := []struct {
		name    string
		at      int // the statement that fails
		failure string
		fns     []func(context.Context, *Tx) error
		check   func(t *testing.T, errs []error)
	}{
		{
			// BEGIN, then the batch's SAVEPOINT.
			"batch SAVEPOINT", 2, "exec SAVEPOINT",
			[]func(context.Context, *Tx) error{insert(1), insert(2)},
			func(t *testing.T, errs []error) {
				for i, err := range errs {
					assert.ErrorIs(t, err, sqlfault.ErrStatement, "write %d", i)
					assert.NotErrorIs(t, err, ErrTransactionLost, "write %d", i)
				}
			},
		},
		{
			// BEGIN, SAVEPOINT batch, the first write's SAVEPOINT and INSERT,
			// the second write's SAVEPOINT, then its ROLLBACK TO.
			"ROLLBACK TO", 6, "exec ROLLBACK",
			[]func(context.Context, *Tx) error{insert(1), failing},
			func(t *testing.T, errs []error) {
				assert.ErrorIs(t, errs[0], ErrTransactionLost)
				assert.ErrorIs(t, errs[0], sqlfault.ErrStatement)
				assert.NotErrorIs(t, errs[0], boom, "the other write's failure")
				assert.Equal(t, boom, errs[1])
			},
		},
		{
			// BEGIN, SAVEPOINT batch, each write's SAVEPOINT and INSERT, then
			// RELEASE.
			"RELEASE", 7, "exec RELEASE",
			[]func(context.Context, *Tx) error{insert(1), insert(2)},
			func(t *testing.T, errs []error) {
				for i, err := range errs {
					assert.ErrorIs(t, err, ErrTransactionLost, "write %d", i)
					assert.ErrorIs(t, err, sqlfault.ErrStatement, "write %d", i)
				}
			},
		},
		{
			// BEGIN, then the ROLLBACK of the write alone.
			"first ROLLBACK of a write alone", 2, "exec ROLLBACK",
			[]func(context.Context, *Tx) error{failing},
			func(t *testing.T, errs []error) {
				assert.Equal(t, boom, errs[0])
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, other, l, b := faultDB(t)
				f.Arm(tt.at)
				errs, _ := inOneBatch(t, l, b, tt.fns...)
				require.Equal(t, tt.failure, f.Failure())
				tt.check(t, errs)
				assert.NoError(t, beginElsewhere(t, other), "the write lock is free")
				assert.Empty(t, keys(t, other))
				require.NoError(t, b.Write(context.Background(), insert(5)), "the Batcher works on")
				assert.Equal(t, []int{5}, keys(t, other))
			})
		})
	}
}

// TestCancelledAfterBeginReleasesWriteLock: a Write whose context ends
// once its batch's BEGIN has run, before its fn has started, returns the
// context's error, its fn never run, and leaves the Lock and SQLite's
// write lock free: the Batcher works on.
func TestCancelledAfterBeginReleasesWriteLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, other, l, b := faultDB(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f.After(func(what string) {
			if what == "exec BEGIN" {
				cancel()
			}
		})
		var ran bool
		err := b.Write(ctx, func(ctx context.Context, tx *Tx) error {
			ran = true
			return insert(1)(ctx, tx)
		})
		f.After(nil)
		assert.Equal(t, context.Canceled, err)
		assert.False(t, ran, "the fn never runs")
		require.True(t, l.TryLock(), "the Lock is free")
		l.Unlock()
		assert.NoError(t, beginElsewhere(t, other), "the write lock is free")
		require.NoError(t, b.Write(context.Background(), insert(5)), "the Batcher works on")
		assert.Equal(t, []int{5}, keys(t, other))
	})
}
