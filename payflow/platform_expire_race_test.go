package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// cancelledMeanwhile is a Store on which another process records the
// payments in state that ExpireDue finds due as cancelled (a held one as
// voiding towards cancelled), once, just after they were read.
type cancelledMeanwhile struct {
	payflow.Store
	state string
	once
}

func (s *cancelledMeanwhile) DuePayments(ctx context.Context, state string, t time.Time, limit int) ([]*payflow.PaymentRecord, error) {
	due, err := s.Store.DuePayments(ctx, state, t, limit)
	if err != nil || state != s.state || len(due) == 0 || !s.take() {
		return due, err
	}
	for _, r := range due {
		other := *r
		other.State = payflow.StateCancelled
		if state == payflow.StateHeld {
			other.State, other.VoidTo = "voiding", payflow.StateCancelled
		}
		if err := s.Store.UpdatePayment(ctx, &other, state); err != nil {
			return nil, err
		}
	}
	return due, nil
}

// TestExpireHoldCancelledMeanwhile: a held payment past its hold's expiry
// that another process records as cancelling between ExpireDue's read
// and its write is left to that process: ExpireDue expires nothing and
// reports no error, the request stays voiding towards cancelled, and the
// hold stays as it was.
func TestExpireHoldCancelledMeanwhile(t *testing.T) {
	ctx := context.Background()
	s := newShopOn(t, &cancelledMeanwhile{Store: memory.New(), state: payflow.StateHeld}, true, paytest.Options{})
	h := s.held(t)
	held := s.balances(t)
	s.Clock.Advance(payflow.DefaultHoldTTL + time.Second)

	n, err := s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Zero(t, n)
	r, err := s.Store.Payment(ctx, h.ID)
	require.NoError(t, err)
	assert.Equal(t, "voiding", r.State)
	assert.Equal(t, payflow.StateCancelled, r.VoidTo)
	assert.Equal(t, held, s.balances(t), "the hold as it was")
}

// TestExpireCancelledMeanwhile: a pending request past its expiry that
// another process cancels between ExpireDue's read and its write stays
// cancelled: ExpireDue expires nothing and reports no error.
func TestExpireCancelledMeanwhile(t *testing.T) {
	ctx := context.Background()
	s := newShopOn(t, &cancelledMeanwhile{Store: memory.New(), state: payflow.StatePending}, false, paytest.Options{})
	v, _ := s.request(t)
	s.Clock.Advance(payflow.DefaultRequestTTL + time.Second)

	n, err := s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Zero(t, n)
	s.requireState(t, v.ID, payflow.StateCancelled)
}
