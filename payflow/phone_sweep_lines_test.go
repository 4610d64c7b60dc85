package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestPaymentScreenRefusesLineAmountsMovedBetweenLines: a payment view
// whose lines add up to the amount signed, but whose line amounts are not
// their unit prices times their quantities (one line's moved to another),
// is ErrMismatch on the shopper's screen.
func TestPaymentScreenRefusesLineAmountsMovedBetweenLines(t *testing.T) {
	ctx := context.Background()
	w, api := newTamperWorld(t)
	w.pair(t)
	_, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	api.payment = func(v *payflow.PaymentView) {
		require.GreaterOrEqual(t, len(v.Lines), 2)
		v.Lines[0].Amount++
		v.Lines[1].Amount--
	}
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
}
