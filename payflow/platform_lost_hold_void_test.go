package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
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
