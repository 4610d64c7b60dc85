package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestApproveMeetsUnknownState: an approval whose record of its capture
// loses to a process that recorded the request, meanwhile, in a state
// that this version does not know (one of a later version) fails
// internal, naming that state, and leaves the request as that process
// recorded it; the money moved once, by this approval's capture.
func TestApproveMeetsUnknownState(t *testing.T) {
	ctx := context.Background()
	st := &updateHook{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	v, _ := s.request(t)
	c := s.consent(t, v.ID)
	var taken once
	st.hook = func(p *payflow.PaymentRecord, from string) error {
		if from != payflow.StateApproving || p.State != payflow.StateCaptured || !taken.take() {
			return nil
		}
		later := *p
		later.State = "disputed"
		return st.Store.UpdatePayment(ctx, &later, from)
	}

	_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: c})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.EqualError(t, err, `payflow: internal error: unknown state "disputed"`)
	s.requireState(t, v.ID, "disputed")
	assert.Equal(t, basketPaid, s.balances(t), "moved once")
}
