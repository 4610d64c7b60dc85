// Package sqltest checks, row by row, that a SQL store keeps and returns
// exactly what the ledger writes (Run): every column at its extreme
// values, every ReadTx query and its filters, the rows read back after the
// store is closed and opened again, paging, rollback (a panic inside
// Update included) and use after Close, which may be called twice. It
// complements the ledger-level conformance suite of package ledgertest.
// It also holds the SQL stores' migration tests (MigrationTest), their
// checks of a database damaged beside the store (NoState, OverLimit,
// TimestampOverLimit) and their benchmarks (Bench, BenchBalances,
// BenchVerify).
package sqltest

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

func id(v uint64) ledger.ID { return ledger.IDFromUint64(v) }

// Run runs the row-level checks on a fresh, empty store from open. reopen
// opens again the data of a store that open returned and the test closed.
func Run(t *testing.T, open func(t *testing.T) ledger.Store, reopen func(t *testing.T, closed ledger.Store) ledger.Store) {
	t.Run("RoundTrip", func(t *testing.T) { roundTrip(t, open(t)) })
	t.Run("Reopen", func(t *testing.T) { reopenRows(t, open(t), reopen) })
	t.Run("Paging", func(t *testing.T) { paging(t, open(t)) })
	t.Run("BalanceRowsAtLimit", func(t *testing.T) { balanceRowsAtLimit(t, open(t)) })
	t.Run("Rollback", func(t *testing.T) { rollback(t, open(t)) })
	t.Run("UpdatePanic", func(t *testing.T) { updatePanic(t, open(t)) })
	t.Run("Closed", func(t *testing.T) { closed(t, open(t)) })
}

var errAbort = errors.New("abort")

func accountsFixture() []ledger.Account {
	return []ledger.Account{
		{ID: id(1), Ledger: 978, Code: 1, Timestamp: 1},
		{ID: id(2), Ledger: 978, Code: 2, Flags: ledger.AccountHistory | ledger.AccountDebitsMustNotExceedCredits, Timestamp: 2,
			UserData128: ledger.IDFromUint64s(math.MaxUint64, 7), UserData64: math.MaxUint64, UserData32: math.MaxUint32},
		{ID: ledger.IDFromUint64s(math.MaxUint64, math.MaxUint64-1), Ledger: math.MaxUint32, Code: math.MaxUint16,
			Flags: math.MaxUint16, Timestamp: 3, DebitsPending: ledger.AmountLimit, DebitsPosted: ledger.AmountLimit,
			CreditsPending: ledger.AmountLimit, CreditsPosted: ledger.AmountLimit},
	}
}

func roundTrip(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	accounts := accountsFixture()
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		ts, err := tx.LastTimestamp()
		require.NoError(t, err)
		assert.Zero(t, ts)
		require.NoError(t, tx.InsertAccounts(accounts))
		return tx.SetLastTimestamp(3)
	}))

	transfers := []ledger.Transfer{
		{ID: id(100), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 5, Ledger: 978, Code: 7, Timestamp: 10},
		{ID: id(101), DebitAccountID: id(2), CreditAccountID: id(1), Amount: ledger.AmountLimit, Ledger: 978, Code: 8,
			UserData128: id(9), UserData64: math.MaxUint64, UserData32: math.MaxUint32, Timestamp: 11},
		{ID: id(102), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 3, Ledger: 978, Code: 7,
			Flags: ledger.TransferPending, Timeout: math.MaxUint32, Timestamp: 12},
		{ID: id(103), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 4, Ledger: 978, Code: 7,
			Flags: ledger.TransferPending, Timeout: 1, Timestamp: 13},
		{ID: id(104), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 0, Ledger: 978, Code: 9,
			Flags: ledger.TransferPending | ledger.TransferLinked, Timeout: 2, Timestamp: 14},
		{ID: id(105), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 4, PendingID: id(103), Ledger: 978, Code: 7,
			Flags: ledger.TransferPostPendingTransfer, Timestamp: 15},
	}
	pending := []ledger.Pending{
		{ID: id(102), Status: ledger.PendingActive, ExpiresAt: transfers[2].ExpiresAt(), Timestamp: transfers[2].Timestamp},
		{ID: id(103), Status: ledger.PendingActive, ExpiresAt: transfers[3].ExpiresAt(), Timestamp: transfers[3].Timestamp},
		{ID: id(104), Status: ledger.PendingActive, ExpiresAt: transfers[4].ExpiresAt(), Timestamp: transfers[4].Timestamp},
	}
	failed := []ledger.FailedTransfer{
		{ID: id(200), Result: ledger.TransferExceedsCredits, Timestamp: 16},
		{ID: ledger.IDFromUint64s(1, 0), Result: math.MaxUint8, Timestamp: 17},
	}
	// The last row is a release of expiring hold 104: it names that
	// transfer, not one created at its timestamp.
	balances := []ledger.BalanceRow{
		{AccountBalance: ledger.AccountBalance{AccountID: id(2), CreditsPosted: 5, Timestamp: 10}, TransferID: id(100)},
		{AccountBalance: ledger.AccountBalance{AccountID: id(2), CreditsPosted: 5, DebitsPosted: ledger.AmountLimit, Timestamp: 11},
			TransferID: id(101)},
		{AccountBalance: ledger.AccountBalance{AccountID: id(2), CreditsPosted: 5, DebitsPosted: ledger.AmountLimit, CreditsPending: 3,
			Timestamp: 12}, TransferID: id(102)},
		{AccountBalance: ledger.AccountBalance{AccountID: id(2), CreditsPosted: 5, DebitsPosted: ledger.AmountLimit, CreditsPending: 3,
			Timestamp: 16}, TransferID: id(104)},
	}
	updated := slices.Clone(accounts[:2])
	updated[0].DebitsPending, updated[0].DebitsPosted, updated[0].CreditsPosted = 7, 9, ledger.AmountLimit
	updated[0].Flags |= ledger.AccountClosed
	updated[1].CreditsPending, updated[1].CreditsPosted, updated[1].DebitsPosted = 7, 9, ledger.AmountLimit

	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		ts, err := tx.LastTimestamp()
		require.NoError(t, err)
		assert.Equal(t, uint64(3), ts)
		got, err := tx.LockAccounts([]ledger.ID{id(1), id(2), id(3)})
		require.NoError(t, err)
		assert.ElementsMatch(t, accounts[:2], got)
		require.NoError(t, tx.InsertTransfers(transfers))
		require.NoError(t, tx.InsertPending(pending))
		require.NoError(t, tx.InsertFailed(failed))
		require.NoError(t, tx.InsertBalances(balances))
		require.NoError(t, tx.UpdateAccounts(updated))
		require.NoError(t, tx.UpdatePending([]ledger.Pending{{ID: id(103), Status: ledger.PendingPosted}}))
		return tx.SetLastTimestamp(17)
	}))
	pending[1].Status = ledger.PendingPosted
	accounts[0], accounts[1] = updated[0], updated[1]

	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Accounts([]ledger.ID{id(1), id(2), id(3), accounts[2].ID})
		require.NoError(t, err)
		assert.ElementsMatch(t, accounts, got)

		gotT, err := tx.Transfers([]ledger.ID{id(99), id(100), id(101), id(102), id(103), id(104), id(105), id(106)})
		require.NoError(t, err)
		assert.ElementsMatch(t, transfers, gotT)

		gotP, err := tx.Pending([]ledger.ID{id(100), id(102), id(103), id(104)})
		require.NoError(t, err)
		assert.ElementsMatch(t, pending, gotP)

		gotF, err := tx.FailedTransfers([]ledger.ID{id(100), id(200), ledger.IDFromUint64s(1, 0)})
		require.NoError(t, err)
		assert.ElementsMatch(t, failed, gotF)

		var all []ledger.Account
		require.NoError(t, tx.ForEachAccount(func(a ledger.Account) error { all = append(all, a); return nil }))
		assert.Equal(t, accounts, all)
		var allT []ledger.Transfer
		require.NoError(t, tx.ForEachTransfer(func(tr ledger.Transfer) error { allT = append(allT, tr); return nil }))
		assert.Equal(t, transfers, allT)
		var allP []ledger.Pending
		require.NoError(t, tx.ForEachPending(func(p ledger.Pending) error { allP = append(allP, p); return nil }))
		assert.Equal(t, pending, allP)
		n := 0
		err = tx.ForEachTransfer(func(ledger.Transfer) error { n++; return errAbort })
		assert.ErrorIs(t, err, errAbort)
		assert.Equal(t, 1, n)
		return nil
	}))

	const all = ledger.AccountFilterDebits | ledger.AccountFilterCredits
	filterTests := []struct {
		name string
		f    ledger.AccountFilter
		want []int // indexes into transfers
	}{
		{"debits", ledger.AccountFilter{AccountID: id(1), Flags: ledger.AccountFilterDebits}, []int{0, 2, 3, 4, 5}},
		{"credits", ledger.AccountFilter{AccountID: id(1), Flags: ledger.AccountFilterCredits}, []int{1}},
		{"both", ledger.AccountFilter{AccountID: id(1), Flags: all}, []int{0, 1, 2, 3, 4, 5}},
		{"both reversed", ledger.AccountFilter{AccountID: id(1), Flags: all | ledger.AccountFilterReversed}, []int{5, 4, 3, 2, 1, 0}},
		{"limit", ledger.AccountFilter{AccountID: id(2), Flags: all, Limit: 2}, []int{0, 1}},
		{"limit reversed", ledger.AccountFilter{AccountID: id(2), Flags: all | ledger.AccountFilterReversed, Limit: 2}, []int{5, 4}},
		{"range", ledger.AccountFilter{AccountID: id(2), Flags: all, TimestampMin: 11, TimestampMax: 13}, []int{1, 2, 3}},
		{"user data 128", ledger.AccountFilter{AccountID: id(2), Flags: all, UserData128: id(9)}, []int{1}},
		{"user data 64", ledger.AccountFilter{AccountID: id(2), Flags: all, UserData64: math.MaxUint64}, []int{1}},
		{"user data 32", ledger.AccountFilter{AccountID: id(2), Flags: all, UserData32: math.MaxUint32}, []int{1}},
		{"code", ledger.AccountFilter{AccountID: id(2), Flags: all, Code: 9}, []int{4}},
		{"code and side", ledger.AccountFilter{AccountID: id(2), Flags: ledger.AccountFilterDebits, Code: 9}, nil},
		{"unknown account", ledger.AccountFilter{AccountID: id(3), Flags: all}, nil},
	}
	for _, tt := range filterTests {
		t.Run("AccountTransfers/"+tt.name, func(t *testing.T) {
			f := tt.f
			if f.Limit == 0 {
				f.Limit = ledger.BatchMax
			}
			if f.TimestampMax == 0 {
				f.TimestampMax = ledger.TimestampLimit
			}
			require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
				got, err := tx.AccountTransfers(f)
				require.NoError(t, err)
				var want []ledger.Transfer
				for _, i := range tt.want {
					want = append(want, transfers[i])
				}
				assert.Equal(t, want, got)
				return nil
			}))
		})
	}

	balanceTests := []struct {
		name string
		f    ledger.AccountFilter
		want []int
	}{
		{"all", ledger.AccountFilter{AccountID: id(2), Flags: all}, []int{0, 1, 2, 3}},
		{"reversed", ledger.AccountFilter{AccountID: id(2), Flags: all | ledger.AccountFilterReversed}, []int{3, 2, 1, 0}},
		{"limit", ledger.AccountFilter{AccountID: id(2), Flags: all, Limit: 1}, []int{0}},
		{"limit reversed", ledger.AccountFilter{AccountID: id(2), Flags: all | ledger.AccountFilterReversed, Limit: 1}, []int{3}},
		{"range", ledger.AccountFilter{AccountID: id(2), Flags: all, TimestampMin: 11, TimestampMax: 11}, []int{1}},
		{"debits", ledger.AccountFilter{AccountID: id(2), Flags: ledger.AccountFilterDebits}, []int{1}},
		{"credits", ledger.AccountFilter{AccountID: id(2), Flags: ledger.AccountFilterCredits}, []int{0, 2, 3}},
		{"user data 128", ledger.AccountFilter{AccountID: id(2), Flags: all, UserData128: id(9)}, []int{1}},
		{"user data 64", ledger.AccountFilter{AccountID: id(2), Flags: all, UserData64: math.MaxUint64}, []int{1}},
		{"user data 32", ledger.AccountFilter{AccountID: id(2), Flags: all, UserData32: math.MaxUint32}, []int{1}},
		{"code", ledger.AccountFilter{AccountID: id(2), Flags: all, Code: 7}, []int{0, 2}},
		{"code of the named transfer", ledger.AccountFilter{AccountID: id(2), Flags: ledger.AccountFilterCredits, Code: 9}, []int{3}},
		{"code and side", ledger.AccountFilter{AccountID: id(2), Flags: ledger.AccountFilterDebits, Code: 9}, nil},
		{"no history", ledger.AccountFilter{AccountID: id(1), Flags: all}, nil},
	}
	for _, tt := range balanceTests {
		t.Run("AccountBalances/"+tt.name, func(t *testing.T) {
			f := tt.f
			if f.Limit == 0 {
				f.Limit = ledger.BatchMax
			}
			if f.TimestampMax == 0 {
				f.TimestampMax = ledger.TimestampLimit
			}
			require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
				got, err := tx.AccountBalances(f)
				require.NoError(t, err)
				var want []ledger.AccountBalance
				for _, i := range tt.want {
					want = append(want, balances[i].AccountBalance)
				}
				assert.Equal(t, want, got)
				return nil
			}))
		})
	}

	expiredTests := []struct {
		name  string
		now   uint64
		limit int
		want  []int
	}{
		{"none yet", transfers[4].Timestamp, 10, nil},
		{"posted one not returned", transfers[4].ExpiresAt() - 1, 10, nil},
		{"at expiry", transfers[4].ExpiresAt(), 10, []int{4}},
		{"both in order", transfers[2].ExpiresAt(), 10, []int{4, 2}},
		{"limit", transfers[2].ExpiresAt(), 1, []int{4}},
	}
	for _, tt := range expiredTests {
		t.Run("ExpiredPending/"+tt.name, func(t *testing.T) {
			require.ErrorIs(t, s.Update(ctx, func(tx ledger.Tx) error {
				_, err := tx.LastTimestamp()
				require.NoError(t, err)
				got, err := tx.ExpiredPending(tt.now, tt.limit)
				require.NoError(t, err)
				var want []ledger.Transfer
				for _, i := range tt.want {
					want = append(want, transfers[i])
				}
				assert.Equal(t, want, got)
				return errAbort
			}), errAbort)
		})
	}
}

// paging writes more rows than one page of the ForEach methods and the
// SQLite IN lists hold, of each table they read.
func paging(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	const n = 2345
	accounts := make([]ledger.Account, n)
	transfers := make([]ledger.Transfer, n)
	pending := make([]ledger.Pending, n)
	failed := make([]ledger.FailedTransfer, n)
	ids := make([]ledger.ID, n)
	for i := range n {
		// IDs descend while timestamps ascend, so ID order and time order
		// differ.
		ids[i] = ledger.IDFromUint64s(uint64(n-i), uint64(i))
	}
	for i := range n {
		accounts[i] = ledger.Account{ID: ids[i], Ledger: 1, Code: 1, Timestamp: uint64(i + 1)}
		transfers[i] = ledger.Transfer{ID: ids[i], DebitAccountID: ids[i], CreditAccountID: ids[(i+1)%n],
			Amount: uint64(i), Ledger: 1, Code: 1, Flags: ledger.TransferPending, Timestamp: uint64(n + i + 1)}
		pending[i] = ledger.Pending{ID: ids[i], Status: ledger.PendingActive}
		failed[i] = ledger.FailedTransfer{ID: ids[i], Result: ledger.TransferExceedsCredits, Timestamp: uint64(2*n + i + 1)}
	}
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		require.NoError(t, tx.InsertAccounts(accounts))
		require.NoError(t, tx.InsertTransfers(transfers))
		require.NoError(t, tx.InsertPending(pending))
		require.NoError(t, tx.InsertFailed(failed))
		for i := range accounts {
			accounts[i].DebitsPending = uint64(i)
		}
		require.NoError(t, tx.UpdateAccounts(accounts))
		return tx.SetLastTimestamp(3 * n)
	}))
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, ledger.ID.Compare)
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		got, err := tx.Accounts(sorted)
		require.NoError(t, err)
		assert.ElementsMatch(t, accounts, got)
		gotT, err := tx.Transfers(sorted)
		require.NoError(t, err)
		assert.ElementsMatch(t, transfers, gotT)
		gotP, err := tx.Pending(sorted)
		require.NoError(t, err)
		assert.Len(t, gotP, n)
		gotF, err := tx.FailedTransfers(sorted)
		require.NoError(t, err)
		// Compared in ID order (ElementsMatch compares every pair).
		byID := func(a, b ledger.FailedTransfer) int { return a.ID.Compare(b.ID) }
		slices.SortFunc(gotF, byID)
		slices.SortFunc(failed, byID)
		assert.Equal(t, failed, gotF)

		var seen []ledger.ID
		require.NoError(t, tx.ForEachAccount(func(a ledger.Account) error { seen = append(seen, a.ID); return nil }))
		assert.Equal(t, sorted, seen)
		var allT []ledger.Transfer
		require.NoError(t, tx.ForEachTransfer(func(tr ledger.Transfer) error { allT = append(allT, tr); return nil }))
		assert.Equal(t, transfers, allT)
		seen = seen[:0]
		require.NoError(t, tx.ForEachPending(func(p ledger.Pending) error { seen = append(seen, p.ID); return nil }))
		assert.Equal(t, sorted, seen)
		seen = seen[:0]
		require.NoError(t, tx.ForEachFailed(func(f ledger.FailedTransfer) error {
			if len(seen) == n {
				return errAbort // a page read again
			}
			seen = append(seen, f.ID)
			return nil
		}))
		assert.Equal(t, sorted, seen)
		return nil
	}))
}

// balanceRowsAtLimit writes a balance row of account 1 at the greatest
// timestamp a store keeps, ledger.TimestampLimit, and one of account 2:
// BalanceRows from that timestamp of account 1 reads that row first,
// and from past it starts at account 2.
func balanceRowsAtLimit(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	rows := []ledger.BalanceRow{
		{AccountBalance: ledger.AccountBalance{AccountID: id(1), CreditsPosted: 1, Timestamp: ledger.TimestampLimit}, TransferID: id(10)},
		{AccountBalance: ledger.AccountBalance{AccountID: id(2), DebitsPosted: 1, Timestamp: 3}, TransferID: id(10)},
	}
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		require.NoError(t, tx.InsertAccounts([]ledger.Account{
			{ID: id(1), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 1},
			{ID: id(2), Ledger: 1, Code: 1, Flags: ledger.AccountHistory, Timestamp: 2},
		}))
		require.NoError(t, tx.InsertTransfers([]ledger.Transfer{
			{ID: id(10), DebitAccountID: id(2), CreditAccountID: id(1), Amount: 1, Ledger: 1, Code: 1, Timestamp: 3},
		}))
		require.NoError(t, tx.InsertBalances(rows))
		return tx.SetLastTimestamp(3)
	}))
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		for _, tt := range []struct {
			from uint64
			want []ledger.BalanceRow
		}{
			{ledger.TimestampLimit - 1, rows},
			{ledger.TimestampLimit, rows},
			{ledger.TimestampLimit + 1, rows[1:]},
		} {
			got, err := tx.BalanceRows(id(1), tt.from, ledger.BatchMax)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "from %d", tt.from)
		}
		return nil
	}))
}

func rollback(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	accounts := accountsFixture()
	err := s.Update(ctx, func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		require.NoError(t, tx.InsertAccounts(accounts))
		require.NoError(t, tx.SetLastTimestamp(3))
		return errAbort
	})
	require.ErrorIs(t, err, errAbort)
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		ts, err := tx.LastTimestamp()
		require.NoError(t, err)
		assert.Zero(t, ts)
		got, err := tx.Accounts([]ledger.ID{id(1), id(2)})
		require.NoError(t, err)
		assert.Empty(t, got)
		return nil
	}))
}

// updatePanic checks that a panic inside Update, after LastTimestamp, rolls
// back and leaves the store free to write: the next Update neither waits
// for the panicked transaction's lock (the SQLite writer connection, the
// PostgreSQL timestamp row) nor sees its work.
func updatePanic(t *testing.T, s ledger.Store) {
	ctx := context.Background()
	require.Panics(t, func() {
		_ = s.Update(ctx, func(tx ledger.Tx) error {
			if _, err := tx.LastTimestamp(); err != nil {
				return err
			}
			panic("boom")
		})
	})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		ts, err := tx.LastTimestamp()
		require.NoError(t, err)
		assert.Zero(t, ts)
		return tx.SetLastTimestamp(1)
	}))
}

// closed checks that Close may be called twice and that Update and View
// fail with ledger.ErrClosed after it.
func closed(t *testing.T, s ledger.Store) {
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	err := s.Update(context.Background(), func(ledger.Tx) error { return nil })
	require.ErrorIs(t, err, ledger.ErrClosed)
	err = s.View(context.Background(), func(ledger.ReadTx) error { return nil })
	require.ErrorIs(t, err, ledger.ErrClosed)
}

// reopenRows writes rows of every kind, closes the store, reopens it and
// reads them back.
func reopenRows(t *testing.T, s ledger.Store, reopen func(t *testing.T, closed ledger.Store) ledger.Store) {
	ctx := context.Background()
	accounts := accountsFixture()
	transfer := ledger.Transfer{ID: id(100), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 5, Ledger: 978, Code: 7,
		Flags: ledger.TransferPending, Timeout: 60, Timestamp: 10}
	pending := ledger.Pending{ID: id(100), Status: ledger.PendingActive, ExpiresAt: transfer.ExpiresAt(), Timestamp: transfer.Timestamp}
	failed := ledger.FailedTransfer{ID: id(200), Result: ledger.TransferExceedsCredits, Timestamp: 11}
	balance := ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: id(2), CreditsPending: 5, Timestamp: 10},
		TransferID: id(100)}
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		require.NoError(t, tx.InsertAccounts(accounts))
		require.NoError(t, tx.InsertTransfers([]ledger.Transfer{transfer}))
		require.NoError(t, tx.InsertPending([]ledger.Pending{pending}))
		require.NoError(t, tx.InsertFailed([]ledger.FailedTransfer{failed}))
		require.NoError(t, tx.InsertBalances([]ledger.BalanceRow{balance}))
		return tx.SetLastTimestamp(11)
	}))
	require.NoError(t, s.Close())
	s = reopen(t, s)
	defer s.Close()
	require.ErrorIs(t, s.Update(ctx, func(tx ledger.Tx) error {
		ts, err := tx.LastTimestamp()
		require.NoError(t, err)
		assert.Equal(t, uint64(11), ts)
		got, err := tx.Accounts([]ledger.ID{id(1), id(2), accounts[2].ID})
		require.NoError(t, err)
		assert.ElementsMatch(t, accounts, got)
		gotT, err := tx.Transfers([]ledger.ID{id(100)})
		require.NoError(t, err)
		assert.Equal(t, []ledger.Transfer{transfer}, gotT)
		gotP, err := tx.Pending([]ledger.ID{id(100)})
		require.NoError(t, err)
		assert.Equal(t, []ledger.Pending{pending}, gotP)
		gotF, err := tx.FailedTransfers([]ledger.ID{id(200)})
		require.NoError(t, err)
		assert.Equal(t, []ledger.FailedTransfer{failed}, gotF)
		gotB, err := tx.AccountBalances(ledger.AccountFilter{AccountID: id(2), TimestampMax: ledger.TimestampLimit, Limit: 10,
			Flags: ledger.AccountFilterCredits})
		require.NoError(t, err)
		assert.Equal(t, []ledger.AccountBalance{balance.AccountBalance}, gotB)
		return errAbort
	}), errAbort)
}

// MigrateHistory checks the migration of balance history rows written
// before they named their transfer. With exec, on an empty database, it
// applies the store's first migration (in the migrations directory of
// fsys), recording it in schema_migrations as the store does, and writes:
// accounts 1 and 2 (2 with history), transfer 100 from 1 to 2 with code 7
// at timestamp 10, and the history of account 2 at 10 (after transfer 100)
// and at 20 (the release of an expired hold, which has no transfer at its
// timestamp). Then it opens the store with open, which migrates the rows:
// the row of transfer 100 must match the filters that transfer matches,
// and the release, whose transfer is not known, every filter; read
// whole (ReadTx.BalanceRows), the release has the zero TransferID.
func MigrateHistory(t *testing.T, d sqlstore.Dialect, fsys fs.FS, exec func(query string, args ...any) error,
	open func() ledger.Store) {
	t.Helper()
	params := olderStore(t, d, fsys, exec, 1)
	tr := ledger.Transfer{ID: id(100), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 5, Ledger: 978, Code: 7, Timestamp: 10}
	require.NoError(t, exec("INSERT INTO transfers ("+sqlstore.TransferColumns+") VALUES ("+params(13)+")",
		sqlstore.TransferArgs(nil, &tr)...))
	for _, b := range legacyHistory {
		require.NoError(t, exec("INSERT INTO account_balances ("+sqlstore.BalanceColumns+") VALUES ("+params(6)+")",
			b.AccountID[:], sqlstore.Int(b.DebitsPending), sqlstore.Int(b.DebitsPosted),
			sqlstore.Int(b.CreditsPending), sqlstore.Int(b.CreditsPosted), sqlstore.Int(b.Timestamp)))
	}
	s := open()
	defer s.Close()
	tests := []struct {
		name string
		f    ledger.AccountFilter
		want []ledger.AccountBalance
	}{
		{"credits", ledger.AccountFilter{Flags: ledger.AccountFilterCredits}, legacyHistory},
		{"debits", ledger.AccountFilter{Flags: ledger.AccountFilterDebits}, legacyHistory[1:]},
		{"code of the transfer", ledger.AccountFilter{Flags: ledger.AccountFilterCredits, Code: 7}, legacyHistory},
		{"other code", ledger.AccountFilter{Flags: ledger.AccountFilterCredits, Code: 8}, legacyHistory[1:]},
	}
	for _, tt := range tests {
		f := tt.f
		f.AccountID, f.TimestampMax, f.Limit = id(2), ledger.TimestampLimit, 10
		require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
			got, err := tx.AccountBalances(f)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, tt.name)
			return nil
		}))
	}
	// Read whole, the release names no transfer.
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		got, err := tx.BalanceRows(ledger.ID{}, 0, 10)
		require.NoError(t, err)
		assert.Equal(t, []ledger.BalanceRow{{AccountBalance: legacyHistory[0], TransferID: id(100)},
			{AccountBalance: legacyHistory[1]}}, got)
		return nil
	}))
}

// Migrations returns the migrations in the migrations directory of fsys.
func Migrations(t *testing.T, fsys fs.FS) []sqlmigrate.Migration {
	t.Helper()
	ms, err := sqlmigrate.Read(fsys, "migrations")
	require.NoError(t, err)
	return ms
}

var legacyHistory = []ledger.AccountBalance{
	{AccountID: id(2), CreditsPosted: 5, Timestamp: 10},
	{AccountID: id(2), CreditsPosted: 5, Timestamp: 20},
}
