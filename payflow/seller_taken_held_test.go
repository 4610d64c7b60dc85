package payflow_test

import (
	"context"
	"sync/atomic"
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
	c, kept := w.heldKeptAgain(t, api)
	x := kept.ID

	// Request finds index 0 taken and reads x there, as another request
	// under x's ID.
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

	w.requireHeldKept(t, c, kept)
}

// TestSellerResentViewCheckedAgainstHeld: the view of a kept payment
// request that Request sends again (one that got no answer), when the
// phone keeps a request with its ID in Held, must be of the request kept,
// its signed request byte for byte (sameRequest). A platform that answers
// with the view of that kept request, another that the card signed under
// the held request's ID, held or pending, is ErrMismatch: nothing is
// cancelled, the held request stays in Held as it was and its hold is not
// voided. Once the platform answers as it records, the kept request is
// refused, its index being taken, Request goes on past the held request,
// and the held request is still capturable.
func TestSellerResentViewCheckedAgainstHeld(t *testing.T) {
	for _, state := range []string{payflow.StateHeld, payflow.StatePending} {
		t.Run(state, func(t *testing.T) { testResentViewCheckedAgainstHeld(t, state) })
	}
}

func testResentViewCheckedAgainstHeld(t *testing.T, state string) {
	w := newSelectingWorld(t)
	api := &hookAPI{API: w.f.Platform}
	c, kept := w.heldKeptAgain(t, api)

	// The card signs another request under the held request's ID, which
	// gets no answer and is kept; sent again, it is answered with its
	// view, as state.
	w.keepUnanswered(t, api, payflow.Charge{Amount: 5000, Currency: "EUR"})
	var answered, cancels atomic.Int32
	api.mu.Lock()
	api.createView = func(req *payflow.CreateRequest) *payflow.PaymentView {
		answered.Add(1)
		v := *kept
		h := record.Hash(req.Request)
		v.State, v.Amount, v.Request, v.RequestHash = state, 5000, req.Request, h[:]
		v.Lines, v.Legs = nil, nil // the kept request is of an amount alone
		return &v
	}
	api.cancel = func() { cancels.Add(1) }
	api.mu.Unlock()
	_, err := w.seller.Request(context.Background(), payflow.Charge{Amount: 100, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Equal(t, int32(1), answered.Load(), "the kept request was sent again")
	assert.Zero(t, cancels.Load(), "no cancellation was sent")
	api.mu.Lock()
	api.createView, api.cancel = nil, nil
	api.mu.Unlock()

	w.requireHeldKept(t, c, kept)
}

// heldKeptAgain has the seller of w, talking to api, pair, ask for basket
// and see the shopper approve it held, then select 16 other sessions, so
// that it forgets the session's next index, and pair again in the same
// session. It returns the session and the view of the held request that
// Held then returns, at index 0.
func (w *phoneWorld) heldKeptAgain(t *testing.T, api payflow.API) (*payflow.Confirmation, *payflow.PaymentView) {
	t.Helper()
	w.useSeller(t, api)
	c := w.pair(t)
	w.request(t)
	x := w.approveHeld(t)
	held, err := w.seller.Held(context.Background())
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.Equal(t, x, held[0].ID)
	w.selectOthers(t, 16, func(int) {})
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	return c, held[0]
}

// requireHeldKept checks that the seller of w keeps kept, the request at
// index 0 of session c, held in Held as it was, and the platform holds it
// still; that the next Request goes on at index 1; and that kept is then
// captured in full (CaptureHeld).
func (w *phoneWorld) requireHeldKept(t *testing.T, c *payflow.Confirmation, kept *payflow.PaymentView) {
	t.Helper()
	ctx := context.Background()
	held, err := w.seller.Held(ctx)
	require.NoError(t, err, "the kept request's true view is taken")
	require.Len(t, held, 1)
	assert.Equal(t, kept.ID, held[0].ID)
	assert.Equal(t, kept.RequestHash, held[0].RequestHash)
	assert.Equal(t, kept.Amount, held[0].Amount)
	assert.Equal(t, payflow.StateHeld, held[0].State)
	w.assertState(t, kept.ID, payflow.StateHeld, "the hold is not voided")
	v, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), v.ID)
	_, err = w.seller.CaptureHeld(ctx, kept.ID, 0)
	require.NoError(t, err)
	w.assertState(t, kept.ID, payflow.StateCaptured)
}

// keepUnanswered has the seller of w ask for charge while api answers no
// CreateRequest (ErrUnavailable), so that the request the card signs is
// kept, to be sent again by the next Request.
func (w *phoneWorld) keepUnanswered(t *testing.T, api *hookAPI, charge payflow.Charge) {
	t.Helper()
	api.mu.Lock()
	api.createErr = func() error { return payflow.ErrUnavailable }
	api.mu.Unlock()
	_, err := w.seller.Request(context.Background(), charge)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	api.mu.Lock()
	api.createErr = nil
	api.mu.Unlock()
}
