package memory

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
)

// TestCancelPendingForgetsEndedRequests: a session's list of requests
// for Acceptance.CancelPending keeps only those that may still be pending
// (pending, or a settlement under way that a refused hold sets back to
// pending), so that pairing again in a long session does not scan every
// request the session ever had.
func TestCancelPendingForgetsEndedRequests(t *testing.T) {
	s := New()
	at := time.Unix(1_800_000_000, 0)
	session := payflow.ID{0xee}
	states := []string{payflow.StatePending, payflow.StateHeld, payflow.StateCaptured, payflow.StateDeclined,
		payflow.StateCancelled, payflow.StateExpired, "approving", payflow.StatePending}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, state := range states {
		s.insertPaymentLocked(&payflow.PaymentRecord{ID: payflow.ID{byte(i + 1)}, SessionID: session, State: state,
			ExpiresAt: at.Add(time.Duration(i-6) * time.Minute)}) // the last two unexpired at at
	}
	s.cancelPendingLocked(session, at)
	assert.Equal(t, payflow.StatePending, s.payments[payflow.ID{1}].State, "expired at at: left to expiry")
	assert.Equal(t, payflow.StateCancelled, s.payments[payflow.ID{8}].State)
	assert.Equal(t, []payflow.ID{{1}, {7}}, s.bySession[session], "the pending one left to expiry and the one under way")

	s.payments[payflow.ID{1}].State = payflow.StateExpired
	s.payments[payflow.ID{7}].State = payflow.StateCaptured
	s.cancelPendingLocked(session, at)
	_, kept := s.bySession[session]
	assert.False(t, kept, "a session with no request that may be pending holds no list")
}
