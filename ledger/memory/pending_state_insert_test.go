package memory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// TestPendingStateOfATransferOfAnotherInsert: Update takes the pending
// state of a pending transfer that fn inserted in a later InsertTransfers
// call than another, and refuses one of a transfer of that call that is
// not pending.
func TestPendingStateOfATransferOfAnotherInsert(t *testing.T) {
	ctx := context.Background()
	one, two := ledger.IDFromUint64(1), ledger.IDFromUint64(2)
	for _, flags := range []ledger.TransferFlags{ledger.TransferPending, 0} {
		s := memory.New()
		err := s.Update(ctx, func(tx ledger.Tx) error {
			if err := tx.InsertAccounts([]ledger.Account{{ID: one, Ledger: 1, Code: 1, Timestamp: 1}, {ID: two, Ledger: 1, Code: 1, Timestamp: 2}}); err != nil {
				return err
			}
			if err := tx.InsertTransfers([]ledger.Transfer{
				{ID: ledger.IDFromUint64(10), DebitAccountID: one, CreditAccountID: two, Ledger: 1, Code: 1, Timestamp: 3}}); err != nil {
				return err
			}
			if err := tx.InsertTransfers([]ledger.Transfer{
				{ID: ledger.IDFromUint64(11), DebitAccountID: one, CreditAccountID: two, Ledger: 1, Code: 1, Timestamp: 4, Flags: flags}}); err != nil {
				return err
			}
			if err := tx.InsertPending([]ledger.Pending{{ID: ledger.IDFromUint64(11), Status: ledger.PendingActive, Timestamp: 4}}); err != nil {
				return err
			}
			return tx.SetLastTimestamp(4)
		})
		if flags == 0 {
			assert.ErrorIs(t, err, ledger.ErrCorrupt)
		} else {
			assert.NoError(t, err)
		}
	}
}
