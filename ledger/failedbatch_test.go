package ledger_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

var errInjected = errors.New("injected commit failure")

// failAfterStore runs fn of each Update and then, while fail is set,
// fails the Update with errInjected, so that the store rolls back what fn
// wrote.
type failAfterStore struct {
	ledger.Store
	fail atomic.Bool
}

func (s *failAfterStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.Update(ctx, func(tx ledger.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if s.fail.Load() {
			return errInjected
		}
		return nil
	})
}

// TestFailedBatchLeavesNothingBehind: a batch whose transaction fails
// leaves nothing for the next one to find: a transfer it created twice
// (the second time as exists) is created by the next batch, not found as
// existing.
func TestFailedBatchLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	s := &failAfterStore{Store: memory.New()}
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	id := ledger.IDFromUint64
	createAccounts(t, l, []ledger.Account{{ID: id(1), Ledger: 978, Code: 1}, {ID: id(2), Ledger: 978, Code: 1}})
	tr := ledger.Transfer{ID: id(10), DebitAccountID: id(1), CreditAccountID: id(2), Amount: 1, Ledger: 978, Code: 1}

	s.fail.Store(true)
	_, err = l.CreateTransfers(ctx, []ledger.Transfer{tr, tr})
	require.ErrorIs(t, err, errInjected)
	s.fail.Store(false)

	got, err := l.CreateTransfers(ctx, []ledger.Transfer{tr})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, got)
	accounts, err := l.LookupAccounts(ctx, []ledger.ID{id(1), id(2)})
	require.NoError(t, err)
	require.Len(t, accounts, 2)
	require.Equal(t, uint64(1), accounts[0].DebitsPosted)
	require.Equal(t, uint64(1), accounts[1].CreditsPosted)
}
