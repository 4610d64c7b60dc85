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

// TestPostChainFoundVoidingTheHold: an immediate capture's chain whose
// hold the ledger holds as asked is not taken as made when the post's ID
// holds a void of that hold, with the post's pending ID, amount, ledger
// and code: its flags differ. The approval is ErrConflict, no capture is
// recorded, the request is pending again and nothing moved.
func TestPostChainFoundVoidingTheHold(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	hold := firstHold(s, v.ID, 690)
	void := ledger.Transfer{
		ID: payflow.TransferID(v.ID, 1, 0, 2), PendingID: hold.ID, Amount: 690, Ledger: hold.Ledger,
		Code: payflow.TransferPayment, Flags: ledger.TransferVoidPendingTransfer,
	}
	hold.Flags |= ledger.TransferLinked
	res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{hold, void})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated, ledger.TransferCreated}, res)

	_, err = s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrConflict)
	require.ErrorContains(t, err, "exists with other fields")
	s.requireState(t, v.ID, payflow.StatePending)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Zero(t, r.Captured)
	assert.Nil(t, r.Receipt)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t), "nothing moved")
}

// firstHold returns the money leg's hold of the first attempt of request
// id for amount, as the platform makes it.
func firstHold(s *shop, id payflow.ID, amount uint64) ledger.Transfer {
	return ledger.Transfer{
		ID: payflow.TransferID(id, 1, 0, 1), DebitAccountID: payflow.AccountID(payflow.AccountWallet, eurLedger, s.shopper.ID),
		CreditAccountID: payflow.AccountID(payflow.AccountMerchant, eurLedger, merchantID), Amount: amount,
		UserData128: ledger.ID(id), Timeout: uint32(payflow.DefaultHoldTTL / time.Second), Ledger: eurLedger,
		Code: payflow.TransferPayment, Flags: ledger.TransferPending,
	}
}
