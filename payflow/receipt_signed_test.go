package payflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// resignReceipt returns signed, a platform receipt, altered by alter and
// signed again with key, as a platform that signs what it should not would.
func resignReceipt(key *ecdsa.PrivateKey, signed []byte, alter func(*record.Receipt)) ([]byte, error) {
	var rc record.Receipt
	if err := record.Open(signed, &rc); err != nil {
		return nil, err
	}
	alter(&rc)
	return record.Sign(rand.Reader, key, &rc)
}

// resignView returns a copy of v, a platform's view, altered with its
// receipt by alter and the receipt signed again with key; a view without
// a receipt is altered alone (alter given an empty receipt).
func resignView(key *ecdsa.PrivateKey, v *payflow.PaymentView, alter func(*payflow.PaymentView, *record.Receipt)) (*payflow.PaymentView, error) {
	altered := *v
	if len(v.Receipt) == 0 {
		alter(&altered, &record.Receipt{})
		return &altered, nil
	}
	var err error
	if altered.Receipt, err = resignReceipt(key, v.Receipt, func(rc *record.Receipt) { alter(&altered, rc) }); err != nil {
		return nil, err
	}
	return &altered, nil
}

// resignRequest returns the signed payment request of v, opened, altered
// by alter and signed again by sign, and its hash.
func resignRequest(tb testing.TB, v *payflow.PaymentView, alter func(*record.PaymentRequest), sign func(*record.PaymentRequest) ([]byte, error)) (msg, hash []byte) {
	tb.Helper()
	var r record.PaymentRequest
	require.NoError(tb, record.Open(v.Request, &r))
	alter(&r)
	msg, err := sign(&r)
	require.NoError(tb, err)
	h := record.Hash(msg)
	return msg, h[:]
}

// receiptsOtherThanSigned alter the receipt of a payment of basket (2
// apples at 120 and a loaf at 450, no legs) into one with other lines or
// legs than the seller's card signed, which the platform's key then signs.
var receiptsOtherThanSigned = []struct {
	name  string
	alter func(*record.Receipt)
}{
	{"line SKU", func(rc *record.Receipt) { rc.Lines[1].SKU = "cake" }},
	{"line quantity, same total", func(rc *record.Receipt) { rc.Lines[0].Quantity, rc.Lines[0].UnitPrice = 3, 80 }},
	{"line dropped", func(rc *record.Receipt) { rc.Lines = rc.Lines[:1] }},
	{"line added", func(rc *record.Receipt) {
		rc.Lines = append(rc.Lines, record.Line{SKU: "cake", Name: "Cake", Quantity: 1})
	}},
	{"lines of another total", func(rc *record.Receipt) { rc.Lines[1].UnitPrice++ }},
	// Line amounts whose sum wraps around 2^64 to the amount signed.
	{"line amounts wrapping", func(rc *record.Receipt) { rc.Lines[0].UnitPrice, rc.Lines[1].UnitPrice = 1<<63-1, 692 }},
	{"leg added", func(rc *record.Receipt) { rc.Legs = append(rc.Legs, record.Leg{Asset: "GOLD", Amount: 1}) }},
}

// TestPhonesRefuseReceiptOtherThanSigned: a payment receipt signed with
// the platform's key that shows other lines or legs than the seller's
// card signed is ErrMismatch, the shopper charged once. The shopper's
// Approve fails so and the consent stays kept, so that the next Approve,
// answered with the receipt the platform holds, returns it without the
// card; the seller's Wait fails so, and the next Wait, answered so,
// returns it.
func TestPhonesRefuseReceiptOtherThanSigned(t *testing.T) {
	for _, tt := range receiptsOtherThanSigned {
		for _, shopper := range []bool{true, false} {
			t.Run(tt.name+map[bool]string{true: "/shopper", false: "/seller"}[shopper], func(t *testing.T) {
				w := newMemoryPhoneWorld(t, false)
				restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 690, 690)
				restated.alter = tt.alter
				rc := w.requireRestatedRefused(t, restated, restated, shopper, nil)
				assert.Equal(t, basket.Items[0].Quantity, rc.Lines[0].Quantity)
			})
		}
	}
}

// requireRestatedRefused pairs the phones of w, the shopper's or the
// seller's (shopper) talking to api, which passes its calls on to
// restated, has the seller ask for basket and the shopper approve it, and
// checks that the phone that talks to api refuses the receipt restated
// with ErrMismatch: the shopper's Approve, or the seller's Wait, returning
// nothing else, the shopper charged 690 once and its card signing one
// consent. It then calls refused, when set, with the seller's view of the
// request, and, restated off, checks that the phone takes the receipt that
// the platform holds (the shopper's next Approve without the card, with
// the consent kept), for 690, which it returns.
func (w *phoneWorld) requireRestatedRefused(t *testing.T, api payflow.API, restated *restatedAPI, shopper bool, refused func(sv *payflow.PaymentView)) *payflow.Receipt {
	t.Helper()
	ctx := context.Background()
	if shopper {
		w.useShopper(t, api)
	} else {
		w.useSeller(t, api)
	}
	w.pair(t)
	sv, _ := w.request(t)
	counter := w.counter(t)

	// The card signs the consent here (its counter then counts it) and
	// the phone that talks to restated gets the receipt restated.
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	var v *payflow.PaymentView
	if !shopper {
		require.NoError(t, err)
		v, rc, err = w.seller.Wait(ctx)
		assert.Nil(t, v)
	}
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, rc)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	assert.Equal(t, counter+1, w.counter(t), "the card signed one consent")
	if refused != nil {
		refused(sv)
	}

	restated.on.Store(false)
	if shopper {
		rc, err = w.shopper.Approve(ctx, "")
		require.NoError(t, err, "the consent kept")
	} else {
		v, rc, err = w.seller.Wait(ctx)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCaptured, v.State)
	}
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, counter+1, w.counter(t), "the card signed nothing more")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
	return rc
}
