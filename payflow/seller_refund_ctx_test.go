package payflow_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// scriptedRefundAPI answers each refund with the next of answers while
// any is left (not sent to the platform), and sends the others; it counts
// the refunds it is given.
type scriptedRefundAPI struct {
	payflow.API
	mu      sync.Mutex
	answers []func() error
	given   int
}

func (a *scriptedRefundAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	a.mu.Lock()
	a.given++
	var answer func() error
	if len(a.answers) > 0 {
		answer, a.answers = a.answers[0], a.answers[1:]
	}
	a.mu.Unlock()
	if answer != nil {
		return nil, answer()
	}
	return a.API.Refund(ctx, req)
}

// TestSellerRefundWhoseContextEndsSignsNothing: a Refund whose context
// ends after it began, here as the platform refuses the refund kept from
// before (not made), with an API (a Platform in process) that does not
// look at the context, fails with the context's error before the card
// signs: the card signs no refund and none is made. The next Refund
// makes it.
func TestSellerRefundWhoseContextEndsSignsNothing(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &scriptedRefundAPI{API: w.f.Platform}
	w.useSeller(t, api)
	w.pair(t)
	w.purchase(t)
	ending, cancel := withCancelCause(ctx)
	defer cancel()
	api.answers = []func() error{
		func() error { return payflow.ErrUnavailable },     // the first refund gets no answer
		func() error { cancel(); return payflow.ErrLimit }, // sent again: refused, not made
	}
	_, err := w.seller.Refund(ctx, 100)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	w.requireRefundFails(t, ending, errCallerGone)

	rc, err := w.seller.Refund(ctx, 200)
	require.NoError(t, err)
	assert.Equal(t, uint64(200), rc.Amount)
}

// refunds returns how many refunds a was given.
func (a *scriptedRefundAPI) refunds() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.given
}
