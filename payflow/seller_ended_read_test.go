package payflow_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// readsAPI answers the reads of a request with its view in the states of
// reads, one read each, in turn, and as the platform holds it once they
// ran out.
type readsAPI struct {
	payflow.API
	mu    sync.Mutex
	reads []string
}

func (a *readsAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || len(a.reads) == 0 {
		return v, err
	}
	c := *v
	c.State, a.reads = a.reads[0], a.reads[1:]
	return &c, nil
}

// TestSellerRefusesPayableReadAfterEnded: a Request whose withdrawal of
// the request on screen the platform answers ErrFinal (paid meanwhile),
// and whose read of that request then shows it still payable (pending or
// held), which is no view of an ended request, fails with ErrInternal,
// the card signing nothing and the request staying on screen; the next
// Request finds it paid (a *PaidError) and leaves it on screen.
func TestSellerRefusesPayableReadAfterEnded(t *testing.T) {
	ctx := context.Background()
	for _, state := range []string{payflow.StatePending, payflow.StateHeld} {
		t.Run(state, func(t *testing.T) {
			w, api := newSellerWorldThrough(t, false, func(p payflow.API) *readsAPI { return &readsAPI{API: p} })
			w.pair(t)
			sv, _ := w.request(t)
			w.shopperApproves(t)
			w.assertState(t, sv.ID, payflow.StateCaptured)
			counter, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			// The first read shows the request pending, so that Request
			// cancels it; the read after the cancellation shows state.
			api.mu.Lock()
			api.reads = []string{payflow.StatePending, state}
			api.mu.Unlock()
			v, err := w.seller.Request(ctx, basket)
			require.ErrorIs(t, err, payflow.ErrInternal)
			assert.Nil(t, v)
			after, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, counter, after, "the card signed no request")
			api.mu.Lock()
			assert.Empty(t, api.reads, "both reads made")
			api.mu.Unlock()
			v, err = w.seller.Request(ctx, basket)
			assert.Nil(t, v)
			var paid *payflow.PaidError
			require.ErrorAs(t, err, &paid, "still on screen as last seen, pending")
			assert.Equal(t, sv.ID, paid.Payment.ID)
			on, err := w.seller.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, sv.ID, on.ID)
			assert.Equal(t, payflow.StateCaptured, on.State)
		})
	}
}

// endedAPI answers every cancellation and capture, while answer is set,
// with that error, as a platform would once the request ended, and the
// reads of a request as readsAPI does.
type endedAPI struct {
	*readsAPI
	answer error
}

func (a *endedAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if err := a.ended(); err != nil {
		return nil, err
	}
	return a.readsAPI.Cancel(ctx, token, id)
}

func (a *endedAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	if err := a.ended(); err != nil {
		return nil, err
	}
	return a.readsAPI.Capture(ctx, token, req)
}

// ended returns answer.
func (a *endedAPI) ended() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.answer
}

// then has the cancellations and captures answered with err (none, when
// nil), and the next reads show the request in the states of reads.
func (a *endedAPI) then(err error, reads ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.answer, a.reads = err, reads
}

// TestSellerRefusesPayableReadAfterEndedAnswer: a Seller's Cancel,
// CancelHeld or CaptureHeld that the platform answers ErrFinal or
// ErrExpired, and whose read of the request then shows it still payable
// (pending or held), which is no view of an ended request, fails with
// ErrInternal too, the request kept as last seen: on screen, or held,
// and withdrawn or captured by the next call.
func TestSellerRefusesPayableReadAfterEndedAnswer(t *testing.T) {
	ctx := context.Background()
	ended, cancel := withCancelCause(ctx)
	cancel()
	newWorld := func(t *testing.T, manual bool) (*phoneWorld, *endedAPI) {
		return newSellerWorldThrough(t, manual, func(p payflow.API) *endedAPI {
			return &endedAPI{readsAPI: &readsAPI{API: p}}
		})
	}
	newHeld := func(t *testing.T) (*phoneWorld, *endedAPI, payflow.ID) {
		w, api := newWorld(t, true)
		return w, api, w.pairAndHold(t)
	}
	requireRefused := func(t *testing.T, api *endedAPI, answer error, err error) {
		t.Helper()
		api.then(nil)
		require.ErrorIs(t, err, payflow.ErrInternal)
		require.ErrorIs(t, err, answer)
	}
	for _, state := range []string{payflow.StatePending, payflow.StateHeld} {
		t.Run("Cancel "+state, func(t *testing.T) {
			w, api := newWorld(t, false)
			w.pair(t)
			sv, _ := w.request(t)
			api.then(payflow.ErrFinal, state)
			v, err := w.seller.Cancel(ctx)
			requireRefused(t, api, payflow.ErrFinal, err)
			assert.Nil(t, v)
			held, err := w.seller.Held(ended)
			require.ErrorIs(t, err, errCallerGone)
			assert.Empty(t, held, "the read not kept as held")
			v, err = w.seller.Cancel(ctx)
			require.NoError(t, err, "still on screen, withdrawn")
			assert.Equal(t, sv.ID, v.ID)
			w.assertState(t, sv.ID, payflow.StateCancelled)
		})
		t.Run("CancelHeld "+state, func(t *testing.T) {
			w, api, id := newHeld(t)
			api.then(payflow.ErrExpired, state)
			v, err := w.seller.CancelHeld(ctx, id)
			requireRefused(t, api, payflow.ErrExpired, err)
			assert.Nil(t, v)
			requireKeptHeld(t, w.seller, id)
			v, err = w.seller.CancelHeld(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, v.State)
		})
		t.Run("CaptureHeld "+state, func(t *testing.T) {
			w, api, id := newHeld(t)
			api.then(payflow.ErrFinal, state)
			rc, err := w.seller.CaptureHeld(ctx, id, 0)
			requireRefused(t, api, payflow.ErrFinal, err)
			assert.Nil(t, rc)
			requireKeptHeld(t, w.seller, id)
			rc, err = w.seller.CaptureHeld(ctx, id, 0)
			require.NoError(t, err)
			assert.Equal(t, id[:], rc.RequestID)
		})
	}
}
