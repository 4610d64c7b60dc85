package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestWaitPaymentOfKeptConsentEndsAtLeave: a shopper's WaitPayment that
// reads the request of a kept consent, a receipt to collect, while the
// phone leaves its session fails with ErrNotPaired after that read and
// puts nothing on screen, the phone as before any Select; the consent
// stays kept, and once the phones pair again WaitPayment shows that
// receipt to collect and Approve collects it.
func TestWaitPaymentOfKeptConsentEndsAtLeave(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	hook := &hookAPI{API: loseFirstApprove(w.f.Platform, payflow.ErrUnavailable)}
	w.useShopper(t, hook)
	w.pair(t)
	sv, _ := w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	_, src, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, screen.State, "a receipt to collect")

	hook.mu.Lock()
	hook.paymentID = sv.ID
	hook.payment = func() { assert.NoError(t, w.shopper.Leave()) }
	hook.mu.Unlock()
	v, err := w.shopper.WaitPayment(ctx)
	require.Equal(t, payflow.ErrReselected, err)
	require.Nil(t, v)
	_, err = w.shopper.Payment()
	require.Equal(t, payflow.ErrNoPayment, err, "nothing on screen after Leave")
	assert.Equal(t, adv.Flags(0), advertFlags(t, w.shopper, adv.Shopper))

	require.NoError(t, w.seller.Leave())
	w.pair(t)
	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, sv.ID, screen.ID, "the consent is still kept")
	require.Equal(t, payflow.StateCaptured, screen.State)
	rc, err := w.shopper.ApproveShown(ctx, screen, "")
	require.NoError(t, err)
	assert.Equal(t, src.Signed, rc.Signed)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
}
