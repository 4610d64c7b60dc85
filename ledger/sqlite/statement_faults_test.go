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
	"time"

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

// stmts returns the texts of the writer's prepared statements, sorted.
func (fl *faultyLedger) stmts() []string {
	fl.s.mu.Lock()
	defer fl.s.mu.Unlock()
	return slices.Sorted(maps.Keys(fl.s.stmts))
}

// The accounts and transfers of the fault tests.
func faultAccount(id uint64, flags ledger.AccountFlags) ledger.Account {
	return ledger.Account{ID: ledger.IDFromUint64(id), Ledger: 978, Code: 1, Flags: flags}
}

func faultTransfer(id, debit, credit, amount uint64, flags ledger.TransferFlags) ledger.Transfer {
	return ledger.Transfer{ID: ledger.IDFromUint64(id), DebitAccountID: ledger.IDFromUint64(debit),
		CreditAccountID: ledger.IDFromUint64(credit), Amount: amount, Ledger: 978, Code: 1, Flags: flags}
}

// faultAccounts are accounts 1 and 2, with their balance history, and 3,
// whose debits must not exceed its credits; 1 and 2 created as a chain.
func faultAccounts() []ledger.Account {
	return []ledger.Account{faultAccount(1, ledger.AccountHistory|ledger.AccountLinked),
		faultAccount(2, ledger.AccountHistory), faultAccount(3, ledger.AccountDebitsMustNotExceedCredits)}
}

// hold is pending transfer 11 of 100 from account 1 to 2, expiring after
// timeout seconds (0: never).
func hold(timeout uint32) ledger.Transfer {
	tr := faultTransfer(11, 1, 2, 100, ledger.TransferPending)
	tr.Timeout = timeout
	return tr
}

// resolve is transfer id posting all of hold 11, or voiding it.
func resolve(id uint64, flags ledger.TransferFlags) ledger.Transfer {
	tr := ledger.Transfer{ID: ledger.IDFromUint64(id), PendingID: ledger.IDFromUint64(11), Flags: flags}
	if flags&ledger.TransferPostPendingTransfer != 0 {
		tr.Amount = ledger.AmountMax
	}
	return tr
}

// faultIDs are the IDs of every account and transfer of the fault tests.
var faultIDs = func() []ledger.ID {
	var ids []ledger.ID
	for i := range uint64(20) {
		ids = append(ids, ledger.IDFromUint64(i+1))
	}
	return ids
}()

// ledgerFaultCase is a call of a Ledger made with each of its statements
// failed in turn.
type ledgerFaultCase struct {
	name string
	// setup creates, through fl.l, what the call finds; nil: nothing.
	setup func(t *testing.T, fl *faultyLedger)
	// call makes the call and returns what it gave.
	call func(ctx context.Context, l *ledger.Ledger) (any, error)
	// want is what the call gives without a failure; nil: not checked
	// but against the other runs.
	want any
	// read is set for a read, whose COMMIT that fails is rolled back: the
	// rows read are of one snapshot all the same.
	read bool
}

// writes creates what writes.
func writes(accounts []ledger.Account, transfers ...ledger.Transfer) func(t *testing.T, fl *faultyLedger) {
	return func(t *testing.T, fl *faultyLedger) {
		ctx := context.Background()
		res, err := fl.l.CreateAccounts(ctx, accounts)
		require.NoError(t, err)
		require.Equal(t, make([]ledger.CreateAccountResult, len(accounts)), res)
		if len(transfers) > 0 {
			res, err := fl.l.CreateTransfers(ctx, transfers)
			require.NoError(t, err)
			require.Equal(t, make([]ledger.CreateTransferResult, len(transfers)), res)
		}
	}
}

func createTransfers(transfers ...ledger.Transfer) func(context.Context, *ledger.Ledger) (any, error) {
	return func(ctx context.Context, l *ledger.Ledger) (any, error) { return l.CreateTransfers(ctx, transfers) }
}

var ledgerFaultCases = []ledgerFaultCase{
	{name: "create accounts", call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
		return l.CreateAccounts(ctx, faultAccounts())
	}, want: []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated, ledger.AccountCreated}},
	{name: "posted", setup: writes(faultAccounts()), call: createTransfers(faultTransfer(10, 1, 2, 100, 0)),
		want: []ledger.CreateTransferResult{ledger.TransferCreated}},
	{name: "pending", setup: writes(faultAccounts()), call: createTransfers(hold(60)),
		want: []ledger.CreateTransferResult{ledger.TransferCreated}},
	{name: "post", setup: writes(faultAccounts(), hold(60)), call: createTransfers(resolve(12, ledger.TransferPostPendingTransfer)),
		want: []ledger.CreateTransferResult{ledger.TransferCreated}},
	{name: "void", setup: writes(faultAccounts(), hold(60)), call: createTransfers(resolve(13, ledger.TransferVoidPendingTransfer)),
		want: []ledger.CreateTransferResult{ledger.TransferCreated}},
	{name: "linked", setup: writes(faultAccounts()), call: createTransfers(
		faultTransfer(14, 1, 2, 100, ledger.TransferLinked), faultTransfer(15, 3, 1, 100, 0),
		faultTransfer(16, 2, 1, 50, ledger.TransferLinked), faultTransfer(17, 1, 2, 20, 0)),
		want: []ledger.CreateTransferResult{ledger.TransferLinkedEventFailed, ledger.TransferExceedsCredits, ledger.TransferCreated, ledger.TransferCreated}},
	{name: "expiry", setup: func(t *testing.T, fl *faultyLedger) { // the batch releases hold 11
		writes(faultAccounts(), hold(1))(t, fl)
		fl.clock.Advance(2 * time.Second)
	}, call: createTransfers(faultTransfer(18, 2, 1, 30, 0)), want: []ledger.CreateTransferResult{ledger.TransferCreated}},
	{name: "expired post", setup: func(t *testing.T, fl *faultyLedger) {
		writes(faultAccounts(), hold(1))(t, fl)
		fl.clock.Advance(2 * time.Second)
	}, call: createTransfers(resolve(12, ledger.TransferPostPendingTransfer)),
		want: []ledger.CreateTransferResult{ledger.TransferPendingTransferExpired}},
}

// ledgerReadCases are the reads of a ledger holding a posted and a
// pending transfer.
var ledgerReadCases = []ledgerFaultCase{
	{name: "lookup accounts", call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
		return l.LookupAccounts(ctx, faultIDs)
	}},
	{name: "lookup transfers", call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
		return l.LookupTransfers(ctx, faultIDs)
	}},
	{name: "account transfers", call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
		return l.GetAccountTransfers(ctx, ledger.AccountFilter{AccountID: ledger.IDFromUint64(1), Limit: 10,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
	}},
	{name: "account balances", call: func(ctx context.Context, l *ledger.Ledger) (any, error) {
		return l.GetAccountBalances(ctx, ledger.AccountFilter{AccountID: ledger.IDFromUint64(1), Limit: 10,
			Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits | ledger.AccountFilterReversed})
	}},
	{name: "verify", call: func(ctx context.Context, l *ledger.Ledger) (any, error) { return nil, l.Verify(ctx) }},
}

// lookups returns every account and transfer of the fault tests, read
// through fl's Ledger.
func (fl *faultyLedger) lookups(t *testing.T) []any {
	t.Helper()
	ctx := context.Background()
	accounts, err := fl.l.LookupAccounts(ctx, faultIDs)
	require.NoError(t, err)
	transfers, err := fl.l.LookupTransfers(ctx, faultIDs)
	require.NoError(t, err)
	return []any{accounts, transfers}
}

// checkLedgerFaults makes c's call on a faultyLedger set up by c.setup
// once without a failure, and then, for n = 1, 2, … until the call runs
// fewer than n statements, on one so set up, with its nth statement
// failed: the call must fail with that statement's error and leave the
// tables as they were, and then, made again, give what the call without a
// failure gave and leave the tables, the writer's prepared statements and
// what the lookups read as it left them.
func checkLedgerFaults(t *testing.T, c ledgerFaultCase) {
	ctx := context.Background()
	prepared := func() *faultyLedger {
		fl := newFaultyLedger(t)
		if c.setup != nil {
			c.setup(t, fl)
		}
		return fl
	}
	ref := prepared()
	wantGot, err := c.call(ctx, ref.l)
	require.NoError(t, err, "without a failure")
	want, wantStmts, wantLookups := ref.dump(t), ref.stmts(), ref.lookups(t)
	if c.want != nil {
		require.Equal(t, c.want, wantGot, "without a failure")
	}
	for n := 1; ; n++ {
		fl := prepared()
		before := fl.dump(t)
		fl.f.Arm(n)
		got, err := c.call(ctx, fl.l)
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
		if cached || c.read && failed == "exec COMMIT" {
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
		got, err = c.call(ctx, fl.l)
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
	for _, c := range ledgerFaultCases {
		t.Run(c.name, func(t *testing.T) { checkLedgerFaults(t, c) })
	}
}

// TestLedgerReadFaults: a statement of a ledger read (lookups, an
// account's transfers and balances, Verify) that fails fails the read
// with its error; made again, the read gives what it gives without a
// failure. A read's COMMIT that fails does not fail it: it read one
// snapshot, and its connection, rolled back, serves the next.
func TestLedgerReadFaults(t *testing.T) {
	setup := writes(faultAccounts(), faultTransfer(10, 1, 2, 100, 0), hold(60))
	for _, c := range ledgerReadCases {
		c.setup, c.read = setup, true
		t.Run(c.name, func(t *testing.T) { checkLedgerFaults(t, c) })
	}
}

// mergedTransfers are transfers of three CreateTransfers calls, which
// TestLedgerMergedBatchFaults makes at once: the first alone in a batch,
// the other two merged into the next.
var mergedTransfers = [][]ledger.Transfer{
	{faultTransfer(10, 1, 2, 100, 0)},
	{hold(60)},
	{faultTransfer(12, 2, 1, 30, ledger.TransferLinked), faultTransfer(13, 1, 2, 10, 0)},
}

// inBatches makes the calls of mergedTransfers on fl at once, the
// statement numbered n from the first failed (0: none), and returns their
// errors. The test holds the Store's write lock until all are queued, the
// first call's batch waiting for it. Run in a synctest bubble, which tells
// when a call waits.
func inBatches(t *testing.T, fl *faultyLedger, n int) []error {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, fl.s.lock.Lock(ctx))
	errs := make([]error, len(mergedTransfers))
	var wg sync.WaitGroup
	for i, transfers := range mergedTransfers {
		wg.Go(func() {
			res, err := fl.l.CreateTransfers(ctx, transfers)
			if err == nil {
				assert.Equal(t, make([]ledger.CreateTransferResult, len(transfers)), res, "call %d", i)
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

// TestLedgerMergedBatchFaults: a statement that fails in a batch of
// concurrent CreateTransfers calls merged into one transaction fails
// every call of the batch with its error and stores nothing of them, the
// calls of the other batch stored as they are alone; the calls that
// failed, made again, create their transfers, and the tables are then
// exactly as after the calls made one after the other in that order: none
// lost, none twice.
func TestLedgerMergedBatchFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		setup := writes(faultAccounts())
		// alone returns the tables after the calls numbered which, made one
		// after the other.
		alone := func(which ...int) map[string][]string {
			fl := newFaultyLedger(t)
			setup(t, fl)
			for _, i := range which {
				_, err := fl.l.CreateTransfers(ctx, mergedTransfers[i])
				require.NoError(t, err)
			}
			return fl.dump(t)
		}
		all := alone(0, 1, 2)
		var failedTogether bool // the merged calls failed by one statement
		for n := 1; ; n++ {
			fl := newFaultyLedger(t)
			setup(t, fl)
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
				res, err := fl.l.CreateTransfers(ctx, mergedTransfers[i])
				require.NoError(t, err, "call %d made again", i)
				assert.Equal(t, make([]ledger.CreateTransferResult, len(mergedTransfers[i])), res, "call %d made again", i)
			}
			assert.Equal(t, alone(append(kept, lost...)...), fl.dump(t), "statement %d, %s, failed: the calls %v made again", n, failed, lost)
		}
		assert.True(t, failedTogether, "merged calls failed by one statement")
	})
}
