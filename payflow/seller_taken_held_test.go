package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// TestSellerTakenIndexViewCheckedAgainstHeld: the view of a request that
// Request reads at a taken index, when the phone keeps that request in
// Held, must be of the request kept, its signed request byte for byte
// (sameRequest): one that carries another request that the card signed
// under its ID (a platform that mixes requests up), held or pending, is
// ErrMismatch, cancels nothing and leaves the kept request as it was, so
// that the platform's true views of it are still taken and it stays
// capturable. Once the platform answers truly, Request goes on past it.
func TestSellerTakenIndexViewCheckedAgainstHeld(t *testing.T) {
	for _, state := range []string{payflow.StateHeld, payflow.StatePending} {
		t.Run(state, func(t *testing.T) { testTakenIndexViewCheckedAgainstHeld(t, state) })
	}
}

func testTakenIndexViewCheckedAgainstHeld(t *testing.T, state string) {
	ctx := context.Background()
	w := newSelectingWorld(t)
	reads := &tamperAPI{API: w.f.Platform}
	api := &hookAPI{API: reads}
	w.useSeller(t, api)
	c := w.pair(t)
	w.request(t)
	x := w.approveHeld(t)
	held, err := w.seller.Held(ctx)
	require.NoError(t, err)
	require.Len(t, held, 1)
	kept := held[0]
	require.Equal(t, x, kept.ID)

	// Back in the session after its index was forgotten, Request finds
	// index 0 taken and reads x there, as another request under x's ID.
	w.selectOthers(t, 16, func(int) {})
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	other, err := w.sellerCard.Card.SignPaymentRequest(&record.PaymentRequest{
		RequestID: x[:], SessionID: c.SessionID[:], PayerCardID: w.shopperCard.Enrolment.ICCID,
		MerchantID: kept.MerchantID, Currency: "EUR", Amount: 5000,
	})
	require.NoError(t, err)
	h := record.Hash(other)
	reads.payment = func(v *payflow.PaymentView) {
		if v.ID == x {
			v.State, v.Amount, v.Request, v.RequestHash = state, 5000, other, h[:]
		}
	}
	var cancels int
	api.mu.Lock()
	api.cancel = func() { cancels++ }
	api.mu.Unlock()
	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	api.mu.Lock()
	assert.Zero(t, cancels, "no cancellation was sent")
	api.cancel = nil
	api.mu.Unlock()
	reads.payment = nil

	held, err = w.seller.Held(ctx)
	require.NoError(t, err, "the kept request's true view is taken")
	require.Len(t, held, 1)
	assert.Equal(t, kept.RequestHash, held[0].RequestHash)
	assert.Equal(t, kept.Amount, held[0].Amount)
	v, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), v.ID)
	_, err = w.seller.CaptureHeld(ctx, x, 0)
	require.NoError(t, err)
	w.assertState(t, x, payflow.StateCaptured)
}
