package ledger_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// TestSweepSkipsResolvedPending: the expiry sweep releases only holds
// whose pending state is still active. A pending transfer already posted
// in full, which the store hands to the sweep past its expiry anyway, is
// left alone: the batch's transfer is created and no balance is released
// a second time.
func TestSweepSkipsResolvedPending(t *testing.T) {
	ctx := context.Background()
	var extra []ledger.ID // returned by Tx.ExpiredPending too, whatever the status of their pending states
	s := &expiredHook{Store: memory.New(), expired: func(tx ledger.Tx, now uint64, limit int) ([]ledger.Transfer, error) {
		got, err := tx.ExpiredPending(now, limit)
		if err != nil || len(extra) == 0 {
			return got, err
		}
		more, err := tx.Transfers(extra)
		return append(got, more...), err
	}}
	l, now := clocked(t, s, ledger.Options{})
	ares, err := l.CreateAccounts(ctx, []ledger.Account{account(1), account(2)})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateAccountResult{ledger.AccountCreated, ledger.AccountCreated}, ares)

	hold := transfer(10, 5)
	hold.Flags, hold.Timeout = ledger.TransferPending, 1
	post := ledger.Transfer{ID: ledger.IDFromUint64(11), PendingID: hold.ID, Amount: ledger.AmountMax,
		Flags: ledger.TransferPostPendingTransfer}
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{hold, post})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)

	now.Add(int64(2 * time.Second))
	extra = []ledger.ID{hold.ID}
	res, err = l.CreateTransfers(ctx, []ledger.Transfer{transfer(12, 1)})
	require.NoError(t, err)
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	a1, a2 := lookupAccount(t, l, 1), lookupAccount(t, l, 2)
	assert.Equal(t, [4]uint64{0, 6, 0, 0}, [4]uint64{a1.DebitsPending, a1.DebitsPosted, a1.CreditsPending, a1.CreditsPosted})
	assert.Equal(t, [4]uint64{0, 0, 0, 6}, [4]uint64{a2.DebitsPending, a2.DebitsPosted, a2.CreditsPending, a2.CreditsPosted})
}
