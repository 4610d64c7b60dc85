package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/pgfault"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore/sqltest"
	"github.com/casimpay/casimpay/ledger/ledgertest"
)

// mergedCalls are the four CreateTransfers calls that
// TestLedgerMergedBatchFaults makes at once (ledgertest.MergedCalls).
var mergedCalls = ledgertest.MergedCalls()

// mergedAsGiven returns the indexes of mergedCalls in order.
func mergedAsGiven() []int {
	order := make([]int, len(mergedCalls))
	for i := range order {
		order[i] = i
	}
	return order
}

// mergedSetup creates the accounts that mergedCalls move between.
var mergedSetup = ledgertest.FaultCase{Setup: ledgertest.FaultSetup(ledgertest.FaultAccounts())}

// mergedRun is what the calls of mergedCalls made at once gave: each
// call's results and error, and how many store transactions the Ledger
// ran for them.
type mergedRun struct {
	results [][]ledger.CreateTransferResult
	errs    []error
	updates int64
}

// runMerged makes the calls of mergedCalls at once on a new Ledger over
// fs's Store and clock, whose batcher merges them into one batch, in the
// order they come: it waits for more requests (Options.MaxWait) until the
// batch holds as many events as all of them (Options.MaxBatch). The wait
// is only a bound, far beyond the time the calls take to be queued; a
// batch cut short by it runs more than one store transaction.
func runMerged(t *testing.T, fs *faultSchema) mergedRun {
	t.Helper()
	events := 0
	for _, c := range mergedCalls {
		events += len(c.Transfers)
	}
	s := &sqltest.CountingStore{Store: fs.s}
	l, err := ledger.New(s, ledger.Options{Now: fs.clock.Now, MaxBatch: events, MaxWait: time.Minute})
	require.NoError(t, err)
	defer func() { assert.NoError(t, l.Close()) }()
	run := mergedRun{results: make([][]ledger.CreateTransferResult, len(mergedCalls)), errs: make([]error, len(mergedCalls))}
	var wg sync.WaitGroup
	for i, c := range mergedCalls {
		wg.Go(func() { run.results[i], run.errs[i] = l.CreateTransfers(context.Background(), c.Transfers) })
	}
	wg.Wait()
	run.updates = s.Updates.Load()
	return run
}

// mergedOrder returns the indexes of mergedCalls in the order of the
// timestamps of their first transfers, all of which fs holds.
func mergedOrder(t *testing.T, fs *faultSchema) []int {
	t.Helper()
	ids := make([]ledger.ID, len(mergedCalls))
	for i, c := range mergedCalls {
		ids[i] = c.Transfers[0].ID
	}
	found, err := fs.l.LookupTransfers(context.Background(), ids)
	require.NoError(t, err)
	require.Len(t, found, len(ids), "the calls' first transfers")
	ts := make(map[ledger.ID]uint64, len(found))
	for _, tr := range found {
		ts[tr.ID] = tr.Timestamp
	}
	order := mergedAsGiven()
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ts[ids[a]], ts[ids[b]]) })
	return order
}

// oneByOne is what the calls of mergedCalls leave when made one after
// the other: the tables, the lookups, and how many writes they run.
type oneByOne struct {
	tables  map[string][]string
	lookups []any
	writes  int
}

// makeOneByOne makes the calls of mergedCalls numbered order on fs's
// Ledger one after the other, each checked to give its results.
func makeOneByOne(t *testing.T, fs *faultSchema, order []int, msg string) {
	t.Helper()
	for _, i := range order {
		res, err := fs.l.CreateTransfers(context.Background(), mergedCalls[i].Transfers)
		require.NoError(t, err, "%s: call %d", msg, i)
		assert.Equal(t, mergedCalls[i].Want, res, "%s: call %d", msg, i)
	}
}

// TestLedgerMergedBatchFaults: concurrent CreateTransfers calls that the
// Ledger merges into one PostgreSQL transaction, a write of which fails:
//
//   - with an error the Store neither reruns nor reports as
//     ledger.ErrCorrupt (pgfault.Code): every call of the batch fails with
//     it and nothing of the batch is stored; made again, one after the
//     other, the calls give their results and leave the tables as calls
//     made so do;
//   - with a serialization failure, a deadlock or a unique violation: the
//     Store runs the transaction again, and every call gives its results
//     from the one store transaction;
//   - with an error that the Store reports as ledger.ErrCorrupt (a foreign
//     key violation, its own refusal): the Ledger runs each call alone, in
//     the batch's order, and each gives its results.
//
// Once every call has given its results, the tables and lookups are
// exactly those of the calls made one after the other in the order the
// batch took them: nothing lost, nothing moved twice.
func TestLedgerMergedBatchFaults(t *testing.T) {
	fs := newFaultSchema(t)
	memo := map[string]oneByOne{}
	// inOrder returns what the calls numbered order leave made one after
	// the other on tables as mergedSetup leaves them.
	inOrder := func(order []int) oneByOne {
		key := fmt.Sprint(order)
		if o, ok := memo[key]; ok {
			return o
		}
		fs.prepare(t, mergedSetup)
		fs.arm(t, pgfault.Code)
		makeOneByOne(t, fs, order, "one after the other")
		o := oneByOne{tables: fs.dump(t), lookups: ledgertest.FaultLookups(t, fs.l), writes: fs.ran(t)}
		memo[key] = o
		return o
	}
	// check checks that every call of run gave its results, and that the
	// tables and lookups are as inOrder leaves them for the order the
	// batch took the calls in; it returns how many writes ran, and
	// inOrder's.
	check := func(run mergedRun, msg string) (ran int, alone oneByOne) {
		t.Helper()
		for i, c := range mergedCalls {
			require.NoError(t, run.errs[i], "%s: call %d", msg, i)
			assert.Equal(t, c.Want, run.results[i], "%s: call %d", msg, i)
		}
		ran, tables, lookups := fs.ran(t), fs.dump(t), ledgertest.FaultLookups(t, fs.l)
		order := mergedOrder(t, fs)
		alone = inOrder(order)
		assert.Equal(t, alone.tables, tables, "%s: the tables, in the batch's order %v", msg, order)
		assert.Equal(t, alone.lookups, lookups, "%s: the lookups, in the batch's order %v", msg, order)
		return ran, alone
	}

	sequential := inOrder(mergedAsGiven())
	fs.prepare(t, mergedSetup)
	fs.arm(t, pgfault.Code)
	run := runMerged(t, fs)
	require.Equal(t, int64(1), run.updates, "the calls' store transactions")
	writes, _ := check(run, "without a failure")
	for n := 1; n <= writes; n++ {
		for _, code := range retriedCodes {
			msg := fmt.Sprintf("write %d failed with %s", n, code)
			fs.prepare(t, mergedSetup)
			fs.arm(t, code, n)
			run := runMerged(t, fs)
			assert.Equal(t, int64(1), run.updates, "%s: the store transactions", msg)
			ran, _ := check(run, msg)
			assert.Equal(t, n+writes, ran, "%s: the writes run, a rerun's all", msg)
		}
		for _, r := range refusedCodes {
			msg := fmt.Sprintf("write %d failed with %s", n, r.code)
			before := fs.prepare(t, mergedSetup)
			fs.arm(t, r.code, n)
			run := runMerged(t, fs)
			if r.corrupt {
				assert.Equal(t, int64(1+len(mergedCalls)), run.updates, "%s: the store transactions, the batch's and each call's alone", msg)
				ran, alone := check(run, msg)
				assert.Equal(t, n+alone.writes, ran, "%s: the writes run, then each call's alone", msg)
				continue
			}
			assert.Equal(t, int64(1), run.updates, "%s: the store transactions", msg)
			for i, err := range run.errs {
				require.Truef(t, pgfault.Is(err, r.code), "%s: call %d: %v", msg, i, err)
				assert.NotErrorIs(t, err, ledger.ErrCorrupt, "%s: call %d", msg, i)
				assert.Nil(t, run.results[i], "%s: call %d", msg, i)
			}
			assert.Equal(t, n, fs.ran(t), "%s: the writes run", msg)
			assert.Equal(t, before, fs.dump(t), "%s: the tables as they were", msg)
			fs.arm(t, pgfault.Code)
			makeOneByOne(t, fs, mergedAsGiven(), "made again after "+msg)
			assert.Equal(t, sequential.tables, fs.dump(t), "made again after %s: the tables", msg)
			assert.Equal(t, sequential.lookups, ledgertest.FaultLookups(t, fs.l), "made again after %s: the lookups", msg)
		}
	}
}
