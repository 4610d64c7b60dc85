package memory

import (
	"context"
	"fmt"
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
		payflow.StateCancelled, payflow.StateExpired, payflow.StateApproving, payflow.StatePending}
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

// TestDeleteExpiredInBatches: DeleteExpired walks the nonces, tokens and
// sessions sweepBatch entries at most in one hold of the store's lock and
// releases it between two batches, where other calls of the store
// complete, another DeleteExpired among them; the two delete every
// expired entry and count each once, and keep the live ones and those
// written meanwhile. An entry whose expiry another call moved past now
// between two batches is kept, the one the range had produced before the
// lock was released too.
func TestDeleteExpiredInBatches(t *testing.T) {
	ctx := context.Background()
	at := time.Unix(1_800_000_000, 0)
	const each = 200 // entries of each kind: every used nonce expired at at, half the others
	// fill returns a store of each entries of each kind and its live
	// nonces.
	fill := func() (*Store, map[string]time.Time) {
		s := New()
		live := map[string]time.Time{}
		s.mu.Lock()
		defer s.mu.Unlock()
		for i := range each {
			k := fmt.Sprint(i)
			exp := at.Add(time.Duration(i%2) * time.Minute)
			if i%2 == 1 {
				live[k] = exp
			}
			s.nonces[k], s.used[k] = exp, at
			s.tokens[k] = &payflow.TokenRecord{Hash: []byte(k), CardID: "card", ExpiresAt: exp}
			s.sessions[payflow.ID{byte(i)}] = &payflow.SessionRecord{ID: payflow.ID{byte(i)}, ExpiresAt: exp}
		}
		return s, live
	}
	s, live := fill()

	releases, other := 0, 0
	s.betweenBatches = func() {
		releases++
		require.True(t, s.mu.TryLock(), "the store's lock is free between two batches")
		s.mu.Unlock()
		if releases > 1 {
			return // the other sweep's
		}
		require.NoError(t, s.Add(ctx, []byte("meanwhile"), at.Add(time.Hour)), "a call between two batches")
		live["meanwhile"] = at.Add(time.Hour)
		var err error
		other, err = s.DeleteExpired(ctx, at)
		require.NoError(t, err)
	}
	n, err := s.DeleteExpired(ctx, at)
	require.NoError(t, err)
	// The sweep walks the nonces, the used nonces, the tokens and the
	// sessions in that order. Its first batch ends before the used nonce
	// sweepBatch-each+1, which the other sweep deletes with the used
	// nonces left and the expired tokens and sessions, in three batches;
	// the first walks the live tokens and sessions left in one batch.
	firstUsed := sweepBatch - each
	assert.Equal(t, each/2+firstUsed, n)
	assert.Equal(t, each-firstUsed+each/2+each/2, other)
	assert.Equal(t, 1+2, releases)
	assert.Equal(t, live, s.nonces)
	assert.Empty(t, s.used)
	assert.Len(t, s.tokens, each/2)
	for _, tk := range s.tokens {
		assert.Equal(t, at.Add(time.Minute), tk.ExpiresAt)
	}
	assert.Len(t, s.sessions, each/2)
	for _, r := range s.sessions {
		assert.Equal(t, at.Add(time.Minute), r.ExpiresAt)
	}

	// Between the two batches, every used nonce left is renewed for an
	// hour: the first batch's are deleted, and none of the others, the
	// one at the batches' boundary included, which the sweep reads again.
	s, _ = fill()
	releases = 0
	s.betweenBatches = func() {
		if releases++; releases > 1 {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		assert.Len(t, s.used, each-firstUsed, "the used nonces the first batch left")
		for k := range s.used {
			s.used[k] = at.Add(time.Hour)
		}
	}
	n, err = s.DeleteExpired(ctx, at)
	require.NoError(t, err)
	assert.Equal(t, 3, releases, "4 batches: every entry of the 4 kinds walked")
	assert.Equal(t, each/2+firstUsed+each/2+each/2, n, "the expired nonces, the first batch's used nonces, tokens and sessions")
	assert.Len(t, s.used, each-firstUsed, "no renewed used nonce is deleted")
	for k, exp := range s.used {
		assert.Equal(t, at.Add(time.Hour), exp, k)
	}
	assert.Len(t, s.nonces, each/2)
	assert.Len(t, s.tokens, each/2)
	assert.Len(t, s.sessions, each/2)
}

// TestDeleteExpiredEnds: entries written expired at the sweep's now while
// it runs (by processes whose clocks are behind the sweeper's) do not keep
// DeleteExpired going: it walks each map once, and ends.
func TestDeleteExpiredEnds(t *testing.T) {
	ctx := context.Background()
	at := time.Unix(1_800_000_000, 0)
	s := New()
	s.mu.Lock()
	for i := range 300 {
		s.nonces[fmt.Sprint("old ", i)] = at
	}
	s.mu.Unlock()
	batches := 0
	s.betweenBatches = func() {
		if batches++; batches > 10 {
			return // the writers stop: the sweep ends anyway
		}
		for i := range sweepBatch {
			require.NoError(t, s.Add(ctx, []byte(fmt.Sprint("fresh ", batches, " ", i)), at.Add(time.Second)))
		}
	}
	_, err := s.DeleteExpired(ctx, at.Add(2*time.Second))
	require.NoError(t, err)
	assert.LessOrEqual(t, batches, 10, "the sweep ended while entries expired at its now kept coming")
	for k := range s.nonces {
		assert.NotContains(t, k, "old", "the entries expired at its start are deleted")
	}
}

// TestSettledRequestsLeaveTheirSessionList: a request leaves its
// session's list for Acceptance.CancelPending once a write takes it out of
// pending and approving (held, a capture or void under way, or final), so
// that the list of a session that is never paired again does not grow
// with its payments; one that a refused hold sets back to pending stays in
// it once, and a pairing still cancels the pending ones and marks those
// under approval.
func TestSettledRequestsLeaveTheirSessionList(t *testing.T) {
	s := New()
	at := time.Unix(1_800_000_000, 0)
	session := payflow.ID{0xee}
	s.mu.Lock()
	defer s.mu.Unlock()
	move := func(id payflow.ID, state string) {
		p := copyPayment(s.payments[id])
		p.State = state
		s.writePaymentLocked(p)
	}
	insert := func(id payflow.ID) {
		s.insertPaymentLocked(&payflow.PaymentRecord{ID: id, SessionID: session, State: payflow.StatePending, ExpiresAt: at.Add(time.Minute)})
	}
	for i := range 100 { // payments captured in one session
		id := payflow.ID{0x10, byte(i)}
		insert(id)
		move(id, payflow.StateApproving)
		move(id, payflow.StateCaptured)
	}
	_, kept := s.bySession[session]
	assert.False(t, kept, "no request of the session may be pending")

	for i := byte(1); i <= 5; i++ {
		insert(payflow.ID{i})
	}
	move(payflow.ID{1}, payflow.StateApproving)
	move(payflow.ID{2}, payflow.StateDeclined)
	move(payflow.ID{3}, payflow.StateApproving)
	move(payflow.ID{3}, payflow.StateHeld)
	move(payflow.ID{5}, payflow.StateCancelled)
	assert.Equal(t, []payflow.ID{{1}, {4}}, s.bySession[session], "the approving and the pending one")
	move(payflow.ID{1}, payflow.StatePending)   // its hold refused
	move(payflow.ID{1}, payflow.StateApproving) // another consent
	move(payflow.ID{3}, "capturing")
	move(payflow.ID{3}, payflow.StateCaptured)
	assert.Equal(t, []payflow.ID{{1}, {4}}, s.bySession[session], "each once, the captured one out")

	s.cancelPendingLocked(session, at)
	assert.Equal(t, payflow.StateCancelled, s.payments[payflow.ID{4}].State, "the pending one cancelled")
	assert.Equal(t, payflow.StateCancelled, s.payments[payflow.ID{1}].VoidTo, "the approving one marked")
	assert.Equal(t, []payflow.ID{{1}}, s.bySession[session], "the approving one kept")
	move(payflow.ID{1}, payflow.StateCancelled) // its hold refused after the pairing
	_, kept = s.bySession[session]
	assert.False(t, kept)
	assert.Len(t, s.payments, 105, "every request kept")
}

// TestNonceTimesWallClock: the expiries of the nonces that Add issues and
// of those that Accept marks used, which no call reads back, are kept on
// the wall clock only, as every time of the store (the paytest
// conformance suite's WallClock checks the others).
func TestNonceTimesWallClock(t *testing.T) {
	s := New()
	ctx := context.Background()
	now := time.Now()
	require.Contains(t, now.String(), "m=", "time.Now carries a monotonic clock reading")
	issued, used := []byte("issued nonce"), []byte("used nonce")
	require.NoError(t, s.Add(ctx, issued, now.Add(time.Minute)))
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: used, NonceExpires: now.Add(time.Hour), CardID: "8900000000000000001", Counter: 1}))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range []struct {
		what      string
		want, got time.Time
	}{
		{"issued", now.Add(time.Minute), s.nonces[string(issued)]},
		{"used", now.Add(time.Hour), s.used[string(used)]},
	} {
		assert.NotContains(t, c.got.String(), "m=", c.what)
		assert.Equal(t, c.want.Round(0), c.got, c.what)
	}
}
