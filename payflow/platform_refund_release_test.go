package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
)

// TestRefusedRefundReleaseUpdatesPayment: a pending refund, reserved and
// its transfer not made, that the ledger refuses when the recovery sweep
// drives it (the merchant's balance, 90 after a payout, does not cover
// 200) ends failed and releases its reservation in the same write, which
// records the payment updated at the refusal's time, not at the
// reservation's: nothing refunded, its UpdatedAt the sweep's time.
func TestRefusedRefundReleaseUpdatesPayment(t *testing.T) {
	ctx := context.Background()
	s, v, id, msg := paidRefund(t, memory.New(), 600)
	reserveRefund(t, s.Store, v.ID, msg, s.Clock.Now())
	s.Clock.Advance(payflow.DefaultRecoverAfter + time.Minute)

	s.sweep(t, 1, "a refused refund ends")
	requireRefund(t, s.Store, id, payflow.RefundFailed, 0)
	r, err := s.Store.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, s.Clock.Now(), r.UpdatedAt)
}
