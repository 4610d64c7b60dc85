package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestWaitPaymentRefusesKeptConsentsPaymentOtherThanSigned: a captured
// view of a request paid with a kept consent, a receipt to collect, that
// shows other lines or legs than the seller's card signed goes on no
// screen: WaitPayment fails with ErrMismatch, the screen keeps the request
// as it showed it, and the consent stays kept, so that once the platform
// shows the request as signed, WaitPayment shows it and the approval
// collects its receipt, the shopper charged once.
func TestWaitPaymentRefusesKeptConsentsPaymentOtherThanSigned(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		tamper func(*payflow.PaymentView)
	}{
		{"line", func(v *payflow.PaymentView) {
			v.Lines[0].Quantity = 7
			v.Lines[0].Amount = 7 * v.Lines[0].UnitPrice
		}},
		{"leg", func(v *payflow.PaymentView) { v.Legs = append(v.Legs, payflow.AssetLeg{Asset: "GOLD", Amount: 1}) }},
		{"session", func(v *payflow.PaymentView) { v.SessionID[0] ^= 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, api := newTamperWorld(t)
			_, src := w.payWithLostReply(t, loseFirstApprove(api, payflow.ErrUnavailable))
			shown, err := w.shopper.Payment()
			require.NoError(t, err)
			require.Equal(t, payflow.StatePending, shown.State)
			api.payment = func(v *payflow.PaymentView) {
				if v.State == payflow.StateCaptured {
					tt.tamper(v)
				}
			}

			screen, err := w.shopper.WaitPayment(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, screen)
			on, err := w.shopper.Payment()
			require.NoError(t, err)
			assert.Equal(t, shown, on, "the screen keeps the request as it showed it")

			api.payment = nil
			screen, err = w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			require.Equal(t, shown.ID, screen.ID)
			require.Equal(t, payflow.StateCaptured, screen.State)
			assert.Equal(t, shown.Lines, screen.Lines)
			rc, err := w.shopper.ApproveShown(ctx, screen, "")
			require.NoError(t, err)
			assert.Equal(t, src.Signed, rc.Signed)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
}
