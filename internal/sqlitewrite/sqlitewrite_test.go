package sqlitewrite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/casimpay/casimpay/internal/sqlitedb"
)

func init() {
	// test_sleep_ms(n) sleeps n milliseconds: a statement as slow as a test
	// needs, whatever the machine.
	sqlite.MustRegisterScalarFunction("test_sleep_ms", 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		n, ok := args[0].(int64)
		if !ok {
			return nil, fmt.Errorf("test_sleep_ms(%v): not an integer", args[0])
		}
		time.Sleep(time.Duration(n) * time.Millisecond)
		return n, nil
	})
	// test_cancel() calls the function in testCancel, if any, and returns 0:
	// a statement that ends its caller's context while it runs.
	sqlite.MustRegisterScalarFunction("test_cancel", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		if f := testCancel.Load(); f != nil {
			(*f)()
		}
		return int64(0), nil
	})
}

var testCancel atomic.Pointer[context.CancelFunc]

// openDB opens a new database file with a table t (k, v) and the tables
// parent and child, whose foreign key is checked at COMMIT, and returns
// the writer (a connection for the Batcher and one for the test), its
// lock and a Batcher over both.
func openDB(t *testing.T) (*sql.DB, *Lock, *Batcher) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.db")
	// A busy timeout longer than any test's: a write that meets the lock
	// of another connection waits for it.
	dsn, err := sqlitedb.DSN(path, false, sqlitedb.BusyTimeout(time.Minute), "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)")
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(2) // one for the Batcher, one for the test's reads
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);
		CREATE TABLE parent (id INTEGER PRIMARY KEY);
		CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`)
	require.NoError(t, err)
	l, b := newBatcher(t, db, path)
	return db, l, b
}

// newBatcher opens the lock of the database file at path and a Batcher
// over db taking it, both closed when the test ends.
func newBatcher(t *testing.T, db *sql.DB, path string) (*Lock, *Batcher) {
	t.Helper()
	l, err := OpenLock(path)
	require.NoError(t, err)
	t.Cleanup(l.Close)
	b, err := NewBatcher(context.Background(), db, l)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return l, b
}

// sqliteCode returns the extended result code of the SQLite error in
// err's chain, or 0 when there is none.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func insert(k int) func(context.Context, *Tx) error {
	return func(ctx context.Context, tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, k, fmt.Sprint("v", k))
		return err
	}
}

func keys(t *testing.T, db *sql.DB) []int {
	t.Helper()
	rows, err := db.Query(`SELECT k FROM t ORDER BY k`)
	require.NoError(t, err)
	defer rows.Close()
	var ks []int
	for rows.Next() {
		var k int
		require.NoError(t, rows.Scan(&k))
		ks = append(ks, k)
	}
	require.NoError(t, rows.Err())
	return ks
}

// requireState waits until every goroutine of the synctest bubble, whose
// database the test opened in it, waits, and then requires cond, called
// with b.mu held, to hold: by then a Write started before has queued, or
// never will.
func requireState(t *testing.T, b *Batcher, cond func() bool) {
	t.Helper()
	synctest.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.True(t, cond())
}

// leaderWaiting takes l and starts a Write of fn, which takes the lead
// and waits for l, its job first in the queue, so that the Writes after
// it queue for its batch. It returns what the Write returns once l is
// unlocked. It is called in a synctest bubble, as requireState is.
func leaderWaiting(t *testing.T, l *Lock, b *Batcher, fn func(context.Context, *Tx) error) <-chan error {
	t.Helper()
	require.NoError(t, l.Lock(context.Background()))
	first := make(chan error, 1)
	go func() { first <- b.Write(context.Background(), fn) }()
	requireState(t, b, func() bool { return b.leading && len(b.queue) == 1 })
	return first
}

// inOneBatch runs fns as concurrent Writes that the Batcher commits as one
// batch: the first Write takes the lead and waits for the lock that the
// test holds, the others queue behind it, and the batch is taken once the
// lock is unlocked. It returns what each Write of fns returned, or the
// value it panicked with. It is called in a synctest bubble, as
// requireState is.
func inOneBatch(t *testing.T, l *Lock, b *Batcher, fns ...func(context.Context, *Tx) error) (errs []error, panics []any) {
	t.Helper()
	require.NoError(t, l.Lock(context.Background()))
	errs, panics = make([]error, len(fns)), make([]any, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		// Queue in order, so that the batch runs them in order.
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			errs[i] = b.Write(context.Background(), fn)
		})
		requireState(t, b, func() bool { return b.leading && len(b.queue) == i+1 })
	}
	l.Unlock()
	wg.Wait()
	return errs, panics
}

func TestOpenLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "a.db")
		require.NoError(t, os.WriteFile(path, nil, 0o600))
		require.NoError(t, os.Symlink(path, filepath.Join(dir, "b.db")))
		t.Chdir(dir)

		a, err := OpenLock(path)
		require.NoError(t, err)
		viaLink, err := OpenLock("b.db")
		require.NoError(t, err)
		require.Same(t, a.f, viaLink.f, "a relative path through a symbolic link names the same file")
		other, err := OpenLock(filepath.Join(dir, "other.db"))
		require.NoError(t, err)
		assert.NotSame(t, a.f, other.f)
		other.Close()

		ctx := context.Background()
		require.NoError(t, a.Lock(ctx))
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		assert.ErrorIs(t, viaLink.Lock(cancelled), context.Canceled, "held by another store")
		// The bubble's clock: the deadline passes once Lock waits.
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, viaLink.Lock(short), context.DeadlineExceeded)
		a.Unlock()
		require.True(t, viaLink.TryLock(), "released by the other store")
		viaLink.Unlock()

		a.Close()
		again, err := OpenLock(path)
		require.NoError(t, err)
		assert.Same(t, viaLink.f, again.f, "one reference is left")
		viaLink.Close()
		again.Close()
		fresh, err := OpenLock(path)
		require.NoError(t, err)
		defer fresh.Close()
		assert.NotSame(t, a.f, fresh.f, "the last Close forgets the lock")
	})
}

func TestWriteAlone(t *testing.T) {
	db, _, b := openDB(t)
	ctx := context.Background()
	require.NoError(t, b.Write(ctx, insert(1)))
	boom := errors.New("boom")
	err := b.Write(ctx, func(ctx context.Context, tx *Tx) error {
		require.NoError(t, insert(2)(ctx, tx))
		return boom
	})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, []int{1}, keys(t, db), "a failed write keeps nothing")
	assert.PanicsWithValue(t, "kaput", func() {
		_ = b.Write(ctx, func(ctx context.Context, tx *Tx) error {
			require.NoError(t, insert(3)(ctx, tx))
			panic("kaput")
		})
	})
	assert.Equal(t, []int{1}, keys(t, db))
	require.NoError(t, b.Write(ctx, insert(4)), "the connection is usable after a panic")
	assert.Equal(t, []int{1, 4}, keys(t, db))
}

// TestPrepared: a statement of Prepare runs in the transaction of the
// write that runs it, rolled back with it; after Close, Prepare fails.
func TestPrepared(t *testing.T) {
	db, _, b := openDB(t)
	ctx := context.Background()
	st, err := b.Prepare(ctx, `INSERT INTO t (k, v) VALUES (?, 'p')`)
	require.NoError(t, err)
	defer st.Close()
	boom := errors.New("boom")
	assert.ErrorIs(t, b.Write(ctx, func(ctx context.Context, tx *Tx) error {
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, 1); err != nil {
			return err
		}
		return boom
	}), boom)
	require.NoError(t, b.Write(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.StmtContext(ctx, st).ExecContext(ctx, 2)
		return err
	}))
	assert.Equal(t, []int{2}, keys(t, db))
	b.Close()
	_, err = b.Prepare(ctx, `SELECT 1`)
	assert.ErrorIs(t, err, ErrClosed)
}

// TestPrepareRacingClose: a Prepare that finds the Batcher open but whose
// connection a Close closes before it prepares fails with ErrClosed, as a
// Prepare after Close does, and not with the connection's error, which
// would not tell its caller that the Batcher is closed for good.
func TestPrepareRacingClose(t *testing.T) {
	_, _, b := openDB(t)
	b.beforePrepare = b.Close
	st, err := b.Prepare(context.Background(), `SELECT 1`)
	assert.Nil(t, st)
	assert.ErrorIs(t, err, ErrClosed)
	assert.NotErrorIs(t, err, sql.ErrConnDone)
}

// TestCloseClosesPrepared: Close closes the statements of Prepare, which
// database/sql leaves to their user (those of a connection taken from the
// pool are not closed with it): a statement closed by its user after the
// database, as a store's may be when one of its calls races its Close, is
// closed already and does not reach the closed SQLite connection, which
// crashed the process.
func TestCloseClosesPrepared(t *testing.T) {
	db, _, b := openDB(t)
	st, err := b.Prepare(context.Background(), `SELECT 1`)
	require.NoError(t, err)
	b.Close()
	_, err = st.Exec()
	assert.EqualError(t, err, "sql: statement is closed")
	require.NoError(t, db.Close())
	assert.NotPanics(t, func() { assert.NoError(t, st.Close()) })
}

// TestBatchIsolatesFailures: in one batch, a write that fails or panics
// is rolled back alone; the writes after it see the writes before it.
func TestBatchIsolatesFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		boom := errors.New("boom")
		var seen int
		errs, panics := inOneBatch(t, l, b,
			insert(1),
			func(ctx context.Context, tx *Tx) error {
				if err := insert(2)(ctx, tx); err != nil {
					return err
				}
				return boom
			},
			insert(3), // kept between two failures
			insert(1), // a constraint failure
			func(ctx context.Context, tx *Tx) error {
				if err := insert(5)(ctx, tx); err != nil {
					return err
				}
				panic("kaput")
			},
			func(ctx context.Context, tx *Tx) error {
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE k > 0`).Scan(&seen); err != nil {
					return err
				}
				return insert(6)(ctx, tx)
			},
		)
		assert.NoError(t, errs[0])
		assert.ErrorIs(t, errs[1], boom)
		assert.NoError(t, errs[2])
		assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqliteCode(errs[3]), "%v", errs[3])
		assert.Equal(t, "kaput", panics[4])
		assert.NoError(t, errs[5])
		assert.Nil(t, panics[0])
		assert.Equal(t, 2, seen, "the last write sees the rows of the first and the third, none of the failed ones'")
		assert.Equal(t, []int{1, 3, 6}, keys(t, db))
	})
}

// TestFailureReportedAfterCommit: a write that fails because of an earlier
// write of its batch hears of it only once that write is committed, so
// that its caller can read the row it clashed with (a retry that lost to
// the first try reads the first try's result).
func TestFailureReportedAfterCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		var seq int
		var name, path string
		require.NoError(t, db.QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &path))
		rdsn, err := sqlitedb.DSN(path, true)
		require.NoError(t, err)
		r, err := sql.Open("sqlite", rdsn)
		require.NoError(t, err)
		defer r.Close()

		ctx := context.Background()
		first := leaderWaiting(t, l, b, insert(-1))
		var wg sync.WaitGroup
		var errKept, errLost, readErr error
		var n int
		wg.Go(func() { errKept = b.Write(ctx, insert(1)) })
		requireState(t, b, func() bool { return len(b.queue) == 2 })
		wg.Go(func() {
			errLost = b.Write(ctx, insert(1))
			readErr = r.QueryRow(`SELECT count(*) FROM t WHERE k = 1`).Scan(&n)
		})
		requireState(t, b, func() bool { return len(b.queue) == 3 })
		// A slow last write: the batch commits only after it.
		wg.Go(func() {
			_ = b.Write(ctx, func(ctx context.Context, tx *Tx) error {
				if _, err := tx.ExecContext(ctx, `SELECT test_sleep_ms(100)`); err != nil {
					return err
				}
				return insert(3)(ctx, tx)
			})
		})
		requireState(t, b, func() bool { return len(b.queue) == 4 })
		l.Unlock()
		require.NoError(t, <-first)
		wg.Wait()
		require.NoError(t, errKept)
		assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqliteCode(errLost), "%v", errLost)
		require.NoError(t, readErr)
		assert.Equal(t, 1, n, "the row that the failed write clashed with is readable when it hears of the failure")
	})
}

// TestBatchCommitFails: the writes of a batch are one transaction, so a
// commit that fails (here a deferred foreign key) fails them all and
// keeps none.
func TestBatchCommitFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		orphan := func(ctx context.Context, tx *Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO child (id, p) VALUES (1, 99)`)
			return err
		}
		errs, _ := inOneBatch(t, l, b, insert(1), orphan, insert(1), insert(2))
		for i, err := range errs {
			// The third write failed against the first, which is lost: it
			// gets the commit's error too, not a refusal resting on a row that
			// never existed.
			assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqliteCode(err), "write %d: %v", i, err)
		}
		assert.Empty(t, keys(t, db))
		err := b.Write(context.Background(), orphan)
		assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqliteCode(err), "alone: %v", err)
		require.NoError(t, b.Write(context.Background(), insert(5)))
		assert.Equal(t, []int{5}, keys(t, db))
	})
}

// TestBatchTransactionLost: a write whose statement made SQLite roll the
// whole transaction back (here INSERT OR ROLLBACK) does not get the
// writes before it reported stored, whether it returns the statement's
// error or ignores it: the writes after it, which would run in a
// transaction of their own, are rolled back too, and every other write
// of the batch fails with ErrTransactionLost; the write itself fails with
// its statement's error when it returns it.
func TestBatchTransactionLost(t *testing.T) {
	for _, returned := range []bool{false, true} {
		t.Run(fmt.Sprint("error returned ", returned), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				db, l, b := openDB(t)
				var stmtErr error
				errs, _ := inOneBatch(t, l, b,
					insert(1),
					func(ctx context.Context, tx *Tx) error {
						_, stmtErr = tx.ExecContext(ctx, `INSERT OR ROLLBACK INTO t (k, v) VALUES (1, 'again')`)
						if returned {
							return stmtErr
						}
						return nil
					},
					insert(3),
				)
				require.Equal(t, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqliteCode(stmtErr), "%v", stmtErr)
				for i, err := range errs {
					if i == 1 && returned {
						assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqliteCode(err), "%v", err)
						continue
					}
					assert.ErrorIs(t, err, ErrTransactionLost, "write %d", i)
				}
				assert.Empty(t, keys(t, db))
				require.NoError(t, b.Write(context.Background(), insert(5)), "the Batcher works on")
				assert.Equal(t, []int{5}, keys(t, db))
			})
		})
	}
}

// TestBatchCancelled: a write whose context ends while it is queued
// returns at once and is not run; one cancelled before Write is not
// queued.
func TestBatchCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		assert.ErrorIs(t, b.Write(ctx, insert(9)), context.Canceled)

		ctx, cancel = context.WithCancel(context.Background())
		ran := false
		first := leaderWaiting(t, l, b, insert(10))
		done := make(chan error, 1)
		go func() {
			done <- b.Write(ctx, func(ctx context.Context, tx *Tx) error {
				ran = true
				return insert(11)(ctx, tx)
			})
		}()
		queuedWith(t, b, ctx)
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled, "returned with l still locked")
		l.Unlock()
		require.NoError(t, <-first)
		assert.False(t, ran, "a write cancelled while queued is not run")
		assert.Equal(t, []int{10}, keys(t, db))
	})
}

// TestCancelWhileRunning: a caller whose context ends while its write
// runs does not interrupt it. SQLite would roll back the whole batch, the
// writes of the other callers in it with it.
func TestCancelWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, l, b := openDB(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		testCancel.Store(&cancel)
		defer testCancel.Store(nil)
		first := leaderWaiting(t, l, b, insert(-1))
		other := make(chan error, 1)
		go func() { other <- b.Write(context.Background(), insert(1)) }()
		requireState(t, b, func() bool { return len(b.queue) == 2 })
		slow := make(chan error, 1)
		go func() {
			slow <- b.Write(ctx, func(ctx context.Context, tx *Tx) error {
				// An INSERT that ends the caller's context at its first row,
				// then runs for 200 ms more.
				_, err := tx.ExecContext(ctx, `INSERT INTO t (k, v)
					SELECT column1, test_cancel() + test_sleep_ms(50) FROM (VALUES (2), (3), (4), (5))`)
				return err
			})
		}()
		requireState(t, b, func() bool { return len(b.queue) == 3 })
		l.Unlock()
		require.NoError(t, <-first)
		assert.NoError(t, <-other)
		assert.NoError(t, <-slow)
		assert.ErrorIs(t, ctx.Err(), context.Canceled, "the caller's context ended while its write ran")
		assert.Equal(t, []int{-1, 1, 2, 3, 4, 5}, keys(t, db))
	})
}

// TestConcurrentWrites: many writers at once, each incrementing one
// counter and inserting its own row; nothing is lost or counted twice. It
// runs in a synctest bubble, so that writers left waiting for good fail it
// at once, as a deadlock of the bubble.
func TestConcurrentWrites(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _, b := openDB(t)
		_, err := db.Exec(`INSERT INTO parent (id) VALUES (0)`)
		require.NoError(t, err)
		const writers, each = 16, 25
		refused := errors.New("refused")
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					k := w*each + i + 1
					err := b.Write(context.Background(), func(ctx context.Context, tx *Tx) error {
						if _, err := tx.ExecContext(ctx, `UPDATE parent SET id = id + 1`); err != nil {
							return err
						}
						if k%7 == 0 {
							return refused // rolled back alone
						}
						return insert(k)(ctx, tx)
					})
					if k%7 == 0 {
						assert.ErrorIs(t, err, refused)
					} else {
						assert.NoError(t, err)
					}
				}
			})
		}
		wg.Wait()
		var n, rows int
		require.NoError(t, db.QueryRow(`SELECT id FROM parent`).Scan(&n))
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM t`).Scan(&rows))
		want := writers * each
		assert.Equal(t, want-want/7, n, "one increment per write that was not refused")
		assert.Equal(t, want-want/7, rows)
	})
}

// TestLockCloseTwice: a second Close of one handle releases nothing more:
// the lock another store still holds the file with stays the one that
// later stores of the file get, so that they wait for each other.
func TestLockCloseTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	a, err := OpenLock(path)
	require.NoError(t, err)
	b, err := OpenLock(path)
	require.NoError(t, err)
	defer b.Close()
	a.Close()
	a.Close()
	c, err := OpenLock(path)
	require.NoError(t, err)
	defer c.Close()

	ctx := context.Background()
	require.NoError(t, b.Lock(ctx))
	defer b.Unlock()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, c.Lock(cancelled), context.Canceled, "held through the other handle")
}

// TestLockClosedWhileHeld: a handle closed while it holds the lock, its
// store's last, keeps the file's lock alive until it is released: a store
// that opens the file meanwhile gets that lock, held, and waits for the
// Unlock; once it is released and every handle closed, the lock is
// forgotten.
func TestLockClosedWhileHeld(t *testing.T) {
	// Lock with a context that has ended takes the lock if it is free and
	// fails at once if it is held.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	forgotten := func(f *fileLock) bool {
		locks.mu.Lock()
		defer locks.mu.Unlock()
		return locks.m[f.key] != f
	}

	for name, openBefore := range map[string]bool{"opened before the Unlock": true, "opened after the Unlock": false} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.db")
			a, err := OpenLock(path)
			require.NoError(t, err)
			require.NoError(t, a.Lock(cancelled))
			a.Close()
			assert.False(t, forgotten(a.f), "held")
			var b *Lock
			if openBefore {
				b, err = OpenLock(path)
				require.NoError(t, err)
				defer b.Close()
				if !assert.ErrorIs(t, b.Lock(cancelled), context.Canceled, "still held by the closed handle") {
					b.Unlock()
				}
			}
			a.Unlock()
			assert.Equal(t, !openBefore, forgotten(a.f), "forgotten once released by its last handle")
			if !openBefore {
				b, err = OpenLock(path)
				require.NoError(t, err)
				defer b.Close()
			}
			require.NoError(t, b.Lock(cancelled))
			b.Unlock()
			assert.False(t, forgotten(b.f), "b still open")
			b.Close()
			assert.True(t, forgotten(b.f))
		})
	}
}

// holdWriteLock takes SQLite's write lock of db's file on a connection of
// db's own (BEGIN IMMEDIATE), as another process does, so that a batch's
// BEGIN waits for it (up to the busy timeout). It returns the function
// that releases the lock and gives the connection back.
func holdWriteLock(t *testing.T, db *sql.DB) (release func()) {
	t.Helper()
	ctx := context.Background()
	c, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = c.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_, err := c.ExecContext(ctx, "ROLLBACK")
			assert.NoError(t, err)
			c.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// busyOnBubbleClock has b's connection wait for the write lock of another
// connection on the clock of the synctest bubble it was opened in, on any
// context: preparing a statement on a context that can end replaces, for
// as long as no PRAGMA busy_timeout runs on the connection again, SQLite's
// busy callback, whose sleeps synctest does not see, with
// modernc.org/sqlite's, which keeps SQLite's schedule and timeout but
// sleeps on the time package's clock (on a timer that the context of the
// statement also ends, when it can end). So a BEGIN that waits, even one
// on a context that cannot end, waits as a goroutine that synctest.Wait
// finds waiting, and the bubble's clock runs through the busy timeout at
// once when nothing else is left to run.
func busyOnBubbleClock(t *testing.T, b *Batcher) {
	t.Helper()
	_, err := b.Prepare(t.Context(), "SELECT 1")
	require.NoError(t, err)
}

// queuedWith requires, once every goroutine of the bubble waits, the
// Batcher's queue to hold the job of the Write given ctx.
func queuedWith(t *testing.T, b *Batcher, ctx context.Context) {
	t.Helper()
	requireState(t, b, func() bool {
		return slices.ContainsFunc(b.queue, func(j *job) bool { return j.ctx == ctx })
	})
}

// TestCancelBeforeBegin: a Write whose context ends before its batch has
// begun (here, while BEGIN waits for the write lock that another
// connection holds) returns the context's error while the lock is still
// held, and its fn never runs, whether it leads the batch or is queued
// behind the leader; the other Writes commit once the lock is released.
func TestCancelBeforeBegin(t *testing.T) {
	tests := []struct {
		name          string
		cancelLeader  bool // else the Write queued behind the leader
		withFollowing bool // a Write queued behind the cancelled leader
	}{
		{"queued", false, false},
		{"leader alone", true, false},
		{"leader, with a write behind it", true, true},
	}
	for _, tt := range tests {
		ok := t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				db, l, b := openDB(t)
				// A BEGIN on a context that cannot end, which its caller's
				// end cannot stop, is then seen waiting at once.
				busyOnBubbleClock(t, b)
				release := holdWriteLock(t, db)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var ran atomic.Bool
				cancelled := func(ctx context.Context, tx *Tx) error {
					ran.Store(true)
					return insert(1)(ctx, tx)
				}
				var wg sync.WaitGroup
				var leaderErr, otherErr error
				cancelledDone := make(chan error, 1)
				if tt.cancelLeader {
					go func() { cancelledDone <- b.Write(ctx, cancelled) }()
				} else {
					// A context that can end (t.Context()), as every Write's
					// here: BEGIN then waits for SQLite's write lock on a
					// timer, which synctest sees, not in a sleep of SQLite's
					// own.
					wg.Go(func() { leaderErr = b.Write(t.Context(), insert(2)) })
				}
				requireState(t, b, func() bool { return b.leading })
				if tt.withFollowing {
					// A context of its own, to find its job in the queue.
					otherCtx := context.WithValue(t.Context(), t, "following")
					wg.Go(func() { otherErr = b.Write(otherCtx, insert(2)) })
					queuedWith(t, b, otherCtx)
				}
				if !tt.cancelLeader {
					go func() { cancelledDone <- b.Write(ctx, cancelled) }()
					queuedWith(t, b, ctx)
				}
				cancel()
				err, ok := returned(cancelledDone)
				if !ok {
					t.Fatal("a Write cancelled before its batch began waits for the batch's BEGIN")
				}
				assert.ErrorIs(t, err, context.Canceled)
				if tt.cancelLeader && !tt.withFollowing {
					require.True(t, l.TryLock(), "the Lock is released when the leader's context ends during BEGIN")
					l.Unlock()
				}
				release()
				wg.Wait()
				assert.NoError(t, leaderErr)
				assert.NoError(t, otherErr)
				assert.False(t, ran.Load(), "the cancelled Write's fn never runs")
				want := []int{2}
				if tt.cancelLeader && !tt.withFollowing {
					want = nil
				}
				assert.Equal(t, want, keys(t, db))
				require.NoError(t, b.Write(context.Background(), insert(3)), "the Batcher works on")
			})
		})
		if !ok {
			break // the Lock may be left held, which the next case's writes would wait for
		}
	}
}

// TestLeaveHandsLeadOn: a queued job whose caller leaves while the lead
// was handed to it passes the lead to the next job, or ends it.
func TestLeaveHandsLeadOn(t *testing.T) {
	// No connection: leave and handOffLocked use only the queue, and a
	// Close would wait for a lead that a broken hand-off never ends.
	b := &Batcher{}
	b.idle.L = &b.mu
	j1 := &job{ctx: context.Background(), wake: make(chan struct{}, 1)}
	j2 := &job{ctx: context.Background(), wake: make(chan struct{}, 1)}
	b.mu.Lock()
	b.queue, b.leading = []*job{j1, j2}, true
	b.handOffLocked() // the lead to j1
	b.mu.Unlock()
	require.True(t, b.leave(j1))
	assert.Len(t, j2.wake, 1, "the lead goes to j2")
	assert.True(t, b.leading)
	require.True(t, b.leave(j2))
	assert.False(t, b.leading, "no job is left to lead")
	assert.Empty(t, b.queue)
	assert.False(t, b.leave(j2), "a job that left is not queued")
}

// TestConcurrentCancels: many writers at once, some of whose contexts end
// at any point of their Write: a Write that returns nil wrote its row
// once; one that returns the context's error never ran its fn. It runs in
// a synctest bubble, so that writers left waiting for good fail it at
// once, as a deadlock of the bubble.
func TestConcurrentCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, _, b := openDB(t)
		const writers, each = 8, 25
		var runs [writers*each + 1]atomic.Int32
		errs := make([]error, writers*each+1)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					k := w*each + i + 1
					ctx, cancel := context.WithCancel(context.Background())
					if k%3 == 0 {
						cancel() // at once or while queued: some before Write, some after
					}
					go func() {
						if k%3 == 1 {
							cancel()
						}
					}()
					errs[k] = b.Write(ctx, func(ctx context.Context, tx *Tx) error {
						runs[k].Add(1)
						return insert(k)(ctx, tx)
					})
					cancel()
				}
			})
		}
		wg.Wait()
		stored := make(map[int]bool)
		for _, k := range keys(t, db) {
			stored[k] = true
		}
		cancelled := 0
		for k := 1; k <= writers*each; k++ {
			if errs[k] == nil {
				assert.True(t, stored[k], "write %d returned nil: its row is stored", k)
				assert.Equal(t, int32(1), runs[k].Load(), "write %d ran once", k)
				continue
			}
			cancelled++
			assert.ErrorIs(t, errs[k], context.Canceled, "write %d", k)
			assert.False(t, stored[k], "write %d was cancelled: no row", k)
			assert.Zero(t, runs[k].Load(), "write %d was cancelled: its fn never ran", k)
		}
		assert.GreaterOrEqual(t, cancelled, writers*each/3, "every write cancelled before Write is")
	})
}
