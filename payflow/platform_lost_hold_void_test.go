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

// TestCaptureOfLostHoldAndAccount: a capture of a held request whose hold
// the ledger does not hold, nor an account of its legs (a ledger restored
// from an older copy than the platform's state, here without the payer's
// ticket wallet), is answered as a capture of a lost hold: internal, the
// ledger answering the post pending_transfer_not_found, then conflict,
// the request held again; the request can still be cancelled, nothing
// moved (was: not_found at every try, the request left capturing, which
// no cancellation ends).
func TestCaptureOfLostHoldAndAccount(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	r := paytest.Request(s.session, "EUR", 100)
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 1}}
	v, err := s.Create(r)
	require.NoError(t, err)
	s.recordHeldWithoutHold(t, v.ID)
	before := s.balances(t)

	_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.EqualError(t, err, "payflow: internal error: ledger: pending_transfer_not_found")
	s.requireState(t, v.ID, "capturing")
	_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.ErrorIs(t, err, payflow.ErrConflict)
	s.requireState(t, v.ID, payflow.StateHeld)
	got, err := s.Platform.Cancel(ctx, s.seller.Token, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State)
	assert.Equal(t, before, s.balances(t), "nothing moved")
}
