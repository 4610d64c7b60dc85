package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestCancelOfLostHoldWhoseVoidFailedBefore: a cancellation of a held
// request whose hold the ledger does not hold, and whose void the ledger
// refused before (pending_transfer_not_found, an ID it keeps failed: a
// void whose outcome was not recorded), meets id_already_failed, which
// counts the hold as released: the request ends cancelled, nothing moved
// (PROTOCOL.md §6.4, Hold, capture, void).
func TestCancelOfLostHoldWhoseVoidFailedBefore(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	v := s.heldWithoutHold(t)
	before := s.balances(t)
	void := []ledger.Transfer{{
		ID: payflow.TransferID(v.ID, 1, 0, 3), PendingID: payflow.TransferID(v.ID, 1, 0, 1),
		Ledger: eurLedger, Code: payflow.TransferPayment, Flags: ledger.TransferVoidPendingTransfer,
	}}
	res, err := s.Ledger.CreateTransfers(ctx, void)
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferPendingTransferNotFound}, res)
	res, err = s.Ledger.CreateTransfers(ctx, void)
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferIDAlreadyFailed}, res, "the ledger keeps the void's ID failed")

	got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State)
	s.requireState(t, v.ID, payflow.StateCancelled)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}

// ticketHeldWithoutHold creates a request of 100 EUR and one ticket and
// records it held without a hold in the ledger (recordHeldWithoutHold),
// the payer's ticket wallet never opened: as a ledger restored from an
// older copy than the platform's state, without that wallet, leaves it.
// It returns the request's pending view.
func (s *shop) ticketHeldWithoutHold(t *testing.T) *payflow.PaymentView {
	t.Helper()
	r := paytest.Request(s.session, "EUR", 100)
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}}
	v, err := s.Create(r)
	require.NoError(t, err)
	s.recordHeldWithoutHold(t, v.ID)
	return v
}

// TestCaptureOfLostHoldAndAccount: a capture of a held request whose hold
// the ledger does not hold, nor an account of its legs (a ledger restored
// from an older copy than the platform's state, here without the payer's
// ticket wallet), is answered as a capture of a lost hold: internal, the
// ledger answering the post pending_transfer_not_found, then conflict,
// the request held again; the request can still be cancelled, nothing
// moved (was: not_found at every try, the request left capturing, which
// no cancellation ends).
func TestCaptureOfLostHoldAndAccount(t *testing.T) {
	s := newShop(t, true, paytest.Options{})
	v := s.ticketHeldWithoutHold(t)
	s.captureLostHold(t, v.ID, func() any { return s.balances(t) })
}

// TestCaptureOfLostHoldAndAccountWithAnotherClosed: a capture of a held
// request whose hold the ledger does not hold, nor the payer's ticket
// wallet, while it holds another account of the legs closed, is answered
// from the missing account, whichever comes first in the legs: internal,
// the ledger answering the post pending_transfer_not_found, the request
// left capturing; then conflict, the post refused before, the request
// held again; the request can still be cancelled, nothing moved. The
// closed account is not the answer: reopening it would not capture a hold
// that the ledger lost (PROTOCOL.md §6.2, held → capturing → held; §6.4,
// Closed accounts).
func TestCaptureOfLostHoldAndAccountWithAnotherClosed(t *testing.T) {
	ctx := context.Background()
	for _, c := range closedCases {
		if c.code == payflow.AccountWallet && c.lc == ticketLedger {
			continue // the missing one
		}
		t.Run(c.name+" closed", func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v := s.ticketHeldWithoutHold(t)
			closeAccount(t, s, c.account(s), c.lc)
			// The shopper's and the merchant's EUR balances and the
			// merchant's tickets: the shopper holds no ticket wallet.
			balances := func() any {
				b, err := s.Platform.Balance(ctx, merchantID, paytest.Ticket)
				require.NoError(t, err)
				eur := s.balances(t)
				return [3]payflow.Balance{eur[0], eur[1], b}
			}
			s.captureLostHold(t, v.ID, balances)
		})
	}
}

// captureLostHold captures held request id whose hold the ledger does not
// hold: the first capture fails internal, the ledger answering the post
// pending_transfer_not_found, and leaves the request capturing; the next
// ones fail conflict, the post refused before, the request held again;
// the request is then cancelled. Nothing moves, as balances reads it.
func (s *shop) captureLostHold(t *testing.T, id payflow.ID, balances func() any) {
	t.Helper()
	ctx := context.Background()
	before := balances()

	_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, "internal", payflow.AsError(err).Code)
	assert.EqualError(t, err, "payflow: internal error: ledger: pending_transfer_not_found")
	s.requireState(t, id, "capturing")
	assert.Equal(t, before, balances(), "nothing moved")

	for range 2 {
		_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id})
		require.ErrorIs(t, err, payflow.ErrConflict)
		assert.Equal(t, "conflict", payflow.AsError(err).Code)
		assert.EqualError(t, err, "payflow: conflicting request: capture refused: ledger: a post of this hold was refused before "+
			"(an account closed, or the hold lost; the ledger keeps the refused post's ID: the hold can only be cancelled or expire)")
		s.requireState(t, id, payflow.StateHeld)
		assert.Equal(t, before, balances(), "nothing moved")
	}

	got, err := s.Platform.Cancel(ctx, s.seller.Token, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State)
	s.requireState(t, id, payflow.StateCancelled)
	assert.Equal(t, before, balances(), "nothing moved")
}
