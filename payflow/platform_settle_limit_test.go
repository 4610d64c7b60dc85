package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestExpireDueLimitOne: ExpireDue with a limit of one voids the one
// held payment past its hold's expiry and counts it: the hold released,
// the request expired.
func TestExpireDueLimitOne(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, true, paytest.Options{})
	before := s.balances(t)
	h := s.held(t)
	s.Clock.Advance(payflow.DefaultHoldTTL + 1)
	n, err := s.Platform.ExpireDue(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	s.requireState(t, h.ID, payflow.StateExpired)
	assert.Equal(t, before, s.balances(t), "the hold released")
}

// TestRecoverSweepLimitOne: a recovery sweep with a limit of one ends the
// one refund left pending (its transfer failed for want of the ledger)
// and counts it.
func TestRecoverSweepLimitOne(t *testing.T) {
	ctx := context.Background()
	s, dl, v, _ := readsDownShop(t)
	st := s.Store
	id := payflow.ID([]byte("refund-000000001"))
	msg := s.seller.MustSign(&record.RefundRequest{RefundID: id[:], RequestID: v.ID[:], Amount: 200, Currency: "EUR"})
	dl.down.Store(true)
	_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	dl.down.Store(false)

	s.Clock.Advance(payflow.DefaultRecoverAfter)
	n, err := s.Platform.RecoverSweep(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	requireRefund(t, st, id, payflow.RefundDone, 200)
}
