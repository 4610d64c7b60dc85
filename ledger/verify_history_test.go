package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/cputime"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// balancesTx reads the balance history rows through edit.
type balancesTx struct {
	ledger.ReadTx
	edit func([]ledger.BalanceRow) []ledger.BalanceRow
}

func (tx balancesTx) BalanceRows(account ledger.ID, from uint64, limit int) ([]ledger.BalanceRow, error) {
	rows, err := tx.ReadTx.BalanceRows(account, from, limit)
	if err != nil {
		return nil, err
	}
	return tx.edit(slices.Clone(rows)), nil
}

// editRows is a store whose balance history rows read through edit, a
// page (ReadTx.BalanceRows) at a time.
func editRows(s ledger.Store, edit func([]ledger.BalanceRow) []ledger.BalanceRow) ledger.Store {
	return altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return balancesTx{tx, edit} }}
}

// clocked returns a Ledger over s with opts, whose clock starts at the
// start of 2026 and reads the returned time, in Unix nanoseconds. The
// Ledger is closed when tb ends.
func clocked(tb testing.TB, s ledger.Store, opts ledger.Options) (*ledger.Ledger, *atomic.Int64) {
	tb.Helper()
	now := new(atomic.Int64)
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	opts.Now = func() time.Time { return time.Unix(0, now.Load()) }
	l, err := ledger.New(s, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { l.Close() })
	return l, now
}

// historySetup creates accounts 1 and 2 with AccountHistory and 3
// without, and transfers between 1 and 2 that write every kind of
// balance history row: a single-phase transfer, pending transfers, a
// partial post, a void, an expiry that the sweep releases and one that a
// void of the expired transfer releases, after a transfer from 3 to 1. It
// returns the store, and the timestamps of the transfers and of the two
// releases by name.
func historySetup(t *testing.T) (*memory.Store, map[string]uint64) {
	t.Helper()
	ctx := context.Background()
	s := memory.New()
	l, now := clocked(t, s, ledger.Options{ExpiryLimit: 1})
	ares, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: ledger.IDFromUint64(3), Ledger: 978, Code: 1},
	})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated, ledger.AccountCreated}, ares)
	hold := func(id, amount uint64, timeout uint32) ledger.Transfer {
		p := transfer(id, amount)
		p.Flags, p.Timeout = ledger.TransferPending, timeout
		return p
	}
	resolve := func(id, pending, amount uint64, flags ledger.TransferFlags) ledger.Transfer {
		return ledger.Transfer{ID: ledger.IDFromUint64(id), PendingID: ledger.IDFromUint64(pending), Amount: amount, Flags: flags}
	}
	create := func(want ledger.CreateTransferResult, trs ...ledger.Transfer) {
		t.Helper()
		res, err := l.CreateTransfers(ctx, trs)
		require.NoError(t, err)
		for _, r := range res {
			require.Equal(t, want, r)
		}
	}
	create(ledger.TransferCreated, transfer(10, 5), hold(11, 4, 1), hold(12, 3, 1), hold(13, 2, 0),
		resolve(14, 13, 1, ledger.TransferPostPendingTransfer))
	now.Add(2e9)
	// The sweep releases 11 alone (ExpiryLimit 1); the void of 12, in the
	// same batch after a transfer from 3 to 1, finds it expired and
	// releases it.
	from3 := transfer(19, 1)
	from3.DebitAccountID, from3.CreditAccountID = ledger.IDFromUint64(3), ledger.IDFromUint64(1)
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(15, 1), from3, resolve(16, 12, 0, ledger.TransferVoidPendingTransfer)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated, ledger.TransferPendingTransferExpired}, res)
	create(ledger.TransferCreated, hold(17, 6, 0), resolve(18, 17, 0, ledger.TransferVoidPendingTransfer))
	require.NoError(t, l.Verify(ctx))

	at := map[string]uint64{}
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		return tx.ForEachTransfer(func(tr ledger.Transfer) error {
			at[fmt.Sprint(tr.ID)] = tr.Timestamp
			return nil
		})
	}))
	rows, err := l.GetAccountBalances(ctx, ledger.AccountFilter{AccountID: ledger.IDFromUint64(2), Limit: 100,
		Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
	require.NoError(t, err)
	require.Len(t, rows, 10)
	at["sweep"], at["void"] = rows[5].Timestamp, rows[7].Timestamp
	require.Equal(t, at[fmt.Sprint(ledger.IDFromUint64(15))], rows[6].Timestamp)
	return s, at
}

// TestVerifyChecksEveryBalanceHistoryRow checks that Verify replays the
// transfers and the releases of expired holds of an account with
// AccountHistory against each of its balance history rows, and reports
// the first that differs, one missing at a transfer that names the
// account, one that releases a hold before its expiry or at the
// timestamp of another event, and the rows of an account without
// AccountHistory.
func TestVerifyChecksEveryBalanceHistoryRow(t *testing.T) {
	one, two, three := ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(3)
	s, at := historySetup(t)
	ts := func(id uint64) uint64 { return at[fmt.Sprint(ledger.IDFromUint64(id))] }
	expires := ts(11) + 1e9
	// The rows of the account, in one page here, go through fn.
	edit := func(account ledger.ID, fn func([]ledger.BalanceRow) []ledger.BalanceRow) ledger.Store {
		return editRows(s, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
			lo := slices.IndexFunc(rows, func(r ledger.BalanceRow) bool { return r.AccountID == account })
			if lo < 0 {
				return rows
			}
			n := slices.IndexFunc(rows[lo:], func(r ledger.BalanceRow) bool { return r.AccountID != account })
			if n < 0 {
				n = len(rows) - lo
			}
			return slices.Concat(rows[:lo], fn(slices.Clone(rows[lo:lo+n])), rows[lo+n:])
		})
	}
	change := func(account ledger.ID, timestamp uint64, fn func(*ledger.BalanceRow)) ledger.Store {
		return edit(account, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
			for i := range rows {
				if rows[i].Timestamp == timestamp {
					fn(&rows[i])
				}
			}
			return rows
		})
	}
	tests := []struct {
		name  string
		store ledger.Store
		want  []ledger.Problem
	}{
		{"middle_row_differs", change(two, ts(14), func(r *ledger.BalanceRow) { r.CreditsPosted++ }),
			[]ledger.Problem{{AccountID: two, Detail: fmt.Sprintf(
				"balance history row at %d (transfer %v) has dp=0 dpo=0 cp=7 cpo=7, transfers give dp=0 dpo=0 cp=7 cpo=6",
				ts(14), ledger.IDFromUint64(14))}}},
		{"release_row_differs", change(one, at["sweep"], func(r *ledger.BalanceRow) { r.DebitsPending = 5 }),
			[]ledger.Problem{{AccountID: one, Detail: fmt.Sprintf(
				"balance history row at %d (no transfer of it) has dp=5 dpo=6 cp=0 cpo=0, which the release of no expired hold gives from dp=7 dpo=6 cp=0 cpo=0",
				at["sweep"])}}},
		{"row_missing", edit(one, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
			return slices.DeleteFunc(rows, func(r ledger.BalanceRow) bool { return r.Timestamp == ts(12) })
		}), []ledger.Problem{{AccountID: one, Detail: fmt.Sprintf(
			"transfer %v at %d names it, but it has no balance history row then", ledger.IDFromUint64(12), ts(12))}}},
		{"release_at_another_transfer", change(two, at["void"], func(r *ledger.BalanceRow) { r.Timestamp = ts(19) }),
			[]ledger.Problem{{AccountID: two, Detail: fmt.Sprintf(
				"balance history row at %d releases %v at the timestamp of transfer %v", ts(19), ledger.IDFromUint64(12), ledger.IDFromUint64(19))}}},
		{"release_before_expiry", change(two, at["sweep"], func(r *ledger.BalanceRow) { r.Timestamp = expires - 1 }),
			[]ledger.Problem{{AccountID: two, Detail: fmt.Sprintf(
				"balance history row at %d releases %v, which expires at %d", expires-1, ledger.IDFromUint64(11), expires)}}},
		{"row_names_another_transfer", change(two, ts(14), func(r *ledger.BalanceRow) { r.TransferID = ledger.IDFromUint64(19) }),
			[]ledger.Problem{{AccountID: two, Detail: fmt.Sprintf("balance history row at %d (transfer %v) names transfer %v",
				ts(14), ledger.IDFromUint64(14), ledger.IDFromUint64(19))}}},
		{"row_names_no_transfer", change(two, ts(14), func(r *ledger.BalanceRow) { r.TransferID = ledger.ID{} }),
			[]ledger.Problem{{AccountID: two, Detail: fmt.Sprintf("balance history row at %d (transfer %v) names transfer %v",
				ts(14), ledger.IDFromUint64(14), ledger.ID{})}}},
		{"release_names_another_transfer", change(one, at["sweep"], func(r *ledger.BalanceRow) { r.TransferID = ledger.IDFromUint64(12) }),
			[]ledger.Problem{{AccountID: one, Detail: fmt.Sprintf("balance history row at %d releases %v, but names transfer %v",
				at["sweep"], ledger.IDFromUint64(11), ledger.IDFromUint64(12))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, verifyProblems(t, tt.store))
		})
	}

	// A release written before the SQL stores' migration 0002 names no
	// transfer.
	t.Run("releases_that_name_no_transfer", func(t *testing.T) {
		unnamed := edit(two, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
			for i := range rows {
				if rows[i].Timestamp == at["sweep"] || rows[i].Timestamp == at["void"] {
					rows[i].TransferID = ledger.ID{}
				}
			}
			return rows
		})
		l, err := ledger.New(unnamed, ledger.Options{})
		require.NoError(t, err)
		defer l.Close()
		assert.NoError(t, l.Verify(context.Background()))
	})

	t.Run("row_of_account_without_history", func(t *testing.T) {
		tamper(t, s, func(tx ledger.Tx) error {
			return tx.InsertBalances([]ledger.BalanceRow{{TransferID: ledger.IDFromUint64(19),
				AccountBalance: ledger.AccountBalance{AccountID: three, DebitsPosted: 1, Timestamp: ts(19)}}})
		})
		require.Equal(t, []ledger.Problem{{AccountID: three, Detail: fmt.Sprintf(
			"balance history row at %d, but the account has no AccountHistory flag", ts(19))}}, verifyProblems(t, s))
	})
}

// wholeHistoryTx fails to read the balance history of one account.
type wholeHistoryTx struct{ ledger.ReadTx }

func (wholeHistoryTx) AccountBalances(ledger.AccountFilter) ([]ledger.AccountBalance, error) {
	return nil, errors.New("the balance history of one account read")
}

// TestVerifyFindsBalanceHistoryOfMissingAccount checks that Verify finds
// the balance history rows of an account that does not exist, as one
// problem of that account, the first row's, and that it reads the
// balance history whole (ReadTx.BalanceRows), not an account's at a time
// (ReadTx.AccountBalances).
func TestVerifyFindsBalanceHistoryOfMissingAccount(t *testing.T) {
	s, at := historySetup(t)
	missing := ledger.IDFromUint64(99)
	ts := at[fmt.Sprint(ledger.IDFromUint64(19))]
	whole := altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return wholeHistoryTx{tx} }}
	l, err := ledger.New(whole, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	require.NoError(t, l.Verify(context.Background()))
	orphans := altered{s, func(tx ledger.ReadTx) ledger.ReadTx {
		return wholeHistoryTx{balancesTx{tx, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
			return append(rows,
				ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: missing, DebitsPosted: 1, Timestamp: ts}},
				ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: missing, DebitsPosted: 2, Timestamp: ts + 1}})
		}}}
	}}
	require.Equal(t, []ledger.Problem{{AccountID: missing, Detail: fmt.Sprintf(
		"balance history row at %d, but the account does not exist", ts)}}, verifyProblems(t, orphans))
}

// TestVerifyPassesReleaseOutOfExpiryOrder checks that Verify takes the
// balance history row of a hold that a post found expired, released
// before another hold of the same account and amount that expired first
// but after the sweep of its batch: the row names the hold it releases,
// which Verify took for the one that expired first.
func TestVerifyPassesReleaseOutOfExpiryOrder(t *testing.T) {
	ctx := context.Background()
	l, now := clocked(t, memory.New(), ledger.Options{})
	ares, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1},
		{ID: ledger.IDFromUint64(3), Ledger: 978, Code: 1},
	})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated, ledger.AccountCreated}, ares)
	hold := func(id, credit uint64) ledger.Transfer {
		p := transfer(id, 5)
		p.CreditAccountID, p.Flags, p.Timeout = ledger.IDFromUint64(credit), ledger.TransferPending, 1
		return p
	}
	plain := func(id uint64) ledger.Transfer {
		tr := transfer(id, 1)
		tr.DebitAccountID, tr.CreditAccountID = ledger.IDFromUint64(2), ledger.IDFromUint64(3)
		return tr
	}
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{hold(10, 2), hold(11, 3)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	held, err := l.LookupTransfers(ctx, []ledger.ID{ledger.IDFromUint64(10)})
	require.NoError(t, err)
	require.Len(t, held, 1)
	// The batch starts before 10 expires: its sweep releases nothing, and
	// its third event, after both expiries, posts 11, which it finds
	// expired and releases.
	now.Store(int64(held[0].ExpiresAt() - 1))
	post := ledger.Transfer{ID: ledger.IDFromUint64(12), PendingID: ledger.IDFromUint64(11), Amount: 5,
		Flags: ledger.TransferPostPendingTransfer}
	res, err = l.CreateTransfers(ctx, []ledger.Transfer{plain(20), plain(21), post})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated,
		ledger.TransferPendingTransferExpired}, res)
	require.NoError(t, l.Verify(ctx))
	// The next batch's sweep releases 10.
	res, err = l.CreateTransfers(ctx, []ledger.Transfer{plain(22)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	require.NoError(t, l.Verify(ctx))
}

// TestVerifyFindsReleaseAtTheTimestampOfAFailedRecord checks that Verify
// finds the release of an expired hold at the timestamp of a
// failed-transfer record, another event: the ledger releases a hold at a
// timestamp of its own, or at that of the post or void that found it
// expired, which failed with a result that no record keeps.
func TestVerifyFindsReleaseAtTheTimestampOfAFailedRecord(t *testing.T) {
	one, two, thirty := ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(30)
	s, at := historySetup(t)
	tamper(t, s, func(tx ledger.Tx) error {
		return tx.InsertFailed([]ledger.FailedTransfer{{ID: thirty, Result: ledger.TransferExceedsCredits, Timestamp: at["void"]}})
	})
	detail := fmt.Sprintf("balance history row at %d releases %v at the timestamp of failed-transfer record %v",
		at["void"], ledger.IDFromUint64(12), thirty)
	require.Equal(t, []ledger.Problem{{AccountID: one, Detail: detail}, {AccountID: two, Detail: detail}}, verifyProblems(t, s))
}

// TestVerifyFindsReleasesAtOtherTimestamps checks that Verify finds the
// release of a hold at the timestamp of another hold's release, and at
// another timestamp in the history of one of its accounts than in that of
// the other: the ledger releases each hold at a timestamp of its own, in
// the histories of both its accounts.
func TestVerifyFindsReleasesAtOtherTimestamps(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	l, now := clocked(t, s, ledger.Options{})
	id := ledger.IDFromUint64
	var accounts []ledger.Account
	for i := range uint64(6) {
		accounts = append(accounts, ledger.Account{ID: id(i + 1), Ledger: 978, Code: 1})
		if i < 4 {
			accounts[i].Flags = ledger.AccountHistory
		}
	}
	_, err := l.CreateAccounts(ctx, accounts)
	require.NoError(t, err)
	hold := func(tid, dr, cr, amount uint64) ledger.Transfer {
		return ledger.Transfer{ID: id(tid), DebitAccountID: id(dr), CreditAccountID: id(cr), Amount: amount,
			Ledger: 978, Code: 1, Flags: ledger.TransferPending, Timeout: 1}
	}
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{hold(10, 1, 2, 3), hold(11, 3, 4, 4)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	now.Add(2e9)
	// The sweep releases 10 at x and 11 at x+1, before the transfer.
	res, err = l.CreateTransfers(ctx, []ledger.Transfer{{ID: id(12), DebitAccountID: id(5), CreditAccountID: id(6),
		Amount: 1, Ledger: 978, Code: 1}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	require.NoError(t, l.Verify(ctx))
	rows, err := l.GetAccountBalances(ctx, ledger.AccountFilter{AccountID: id(1), Limit: 10,
		Flags: ledger.AccountFilterDebits | ledger.AccountFilterCredits})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	x := rows[1].Timestamp
	// move returns s with the balance history rows at from of the
	// accounts given at to.
	move := func(from, to uint64, accounts ...ledger.ID) ledger.Store {
		return editRows(s, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
			for i := range rows {
				if rows[i].Timestamp == from && slices.Contains(accounts, rows[i].AccountID) {
					rows[i].Timestamp = to
				}
			}
			return rows
		})
	}
	shared := fmt.Sprintf("balance history row at %d releases %v at the timestamp of the release of %v", x, id(11), id(10))
	assert.Equal(t, []ledger.Problem{{AccountID: id(3), Detail: shared}, {AccountID: id(4), Detail: shared}},
		verifyProblems(t, move(x+1, x, id(3), id(4))))
	assert.Equal(t, []ledger.Problem{{AccountID: id(2), Detail: fmt.Sprintf(
		"balance history row at %d releases %v, released at %d in the history of account %v", x-1, id(10), x, id(1))}},
		verifyProblems(t, move(x, x-1, id(2))))
}

// TestVerifyFindsReleaseAboveTheTimestampLimit checks that Verify finds a
// balance history row above TimestampLimit that releases an expired hold
// as the ledger would at that time, which the memory store takes from a
// writer other than the ledger (its timestamps are not bounded by a
// column's type), with a last timestamp as high, another problem.
func TestVerifyFindsReleaseAboveTheTimestampLimit(t *testing.T) {
	one, two, ten := ledger.IDFromUint64(1), ledger.IDFromUint64(2), ledger.IDFromUint64(10)
	s := memory.New()
	p := transfer(10, 3)
	p.Flags, p.Timeout, p.Timestamp = ledger.TransferPending, 1, 3
	row := func(ts, cp uint64) ledger.BalanceRow {
		return ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: two, CreditsPending: cp, Timestamp: ts}, TransferID: ten}
	}
	tamper(t, s, func(tx ledger.Tx) error {
		return errors.Join(
			tx.InsertAccounts([]ledger.Account{
				{ID: one, Ledger: 978, Code: 1, Timestamp: 1},
				{ID: two, Ledger: 978, Code: 1, Flags: ledger.AccountHistory, Timestamp: 2},
			}),
			tx.InsertTransfers([]ledger.Transfer{p}),
			tx.InsertPending([]ledger.Pending{{ID: ten, Status: ledger.PendingExpired, ExpiresAt: p.ExpiresAt(), Timestamp: 3}}),
			tx.InsertBalances([]ledger.BalanceRow{row(3, 3), row(ledger.TimestampLimit+1, 0)}),
		)
	})
	require.Equal(t, []ledger.Problem{{AccountID: two, Detail: fmt.Sprintf(
		"balance history row at %d, above the timestamp limit", ledger.TimestampLimit+1)}, lastAboveTheLimit}, verifyProblems(t, s))
}

// TestVerifyFindsExpiryPastTheLastTimestamp checks that Verify finds a
// pending transfer expired at a time past the last timestamp, and passes
// one expired at it: the ledger expires a hold at a timestamp it assigns,
// at or after its expiry.
func TestVerifyFindsExpiryPastTheLastTimestamp(t *testing.T) {
	l, s := verifySetup(t)
	p := stamped(20, ledger.IDFromUint64(1), ledger.IDFromUint64(2), 3, ledger.TransferPending, 0)
	p.Timeout = 1
	settle(t, s, []ledger.Transfer{p}, map[ledger.ID]ledger.PendingStatus{p.ID: ledger.PendingExpired})
	assertVerify(t, l, nil)
	at := func(last uint64) altered {
		return altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return lastTx{tx, last} }}
	}
	require.Equal(t, []ledger.Problem{{TransferID: p.ID,
		Detail: fmt.Sprintf("expired at %d, past the last timestamp %d", p.ExpiresAt(), p.ExpiresAt()-1)}},
		verifyProblems(t, at(p.ExpiresAt()-1)))
}

// longHistory returns a store whose account 2, with AccountHistory, has
// a balance history longer than one page (BatchMax rows): the credit of
// each of BatchMax+10 transfers from account 1, IDs from 100 on.
func longHistory(t *testing.T) *memory.Store {
	t.Helper()
	ctx := context.Background()
	s := memory.New()
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	ares, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
	})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated}, ares)
	const n = ledger.BatchMax + 10
	for start := 0; start < n; start += ledger.BatchMax {
		var trs []ledger.Transfer
		for i := start; i < min(start+ledger.BatchMax, n); i++ {
			trs = append(trs, transfer(uint64(100+i), 1))
		}
		res, err := l.CreateTransfers(ctx, trs)
		require.NoError(t, err)
		for _, r := range res {
			require.Equal(t, ledger.TransferCreated, r)
		}
	}
	require.NoError(t, l.Verify(ctx))
	return s
}

// TestVerifyReadsBalanceHistoryInPages checks that Verify replays a
// balance history longer than one page (BatchMax rows) to its end: it
// passes the history the ledger wrote, and finds a row that differs past
// the first page.
func TestVerifyReadsBalanceHistoryInPages(t *testing.T) {
	ctx := context.Background()
	s := longHistory(t)
	var late uint64 // the timestamp of the 8195th transfer, on the second page
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		i := 0
		return tx.ForEachTransfer(func(tr ledger.Transfer) error {
			if i++; i == ledger.BatchMax+6 {
				late = tr.Timestamp
			}
			return nil
		})
	}))
	got := verifyProblems(t, editRows(s, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
		for i := range rows {
			if rows[i].Timestamp == late {
				rows[i].CreditsPosted = 1
			}
		}
		return rows
	}))
	require.Equal(t, []ledger.Problem{{AccountID: ledger.IDFromUint64(2), Detail: fmt.Sprintf(
		"balance history row at %d (transfer %v) has dp=0 dpo=0 cp=0 cpo=1, transfers give dp=0 dpo=0 cp=0 cpo=%d",
		late, ledger.IDFromUint64(100+ledger.BatchMax+5), ledger.BatchMax+6)}}, got)
}

// BenchmarkVerifyExpiredHolds measures Verify of an account with
// AccountHistory whose BatchMax pending transfers were held at once and
// then released by expiry, each with a balance history row; cpu-ns/op is
// the process's CPU time per Verify.
func BenchmarkVerifyExpiredHolds(b *testing.B) {
	ctx := context.Background()
	l, now := clocked(b, memory.New(), ledger.Options{})
	_, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
	})
	require.NoError(b, err)
	holds := make([]ledger.Transfer, ledger.BatchMax)
	for i := range holds {
		holds[i] = transfer(uint64(100+i), 1)
		holds[i].Flags, holds[i].Timeout = ledger.TransferPending, 1
	}
	_, err = l.CreateTransfers(ctx, holds)
	require.NoError(b, err)
	now.Add(2e9)
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(1, 1)})
	require.NoError(b, err)
	require.Equal(b, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	b.ReportAllocs()
	start := cputime.Process()
	for b.Loop() {
		require.NoError(b, l.Verify(ctx))
	}
	cputime.Report(b, start)
}

// heldHistory returns a store, written behind the ledger's back, with
// account 1, and account 2 with AccountHistory, the pending transfers ps
// from 1 to 2 with states of status (see hold), the transfers others as
// they are, and rows, the balance history rows of account 2 (see
// creditsRow).
func heldHistory(t *testing.T, status ledger.PendingStatus, ps, others []ledger.Transfer, rows ...ledger.BalanceRow) *memory.Store {
	t.Helper()
	s := memory.New()
	tamper(t, s, func(tx ledger.Tx) error {
		return tx.InsertAccounts([]ledger.Account{
			{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1, Timestamp: 1},
			{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1, Flags: ledger.AccountHistory, Timestamp: 2},
		})
	})
	tamper(t, s, func(tx ledger.Tx) error { return hold(tx, ps, status) })
	tamper(t, s, func(tx ledger.Tx) error { return errors.Join(tx.InsertTransfers(others), tx.InsertBalances(rows)) })
	return s
}

// heldFor returns a pending transfer id of amount from 1 to 2 stamped ts
// that expires timeout seconds later.
func heldFor(id, amount, ts uint64, timeout uint32) ledger.Transfer {
	p := transfer(id, amount)
	p.Flags, p.Timeout, p.Timestamp = ledger.TransferPending, timeout, ts
	return p
}

// creditsRow returns a balance history row of account 2 at ts with
// credits pending cp, naming transfer id.
func creditsRow(ts, cp, id uint64) ledger.BalanceRow {
	return ledger.BalanceRow{AccountBalance: ledger.AccountBalance{AccountID: ledger.IDFromUint64(2), CreditsPending: cp, Timestamp: ts},
		TransferID: ledger.IDFromUint64(id)}
}

// unnamedAt returns s with the balance history row of account at ts
// naming no transfer, as a release written before the SQL stores'
// migration 0002 (which no store takes now).
func unnamedAt(s ledger.Store, account ledger.ID, ts uint64) ledger.Store {
	return editRows(s, func(rows []ledger.BalanceRow) []ledger.BalanceRow {
		for i := range rows {
			if rows[i].AccountID == account && rows[i].Timestamp == ts {
				rows[i].TransferID = ledger.ID{}
			}
		}
		return rows
	})
}

// assertVerifyStore asserts that Verify of a Ledger over s finds the
// problems want, or none when want is nil.
func assertVerifyStore(t *testing.T, s ledger.Store, want []ledger.Problem) {
	t.Helper()
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	assertVerify(t, l, want)
}

// TestVerifyChecksRowsAtTheTimestampLimit checks that Verify passes the
// release of a hold, and a transfer, at TimestampLimit in a balance
// history, and reports a row above it alone, though the row is not a
// release either.
func TestVerifyChecksRowsAtTheTimestampLimit(t *testing.T) {
	two := ledger.IDFromUint64(2)
	p := heldFor(10, 3, 3, 1)
	t.Run("release_at_limit", func(t *testing.T) {
		assertVerifyStore(t, heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p}, nil,
			creditsRow(3, 3, 10), creditsRow(ledger.TimestampLimit, 0, 10)), nil)
	})
	t.Run("above_limit", func(t *testing.T) {
		s := heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p}, nil, creditsRow(3, 3, 10), creditsRow(ledger.TimestampLimit+1, 1, 10))
		assert.Equal(t, []ledger.Problem{{AccountID: two, Detail: fmt.Sprintf(
			"balance history row at %d, above the timestamp limit", ledger.TimestampLimit+1)}, lastAboveTheLimit}, verifyProblems(t, s))
	})
	t.Run("transfer_at_limit", func(t *testing.T) {
		tr := transfer(10, 3)
		tr.Timestamp = ledger.TimestampLimit
		s := heldHistory(t, ledger.PendingActive, nil, nil)
		postPlain(t, s, tr)
		tamper(t, s, func(tx ledger.Tx) error {
			return tx.InsertBalances([]ledger.BalanceRow{{TransferID: tr.ID,
				AccountBalance: ledger.AccountBalance{AccountID: two, CreditsPosted: 3, Timestamp: tr.Timestamp}}})
		})
		assertVerifyStore(t, s, nil)
	})
}

// TestVerifyFindsReleaseOfAnActiveHold checks that Verify finds a balance
// history row, past the expiry of a hold, that releases it, though its
// state is active: only an expired hold is released.
func TestVerifyFindsReleaseOfAnActiveHold(t *testing.T) {
	p := heldFor(10, 3, 3, 1)
	s := heldHistory(t, ledger.PendingActive, []ledger.Transfer{p}, nil, creditsRow(3, 3, 10), creditsRow(p.ExpiresAt()+1, 0, 10))
	assert.Equal(t, []ledger.Problem{{AccountID: ledger.IDFromUint64(2), Detail: fmt.Sprintf(
		"balance history row at %d (no transfer of it) has dp=0 dpo=0 cp=0 cpo=0, which the release of no expired hold gives from dp=0 dpo=0 cp=3 cpo=0",
		p.ExpiresAt()+1)}}, verifyProblems(t, s))
}

// TestVerifyFindsReleaseNamingAHoldReleasedUnnamed checks that Verify
// finds a release row that names a hold (10) that an earlier row,
// naming none, released, where the release of another (11) gives its
// balances.
func TestVerifyFindsReleaseNamingAHoldReleasedUnnamed(t *testing.T) {
	p10, p11 := heldFor(10, 3, 3, 1), heldFor(11, 3, 4, 1)
	at := p11.ExpiresAt()
	s := heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p10, p11}, nil,
		creditsRow(3, 3, 10), creditsRow(4, 6, 11), creditsRow(at, 3, 10), creditsRow(at+1, 0, 10))
	assert.Equal(t, []ledger.Problem{{AccountID: ledger.IDFromUint64(2), Detail: fmt.Sprintf(
		"balance history row at %d releases %v, but names transfer %v", at+1, p11.ID, p10.ID)}},
		verifyProblems(t, unnamedAt(s, ledger.IDFromUint64(2), at)))
}

// TestVerifyReplaysVoidOfAHoldReleasedBefore checks that Verify finds the
// void of a hold after its release, and replays it in the balance history
// without releasing the hold again.
func TestVerifyReplaysVoidOfAHoldReleasedBefore(t *testing.T) {
	p := heldFor(10, 3, 3, 1)
	void := transfer(12, 3)
	void.Flags, void.PendingID, void.Timestamp = ledger.TransferVoidPendingTransfer, p.ID, p.ExpiresAt()+1
	s := heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p}, []ledger.Transfer{void},
		creditsRow(3, 3, 10), creditsRow(p.ExpiresAt(), 0, 10), creditsRow(void.Timestamp, 0, 12))
	assert.Equal(t, []ledger.Problem{
		{TransferID: void.ID, Detail: fmt.Sprintf("resolves %v, which expired at %d", p.ID, p.ExpiresAt())},
		{TransferID: void.ID, Detail: fmt.Sprintf("pending transfer %v is expired, want voided", p.ID)},
		{TransferID: p.ID, Detail: "pending transfer is expired but resolved 1 time(s)"}}, verifyProblems(t, s))
}

// TestVerifyReleasesHoldsInExpiryOrder checks that Verify takes a release
// row that names no hold for the release of the first hold, by expiry,
// whose release gives its balances (12, not 11, which expires later but
// was created first), though that one is not the first held (10).
func TestVerifyReleasesHoldsInExpiryOrder(t *testing.T) {
	p10, p11, p12 := heldFor(10, 7, 3, 1), heldFor(11, 5, 4, 3), heldFor(12, 5, 5, 2)
	rows := []ledger.BalanceRow{creditsRow(3, 7, 10), creditsRow(4, 12, 11), creditsRow(5, 17, 12),
		creditsRow(p12.ExpiresAt()+1, 12, 12), creditsRow(p12.ExpiresAt()+2, 5, 10), creditsRow(p11.ExpiresAt(), 0, 11)}
	s := heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p10, p11, p12}, nil, rows...)
	assertVerifyStore(t, unnamedAt(s, ledger.IDFromUint64(2), p12.ExpiresAt()+1), nil)
}

// TestVerifyReleasesHoldsOfOneExpiryInTimestampOrder checks that Verify
// takes a release row that names no hold, among holds of the same expiry
// and amount, for the release of the first created of those held (11,
// once 10 is released), and finds a later row that names that one.
func TestVerifyReleasesHoldsOfOneExpiryInTimestampOrder(t *testing.T) {
	p10, p11, p12 := heldFor(10, 5, 1e9, 3), heldFor(11, 5, 2e9, 2), heldFor(12, 5, 3e9, 1)
	at := p10.ExpiresAt()
	require.Equal(t, []uint64{at, at}, []uint64{p11.ExpiresAt(), p12.ExpiresAt()})
	s := heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p10, p11, p12}, nil, creditsRow(1e9, 5, 10), creditsRow(2e9, 10, 11),
		creditsRow(3e9, 15, 12), creditsRow(at, 10, 10), creditsRow(at+1, 5, 11), creditsRow(at+2, 0, 11))
	assert.Equal(t, []ledger.Problem{{AccountID: ledger.IDFromUint64(2), Detail: fmt.Sprintf(
		"balance history row at %d releases %v, but names transfer %v", at+2, p12.ID, p11.ID)}},
		verifyProblems(t, unnamedAt(s, ledger.IDFromUint64(2), at+1)))
}

// TestVerifyFindsBalancesOfAccountWithoutHistoryRows checks that Verify
// finds the stored balances of an account with AccountHistory that no
// transfer names, and that has no balance history row, as those of any
// account: the empty history is not another problem.
func TestVerifyFindsBalancesOfAccountWithoutHistoryRows(t *testing.T) {
	s := heldHistory(t, ledger.PendingActive, nil, nil)
	tamper(t, s, editedAccount(ledger.IDFromUint64(2), func(a *ledger.Account) { a.CreditsPosted = 3 }))
	assert.Equal(t, []ledger.Problem{
		{AccountID: ledger.IDFromUint64(2), Detail: "stored balances dp=0 dpo=0 cp=0 cpo=3, transfers give dp=0 dpo=0 cp=0 cpo=0"},
		{Detail: "ledger 978: debits posted [0 0] differ from credits posted [0 3]"}}, verifyProblems(t, s))
}

// TestVerifyFindsLastTimestampBehindARelease: the timestamp of a balance
// history row that releases a hold, past every other stored timestamp,
// counts among the stored ones: a last timestamp below it is a problem.
func TestVerifyFindsLastTimestampBehindARelease(t *testing.T) {
	p := heldFor(10, 3, 3, 1)
	at := p.ExpiresAt() + 5
	s := heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p}, nil, creditsRow(3, 3, 10), creditsRow(at, 0, 10))
	assertVerifyStore(t, s, nil)
	behind := altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return lastTx{tx, at - 1} }}
	assert.Equal(t, []ledger.Problem{{Detail: fmt.Sprintf("last timestamp %d below %d, a stored timestamp", at-1, at)}},
		verifyProblems(t, behind))
}

// TestVerifyPassesReleaseNamingNoHoldAtAnotherTimestamp checks that
// Verify passes the release of a hold in the history of one of its
// accounts at another timestamp than in that of the other, when that row
// names no hold: such a release is not identified for certain.
func TestVerifyPassesReleaseNamingNoHoldAtAnotherTimestamp(t *testing.T) {
	p := heldFor(10, 3, 3, 1)
	debits := func(ts, dp, id uint64) ledger.BalanceRow {
		row := creditsRow(ts, 0, id)
		row.AccountID, row.DebitsPending = ledger.IDFromUint64(1), dp
		return row
	}
	s := heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p}, nil,
		debits(3, 3, 10), debits(p.ExpiresAt(), 0, 10), creditsRow(3, 3, 10), creditsRow(p.ExpiresAt()+1, 0, 10))
	tamper(t, s, editedAccount(ledger.IDFromUint64(1), func(a *ledger.Account) { a.Flags |= ledger.AccountHistory }))
	assertVerifyStore(t, unnamedAt(s, ledger.IDFromUint64(1), p.ExpiresAt()), nil)
}

// accountRestampTx reads transfer id, among the transfers of an account,
// stamped ts: a row that the scan of every transfer reads otherwise.
type accountRestampTx struct {
	ledger.ReadTx
	id ledger.ID
	ts uint64
}

func (tx accountRestampTx) AccountTransfers(f ledger.AccountFilter) ([]ledger.Transfer, error) {
	trs, err := tx.ReadTx.AccountTransfers(f)
	for i := range trs {
		if trs[i].ID == tx.id {
			trs[i].Timestamp = tx.ts
		}
	}
	return trs, err
}

// TestVerifyHoldsOnlyThePendingTransferItRead checks that Verify counts a
// pending transfer that the transfers of an account read at another
// timestamp than the scan of every transfer in the account's balances
// without holding it: a later row that releases it is found.
func TestVerifyHoldsOnlyThePendingTransferItRead(t *testing.T) {
	p := heldFor(10, 3, 3, 1)
	s := heldHistory(t, ledger.PendingExpired, []ledger.Transfer{p}, nil, creditsRow(5, 3, 10), creditsRow(p.ExpiresAt(), 0, 10))
	restamped := altered{s, func(tx ledger.ReadTx) ledger.ReadTx { return accountRestampTx{tx, p.ID, 5} }}
	assert.Equal(t, []ledger.Problem{{AccountID: ledger.IDFromUint64(2), Detail: fmt.Sprintf(
		"balance history row at %d (no transfer of it) has dp=0 dpo=0 cp=0 cpo=0, which the release of no expired hold gives from dp=0 dpo=0 cp=3 cpo=0",
		p.ExpiresAt())}}, verifyProblems(t, restamped))
}
