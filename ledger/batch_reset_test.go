package ledger_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestBatchForgetsTheIDsOfTheLastOne: the IDs that a batch names twice
// (here a transfer given twice, the second time exists), which it keeps
// findable among the transfers it creates, are forgotten by the next
// batch, rather than kept for every batch to come.
func TestBatchForgetsTheIDsOfTheLastOne(t *testing.T) {
	l, _ := setup(t, ledger.Options{})
	ctx := context.Background()
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(10, 1), transfer(10, 1)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferExists}, res)
	require.Equal(t, 1, ledger.Needed(l))

	res, err = l.CreateTransfers(ctx, []ledger.Transfer{transfer(11, 1)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	require.Zero(t, ledger.Needed(l))
}
