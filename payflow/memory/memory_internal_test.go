package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

// TestDeleteExpiredRepliesUnlocked: DeleteExpired releases the store's
// lock before it sweeps the idempotent replies, so that no other call of
// the store waits for that sweep; it deletes both and counts both.
func TestDeleteExpiredRepliesUnlocked(t *testing.T) {
	s := New()
	ctx := context.Background()
	at := time.Unix(1_800_000_000, 0)
	s.mu.Lock()
	s.nonces["expired"] = at.Add(time.Second)
	s.nonces["live"] = at.Add(time.Minute)
	s.mu.Unlock()
	_, err := s.BeginIdempotent(ctx, "expired", []byte{1}, at, at.Add(time.Second))
	require.NoError(t, err)
	_, err = s.BeginIdempotent(ctx, "live", []byte{2}, at, at.Add(time.Minute))
	require.NoError(t, err)

	calls := 0
	s.beforeReplies = func() {
		calls++
		require.True(t, s.mu.TryLock(), "the store's lock is free before the replies are swept")
		s.mu.Unlock()
	}
	n, err := s.DeleteExpired(ctx, at.Add(time.Second))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the nonce and the reply")
	assert.Equal(t, 1, calls)
	assert.Equal(t, map[string]time.Time{"live": at.Add(time.Minute)}, s.nonces)
	_, err = s.BeginIdempotent(ctx, "expired", []byte{3}, at.Add(time.Second), at.Add(time.Minute))
	require.NoError(t, err, "the expired key deleted: another body takes it")
	_, err = s.BeginIdempotent(ctx, "live", []byte{3}, at.Add(time.Second), at.Add(time.Minute))
	assert.ErrorIs(t, err, payflow.ErrKeyReuse, "the live key held, for its body only")
}
