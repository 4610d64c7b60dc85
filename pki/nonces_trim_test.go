package pki

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// issuesKept returns how many issues s keeps, used or not, and the room
// of the array that holds them.
func (s *MemoryNonces) issuesKept() (n, room int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.issues), cap(s.issues)
}

// TestMemoryNoncesTrimWhenUsedOutnumberHeld: a store keeps the issues of
// the nonces used while they are no more than the nonces held, and drops
// every one of them, keeping the others in an array of their size, in the
// call that uses one that makes them outnumber the nonces held; a call
// that uses none (an unknown nonce) drops none.
func TestMemoryNoncesTrimWhenUsedOutnumberHeld(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonces(0)
	expires := t0.Add(time.Hour)
	const (
		add = iota
		use
		unknown // a nonce used before: refused, nothing used
	)
	for i, step := range []struct {
		op, nonce    int
		held, issues int
		room         int // of the array of issues; -1: not checked
		what         string
	}{
		{add, 0, 1, 1, -1, ""},
		{add, 1, 2, 2, -1, ""},
		{add, 2, 3, 3, -1, ""},
		{add, 3, 4, 4, -1, "four issued"},
		{use, 0, 3, 4, -1, "one used, three held"},
		{use, 1, 2, 4, -1, "two used, as many as held"},
		{use, 2, 1, 1, 1, "three used, outnumbering the one held: dropped, the one kept in an array of its size"},
		{add, 4, 2, 2, -1, ""},
		{add, 5, 3, 3, -1, "two more issued"},
		{unknown, 0, 3, 3, -1, "nothing used"},
		{use, 3, 2, 3, -1, "one used, two held"},
		{use, 4, 1, 1, 1, "two used, outnumbering the one held: dropped"},
		{use, 5, 0, 0, 0, "every nonce used: no array kept"},
	} {
		nonce := []byte{byte(step.nonce)}
		switch step.op {
		case add:
			require.NoError(t, s.Add(ctx, nonce, expires), "step %d", i)
		case use:
			require.NoError(t, s.Consume(ctx, nonce, t0), "step %d", i)
		case unknown:
			require.ErrorIs(t, s.Consume(ctx, nonce, t0), ErrNonce, "step %d", i)
		}
		n, room := s.issuesKept()
		assert.Equal(t, step.held, s.Len(), "step %d: %s", i, step.what)
		assert.Equal(t, step.issues, n, "step %d: %s", i, step.what)
		if step.room >= 0 {
			assert.Equal(t, step.room, room, "step %d: %s", i, step.what)
		}
	}
}

// TestMemoryNoncesTrimKeepsExpiryOrder: the issues a store keeps when it
// drops those of the nonces used stay ordered by expiry: of seven nonces
// issued with expiries of 7 down to 1 minutes, the four that expire first
// of the minutes 1, 2, 4 and 5 used, the three held (3, 6 and 7 minutes)
// leave in the order they expire, each at its expiry, and none before;
// the last one gone, the store keeps no array.
func TestMemoryNoncesTrimKeepsExpiryOrder(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonces(0)
	minute := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for m := 7; m >= 1; m-- {
		require.NoError(t, s.Add(ctx, []byte{byte(m)}, minute(m)))
	}
	for _, m := range []int{1, 2, 4, 5} {
		require.NoError(t, s.Consume(ctx, []byte{byte(m)}, t0))
	}
	n, room := s.issuesKept()
	require.Equal(t, 3, s.Len())
	require.Equal(t, 3, n, "the issues of the four used dropped")
	require.Equal(t, 3, room)

	for _, step := range []struct {
		at   int
		held int
	}{{2, 3}, {3, 2}, {5, 2}, {6, 1}, {7, 0}} {
		assert.ErrorIs(t, s.Consume(ctx, []byte{0xFF}, minute(step.at)), ErrNonce)
		assert.Equal(t, step.held, s.Len(), "at minute %d", step.at)
		n, _ := s.issuesKept()
		assert.Equal(t, step.held, n, "at minute %d", step.at)
	}
	n, room = s.issuesKept()
	assert.Zero(t, n+room, "the last issue dropped at its expiry, and the array let go")
}

// TestMemoryNoncesTrimDropsReplacedIssue: the issue of a nonce used and
// issued again since is dropped with those of the other nonces used,
// though its bytes are held: the store keeps the new issue only.
func TestMemoryNoncesTrimDropsReplacedIssue(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryNonces(0)
	expires := t0.Add(time.Hour)
	a, n := []byte("a"), []byte("n")
	require.NoError(t, s.Add(ctx, a, expires))
	require.NoError(t, s.Add(ctx, n, expires))
	require.NoError(t, s.Consume(ctx, n, t0))
	require.NoError(t, s.Add(ctx, n, expires))
	kept, _ := s.issuesKept()
	require.Equal(t, 3, kept, "a, and n issued twice")

	require.NoError(t, s.Consume(ctx, a, t0))
	assert.Equal(t, 1, s.Len())
	kept, _ = s.issuesKept()
	assert.Equal(t, 1, kept, "the first issue of n and that of a, used, outnumbering the one held: dropped")
	require.NoError(t, s.Consume(ctx, n, t0), "the second issue of n")
	assert.ErrorIs(t, s.Consume(ctx, n, t0), ErrNonce, "used")
}
