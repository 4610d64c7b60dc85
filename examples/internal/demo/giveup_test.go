package demo

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestGiveUpOnExpiredRequest: a till that gives up on a request that
// expired meanwhile (an outage outlasting its lifetime and -wait) says it
// expired, which no one can pay, not that Alice may still pay it.
func TestGiveUpOnExpiredRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)
	sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	sale.Charge.TTL = 1 // seconds
	asked, err := w.till.Ask(ctx, sale)
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond) // the request expires on the cloud
	wctx, wcancel := context.WithCancel(ctx)
	wcancel() // -wait ended
	w.out.Reset()
	_, _, err = w.till.GiveUp(ctx, wctx, sale.Shopper, asked, payflow.ErrUnavailable, sellerAgain)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.ErrorIs(t, err, payflow.ErrExpired)
	assert.Contains(t, err.Error(), "demo: request "+Short(asked.ID)+" expired: no one can pay it")
	assert.Contains(t, w.out.String(), "Request "+Short(asked.ID)+" expired: no one can pay it")
	assert.NotContains(t, w.out.String(), "may still pay", "an expired request cannot be paid")
	assert.NotContains(t, err.Error(), "may still pay", "an expired request cannot be paid")
}

// cancelDownAPI is a lostReplyAPI whose Cancel gets no answer while down.
type cancelDownAPI struct {
	*lostReplyAPI
	down atomic.Bool
}

func (a *cancelDownAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if a.down.Load() {
		return nil, payflow.ErrUnavailable
	}
	return a.lostReplyAPI.Cancel(ctx, token, id)
}

// TestSellerPaidReceiptUnchecked: the till learnt that Alice paid the
// request sent again (*PaidError), and -wait ends before it verified the
// receipt, the cloud answering no cancellation then: the seller's end
// (settle) says the request was paid and its receipt not checked, and
// tries no withdrawal, where it said Alice might still pay it.
func TestSellerPaidReceiptUnchecked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var api *cancelDownAPI
	w := newPairedPhones(ctx, t, nil, func(p payflow.API) payflow.API {
		api = &cancelDownAPI{lostReplyAPI: &lostReplyAPI{API: p, err: payflow.ErrUnavailable}}
		return api
	})
	sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	_, askErr := w.till.Ask(ctx, sale)
	require.ErrorIs(t, askErr, payflow.ErrUnavailable) // recorded, its reply lost
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = w.alice.Approve(ctx, v, PIN)
	require.NoError(t, err)
	_, err = w.till.AskAgain(ctx, sale, askErr)
	paid, ok := errors.AsType[*payflow.PaidError](err)
	require.True(t, ok, "%v", err)
	api.down.Store(true) // a withdrawal's Cancel gets no answer from now on
	wctx, wcancel := context.WithCancel(ctx)
	wcancel() // -wait ended
	w.out.Reset()
	_, _, err = settle(ctx, wctx, w.till, sale, paid.Payment, true, nil)
	require.ErrorIs(t, err, context.Canceled) // the wait for the receipt, -wait ended
	assert.Contains(t, err.Error(), "demo: Alice paid request "+Short(paid.Payment.ID)+", but its receipt was not checked")
	assert.NotContains(t, w.out.String(), "may still pay", "the request is paid")
	assert.NotContains(t, err.Error(), "may still pay", "the request is paid")
}
