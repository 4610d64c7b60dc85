package ledger_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/memory"
)

// tamper writes to the store behind the ledger's back.
func tamper(t *testing.T, s ledger.Store, fn func(tx ledger.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		return fn(tx)
	}))
}

func verifySetup(t *testing.T) (*ledger.Ledger, *memory.Store) {
	t.Helper()
	s := memory.New()
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	ctx := context.Background()
	_, err = l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(1), Ledger: 978, Code: 1},
		{ID: ledger.IDFromUint64(2), Ledger: 978, Code: 1},
	})
	require.NoError(t, err)
	p := transfer(11, 4)
	p.Flags = ledger.TransferPending
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{transfer(10, 5), p})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	require.NoError(t, l.Verify(ctx))
	return l, s
}

func TestVerifyFindsTampering(t *testing.T) {
	one := ledger.IDFromUint64(1)
	tests := []struct {
		name    string
		tamper  func(tx ledger.Tx) error
		account ledger.ID // expected in a problem, when not zero
		xfer    ledger.ID
	}{
		{"balance", func(tx ledger.Tx) error {
			a, err := tx.Accounts([]ledger.ID{one})
			if err != nil {
				return err
			}
			a[0].DebitsPosted++
			return tx.UpdateAccounts(a)
		}, one, ledger.ID{}},
		{"pending_status", func(tx ledger.Tx) error {
			return tx.UpdatePending([]ledger.Pending{{ID: ledger.IDFromUint64(11), Status: ledger.PendingPosted}})
		}, ledger.ID{}, ledger.IDFromUint64(11)},
		{"limit_flag", func(tx ledger.Tx) error {
			a, err := tx.Accounts([]ledger.ID{one})
			if err != nil {
				return err
			}
			a[0].Flags |= ledger.AccountDebitsMustNotExceedCredits
			return tx.UpdateAccounts(a)
		}, one, ledger.ID{}},
		{"orphan_resolution", func(tx ledger.Tx) error {
			bad := transfer(13, 1)
			bad.Flags = ledger.TransferVoidPendingTransfer
			bad.PendingID = ledger.IDFromUint64(10)
			bad.Timestamp = 1 << 62
			return tx.InsertTransfers([]ledger.Transfer{bad})
		}, ledger.ID{}, ledger.IDFromUint64(13)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			tamper(t, s, tt.tamper)
			err := l.Verify(context.Background())
			require.ErrorIs(t, err, ledger.ErrCorrupt)
			var ve *ledger.VerifyError
			require.ErrorAs(t, err, &ve)
			require.NotEmpty(t, ve.Problems)
			found := false
			for _, p := range ve.Problems {
				if (!tt.account.IsZero() && p.AccountID == tt.account) || (!tt.xfer.IsZero() && p.TransferID == tt.xfer) {
					found = true
				}
			}
			assert.True(t, found, "problems: %v", ve.Problems)
		})
	}
}

// altered shows a store's reads through alter, as a database whose foreign
// keys were not enforced shows rows that every store refuses to write.
type altered struct {
	ledger.Store
	alter func(ledger.ReadTx) ledger.ReadTx
}

func (s altered) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	return s.Store.View(ctx, func(tx ledger.ReadTx) error { return fn(s.alter(tx)) })
}

// verifyProblems runs Verify over s, which must find problems, and returns
// them.
func verifyProblems(t *testing.T, s ledger.Store) []ledger.Problem {
	t.Helper()
	l, err := ledger.New(s, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	err = l.Verify(context.Background())
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	var ve *ledger.VerifyError
	require.ErrorAs(t, err, &ve)
	return ve.Problems
}

// hidingTx reads without one of the accounts: a transfer of a missing
// account.
type hidingTx struct {
	ledger.ReadTx
	account ledger.ID
}

func (tx hidingTx) ForEachAccount(fn func(ledger.Account) error) error {
	return tx.ReadTx.ForEachAccount(func(a ledger.Account) error {
		if a.ID == tx.account {
			return nil
		}
		return fn(a)
	})
}

func TestVerifyFindsTransferOfMissingAccount(t *testing.T) {
	_, s := verifySetup(t)
	hide := func(tx ledger.ReadTx) ledger.ReadTx { return hidingTx{tx, ledger.IDFromUint64(2)} }
	assert.Contains(t, verifyProblems(t, altered{s, hide}),
		ledger.Problem{TransferID: ledger.IDFromUint64(10), Detail: "refers to a missing account"})
}

func TestCorruptStoreFailsTheBatch(t *testing.T) {
	l, s := verifySetup(t)
	// A pending transfer without its pending state.
	tamper(t, s, func(tx ledger.Tx) error {
		p := transfer(20, 1)
		p.Flags = ledger.TransferPending
		p.Timestamp = 1 << 62
		return tx.InsertTransfers([]ledger.Transfer{p})
	})
	post := ledger.Transfer{ID: ledger.IDFromUint64(21), PendingID: ledger.IDFromUint64(20), Flags: ledger.TransferPostPendingTransfer}
	_, err := l.CreateTransfers(context.Background(), []ledger.Transfer{transfer(22, 1), post})
	require.ErrorIs(t, err, ledger.ErrCorrupt)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(22)})
	require.NoError(t, err)
	assert.Empty(t, got, "the whole batch was rolled back")
}

// extraPendingTx reads one more pending state: the state of a missing
// transfer, or of one that is not pending.
type extraPendingTx struct {
	ledger.ReadTx
	state ledger.Pending
}

// ForEachPending adds tx.state in its place in ascending ID order.
func (tx extraPendingTx) ForEachPending(fn func(ledger.Pending) error) error {
	added := false
	err := tx.ReadTx.ForEachPending(func(p ledger.Pending) error {
		if !added && tx.state.ID.Compare(p.ID) < 0 {
			added = true
			if err := fn(tx.state); err != nil {
				return err
			}
		}
		return fn(p)
	})
	if err != nil || added {
		return err
	}
	return fn(tx.state)
}

func TestVerifyFindsPendingStateWithoutPendingTransfer(t *testing.T) {
	tests := []struct {
		name string
		id   ledger.ID
	}{
		{"missing_transfer", ledger.IDFromUint64(99)},
		{"transfer_not_pending", ledger.IDFromUint64(10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			extra := func(tx ledger.ReadTx) ledger.ReadTx {
				return extraPendingTx{tx, ledger.Pending{ID: tt.id, Status: ledger.PendingActive}}
			}
			assert.Equal(t, []ledger.Problem{{TransferID: tt.id, Detail: "pending state without a pending transfer"}},
				verifyProblems(t, altered{s, extra}))
		})
	}
}
