package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerSignsNoRefundOfRequestNotCaptured: the card signs no refund
// of a request that is not captured, which the platform would refuse
// ErrConflict without spending its counter, leaving it valid once the
// request is captured: a refund of a held request, on screen or by its ID,
// is ErrConflict before anything is signed or sent, and once the request
// is captured the refund is made once. A refund of a request whose hold
// was cancelled (by its ID: none is on screen then) is ErrFinal, nothing
// signed. So it is in process and over HTTP.
func TestSellerSignsNoRefundOfRequestNotCaptured(t *testing.T) {
	ctx := context.Background()
	for _, overHTTP := range []bool{false, true} {
		t.Run(map[bool]string{false: "in process", true: "over HTTP"}[overHTTP], func(t *testing.T) {
			setup := func(t *testing.T) (*phoneWorld, *scriptedRefundAPI, payflow.ID, uint64) {
				w := newMemoryPhoneWorld(t, true)
				api := &scriptedRefundAPI{API: w.f.Platform}
				if overHTTP {
					api.API = newMiddlebox(t, w.f.Platform).client(t)
				}
				w.useSeller(t, api)
				id := w.pairAndHold(t)
				return w, api, id, cardCounter(t, w.sellerCard)
			}
			t.Run("held, then captured", func(t *testing.T) {
				w, api, id, before := setup(t)
				_, err := w.seller.Refund(ctx, 240)
				require.ErrorIs(t, err, payflow.ErrConflict)
				assert.ErrorContains(t, err, "the request is held; no refund signed")
				_, err = w.seller.RefundPayment(ctx, id, 240)
				require.ErrorIs(t, err, payflow.ErrConflict)
				assert.Equal(t, before, cardCounter(t, w.sellerCard), "no refund signed")
				assert.Zero(t, api.refunds(), "no refund sent")
				assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "the hold stays")

				_, err = w.seller.Capture(ctx, 0)
				require.NoError(t, err)
				rc, err := w.seller.Refund(ctx, 240)
				require.NoError(t, err)
				assert.Equal(t, uint64(240), rc.Amount)
				assert.Equal(t, before+1, cardCounter(t, w.sellerCard), "one refund signed")
				assert.Equal(t, 1, api.refunds())
				assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
				assert.Equal(t, payflow.Balance{Posted: 690 - 240}, w.balance(t, phoneMerchant))
			})
			t.Run("cancelled", func(t *testing.T) {
				w, api, id, before := setup(t)
				_, err := w.seller.CancelHeld(ctx, id)
				require.NoError(t, err)
				_, err = w.seller.RefundPayment(ctx, id, 240)
				require.ErrorIs(t, err, payflow.ErrFinal)
				assert.ErrorContains(t, err, "the request is cancelled; no refund signed")
				assert.Equal(t, before, cardCounter(t, w.sellerCard), "no refund signed")
				assert.Zero(t, api.refunds(), "no refund sent")
				assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
				assert.Equal(t, payflow.Balance{}, w.balance(t, phoneMerchant))
			})
		})
	}
}
