package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestRetryOfDroppedSellerCard: a payment request or refund sent again,
// the same signed bytes as one accepted before, once its seller card is
// no longer a seller card of the request's merchant (taken away from it,
// or moved to another merchant), is refused as a new record of the card
// for that merchant is, in process and over HTTP (PROTOCOL.md §6.3,
// §6.5): forbidden with the same message and no view, nothing of the
// request or refund told, the requests' states and the ledger as they
// were. Listed by the merchant again, the card gets the retries answered.
func TestRetryOfDroppedSellerCard(t *testing.T) {
	for _, to := range []string{"", "till-shop"} {
		for _, via := range []string{"platform", "http"} {
			t.Run("to="+to+"/"+via, func(t *testing.T) {
				ctx := context.Background()
				s := newShop(t, false, paytest.Options{})
				var api payflow.API = s.Platform
				if via == "http" {
					api = mustClient(t, serve(t, s.Fixture), payflow.ClientOptions{})
				}
				pending, pendingMsg := s.request(t)
				captured, capturedMsg := s.request(t)
				s.captured(t, captured.ID, false)
				rid := payflow.ID([]byte("refund-dropped-1"))
				refundMsg := s.seller.MustSign(&record.RefundRequest{RefundID: rid[:], RequestID: captured.ID[:], Amount: 200, Currency: "EUR"})
				refund, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: refundMsg})
				require.NoError(t, err)
				before := s.balances(t)

				grocer := payflow.Merchant{ID: merchantID, Name: "Corner Grocer", Currency: "EUR"}
				require.NoError(t, s.Platform.EnrollMerchant(ctx, grocer))
				if to != "" {
					require.NoError(t, s.Platform.EnrollMerchant(ctx, payflow.Merchant{
						ID: to, Name: "Till Shop", Currency: "EUR", SellerCardIDs: []string{s.seller.ID}}))
				}

				newRequest, newRefund := s.requireRetriesRefused(t, to+"/"+via, api, payflow.ErrForbidden,
					payflow.ID([]byte("refund-dropped-2")), captured.ID, refundMsg, pendingMsg, capturedMsg)
				require.Equal(t, "payflow: forbidden: card "+s.seller.ID+" is not a seller card of merchant \""+merchantID+"\"", newRequest.Message)
				require.Equal(t, "payflow: forbidden: card "+s.seller.ID+" is not a seller card of the payee", newRefund.Message)
				s.requireState(t, pending.ID, payflow.StatePending)
				s.requireState(t, captured.ID, payflow.StateCaptured)
				assert.Equal(t, before, s.balances(t), "the ledger did not move")

				grocer.SellerCardIDs = []string{s.seller.ID}
				require.NoError(t, s.Platform.EnrollMerchant(ctx, grocer))
				got, err := api.CreateRequest(ctx, &payflow.CreateRequest{Request: pendingMsg})
				require.NoError(t, err, "listed again")
				assert.Equal(t, payflow.StatePending, got.State)
				assert.Nil(t, got.ConsentNonce)
				rv, err := api.Refund(ctx, &payflow.RefundRequest{Refund: refundMsg})
				require.NoError(t, err, "listed again")
				assert.Equal(t, refund, rv)
				assert.Equal(t, before, s.balances(t), "the ledger did not move")
				require.NoError(t, s.Ledger.Verify(ctx))
			})
		}
	}
}
