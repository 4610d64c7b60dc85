// Package ledgertest is the conformance suite of ledger.Store: every store
// (ledger/memory, ledger/sqlite, ledger/postgres) runs Run from its tests,
// so one set of rules holds for all of them. Run drives a ledger.Ledger
// over the store and checks exact result codes and balances: every result
// code, two-phase transfers with expiry on an injected clock (and the
// expiry of a pending state made active again by a writer other than the
// ledger), linked chains, idempotent retries, lookups and pagination, the
// balance history read whole (ledger.ReadTx.BalanceRows) and a balance
// history row that names another transfer, Verify of a store that lost an
// account (Config.DeleteAccount) or that holds accounts with reserved IDs
// and their balance history, the ledger's refusal of a pending transfer
// that holds more than its accounts have pending (whose post, void or
// expiry would take a balance below zero), the store's refusal of a row
// naming a row that does not exist, of a pending state of a transfer that
// is not pending, of a transfer whose debit and credit account are the
// same, and of a unique key (an ID, a transfer's timestamp, a balance
// history row's account and timestamp) inserted again, rows stored out of
// timestamp order, the ForEach reads' order and their stop at fn's first
// error, a refused write or a failed read whose error the transaction
// ignores, the writes of a transaction that reads nothing, a context that
// ends while the transaction runs, a nil context (refused by the store and
// the Ledger, which leaves neither holding a lock or a transaction), a nil
// transaction function (refused by the store alike), a store used after
// Close (ledger.ErrClosed), a limit of a read outside [1, BatchMax]
// (refused by every store alike), a last timestamp that goes back,
// concurrency, restart (for stores that persist) and a rapid state machine
// that compares the store with the in-memory model (RunModel).
//
// The package also holds the calls that the SQL stores' tests make with
// the statements of their transactions failed one at a time, by fault
// injectors of their own (FaultCase, WriteFaultCases, ReadFaultCases),
// and RunNotMade, which checks stores of a type that its constructor did
// not make.
package ledgertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// Config tells the suite how to open the store under test.
type Config struct {
	// NewStore opens a store over a fresh, empty data set. The suite
	// closes it. Required.
	NewStore func(t *testing.T) ledger.Store
	// Reopen opens the data set of closed, a store that NewStore or Reopen
	// returned and the suite has closed. Nil for a store without
	// persistence: the restart tests are then skipped.
	Reopen func(t *testing.T, closed ledger.Store) ledger.Store
	// ModelSteps is the most operations of one random run of RunModel;
	// zero means 12.
	ModelSteps int
	// FailReads makes ReadTx.FailedTransfers of s, a store that NewStore
	// returned, fail from now until the test ends, by a change outside s
	// (a SQL store: its table of failed transfers renamed), and leaves the
	// store's other methods working. Nil for a store whose reads cannot
	// fail (ledger/memory): the test of a failed read is then skipped.
	FailReads func(t *testing.T, s ledger.Store)
	// DeleteAccount deletes account id from s, a store that NewStore
	// returned, and leaves the rows that name it (its transfers, its
	// balance history) as they are, by a change outside s (a SQL store: a
	// DELETE with its foreign keys not enforced), as damage to its data
	// would. Nil for a store that cannot lose a row so (ledger/memory):
	// the tests of a store so damaged are then skipped.
	DeleteAccount func(t *testing.T, s ledger.Store, id ledger.ID)
}

// Clock is a settable clock for ledger.Options.Now, safe for concurrent
// use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock that reads t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (back when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Epoch is where the suite's clocks start.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// env is one test's store, clock and ledger.
type env struct {
	t     *testing.T
	c     Config
	store ledger.Store
	clock *Clock
	l     *ledger.Ledger
	// base, when not zero, is added to the small IDs the test uses (below
	// 2^32), so that the cases of a table share one store (see shared).
	base uint64
}

// shared is one store for the cases of a table, so that a store that is
// slow to create stays cheap to test: each case uses IDs of its own and
// starts with the clock far ahead of anything an earlier case reached.
type shared struct {
	env   *env
	cases uint64
}

func newShared(t *testing.T, c Config) *shared { return &shared{env: newEnv(t, c)} }

// next returns the env of the next case.
func (s *shared) next(t *testing.T) *env {
	s.cases++
	e := *s.env
	e.t = t
	e.base = s.cases << 32
	e.clock.Set(Epoch.Add(time.Duration(s.cases) * 240 * time.Hour))
	return &e
}

// in maps a test's ID into the case's ID range.
func (e *env) in(i ledger.ID) ledger.ID {
	hi, lo := i.Uint64s()
	if e.base == 0 || !i.Valid() || hi != 0 || lo>>32 != 0 {
		return i
	}
	return ledger.IDFromUint64(e.base | lo)
}

// out maps an ID of the case's range back to the test's ID.
func (e *env) out(i ledger.ID) ledger.ID {
	hi, lo := i.Uint64s()
	if e.base == 0 || hi != 0 || lo>>32 != e.base>>32 {
		return i
	}
	return ledger.IDFromUint64(lo & (1<<32 - 1))
}

func (e *env) mapTransfer(t ledger.Transfer, f func(ledger.ID) ledger.ID) ledger.Transfer {
	t.ID, t.DebitAccountID, t.CreditAccountID, t.PendingID = f(t.ID), f(t.DebitAccountID), f(t.CreditAccountID), f(t.PendingID)
	return t
}

// batchTimeout is the Options.BatchTimeout of the ledgers the suite opens:
// some cases write BatchMax transfers, or expire BatchMax holds, in one
// batch, which takes seconds under the race detector and longer on a busy
// machine. The suite checks what a batch does, not how long it may take
// (the ledger package's own tests check the timeout).
const batchTimeout = 10 * time.Minute

func newEnv(t *testing.T, c Config) *env {
	t.Helper()
	e := &env{t: t, c: c, clock: NewClock(Epoch)}
	e.store = c.NewStore(t)
	require.NotNil(t, e.store)
	e.open()
	t.Cleanup(func() {
		if e.l != nil {
			_ = e.l.Close()
			_ = e.store.Close()
		}
	})
	return e
}

func (e *env) open() {
	l, err := ledger.New(e.store, ledger.Options{Now: e.clock.Now, BatchTimeout: batchTimeout})
	require.NoError(e.t, err)
	e.l = l
}

// reopen closes the ledger and the store and opens both again.
func (e *env) reopen() {
	e.t.Helper()
	require.NoError(e.t, e.l.Close())
	require.NoError(e.t, e.store.Close())
	e.l = nil
	e.store = e.c.Reopen(e.t, e.store)
	require.NotNil(e.t, e.store)
	e.open()
}

func (e *env) ctx() context.Context { return context.Background() }

// id is shorthand for small IDs.
func id(v uint64) ledger.ID { return ledger.IDFromUint64(v) }

func (e *env) createAccounts(accounts ...ledger.Account) []ledger.CreateAccountResult {
	e.t.Helper()
	mapped := make([]ledger.Account, len(accounts))
	for i, a := range accounts {
		a.ID = e.in(a.ID)
		mapped[i] = a
	}
	res, err := e.l.CreateAccounts(e.ctx(), mapped)
	require.NoError(e.t, err)
	require.Len(e.t, res, len(accounts))
	return res
}

func (e *env) mustCreateAccounts(accounts ...ledger.Account) {
	e.t.Helper()
	for i, r := range e.createAccounts(accounts...) {
		require.Equal(e.t, ledger.AccountCreated, r, "account %d", i)
	}
}

func (e *env) transfers(ts ...ledger.Transfer) []ledger.CreateTransferResult {
	e.t.Helper()
	mapped := make([]ledger.Transfer, len(ts))
	for i, t := range ts {
		mapped[i] = e.mapTransfer(t, e.in)
	}
	res, err := e.l.CreateTransfers(e.ctx(), mapped)
	require.NoError(e.t, err)
	require.Len(e.t, res, len(ts))
	return res
}

func (e *env) mustTransfer(ts ...ledger.Transfer) {
	e.t.Helper()
	for i, r := range e.transfers(ts...) {
		require.Equal(e.t, ledger.TransferCreated, r, "transfer %d", i)
	}
}

func (e *env) account(v uint64) ledger.Account {
	e.t.Helper()
	got := e.lookupAccounts(id(v))
	require.Len(e.t, got, 1, "account %d", v)
	return got[0]
}

func (e *env) transfer(v uint64) ledger.Transfer {
	e.t.Helper()
	got := e.lookupTransfers(id(v))
	require.Len(e.t, got, 1, "transfer %d", v)
	return got[0]
}

func (e *env) lookupAccounts(ids ...ledger.ID) []ledger.Account {
	e.t.Helper()
	mapped := make([]ledger.ID, len(ids))
	for i, v := range ids {
		mapped[i] = e.in(v)
	}
	got, err := e.l.LookupAccounts(e.ctx(), mapped)
	require.NoError(e.t, err)
	for i := range got {
		got[i].ID = e.out(got[i].ID)
	}
	return got
}

func (e *env) lookupTransfers(ids ...ledger.ID) []ledger.Transfer {
	e.t.Helper()
	mapped := make([]ledger.ID, len(ids))
	for i, v := range ids {
		mapped[i] = e.in(v)
	}
	got, err := e.l.LookupTransfers(e.ctx(), mapped)
	require.NoError(e.t, err)
	for i := range got {
		got[i] = e.mapTransfer(got[i], e.out)
	}
	return got
}

// Bal is an account's four balances: debits pending and posted, credits
// pending and posted.
type Bal struct{ DP, DPo, CP, CPo uint64 }

func balOf(a ledger.Account) Bal {
	return Bal{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted}
}

func (e *env) requireBalances(want map[uint64]Bal) {
	e.t.Helper()
	for acct, b := range want {
		require.Equal(e.t, b, balOf(e.account(acct)), "balances of account %d", acct)
	}
}

func (e *env) verify() {
	e.t.Helper()
	require.NoError(e.t, e.l.Verify(e.ctx()))
}

// Run runs the whole suite against the store c opens.
func Run(t *testing.T, c Config) {
	require.NotNil(t, c.NewStore, "Config.NewStore is required")
	t.Run("NilContext", func(t *testing.T) { testNilContext(t, c) })
	t.Run("NilFunc", func(t *testing.T) { testNilFunc(t, c) })
	t.Run("ClosedStore", func(t *testing.T) { testClosedStore(t, c) })
	t.Run("LimitRange", func(t *testing.T) { testLimitRange(t, c) })
	t.Run("AccountResults", func(t *testing.T) { testAccountResults(t, c) })
	t.Run("TransferResults", func(t *testing.T) { testTransferResults(t, c) })
	t.Run("Balancing", func(t *testing.T) { testBalancing(t, c) })
	t.Run("TwoPhase", func(t *testing.T) { testTwoPhase(t, c) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, c) })
	t.Run("ExpiredPendingOfUpdatedState", func(t *testing.T) { testExpiredPendingOfUpdatedState(t, c) })
	t.Run("Closing", func(t *testing.T) { testClosing(t, c) })
	t.Run("LinkedChains", func(t *testing.T) { testLinked(t, c) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, c) })
	t.Run("Timestamps", func(t *testing.T) { testTimestamps(t, c) })
	t.Run("Lookups", func(t *testing.T) { testLookups(t, c) })
	t.Run("AccountTransfers", func(t *testing.T) { testAccountTransfers(t, c) })
	t.Run("AccountTransferFilters", func(t *testing.T) { testAccountTransferFilters(t, c) })
	t.Run("AccountBalances", func(t *testing.T) { testAccountBalances(t, c) })
	t.Run("AccountBalanceFilters", func(t *testing.T) { testAccountBalanceFilters(t, c) })
	t.Run("AccountBalanceTransferFilters", func(t *testing.T) { testAccountBalanceTransferFilters(t, c) })
	t.Run("BalanceRows", func(t *testing.T) { testBalanceRows(t, c) })
	t.Run("HistoryOfOtherTransfer", func(t *testing.T) { testHistoryOfOtherTransfer(t, c) })
	t.Run("MissingRows", func(t *testing.T) { testMissingRows(t, c) })
	t.Run("PendingOfPlainTransfer", func(t *testing.T) { testPendingOfPlainTransfer(t, c) })
	t.Run("ReleaseBeyondHeld", func(t *testing.T) { testReleaseBeyondHeld(t, c) })
	t.Run("SameAccountTransfer", func(t *testing.T) { testSameAccountTransfer(t, c) })
	t.Run("RepeatedUpdates", func(t *testing.T) { testRepeatedUpdates(t, c) })
	t.Run("RepeatedInserts", func(t *testing.T) { testRepeatedInserts(t, c) })
	t.Run("StoredOrder", func(t *testing.T) { testStoredOrder(t, c) })
	t.Run("FailedOrder", func(t *testing.T) { testFailedOrder(t, c) })
	t.Run("ForEachStops", func(t *testing.T) { testForEachStops(t, c) })
	t.Run("WriteOrder", func(t *testing.T) { testWriteOrder(t, c) })
	t.Run("IgnoredWriteError", func(t *testing.T) { testIgnoredWriteError(t, c) })
	t.Run("IgnoredReadError", func(t *testing.T) { testIgnoredReadError(t, c) })
	t.Run("HistoryOfDeletedAccount", func(t *testing.T) { testHistoryOfDeletedAccount(t, c) })
	t.Run("HistoryOfReservedAccount", func(t *testing.T) { testHistoryOfReservedAccount(t, c) })
	t.Run("VerifyHistoryOfOtherTransfer", func(t *testing.T) { testVerifyHistoryOfOtherTransfer(t, c) })
	t.Run("WritesWithoutRead", func(t *testing.T) { testWritesWithoutRead(t, c) })
	t.Run("CancelledUpdate", func(t *testing.T) { testCancelledUpdate(t, c) })
	t.Run("LastTimestamp", func(t *testing.T) { testLastTimestamp(t, c) })
	t.Run("Limits", func(t *testing.T) { testLimits(t, c) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, c) })
	t.Run("Restart", func(t *testing.T) { testRestart(t, c) })
	t.Run("Model", func(t *testing.T) { RunModel(t, c) })
}
