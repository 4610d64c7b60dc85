package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestApproveChecksTheFreshView pins PROTOCOL.md §6.4: "the fresh view
// whose nonce it signs is checked to be of that request". An approval
// whose fresh read of the request on screen the platform answers with the
// view of another request (another ID), or of the request otherwise than
// the seller's card signed it (another amount, a signed request changed),
// fails with ErrMismatch before the card verifies the PIN or signs: the
// card's counter stays as it was, the request stays pending and on the
// screen, and the next approval, answered as the platform holds it, pays.
func TestApproveChecksTheFreshView(t *testing.T) {
	for _, tt := range []struct {
		name   string
		tamper func(*payflow.PaymentView)
	}{
		{"another request", func(v *payflow.PaymentView) { v.ID[0] ^= 1 }},
		{"another amount", func(v *payflow.PaymentView) { v.Amount-- }},
		{"signed request changed", func(v *payflow.PaymentView) { v.Request[len(v.Request)-1] ^= 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w, api := newTamperWorld(t)
			w.pair(t)
			sv, screen := w.request(t)
			before, err := w.shopperCard.Card.Counter()
			require.NoError(t, err)

			api.payment = tt.tamper
			_, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			after, err := w.shopperCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, before, after, "the card signed nothing")
			shown, err := w.shopper.Payment()
			require.NoError(t, err)
			assert.Equal(t, screen, shown, "the screen as it was")

			api.payment = nil
			v, err := w.seller.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, payflow.StatePending, v.State, "on the platform")
			receipt, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
			require.NoError(t, err)
			assert.Equal(t, sv.ID[:], receipt.RequestID)
		})
	}
}
