package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerRefundViewNotOfItsRequest: a refund reads the request to
// refund: Refund the request on screen, last seen pending, to see it
// captured, and RefundPayment the request it names. A read that is not of
// that request (Refund), or that does not show the signed request it
// carries (RefundPayment), here its request hash altered, is ErrMismatch,
// and the card signs no refund: none is made (was: the card signed a
// refund whose receipt the phone checked against that view, so that a
// refund made was reported as a mismatch and, passed over by the next
// refund, refunded twice).
func TestSellerRefundViewNotOfItsRequest(t *testing.T) {
	ctx := context.Background()
	for name, refund := range map[string]func(s *payflow.Seller, id payflow.ID) (*payflow.Receipt, error){
		"Refund":        func(s *payflow.Seller, _ payflow.ID) (*payflow.Receipt, error) { return s.Refund(ctx, 100) },
		"RefundPayment": func(s *payflow.Seller, id payflow.ID) (*payflow.Receipt, error) { return s.RefundPayment(ctx, id, 100) },
	} {
		t.Run(name, func(t *testing.T) {
			w, api := newTamperWorld(t)
			w.pair(t)
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			w.shopperApproves(t) // the seller's screen still shows it pending
			paid := w.balance(t, w.shopperCard.Enrolment.ICCID)

			api.payment = func(v *payflow.PaymentView) { v.RequestHash[0] ^= 1 }
			before, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			rc, err := refund(w.seller, sv.ID)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, rc)
			after, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, before, after, "no refund signed")
			assert.Equal(t, paid, w.balance(t, w.shopperCard.Enrolment.ICCID), "no refund made")

			api.payment = nil
			rc, err = refund(w.seller, sv.ID)
			require.NoError(t, err)
			assert.Equal(t, uint64(100), rc.Amount)
			assert.Equal(t, payflow.Balance{Posted: paid.Posted + 100}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
}
