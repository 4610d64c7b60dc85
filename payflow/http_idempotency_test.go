package payflow

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReplyMemoryTakeover: the handler's in-process reply store lets a
// request take over a key whose lease ran out, and the first holder can
// then neither finish nor abandon it.
func TestReplyMemoryTakeover(t *testing.T) {
	ctx := context.Background()
	m := NewReplyMemory()
	t0 := time.Unix(1_800_000_000, 0)
	lease1, lease2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	rep, err := m.BeginIdempotent(ctx, "k", []byte{1}, t0, lease1)
	require.NoError(t, err)
	require.Nil(t, rep)
	rep, err = m.BeginIdempotent(ctx, "k", []byte{2}, lease1, lease2)
	require.NoError(t, err)
	require.Nil(t, rep, "the lease ran out: the key is taken over")

	assert.ErrorIs(t, m.FinishIdempotent(ctx, "k", lease1, 200, []byte("first"), t0.Add(time.Hour)), ErrNotFound)
	require.NoError(t, m.AbandonIdempotent(ctx, "k", lease1))
	_, err = m.BeginIdempotent(ctx, "k", []byte{2}, lease1, lease2)
	assert.ErrorIs(t, err, ErrInFlight, "the second holder keeps the key")

	require.NoError(t, m.FinishIdempotent(ctx, "k", lease2, 201, []byte("second"), t0.Add(time.Hour)))
	rep, err = m.BeginIdempotent(ctx, "k", []byte{2}, lease1, lease2)
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 201, Reply: []byte("second")}, rep)
	require.NoError(t, m.AbandonIdempotent(ctx, "k", t0.Add(time.Hour)))
	rep, err = m.BeginIdempotent(ctx, "k", []byte{2}, lease1, lease2)
	require.NoError(t, err)
	assert.NotNil(t, rep, "a finished key is never abandoned")
}

// TestReplyMemoryTakeoverOfAnUnsweptEntry: a key whose entry has expired
// but is not yet deleted (two entries due before it took the sweep of
// the call) is taken over as an absent one is: its lease or its reply's
// expiry past, it is neither in flight nor replayed, and the entry then
// holds the new request's body hash, so that a retry of the first body
// is told the key was used with another, and gets none of the new
// request's reply.
func TestReplyMemoryTakeoverOfAnUnsweptEntry(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	for _, finished := range []bool{false, true} {
		m := NewReplyMemory()
		begin(t, m, "a", t0, t0.Add(10*time.Second))
		begin(t, m, "b", t0, t0.Add(20*time.Second))
		lease := t0.Add(30 * time.Second)
		_, err := m.BeginIdempotent(ctx, "k", []byte{1}, t0, lease)
		require.NoError(t, err)
		if finished {
			require.NoError(t, m.FinishIdempotent(ctx, "k", lease, 200, []byte("first"), t0.Add(40*time.Second)))
		}
		now := t0.Add(time.Minute) // a, b and k have expired; the call sweeps a and b
		lease2 := now.Add(time.Minute)
		rep, err := m.BeginIdempotent(ctx, "k", []byte{2}, now, lease2)
		require.NoError(t, err, "finished %v", finished)
		require.Nil(t, rep, "finished %v: the expired entry is taken over", finished)
		require.NoError(t, m.FinishIdempotent(ctx, "k", lease2, 201, []byte("second"), now.Add(time.Hour)))
		_, err = m.BeginIdempotent(ctx, "k", []byte{1}, now, lease2)
		assert.ErrorIs(t, err, ErrKeyReuse, "finished %v: the first body", finished)
		rep, err = m.BeginIdempotent(ctx, "k", []byte{2}, now, lease2)
		require.NoError(t, err)
		assert.Equal(t, &IdempotentReply{Status: 201, Reply: []byte("second")}, rep, "finished %v", finished)
	}
}

// TestReplyMemoryFinishesOnce: a key whose reply is stored is no longer
// held, even under a reply expiry equal to its lease: a second
// FinishIdempotent under that lease is ErrNotFound and replaces nothing.
func TestReplyMemoryFinishesOnce(t *testing.T) {
	ctx := context.Background()
	m := NewReplyMemory()
	t0 := time.Unix(1_800_000_000, 0)
	lease := t0.Add(time.Minute)
	_, err := m.BeginIdempotent(ctx, "k", []byte{1}, t0, lease)
	require.NoError(t, err)
	require.NoError(t, m.FinishIdempotent(ctx, "k", lease, 200, []byte("first"), lease))
	assert.ErrorIs(t, m.FinishIdempotent(ctx, "k", lease, 201, []byte("second"), lease), ErrNotFound)
	rep, err := m.BeginIdempotent(ctx, "k", []byte{1}, t0, lease)
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 200, Reply: []byte("first")}, rep)
}

// begin claims key with a body hash of its own under lease, at now.
func begin(t testing.TB, m *ReplyMemory, key string, now, lease time.Time) {
	t.Helper()
	rep, err := m.BeginIdempotent(context.Background(), key, []byte(key), now, lease)
	require.NoError(t, err, key)
	require.Nil(t, rep, key)
}

// TestReplyMemoryExpiry: each BeginIdempotent deletes the entries expired
// at its now, two at most, those whose deadline came first whatever the
// order they were written in, and never a live one: a stored reply is
// replayed until its expiry, a key in flight is held until its lease
// ends, and a key claimed again after either takes the entry over. While
// expired entries are held their number falls with every new key, until
// none is left; DeleteExpired deletes them all.
func TestReplyMemoryExpiry(t *testing.T) {
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	// Written first: 1 000 replies kept for a day, from leases of a
	// minute; then 24 keys held for a minute, never finished.
	for i := range 1000 {
		k := "reply " + strconv.Itoa(i)
		begin(t, m, k, t0, t0.Add(time.Minute))
		require.NoError(t, m.FinishIdempotent(ctx, k, t0.Add(time.Minute), 200, []byte(k), t0.Add(24*time.Hour)))
	}
	for i := range 24 {
		begin(t, m, "held "+strconv.Itoa(i), t0, t0.Add(time.Minute))
	}
	require.Len(t, m.entries, 1024)

	t1 := t0.Add(2 * time.Minute) // the 24 leases have ended, no reply has expired
	var lens []int
	for i := range 14 {
		begin(t, m, "new "+strconv.Itoa(i), t1, t1.Add(time.Minute))
		lens = append(lens, len(m.entries))
	}
	want := []int{1023, 1022, 1021, 1020, 1019, 1018, 1017, 1016, 1015, 1014, 1013, 1012, 1013, 1014}
	assert.Equal(t, want, lens, "two expired leases deleted by each new key, written after the live replies")
	for i := range 24 {
		assert.NotContains(t, m.entries, "held "+strconv.Itoa(i))
	}
	for i := range 1000 {
		k := "reply " + strconv.Itoa(i)
		rep, err := m.BeginIdempotent(ctx, k, []byte(k), t1, t1.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, &IdempotentReply{Status: 200, Reply: []byte(k)}, rep, "replayed until its expiry")
	}
	_, err := m.BeginIdempotent(ctx, "new 0", []byte("new 0"), t1, t1.Add(time.Minute))
	assert.ErrorIs(t, err, ErrInFlight, "a key held until its lease ends")

	// A day later the 1 014 entries have all expired: each new key
	// deletes two of them, the soonest due first (the new keys' leases),
	// until none is left.
	t2 := t0.Add(25 * time.Hour)
	most := 0
	for i := range 507 {
		n := len(m.entries)
		begin(t, m, "late "+strconv.Itoa(i), t2, t2.Add(time.Minute))
		most = max(most, n+1-len(m.entries))
		if i == 6 {
			for j := range 14 {
				assert.NotContains(t, m.entries, "new "+strconv.Itoa(j))
			}
			assert.Len(t, m.entries, 1000+7, "the replies and the late keys")
		}
	}
	assert.Equal(t, 2, most, "the most entries one call deleted")
	assert.Len(t, m.entries, 507, "the late keys only")
	for i := range 1000 {
		assert.NotContains(t, m.entries, "reply "+strconv.Itoa(i))
	}
	checkReplyHeap(t, m)

	// An expired key claimed again is taken over and lives until the
	// expiry of its new reply; a key abandoned is gone.
	t3 := t2.Add(time.Hour)
	begin(t, m, "late 0", t3, t3.Add(time.Minute))
	require.NoError(t, m.FinishIdempotent(ctx, "late 0", t3.Add(time.Minute), 201, []byte("again"), t3.Add(time.Hour)))
	begin(t, m, "gone", t3, t3.Add(time.Minute))
	require.NoError(t, m.AbandonIdempotent(ctx, "gone", t3.Add(time.Minute)))
	assert.NotContains(t, m.entries, "gone")
	checkReplyHeap(t, m)
	require.Equal(t, 504, len(m.entries), "507 late keys, less four swept by the calls at t3, late 0 one of them and claimed again")
	held := pauses(t, m, 1)
	assert.Equal(t, 503, m.DeleteExpired(t3.Add(time.Minute)), "every expired one, but the reply finished")
	assert.Equal(t, []int{504 - deleteBatch}, *held, "a pause after the full batch only, none once only the live reply is left")
	assert.Len(t, m.entries, 1)
	rep, err := m.BeginIdempotent(ctx, "late 0", []byte("late 0"), t3.Add(time.Minute), t3.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, &IdempotentReply{Status: 201, Reply: []byte("again")}, rep)
	checkReplyHeap(t, m)
}

// checkReplyHeap checks that m's heap holds exactly its entries, each at
// its index, none due before its parent.
func checkReplyHeap(t *testing.T, m *ReplyMemory) {
	t.Helper()
	require.Len(t, m.due, len(m.entries))
	for i, e := range m.due {
		require.Same(t, m.entries[e.key], e)
		require.Equal(t, i, e.index)
		if i > 0 {
			require.False(t, e.deadline.Before(m.due[(i-1)/2].deadline), "entry %d before its parent", i)
		}
	}
}

// BenchmarkReplyMemoryExpired: the BeginIdempotent calls of new keys to a
// ReplyMemory whose 131 072 entries have all expired; besides the mean,
// it reports the longest single call (max-ns/call) and the most entries
// that one call deleted (max-deleted/call).
func BenchmarkReplyMemoryExpired(b *testing.B) {
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	for i := range 1 << 17 {
		begin(b, m, "old "+strconv.Itoa(i), t0, t0.Add(time.Minute))
	}
	t1 := t0.Add(time.Hour)
	keys := newKeys(b.N)
	ctx := context.Background()
	benchWorstCall(b, "deleted", func() int { return len(m.entries) }, func(i int) error {
		_, err := m.BeginIdempotent(ctx, keys[i], []byte(keys[i]), t1, t1.Add(time.Minute))
		return err
	})
}

// TestReplyMemoryDeleteExpiredInBatches: DeleteExpired deletes every entry
// expired at its now (a deadline at now included) and no live one (a
// deadline a nanosecond later), returns how many, and holds the lock for
// deleteBatch entries at most: between two batches the lock is free, and
// another call runs (here a BeginIdempotent of a new key, whose own
// sweep of two counts for it, not for DeleteExpired).
func TestReplyMemoryDeleteExpiredInBatches(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	const expired = 3*deleteBatch + 5 // due from a second after t0, none at t0
	for i := range expired {
		begin(t, m, "old "+strconv.Itoa(i), t0, t0.Add(time.Duration(1+i%7)*time.Second))
	}
	now := t0.Add(7 * time.Second)
	for i := range 10 {
		begin(t, m, "live "+strconv.Itoa(i), t0, now.Add(time.Nanosecond+time.Duration(i)*time.Hour))
	}
	var pauses, others int
	m.betweenBatches = func() {
		if pauses++; pauses > 3 {
			t.Fatalf("pause %d of DeleteExpired, %d entries held: 3 at most expected", pauses, len(m.entries))
		}
		require.True(t, m.mu.TryLock(), "the lock is free between two batches")
		m.mu.Unlock()
		held := len(m.entries)
		begin(t, m, "other "+strconv.Itoa(pauses), now, now.Add(time.Minute))
		others += held + 1 - len(m.entries)
	}
	n := m.DeleteExpired(now)
	assert.Equal(t, expired-others, n, "every expired entry, less those the other calls deleted")
	assert.Equal(t, 3, pauses, "a pause after each full batch that left expired entries")
	assert.Equal(t, 5, others, "two, two and the last one")
	assert.Len(t, m.entries, 10+pauses, "the live keys and the other calls' keys")
	for i := range 10 {
		assert.Contains(t, m.entries, "live "+strconv.Itoa(i))
	}
	checkReplyHeap(t, m)
	assert.Zero(t, m.DeleteExpired(now), "none left")
	assert.Equal(t, 3, pauses, "one batch, no pause")
}

// TestReplyMemoryDeleteExpiredEnds: entries written expired at the
// sweep's now while it runs (by processes whose clocks are behind the
// sweeper's) do not keep DeleteExpired going: it deletes at most as many
// entries as it held at its start (here all expired), those due first,
// and ends, however many such entries keep coming.
func TestReplyMemoryDeleteExpiredEnds(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	m := NewReplyMemory()
	const expired = deleteBatch + 5
	for i := range expired {
		begin(t, m, "old "+strconv.Itoa(i), t0, t0.Add(time.Second))
	}
	now := t0.Add(3 * time.Second)
	pauses, written := 0, 0
	m.betweenBatches = func() {
		if pauses++; pauses > 10 {
			return // the writers stop: the sweep ends anyway
		}
		putEntries(m, "fresh "+strconv.Itoa(pauses)+" ", deleteBatch, t0.Add(2*time.Second))
		written += deleteBatch
	}
	n := m.DeleteExpired(now)
	assert.LessOrEqual(t, pauses, 10, "the sweep ended while entries expired at its now kept coming")
	assert.Equal(t, expired, n, "as many entries as it held at its start")
	assert.Len(t, m.entries, written, "the entries written meanwhile are kept")
	for k := range m.entries {
		assert.NotContains(t, k, "old", "the entries expired first are deleted first")
	}
	checkReplyHeap(t, m)
}

// TestReplyMemoryZeroNow: the zero time as now is refused with ErrInvalid
// (CheckNow), as every Store refuses it, and claims nothing.
func TestReplyMemoryZeroNow(t *testing.T) {
	m := NewReplyMemory()
	t0 := time.Unix(1_800_000_000, 0)
	_, err := m.BeginIdempotent(context.Background(), "k", []byte{1}, time.Time{}, t0)
	assert.ErrorIs(t, err, ErrInvalid)
	r, err := m.BeginIdempotent(context.Background(), "k", []byte{1}, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Nil(t, r, "the key is free: the refused call claimed nothing")
}
