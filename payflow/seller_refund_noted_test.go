package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// refundsOnScreen are the Seller's refunds of amount of the request on
// screen, id: Refund, and RefundPayment by its ID.
var refundsOnScreen = map[string]func(ctx context.Context, s *payflow.Seller, id payflow.ID, amount uint64) (*payflow.Receipt, error){
	"Refund": func(ctx context.Context, s *payflow.Seller, _ payflow.ID, amount uint64) (*payflow.Receipt, error) {
		return s.Refund(ctx, amount)
	},
	"RefundPayment": func(ctx context.Context, s *payflow.Seller, id payflow.ID, amount uint64) (*payflow.Receipt, error) {
		return s.RefundPayment(ctx, id, amount)
	},
}

// TestSellerRefundNotesItsRead: a Refund of the request on screen last
// seen pending, which the shopper paid since, or a RefundPayment of it by
// its ID, reads it and takes note of that read as Status does: the screen
// shows it captured and it is seen paid, so that the next Request, which
// withdraws nothing, makes its request at once instead of reporting that
// payment, which the refund already dealt with (ErrFinal).
func TestSellerRefundNotesItsRead(t *testing.T) {
	ctx := context.Background()
	for name, refund := range refundsOnScreen {
		t.Run(name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			c := w.pair(t)
			sv, _ := w.request(t)
			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.NoError(t, err)
			rc, err := refund(ctx, w.seller, sv.ID, 240)
			require.NoError(t, err)
			assert.Equal(t, uint64(240), rc.Amount)
			on := payflow.Screen(w.seller)
			require.NotNil(t, on)
			assert.Equal(t, sv.ID, on.ID)
			assert.Equal(t, payflow.StateCaptured, on.State, "the screen shows the read")
			assert.True(t, payflow.SawPaid(w.seller, sv.ID), "seen paid")

			v, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), v.ID)
			assert.Equal(t, payflow.StatePending, v.State)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
}

// TestSellerRefundRefusesReadAsStatus: a Refund of the request on screen
// last seen pending, or a RefundPayment of it by its ID, whose read shows
// it in a state that no request's view has fails with ErrInternal, and
// one whose read shows it captured for what no capture of it can have
// captured (nothing of 690, for a merchant that captures at once) with
// ErrMismatch, as Status fails: no refund is signed or sent, and the
// request stays on screen as last seen, not seen paid.
func TestSellerRefundRefusesReadAsStatus(t *testing.T) {
	ctx := context.Background()
	for name, refund := range refundsOnScreen {
		for state, want := range map[string]error{
			payflow.StateApproving: payflow.ErrInternal,
			payflow.StateCaptured:  payflow.ErrMismatch,
		} {
			t.Run(name+"/"+state, func(t *testing.T) {
				w, api, sv := newRestateWorldAsking(t)
				before := cardCounter(t, w.sellerCard)
				api.set(&api.state, state)
				rc, err := refund(ctx, w.seller, sv.ID, 240)
				require.ErrorIs(t, err, want)
				assert.Nil(t, rc)
				assert.Equal(t, before, cardCounter(t, w.sellerCard), "no refund signed")
				on := payflow.Screen(w.seller)
				require.NotNil(t, on)
				assert.Equal(t, sv.ID, on.ID)
				assert.Equal(t, payflow.StatePending, on.State, "as last seen")
				assert.False(t, payflow.SawPaid(w.seller, sv.ID))
			})
		}
	}
}
