package payflow

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// TestLedgerErrorOfResults: ledgerError maps the ledger's answer to a
// batch to its first real failure, linked_event_failed only following
// another: a state of an account (its balance, its absence, its closing)
// is ErrFunds, the closing naming the account of the transfer that met it
// when the transfer names one; an expired hold ErrExpired; an overflow
// ErrLimit; an ID refused before ErrInternal marked errRefusedBefore; an ID
// taken by other content ErrConflict; anything else ErrInternal. A batch
// of transfers created or existing is nil, and one failed by its links
// alone ErrInternal.
func TestLedgerErrorOfResults(t *testing.T) {
	debit, credit := ledger.ID{0xd}, ledger.ID{0xc}
	ts := []ledger.Transfer{
		{ID: ledger.ID{1}, DebitAccountID: debit, CreditAccountID: credit},
		{ID: ledger.ID{2}, PendingID: ledger.ID{1}},
	}
	linked := ledger.TransferLinkedEventFailed
	for _, c := range []struct {
		res  []ledger.CreateTransferResult
		want error
		msg  string
	}{
		{[]ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferExists}, nil, ""},
		{[]ledger.CreateTransferResult{linked, linked}, ErrInternal, "ledger: linked chain failed"},
		{[]ledger.CreateTransferResult{linked, ledger.TransferExceedsCredits}, ErrFunds, "ledger: exceeds_credits"},
		{[]ledger.CreateTransferResult{ledger.TransferDebitAccountNotFound, linked}, ErrFunds, "ledger: debit_account_not_found"},
		{[]ledger.CreateTransferResult{ledger.TransferCreditAccountNotFound, linked}, ErrFunds, "ledger: credit_account_not_found"},
		{[]ledger.CreateTransferResult{ledger.TransferDebitAccountAlreadyClosed, linked}, ErrFunds,
			fmt.Sprintf("ledger: account %v is closed: debit_account_already_closed", debit)},
		{[]ledger.CreateTransferResult{ledger.TransferCreditAccountAlreadyClosed, linked}, ErrFunds,
			fmt.Sprintf("ledger: account %v is closed: credit_account_already_closed", credit)},
		{[]ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreditAccountAlreadyClosed}, ErrFunds,
			"ledger: credit_account_already_closed"},
		{[]ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferPendingTransferExpired}, ErrExpired, "ledger: pending_transfer_expired"},
		{[]ledger.CreateTransferResult{ledger.TransferOverflowsDebitsPending}, ErrLimit, "ledger: overflows_debits_pending"},
		{[]ledger.CreateTransferResult{ledger.TransferOverflowsCreditsPending}, ErrLimit, "ledger: overflows_credits_pending"},
		{[]ledger.CreateTransferResult{ledger.TransferOverflowsDebitsPosted}, ErrLimit, "ledger: overflows_debits_posted"},
		{[]ledger.CreateTransferResult{ledger.TransferOverflowsCreditsPosted}, ErrLimit, "ledger: overflows_credits_posted"},
		{[]ledger.CreateTransferResult{ledger.TransferOverflowsDebits}, ErrLimit, "ledger: overflows_debits"},
		{[]ledger.CreateTransferResult{ledger.TransferOverflowsCredits}, ErrLimit, "ledger: overflows_credits"},
		{[]ledger.CreateTransferResult{ledger.TransferIDAlreadyFailed}, ErrInternal, "ledger: id_already_failed: refused at an earlier attempt"},
		{[]ledger.CreateTransferResult{ledger.TransferExistsWithDifferentAmount}, ErrConflict, "ledger: exists_with_different_amount"},
		{[]ledger.CreateTransferResult{ledger.TransferAccountsMustBeDifferent}, ErrInternal, "ledger: accounts_must_be_different"},
	} {
		err := ledgerError(ts, c.res, nil)
		if c.want == nil {
			assert.NoError(t, err, "%v", c.res)
			continue
		}
		require.ErrorIs(t, err, c.want, "%v", c.res)
		assert.EqualError(t, err, c.want.Error()+": "+c.msg, "%v", c.res)
		assert.Equal(t, c.res[0] == ledger.TransferIDAlreadyFailed, errors.Is(err, errRefusedBefore), "%v", c.res)
		closed := c.res[0] == ledger.TransferDebitAccountAlreadyClosed || c.res[0] == ledger.TransferCreditAccountAlreadyClosed ||
			c.res[1%len(c.res)] == ledger.TransferCreditAccountAlreadyClosed
		assert.Equal(t, closed, asClosed(err) != nil, "%v", c.res)
	}

	lost := errors.New("reply lost")
	err := ledgerError(ts, nil, lost)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorIs(t, err, lost)
}

// TestExistsOtherwise: every exists_with_different_* answer, and no
// other, says that the ID is taken by other content.
func TestExistsOtherwise(t *testing.T) {
	for _, r := range []ledger.CreateTransferResult{
		ledger.TransferExistsWithDifferentFlags, ledger.TransferExistsWithDifferentPendingID,
		ledger.TransferExistsWithDifferentTimeout, ledger.TransferExistsWithDifferentDebitAccountID,
		ledger.TransferExistsWithDifferentCreditAccountID, ledger.TransferExistsWithDifferentAmount,
		ledger.TransferExistsWithDifferentUserData128, ledger.TransferExistsWithDifferentUserData64,
		ledger.TransferExistsWithDifferentUserData32, ledger.TransferExistsWithDifferentLedger,
		ledger.TransferExistsWithDifferentCode,
	} {
		assert.True(t, existsOtherwise(r), "%v", r)
	}
	for _, r := range []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferExists, ledger.TransferIDAlreadyFailed} {
		assert.False(t, existsOtherwise(r), "%v", r)
	}
}

// TestSameTransferFields: a transfer found is the one asked for when each
// of its fields is, but for the linked flag, which depends on its place
// in the chain; accounts and user data that the one asked for leaves zero
// (a post or a void) are not compared.
func TestSameTransferFields(t *testing.T) {
	want := ledger.Transfer{
		ID: ledger.ID{1}, DebitAccountID: ledger.ID{0xd}, CreditAccountID: ledger.ID{0xc}, Amount: 5,
		UserData128: ledger.ID{0xa}, Ledger: 978, Code: TransferPayment, PendingID: ledger.ID{9}, Timeout: 60,
		Flags: ledger.TransferPending | ledger.TransferLinked,
	}
	got := want
	got.Flags &^= ledger.TransferLinked
	assert.True(t, sameTransfer(want, got), "the linked flag aside")
	for name, change := range map[string]func(*ledger.Transfer){
		"debit account":  func(t *ledger.Transfer) { t.DebitAccountID = ledger.ID{0xe} },
		"credit account": func(t *ledger.Transfer) { t.CreditAccountID = ledger.ID{0xe} },
		"user data":      func(t *ledger.Transfer) { t.UserData128 = ledger.ID{0xe} },
		"amount":         func(t *ledger.Transfer) { t.Amount++ },
		"ledger":         func(t *ledger.Transfer) { t.Ledger++ },
		"code":           func(t *ledger.Transfer) { t.Code++ },
		"pending ID":     func(t *ledger.Transfer) { t.PendingID = ledger.ID{8} },
		"timeout":        func(t *ledger.Transfer) { t.Timeout++ },
		"flags":          func(t *ledger.Transfer) { t.Flags &^= ledger.TransferPending },
	} {
		g := want
		change(&g)
		assert.False(t, sameTransfer(want, g), name)
	}
	post := want
	post.DebitAccountID, post.CreditAccountID, post.UserData128 = ledger.ID{}, ledger.ID{}, ledger.ID{}
	assert.True(t, sameTransfer(post, want), "accounts and user data left to the ledger")
}

// TestLedgerCauseHidesPayflowErrors: the cause that ledgerUnavailable
// wraps is found by errors.Is and errors.As (an error value, an error of
// another package's type), but for payflow's sentinels and *Error, which
// tell no verdict of the ledger.
func TestLedgerCauseHidesPayflowErrors(t *testing.T) {
	pe := &Error{Code: "insufficient_funds", Message: "from the store"}
	err := ledgerUnavailable(fmt.Errorf("store: %w", pe))
	assert.ErrorIs(t, err, ErrUnavailable)
	assert.NotErrorIs(t, err, ErrFunds)
	assert.NotErrorIs(t, err, pe)
	var as *Error
	assert.False(t, errors.As(err, &as))
	lost := errors.New("reply lost")
	assert.ErrorIs(t, ledgerUnavailable(fmt.Errorf("store: %w", lost)), lost)
	pathErr := &fs.PathError{Op: "open", Path: "ledger", Err: fs.ErrNotExist}
	var found *fs.PathError
	require.ErrorAs(t, ledgerUnavailable(fmt.Errorf("store: %w", pathErr)), &found)
	assert.Same(t, pathErr, found)
}
