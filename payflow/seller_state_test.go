package payflow_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// restateAPI answers every read of a request, while state is set, with
// its view in that state, and every cancellation, while cancelled is set,
// with the view in that state, as a platform that shows a state that no
// request's view has (an inner state, a newer platform's state) would.
type restateAPI struct {
	payflow.API
	mu        sync.Mutex
	state     string
	cancelled string
}

// set sets *field, state or cancelled, to state.
func (a *restateAPI) set(field *string, state string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	*field = state
}

// restate returns v in the state *field, while that is set.
func (a *restateAPI) restate(field *string, v *payflow.PaymentView, err error) (*payflow.PaymentView, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || *field == "" {
		return v, err
	}
	c := *v
	c.State = *field
	return &c, nil
}

func (a *restateAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	return a.restate(&a.state, v, err)
}

func (a *restateAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Cancel(ctx, token, id)
	return a.restate(&a.cancelled, v, err)
}

// TestSellerRefusesUnknownState: a Seller's read of a request that shows
// it in a state that no request's view has fails Status, Wait and Held
// with ErrInternal, and the request stays as the phone last saw it: on
// screen, withdrawn by Cancel, and kept held, captured by CaptureHeld.
func TestSellerRefusesUnknownState(t *testing.T) {
	ctx := context.Background()
	t.Run("on screen", func(t *testing.T) {
		w, api := newSellerWorldThrough(t, false, func(p payflow.API) *restateAPI { return &restateAPI{API: p} })
		w.pair(t)
		sv, _ := w.request(t)
		api.set(&api.state, "approving")
		requireScreenReadsFail(t, w.seller, ctx, payflow.ErrInternal)
		api.set(&api.state, "")
		v, err := w.seller.Status(ctx)
		require.NoError(t, err)
		assert.Equal(t, sv.ID, v.ID, "still on screen")
		assert.Equal(t, payflow.StatePending, v.State)
		v, err = w.seller.Cancel(ctx)
		require.NoError(t, err, "still the request made last")
		assert.Equal(t, payflow.StateCancelled, v.State)
	})
	t.Run("held", func(t *testing.T) {
		w, api := newSellerWorldThrough(t, true, func(p payflow.API) *restateAPI { return &restateAPI{API: p} })
		id := w.pairAndHold(t)
		api.set(&api.state, "capturing")
		held, err := w.seller.Held(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
		require.Len(t, held, 1, "returned as last seen")
		assert.Equal(t, payflow.StateHeld, held[0].State)
		api.set(&api.state, "")
		held, err = w.seller.Held(ctx)
		require.NoError(t, err)
		require.Len(t, held, 1, "still kept")
		rc, err := w.seller.CaptureHeld(ctx, id, 0)
		require.NoError(t, err)
		assert.Equal(t, uint64(690), rc.Amount)
	})
}

// TestSellerRefusesUnknownStateOfCancel: a Seller's cancellation that the
// platform answers with the view of the request in a state that no
// request's view has fails Cancel and CancelHeld with ErrInternal, the
// request kept as last seen, on screen and among the held ones, until a
// read shows how it ended.
func TestSellerRefusesUnknownStateOfCancel(t *testing.T) {
	ctx := context.Background()
	ended, cancel := context.WithCancel(ctx)
	cancel()
	t.Run("Cancel", func(t *testing.T) {
		w, api := newSellerWorldThrough(t, false, func(p payflow.API) *restateAPI { return &restateAPI{API: p} })
		w.pair(t)
		sv, _ := w.request(t)
		api.set(&api.cancelled, "voiding")
		v, err := w.seller.Cancel(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
		assert.Nil(t, v)
		api.set(&api.cancelled, "")
		v, err = w.seller.Status(ctx)
		require.NoError(t, err, "still on screen")
		assert.Equal(t, sv.ID, v.ID)
		assert.Equal(t, payflow.StateCancelled, v.State)
	})
	t.Run("CancelHeld", func(t *testing.T) {
		w, api := newSellerWorldThrough(t, true, func(p payflow.API) *restateAPI { return &restateAPI{API: p} })
		id := w.pairAndHold(t)
		api.set(&api.cancelled, "voiding")
		v, err := w.seller.CancelHeld(ctx, id)
		require.ErrorIs(t, err, payflow.ErrInternal)
		assert.Nil(t, v)
		api.set(&api.cancelled, "")
		held, err := w.seller.Held(ended) // as last seen, not read
		require.ErrorIs(t, err, context.Canceled)
		require.Len(t, held, 1, "still kept")
		assert.Equal(t, payflow.StateHeld, held[0].State)
		held, err = w.seller.Held(ctx)
		require.NoError(t, err)
		assert.Empty(t, held, "read cancelled")
	})
}

// requireScreenReadsFail checks that the seller's Status and Wait with ctx
// fail with target and return nothing.
func requireScreenReadsFail(t *testing.T, seller *payflow.Seller, ctx context.Context, target error) {
	t.Helper()
	v, err := seller.Status(ctx)
	require.ErrorIs(t, err, target)
	assert.Nil(t, v)
	v, rc, err := seller.Wait(ctx)
	require.ErrorIs(t, err, target)
	assert.Nil(t, v)
	assert.Nil(t, rc)
}

// newSellerWorldThrough returns a world on the memory stores whose seller
// phone talks to the platform through the API that wrap makes of it, and
// that API.
func newSellerWorldThrough[A payflow.API](t *testing.T, manual bool, wrap func(payflow.API) A) (*phoneWorld, A) {
	t.Helper()
	w := newMemoryPhoneWorld(t, manual)
	api := wrap(w.f.Platform)
	w.useSeller(t, api)
	return w, api
}
