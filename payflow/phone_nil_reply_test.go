package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// phNilAPI is an API whose calls named in nil return neither a reply nor
// an error (a nil reply with a nil error); the others reach the platform.
type phNilAPI struct {
	payflow.API
	nil map[string]bool
}

// nilOr returns neither a reply nor an error when a's call is named in
// a.nil, and otherwise what call returns.
func nilOr[T any](a *phNilAPI, name string, call func() (*T, error)) (*T, error) {
	if a.nil[name] {
		return nil, nil
	}
	return call()
}

func (a *phNilAPI) Challenge(ctx context.Context, req *payflow.ChallengeRequest) (*payflow.ChallengeResponse, error) {
	return nilOr(a, "challenge", func() (*payflow.ChallengeResponse, error) { return a.API.Challenge(ctx, req) })
}

func (a *phNilAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	return nilOr(a, "pair", func() (*payflow.SessionView, error) { return a.API.Pair(ctx, req) })
}

func (a *phNilAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	return nilOr(a, "create", func() (*payflow.PaymentView, error) { return a.API.CreateRequest(ctx, req) })
}

func (a *phNilAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return nilOr(a, "payment", func() (*payflow.PaymentView, error) { return a.API.Payment(ctx, token, id) })
}

func (a *phNilAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return nilOr(a, "approve", func() (*payflow.PaymentView, error) { return a.API.Approve(ctx, req) })
}

func (a *phNilAPI) Info(ctx context.Context) (*payflow.Info, error) {
	return nilOr(a, "info", func() (*payflow.Info, error) { return a.API.Info(ctx) })
}

func (a *phNilAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	return nilOr(a, "resolve", func() (*payflow.ResolveResponse, error) { return a.API.Resolve(ctx, token, req) })
}

func (a *phNilAPI) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	return nilOr(a, "session", func() (*payflow.SessionView, error) { return a.API.Session(ctx, token, id) })
}

func (a *phNilAPI) Catalog(ctx context.Context, token string, merchantID string) (*payflow.Catalog, error) {
	return nilOr(a, "catalog", func() (*payflow.Catalog, error) { return a.API.Catalog(ctx, token, merchantID) })
}

func (a *phNilAPI) Decline(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return nilOr(a, "decline", func() (*payflow.PaymentView, error) { return a.API.Decline(ctx, token, id) })
}

func (a *phNilAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return nilOr(a, "cancel", func() (*payflow.PaymentView, error) { return a.API.Cancel(ctx, token, id) })
}

func (a *phNilAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	return nilOr(a, "capture", func() (*payflow.PaymentView, error) { return a.API.Capture(ctx, token, req) })
}

func (a *phNilAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	return nilOr(a, "refund", func() (*payflow.RefundView, error) { return a.API.Refund(ctx, req) })
}

// TestPhonesTakeANilReplyAsInternal: an API call that returns neither a
// reply nor an error fails the phone's call with ErrInternal, as the
// handler answers such a call over HTTP, where the phones dereferenced
// the nil reply and panicked.
func TestPhonesTakeANilReplyAsInternal(t *testing.T) {
	ctx := context.Background()
	t.Run("login", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.useShopper(t, &phNilAPI{API: w.f.Platform, nil: map[string]bool{"challenge": true}})
		_, err := w.shopper.Login(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
	})
	t.Run("select", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.useShopper(t, &phNilAPI{API: w.f.Platform, nil: map[string]bool{"pair": true}})
		w.hear(t)
		eid, err := w.seller.EID()
		require.NoError(t, err)
		c, err := w.shopper.Select(ctx, eid)
		require.ErrorIs(t, err, payflow.ErrInternal)
		require.Nil(t, c)
	})
	t.Run("payment request", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		api := &phNilAPI{API: w.f.Platform, nil: map[string]bool{"create": true}}
		w.useSeller(t, api)
		w.pair(t)
		_, err := w.seller.Request(ctx, basket)
		require.ErrorIs(t, err, payflow.ErrInternal)
		_, err = w.seller.Status(ctx)
		require.ErrorIs(t, err, payflow.ErrNoPayment)
	})
	t.Run("wait payment", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		_, err := w.seller.Request(ctx, basket)
		require.NoError(t, err)
		api := &phNilAPI{API: w.f.Platform, nil: map[string]bool{"payment": true}}
		w.useShopper(t, api)
		w.pair(t)
		_, err = w.shopper.WaitPayment(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
	})
	for _, call := range []string{"info", "approve"} {
		t.Run(call, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &phNilAPI{API: w.f.Platform, nil: map[string]bool{}}
			w.useShopper(t, api)
			w.pair(t)
			w.request(t)
			api.nil[call] = true
			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrInternal)
			// The consent that got no answer is sent again, and pays.
			api.nil[call] = false
			rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.NoError(t, err)
			require.Equal(t, uint64(690), rc.Amount)
		})
	}
}

// TestPhonesTakeANilReplyOfEachCallAsInternal: each of the other calls
// that returns neither a reply nor an error fails the phone's call with
// ErrInternal too, and the same call answered afterwards takes effect.
func TestPhonesTakeANilReplyOfEachCallAsInternal(t *testing.T) {
	ctx := context.Background()
	// nilWorld returns a world, manual when the merchant captures by hand,
	// whose phones talk to the platform through a phNilAPI, and the API.
	nilWorld := func(t *testing.T, manual bool) (*phoneWorld, *phNilAPI) {
		w := newMemoryPhoneWorld(t, manual)
		api := &phNilAPI{API: w.f.Platform, nil: map[string]bool{}}
		w.useShopper(t, api)
		w.useSeller(t, api)
		return w, api
	}
	t.Run("resolve", func(t *testing.T) {
		w, api := nilWorld(t, false)
		w.hear(t)
		eid, err := w.seller.EID()
		require.NoError(t, err)
		api.nil["resolve"] = true
		_, err = w.shopper.Peers(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
		c, err := w.shopper.Select(ctx, eid)
		require.ErrorIs(t, err, payflow.ErrInternal)
		require.Nil(t, c)
		api.nil["resolve"] = false
		c, err = w.shopper.Select(ctx, eid)
		require.NoError(t, err)
		require.Equal(t, "Corner Shop", c.Name)
	})
	t.Run("session", func(t *testing.T) {
		w, api := nilWorld(t, false)
		shopperEID, _ := w.shopperSelects(t)
		_, err := w.seller.Select(ctx, shopperEID)
		require.NoError(t, err)
		api.nil["session"] = true
		_, err = w.shopper.WaitPaired(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
		api.nil["session"] = false
		c, err := w.shopper.WaitPaired(ctx)
		require.NoError(t, err)
		require.True(t, c.Paired)
	})
	t.Run("catalog", func(t *testing.T) {
		w, api := nilWorld(t, false)
		w.pair(t)
		api.nil["catalog"] = true
		_, err := w.seller.Request(ctx, basket)
		require.ErrorIs(t, err, payflow.ErrInternal)
		api.nil["catalog"] = false
		sv, err := w.seller.Request(ctx, basket)
		require.NoError(t, err)
		require.Equal(t, uint64(690), sv.Amount)
	})
	t.Run("decline", func(t *testing.T) {
		w, api := nilWorld(t, false)
		w.pair(t)
		w.request(t)
		api.nil["decline"] = true
		_, err := w.shopper.Decline(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
		api.nil["decline"] = false
		v, err := w.shopper.Decline(ctx)
		require.NoError(t, err)
		require.Equal(t, payflow.StateDeclined, v.State)
	})
	t.Run("cancel", func(t *testing.T) {
		w, api := nilWorld(t, false)
		w.pair(t)
		w.request(t)
		api.nil["cancel"] = true
		_, err := w.seller.Cancel(ctx)
		require.ErrorIs(t, err, payflow.ErrInternal)
		api.nil["cancel"] = false
		v, err := w.seller.Cancel(ctx)
		require.NoError(t, err)
		require.Equal(t, payflow.StateCancelled, v.State)
	})
	t.Run("capture", func(t *testing.T) {
		w, api := nilWorld(t, true)
		w.pairAndHold(t)
		api.nil["capture"] = true
		_, err := w.seller.Capture(ctx, 0)
		require.ErrorIs(t, err, payflow.ErrInternal)
		require.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		api.nil["capture"] = false
		rc, err := w.seller.Capture(ctx, 0)
		require.NoError(t, err)
		require.Equal(t, uint64(690), rc.Amount)
	})
	t.Run("refund", func(t *testing.T) {
		w, api := nilWorld(t, false)
		w.pair(t)
		w.purchase(t)
		api.nil["refund"] = true
		_, err := w.seller.Refund(ctx, 90)
		require.ErrorIs(t, err, payflow.ErrInternal)
		api.nil["refund"] = false
		rc, err := w.seller.Refund(ctx, 90)
		require.NoError(t, err)
		require.Equal(t, uint64(90), rc.Amount)
	})
}
