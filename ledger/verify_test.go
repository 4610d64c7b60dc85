package ledger_test

import (
	"context"
	"fmt"
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

// extraPendingTx reads more pending states: states of missing transfers,
// or of ones that are not pending.
type extraPendingTx struct {
	ledger.ReadTx
	states []ledger.Pending // ascending ID order
}

// ForEachPending adds tx.states in their places in ascending ID order.
func (tx extraPendingTx) ForEachPending(fn func(ledger.Pending) error) error {
	extra := tx.states
	err := tx.ReadTx.ForEachPending(func(p ledger.Pending) error {
		for len(extra) > 0 && extra[0].ID.Compare(p.ID) < 0 {
			if err := fn(extra[0]); err != nil {
				return err
			}
			extra = extra[1:]
		}
		return fn(p)
	})
	for ; err == nil && len(extra) > 0; extra = extra[1:] {
		err = fn(extra[0])
	}
	return err
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
				return extraPendingTx{tx, []ledger.Pending{{ID: tt.id, Status: ledger.PendingActive}}}
			}
			assert.Equal(t, []ledger.Problem{{TransferID: tt.id, Detail: "pending state without a pending transfer"}},
				verifyProblems(t, altered{s, extra}))
		})
	}
}

// laterPendingTx reads every pending state with a Timestamp one past its
// transfer's.
type laterPendingTx struct{ ledger.ReadTx }

func (tx laterPendingTx) ForEachPending(fn func(ledger.Pending) error) error {
	return tx.ReadTx.ForEachPending(func(p ledger.Pending) error {
		p.Timestamp++
		return fn(p)
	})
}

func TestVerifyFindsPendingStateOfAnotherTimestamp(t *testing.T) {
	l, s := verifySetup(t)
	got, err := l.LookupTransfers(context.Background(), []ledger.ID{ledger.IDFromUint64(11)})
	require.NoError(t, err)
	require.Len(t, got, 1)
	ts := got[0].Timestamp
	later := func(tx ledger.ReadTx) ledger.ReadTx { return laterPendingTx{tx} }
	assert.Equal(t, []ledger.Problem{{TransferID: ledger.IDFromUint64(11),
		Detail: fmt.Sprintf("pending state has timestamp %d, transfer %d", ts+1, ts)}},
		verifyProblems(t, altered{s, later}))
}

// TestVerifyOrdersProblems checks that Verify lists the problems of
// pending states in ascending transfer ID order, whatever their kind, and
// those of ledgers in ascending ledger order, the same on every run.
func TestVerifyOrdersProblems(t *testing.T) {
	l, s := verifySetup(t)
	ctx := context.Background()
	_, err := l.CreateAccounts(ctx, []ledger.Account{
		{ID: ledger.IDFromUint64(3), Ledger: 840, Code: 1},
		{ID: ledger.IDFromUint64(4), Ledger: 36, Code: 1},
	})
	require.NoError(t, err)
	p13, p15 := transfer(13, 3), transfer(15, 2)
	p13.Flags, p15.Flags = ledger.TransferPending, ledger.TransferPending
	res, err := l.CreateTransfers(ctx, []ledger.Transfer{p13, p15})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
	tamper(t, s, func(tx ledger.Tx) error {
		// Posted, without a transfer that posts them.
		err := tx.UpdatePending([]ledger.Pending{
			{ID: ledger.IDFromUint64(15), Status: ledger.PendingPosted},
			{ID: ledger.IDFromUint64(11), Status: ledger.PendingPosted},
			{ID: ledger.IDFromUint64(13), Status: ledger.PendingPosted},
		})
		if err != nil {
			return err
		}
		return tx.UpdateAccounts([]ledger.Account{
			{ID: ledger.IDFromUint64(4), Ledger: 36, Code: 1, CreditsPending: 1},
			{ID: ledger.IDFromUint64(3), Ledger: 840, Code: 1, DebitsPosted: 1},
		})
	})
	extra := func(tx ledger.ReadTx) ledger.ReadTx {
		return extraPendingTx{tx, []ledger.Pending{
			{ID: ledger.IDFromUint64(12), Status: ledger.PendingActive},
			{ID: ledger.IDFromUint64(14), Status: ledger.PendingActive},
			{ID: ledger.IDFromUint64(16), Status: ledger.PendingActive},
		}}
	}
	resolved := "pending transfer is posted but resolved 0 time(s)"
	orphan := "pending state without a pending transfer"
	want := []ledger.Problem{
		{TransferID: ledger.IDFromUint64(11), Detail: resolved},
		{TransferID: ledger.IDFromUint64(12), Detail: orphan},
		{TransferID: ledger.IDFromUint64(13), Detail: resolved},
		{TransferID: ledger.IDFromUint64(14), Detail: orphan},
		{TransferID: ledger.IDFromUint64(15), Detail: resolved},
		{TransferID: ledger.IDFromUint64(16), Detail: orphan},
		{AccountID: ledger.IDFromUint64(1), Detail: "stored balances dp=9 dpo=5 cp=0 cpo=0, transfers give dp=0 dpo=5 cp=0 cpo=0"},
		{AccountID: ledger.IDFromUint64(2), Detail: "stored balances dp=0 dpo=0 cp=9 cpo=5, transfers give dp=0 dpo=0 cp=0 cpo=5"},
		{AccountID: ledger.IDFromUint64(3), Detail: "stored balances dp=0 dpo=1 cp=0 cpo=0, transfers give dp=0 dpo=0 cp=0 cpo=0"},
		{AccountID: ledger.IDFromUint64(4), Detail: "stored balances dp=0 dpo=0 cp=1 cpo=0, transfers give dp=0 dpo=0 cp=0 cpo=0"},
		{Detail: "ledger 36: debits pending [0 0] differ from credits pending [0 1]"},
		{Detail: "ledger 840: debits posted [0 1] differ from credits posted [0 0]"},
	}
	// Go randomises map iteration: an order taken from a map differs
	// between some of these runs.
	for range 20 {
		require.Equal(t, want, verifyProblems(t, altered{s, extra}))
	}
}

// TestVerifyReportsResolvedPendingWithoutStateOnce checks that a pending
// transfer without a pending state which later transfers post or void is
// reported once as such, not again by the transfer that resolves it nor
// as a pending transfer resolved against its state; only being resolved
// more than once is another problem.
func TestVerifyReportsResolvedPendingWithoutStateOnce(t *testing.T) {
	noState := ledger.Problem{TransferID: ledger.IDFromUint64(20), Detail: "pending transfer without a pending state"}
	tests := []struct {
		name      string
		resolvers []ledger.TransferFlags
		want      []ledger.Problem
	}{
		{"posted", []ledger.TransferFlags{ledger.TransferPostPendingTransfer}, []ledger.Problem{noState}},
		{"voided", []ledger.TransferFlags{ledger.TransferVoidPendingTransfer}, []ledger.Problem{noState}},
		{"posted_and_voided", []ledger.TransferFlags{ledger.TransferPostPendingTransfer, ledger.TransferVoidPendingTransfer},
			[]ledger.Problem{noState, {TransferID: ledger.IDFromUint64(20), Detail: "pending transfer without a pending state resolved 2 time(s)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s := verifySetup(t)
			tamper(t, s, func(tx ledger.Tx) error {
				p := transfer(20, 3)
				p.Flags = ledger.TransferPending
				p.Timestamp = 1 << 62
				written := []ledger.Transfer{p}
				var posted uint64
				for i, flags := range tt.resolvers {
					r := transfer(21+uint64(i), 3)
					r.Flags, r.PendingID, r.Timestamp = flags, p.ID, p.Timestamp+1+uint64(i)
					written = append(written, r)
					if flags&ledger.TransferPostPendingTransfer != 0 {
						posted += r.Amount
					}
				}
				// The balances the transfers give.
				a, err := tx.Accounts([]ledger.ID{ledger.IDFromUint64(1), ledger.IDFromUint64(2)})
				if err != nil {
					return err
				}
				a[0].DebitsPosted += posted
				a[1].CreditsPosted += posted
				if err := tx.UpdateAccounts(a); err != nil {
					return err
				}
				return tx.InsertTransfers(written)
			})
			assert.Equal(t, tt.want, verifyProblems(t, s))
		})
	}
}
