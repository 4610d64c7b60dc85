package payflow_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
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

// TestSellerRefusesRefundReceiptForPayment: a refund receipt that the
// platform signed for a request, shown as the receipt of its payment, is
// ErrMismatch on the seller's Wait, also for a request without lines or
// legs, whose payment receipt carries none either.
func TestSellerRefusesRefundReceiptForPayment(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 100, 100)
	restated.alter = func(rc *record.Receipt) {
		rc.Kind, rc.ConsentHash, rc.Lines, rc.Legs = record.ReceiptRefund, nil, nil, nil
		rc.RefundID, rc.RefundHash = bytes.Repeat([]byte{0xe4}, 16), bytes.Repeat([]byte{0xe5}, 32)
	}
	w.useSeller(t, restated)
	w.pair(t)
	_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	_, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	v, rc, err := w.seller.Wait(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, v)
	assert.Nil(t, rc)
}
