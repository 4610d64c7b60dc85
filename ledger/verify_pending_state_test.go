package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

// editedPendingTx reads every pending state through edit.
type editedPendingTx struct {
	ledger.ReadTx
	edit func(*ledger.Pending)
}

func (tx editedPendingTx) ForEachPending(fn func(ledger.Pending) error) error {
	return tx.ReadTx.ForEachPending(func(p ledger.Pending) error {
		tx.edit(&p)
		return fn(p)
	})
}

// TestVerifyFindsPendingStateUnlikeItsTransfer checks the state of hold
// 11 (4 units, no timeout, active) against its transfer and against the
// post of it, 12.
func TestVerifyFindsPendingStateUnlikeItsTransfer(t *testing.T) {
	eleven, twelve := ledger.IDFromUint64(11), ledger.IDFromUint64(12)
	tests := []struct {
		name string
		post bool // post 11 before reading
		edit func(*ledger.Pending)
		want []ledger.Problem
	}{
		{"expiry", false, func(p *ledger.Pending) { p.ExpiresAt = 7 },
			[]ledger.Problem{{TransferID: eleven, Detail: "pending state expires at 7, transfer at 0"}}},
		{"expired_without_timeout", false, func(p *ledger.Pending) { p.Status = ledger.PendingExpired },
			[]ledger.Problem{{TransferID: eleven, Detail: "expired without a timeout"},
				{AccountID: ledger.IDFromUint64(1), Detail: "stored balances dp=4 dpo=5 cp=0 cpo=0, transfers give dp=0 dpo=5 cp=0 cpo=0"},
				{AccountID: ledger.IDFromUint64(2), Detail: "stored balances dp=0 dpo=0 cp=4 cpo=5, transfers give dp=0 dpo=0 cp=0 cpo=5"}}},
		{"posted_state_voided", true, func(p *ledger.Pending) { p.Status = ledger.PendingVoided },
			[]ledger.Problem{{TransferID: twelve, Detail: fmt.Sprintf("pending transfer %v is %v, want %v", eleven, ledger.PendingVoided, ledger.PendingPosted)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, s := verifySetup(t)
			if tt.post {
				res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{
					{ID: twelve, PendingID: eleven, Flags: ledger.TransferPostPendingTransfer}})
				require.NoError(t, err)
				require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
			}
			edit := func(tx ledger.ReadTx) ledger.ReadTx { return editedPendingTx{tx, tt.edit} }
			assert.Equal(t, tt.want, verifyProblems(t, altered{s, edit}))
		})
	}
}

// secondReadFailsTx fails the second read of the accounts, as a store
// that loses its connection between them does.
type secondReadFailsTx struct {
	ledger.ReadTx
	reads *int
}

var errLostConnection = errors.New("connection lost")

func (tx secondReadFailsTx) ForEachAccount(fn func(ledger.Account) error) error {
	if *tx.reads++; *tx.reads == 2 {
		return errLostConnection
	}
	return tx.ReadTx.ForEachAccount(fn)
}

func TestVerifyReturnsTheStoresErrorReadingAccounts(t *testing.T) {
	_, s := verifySetup(t)
	var reads int
	failing := func(tx ledger.ReadTx) ledger.ReadTx { return secondReadFailsTx{tx, &reads} }
	l, err := ledger.New(altered{s, failing}, ledger.Options{})
	require.NoError(t, err)
	defer l.Close()
	err = l.Verify(context.Background())
	assert.ErrorIs(t, err, errLostConnection)
	assert.NotErrorIs(t, err, ledger.ErrCorrupt)
	assert.Equal(t, 2, reads)
}

// TestVerifyFindsLimitFlagBrokenByStoredBalances flags the accounts of
// verifySetup (1 debited dp=4 dpo=5, 2 credited cp=4 cpo=5 by transfers 10
// and 11) with the limit each breaks: at the creation of each transfer,
// and in the stored balances; also after a transfer of 5 from 2 to 1,
// which posts as much on the other side as each has posted, so that each
// breaks its limit with its pending balance alone.
func TestVerifyFindsLimitFlagBrokenByStoredBalances(t *testing.T) {
	tests := []struct {
		id    uint64
		flag  ledger.AccountFlags
		back  bool   // a transfer of 5 from 2 to 1 first
		taken string // by each transfer
		want  string // of the account
	}{
		{1, ledger.AccountDebitsMustNotExceedCredits, false, "takes the debits of account %v to %d, past its credits 0", "debits 9 exceed credits 0"},
		{2, ledger.AccountCreditsMustNotExceedDebits, false, "takes the credits of account %v to %d, past its debits 0", "credits 9 exceed debits 0"},
		{1, ledger.AccountDebitsMustNotExceedCredits, true, "takes the debits of account %v to %d, past its credits 0", "debits 9 exceed credits 5"},
		{2, ledger.AccountCreditsMustNotExceedDebits, true, "takes the credits of account %v to %d, past its debits 0", "credits 9 exceed debits 5"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			l, s := verifySetup(t)
			if tt.back {
				back := transfer(12, 5)
				back.DebitAccountID, back.CreditAccountID = back.CreditAccountID, back.DebitAccountID
				res, err := l.CreateTransfers(context.Background(), []ledger.Transfer{back})
				require.NoError(t, err)
				require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
			}
			id := ledger.IDFromUint64(tt.id)
			tamper(t, s, editedAccount(id, func(a *ledger.Account) { a.Flags |= tt.flag }))
			assert.Equal(t, []ledger.Problem{
				{TransferID: ledger.IDFromUint64(10), Detail: fmt.Sprintf(tt.taken, id, 5)},
				{TransferID: ledger.IDFromUint64(11), Detail: fmt.Sprintf(tt.taken, id, 9)},
				{AccountID: id, Detail: tt.want}}, verifyProblems(t, s))
		})
	}
}
