package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

var errStop = errors.New("stop")

// TestForEachStopsAtTheFirstError: ForEachAccount and ForEachTransfer
// stop at the first error of fn and return it.
func TestForEachStopsAtTheFirstError(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	one, two := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	require.NoError(t, s.Update(ctx, func(tx ledger.Tx) error {
		if err := tx.InsertAccounts([]ledger.Account{{ID: one, Ledger: 1, Code: 1, Timestamp: 1}, {ID: two, Ledger: 1, Code: 1, Timestamp: 2}}); err != nil {
			return err
		}
		if err := tx.InsertTransfers([]ledger.Transfer{
			{ID: ledger.IDFromUint64(10), DebitAccountID: one, CreditAccountID: two, Ledger: 1, Code: 1, Timestamp: 3},
			{ID: ledger.IDFromUint64(11), DebitAccountID: one, CreditAccountID: two, Ledger: 1, Code: 1, Timestamp: 4}}); err != nil {
			return err
		}
		return tx.SetLastTimestamp(4)
	}))
	var accounts, transfers []ledger.ID
	require.NoError(t, s.View(ctx, func(tx ledger.ReadTx) error {
		assert.ErrorIs(t, tx.ForEachAccount(func(a ledger.Account) error { accounts = append(accounts, a.ID); return errStop }), errStop)
		assert.ErrorIs(t, tx.ForEachTransfer(func(tr ledger.Transfer) error { transfers = append(transfers, tr.ID); return errStop }), errStop)
		return nil
	}))
	assert.Equal(t, []ledger.ID{one}, accounts)
	assert.Equal(t, []ledger.ID{ledger.IDFromUint64(10)}, transfers)
}
