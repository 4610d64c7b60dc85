package demo

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestGiveUpAfterPayment: a till that gives up on the request on its
// screen that Alice paid just before (GiveUp, Withdraw) withdraws
// nothing: it returns the paid request and its verified receipt, and no
// error, showing the receipt. Ask showed the request signed, and who is
// to approve it.
func TestGiveUpAfterPayment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)
	sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	w.out.Reset()
	asked, err := w.till.Ask(ctx, sale)
	require.NoError(t, err)
	assert.Equal(t, "[seller]  The card signed payment request "+Short(asked.ID)+"; waiting for Alice to approve\n", w.out.String())
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = w.alice.Approve(ctx, v, PIN)
	require.NoError(t, err)

	w.out.Reset()
	got, rc, err := w.till.GiveUp(ctx, ctx, sale.Shopper, asked, payflow.ErrUnavailable, sellerAgain)
	require.NoError(t, err, "the payment is the purchase")
	require.NotNil(t, rc)
	assert.Equal(t, asked.ID, got.ID)
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Equal(t, uint64(1127), rc.Amount)
	assert.Contains(t, w.out.String(), "[seller]  Receipt verified offline")
	assert.NotContains(t, w.out.String(), "withdrawn")
	b, err := w.cloud.Platform.Balance(ctx, w.cards["alice"].ICCID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 5000 - 1127}, b, "charged once")
}

// TestGiveUpNothingAsked: a till that gives up before any payment
// request of its own was recorded has nothing to withdraw: GiveUp
// returns the error it gave up on as it is, and shows nothing.
func TestGiveUpNothingAsked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)
	w.out.Reset()
	v, rc, err := w.till.GiveUp(ctx, ctx, "Alice", nil, payflow.ErrUnavailable, sellerAgain)
	assert.Nil(t, v)
	assert.Nil(t, rc)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.EqualError(t, err, payflow.ErrUnavailable.Error(), "the error given up on, as it is")
	assert.Empty(t, w.out.String())
}

// TestWithdrawPaidSentAgain: a request whose answer was lost, which Alice
// paid, sent again by Withdraw to cancel it, is the paid request on the
// till's screen: Withdraw returns it with its verified receipt, no error.
func TestWithdrawPaidSentAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, func(p payflow.API) payflow.API {
		return &lostReplyAPI{API: p, err: payflow.ErrUnavailable}
	})
	sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	_, err = w.till.Ask(ctx, sale)
	require.ErrorIs(t, err, payflow.ErrUnavailable) // recorded, its reply lost
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = w.alice.Approve(ctx, v, PIN)
	require.NoError(t, err)
	w.out.Reset()
	got, rc, err := w.till.Withdraw(ctx)
	require.NoError(t, err)
	require.NotNil(t, rc)
	assert.Equal(t, v.ID, got.ID)
	assert.Equal(t, payflow.StateCaptured, got.State)
	assert.Contains(t, w.out.String(), "[seller]  Receipt verified offline")
}

// conflictCancelAPI answers every cancellation as the platform answers
// one of a request whose approval it is still settling.
type conflictCancelAPI struct{ payflow.API }

func (conflictCancelAPI) Cancel(context.Context, string, payflow.ID) (*payflow.PaymentView, error) {
	return nil, payflow.ErrConflict
}

// TestGiveUpWhileSettling: a till that gives up on its request once -wait
// ended while the cloud still settles Alice's approval of it, past the
// phone's wait for that settlement, says that the payment's outcome is
// unknown and how to learn it, and fails with the cloud's
// payflow.ErrConflict, the error it gave up on added unless that says
// the same. One interrupted says so, rather than that -wait ended.
func TestGiveUpWhileSettling(t *testing.T) {
	for _, tt := range []struct {
		name, when string
		err        error
		tail       string
	}{
		{"unavailable", "-wait ended", payflow.ErrUnavailable, " (" + payflow.ErrUnavailable.Error() + ")"},
		{"conflict", "-wait ended", payflow.ErrConflict, ""},
		{"interrupted", "the till was interrupted", payflow.ErrConflict, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			w := newPhones(ctx, t, nil, func(p payflow.API) payflow.API { return conflictCancelAPI{p} })
			v, err := ReceiptVerifier(w.cloud.Authority.Root.DER())
			require.NoError(t, err)
			w.till.Seller, err = payflow.NewSeller(w.till.Card.Card, payflow.PhoneOptions{API: w.till.API, Verifier: v, PollInterval: time.Millisecond, SettleWait: time.Millisecond})
			require.NoError(t, err)
			w.till.Scanner.Queue = w.till.Seller.Queue()
			pairPhones(ctx, t, w)
			sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
			require.NoError(t, err)
			asked, err := w.till.Ask(ctx, sale)
			require.NoError(t, err)

			gctx, wctx := ctx, endedWait(ctx, t)
			if tt.name == "interrupted" {
				ictx, interrupt := context.WithCancel(ctx)
				interrupt()
				gctx, wctx = ictx, ictx
			}
			w.out.Reset()
			got, rc, err := w.till.GiveUp(gctx, wctx, sale.Shopper, asked, tt.err, sellerAgain)
			assert.Nil(t, got)
			assert.Nil(t, rc)
			require.ErrorIs(t, err, payflow.ErrConflict)
			require.ErrorIs(t, err, tt.err)
			const unknown = "the payment's outcome is unknown (run the seller again to see it)"
			what := "request " + Short(asked.ID)
			assert.EqualError(t, err, "demo: "+what+": Alice's approval was still being settled when "+tt.when+"; "+unknown+": "+payflow.ErrConflict.Error()+tt.tail)
			assert.Equal(t, "[seller]  Alice's approval of "+what+" was still being settled when "+tt.when+": "+unknown+"\n", w.out.String())
		})
	}
}

// TestGiveUpCancelUnanswered: a till whose withdrawal the cloud does not
// answer says that Alice may still pay the request until the till pairs
// with her again, and fails with both the error it gave up on and the
// withdrawal's.
func TestGiveUpCancelUnanswered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var api *cancelDownAPI
	w := newPairedPhones(ctx, t, nil, func(p payflow.API) payflow.API {
		api = &cancelDownAPI{lostReplyAPI: &lostReplyAPI{API: p, lost: map[string]bool{"request": true}}}
		return api
	})
	sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	asked, err := w.till.Ask(ctx, sale)
	require.NoError(t, err)
	api.down.Store(true)

	w.out.Reset()
	got, rc, err := w.till.GiveUp(ctx, endedWait(ctx, t), sale.Shopper, asked, context.DeadlineExceeded, sellerAgain)
	assert.Nil(t, got)
	assert.Nil(t, rc)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	what := "request " + Short(asked.ID)
	assert.EqualError(t, err, "context deadline exceeded\ndemo: "+what+" was not withdrawn, and Alice may still pay it: "+payflow.ErrUnavailable.Error())
	assert.Equal(t, "[seller]  Could not withdraw "+what+": Alice may still pay it until the till pairs with her again\n", w.out.String())
	v, err := w.cloud.Store.Payment(ctx, asked.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, v.State, "payable still")
}
