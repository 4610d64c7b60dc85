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

// TestCaptureFoundPostingAssetInPart: a capture whose posts the ledger
// holds under their IDs is taken as made only when the post of each asset
// leg moves the leg in full. Here, before the capture of a held request
// (240 EUR, 2 tickets), another client of the ledger posted under the
// capture's IDs the money hold in full and the ticket hold for 1 ticket:
// the holds moved, not by the platform. The capture is ErrInternal, the
// request stays capturing with no capture recorded, and the platform
// moves nothing more.
func TestCaptureFoundPostingAssetInPart(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	require.NoError(t, s.Platform.OpenAccount(ctx, s.shopper.ID, paytest.Ticket))
	r := paytest.Request(s.session, "EUR", 240, record.Item{SKU: "apple", Quantity: 2})
	r.Legs = []record.Leg{{Asset: paytest.Ticket, Amount: 2}}
	v, err := s.Create(r)
	require.NoError(t, err)
	h, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, v.ID)})
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, h.State)
	posts := []ledger.Transfer{{
		ID: payflow.TransferID(v.ID, 1, 0, 2), PendingID: payflow.TransferID(v.ID, 1, 0, 1), Amount: 240, Ledger: eurLedger,
		Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
	}, {
		ID: payflow.TransferID(v.ID, 1, 1, 2), PendingID: payflow.TransferID(v.ID, 1, 1, 1), Amount: 1, Ledger: ticketLedger,
		Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
	}}
	for _, p := range posts {
		res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{p})
		require.NoError(t, err)
		require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	}
	before := s.allBalances(t)

	_, err = s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: v.ID})
	require.ErrorIs(t, err, payflow.ErrInternal)
	require.ErrorContains(t, err, "the holds moved, not by the platform")
	got, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, "capturing", got.State)
	assert.Zero(t, got.Captured)
	assert.Nil(t, got.Receipt)
	assert.Equal(t, before, s.allBalances(t), "nothing more moved")
}
