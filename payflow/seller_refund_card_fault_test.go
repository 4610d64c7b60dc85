package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// signFaultCard is a SellerCard whose next read of its counter, ICCID or
// advert, or whose next signature of a refund or of a payment request,
// fails with errCardIO once armed, as a card reader that loses a reply
// does.
type signFaultCard struct {
	payflow.SellerCard
	counter, sign, request, iccid, advert bool
}

func (c *signFaultCard) ICCID() (string, error) {
	if c.iccid {
		c.iccid = false
		return "", errCardIO
	}
	return c.SellerCard.ICCID()
}

func (c *signFaultCard) Advert(epoch uint32, role adv.Role, flags adv.Flags) ([]byte, error) {
	if c.advert {
		c.advert = false
		return nil, errCardIO
	}
	return c.SellerCard.Advert(epoch, role, flags)
}

func (c *signFaultCard) Counter() (uint64, error) {
	if c.counter {
		c.counter = false
		return 0, errCardIO
	}
	return c.SellerCard.Counter()
}

func (c *signFaultCard) SignRefundRequest(r *record.RefundRequest) ([]byte, error) {
	if c.sign {
		c.sign = false
		return nil, errCardIO
	}
	return c.SellerCard.SignRefundRequest(r)
}

func (c *signFaultCard) SignPaymentRequest(r *record.PaymentRequest) ([]byte, error) {
	if c.request {
		c.request = false
		return nil, errCardIO
	}
	return c.SellerCard.SignPaymentRequest(r)
}

// requireRefundFails has the seller refund 200 of the payment on screen
// with ctx and checks that the refund fails with want, that the seller
// card signed no refund (its counter as before) and that the payment has
// nothing refunded.
func (w *phoneWorld) requireRefundFails(t *testing.T, ctx context.Context, want error) {
	t.Helper()
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	rc, err := w.seller.Refund(ctx, 200)
	require.ErrorIs(t, err, want)
	assert.Nil(t, rc)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed no refund")
	v, err := w.seller.Status(context.Background())
	require.NoError(t, err)
	assert.Zero(t, v.Refunded, "no refund made")
}

// TestSellerRefundCardFails: a Refund whose card fails to give its
// signature counter, or to sign the refund, fails with the card's error
// and sends nothing: no refund is made and the card's counter is as it
// was. The next Refund makes it.
func TestSellerRefundCardFails(t *testing.T) {
	for _, tt := range []struct {
		name string
		arm  func(c *signFaultCard)
	}{
		{"counter", func(c *signFaultCard) { c.counter = true }},
		{"signature", func(c *signFaultCard) { c.sign = true }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := newMemoryPhoneWorld(t, false)
			card := &signFaultCard{SellerCard: w.sellerCard.Card}
			var err error
			w.seller, err = payflow.NewSeller(card, w.phoneOptions(w.f.Platform))
			require.NoError(t, err)
			w.pair(t)
			w.purchase(t)
			tt.arm(card)
			w.requireRefundFails(t, ctx, errCardIO)

			rc, err := w.seller.Refund(ctx, 200)
			require.NoError(t, err)
			v, err := w.seller.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, [2]uint64{200, 200}, [2]uint64{rc.Amount, v.Refunded}, "the receipt's amount, the payment's refunded")
		})
	}
}

// TestSellerRequestCardFails: a Request whose card fails to sign the
// payment request fails with the card's error and sends nothing. The
// next Request is made, at the session's first request index.
func TestSellerRequestCardFails(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	card := &signFaultCard{SellerCard: w.sellerCard.Card, request: true}
	var err error
	w.seller, err = payflow.NewSeller(card, w.phoneOptions(w.f.Platform))
	require.NoError(t, err)
	w.pair(t)

	v, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, errCardIO)
	assert.Nil(t, v)
	_, err = w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment)

	v, err = w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, v.State)
	assert.Equal(t, uint64(690), v.Amount)
	assert.Equal(t, payflow.SessionRequestID(v.SessionID, 0), v.ID)
}
