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

func (a *phNilAPI) Challenge(ctx context.Context, req *payflow.ChallengeRequest) (*payflow.ChallengeResponse, error) {
	if a.nil["challenge"] {
		return nil, nil
	}
	return a.API.Challenge(ctx, req)
}

func (a *phNilAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	if a.nil["pair"] {
		return nil, nil
	}
	return a.API.Pair(ctx, req)
}

func (a *phNilAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	if a.nil["create"] {
		return nil, nil
	}
	return a.API.CreateRequest(ctx, req)
}

func (a *phNilAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if a.nil["payment"] {
		return nil, nil
	}
	return a.API.Payment(ctx, token, id)
}

func (a *phNilAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	if a.nil["approve"] {
		return nil, nil
	}
	return a.API.Approve(ctx, req)
}

func (a *phNilAPI) Info(ctx context.Context) (*payflow.Info, error) {
	if a.nil["info"] {
		return nil, nil
	}
	return a.API.Info(ctx)
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
