package payflow_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestLedgerLostReplyOfAnotherCodeMovesOnce: a ledger whose reply is lost
// after it made the transfers, its store's error wrapping a sentinel of
// another code (as an error of a store that reuses payflow's errors
// might), is unavailable: the refund stays pending with its reservation,
// the approval approving, the capture capturing, none of them taken for
// a refusal or an expiry; each sent again ends done or captured with its
// receipt, the money moved once.
func TestLedgerLostReplyOfAnotherCodeMovesOnce(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		cause error
		// refundOnly: a capture, or an approval's auto capture, whose
		// posts it then finds made (a conflict's look-up) ends captured.
		refundOnly bool
	}{
		{"funds", fmt.Errorf("reply lost: %w", payflow.ErrFunds), false},
		{"limit", fmt.Errorf("reply lost: %w", payflow.ErrLimit), false},
		{"expired", fmt.Errorf("reply lost: %w", payflow.ErrExpired), false},
		{"conflict", fmt.Errorf("reply lost: %w", payflow.ErrConflict), true},
	} {
		t.Run(tc.name+"/refund", func(t *testing.T) {
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
			v, _ := s.request(t)
			s.captured(t, v.ID, false)
			id := payflow.ID([]byte("refund-lostreply"))
			msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 300, Currency: "EUR"})
			moved := [2]payflow.Balance{{Posted: funds - 690 + 300}, {Posted: 690 - 300}}

			ls.replies.failAllWith(tc.cause)
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, tc.cause)
			assert.Equal(t, "unavailable", payflow.AsError(err).Code)
			ls.replies.disarm()
			assert.Equal(t, moved, s.balances(t), "the ledger made the transfer")
			ref, err := s.Store.Refund(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, payflow.RefundPending, ref.State)
			pay, err := s.Store.Payment(ctx, v.ID)
			require.NoError(t, err)
			assert.Equal(t, uint64(300), pay.Refunded, "the reservation kept")

			rv, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.NoError(t, err)
			assert.NotNil(t, rv.Receipt)
			assert.Equal(t, moved, s.balances(t), "the money moved once")
			over := s.seller.MustSign(&record.RefundRequest{RefundID: []byte("refund-lostrepl2"), RequestID: v.ID[:], Amount: 391, Currency: "EUR"})
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: over})
			assert.ErrorIs(t, err, payflow.ErrLimit)
			assert.Equal(t, moved, s.balances(t))
		})
		if tc.refundOnly {
			continue
		}
		t.Run(tc.name+"/approve", func(t *testing.T) {
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, memory.New(), ls, false, paytest.Options{})
			v, _ := s.request(t)
			consent := s.consent(t, v.ID)

			ls.replies.failAllWith(tc.cause)
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			require.ErrorIs(t, err, tc.cause)
			assert.Equal(t, "unavailable", payflow.AsError(err).Code)
			ls.replies.disarm()
			assert.Equal(t, basketPaid, s.balances(t), "the ledger made the chain")
			s.requireState(t, v.ID, payflow.StateApproving)

			pv, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCaptured, pv.State)
			assert.NotNil(t, pv.Receipt)
			assert.Equal(t, basketPaid, s.balances(t), "the money moved once")
		})
		t.Run(tc.name+"/capture", func(t *testing.T) {
			ls := &downLedger{Store: ledgermemory.New()}
			s := newShopOnLedger(t, memory.New(), ls, true, paytest.Options{})
			h := s.held(t)
			paid := [2]payflow.Balance{{Posted: funds - 400}, {Posted: 400}}

			ls.replies.failAllWith(tc.cause)
			_, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: h.ID, Amount: 400})
			require.ErrorIs(t, err, tc.cause)
			assert.Equal(t, "unavailable", payflow.AsError(err).Code)
			ls.replies.disarm()
			assert.Equal(t, paid, s.balances(t), "the ledger made the posts")
			s.requireState(t, h.ID, "capturing")

			cv, err := s.Platform.Capture(ctx, s.seller.Token, &payflow.CaptureRequest{RequestID: h.ID, Amount: 400})
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCaptured, cv.State)
			assert.Equal(t, uint64(400), cv.Captured)
			assert.Equal(t, paid, s.balances(t), "the money moved once")
		})
	}
}
