package adv

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResolverBuildsNoEpochPastTheEnds: at the first and the last epoch a
// Resolver builds the tables of the epochs next to it that exist, and none
// of an epoch past the other end.
func TestResolverBuildsNoEpochPastTheEnds(t *testing.T) {
	last := EpochStart(math.MaxUint32)
	for _, tt := range []struct {
		name    string
		now     time.Time
		resolve []uint32 // the epochs Resolve builds
		advance []uint32 // the epochs Advance builds
	}{
		{"epoch 0", time.Unix(10, 0), []uint32{0, 1}, []uint32{0, 1, 2}},
		{"the last epoch", last.Add(time.Minute), []uint32{math.MaxUint32 - 1, math.MaxUint32}, []uint32{math.MaxUint32 - 1, math.MaxUint32}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r Resolver
			require.NoError(t, r.Enrol("a", secretOf(1)))
			built := recordBuilds(&r, nil)
			e := Epoch(tt.now)
			id, ok := r.Resolve(eidOf(t, 1, e), tt.now)
			require.True(t, ok)
			require.Equal(t, "a", id)
			assert.Equal(t, [][]uint32{tt.resolve}, built())

			var fresh Resolver
			require.NoError(t, fresh.Enrol("a", secretOf(1)))
			built = recordBuilds(&fresh, nil)
			fresh.Advance(tt.now)
			assert.Equal(t, [][]uint32{tt.advance}, built())
		})
	}
}

// TestResolverRemoveOfASharedEID: of two cards with the same advertising
// secret, removing the one whose entry comes second leaves the first
// resolvable, whether the tables were built before or after both enrolled.
func TestResolverRemoveOfASharedEID(t *testing.T) {
	now := exampleTime
	e := Epoch(now)
	for _, before := range []bool{false, true} {
		var r Resolver
		if before {
			r.Advance(now)
		}
		require.NoError(t, r.Enrol("a", secretOf(1)))
		require.NoError(t, r.Enrol("b", secretOf(1)))
		id, ok := r.Resolve(eidOf(t, 1, e), now)
		require.True(t, ok)
		require.Equal(t, "a", id, "tables built before: %v", before)
		require.True(t, r.Remove("b"))
		for _, ep := range []uint32{e - 1, e, e + 1} {
			id, ok := r.Resolve(eidOf(t, 1, ep), now)
			assert.True(t, ok, "tables built before: %v, epoch %d", before, ep)
			assert.Equal(t, "a", id, "tables built before: %v, epoch %d", before, ep)
		}
	}
}

// TestResolverGrowsBuiltTables: cards enrolled after the tables were built
// grow them to tableSize of the cards enrolled, and each resolves.
func TestResolverGrowsBuiltTables(t *testing.T) {
	now := exampleTime
	e := Epoch(now)
	var r Resolver
	r.Advance(now)
	const n = 12
	for i := range n {
		require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
	}
	r.mu.RLock()
	for _, ep := range []uint32{e - 1, e, e + 1, e + 2} {
		tb := r.tables[ep%ring]
		require.NotNil(t, tb)
		assert.Len(t, tb.entries, tableSize(n), "epoch %d", ep)
	}
	r.mu.RUnlock()
	for i := range n {
		id, ok := r.Resolve(eidOf(t, i, e), now)
		assert.True(t, ok)
		assert.Equal(t, cardIDOf(i), id)
	}
}

// TestEpochStartUTC: EpochStart returns times in UTC.
func TestEpochStartUTC(t *testing.T) {
	for _, e := range []uint32{0, 2945376, math.MaxUint32} {
		assert.Equal(t, time.UTC, EpochStart(e).Location(), "epoch %d", e)
	}
}

// TestNoBuildAheadPastTheLastEpoch: in the second half of the last two
// epochs, whose epoch after next would wrap round to 1 or 0, a resolution
// wants no build ahead.
func TestNoBuildAheadPastTheLastEpoch(t *testing.T) {
	for _, e := range []uint32{math.MaxUint32 - 1, math.MaxUint32} {
		var r Resolver
		require.NoError(t, r.Enrol("a", secretOf(1)))
		id, ok := r.Resolve(eidOf(t, 1, e), EpochStart(e)) // builds the tables of its epochs
		require.True(t, ok)
		require.Equal(t, "a", id)
		r.mu.RLock()
		assert.False(t, r.wantsAheadLocked(e, EpochStart(e).Add(aheadAfter)), "epoch %d", e)
		r.mu.RUnlock()
	}
}
