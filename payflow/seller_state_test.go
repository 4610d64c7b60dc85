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
// its view in that state, and every cancellation, capture or new
// request, while cancelled, captured or created is set, with the view in
// that state, as a platform that shows a state that no
// request's view has (an inner state, a newer platform's state) would.
type restateAPI struct {
	payflow.API
	mu        sync.Mutex
	state     string
	cancelled string
	captured  string
	created   string
}

// set sets *field, state, cancelled, captured or created, to state.
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

func (a *restateAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	v, err := a.API.CreateRequest(ctx, req)
	return a.restate(&a.created, v, err)
}

func (a *restateAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Capture(ctx, token, req)
	return a.restate(&a.captured, v, err)
}

// TestSellerRefusesUnknownState: a Seller's read of a request that shows
// it in a state that no request's view has fails Status, Wait and Held
// with ErrInternal, and the request stays as the phone last saw it: on
// screen, withdrawn by Cancel, and kept held, captured by CaptureHeld.
func TestSellerRefusesUnknownState(t *testing.T) {
	ctx := context.Background()
	t.Run("on screen", func(t *testing.T) {
		w, api, sv := newRestateWorldAsking(t)
		api.set(&api.state, payflow.StateApproving)
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
		w, api := newRestateWorld(t, true)
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
	t.Run("Cancel", func(t *testing.T) {
		w, api, sv := newRestateWorldAsking(t)
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
		w, api := newRestateWorld(t, true)
		id := w.pairAndHold(t)
		requireInternalWhile(t, api, &api.cancelled, "voiding", func() error {
			v, err := w.seller.CancelHeld(ctx, id)
			assert.Nil(t, v)
			return err
		})
		requireKeptHeld(t, w.seller, id)
		held, err := w.seller.Held(ctx)
		require.NoError(t, err)
		assert.Empty(t, held, "read cancelled")
	})
}

// TestSellerRefusesUnknownStateOfCapture: a Seller's capture that the
// platform answers with the view of the request in a state that no
// request's view has, or that shows it still payable (pending or held),
// fails with ErrInternal and, as one that got no verdict, may have been
// made: the request stays kept, as last seen, until a capture of the same
// amount returns its receipt.
func TestSellerRefusesUnknownStateOfCapture(t *testing.T) {
	ctx := context.Background()
	for _, state := range []string{"capturing", payflow.StatePending, payflow.StateHeld} {
		t.Run(state, func(t *testing.T) {
			w, api := newRestateWorld(t, true)
			id := w.pairAndHold(t)
			requireInternalWhile(t, api, &api.captured, state, func() error {
				rc, err := w.seller.CaptureHeld(ctx, id, 0)
				assert.Nil(t, rc)
				return err
			})
			requireKeptHeld(t, w.seller, id)
			held, err := w.seller.Held(ctx)
			require.NoError(t, err)
			require.Len(t, held, 1, "kept for the receipt of its capture")
			assert.Equal(t, payflow.StateCaptured, held[0].State)
			rc, err := w.seller.CaptureHeld(ctx, id, 690)
			require.NoError(t, err)
			assert.Equal(t, uint64(690), rc.Amount)
			held, err = w.seller.Held(ctx)
			require.NoError(t, err)
			assert.Empty(t, held)
		})
	}
}

// TestSellerRequestRefusesUnknownStateAtTakenIndex: a Request that finds
// the index it would take taken by a request of an earlier run of the
// seller phone, which the platform shows in a state that no request's
// view has, fails with ErrInternal and makes no request past it, so that
// the shopper is not shown a new one while that one may still be
// payable; the next Request reads that index again.
func TestSellerRequestRefusesUnknownStateAtTakenIndex(t *testing.T) {
	ctx := context.Background()
	w, c, earlier := restartedSellerWorld(t)
	api := &restateAPI{API: w.f.Platform}
	w.useSeller(t, api)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	requireInternalWhile(t, api, &api.state, payflow.StateApproving, func() error {
		v, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
		assert.Nil(t, v)
		return err
	})
	_, err := w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "no request made")
	v, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), v.ID, "past the taken index, read again")
	assert.NotEqual(t, earlier.ID, v.ID)
}

// TestSellerRequestRefusesUnknownState: a Request that the platform
// answers with the view of the new request in a state that no request's
// view has fails with ErrInternal, as one without a verdict: the request
// goes on no screen and is kept to be withdrawn: a Cancel that the
// platform answers so again fails so too, and the next Cancel withdraws
// it.
func TestSellerRequestRefusesUnknownState(t *testing.T) {
	ctx := context.Background()
	w, api := newRestateWorld(t, false)
	w.pair(t)
	requireInternalWhile(t, api, &api.created, payflow.StateApproving, func() error {
		v, err := w.seller.Request(ctx, basket)
		assert.Nil(t, v)
		require.ErrorIs(t, err, payflow.ErrInternal)
		v, err = w.seller.Cancel(ctx) // sent again, answered so again
		assert.Nil(t, v)
		return err
	})
	_, err := w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "on no screen")
	v, err := w.seller.Cancel(ctx)
	require.NoError(t, err, "kept, and withdrawn")
	assert.Equal(t, payflow.StateCancelled, v.State)
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

// requireKeptHeld checks that the seller keeps the request id alone, as
// last seen held: Held with an ended context returns it without reading.
func requireKeptHeld(t *testing.T, seller *payflow.Seller, id payflow.ID) {
	t.Helper()
	ended, cancel := withCancelCause(context.Background())
	cancel()
	held, err := seller.Held(ended)
	require.ErrorIs(t, err, errCallerGone)
	require.Len(t, held, 1, "still kept")
	assert.Equal(t, id, held[0].ID)
	assert.Equal(t, payflow.StateHeld, held[0].State)
}

// newRestateWorld returns a world on the memory stores whose seller phone
// talks to the platform through a restateAPI, which it returns too.
func newRestateWorld(t *testing.T, manual bool) (*phoneWorld, *restateAPI) {
	t.Helper()
	return newSellerWorldThrough(t, manual, func(p payflow.API) *restateAPI { return &restateAPI{API: p} })
}

// newRestateWorldAsking is newRestateWorld of a merchant that captures
// at once, its phones paired, and the seller's view of the request of
// basket that the shopper's phone shows.
func newRestateWorldAsking(t *testing.T) (*phoneWorld, *restateAPI, *payflow.PaymentView) {
	t.Helper()
	w, api := newRestateWorld(t, false)
	w.pair(t)
	sv, _ := w.request(t)
	return w, api, sv
}

// requireInternalWhile checks that call fails with ErrInternal while api
// answers with views in state (api.set of field).
func requireInternalWhile(t *testing.T, api *restateAPI, field *string, state string, call func() error) {
	t.Helper()
	api.set(field, state)
	defer api.set(field, "")
	require.ErrorIs(t, call(), payflow.ErrInternal)
}
