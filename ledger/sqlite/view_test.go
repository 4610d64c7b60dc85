package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

// openReaders opens a store with n read connections.
func openReaders(t *testing.T, n int) *Store {
	t.Helper()
	return openWith(t, Options{ReadConns: n, noSync: true})
}

func openWith(t *testing.T, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// openClosing is openReaders, with a Store whose Close closes the
// returned channel before it waits for the calls under way
// (Options.closing).
func openClosing(t *testing.T, n int) (*Store, <-chan struct{}) {
	t.Helper()
	closing := make(chan struct{})
	return openWith(t, Options{ReadConns: n, noSync: true, closing: func() { close(closing) }}), closing
}

// requireReadsClosed fails t at once unless the read pool of s is closed.
// Close closes it before it waits for the calls under way: a View that
// waits for a read connection would hold Close up, as long as the Views
// that use the connections, and fail only after them.
func requireReadsClosed(t *testing.T, s *Store) {
	t.Helper()
	select {
	case <-s.reads.done:
	default:
		t.Fatal("Close has not closed the read pool before it waits for the calls under way")
	}
}

func viewAccount(i uint64) ledger.Account {
	return ledger.Account{ID: ledger.IDFromUint64(i), Ledger: 1, Code: 1}
}

func insertAccount(t *testing.T, s *Store, i uint64) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
		return tx.InsertAccounts([]ledger.Account{viewAccount(i)})
	}))
}

// viewAccounts returns how many of the accounts 1..n a View finds, within
// five seconds (a read connection that never came back to the pool would
// make it wait for ever).
func viewAccounts(t *testing.T, s *Store, n uint64) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ids := make([]ledger.ID, n)
	for i := range ids {
		ids[i] = ledger.IDFromUint64(uint64(i + 1))
	}
	var found int
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Accounts(ids)
		found = len(got)
		return err
	}))
	return found
}

// seesNextCommit commits account 2 and checks that a View sees it: no
// read connection kept an older snapshot, or stayed out of the pool.
func seesNextCommit(t *testing.T, s *Store) {
	t.Helper()
	insertAccount(t, s, 2)
	assert.Equal(t, 2, viewAccounts(t, s, 2))
}

// countQuery counts to 10^9 unless interrupted; test_ledger_cancel ends the
// context of cancelHook as it starts.
const countQuery = `WITH RECURSIVE c(x) AS (SELECT test_ledger_cancel() UNION ALL
	SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c`

// TestViewInterrupted: a read whose context ends while it runs is
// interrupted and View fails with the context's error; the read
// connection, the only one, is not left inside its transaction (its
// snapshot): the next View sees what was committed since.
func TestViewInterrupted(t *testing.T) {
	s := openReaders(t, 1)
	insertAccount(t, s, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelHook.Store(&cancel)
	defer cancelHook.Store(nil)
	err := s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
		require.NoError(t, err)
		require.Len(t, got, 1)
		return tx.(sqlstore.Reader).Query(countQuery, nil, func(sqlstore.Scanner) error { return nil })
	})
	require.ErrorIs(t, err, context.Canceled)
	seesNextCommit(t, s)
}

// TestViewContextEnded: View with a context that has ended fails with its
// error without running fn, before a read connection is open and when one
// is free in the pool, which it could take without waiting; a read after
// the context ends inside fn fails with it too.
func TestViewContextEnded(t *testing.T) {
	s := openReaders(t, 1)
	insertAccount(t, s, 1)
	for free := range 2 {
		require.Len(t, s.reads.free, free)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		err := s.View(ctx, func(ledger.ReadTx) error { ran = true; return nil })
		require.ErrorIs(t, err, context.Canceled, "%d free", free)
		assert.False(t, ran, "%d free", free)
		require.Equal(t, 1, viewAccounts(t, s, 1)) // its connection is free now
	}

	ctx, cancel := context.WithCancel(context.Background())
	err := s.View(ctx, func(tx ledger.ReadTx) error {
		if _, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)}); err != nil {
			return err
		}
		cancel()
		_, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
		return err
	})
	require.ErrorIs(t, err, context.Canceled)
	seesNextCommit(t, s)
}

// TestViewPanic: a panic in fn goes through View, and the read
// connection, the only one, comes back to the pool outside its
// transaction.
func TestViewPanic(t *testing.T) {
	s := openReaders(t, 1)
	insertAccount(t, s, 1)
	for range 2 {
		assert.PanicsWithValue(t, "boom", func() {
			_ = s.View(context.Background(), func(tx ledger.ReadTx) error {
				_, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
				require.NoError(t, err)
				panic("boom")
			})
		})
	}
	seesNextCommit(t, s)
}

// TestViewSnapshot: Views run together and beside a write (WAL): a View
// keeps the snapshot of its first read while an Update commits and
// another View, which sees the commit, runs to its end.
func TestViewSnapshot(t *testing.T) {
	s := openReaders(t, 2)
	insertAccount(t, s, 1)
	ids := []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)}
	read, resume := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.View(context.Background(), func(tx ledger.ReadTx) error {
			got, err := tx.Accounts(ids)
			if err != nil {
				return err
			}
			assert.Len(t, got, 1)
			close(read)
			<-resume
			got, err = tx.Accounts(ids)
			assert.Len(t, got, 1, "the View's snapshot")
			return err
		})
	}()
	<-read
	insertAccount(t, s, 2) // while the View above is open
	assert.Equal(t, 2, viewAccounts(t, s, 2))
	close(resume)
	require.NoError(t, <-done)
	assert.Equal(t, 2, viewAccounts(t, s, 2))
}

// TestViewAfterEnd: the ReadTx of a View that has returned reads nothing
// more.
func TestViewAfterEnd(t *testing.T) {
	s := openReaders(t, 1)
	insertAccount(t, s, 1)
	var kept ledger.ReadTx
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error { kept = tx; return nil }))
	_, err := kept.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
	require.ErrorIs(t, err, sql.ErrTxDone)
	assert.Equal(t, 1, viewAccounts(t, s, 1))
}

// TestCloseWaitsForView: Close waits for a View that is running, whose
// reads still work until fn returns, and returns with every read
// connection closed; a View that starts once Close has been called fails
// with ledger.ErrClosed without running fn. Run in a synctest bubble,
// which tells when Close waits.
func TestCloseWaitsForView(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, closing := openClosing(t, 2)
		insertAccount(t, s, 1)
		assert.Equal(t, 1, viewAccounts(t, s, 1)) // one connection idle in the pool
		release, done := heldCall(func(hold func()) error {
			return s.View(context.Background(), func(tx ledger.ReadTx) error {
				hold()
				got, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
				assert.Len(t, got, 1)
				return err
			})
		})
		type closeResult struct {
			err   error
			conns int // read connections open once Close has returned
		}
		closed := make(chan closeResult, 1)
		go func() {
			err := s.Close()
			closed <- closeResult{err, s.r.Stats().OpenConnections}
		}()
		<-closing
		requireReadsClosed(t, s)
		ran := false
		err := s.View(context.Background(), func(ledger.ReadTx) error { ran = true; return nil })
		require.ErrorIs(t, err, ledger.ErrClosed)
		assert.False(t, ran)
		requireCloseWaits(t, closed, release)
		require.NoError(t, <-done)
		r := <-closed
		require.NoError(t, r.err)
		assert.Zero(t, r.conns)
	})
}

// heldCall runs call in a goroutine, handing it hold, which a fn of the
// call calls to wait there until release is closed; it returns once hold
// has been called (or call has returned), with release and the channel
// that gets call's result.
func heldCall(call func(hold func()) error) (release chan struct{}, done <-chan error) {
	started, release := make(chan struct{}), make(chan struct{})
	result := make(chan error, 1)
	go func() { result <- call(func() { close(started); <-release }) }()
	select {
	case <-started:
	case err := <-result:
		result <- err
	}
	return release, result
}

// requireCloseWaits, in a synctest bubble, fails t when Close, whose
// result closed gets, has returned once every goroutine of the bubble
// waits, while a call whose fn waits for release is under way; it closes
// release either way, for that call (and the bubble) to end.
func requireCloseWaits[R any](t *testing.T, closed <-chan R, release chan<- struct{}) {
	t.Helper()
	synctest.Wait() // Close waits for the call, or has returned
	select {
	case r := <-closed:
		close(release)
		t.Fatalf("Close returned (%+v) while a call was under way", r)
	default:
		close(release)
	}
}

// zeroRow is a result row that leaves every destination as it is.
type zeroRow struct{}

func (zeroRow) Scan(...any) error { return nil }

// TestReadStmtsBound counts the statement texts that the reads of a View
// can build, which each read connection keeps prepared: all of them fit
// its cache (maxReadStmts).
func TestReadStmtsBound(t *testing.T) {
	texts := map[string]bool{}
	r := sqlstore.Reader{Dialect: sqlstore.SQLite, Query: func(q string, _ []any, row func(sqlstore.Scanner) error) error {
		texts[q] = true
		if !strings.Contains(q, " WHERE ") { // the first page of a ForEach…: a full one, so that the next is read
			for range 1000 {
				if err := row(zeroRow{}); err != nil {
					return err
				}
			}
		}
		return nil
	}}
	var ids []ledger.ID
	for n := 1; n <= 2*sqlstore.MaxInList+1; n++ {
		ids = append(ids, ledger.IDFromUint64(uint64(n)))
		_, err := r.Accounts(ids)
		require.NoError(t, err)
		_, err = r.Transfers(ids)
		require.NoError(t, err)
		_, err = r.Pending(ids)
		require.NoError(t, err)
		_, err = r.FailedTransfers(ids)
		require.NoError(t, err)
	}
	for flags := range ledger.AccountFilterFlags(8) { // debits, credits, reversed
		for extra := range 16 {
			f := ledger.AccountFilter{AccountID: ledger.IDFromUint64(1), Limit: 10, TimestampMax: 100, Flags: flags}
			if extra&1 != 0 {
				f.UserData128 = ledger.IDFromUint64(1)
			}
			if extra&2 != 0 {
				f.UserData64 = 1
			}
			if extra&4 != 0 {
				f.UserData32 = 1
			}
			if extra&8 != 0 {
				f.Code = 1
			}
			_, err := r.AccountTransfers(f)
			require.NoError(t, err)
			_, err = r.AccountBalances(f)
			require.NoError(t, err)
		}
	}
	_, err := r.ExpiredPending(1, 10)
	require.NoError(t, err)
	_, err = r.BalanceRows(ledger.ID{}, 0, 10)
	require.NoError(t, err)
	_, err = r.BalanceRows(ledger.ID{}, math.MaxUint64, 10) // from the next account
	require.NoError(t, err)
	_, err = r.LastTimestamp() // reads no row here
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	require.NoError(t, r.ForEachAccount(func(ledger.Account) error { return nil }))
	require.NoError(t, r.ForEachTransfer(func(ledger.Transfer) error { return nil }))
	require.NoError(t, r.ForEachPending(func(ledger.Pending) error { return nil }))
	require.NoError(t, r.ForEachFailed(func(ledger.FailedTransfer) error { return nil }))
	assert.Equal(t, 4*10+2*3*16*2+1+1+4*2+2, len(texts))
	assert.LessOrEqual(t, len(texts), maxReadStmts)
}

// waitingCtx is a context that a test ends (end), whose Err is then
// context.DeadlineExceeded, as if its deadline passed, and that closes
// asked once its Done is first called: View calls it only once it waits
// for a read connection (readPool.get).
type waitingCtx struct {
	context.Context // context.Background: no deadline, no values
	asked, done     chan struct{}
	once            sync.Once
}

func newWaitingCtx() *waitingCtx {
	return &waitingCtx{Context: context.Background(), asked: make(chan struct{}), done: make(chan struct{})}
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.done
}

func (c *waitingCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// end ends c: its deadline has passed.
func (c *waitingCtx) end() { close(c.done) }

// TestViewWaitsForConn: while its one read connection is in use, a View
// waits for it no longer than its context, and fails with ledger.ErrClosed
// when the Store is closed meanwhile, Close waiting for the View that uses
// the connection.
func TestViewWaitsForConn(t *testing.T) {
	s, closing := openClosing(t, 1)
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.View(context.Background(), func(ledger.ReadTx) error { close(held); <-release; return nil })
	}()
	<-held
	ran := false
	ctx := newWaitingCtx()
	timedOut := make(chan error, 1)
	go func() { timedOut <- s.View(ctx, func(ledger.ReadTx) error { ran = true; return nil }) }()
	<-ctx.asked // waiting for the connection
	ctx.end()
	require.ErrorIs(t, <-timedOut, context.DeadlineExceeded)
	assert.False(t, ran)

	ctx = newWaitingCtx() // never ends
	waiting := make(chan error, 1)
	go func() { waiting <- s.View(ctx, func(ledger.ReadTx) error { ran = true; return nil }) }()
	<-ctx.asked // waiting for the connection
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	<-closing // Close waits for the View that uses the connection now
	requireReadsClosed(t, s)
	require.ErrorIs(t, <-waiting, ledger.ErrClosed)
	assert.False(t, ran)
	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-closed)
}

// TestViewGetsTheConnOnceFreed: a View that waits for the one read
// connection runs on it once the View using it ends, and sees what was
// committed before it began.
func TestViewGetsTheConnOnceFreed(t *testing.T) {
	s := openReaders(t, 1)
	insertAccount(t, s, 1)
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.View(context.Background(), func(ledger.ReadTx) error { close(held); <-release; return nil })
	}()
	<-held
	ctx := newWaitingCtx() // never ends
	var found []ledger.Account
	waited := make(chan error, 1)
	go func() {
		waited <- s.View(ctx, func(tx ledger.ReadTx) error {
			var err error
			found, err = tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
			return err
		})
	}()
	<-ctx.asked // waiting for the connection
	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-waited)
	require.Len(t, found, 1)
	assert.Equal(t, ledger.IDFromUint64(1), found[0].ID)
	assert.Len(t, s.reads.free, 1, "one connection, back in the pool")
}

// TestViewPastTheStmtCacheRunsUnprepared: a read connection whose cache
// holds maxReadStmts statements prepares no more; a read of another text
// runs unprepared, with the same result.
func TestViewPastTheStmtCacheRunsUnprepared(t *testing.T) {
	s := openReaders(t, 1)
	insertAccount(t, s, 1)
	ctx := context.Background()
	c, err := s.reads.get(ctx)
	require.NoError(t, err)
	for i := range maxReadStmts {
		require.NotNil(t, c.stmt(ctx, fmt.Sprintf("SELECT %d", i)))
	}
	require.Nil(t, c.stmt(ctx, "SELECT -1"), "the cache is full")
	s.reads.put(c, true)

	assert.Equal(t, 1, viewAccounts(t, s, 1))
	assert.Len(t, c.stmts, maxReadStmts)
	for q := range c.stmts {
		assert.True(t, strings.HasPrefix(q, "SELECT "), q)
		assert.NotContains(t, q, "FROM", "a read of the View prepared past the bound")
	}
}

// TestViewReadAfterContextEnds: a read of a View whose context has ended,
// of a text prepared before or of a new one, fails with the context's
// error without running a statement.
func TestViewReadAfterContextEnds(t *testing.T) {
	f := &sqlfault.Faults{}
	s := openWith(t, Options{ReadConns: 1, noSync: true, pools: faultPools(f)})
	insertAccount(t, s, 1)
	ctx, cancel := context.WithCancel(context.Background())
	ids := []ledger.ID{ledger.IDFromUint64(1)}
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Accounts(ids)
		require.NoError(t, err)
		require.Len(t, got, 1)
		cancel()
		f.Arm(1) // the first statement that runs now fails
		got, err = tx.Accounts(ids)
		require.EqualError(t, err, "sqlite: context canceled")
		assert.Empty(t, got)
		_, err = tx.LastTimestamp()
		require.EqualError(t, err, "sqlite: context canceled")
		assert.Empty(t, f.Failure(), "a statement run")
		f.Arm()
		return nil
	}))
	seesNextCommit(t, s)
}

// TestViewRunsCachedStmts: a View's read of a text that its connection
// has prepared runs that statement: closed, the read fails.
func TestViewRunsCachedStmts(t *testing.T) {
	s := openReaders(t, 1)
	insertAccount(t, s, 1)
	require.Equal(t, 1, viewAccounts(t, s, 1))
	require.Len(t, s.reads.free, 1)
	c := s.reads.free[0]
	require.Len(t, c.stmts, 1)
	for _, st := range c.stmts {
		require.NoError(t, st.Close())
	}
	err := s.View(context.Background(), func(tx ledger.ReadTx) error {
		_, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
		return err
	})
	require.EqualError(t, err, "sqlite: sql: statement is closed")
}

// TestViewPreparesEachTextOnce: a read connection prepares a read's text
// once, for the Views that follow; a text whose preparation failed (the
// read then ran unprepared) takes no room in its cache, and is prepared
// by the next View that reads it.
func TestViewPreparesEachTextOnce(t *testing.T) {
	f := &sqlfault.Faults{}
	s := openWith(t, Options{ReadConns: 1, noSync: true, pools: faultPools(f)})
	insertAccount(t, s, 1)
	for n := 1; ; n++ {
		f.Arm(n)
		var got []ledger.Account
		err := s.View(context.Background(), func(tx ledger.ReadTx) error {
			var err error
			got, err = tx.Accounts([]ledger.ID{ledger.IDFromUint64(1)})
			return err
		})
		failed := f.Failure()
		f.Arm()
		require.NotEmpty(t, failed, "%d statements run, no read prepared", n-1)
		if failed == "prepare SELECT" {
			require.NoError(t, err)
			require.Len(t, got, 1)
			break
		}
	}
	require.Len(t, s.reads.free, 1)
	assert.Empty(t, s.reads.free[0].stmts)
	assert.Equal(t, []string{"prepare SELECT"}, prepares(f, func() { viewAccounts(t, s, 1) }))
	assert.Empty(t, prepares(f, func() { viewAccounts(t, s, 1) }))
	assert.Len(t, s.reads.free[0].stmts, 1)
}
