package ledger_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// TestLookupBatchMax: LookupAccounts and LookupTransfers take BatchMax IDs
// (an empty slice when none is found) and refuse one more with
// ErrBatchTooLarge.
func TestLookupBatchMax(t *testing.T) {
	ctx := context.Background()
	l, _ := setup(t, ledger.Options{})
	ids := make([]ledger.ID, ledger.BatchMax+1)
	for i := range ids {
		ids[i] = ledger.IDFromUint64(uint64(i + 1))
	}
	accounts, err := l.LookupAccounts(ctx, ids[:ledger.BatchMax])
	require.NoError(t, err)
	assert.Len(t, accounts, 2)
	transfers, err := l.LookupTransfers(ctx, ids[:ledger.BatchMax])
	require.NoError(t, err)
	assert.Equal(t, []ledger.Transfer{}, transfers, "an empty slice when none is found")
	_, err = l.LookupAccounts(ctx, ids)
	require.ErrorIs(t, err, ledger.ErrBatchTooLarge)
	_, err = l.LookupTransfers(ctx, ids)
	require.ErrorIs(t, err, ledger.ErrBatchTooLarge)
}

// TestFilterTimestampsAtTheLimit: a filter's time range reaches
// TimestampLimit itself, by default (TimestampMax zero) and when a bound
// is TimestampLimit, for transfers and balance history alike.
func TestFilterTimestampsAtTheLimit(t *testing.T) {
	ctx := context.Background()
	l, now := clocked(t, memory.New(), ledger.Options{})
	res, err := l.CreateAccounts(ctx, []ledger.Account{{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated}, res)
	now.Store(int64(ledger.TimestampLimit) - 1)
	created, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(1, 1), transfer(2, 2)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, created)

	for _, c := range []struct {
		name     string
		min, max uint64
		want     []uint64 // amounts, which are the transfers' IDs
	}{
		{"default", 0, 0, []uint64{1, 2}},
		{"from_the_limit", ledger.TimestampLimit, 0, []uint64{2}},
		{"up_to_the_limit", 0, ledger.TimestampLimit, []uint64{1, 2}},
		{"at_the_limit", ledger.TimestampLimit, ledger.TimestampLimit, []uint64{2}},
		{"before_the_limit", 0, ledger.TimestampLimit - 1, []uint64{1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := ledger.AccountFilter{AccountID: ledger.IDFromUint64(1), TimestampMin: c.min, TimestampMax: c.max, Limit: 10,
				Flags: ledger.AccountFilterDebits}
			transfers, err := l.GetAccountTransfers(ctx, f)
			require.NoError(t, err)
			balances, err := l.GetAccountBalances(ctx, f)
			require.NoError(t, err)
			require.Len(t, balances, len(transfers))
			var amounts, posted []uint64
			for _, tr := range transfers {
				amounts = append(amounts, tr.Amount)
			}
			for i, b := range balances {
				posted = append(posted, b.DebitsPosted)
				assert.Equal(t, transfers[i].Timestamp, b.Timestamp)
			}
			assert.Equal(t, c.want, amounts)
			cumulative := map[uint64]uint64{1: 1, 2: 3}
			var want []uint64
			for _, v := range c.want {
				want = append(want, cumulative[v])
			}
			assert.Equal(t, want, posted)
		})
	}
}
