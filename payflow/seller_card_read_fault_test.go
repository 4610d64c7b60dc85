package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSellerCardReadFails: a seller phone whose card fails to give its
// ICCID, or its advert for the EID that a login proof names, logs in with
// nothing signed: Login, and the calls that log in first (Catalog,
// RefundPayment), fail with the card's error, the card signing nothing.
// The same call made again, the card answering, succeeds.
func TestSellerCardReadFails(t *testing.T) {
	ctx := context.Background()
	for _, fault := range []string{"iccid", "advert"} {
		for _, tt := range []struct {
			name string
			call func(t *testing.T, w *phoneWorld, s *payflow.Seller, id payflow.ID) error
		}{
			{"login", func(t *testing.T, w *phoneWorld, s *payflow.Seller, _ payflow.ID) error {
				l, err := s.Login(ctx)
				if err == nil {
					assert.Equal(t, w.sellerCard.Enrolment.ICCID, l.CardID)
				}
				return err
			}},
			{"catalog", func(t *testing.T, _ *phoneWorld, s *payflow.Seller, _ payflow.ID) error {
				c, err := s.Catalog(ctx)
				if err == nil {
					assert.Equal(t, phoneCatalog, c.Items)
				}
				return err
			}},
			{"refund payment", func(t *testing.T, w *phoneWorld, s *payflow.Seller, id payflow.ID) error {
				rc, err := s.RefundPayment(ctx, id, 240)
				if err == nil {
					assert.Equal(t, uint64(240), rc.Amount)
					assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
				}
				return err
			}},
		} {
			t.Run(fault+"/"+tt.name, func(t *testing.T) {
				w := newMemoryPhoneWorld(t, false)
				w.pair(t)
				w.purchase(t)
				paid, err := w.seller.Status(ctx)
				require.NoError(t, err)
				id := paid.ID
				card := &signFaultCard{SellerCard: w.sellerCard.Card, iccid: fault == "iccid", advert: fault == "advert"}
				s, err := payflow.NewSeller(card, w.phoneOptions(w.f.Platform))
				require.NoError(t, err)
				counter, err := w.sellerCard.Card.Counter()
				require.NoError(t, err)

				require.ErrorIs(t, tt.call(t, w, s, id), errCardIO)
				after, err := w.sellerCard.Card.Counter()
				require.NoError(t, err)
				assert.Equal(t, counter, after, "the card signed nothing")
				assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))

				require.NoError(t, tt.call(t, w, s, id))
			})
		}
	}
}
