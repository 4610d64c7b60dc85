package payflow_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// partPaidAPI is a restatedAPI that also restates the views of a captured
// request answered to a new request and a cancellation; while lostCreate
// is set it records a new request and answers ErrUnavailable, and it
// answers the next stale reads of a captured request with the request
// pending, as a platform late to show the payment would.
type partPaidAPI struct {
	*restatedAPI
	lostCreate atomic.Bool
	stale      atomic.Int32
}

func (a *partPaidAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	v, err := a.restate(a.API.CreateRequest(ctx, req))
	if a.lostCreate.Load() {
		return nil, payflow.ErrUnavailable
	}
	return v, err
}

func (a *partPaidAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return a.restate(a.API.Cancel(ctx, token, id))
}

func (a *partPaidAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.restatedAPI.Payment(ctx, token, id)
	if err == nil && v.State == payflow.StateCaptured && a.stale.Add(-1) >= 0 {
		c := *v
		c.State, c.Captured, c.Receipt = payflow.StatePending, 0, nil
		return &c, nil
	}
	return v, err
}

// TestSellerRefusesPaidPartOfAutoCapture: a request paid that Request,
// Select or Cancel finds while withdrawing it (sent again after no
// answer, read at a taken index of the session, or on screen and read
// pending before its cancellation) is taken as paid only as Status and
// Wait take it: a view that shows part of its amount captured for a
// merchant that captures automatically, with a receipt signed with the
// platform's key for that part, is ErrMismatch, not a *PaidError: the
// request is not shown, not seen paid, the screen stays as it was, and
// nothing more is made. Once the platform shows the payment as it holds
// it, the next call reports it paid (*PaidError), on screen, seen paid,
// the shopper charged once.
func TestSellerRefusesPaidPartOfAutoCapture(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// arrange leaves a request of 100 EUR paid by the shopper that
		// call finds while withdrawing it, the seller's phone over api.
		arrange func(t *testing.T, w *phoneWorld, api *partPaidAPI) (call func() error, screen *payflow.PaymentView, session payflow.ID)
	}{
		{"sent again by Cancel", func(t *testing.T, w *phoneWorld, api *partPaidAPI) (func() error, *payflow.PaymentView, payflow.ID) {
			w.useSeller(t, api)
			c := w.pair(t)
			api.lostCreate.Store(true)
			_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			api.lostCreate.Store(false)
			w.shopperApproves(t)
			return func() error { _, err := w.seller.Cancel(ctx); return err }, nil, c.SessionID
		}},
		{"at a taken index, by Request", func(t *testing.T, w *phoneWorld, api *partPaidAPI) (func() error, *payflow.PaymentView, payflow.ID) {
			c := w.pair(t)
			_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			w.paidAndPairedAgain(t, c, api)
			return func() error {
				_, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
				return err
			}, nil, c.SessionID
		}},
		{"on screen, read pending, by Request", func(t *testing.T, w *phoneWorld, api *partPaidAPI) (func() error, *payflow.PaymentView, payflow.ID) {
			w.useSeller(t, api)
			c := w.pair(t)
			v, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			w.shopperApproves(t)
			api.stale.Store(1)
			return func() error {
				_, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
				return err
			}, v, c.SessionID
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &partPaidAPI{restatedAPI: newRestatedAPI(t, w.f.Platform, w.f.Key, 40, 40)}
			api.on.Store(false)
			call, screen, session := tc.arrange(t, w, api)
			paid := payflow.SessionRequestID(session, 0)
			shopper := w.shopperCard.Enrolment.ICCID
			require.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, w.balance(t, shopper))

			api.on.Store(true)
			err := call()
			require.ErrorIs(t, err, payflow.ErrMismatch)
			var pe *payflow.PaidError
			assert.False(t, errors.As(err, &pe), "not reported paid")
			assert.False(t, payflow.SawPaid(w.seller, paid), "not seen paid")
			assert.Equal(t, screen, payflow.Screen(w.seller), "the screen as it was")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, w.balance(t, shopper))

			api.on.Store(false)
			err = call()
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, paid, pe.Payment.ID)
			assert.Equal(t, uint64(100), pe.Payment.Captured)
			assert.True(t, payflow.SawPaid(w.seller, paid), "seen paid")
			on := payflow.Screen(w.seller)
			require.NotNil(t, on)
			assert.Equal(t, paid, on.ID)
			assert.Equal(t, payflow.StateCaptured, on.State)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, w.balance(t, shopper), "charged once")
		})
	}
}
