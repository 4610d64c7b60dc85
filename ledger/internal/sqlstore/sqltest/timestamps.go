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

// TimestampOverLimit checks, for each column that holds a timestamp, an
// expiry time or a timeout, a store from open whose database holds,
// written beside the store (corrupt), a value above ledger.TimestampLimit
// (or, for the timeout, a negative one) there: every read of the row fails
// with ledger.ErrCorrupt, as the ledger's lookups, the posts, voids and
// expiries that read the row, its writes once the last timestamp is
// corrupt, and Verify do, rather than with the engine's error or with a
// time no engine stores. So do the account filters that match such a
// transfer or balance but for its time range, whatever their range, order
// and limit (corruptFilters), while a transfer written since is stored
// and read as any other, and every batch of transfers once an active
// pending state has such an expiry time, which the expiry sweep meets
// first whatever the time, with nothing written (unchanged), while an
// account is still created (CreateAccounts runs no sweep).
func TimestampOverLimit(t *testing.T, open func(t *testing.T) (ledger.Store, Corrupt)) {
	ctx := context.Background()
	columns := []column{
		{"accounts", "timestamp"},
		{"transfers", "timestamp"},
		{"transfers", "timeout"},
		{"pending", "expires_at"},
		{"pending", "timestamp"},
		{"failed_transfers", "timestamp"},
		{"account_balances", "timestamp"},
		{"ledger_state", "last_timestamp"},
	}
	eachCorrupt(t, open, columns, func(t *testing.T, l *ledger.Ledger, c column, now *atomic.Int64) {
		var err error

		post := []ledger.Transfer{{ID: id(20), PendingID: id(11), Amount: ledger.AmountMax,
			Flags: ledger.TransferPostPendingTransfer}}
		void := []ledger.Transfer{{ID: id(20), PendingID: id(11), Flags: ledger.TransferVoidPendingTransfer}}
		plain := []ledger.Transfer{{ID: id(20), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1}}
		switch c.table {
		case "accounts":
			_, err = l.LookupAccounts(ctx, []ledger.ID{id(1), id(2)})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "lookup")
			_, err = l.CreateTransfers(ctx, plain)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "transfer")
		case "transfers":
			_, err = l.LookupTransfers(ctx, []ledger.ID{id(10), id(11)})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "lookup")
			if c.column == "timestamp" {
				corruptFilters(t, l, ledger.AccountFilterDebits, func(f ledger.AccountFilter) (int, error) {
					got, err := l.GetAccountTransfers(ctx, f)
					return len(got), err
				})
			} else {
				_, err = l.GetAccountTransfers(ctx, ledger.AccountFilter{AccountID: id(1), Flags: ledger.AccountFilterDebits,
					TimestampMax: ledger.TimestampLimit, Limit: ledger.BatchMax})
				assert.ErrorIs(t, err, ledger.ErrCorrupt, "account transfers")
			}
			_, err = l.CreateTransfers(ctx, post)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "post")
			_, err = l.CreateTransfers(ctx, void)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "void")
			now.Add(int64(2 * time.Second))
			_, err = l.CreateTransfers(ctx, plain)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "expiry")
		case "pending":
			_, err = l.CreateTransfers(ctx, post)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "post")
			_, err = l.CreateTransfers(ctx, void)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "void")
			if c.column == "expires_at" {
				// Due whatever the time: the sweep meets it first.
				_, err = l.CreateTransfers(ctx, plain)
				assert.ErrorIs(t, err, ledger.ErrCorrupt, "expiry before the timeout")
			}
			now.Add(int64(2 * time.Second))
			_, err = l.CreateTransfers(ctx, plain)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "expiry")
			unchanged(t, l)
			if c.column == "expires_at" {
				// No sweep: the account is created.
				r, err := l.CreateAccounts(ctx, []ledger.Account{{ID: id(4), Ledger: 1, Code: 1}})
				require.NoError(t, err, "account")
				assert.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated}, r, "account")
			}
		case "failed_transfers":
			_, err = l.CreateTransfers(ctx, []ledger.Transfer{
				{ID: id(13), DebitAccountID: id(3), CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1},
			})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "retry of a failed transfer")
		case "account_balances":
			corruptFilters(t, l, ledger.AccountFilterDebits, func(f ledger.AccountFilter) (int, error) {
				got, err := l.GetAccountBalances(ctx, f)
				return len(got), err
			})
		case "ledger_state":
			_, err = l.CreateAccounts(ctx, []ledger.Account{{ID: id(4), Ledger: 1, Code: 1}})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "account")
			_, err = l.CreateTransfers(ctx, plain)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "transfer")
		}
	})
}

// corruptFilters writes transfer 21 of 1 from account 1 to account 2 on l,
// whose transfers 10 and 11 (corruptible) read as corrupt to filter, a
// read of one account filter, and checks that every filter of account 1
// on side (the side of those transfers) or on both sides, in either
// order, with a limit of 1 or BatchMax, from the first timestamp or from
// that of transfer 21, fails with ledger.ErrCorrupt rather than leaving
// the corrupt rows out; a filter that they do not match (the other side,
// another code) reads transfer 21's rows alone, and the balances are
// exactly those of the three transfers.
func corruptFilters(t *testing.T, l *ledger.Ledger, side ledger.AccountFilterFlags,
	filter func(f ledger.AccountFilter) (int, error)) {
	t.Helper()
	ctx := context.Background()
	r, err := l.CreateTransfers(ctx, []ledger.Transfer{
		{ID: id(21), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 2},
	})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, r)
	written, err := l.LookupTransfers(ctx, []ledger.ID{id(21)})
	require.NoError(t, err)
	require.Len(t, written, 1)
	for _, flags := range []ledger.AccountFilterFlags{side, ledger.AccountFilterDebits | ledger.AccountFilterCredits} {
		for _, order := range []ledger.AccountFilterFlags{0, ledger.AccountFilterReversed} {
			for _, limit := range []int{1, ledger.BatchMax} {
				for _, from := range []uint64{0, written[0].Timestamp} {
					f := ledger.AccountFilter{AccountID: id(1), Flags: flags | order, TimestampMin: from, Limit: limit}
					_, err := filter(f)
					assert.ErrorIs(t, err, ledger.ErrCorrupt, "%+v", f)
					f.Code = 1
					_, err = filter(f)
					assert.ErrorIs(t, err, ledger.ErrCorrupt, "%+v", f)
				}
			}
		}
	}
	both := ledger.AccountFilterDebits | ledger.AccountFilterCredits
	for _, tt := range []struct {
		f    ledger.AccountFilter
		rows int
	}{
		{ledger.AccountFilter{AccountID: id(1), Flags: both, Code: 2, Limit: ledger.BatchMax}, 1},
		{ledger.AccountFilter{AccountID: id(1), Flags: both&^side | ledger.AccountFilterReversed, Limit: ledger.BatchMax}, 0},
	} {
		n, err := filter(tt.f)
		assert.NoError(t, err, "%+v", tt.f)
		assert.Equal(t, tt.rows, n, "%+v", tt.f)
	}
	accounts, err := l.LookupAccounts(ctx, []ledger.ID{id(1), id(2)})
	require.NoError(t, err)
	require.Len(t, accounts, 2)
	assert.Equal(t, [4]uint64{3, 6, 0, 0}, balances(&accounts[0]), "account 1")
	assert.Equal(t, [4]uint64{0, 0, 3, 6}, balances(&accounts[1]), "account 2")
}

// balances returns the debits pending and posted and the credits pending
// and posted of a.
func balances(a *ledger.Account) [4]uint64 {
	return [4]uint64{a.DebitsPending, a.DebitsPosted, a.CreditsPending, a.CreditsPosted}
}

// unchanged checks that l, from corruptible, holds no transfer 20, and the
// balances of transfers 10 and 11 exactly: the held amount of transfer 11
// neither posted, voided nor released.
func unchanged(t *testing.T, l *ledger.Ledger) {
	t.Helper()
	ctx := context.Background()
	got, err := l.LookupTransfers(ctx, []ledger.ID{id(20)})
	require.NoError(t, err)
	assert.Empty(t, got, "transfer 20")
	accounts, err := l.LookupAccounts(ctx, []ledger.ID{id(1), id(2)})
	require.NoError(t, err)
	require.Len(t, accounts, 2)
	assert.Equal(t, [4]uint64{3, 5, 0, 0}, balances(&accounts[0]), "account 1")
	assert.Equal(t, [4]uint64{0, 0, 3, 5}, balances(&accounts[1]), "account 2")
}
