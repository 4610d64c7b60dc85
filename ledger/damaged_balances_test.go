package ledger_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestPostRefusesPostedBalanceAtTheLimit checks that a post of hold 11
// (4 units) fails when the posted balance of one of its accounts, damaged
// past what the checks at the hold's creation allowed, would go above
// AmountLimit.
func TestPostRefusesPostedBalanceAtTheLimit(t *testing.T) {
	tests := []struct {
		id     uint64
		damage func(*ledger.Account)
		want   ledger.CreateTransferResult
	}{
		{1, func(a *ledger.Account) { a.DebitsPosted = ledger.AmountLimit - 3 }, ledger.TransferOverflowsDebitsPosted},
		{2, func(a *ledger.Account) { a.CreditsPosted = ledger.AmountLimit - 3 }, ledger.TransferOverflowsCreditsPosted},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			l, s := verifySetup(t)
			tamper(t, s, editedAccount(ledger.IDFromUint64(tt.id), tt.damage))
			res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{
				{ID: ledger.IDFromUint64(20), PendingID: ledger.IDFromUint64(11), Amount: 4, Flags: ledger.TransferPostPendingTransfer}})
			require.NoError(t, err)
			assert.Equal(t, []ledger.CreateTransferResult{tt.want}, res)
		})
	}
}

// TestRetriedResolutionOfMissingHoldIsCorrupt checks that retrying a
// stored void whose pending transfer the store lost fails the batch with
// ErrCorrupt.
func TestRetriedResolutionOfMissingHoldIsCorrupt(t *testing.T) {
	l, s := verifySetup(t)
	void := ledger.Transfer{ID: ledger.IDFromUint64(20), PendingID: ledger.IDFromUint64(99), Flags: ledger.TransferVoidPendingTransfer}
	tamper(t, s, func(tx ledger.Tx) error {
		stored := transfer(20, 1)
		stored.PendingID, stored.Flags, stored.Timestamp = void.PendingID, void.Flags, 1<<62
		return tx.InsertTransfers([]ledger.Transfer{stored})
	})
	_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{void})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	assert.EqualError(t, err, "ledger: store inconsistent: transfer "+void.ID.String()+" resolves "+void.PendingID.String()+", which is missing")
}
