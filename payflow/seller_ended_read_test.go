package payflow_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// readsAPI answers the reads of a request with its view in the states of
// reads, one read each, in turn, and as the platform holds it once they
// ran out.
type readsAPI struct {
	payflow.API
	mu    sync.Mutex
	reads []string
}

func (a *readsAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || len(a.reads) == 0 {
		return v, err
	}
	c := *v
	c.State, a.reads = a.reads[0], a.reads[1:]
	return &c, nil
}

// TestSellerRefusesPayableReadAfterEnded: a Request whose withdrawal of
// the request on screen the platform answers ErrFinal (paid meanwhile),
// and whose read of that request then shows it still payable (pending or
// held), which is no view of an ended request, fails with ErrInternal,
// the card signing nothing and the request staying on screen; the next
// Request finds it paid (a *PaidError) and leaves it on screen.
func TestSellerRefusesPayableReadAfterEnded(t *testing.T) {
	ctx := context.Background()
	for _, state := range []string{payflow.StatePending, payflow.StateHeld} {
		t.Run(state, func(t *testing.T) {
			w, api := newSellerWorldThrough(t, false, func(p payflow.API) *readsAPI { return &readsAPI{API: p} })
			w.pair(t)
			sv, _ := w.request(t)
			w.shopperApproves(t)
			w.assertState(t, sv.ID, payflow.StateCaptured)
			counter, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			// The first read shows the request pending, so that Request
			// cancels it; the read after the cancellation shows state.
			api.mu.Lock()
			api.reads = []string{payflow.StatePending, state}
			api.mu.Unlock()
			v, err := w.seller.Request(ctx, basket)
			require.ErrorIs(t, err, payflow.ErrInternal)
			assert.Nil(t, v)
			after, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, counter, after, "the card signed no request")
			api.mu.Lock()
			assert.Empty(t, api.reads, "both reads made")
			api.mu.Unlock()
			v, err = w.seller.Request(ctx, basket)
			assert.Nil(t, v)
			var paid *payflow.PaidError
			require.ErrorAs(t, err, &paid, "still on screen as last seen, pending")
			assert.Equal(t, sv.ID, paid.Payment.ID)
			on, err := w.seller.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, sv.ID, on.ID)
			assert.Equal(t, payflow.StateCaptured, on.State)
		})
	}
}
