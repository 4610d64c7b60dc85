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
// time no engine stores. The account filters, whose time range ends at
// ledger.TimestampLimit at most, leave such a transfer or balance out, as
// they do any time past their range, and the expiry sweep leaves out such
// an expiry time, which no ledger time reaches; Verify reports them.
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
				got, err := l.GetAccountTransfers(ctx, ledger.AccountFilter{AccountID: id(1), Flags: ledger.AccountFilterDebits,
					TimestampMax: ledger.TimestampLimit, Limit: ledger.BatchMax})
				assert.NoError(t, err, "account transfers")
				assert.Empty(t, got, "account transfers")
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
			now.Add(int64(2 * time.Second))
			r, err := l.CreateTransfers(ctx, plain)
			if c.column == "timestamp" {
				assert.ErrorIs(t, err, ledger.ErrCorrupt, "expiry")
			} else {
				require.NoError(t, err, "expiry")
				assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, r, "no expiry")
			}
		case "failed_transfers":
			_, err = l.CreateTransfers(ctx, []ledger.Transfer{
				{ID: id(13), DebitAccountID: id(3), CreditAccountID: id(2), Amount: 1, Ledger: 1, Code: 1},
			})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "retry of a failed transfer")
		case "account_balances":
			got, err := l.GetAccountBalances(ctx, ledger.AccountFilter{AccountID: id(2), Flags: ledger.AccountFilterCredits,
				TimestampMax: ledger.TimestampLimit, Limit: ledger.BatchMax})
			assert.NoError(t, err, "balances")
			assert.Empty(t, got, "balances")
		case "ledger_state":
			_, err = l.CreateAccounts(ctx, []ledger.Account{{ID: id(4), Ledger: 1, Code: 1}})
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "account")
			_, err = l.CreateTransfers(ctx, plain)
			assert.ErrorIs(t, err, ledger.ErrCorrupt, "transfer")
		}
	})
}
