package demo

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestGiveUpOnExpiredRequest: a till that gives up on a request that
// expired meanwhile (an outage outlasting its lifetime and -wait) says it
// expired, which no one can pay, not that Alice may still pay it. The
// cloud's clock stands still but for the step that expires the request,
// so that the request is payable for as long as Ask takes.
func TestGiveUpOnExpiredRequest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var at atomic.Int64
	at.Store(time.Now().UnixNano())
	w := newPairedPhonesAt(ctx, t, func() time.Time { return time.Unix(0, at.Load()) }, nil, nil)
	sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	sale.Charge.TTL = 1 // seconds
	asked, err := w.till.Ask(ctx, sale)
	require.NoError(t, err)
	require.Equal(t, payflow.StatePending, asked.State)
	at.Add(int64(1500 * time.Millisecond)) // the request expires on the cloud
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
	assert.EqualError(t, err, "demo: Alice paid request "+Short(paid.Payment.ID)+", but its receipt was not checked: context canceled", "no wait for a payment said to have ended: it came")
	assert.Equal(t, "[seller]  Alice paid request "+Short(paid.Payment.ID)+", but its receipt was not checked\n", w.out.String(), "no withdrawal tried")
}

// turnAPI runs pair once the cloud accepted a pairing, and cancel in
// place of the next cancellation, which then gets no answer
// (payflow.ErrUnavailable): each hook once.
type turnAPI struct {
	payflow.API
	mu           sync.Mutex
	pair, cancel func()
}

// take returns the hook *fn and takes it away.
func (a *turnAPI) take(fn *func()) func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	hook := *fn
	*fn = nil
	return hook
}

func (a *turnAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	s, err := a.API.Pair(ctx, req)
	if hook := a.take(&a.pair); err == nil && hook != nil {
		hook()
	}
	return s, err
}

func (a *turnAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if hook := a.take(&a.cancel); hook != nil {
		hook()
		return nil, payflow.ErrUnavailable
	}
	return a.API.Cancel(ctx, token, id)
}

// TestWithdrawPaidOffScreen: the till selects Alice again while a request
// of its own is answered (made), which the selection takes off the screen
// and cannot withdraw (no answer), and the till asks for the next payment
// meanwhile (next), which keeps the screen. Alice pays both. Withdraw
// sends made again, which the seller phone reports paid without putting it
// on screen (payflow.PaidError): Withdraw returns that payment, unchecked,
// with the *payflow.PaidError, not the receipt of next, the request on
// screen, as the outcome of the request withdrawn; the till that gives up
// (GiveUp) says that Alice paid made, its receipt not checked.
func TestWithdrawPaidOffScreen(t *testing.T) {
	t.Run("Withdraw", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w, _, made := paidOffScreen(ctx, t)
		v, rc, err := w.till.Withdraw(ctx)
		paid, ok := errors.AsType[*payflow.PaidError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, made.ID, paid.Payment.ID)
		require.NotNil(t, v)
		assert.Equal(t, made.ID, v.ID, "the request paid")
		assert.Nil(t, rc, "its receipt is not checked")
	})
	t.Run("GiveUp", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w, sale, made := paidOffScreen(ctx, t)
		w.out.Reset()
		v, rc, err := w.till.GiveUp(ctx, ctx, sale.Shopper, made, payflow.ErrUnavailable, sellerAgain)
		assert.Nil(t, v)
		assert.Nil(t, rc)
		paid, ok := errors.AsType[*payflow.PaidError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, made.ID, paid.Payment.ID)
		assert.Contains(t, err.Error(), "demo: Alice paid request "+Short(made.ID)+", but its receipt was not checked")
		assert.NotContains(t, w.out.String(), "may still pay", "the request is paid")
	})
}

// paidOffScreen sets up TestWithdrawPaidOffScreen up to Alice's payments,
// returning the phones, the sale asked for and made. The phones' clock
// stands still, so that the till selects Alice again in the session they
// paired in.
func paidOffScreen(ctx context.Context, t *testing.T) (*pairedPhones, *Sale, *payflow.PaymentView) {
	t.Helper()
	stopWallClock(t)
	var api *turnAPI
	w := newPairedPhones(ctx, t, nil, func(p payflow.API) payflow.API {
		api = &turnAPI{API: p}
		return api
	})
	sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	var made, next *payflow.PaymentView
	api.pair = func() {
		var err error
		made, err = w.till.Seller.Request(ctx, sale.Charge)
		require.NoError(t, err)
	}
	api.cancel = func() {
		_, err := w.till.Seller.WaitPaired(ctx)
		require.NoError(t, err)
		next, err = w.till.Seller.Request(ctx, sale.Charge)
		require.NoError(t, err)
	}
	shoppers, err := w.till.ServiceQueue(ctx)
	require.NoError(t, err)
	require.Len(t, shoppers, 1)
	_, err = w.till.Confirm(ctx, shoppers[0])
	require.NoError(t, err, "made is kept to be withdrawn")
	require.NotNil(t, made)
	require.NotNil(t, next)
	for _, want := range []*payflow.PaymentView{made, next} {
		v, err := w.alice.AwaitRequest(ctx)
		require.NoError(t, err)
		require.Equal(t, want.ID, v.ID)
		_, err = w.alice.Approve(ctx, v, PIN)
		require.NoError(t, err)
	}
	return w, sale, made
}
