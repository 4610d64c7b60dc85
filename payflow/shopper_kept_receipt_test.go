package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestWaitPaymentRefusesKeptReceiptOtherThanSigned: a consent kept after
// its receipt showed other lines or legs than the seller's card signed
// has WaitPayment, which reads its captured request first, fail with
// ErrMismatch while the platform's receipt so shows, the consent still
// kept and the shopper charged once. With the platform's own receipt,
// WaitPayment shows that request captured, a receipt to collect carrying
// that receipt, and its approval collects it without the card.
func TestWaitPaymentRefusesKeptReceiptOtherThanSigned(t *testing.T) {
	ctx := context.Background()
	for _, tt := range receiptsOtherThanSigned {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 690, 690)
			restated.alter = tt.alter
			screen, counter := w.approveRefused(t, restated)

			v, err := w.shopper.WaitPayment(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, v)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
			assert.Equal(t, counter+1, w.counter(t), "the card signed one consent")

			restated.on.Store(false)
			v, err = w.shopper.WaitPayment(ctx)
			require.NoError(t, err, "the consent kept")
			assert.Equal(t, screen.ID, v.ID)
			assert.Equal(t, payflow.StateCaptured, v.State)
			assert.Equal(t, uint64(690), v.Captured)
			rc, err := w.shopper.ApproveShown(ctx, v, "")
			require.NoError(t, err)
			assert.Equal(t, v.Receipt, rc.Signed, "the receipt that the platform holds")
			require.Len(t, rc.Lines, len(basket.Items))
			for i, it := range basket.Items {
				assert.Equal(t, it.SKU, rc.Lines[i].SKU)
				assert.Equal(t, it.Quantity, rc.Lines[i].Quantity)
			}
			assert.Empty(t, rc.Legs)
			assert.Equal(t, uint64(690), rc.Amount)
			assert.Equal(t, counter+1, w.counter(t), "the card signed nothing more")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
			_, err = w.shopper.Payment()
			require.ErrorIs(t, err, payflow.ErrNoPayment, "the paid request left the screen")
		})
	}
}

// approveRefused has the shopper phone, talking to api, pair and approve
// a request of basket, which fails with ErrMismatch; it returns the
// screen and the card's signature counter before the card signed.
func (w *phoneWorld) approveRefused(t *testing.T, api payflow.API) (screen *payflow.PaymentView, counter uint64) {
	t.Helper()
	w.useShopper(t, api)
	w.pair(t)
	_, screen = w.request(t)
	counter = w.counter(t)
	rc, err := w.shopper.ApproveShown(context.Background(), screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, rc)
	return screen, counter
}

// cancelOnReadAPI calls cancel when the phone reads the request id.
type cancelOnReadAPI struct {
	payflow.API
	id     payflow.ID
	cancel context.CancelFunc
}

func (a *cancelOnReadAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if id == a.id {
		a.cancel()
	}
	return a.API.Payment(ctx, token, id)
}

// TestApproveOfReceiptToCollectDroppedByWaitPayment: a receipt to collect
// on screen whose kept consent a later WaitPayment dropped (the platform
// showed its request cancelled, as its seller's card signed it) stays on
// screen through that WaitPayment; its approval then fails with ErrFinal
// naming the captured view's state, sending nothing and without the card,
// and takes the view off screen, and the next WaitPayment shows the
// session's next request.
func TestApproveOfReceiptToCollectDroppedByWaitPayment(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	lost := loseFirstApprove(w.f.Platform, payflow.ErrUnavailable)
	first, _, screen := w.receiptToCollect(t, lost)

	// The WaitPayment reads the kept consent's request, shown cancelled,
	// then the session's first request, cancelled too, and ends as it
	// reads the next one.
	waitCtx, cancel := withCancelCause(ctx)
	defer cancel()
	lost.API = &cancelOnReadAPI{
		API: &forgetfulAPI{API: w.f.Platform, id: first.ID, ended: payflow.StateCancelled},
		id:  payflow.SessionRequestID(first.SessionID, 1), cancel: cancel,
	}
	v, err := w.shopper.WaitPayment(waitCtx)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, v)
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	assert.Equal(t, screen, on, "the receipt to collect stays on screen")

	counter := w.counter(t)
	left, _, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)
	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.EqualError(t, err, "payflow: request already in a final state: payment captured")
	assert.Nil(t, rc)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	after, _, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)
	assert.Equal(t, left, after, "the PIN was not verified")
	assert.Len(t, consentsSent(lost), 1, "no consent sent again")
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "no receipt to collect is left on screen")

	lost.API = w.f.Platform
	w.requireNextRequestAsked(t)
}
