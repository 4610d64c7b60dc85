package demo

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/payflow"
)

// endedWait returns a context of a phone program's wait, -wait, that has
// ended already.
func endedWait(ctx context.Context, t *testing.T) context.Context {
	t.Helper()
	wait := outwait.NewDeadline(ctx)
	wait.Pass()
	return wait
}

// TestAwaitPairedWaitEnded: a phone that selected the other phone, which
// never confirms it, ends when -wait ends with an error that says whose
// confirmation it waited for and that -wait ended, not a bare context
// deadline exceeded.
func TestAwaitPairedWaitEnded(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	w := newPhones(ctx, t, nil, nil)
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{w.alice.Station, w.till.Station}, []*Listener{w.alice.Scanner, w.till.Scanner}, time.Now()))
	shoppers, err := w.till.ServiceQueue(ctx)
	require.NoError(t, err)
	require.Len(t, shoppers, 1)
	sel, err := w.till.Confirm(ctx, shoppers[0])
	require.NoError(t, err)

	_, err = w.till.awaitPaired(endedWait(ctx, t), "Alice", sel)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualError(t, err, "demo: no confirmation from Alice before -wait ended: context deadline exceeded")
}

// TestAwaitRequestWaitEnded: a shopper's phone paired with a till that
// asks nothing ends when -wait ends with an error that says whose payment
// request it waited for and that -wait ended; one interrupted says so.
func TestAwaitRequestWaitEnded(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)

	_, err := awaitRequest(endedWait(ctx, t), w.alice, "Corner Grocer")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualError(t, err, "demo: no payment request from Corner Grocer before -wait ended: context deadline exceeded")

	ictx, interrupt := context.WithCancel(ctx)
	interrupt()
	_, err = awaitRequest(ictx, w.alice, "Corner Grocer")
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, err, "demo: no payment request from Corner Grocer before the phone was interrupted: context canceled")
}

// TestSettleWaitEnded: a till whose request Alice does not pay before
// -wait ends withdraws it and ends with an error that says which request
// was not paid and that -wait ended.
func TestSettleWaitEnded(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)
	sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	asked, err := w.till.Ask(ctx, sale)
	require.NoError(t, err)

	w.out.Reset()
	_, _, err = settle(ctx, endedWait(ctx, t), w.till, sale, asked, false, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualError(t, err, "demo: no payment of request "+Short(asked.ID)+" from Alice before -wait ended: context deadline exceeded")
	assert.Contains(t, w.out.String(), "Request "+Short(asked.ID)+" withdrawn: cancelled")
}

// endingPairAPI answers Pair, the cloud's taking of a selection, as a
// cloud that does not answer (payflow.ErrUnavailable), having first ended
// the wait with end.
type endingPairAPI struct {
	payflow.API
	end func()
}

func (a *endingPairAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	a.end()
	return nil, payflow.ErrUnavailable
}

// TestSelectPickWaitEnded: a phone whose selection of the other phone the
// cloud does not answer until -wait ends fails with an error that says
// whose selection had no answer and that -wait ended, not a bare
// payflow: unavailable; one interrupted so says that it was interrupted.
// The phones' clock stands still, so that Alice's service queue keeps the
// till heard however long the scans take.
func TestSelectPickWaitEnded(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	stopWallClock(t)
	wait := outwait.NewDeadline(context.Background())
	ictx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	var end func()
	w := newPhones(ctx, t, func(api payflow.API) payflow.API {
		return &endingPairAPI{API: api, end: func() { end() }}
	}, nil)
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{w.alice.Station, w.till.Station}, []*Listener{w.alice.Scanner, w.till.Scanner}, WallClock()))

	end = wait.Pass
	sel, err := w.alice.selectPick(wait, "Corner Grocer")
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.EqualError(t, err, "demo: no answer to the selection of Corner Grocer before -wait ended: payflow: unavailable")
	assert.Nil(t, sel)

	end = interrupt
	sel, err = w.alice.selectPick(ictx, "Corner Grocer")
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.EqualError(t, err, "demo: no answer to the selection of Corner Grocer before the phone was interrupted: payflow: unavailable")
	assert.Nil(t, sel)
}
