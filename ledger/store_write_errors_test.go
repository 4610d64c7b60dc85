package ledger_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

var errDiskFull = errors.New("disk full")

// failingWriteStore fails its write method named failing, or Accounts,
// the read of the accounts to create, in an Update.
type failingWriteStore struct {
	ledger.Store
	failing string
}

func (s failingWriteStore) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	return s.Store.Update(ctx, func(tx ledger.Tx) error { return fn(failingWriteTx{tx, s.failing}) })
}

type failingWriteTx struct {
	ledger.Tx
	failing string
}

// fail returns errDiskFull when method is the failing one, else do(rows).
func fail[T any](tx failingWriteTx, method string, rows []T, do func([]T) error) error {
	if method == tx.failing {
		return errDiskFull
	}
	return do(rows)
}

func (tx failingWriteTx) Accounts(ids []ledger.ID) ([]ledger.Account, error) {
	if tx.failing == "Accounts" {
		return nil, errDiskFull
	}
	return tx.Tx.Accounts(ids)
}

func (tx failingWriteTx) InsertAccounts(a []ledger.Account) error {
	return fail(tx, "InsertAccounts", a, tx.Tx.InsertAccounts)
}

func (tx failingWriteTx) UpdateAccounts(a []ledger.Account) error {
	return fail(tx, "UpdateAccounts", a, tx.Tx.UpdateAccounts)
}

func (tx failingWriteTx) InsertTransfers(t []ledger.Transfer) error {
	return fail(tx, "InsertTransfers", t, tx.Tx.InsertTransfers)
}

func (tx failingWriteTx) InsertPending(p []ledger.Pending) error {
	return fail(tx, "InsertPending", p, tx.Tx.InsertPending)
}

func (tx failingWriteTx) UpdatePending(p []ledger.Pending) error {
	return fail(tx, "UpdatePending", p, tx.Tx.UpdatePending)
}

func (tx failingWriteTx) InsertFailed(f []ledger.FailedTransfer) error {
	return fail(tx, "InsertFailed", f, tx.Tx.InsertFailed)
}

func (tx failingWriteTx) InsertBalances(b []ledger.BalanceRow) error {
	return fail(tx, "InsertBalances", b, tx.Tx.InsertBalances)
}

func (tx failingWriteTx) SetLastTimestamp(ts uint64) error {
	return fail(tx, "SetLastTimestamp", []uint64{ts}, func(ts []uint64) error { return tx.Tx.SetLastTimestamp(ts[0]) })
}

// TestCreateTransfersReturnsTheStoresWriteError checks that a batch that
// writes every kind of row (a transfer, its accounts, a new and a posted
// pending state, a failed-transfer record, balance history rows, the last
// timestamp) returns the error of any write that fails, and leaves the
// store as it was.
func TestCreateTransfersReturnsTheStoresWriteError(t *testing.T) {
	for _, method := range []string{"InsertTransfers", "UpdateAccounts", "InsertPending", "UpdatePending",
		"InsertFailed", "InsertBalances", "SetLastTimestamp"} {
		t.Run(method, func(t *testing.T) {
			ctx := context.Background()
			l, s := verifySetup(t)
			three := ledger.IDFromUint64(3)
			createAccounts(t, l, []ledger.Account{{ID: three, Ledger: 978, Code: 1,
				Flags: ledger.AccountHistory | ledger.AccountDebitsMustNotExceedCredits}})
			before, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2), three})
			require.NoError(t, err)

			failing, err := ledger.New(failingWriteStore{s, method}, ledger.Options{})
			require.NoError(t, err)
			defer failing.Close()
			hold := transfer(12, 1)
			hold.Flags = ledger.TransferPending
			overdraft, toThree := transfer(13, 1), transfer(14, 1)
			overdraft.DebitAccountID, toThree.CreditAccountID = three, three
			_, err = failing.CreateTransfers(ctx, []ledger.Transfer{
				{ID: ledger.IDFromUint64(20), PendingID: ledger.IDFromUint64(11), Flags: ledger.TransferPostPendingTransfer},
				hold, overdraft, toThree})
			assert.ErrorIs(t, err, errDiskFull)

			after, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2), three})
			require.NoError(t, err)
			assert.Equal(t, before, after)
			require.NoError(t, l.Verify(ctx))
		})
	}
}

// TestCreateAccountsReturnsTheStoresError checks that CreateAccounts
// returns the error of a read or write that fails and creates no account.
func TestCreateAccountsReturnsTheStoresError(t *testing.T) {
	for _, method := range []string{"Accounts", "InsertAccounts", "SetLastTimestamp"} {
		t.Run(method, func(t *testing.T) {
			ctx := context.Background()
			_, s := verifySetup(t)
			l, err := ledger.New(failingWriteStore{s, method}, ledger.Options{})
			require.NoError(t, err)
			defer l.Close()
			_, err = l.CreateAccounts(ctx, []ledger.Account{{ID: ledger.IDFromUint64(3), Ledger: 978, Code: 1}})
			assert.ErrorIs(t, err, errDiskFull)
			got, err := l.LookupAccounts(ctx, []ledger.ID{ledger.IDFromUint64(3)})
			require.NoError(t, err)
			assert.Empty(t, got)
		})
	}
}
