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
// its view in that state, as a platform that shows a state that no
// request's view has (an inner state, a newer platform's state) would.
type restateAPI struct {
	payflow.API
	mu    sync.Mutex
	state string
}

func (a *restateAPI) set(state string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = state
}

func (a *restateAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || a.state == "" {
		return v, err
	}
	c := *v
	c.State = a.state
	return &c, nil
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
		api.set("approving")
		requireScreenReadsFail(t, w.seller, ctx, payflow.ErrInternal)
		api.set("")
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
		api.set("capturing")
		held, err := w.seller.Held(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
		require.Len(t, held, 1, "returned as last seen")
		assert.Equal(t, payflow.StateHeld, held[0].State)
		api.set("")
		held, err = w.seller.Held(ctx)
		require.NoError(t, err)
		require.Len(t, held, 1, "still kept")
		rc, err := w.seller.CaptureHeld(ctx, id, 0)
		require.NoError(t, err)
		assert.Equal(t, uint64(690), rc.Amount)
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
