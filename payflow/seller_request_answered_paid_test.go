package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// answeredLateAPI passes each payment request on to the platform, runs
// meanwhile once, if set, and sends the request again, answering with the
// platform's view of it then: as a reply lost after the platform recorded
// the request, the shopper acting on it before the request sent again is
// answered.
type answeredLateAPI struct {
	payflow.API
	meanwhile func()
}

func (a *answeredLateAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	v, err := a.API.CreateRequest(ctx, req)
	meanwhile := a.meanwhile
	if err != nil || meanwhile == nil {
		return v, err
	}
	a.meanwhile = nil
	meanwhile()
	return a.API.CreateRequest(ctx, req)
}

// TestSellerRequestAnsweredCaptured: a Request that the platform answers
// with the new request's view captured for its whole amount (the shopper
// paid it before the answer came) takes note of it as Status does: the
// request is on screen, seen paid at once, and is not kept as held; a
// Cancel fails with ErrFinal, the request staying on screen, and a
// CancelHeld with ErrNoPayment, as after a Status that read it so, and
// Wait returns its receipt; a Request that finds its index taken (the
// session's index forgotten) moves past it without reporting it again.
func TestSellerRequestAnsweredCaptured(t *testing.T) {
	ctx := context.Background()
	t.Run("Cancel", func(t *testing.T) {
		w, _, id := newAnsweredCapturedWorld(t)
		ended, cancel := withCancelCause(ctx)
		cancel()
		held, err := w.seller.Held(ended)
		require.ErrorIs(t, err, errCallerGone)
		assert.Empty(t, held, "not kept as held")
		v, err := w.seller.Cancel(ctx)
		require.ErrorIs(t, err, payflow.ErrFinal)
		assert.Nil(t, v)
		v, err = w.seller.CancelHeld(ctx, id)
		require.ErrorIs(t, err, payflow.ErrNoPayment)
		assert.Nil(t, v)
		w.requireShownCaptured(t, id, 690)
		w.assertState(t, id, payflow.StateCaptured)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
	t.Run("taken index", func(t *testing.T) {
		w, c, _ := newAnsweredCapturedWorld(t)
		w.selectOthers(t, 16, func(int) {})
		require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
		v, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
		require.NoError(t, err, "seen paid: not reported again")
		assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), v.ID)
		assert.Equal(t, payflow.StatePending, v.State)
	})
}

// newAnsweredCapturedWorld pairs the phones of a merchant that captures
// at once, the seller's talking to the platform through an
// answeredLateAPI, and has the seller ask for basket, which the shopper
// pays before the platform's answer comes; it checks that Request
// returns the request captured, on screen and seen paid, and returns the
// session and the request's ID.
func newAnsweredCapturedWorld(t *testing.T) (*phoneWorld, *payflow.Confirmation, payflow.ID) {
	t.Helper()
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{
		Platform: payflow.PlatformOptions{ResolveBurst: 100},
	})
	w := newPhoneWorld(t, f, nil, false)
	api := &answeredLateAPI{API: f.Platform}
	w.useSeller(t, api)
	c := w.pair(t)
	id := payflow.SessionRequestID(c.SessionID, 0)
	var paid *payflow.Receipt
	api.meanwhile = func() {
		_, err := w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		paid, err = w.shopper.Approve(ctx, simcardtest.PIN)
		require.NoError(t, err)
	}
	v, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	require.NotNil(t, paid)
	assert.Equal(t, id, v.ID)
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, uint64(690), v.Captured)
	assert.True(t, payflow.SawPaid(w.seller, id), "seen paid at once")
	on := payflow.Screen(w.seller)
	require.NotNil(t, on)
	assert.Equal(t, id, on.ID)
	return w, c, id
}

// TestSellerRequestAnsweredHeld: a Request of a merchant that captures
// manually that the platform answers with the new request's view held
// (the shopper approved it before the answer came) takes note of it as
// Status does: Held keeps it at once, also once the next Request took the
// screen, and CaptureHeld captures it.
func TestSellerRequestAnsweredHeld(t *testing.T) {
	ctx := context.Background()
	w, late, approvals := newAnsweredLateWorld(t)
	c := w.pair(t)
	id := payflow.SessionRequestID(c.SessionID, 0)
	late.meanwhile = w.approvesHeld(t, approvals)
	v, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, id, v.ID)
	assert.Equal(t, payflow.StateHeld, v.State)
	requireKeptHeld(t, w.seller, id)
	assert.False(t, payflow.SawPaid(w.seller, id))

	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), next.ID, "the held one is left as it is")
	requireKeptHeld(t, w.seller, id)
	w.requireCapturedHeld(t, id)
}

// TestSellerSelectLeavesRequestAnsweredHeld: a Request (of another
// goroutine of the app) of a merchant that captures manually whose answer
// arrives while the seller's Select of another shopper is under way, and
// shows the request held (the first shopper approved it before the answer
// came), is kept in Held as Request took note of it; Select takes it off
// the screen and leaves it as it is, held, as it leaves one on screen
// held since; CaptureHeld captures it.
func TestSellerSelectLeavesRequestAnsweredHeld(t *testing.T) {
	ctx := context.Background()
	a, late, approvals := newAnsweredLateWorld(t)
	api := &hookAPI{API: late}
	a.useSeller(t, api)
	b := a.withShopper(t, "Bob", payflow.ID{0xf2})
	ca := a.pair(t)
	bobEID, cb := b.shopperSelects(t)
	id := payflow.SessionRequestID(ca.SessionID, 0)
	var made *payflow.PaymentView
	api.pair = func() {
		late.meanwhile = a.approvesHeld(t, approvals)
		var err error
		made, err = a.seller.Request(ctx, basket)
		require.NoError(t, err)
	}
	c, err := a.seller.Select(ctx, bobEID)
	require.NoError(t, err)
	require.NotNil(t, c, "the other shopper is selected")
	assert.Equal(t, cb.SessionID, c.SessionID)
	require.NotNil(t, made)
	assert.Equal(t, id, made.ID)
	assert.Equal(t, payflow.StateHeld, made.State)
	_, err = a.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "the request left the screen")
	requireKeptHeld(t, a.seller, id)
	a.assertState(t, id, payflow.StateHeld, "left as it is")
	a.requireCapturedHeld(t, id)
}

// newAnsweredLateWorld returns a world on the memory stores of a merchant
// that captures manually whose seller phone talks to the platform through
// an answeredLateAPI, and whose shopper phone talks to it through a
// tamperAPI (approvesHeld); it returns both APIs too.
func newAnsweredLateWorld(t *testing.T) (*phoneWorld, *answeredLateAPI, *tamperAPI) {
	t.Helper()
	w := newMemoryPhoneWorld(t, true)
	late := &answeredLateAPI{API: w.f.Platform}
	w.useSeller(t, late)
	approvals := &tamperAPI{API: w.f.Platform}
	w.useShopper(t, approvals)
	return w, late, approvals
}

// approvesHeld returns a func that has the shopper of w, whose phone talks
// to the platform through approvals, approve the request it waits for,
// and stop waiting for the capture once the platform answered the
// approval, the request held.
func (w *phoneWorld) approvesHeld(t *testing.T, approvals *tamperAPI) func() {
	t.Helper()
	return func() {
		ctx := context.Background()
		_, err := w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		held := make(chan struct{})
		approvals.approve = func(*payflow.PaymentView) { close(held) }
		actx, cancel := withCancelCause(ctx)
		approved := make(chan error, 1)
		go func() {
			_, err := w.shopper.Approve(actx, simcardtest.PIN)
			approved <- err
		}()
		<-held
		cancel() // the shopper stops waiting for the capture
		require.ErrorIs(t, <-approved, errCallerGone)
	}
}

// requireCapturedHeld checks that the seller of w captures the held
// request id, of basket, in full (CaptureHeld), and then keeps no held
// request.
func (w *phoneWorld) requireCapturedHeld(t *testing.T, id payflow.ID) {
	t.Helper()
	ctx := context.Background()
	rc, err := w.seller.CaptureHeld(ctx, id, 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	w.assertState(t, id, payflow.StateCaptured)
	assert.Empty(t, mustHeld(t, w.seller), "captured, its receipt returned")
}
