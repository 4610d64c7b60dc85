package ledger_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// checkedStore records every call of a method that takes IDs (Accounts,
// Transfers, Pending, FailedTransfers, LockAccounts) whose IDs are not in
// strictly ascending order, as ReadTx promises a store, every call of a
// write method with no rows, which Tx promises a store it never gets, and
// balance history rows not in ascending Timestamp order
// (Tx.InsertBalances), and every filter not normalized (checkFilter).
type checkedStore struct {
	ledger.Store
	mu  sync.Mutex
	bad []string
}

func (s *checkedStore) check(method string, ids []ledger.ID) {
	for i := 1; i < len(ids); i++ {
		if ids[i-1].Compare(ids[i]) >= 0 {
			s.mu.Lock()
			s.bad = append(s.bad, fmt.Sprintf("%s%v", method, ids))
			s.mu.Unlock()
			return
		}
	}
}

// recordEmpty records a call of a write method with no rows.
func recordEmpty[T any](s *checkedStore, method string, rows []T, do func([]T) error) error {
	if len(rows) == 0 {
		s.mu.Lock()
		s.bad = append(s.bad, method+"[]")
		s.mu.Unlock()
	}
	return do(rows)
}

// violations returns what s recorded.
func (s *checkedStore) violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bad)
}

func (s *checkedStore) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	return s.Store.View(ctx, func(tx ledger.ReadTx) error { return fn(checkedReadTx{tx, s}) })
}

func (s *checkedStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.Update(ctx, func(tx ledger.Tx) error { return fn(checkedTx{tx, s}) })
}

type checkedReadTx struct {
	ledger.ReadTx
	s *checkedStore
}

func (tx checkedReadTx) Accounts(ids []ledger.ID) ([]ledger.Account, error) {
	tx.s.check("Accounts", ids)
	return tx.ReadTx.Accounts(ids)
}

func (tx checkedReadTx) Transfers(ids []ledger.ID) ([]ledger.Transfer, error) {
	tx.s.check("Transfers", ids)
	return tx.ReadTx.Transfers(ids)
}

func (tx checkedReadTx) AccountTransfers(f ledger.AccountFilter) ([]ledger.Transfer, error) {
	tx.s.checkFilter("AccountTransfers", f)
	return tx.ReadTx.AccountTransfers(f)
}

func (tx checkedReadTx) AccountBalances(f ledger.AccountFilter) ([]ledger.AccountBalance, error) {
	tx.s.checkFilter("AccountBalances", f)
	return tx.ReadTx.AccountBalances(f)
}

// checkFilter records a filter that is not normalized as ReadTx promises
// a store: a valid account ID, a known side flag, Limit in [1, BatchMax]
// and an inclusive time range ending at most at TimestampLimit.
func (s *checkedStore) checkFilter(method string, f ledger.AccountFilter) {
	if f.AccountID.Valid() && f.Flags&(ledger.AccountFilterDebits|ledger.AccountFilterCredits) != 0 &&
		f.Flags&^(ledger.AccountFilterDebits|ledger.AccountFilterCredits|ledger.AccountFilterReversed) == 0 &&
		f.Limit >= 1 && f.Limit <= ledger.BatchMax && f.TimestampMin <= f.TimestampMax && f.TimestampMax != 0 &&
		f.TimestampMax <= ledger.TimestampLimit {
		return
	}
	s.mu.Lock()
	s.bad = append(s.bad, fmt.Sprintf("%s%+v", method, f))
	s.mu.Unlock()
}

type checkedTx struct {
	ledger.Tx
	s *checkedStore
}

func (tx checkedTx) Accounts(ids []ledger.ID) ([]ledger.Account, error) {
	tx.s.check("Accounts", ids)
	return tx.Tx.Accounts(ids)
}

func (tx checkedTx) Transfers(ids []ledger.ID) ([]ledger.Transfer, error) {
	tx.s.check("Transfers", ids)
	return tx.Tx.Transfers(ids)
}

func (tx checkedTx) Pending(ids []ledger.ID) ([]ledger.Pending, error) {
	tx.s.check("Pending", ids)
	return tx.Tx.Pending(ids)
}

func (tx checkedTx) FailedTransfers(ids []ledger.ID) ([]ledger.FailedTransfer, error) {
	tx.s.check("FailedTransfers", ids)
	return tx.Tx.FailedTransfers(ids)
}

// LockAccounts returns the rows in descending ID order, which a store may
// (rows come in any order).
func (tx checkedTx) LockAccounts(ids []ledger.ID) ([]ledger.Account, error) {
	tx.s.check("LockAccounts", ids)
	a, err := tx.Tx.LockAccounts(ids)
	a = slices.Clone(a)
	slices.SortFunc(a, func(x, y ledger.Account) int { return y.ID.Compare(x.ID) })
	return a, err
}

func (tx checkedTx) InsertAccounts(a []ledger.Account) error {
	return recordEmpty(tx.s, "InsertAccounts", a, tx.Tx.InsertAccounts)
}

// UpdateAccounts records accounts not given in ascending ID order.
func (tx checkedTx) UpdateAccounts(a []ledger.Account) error {
	ids := make([]ledger.ID, len(a))
	for i := range a {
		ids[i] = a[i].ID
	}
	tx.s.check("UpdateAccounts", ids)
	return recordEmpty(tx.s, "UpdateAccounts", a, tx.Tx.UpdateAccounts)
}

func (tx checkedTx) InsertTransfers(t []ledger.Transfer) error {
	return recordEmpty(tx.s, "InsertTransfers", t, tx.Tx.InsertTransfers)
}

func (tx checkedTx) InsertPending(p []ledger.Pending) error {
	return recordEmpty(tx.s, "InsertPending", p, tx.Tx.InsertPending)
}

func (tx checkedTx) UpdatePending(p []ledger.Pending) error {
	return recordEmpty(tx.s, "UpdatePending", p, tx.Tx.UpdatePending)
}

func (tx checkedTx) InsertFailed(f []ledger.FailedTransfer) error {
	return recordEmpty(tx.s, "InsertFailed", f, tx.Tx.InsertFailed)
}

func (tx checkedTx) InsertBalances(b []ledger.BalanceRow) error {
	for i := 1; i < len(b); i++ {
		if b[i-1].Timestamp > b[i].Timestamp {
			tx.s.mu.Lock()
			tx.s.bad = append(tx.s.bad, fmt.Sprintf("InsertBalances at %d after %d", b[i].Timestamp, b[i-1].Timestamp))
			tx.s.mu.Unlock()
			break
		}
	}
	return recordEmpty(tx.s, "InsertBalances", b, tx.Tx.InsertBalances)
}

// newChecked returns a Ledger over a checkedStore of a memory store, and
// the store.
func newChecked(t *testing.T, now func() time.Time) (*ledger.Ledger, *checkedStore) {
	t.Helper()
	s := &checkedStore{Store: memory.New()}
	l, err := ledger.New(s, ledger.Options{Now: now})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l, s
}

// TestStoreGetsIDsAscendingOnce: the ledger gives a store's methods that
// take IDs each ID at most once and in ascending order, whatever the order
// and repetitions of the IDs in the calls, and the accounts to update in
// ascending ID order, whatever the order of the rows that LockAccounts
// returned: account creation, lookups, transfers naming their accounts in
// descending order, and posts and voids of pending transfers named in
// descending order, one of them expired.
func TestStoreGetsIDsAscendingOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, s := newChecked(t, func() time.Time { return now })
	id := ledger.IDFromUint64
	acct := func(v uint64) ledger.Account { return ledger.Account{ID: id(v), Ledger: 978, Code: 1} }

	res, err := l.CreateAccounts(ctx, []ledger.Account{acct(5), acct(3), acct(5), acct(1)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated, ledger.AccountExists,
		ledger.AccountCreated}, res)

	tr := func(v, dr, cr uint64, flags ledger.TransferFlags, timeout uint32) ledger.Transfer {
		return ledger.Transfer{ID: id(v), DebitAccountID: id(dr), CreditAccountID: id(cr), Amount: 1, Ledger: 978, Code: 1,
			Flags: flags, Timeout: timeout}
	}
	resolve := func(v, pending uint64, flags ledger.TransferFlags) ledger.Transfer {
		return ledger.Transfer{ID: id(v), PendingID: id(pending), Flags: flags}
	}
	created, err := l.CreateTransfers(ctx, []ledger.Transfer{tr(19, 5, 3, ledger.TransferPending, 0),
		tr(18, 5, 1, ledger.TransferPending, 0), tr(17, 3, 1, ledger.TransferPending, 1)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated, ledger.TransferCreated}, created)
	now = now.Add(2 * time.Second) // transfer 17 expires
	got, err := l.CreateTransfers(ctx, []ledger.Transfer{tr(16, 5, 3, 0, 0), tr(16, 5, 3, 0, 0),
		resolve(15, 19, ledger.TransferPostPendingTransfer), resolve(14, 18, ledger.TransferVoidPendingTransfer),
		tr(13, 3, 1, ledger.TransferPending, 0), resolve(12, 13, ledger.TransferVoidPendingTransfer),
		resolve(11, 17, ledger.TransferPostPendingTransfer)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferExists, ledger.TransferCreated,
		ledger.TransferCreated, ledger.TransferCreated, ledger.TransferCreated, ledger.TransferPendingTransferExpired}, got)

	accounts, err := l.LookupAccounts(ctx, []ledger.ID{id(5), id(1), id(5), id(9)})
	require.NoError(t, err)
	require.Len(t, accounts, 3)
	transfers, err := l.LookupTransfers(ctx, []ledger.ID{id(19), id(16), id(19), id(2)})
	require.NoError(t, err)
	require.Len(t, transfers, 3)
	require.Empty(t, s.violations(), "calls with IDs out of order or repeated")
}

// TestStoreGetsNoEmptyWrites: a request whose events all fail, or only
// find what exists, writes no rows: the store's write methods are not
// called with empty slices.
func TestStoreGetsNoEmptyWrites(t *testing.T) {
	ctx := context.Background()
	l, s := newChecked(t, nil)
	id := ledger.IDFromUint64
	acct := ledger.Account{ID: id(1), Ledger: 978, Code: 1}
	res, err := l.CreateAccounts(ctx, []ledger.Account{{ID: id(2), Ledger: 978}, {Ledger: 978, Code: 1}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCodeMustNotBeZero, ledger.AccountIDMustNotBeZero}, res)
	res, err = l.CreateAccounts(ctx, []ledger.Account{acct, acct})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountExists}, res)
	require.Empty(t, s.violations())
	res, err = l.CreateAccounts(ctx, []ledger.Account{acct})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountExists}, res)
	got, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: id(3), DebitAccountID: id(1), CreditAccountID: id(1), Amount: 1, Ledger: 978, Code: 1}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferAccountsMustBeDifferent}, got)
	require.Empty(t, s.violations(), "writes without rows")
}

// TestStoreGetsBalancesInTimestampOrder: the balance history rows of a
// batch reach the store in ascending Timestamp order, the release of a
// hold that a post finds expired after the rows of the transfer before
// it.
func TestStoreGetsBalancesInTimestampOrder(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, s := newChecked(t, func() time.Time { return now })
	id := ledger.IDFromUint64
	createAccounts(t, l, []ledger.Account{{ID: id(1), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: id(2), Ledger: 978, Code: 1}})
	hold := ledger.Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 3, Ledger: 978, Code: 1,
		Flags: ledger.TransferPending, Timeout: 1}
	got, err := l.CreateTransfers(ctx, []ledger.Transfer{hold})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, got)
	held, err := l.LookupTransfers(ctx, []ledger.ID{id(10)})
	require.NoError(t, err)
	require.Len(t, held, 1)
	now = time.Unix(0, int64(held[0].ExpiresAt()-1))
	got, err = l.CreateTransfers(ctx, []ledger.Transfer{
		{ID: id(11), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 978, Code: 1},
		{ID: id(12), PendingID: id(10), Flags: ledger.TransferPostPendingTransfer}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferPendingTransferExpired}, got)
	require.Empty(t, s.violations(), "rows out of order")
}

// TestStoreGetsNormalizedFilters: GetAccountTransfers and
// GetAccountBalances pass a store only normalized filters: those that
// select nothing (no side flag, an unknown flag, a Limit out of range, an
// invalid account ID, a bound past TimestampLimit, an empty time range)
// return an empty slice without reading.
func TestStoreGetsNormalizedFilters(t *testing.T) {
	ctx := context.Background()
	l, s := newChecked(t, nil)
	id := ledger.IDFromUint64
	createAccounts(t, l, []ledger.Account{{ID: id(1), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: id(2), Ledger: 978, Code: 1}})
	got, err := l.CreateTransfers(ctx, []ledger.Transfer{{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1,
		Ledger: 978, Code: 1}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, got)
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	valid := ledger.AccountFilter{AccountID: id(1), Limit: ledger.BatchMax, Flags: both}
	for _, f := range []ledger.AccountFilter{
		{AccountID: id(1), Limit: 10},
		{AccountID: id(1), Limit: 10, Flags: ledger.AccountFilterReversed},
		{AccountID: id(1), Limit: 10, Flags: both | 1<<3},
		{AccountID: id(1), Limit: 0, Flags: both},
		{AccountID: id(1), Limit: -1, Flags: both},
		{AccountID: ledger.ID{}, Limit: 10, Flags: both},
		{AccountID: ledger.IDMax, Limit: 10, Flags: both},
		{AccountID: id(1), Limit: 10, Flags: both, TimestampMin: ledger.TimestampLimit + 1},
		{AccountID: id(1), Limit: 10, Flags: both, TimestampMin: ledger.TimestampLimit + 1, TimestampMax: ledger.TimestampLimit},
		{AccountID: id(1), Limit: 10, Flags: both, TimestampMax: ledger.TimestampLimit + 1},
		{AccountID: id(1), Limit: 10, Flags: both, TimestampMin: 5, TimestampMax: 4},
	} {
		transfers, err := l.GetAccountTransfers(ctx, f)
		require.NoError(t, err)
		assert.Equal(t, []ledger.Transfer{}, transfers, "filter %+v", f)
		balances, err := l.GetAccountBalances(ctx, f)
		require.NoError(t, err)
		assert.Equal(t, []ledger.AccountBalance{}, balances, "filter %+v", f)
	}
	for _, limit := range []int{ledger.BatchMax, ledger.BatchMax + 1} {
		valid.Limit = limit
		transfers, err := l.GetAccountTransfers(ctx, valid)
		require.NoError(t, err)
		assert.Len(t, transfers, 1)
		balances, err := l.GetAccountBalances(ctx, valid)
		require.NoError(t, err)
		assert.Len(t, balances, 1)
	}
	require.Empty(t, s.violations(), "filters not normalized")
}
