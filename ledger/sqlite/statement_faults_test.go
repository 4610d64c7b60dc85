package sqlite

import (
	"context"
	"database/sql"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/ledgertest"
)

// faultPools returns Options.pools that opens the file as sqlitedb.Open
// does (made, in WAL mode), and then returns a writer and a read pool
// whose statements f numbers.
func faultPools(f *sqlfault.Faults) func(context.Context, string, sqlitedb.Options) (w, r *sql.DB, err error) {
	return func(ctx context.Context, path string, o sqlitedb.Options) (w, r *sql.DB, err error) {
		if w, r, err = sqlitedb.Open(ctx, path, o); err != nil {
			return nil, nil, err
		}
		r.Close()
		w.Close()
		if w, err = sqlfault.Open(path, false, o, f); err != nil {
			return nil, nil, err
		}
		if r, err = sqlfault.Open(path, true, o, f); err != nil {
			w.Close()
			return nil, nil, err
		}
		return w, r, nil
	}
}

// faultyLedger is a ledger.Ledger over a Store on a new file whose
// statements f numbers; plain reads the file through the plain driver.
type faultyLedger struct {
	s     *Store
	l     *ledger.Ledger
	f     *sqlfault.Faults
	clock *ledgertest.Clock
	plain *sql.DB
}

func newFaultyLedger(t *testing.T) *faultyLedger {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ledger.db")
	fl := &faultyLedger{f: &sqlfault.Faults{}, clock: ledgertest.NewClock(ledgertest.Epoch)}
	var err error
	fl.s, err = Open(context.Background(), path, Options{noSync: true, pools: faultPools(fl.f)})
	require.NoError(t, err)
	t.Cleanup(func() { fl.s.Close() })
	fl.l, err = ledger.New(fl.s, ledger.Options{Now: fl.clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { fl.l.Close() })
	fl.plain, err = sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { fl.plain.Close() })
	return fl
}

// newFaultyLedgerWith returns a new faultyLedger on which setup (nil:
// none) has created what it creates.
func newFaultyLedgerWith(t *testing.T, setup func(*testing.T, *ledger.Ledger, *ledgertest.Clock)) *faultyLedger {
	t.Helper()
	fl := newFaultyLedger(t)
	if setup != nil {
		setup(t, fl.l, fl.clock)
	}
	return fl
}

// dump returns every row of the ledger's tables (schema_migrations, whose
// times differ between files, left out), each table's sorted, under the
// table's name.
func (fl *faultyLedger) dump(t *testing.T) map[string][]string {
	t.Helper()
	tables, err := sqlfault.Dump(context.Background(), fl.plain, "%")
	require.NoError(t, err)
	delete(tables, "schema_migrations")
	return tables
}

// lookups returns every account and transfer of the fault cases, read
// through fl's Ledger.
func (fl *faultyLedger) lookups(t *testing.T) []any { return ledgertest.FaultLookups(t, fl.l) }

// stmts returns the texts of the writer's prepared statements, sorted.
func (fl *faultyLedger) stmts() []string {
	fl.s.mu.Lock()
	defer fl.s.mu.Unlock()
	return slices.Sorted(maps.Keys(fl.s.stmts))
}

// checkLedgerFaults makes c's call on a faultyLedger set up by c.Setup
// (newFaultyLedgerWith) once without a failure, and then, for n = 1, 2,
// … until the call runs fewer than n statements, on one so set up, with
// its nth statement failed: the call must fail with that statement's
// error and leave the tables as they were, and then, made again, give
// what the call without a failure gave and leave the tables, the writer's
// prepared statements and what the lookups read as it left them.
func checkLedgerFaults(t *testing.T, c ledgertest.FaultCase) {
	ctx := context.Background()
	ref := newFaultyLedgerWith(t, c.Setup)
	wantGot, err := c.Call(ctx, ref.l)
	require.NoError(t, err, "without a failure")
	want, wantStmts, wantLookups := ref.dump(t), ref.stmts(), ref.lookups(t)
	if c.Want != nil {
		require.Equal(t, c.Want, wantGot, "without a failure")
	}
	for n := 1; ; n++ {
		fl := newFaultyLedgerWith(t, c.Setup)
		before := fl.dump(t)
		fl.f.Arm(n)
		got, err := c.Call(ctx, fl.l)
		failed := fl.f.Failure()
		fl.f.Arm(0)
		if failed == "" {
			require.Greater(t, n, 1, "statements run")
			require.NoError(t, err, "%d statements run", n-1)
			assert.Equal(t, wantGot, got, "%d statements run", n-1)
			assert.Equal(t, want, fl.dump(t), "%d statements run", n-1)
			return
		}
		// A statement prepared for a cache (not a connection's BEGIN,
		// COMMIT or ROLLBACK) that fails runs unprepared; a read's COMMIT
		// that fails is rolled back.
		cached := strings.HasPrefix(failed, "prepare ") && !slices.Contains([]string{"BEGIN", "COMMIT", "ROLLBACK"}, failed[len("prepare "):])
		if cached || c.Read && failed == "exec COMMIT" {
			require.NoError(t, err, "statement %d, %s, failed", n, failed)
			assert.Equal(t, wantGot, got, "statement %d, %s, failed", n, failed)
			assert.Equal(t, want, fl.dump(t), "statement %d, %s, failed", n, failed)
			stmts := fl.stmts()
			assert.Subset(t, wantStmts, stmts, "statement %d, %s, failed: the prepared statements", n, failed)
			assert.LessOrEqual(t, len(wantStmts)-len(stmts), 1, "statement %d, %s, failed: the prepared statements", n, failed)
			assert.Equal(t, wantLookups, fl.lookups(t), "statement %d, %s, failed: the lookups", n, failed)
			continue
		}
		require.ErrorIs(t, err, sqlfault.ErrStatement, "statement %d, %s, failed", n, failed)
		assert.Equal(t, before, fl.dump(t), "statement %d, %s, failed: the tables as they were", n, failed)
		got, err = c.Call(ctx, fl.l)
		require.NoError(t, err, "made again after statement %d, %s, failed", n, failed)
		assert.Equal(t, wantGot, got, "made again after statement %d, %s, failed", n, failed)
		assert.Equal(t, want, fl.dump(t), "made again after statement %d, %s, failed", n, failed)
		assert.Equal(t, wantStmts, fl.stmts(), "made again after statement %d, %s, failed: the prepared statements", n, failed)
		assert.Equal(t, wantLookups, fl.lookups(t), "made again after statement %d, %s, failed: the lookups", n, failed)
	}
}

// TestLedgerWriteFaults: a statement of a ledger write (an account
// creation, or a transfer: posted, pending, a post or void of a pending
// one, a linked chain, one whose batch releases an expired hold, a post
// of an expired hold) that fails fails the call with its error and leaves
// the tables as they were; the call made again with the same IDs gives
// the results of a call without a failure and leaves the tables as it
// does: no transfer lost, none applied twice.
func TestLedgerWriteFaults(t *testing.T) {
	for _, c := range ledgertest.WriteFaultCases() {
		t.Run(c.Name, func(t *testing.T) { checkLedgerFaults(t, c) })
	}
}

// TestLedgerReadFaults: a statement of a ledger read (lookups, an
// account's transfers and balances, Verify) that fails fails the read
// with its error; made again, the read gives what it gives without a
// failure. A read's COMMIT that fails does not fail it: it read one
// snapshot, and its connection, rolled back, serves the next.
func TestLedgerReadFaults(t *testing.T) {
	for _, c := range ledgertest.ReadFaultCases() {
		t.Run(c.Name, func(t *testing.T) { checkLedgerFaults(t, c) })
	}
}

// mergedCalls are the first three calls of ledgertest.MergedCalls,
// which create every transfer they name and which
// TestLedgerMergedBatchFaults makes at once: the first alone in a batch,
// the other two merged into the next.
var mergedCalls = ledgertest.MergedCalls()[:3]

// inBatches makes the calls of mergedCalls on fl at once, the
// statement numbered n from the first failed (0: none), and returns their
// errors. The test holds the Store's write lock until all are queued, the
// first call's batch waiting for it. Run in a synctest bubble, which tells
// when a call waits.
func inBatches(t *testing.T, fl *faultyLedger, n int) []error {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, fl.s.lock.Lock(ctx))
	errs := make([]error, len(mergedCalls))
	var wg sync.WaitGroup
	for i, c := range mergedCalls {
		wg.Go(func() {
			res, err := fl.l.CreateTransfers(ctx, c.Transfers)
			if err == nil {
				assert.Equal(t, c.Want, res, "call %d", i)
			}
			errs[i] = err
		})
		synctest.Wait() // the first in its batch, the others queued
	}
	fl.f.Arm(n)
	fl.s.lock.Unlock()
	wg.Wait()
	return errs
}

// createMerged makes call i of mergedCalls alone on fl and requires
// that it creates every transfer of the call; msg says how it is made.
func createMerged(t *testing.T, fl *faultyLedger, i int, msg string) {
	t.Helper()
	res, err := fl.l.CreateTransfers(context.Background(), mergedCalls[i].Transfers)
	require.NoError(t, err, "call %d %s", i, msg)
	assert.Equal(t, mergedCalls[i].Want, res, "call %d %s", i, msg)
}

// TestLedgerMergedBatchFaults: a statement that fails in a batch of
// concurrent CreateTransfers calls merged into one transaction fails
// every call of the batch with its error and stores nothing of them, the
// calls of the other batch stored as they are alone; the calls that
// failed, made again, create their transfers, and the tables are then
// exactly as after the calls made one after the other in that order: none
// lost, none twice.
func TestLedgerMergedBatchFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		setup := ledgertest.FaultSetup(ledgertest.FaultAccounts())
		// alone returns the tables after the calls numbered which, made one
		// after the other.
		alone := func(which ...int) map[string][]string {
			fl := newFaultyLedgerWith(t, setup)
			for _, i := range which {
				createMerged(t, fl, i, "made alone")
			}
			return fl.dump(t)
		}
		all := alone(0, 1, 2)
		var failedTogether bool // the merged calls failed by one statement
		for n := 1; ; n++ {
			fl := newFaultyLedgerWith(t, setup)
			errs := inBatches(t, fl, n)
			failed := fl.f.Failure()
			fl.f.Arm(0)
			if failed == "" {
				assert.Equal(t, []error{nil, nil, nil}, errs, "%d statements run", n-1)
				assert.Equal(t, all, fl.dump(t), "%d statements run", n-1)
				break
			}
			kept, lost, err := sqlfault.Split(errs)
			require.NoError(t, err, "statement %d, %s, failed", n, failed)
			if len(lost) == 0 { // a statement prepared for the cache, which runs unprepared
				require.True(t, strings.HasPrefix(failed, "prepare "), "statement %d, %s, failed", n, failed)
				assert.Equal(t, all, fl.dump(t), "statement %d, %s, failed", n, failed)
				continue
			}
			require.Contains(t, [][]int{{0}, {1, 2}}, lost, "statement %d, %s, failed: the calls of one batch", n, failed)
			failedTogether = failedTogether || len(lost) == 2
			assert.Equal(t, alone(kept...), fl.dump(t), "statement %d, %s, failed: the calls %v kept", n, failed, kept)
			for _, i := range lost {
				createMerged(t, fl, i, "made again")
			}
			assert.Equal(t, alone(append(kept, lost...)...), fl.dump(t), "statement %d, %s, failed: the calls %v made again", n, failed, lost)
		}
		assert.True(t, failedTogether, "merged calls failed by one statement")
	})
}
