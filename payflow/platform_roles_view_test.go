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

// TestPaymentViewOfPayerMadeSellerCard: the payer card of a pending
// request, once it has become a merchant's seller card, sees the request,
// in process and over HTTP, pending and without a consent nonce, which no
// consent of it could spend (PROTOCOL.md §6.3); made a seller card of the
// request's own merchant, it sees the view of that merchant's seller
// cards. A consent signed over a nonce fetched before the change is
// forbidden, the request pending and the ledger unmoved, and the card
// still declines the request, which ends declined.
func TestPaymentViewOfPayerMadeSellerCard(t *testing.T) {
	for _, merchant := range []string{merchantID, "till-shop"} {
		for _, via := range []string{"platform", "http"} {
			t.Run(merchant+"/"+via, func(t *testing.T) {
				ctx := context.Background()
				s := newShop(t, false, paytest.Options{})
				var api payflow.API = s.Platform
				if via == "http" {
					api = mustClient(t, serve(t, s.Fixture), payflow.ClientOptions{})
				}
				v, _ := s.request(t)
				consent := s.consent(t, v.ID)
				shopperMadeSeller(t, s, merchant)
				before := s.balances(t)

				got, err := api.Payment(ctx, s.shopper.Token, v.ID)
				require.NoError(t, err)
				assert.Equal(t, payflow.StatePending, got.State)
				assert.Nil(t, got.ConsentNonce, "no consent nonce")
				assert.Equal(t, v.ID, got.ID)
				assert.Equal(t, s.shopper.ID, got.PayerCardID)
				if merchant == merchantID {
					seller, err := api.Payment(ctx, s.seller.Token, v.ID)
					require.NoError(t, err)
					assert.Equal(t, seller, got, "the view of the merchant's seller cards")
				}

				_, err = api.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				require.ErrorIs(t, err, payflow.ErrForbidden)
				assert.Equal(t, "forbidden", payflow.AsError(err).Code)
				assert.Equal(t, "payflow: forbidden: card "+s.shopper.ID+" is a merchant's seller card, not a shopper", payflow.AsError(err).Message)
				s.requireState(t, v.ID, payflow.StatePending)
				assert.Equal(t, before, s.balances(t), "the ledger did not move")

				d, err := api.Decline(ctx, s.shopper.Token, v.ID)
				require.NoError(t, err)
				assert.Equal(t, payflow.StateDeclined, d.State)
				assert.Nil(t, d.ConsentNonce)
				s.requireState(t, v.ID, payflow.StateDeclined)
				assert.Equal(t, before, s.balances(t), "the ledger did not move")
				require.NoError(t, s.Ledger.Verify(ctx))
			})
		}
	}
}

// TestPhoneApproveOfPayerMadeSellerCardSignsNothing: a shopper phone whose
// card has become a merchant's seller card since the request on its screen
// was made reads the request's fresh view without a consent nonce and
// fails Approve with ErrConflict, as for a settlement under way, its
// message saying that a settlement may be under way or the card may not
// pay (PROTOCOL.md §6.3), before the card verifies the PIN or signs; no
// money moves.
func TestPhoneApproveOfPayerMadeSellerCardSignsNothing(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	_, screen := w.request(t)
	require.Len(t, screen.ConsentNonce, record.NonceSize)
	require.NoError(t, w.f.Platform.EnrollMerchant(ctx, payflow.Merchant{
		ID: "till-shop", Name: "Till Shop", Currency: "EUR", SellerCardIDs: []string{w.shopperCard.Enrolment.ICCID},
	}))

	err := w.approveSignsNothing(t, ctx)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.Equal(t, "payflow: conflicting request: a settlement of the request is under way, or the card may not pay it (a merchant's seller card)",
		payflow.AsError(err).Message, "the message says both")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing charged")
}
