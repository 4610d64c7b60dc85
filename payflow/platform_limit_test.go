package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestSweepsRefuseANegativeLimit: ExpireDue and RecoverSweep take zero
// for their default limit and refuse a negative one with ErrInvalid,
// doing nothing, as the stores refuse it (CheckDueLimit), rather than
// sweeping up to the default.
func TestSweepsRefuseANegativeLimit(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	ctx := context.Background()
	expiring, _ := s.request(t)
	stuck, _ := s.request(t)
	// A process recorded the consent and died before the ledger moved.
	s.recordConsent(t, stuck.ID, s.consent(t, stuck.ID), "")
	s.Clock.Advance(payflow.DefaultRequestTTL)

	n, err := s.Platform.ExpireDue(ctx, -1)
	assert.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: negative limit -1")
	assert.Zero(t, n)
	n, err = s.Platform.RecoverSweep(ctx, -1)
	assert.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: negative limit -1")
	assert.Zero(t, n)
	for id, want := range map[payflow.ID]string{expiring.ID: payflow.StatePending, stuck.ID: payflow.StateApproving} {
		r, err := s.Store.Payment(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, r.State)
	}
	assert.Equal(t, [2]payflow.Balance{{Posted: funds}, {}}, s.balances(t))

	n, err = s.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	s.sweep(t, 1)
	s.requireState(t, expiring.ID, payflow.StateExpired)
	s.requireState(t, stuck.ID, payflow.StateCaptured)
}
