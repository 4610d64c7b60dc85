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
	"github.com/casimpay/casimpay/pki/record"
)

// TestRecoverDeferralFromSettlement: a settlement whose try by the
// recovery sweep fails is deferred by as long as the settlement has been
// under way, from when it began (the request's last update, its consent
// accepted), not from when the request was created: a request created
// 100s before its consent was accepted, swept 60s after that, is due
// again 60s later, its due time 30s (60s less RecoverAfter) after the
// sweep.
func TestRecoverDeferralFromSettlement(t *testing.T) {
	ctx := context.Background()
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, true, paytest.Options{})
	v, _ := s.request(t)
	consent := s.consent(t, v.ID)
	s.Clock.Advance(100 * time.Second)
	r, err := st.Payment(ctx, v.ID)
	require.NoError(t, err)
	h := record.Hash(consent)
	r.State, r.Attempt, r.Consent, r.ConsentHash, r.UpdatedAt = payflow.StateApproving, 1, consent, h[:], s.Clock.Now()
	r.HoldExpiresAt = s.Clock.Now().Add(payflow.DefaultHoldTTL)
	require.NoError(t, st.UpdatePayment(ctx, r, payflow.StatePending))

	// Every write of a payment that changes its state is lost; writes
	// that keep it (a deferral) are made.
	st.updatePayment.arm(plan[paymentUpdate]{when: func(u paymentUpdate) bool { return u.p.State != u.from }, fails: -1})
	s.Clock.Advance(60 * time.Second)
	n, err := s.Platform.RecoverSweep(ctx, 0)
	require.ErrorIs(t, err, errLost)
	assert.Zero(t, n)
	r, err = st.Payment(ctx, v.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateApproving, r.State)
	assert.Equal(t, s.Clock.Now().Add(30*time.Second), r.DeferredTo)
}
