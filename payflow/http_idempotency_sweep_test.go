package payflow

import (
	"container/heap"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplyMemorySweptKeyIsGone: an entry that a sweep deletes, the sweep
// of a BeginIdempotent or DeleteExpired, leaves both the map and the heap,
// so that the memory holds only the live keys, and its key, claimed
// again, is a new key: in flight under the new lease, then replaying the
// new reply, not the one stored before.
func TestReplyMemorySweptKeyIsGone(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	lease := t0.Add(time.Second)
	begin(t, m, "a", t0, lease)
	require.NoError(t, m.FinishIdempotent(ctx, "a", lease, 200, []byte("first"), t0.Add(2*time.Second)))
	begin(t, m, "b", t0, t0.Add(3*time.Second))
	begin(t, m, "live", t0, t0.Add(time.Hour))

	now := t0.Add(4 * time.Second) // a and b have expired
	begin(t, m, "x", now, now.Add(time.Minute))
	assert.NotContains(t, m.entries, "a", "swept by the call")
	assert.NotContains(t, m.entries, "b", "swept by the call")
	assert.Len(t, m.entries, 2, "live and x")
	checkReplyHeap(t, m)

	lease2 := now.Add(time.Minute)
	rep, err := m.BeginIdempotent(ctx, "a", []byte("a2"), now, lease2)
	require.NoError(t, err)
	require.Nil(t, rep, "a new key")
	_, err = m.LookupIdempotent(ctx, "a", []byte("a2"), now)
	assert.ErrorIs(t, err, ErrInFlight)
	require.NoError(t, m.FinishIdempotent(ctx, "a", lease2, 201, []byte("again"), now.Add(time.Hour)))
	rep, err = m.LookupIdempotent(ctx, "a", []byte("a2"), now)
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 201, Reply: []byte("again")}, rep)
	assert.Len(t, m.entries, 3, "live, x and a")
	checkReplyHeap(t, m)

	// DeleteExpired too: x's lease ends. One batch, no pause.
	pauses(t, m, 0)
	later := lease2.Add(time.Second)
	assert.Equal(t, 1, m.DeleteExpired(later))
	assert.NotContains(t, m.entries, "x")
	assert.Len(t, m.entries, 2, "live and a")
	checkReplyHeap(t, m)
	rep, err = m.BeginIdempotent(ctx, "x", []byte("x2"), later, later.Add(time.Minute))
	require.NoError(t, err)
	assert.Nil(t, rep, "a new key")
	assert.Len(t, m.entries, 3)
	checkReplyHeap(t, m)
}

// TestReplyMemoryDeleteExpiredStopsAtLiveEntries: DeleteExpired ends once
// the entries left are all live, however many it held at its start: it
// pauses only after a full batch that left expired entries. The test
// fails rather than waits when it pauses once more than that.
func TestReplyMemoryDeleteExpiredStopsAtLiveEntries(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	const expired = 2*deleteBatch + 3
	for i := range expired {
		begin(t, m, "old "+strconv.Itoa(i), t0, t0.Add(time.Second))
	}
	now := t0.Add(time.Second) // a deadline at now has expired
	for i := range 5 {
		begin(t, m, "live "+strconv.Itoa(i), t0, now.Add(time.Nanosecond))
	}
	held := pauses(t, m, 2)
	assert.Equal(t, expired, m.DeleteExpired(now))
	assert.Equal(t, []int{expired + 5 - deleteBatch, expired + 5 - 2*deleteBatch}, *held, "a pause after each full batch")
	assert.Len(t, m.entries, 5, "the live entries")
	checkReplyHeap(t, m)

	held = pauses(t, m, 0)
	assert.Zero(t, m.DeleteExpired(now), "only live entries: none deleted")
	assert.Empty(t, *held, "and no pause")
	assert.Len(t, m.entries, 5)
}

// TestReplyMemoryDeleteExpiredStopsAtItsCount: DeleteExpired that has
// deleted as many entries as it held at its start ends without another
// pause, although entries expired at its now were written meanwhile (by
// a process whose clock is behind the sweeper's); those are kept, for
// the next sweep.
func TestReplyMemoryDeleteExpiredStopsAtItsCount(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	const expired = deleteBatch + 5
	for i := range expired {
		begin(t, m, "old "+strconv.Itoa(i), t0, t0.Add(time.Second))
	}
	now := t0.Add(3 * time.Second)
	pauses := 0
	m.betweenBatches = func() {
		if pauses++; pauses > 1 {
			return
		}
		putEntries(m, "fresh ", 10, t0.Add(2*time.Second))
	}
	assert.Equal(t, expired, m.DeleteExpired(now))
	assert.Equal(t, 1, pauses, "one pause, after the full batch")
	assert.Len(t, m.entries, 10, "the entries written meanwhile")
	for i := range 10 {
		assert.Contains(t, m.entries, "fresh "+strconv.Itoa(i))
	}
	checkReplyHeap(t, m)

	pauses = 0
	assert.Equal(t, 10, m.DeleteExpired(now), "the next sweep deletes them")
	assert.Zero(t, pauses)
	assert.Empty(t, m.entries)
	checkReplyHeap(t, m)
}

// TestReplyMemoryDeleteBatch: DeleteExpired deletes 256 entries at most in
// one hold of the lock, as ReplyMemory says: of 513 expired entries, 256,
// then 256 and then the last one, pausing after each of the full batches.
func TestReplyMemoryDeleteBatch(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	for i := range 513 {
		begin(t, m, "old "+strconv.Itoa(i), t0, t0.Add(time.Second))
	}
	held := pauses(t, m, 2)
	assert.Equal(t, 513, m.DeleteExpired(t0.Add(time.Second)))
	assert.Equal(t, []int{257, 1}, *held)
	assert.Empty(t, m.entries)
	checkReplyHeap(t, m)
}

// pauses has m record, at each pause of DeleteExpired between two
// batches, how many entries it holds, into the slice it returns, and
// fail t, rather than go on, at a pause beyond the first most.
func pauses(t *testing.T, m *ReplyMemory, most int) *[]int {
	held := &[]int{}
	m.betweenBatches = func() {
		*held = append(*held, len(m.entries))
		if len(*held) > most {
			t.Fatalf("pause %d of DeleteExpired, %d entries held: at most %d expected", len(*held), len(m.entries), most)
		}
	}
	return held
}

// putEntries writes into m, under its lock, n keys held in flight until
// deadline, named prefix and their number, as a process whose clock is
// behind the sweeper's writes them while a DeleteExpired pauses.
func putEntries(m *ReplyMemory, prefix string, n int, deadline time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range n {
		e := &replyEntry{key: prefix + strconv.Itoa(i), hash: []byte{1}, deadline: deadline}
		m.entries[e.key] = e
		heap.Push(&m.due, e)
	}
}
