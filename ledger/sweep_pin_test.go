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

// staleSweepStore is a store whose Tx.ExpiredPending also returns the
// transfers of extra, whatever the status of their pending states.
type staleSweepStore struct {
	ledger.Store
	extra []ledger.ID
}

func (s *staleSweepStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.Update(ctx, func(tx ledger.Tx) error { return fn(staleSweepTx{tx, s}) })
}

type staleSweepTx struct {
	ledger.Tx
	s *staleSweepStore
}

func (t staleSweepTx) ExpiredPending(now uint64, limit int) ([]ledger.Transfer, error) {
	got, err := t.Tx.ExpiredPending(now, limit)
	if err != nil || len(t.s.extra) == 0 {
		return got, err
	}
	extra, err := t.Tx.Transfers(t.s.extra)
	return append(got, extra...), err
}

// TestSweepSkipsResolvedPending: the expiry sweep releases only holds
// whose pending state is still active. A pending transfer already posted
// in full, which the store hands to the sweep past its expiry anyway, is
// left alone: the batch's transfer is created and no balance is released
// a second time.
func TestSweepSkipsResolvedPending(t *testing.T) {
	ctx := context.Background()
	s := &staleSweepStore{Store: memory.New()}
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
	s.extra = []ledger.ID{hold.ID}
	res, err = l.CreateTransfers(ctx, []ledger.Transfer{transfer(12, 1)})
	require.NoError(t, err)
	assert.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	a1, a2 := lookupAccount(t, l, 1), lookupAccount(t, l, 2)
	assert.Equal(t, [4]uint64{0, 6, 0, 0}, [4]uint64{a1.DebitsPending, a1.DebitsPosted, a1.CreditsPending, a1.CreditsPosted})
	assert.Equal(t, [4]uint64{0, 0, 0, 6}, [4]uint64{a2.DebitsPending, a2.DebitsPosted, a2.CreditsPending, a2.CreditsPosted})
}
