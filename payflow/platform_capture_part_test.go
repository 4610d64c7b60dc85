package payflow_test

import (
	"context"
	"fmt"
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

// TestCaptureFoundPostedForAnotherAmount: a held request (690) recorded
// with a capture of 500, refused, whose holds the ledger holds posted for
// 400 by the capture's post (a capture of 400 whose posts were made while
// the request was recorded held) ends captured for 400, whatever call
// meets the posts: a capture of 500, whose posts the ledger refuses for
// their amount; a cancellation, whose void finds the holds posted; or
// the hold's expiry, whose void finds them alike and which counts none
// expired. The request records 400 captured, its receipt signs 400 and
// the post's ID, and a capture or cancellation is refused as for a
// request captured (ErrFinal): the money moved once.
func TestCaptureFoundPostedForAnotherAmount(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		final bool // the call is refused as for a request captured
		call  func(s *shop, id payflow.ID) error
	}{
		{"capture of 500", true, func(s *shop, id payflow.ID) error {
			_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: id, Amount: 500})
			return err
		}},
		{"cancel", true, func(s *shop, id payflow.ID) error {
			_, err := s.Platform.Cancel(ctx, s.seller.Token, id)
			return err
		}},
		{"expiry", false, func(s *shop, id payflow.ID) error {
			s.Clock.Advance(payflow.DefaultHoldTTL)
			n, err := s.Platform.ExpireDue(ctx, 0)
			if err == nil && n != 0 {
				return fmt.Errorf("%d expired", n)
			}
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newShop(t, true, paytest.Options{})
			v := s.held(t)
			r, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			r.CaptureAmount, r.UpdatedAt = 500, s.Clock.Now()
			require.NoError(t, s.Store.UpdatePayment(ctx, r, payflow.StateHeld))
			res, err := s.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
				ID: payflow.TransferID(v.ID, 1, 0, 2), PendingID: payflow.TransferID(v.ID, 1, 0, 1), Amount: 400, Ledger: eurLedger,
				Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
			}})
			require.NoError(t, err)
			require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
			require.Equal(t, [2]payflow.Balance{{Posted: funds - 400}, {Posted: 400}}, s.balances(t))

			err = c.call(s, v.ID)
			if c.final {
				require.ErrorIs(t, err, payflow.ErrFinal)
				assert.EqualError(t, err, "payflow: request already in a final state: the request is captured")
			} else {
				require.NoError(t, err, "none expired")
			}
			requireCapturedFor(t, s, v.ID, 400)
		})
	}
}

// requireCapturedFor checks that request id, of one money leg, is stored
// captured for amount, its receipt signing amount and the ID of the post
// of its hold, and that the shopper paid amount to the merchant, once.
func requireCapturedFor(t *testing.T, s *shop, id payflow.ID, amount uint64) {
	t.Helper()
	ctx := context.Background()
	got, err := s.Store.Payment(ctx, id)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, amount, got.Captured)
	assert.Equal(t, amount, got.CaptureAmount)
	rc := s.VerifiedReceipt(t, got.Receipt)
	assert.Equal(t, amount, rc.Amount)
	post := payflow.TransferID(id, 1, 0, 2)
	assert.Equal(t, [][]byte{post[:]}, rc.TransferIDs)
	assert.Equal(t, [2]payflow.Balance{{Posted: funds - amount}, {Posted: amount}}, s.balances(t), "the money moved once")
	require.NoError(t, s.Ledger.Verify(ctx))
}
