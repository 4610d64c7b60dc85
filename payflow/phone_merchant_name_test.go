package payflow_test

import (
	"context"
	"testing"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShopperShowsRequestUnderSessionName: a view of the request on screen
// or kept that the platform sends later, captured (a receipt to collect)
// or ended (cancelled), is shown under the merchant name that the request
// was shown under first, the session's, whatever name it carries (a
// network's rewrite here; a merchant that took another name since): the
// card signs no name, the receipt is still taken, and the screen names
// the merchant as the confirmation did (PROTOCOL.md §6.1).
func TestShopperShowsRequestUnderSessionName(t *testing.T) {
	rename := func(api *tamperAPI, state string) {
		api.payment = func(v *payflow.PaymentView) {
			if v.State == state {
				v.MerchantName = "Evil Corp"
			}
		}
	}
	t.Run("receipt to collect", func(t *testing.T) {
		ctx := context.Background()
		w := newMemoryPhoneWorld(t, false)
		tamper := &tamperAPI{API: w.f.Platform}
		first, _ := w.payWithLostReply(t, loseFirstApprove(tamper, payflow.ErrUnavailable))
		name := first.MerchantName
		require.NotEqual(t, "Evil Corp", name)
		rename(tamper, payflow.StateCaptured)

		screen, err := w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		require.Equal(t, first.ID, screen.ID)
		assert.Equal(t, payflow.StateCaptured, screen.State)
		assert.Equal(t, name, screen.MerchantName)
		rc, err := w.shopper.ApproveShown(ctx, screen, "")
		require.NoError(t, err)
		assert.Equal(t, first.ID[:], rc.RequestID)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx := context.Background()
		w := newMemoryPhoneWorld(t, false)
		tamper := &tamperAPI{API: w.f.Platform}
		w.useShopper(t, tamper)
		w.pair(t)
		_, screen := w.request(t)
		name := screen.MerchantName
		_, err := w.seller.Cancel(ctx)
		require.NoError(t, err)
		rename(tamper, payflow.StateCancelled)

		_, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
		require.ErrorIs(t, err, payflow.ErrFinal)
		on, err := w.shopper.Payment()
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCancelled, on.State)
		assert.Equal(t, name, on.MerchantName)
	})
}
