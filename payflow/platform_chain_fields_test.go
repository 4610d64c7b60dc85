package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestHoldChainFoundWithOtherFields: a hold chain whose first hold the
// ledger holds as asked is taken as made only when the holds behind it,
// which the ledger never compares, are the ones asked for too: their
// accounts, user data, code and timeout included. Here the hold
// of a request's ticket leg exists under its ID with another debit
// account, the user data of no request of the platform's, another code
// or timeout: the approval is ErrConflict, the
// platform voids the hold it made, the request is pending again and
// nothing moved.
func TestHoldChainFoundWithOtherFields(t *testing.T) {
	ctx := context.Background()
	other := ledger.ID{0xee, 0x01}
	for name, tamper := range map[string]func(*ledger.Transfer){
		"debit account": func(h *ledger.Transfer) { h.DebitAccountID = other },
		"user data":     func(h *ledger.Transfer) { h.UserData128 = ledger.ID{0xee} },
		"code":          func(h *ledger.Transfer) { h.Code = payflow.TransferPayment + 1 },
		"timeout":       func(h *ledger.Transfer) { h.Timeout++ },
	} {
		t.Run(name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			v := ticketRequest(t, s)
			c := s.consent(t, v.ID)
			eur := uint32(978)
			a, err := s.Platform.Store().Asset(ctx, paytest.Ticket)
			require.NoError(t, err)
			_, err = s.Ledger.CreateAccounts(ctx, []ledger.Account{{ID: other, Ledger: a.Ledger, Code: 1}})
			require.NoError(t, err)
			timeout := uint32(payflow.DefaultHoldTTL / time.Second)
			hold0 := ledger.Transfer{
				ID: payflow.TransferID(v.ID, 1, 0, 1), DebitAccountID: payflow.AccountID(payflow.AccountWallet, eur, s.shopper.ID),
				CreditAccountID: payflow.AccountID(payflow.AccountMerchant, eur, merchantID), Amount: 240,
				UserData128: ledger.ID(v.ID), Timeout: timeout, Ledger: eur,
				Code: payflow.TransferPayment, Flags: ledger.TransferPending | ledger.TransferLinked,
			}
			hold1 := ledger.Transfer{
				ID: payflow.TransferID(v.ID, 1, 1, 1), DebitAccountID: payflow.AccountID(payflow.AccountMerchant, a.Ledger, merchantID),
				CreditAccountID: payflow.AccountID(payflow.AccountWallet, a.Ledger, s.shopper.ID), Amount: 1,
				UserData128: ledger.ID(v.ID), Timeout: timeout, Ledger: a.Ledger,
				Code: payflow.TransferPayment, Flags: ledger.TransferPending,
			}
			tamper(&hold1)
			res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{hold0, hold1})
			require.NoError(t, err)
			require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)
			tickets := s.Balances(paytest.Ticket)

			_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
			require.ErrorIs(t, err, payflow.ErrConflict)
			require.ErrorContains(t, err, "exists with other fields")
			s.requireState(t, v.ID, payflow.StatePending)
			assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.Balances("EUR"), "the platform's hold voided")
			assert.Equal(t, tickets, s.Balances(paytest.Ticket), "no ticket moved")
		})
	}
}

// TestPostChainFoundPostingAnotherTransfer: an immediate capture's chain
// whose hold the ledger holds as asked is taken as made only when the
// post behind it posts that hold. Here the post's ID holds a post of
// another pending transfer of the same accounts and amount (not the
// platform's): the approval is ErrConflict, the platform records no
// capture, voids its hold and posts nothing.
func TestPostChainFoundPostingAnotherTransfer(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	eur := uint32(978)
	debit, credit := payflow.AccountID(payflow.AccountWallet, eur, s.shopper.ID), payflow.AccountID(payflow.AccountMerchant, eur, merchantID)
	timeout := uint32(payflow.DefaultHoldTTL / time.Second)
	hold := payflow.TransferID(v.ID, 1, 0, 1)
	other := ledger.ID{0xee, 0x02}
	res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
		ID: hold, DebitAccountID: debit, CreditAccountID: credit, Amount: 690,
		UserData128: ledger.ID(v.ID), Timeout: timeout, Ledger: eur,
		Code: payflow.TransferPayment, Flags: ledger.TransferPending | ledger.TransferLinked,
	}, {
		ID: other, DebitAccountID: debit, CreditAccountID: credit, Amount: 690,
		UserData128: ledger.ID(v.ID), Timeout: timeout, Ledger: eur,
		Code: payflow.TransferPayment, Flags: ledger.TransferPending | ledger.TransferLinked,
	}, {
		ID: payflow.TransferID(v.ID, 1, 0, 2), PendingID: other, Amount: 690, Ledger: eur,
		Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated, ledger.TransferCreated}, res)
	moved := [2]payflow.Balance{{Posted: funds - 690, Held: 690}, {Posted: 690, Incoming: 690}}
	require.Equal(t, moved, s.balances(t))

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrConflict)
	require.ErrorContains(t, err, "exists with other fields")
	s.requireState(t, v.ID, payflow.StatePending)
	assert.Equal(t, basketPaid, s.balances(t), "the platform's hold voided, nothing posted")
}
