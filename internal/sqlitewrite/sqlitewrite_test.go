package sqlitewrite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
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
// the writer (a connection for the Batcher and one for the test), its lock and a Batcher over both.
func openDB(t *testing.T) (*sql.DB, *Lock, *Batcher) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "w.db")
	dsn, err := sqlitedb.DSN(path, false, "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)")
	require.NoError(t, err)
	db, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(2) // one for the Batcher, one for the test's reads
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);
		CREATE TABLE parent (id INTEGER PRIMARY KEY);
		CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER NOT NULL REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)`)
	require.NoError(t, err)
	l, err := OpenLock(path)
	require.NoError(t, err)
	t.Cleanup(l.Close)
	b, err := NewBatcher(context.Background(), db, l)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return db, l, b
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

// until waits until cond, called with b.mu held, holds.
func until(t *testing.T, b *Batcher, cond func() bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return cond()
	}, 5*time.Second, time.Millisecond)
}

// leaderWaiting takes l and starts a Write of fn, which takes the lead
// and waits for l, so that the Writes after it queue for the next batch.
// It returns what the Write returns once l is unlocked.
func leaderWaiting(t *testing.T, l *Lock, b *Batcher, fn func(context.Context, *Tx) error) <-chan error {
	t.Helper()
	require.NoError(t, l.Lock(context.Background()))
	first := make(chan error, 1)
	go func() { first <- b.Write(context.Background(), fn) }()
	until(t, b, func() bool { return b.leading && len(b.queue) == 0 }) // the leader has taken its batch
	return first
}

// inOneBatch runs fns as concurrent Writes that the Batcher commits as one
// batch: a first Write takes the lead and waits for the lock that the
// test holds, the others queue behind it and form the next batch. It
// returns what each Write of fns returned, or the value it panicked with.
func inOneBatch(t *testing.T, l *Lock, b *Batcher, fns ...func(context.Context, *Tx) error) (errs []error, panics []any) {
	t.Helper()
	first := leaderWaiting(t, l, b, insert(-1))
	errs, panics = make([]error, len(fns)), make([]any, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		// Queue in order, so that the batch runs them in order.
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			errs[i] = b.Write(context.Background(), fn)
		})
		until(t, b, func() bool { return len(b.queue) == i+1 })
	}
	l.Unlock()
	require.NoError(t, <-first)
	wg.Wait()
	return errs, panics
}

func TestOpenLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.NoError(t, os.Symlink(path, filepath.Join(dir, "b.db")))
	t.Chdir(dir)

	a, err := OpenLock(path)
	require.NoError(t, err)
	viaLink, err := OpenLock("b.db")
	require.NoError(t, err)
	assert.Same(t, a.f, viaLink.f, "a relative path through a symbolic link names the same file")
	other, err := OpenLock(filepath.Join(dir, "other.db"))
	require.NoError(t, err)
	assert.NotSame(t, a.f, other.f)
	other.Close()

	ctx := context.Background()
	require.NoError(t, a.Lock(ctx))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, viaLink.Lock(cancelled), context.Canceled, "held by another store")
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, viaLink.Lock(short), context.DeadlineExceeded)
	a.Unlock()
	require.NoError(t, viaLink.Lock(ctx))
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

// TestBatchIsolatesFailures: in one batch, a write that fails or panics
// is rolled back alone; the writes after it see the writes before it.
func TestBatchIsolatesFailures(t *testing.T) {
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
	assert.Equal(t, []int{-1, 1, 3, 6}, keys(t, db))
}

// TestFailureReportedAfterCommit: a write that fails because of an earlier
// write of its batch hears of it only once that write is committed, so
// that its caller can read the row it clashed with (a retry that lost to
// the first try reads the first try's result).
func TestFailureReportedAfterCommit(t *testing.T) {
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
	until(t, b, func() bool { return len(b.queue) == 1 })
	wg.Go(func() {
		errLost = b.Write(ctx, insert(1))
		readErr = r.QueryRow(`SELECT count(*) FROM t WHERE k = 1`).Scan(&n)
	})
	until(t, b, func() bool { return len(b.queue) == 2 })
	// A slow last write: the batch commits only after it.
	wg.Go(func() {
		_ = b.Write(ctx, func(ctx context.Context, tx *Tx) error {
			if _, err := tx.ExecContext(ctx, `SELECT test_sleep_ms(100)`); err != nil {
				return err
			}
			return insert(3)(ctx, tx)
		})
	})
	until(t, b, func() bool { return len(b.queue) == 3 })
	l.Unlock()
	require.NoError(t, <-first)
	wg.Wait()
	require.NoError(t, errKept)
	assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqliteCode(errLost), "%v", errLost)
	require.NoError(t, readErr)
	assert.Equal(t, 1, n, "the row that the failed write clashed with is readable when it hears of the failure")
}

// TestBatchCommitFails: the writes of a batch are one transaction, so a
// commit that fails (here a deferred foreign key) fails them all and
// keeps none.
func TestBatchCommitFails(t *testing.T) {
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
	assert.Equal(t, []int{-1}, keys(t, db))
	err := b.Write(context.Background(), orphan)
	assert.Equal(t, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqliteCode(err), "alone: %v", err)
	require.NoError(t, b.Write(context.Background(), insert(5)))
	assert.Equal(t, []int{-1, 5}, keys(t, db))
}

// TestBatchCancelled: a write whose context ends while it is queued is
// not run; one cancelled before Write is not queued.
func TestBatchCancelled(t *testing.T) {
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
	until(t, b, func() bool { return len(b.queue) == 1 })
	cancel()
	l.Unlock()
	require.NoError(t, <-first)
	assert.ErrorIs(t, <-done, context.Canceled)
	assert.False(t, ran, "a write cancelled while queued is not run")
	assert.Equal(t, []int{10}, keys(t, db))
}

// TestCancelWhileRunning: a caller whose context ends while its write
// runs does not interrupt it. SQLite would roll back the whole batch, the
// writes of the other callers in it with it.
func TestCancelWhileRunning(t *testing.T) {
	db, l, b := openDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testCancel.Store(&cancel)
	defer testCancel.Store(nil)
	first := leaderWaiting(t, l, b, insert(-1))
	other := make(chan error, 1)
	go func() { other <- b.Write(context.Background(), insert(1)) }()
	until(t, b, func() bool { return len(b.queue) == 1 })
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
	until(t, b, func() bool { return len(b.queue) == 2 })
	l.Unlock()
	require.NoError(t, <-first)
	assert.NoError(t, <-other)
	assert.NoError(t, <-slow)
	assert.ErrorIs(t, ctx.Err(), context.Canceled, "the caller's context ended while its write ran")
	assert.Equal(t, []int{-1, 1, 2, 3, 4, 5}, keys(t, db))
}

func TestClose(t *testing.T) {
	db, l, b := openDB(t)
	queued := leaderWaiting(t, l, b, insert(1))
	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	until(t, b, func() bool { return b.closed })
	select {
	case <-closed:
		t.Fatal("Close returned before the queued write was committed")
	case <-time.After(20 * time.Millisecond):
	}
	assert.ErrorIs(t, b.Write(context.Background(), insert(2)), ErrClosed)
	l.Unlock()
	<-closed
	require.NoError(t, <-queued)
	assert.Equal(t, []int{1}, keys(t, db))
	b.Close() // idempotent
}

// TestConcurrentWrites: many writers at once, each incrementing one
// counter and inserting its own row; nothing is lost or counted twice.
func TestConcurrentWrites(t *testing.T) {
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
