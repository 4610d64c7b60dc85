package sqltest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// Corrupt writes into column of every row of table, beside the store, a
// value that the store cannot read as one up to ledger.AmountLimit (the
// limit of timestamps too), a different one in each row, in a form the
// engine keeps despite the schema's checks: the negative integer -1 - v in
// place of v, the bits of 2^64 - 1 - v, keeps apart the rows of a column
// whose values are unique.
type Corrupt func(t *testing.T, table, column string)

// OverLimit checks, for each balance column and the transfer amount, a
// store from open whose database holds, written beside the store
// (corrupt), a value above ledger.AmountLimit there: every read of the row
// fails with ledger.ErrCorrupt, as the ledger's lookups, its writes to the
// account and Verify do, rather than with the engine's error or with a
// balance no engine stores.
func OverLimit(t *testing.T, open func(t *testing.T) (ledger.Store, Corrupt)) {
	ctx := context.Background()
	columns := []column{
		{"accounts", "debits_pending"},
		{"accounts", "debits_posted"},
		{"accounts", "credits_pending"},
		{"accounts", "credits_posted"},
		{"transfers", "amount"},
		{"account_balances", "debits_pending"},
		{"account_balances", "debits_posted"},
		{"account_balances", "credits_pending"},
		{"account_balances", "credits_posted"},
	}
	eachCorrupt(t, open, columns, func(t *testing.T, l *ledger.Ledger, c column, _ *atomic.Int64) {
		var err error
		switch c.table {
		case "accounts":
			_, err = l.LookupAccounts(ctx, []ledger.ID{id(1), id(2)})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "lookup")
			_, err = l.CreateTransfers(ctx, []ledger.Transfer{
				{ID: id(12), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1},
			})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "transfer")
			_, err = l.LookupTransfers(ctx, []ledger.ID{id(12)})
			assert.NoError(t, err, "the transfer left no row")
		case "transfers":
			_, err = l.LookupTransfers(ctx, []ledger.ID{id(10), id(11)})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "lookup")
			_, err = l.GetAccountTransfers(ctx, ledger.AccountFilter{AccountID: id(1), Flags: ledger.AccountFilterDebits,
				TimestampMax: ledger.TimestampLimit, Limit: ledger.BatchMax})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "account transfers")
			_, err = l.CreateTransfers(ctx, []ledger.Transfer{
				{ID: id(12), PendingID: id(11), Amount: ledger.AmountMax, Flags: ledger.TransferPostPendingTransfer},
			})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "post")
		case "account_balances":
			_, err = l.GetAccountBalances(ctx, ledger.AccountFilter{AccountID: id(2), Flags: ledger.AccountFilterCredits,
				TimestampMax: ledger.TimestampLimit, Limit: ledger.BatchMax})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "balances")
		}
	})
}

// column is a column of a table of the stores' schema.
type column struct{ table, column string }

// eachCorrupt runs check, in a subtest named after each of columns, on a
// ledger from corruptible (with its clock) whose column is then corrupt,
// and checks that Verify then fails with ledger.ErrCorrupt.
func eachCorrupt(t *testing.T, open func(t *testing.T) (ledger.Store, Corrupt), columns []column,
	check func(t *testing.T, l *ledger.Ledger, c column, now *atomic.Int64)) {
	for _, c := range columns {
		t.Run(c.table+"."+c.column, func(t *testing.T) {
			l, corrupt, now := corruptible(t, open)
			corrupt(t, c.table, c.column)
			check(t, l, c, now)
			assert.ErrorIs(t, l.Verify(context.Background()), ledger.ErrCorrupt, "verify")
		})
	}
}

// corruptible returns a ledger on a store from open, closed at the end of
// the test, with its Corrupt and the clock it runs on, which the caller
// may move forward. The ledger holds accounts 1 and 2 with
// AccountHistory, account 3 with AccountDebitsMustNotExceedCredits,
// transfer 10 of 5 from 1 to 2, pending transfer 11 of 3 from 1 to 2
// with a timeout of one second, and failed transfer 13
// (TransferExceedsCredits); Verify finds nothing wrong.
func corruptible(t *testing.T, open func(t *testing.T) (ledger.Store, Corrupt)) (*ledger.Ledger, Corrupt, *atomic.Int64) {
	ctx := context.Background()
	s, corrupt := open(t)
	now := new(atomic.Int64)
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	l, err := ledger.New(s, ledger.Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	ar, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: id(1), Ledger: 1, Code: 1, Flags: ledger.AccountHistory},
		{ID: id(2), Ledger: 1, Code: 1, Flags: ledger.AccountHistory},
		{ID: id(3), Ledger: 1, Code: 1, Flags: ledger.AccountDebitsMustNotExceedCredits},
	})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated, ledger.AccountCreated}, ar)
	tr, err := l.CreateTransfers(ctx, []ledger.Transfer{
		{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 5, Ledger: 1, Code: 1},
		{ID: id(11), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 3, Ledger: 1, Code: 1,
			Flags: ledger.TransferPending, Timeout: 1},
		{ID: id(13), DebitAccountID: id(3), CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1},
	})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated,
		ledger.TransferExceedsCredits}, tr)
	require.NoError(t, l.Verify(ctx))
	return l, corrupt, now
}
