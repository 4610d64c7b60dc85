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
	createAccounts(t, l, []ledger.Account{{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1}})
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

// scribblingStore zeroes the rows that AccountTransfers and
// AccountBalances returned once the View ends, as a store that reuses
// their memory may.
type scribblingStore struct{ ledger.Store }

type scribblingReadTx struct {
	ledger.ReadTx
	transfers *[][]ledger.Transfer
	balances  *[][]ledger.AccountBalance
}

func (tx scribblingReadTx) AccountTransfers(f ledger.AccountFilter) ([]ledger.Transfer, error) {
	rows, err := tx.ReadTx.AccountTransfers(f)
	*tx.transfers = append(*tx.transfers, rows)
	return rows, err
}

func (tx scribblingReadTx) AccountBalances(f ledger.AccountFilter) ([]ledger.AccountBalance, error) {
	rows, err := tx.ReadTx.AccountBalances(f)
	*tx.balances = append(*tx.balances, rows)
	return rows, err
}

func (s scribblingStore) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	var transfers [][]ledger.Transfer
	var balances [][]ledger.AccountBalance
	err := s.Store.View(ctx, func(tx ledger.ReadTx) error { return fn(scribblingReadTx{tx, &transfers, &balances}) })
	for _, rows := range transfers {
		clear(rows)
	}
	for _, rows := range balances {
		clear(rows)
	}
	return err
}

// TestFilterResultsOutliveTheView: GetAccountTransfers and
// GetAccountBalances return copies of the store's rows, which the store
// may reuse once the View ends.
func TestFilterResultsOutliveTheView(t *testing.T) {
	ctx := context.Background()
	l, _ := clocked(t, scribblingStore{memory.New()}, ledger.Options{})
	id := ledger.IDFromUint64
	createAccounts(t, l, []ledger.Account{{ID: id(1), Ledger: 978, Code: 1, Flags: ledger.AccountHistory},
		{ID: id(2), Ledger: 978, Code: 1}})
	created, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(10, 4)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, created)
	f := ledger.AccountFilter{AccountID: id(1), Limit: 10, Flags: ledger.AccountFilterDebits}
	transfers, err := l.GetAccountTransfers(ctx, f)
	require.NoError(t, err)
	require.Len(t, transfers, 1)
	assert.Equal(t, id(10), transfers[0].ID)
	assert.Equal(t, uint64(4), transfers[0].Amount)
	balances, err := l.GetAccountBalances(ctx, f)
	require.NoError(t, err)
	require.Len(t, balances, 1)
	assert.Equal(t, ledger.AccountBalance{AccountID: id(1), DebitsPosted: 4, Timestamp: transfers[0].Timestamp}, balances[0])
}
