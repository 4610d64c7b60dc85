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

// TestRefundChecksInOrder: the checks of a refund request in the order of
// PROTOCOL.md §6.5, each refusal spending the card's counter (the same
// refund sent again is ErrClone) and writing no refund: a refund of a
// request that is not stored is ErrNotFound, also when its card is no
// seller card; one signed by a card that is not a seller card of the
// payee is ErrForbidden, also in another currency; one in another
// currency than the request's is ErrMismatch, also while the request is
// pending (which, in its currency, is ErrConflict).
func TestRefundChecksInOrder(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	captured, _ := s.request(t)
	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: s.consent(t, captured.ID)})
	require.NoError(t, err)
	pending, _ := s.request(t)
	unknown := payflow.ID{0x75, 0x6e}
	for i, c := range []struct {
		name     string
		card     *paytest.Card
		request  payflow.ID
		currency string
		want     error
	}{
		{"request not stored", s.seller, unknown, "EUR", payflow.ErrNotFound},
		{"request not stored, signed by the shopper card", s.shopper, unknown, "USD", payflow.ErrNotFound},
		{"signed by the shopper card", s.shopper, captured.ID, "USD", payflow.ErrForbidden},
		{"other currency", s.seller, captured.ID, "USD", payflow.ErrMismatch},
		{"other currency of a pending request", s.seller, pending.ID, "USD", payflow.ErrMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := payflow.ID{0x72, byte(i)}
			msg := c.card.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: c.request[:], Amount: 10, Currency: c.currency})
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			require.ErrorIs(t, err, c.want)
			for _, other := range []error{payflow.ErrNotFound, payflow.ErrForbidden, payflow.ErrMismatch} {
				if other != c.want {
					assert.NotErrorIs(t, err, other)
				}
			}
			_, err = s.Store.Refund(ctx, id)
			require.ErrorIs(t, err, payflow.ErrNotFound, "no refund stored")
			_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			assert.ErrorIs(t, err, payflow.ErrClone, "sent again, its counter spent")
		})
	}
	id := payflow.ID{0x72, 0xff}
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: pending.ID[:], Amount: 10, Currency: "EUR"})
	_, err = s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	assert.ErrorIs(t, err, payflow.ErrConflict, "a pending request in its currency")
	assert.Equal(t, basketPaid, s.balances(t), "nothing refunded")
}
