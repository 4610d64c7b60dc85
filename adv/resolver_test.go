package adv

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretOf returns a distinct advertising secret for card i.
func secretOf(i int) []byte {
	s := make([]byte, SecretSize)
	binary.BigEndian.PutUint64(s, uint64(i)+1)
	binary.BigEndian.PutUint64(s[8:], 0x5eed)
	return s
}

func cardIDOf(i int) string { return fmt.Sprintf("card-%07d", i) }

func eidOf(t testing.TB, i int, epoch uint32) EID {
	t.Helper()
	eid, err := DeriveEID(secretOf(i), epoch)
	require.NoError(t, err)
	return eid
}

func TestResolverEpochWindow(t *testing.T) {
	var r Resolver
	require.NoError(t, r.Enrol(cardIDOf(1), secretOf(1)))
	now := exampleTime.Add(5 * time.Minute)
	e := Epoch(now)
	tests := []struct {
		name  string
		epoch uint32
		ok    bool
	}{
		{"current", e, true},
		{"previous", e - 1, true},
		{"next", e + 1, true},
		{"two before", e - 2, false},
		{"a day before", e - 144, false},
		{"two after", e + 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := r.Resolve(eidOf(t, 1, tt.epoch), now)
			assert.Equal(t, tt.ok, ok)
			if tt.ok {
				assert.Equal(t, cardIDOf(1), id)
			} else {
				assert.Empty(t, id)
			}
		})
	}

	t.Run("unknown card", func(t *testing.T) {
		_, ok := r.Resolve(eidOf(t, 2, e), now)
		assert.False(t, ok)
	})
	t.Run("one octet off", func(t *testing.T) {
		for _, i := range []int{0, 7, 8, 15} {
			eid := eidOf(t, 1, e)
			eid[i] ^= 0x01
			_, ok := r.Resolve(eid, now)
			assert.False(t, ok, "octet %d", i)
		}
	})
	t.Run("time moves on", func(t *testing.T) {
		later := now.Add(30 * time.Minute)
		_, ok := r.Resolve(eidOf(t, 1, e), later)
		assert.False(t, ok, "an EID of three epochs ago")
		id, ok := r.Resolve(eidOf(t, 1, Epoch(later)), later)
		assert.True(t, ok)
		assert.Equal(t, cardIDOf(1), id)
	})
}

func TestResolverEpochZero(t *testing.T) {
	var r Resolver
	require.NoError(t, r.Enrol("a", secretOf(1)))
	now := time.Unix(10, 0)
	id, ok := r.Resolve(eidOf(t, 1, 0), now)
	assert.True(t, ok)
	assert.Equal(t, "a", id)
	id, ok = r.Resolve(eidOf(t, 1, 1), now)
	assert.True(t, ok)
	assert.Equal(t, "a", id)
	_, ok = r.Resolve(eidOf(t, 1, 0xffffffff), now)
	assert.False(t, ok, "epoch −1 wraps to the largest epoch and must not resolve")
}

// TestResolverEpochWrap: the first and the last epoch are not next to each
// other, whichever of their tables the Resolver built first.
func TestResolverEpochWrap(t *testing.T) {
	first, last := time.Unix(10, 0), EpochStart(math.MaxUint32).Add(time.Minute)
	for _, tt := range []struct {
		name        string
		before, now time.Time
		epoch       uint32
	}{
		{"epoch 0 at the last epoch", first, last, 0},
		{"the last epoch at epoch 0", last, first, math.MaxUint32},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r Resolver
			require.NoError(t, r.Enrol("a", secretOf(1)))
			id, ok := r.Resolve(eidOf(t, 1, tt.epoch), tt.before)
			require.True(t, ok, "in its own epoch")
			require.Equal(t, "a", id)
			id, ok = r.Resolve(eidOf(t, 1, tt.epoch), tt.now)
			assert.False(t, ok)
			assert.Empty(t, id)
		})
	}
}

func TestResolverEnrolRemove(t *testing.T) {
	var r Resolver
	assert.Empty(t, r.CardIDs(), "the zero Resolver")
	assert.ErrorIs(t, r.Enrol("", secretOf(1)), ErrCardID)
	now := exampleTime
	e := Epoch(now)

	require.NoError(t, r.Enrol("a", secretOf(1)))
	require.NoError(t, r.Enrol("b", secretOf(2)))
	r.Advance(now) // tables exist from here on: later changes update them

	require.NoError(t, r.Enrol("c", secretOf(3)))
	id, ok := r.Resolve(eidOf(t, 3, e+1), now)
	assert.True(t, ok, "a card enrolled after the build resolves at once")
	assert.Equal(t, "c", id)

	assert.True(t, r.Remove("b"))
	assert.False(t, r.Remove("b"))
	assert.False(t, r.Remove("nobody"))
	_, ok = r.Resolve(eidOf(t, 2, e), now)
	assert.False(t, ok, "a removed card no longer resolves")
	assert.Equal(t, 2, r.Len())
	assert.Equal(t, []string{"a", "c"}, r.CardIDs())

	// Re-enrolment replaces the secret: old EIDs stop, new ones resolve.
	require.NoError(t, r.Enrol("a", secretOf(4)))
	_, ok = r.Resolve(eidOf(t, 1, e), now)
	assert.False(t, ok)
	id, ok = r.Resolve(eidOf(t, 4, e), now)
	assert.True(t, ok)
	assert.Equal(t, "a", id)
	assert.Equal(t, 2, r.Len())

	// A freed position is reused by the next card without confusion.
	require.NoError(t, r.Enrol("d", secretOf(5)))
	id, ok = r.Resolve(eidOf(t, 5, e-1), now)
	assert.True(t, ok)
	assert.Equal(t, "d", id)
	id, ok = r.Resolve(eidOf(t, 3, e), now)
	assert.True(t, ok)
	assert.Equal(t, "c", id)
	assert.Equal(t, []string{"a", "c", "d"}, r.CardIDs(), "in byte order, whatever their positions")
	r.mu.RLock()
	assert.Len(t, r.cards, 3, "d took the position b freed")
	assert.Equal(t, uint32(1), r.index["d"])
	assert.Empty(t, r.free)
	assert.Nil(t, r.dirty, "no build under way: no change recorded")
	r.mu.RUnlock()
}

// TestResolverSharedSecret: Enrol takes two card IDs with one advertising
// secret, whose EIDs are then the same; Resolve names one of the two, and
// the other alone once that one is removed or given a secret of its own.
func TestResolverSharedSecret(t *testing.T) {
	now := exampleTime
	e := Epoch(now)
	for _, tables := range []bool{false, true} {
		t.Run(fmt.Sprintf("tables built before %v", tables), func(t *testing.T) {
			var r Resolver
			if tables {
				r.Advance(now)
			}
			a, b := cardIDOf(1), cardIDOf(2)
			require.NoError(t, r.Enrol(a, secretOf(1)))
			require.NoError(t, r.Enrol(b, secretOf(1)), "not compared with other cards' secrets")
			assert.Equal(t, []string{a, b}, r.CardIDs())
			for _, ep := range []uint32{e - 1, e, e + 1} {
				id, ok := r.Resolve(eidOf(t, 1, ep), now)
				require.True(t, ok)
				assert.Contains(t, []string{a, b}, id, "epoch %d", ep)
			}

			require.NoError(t, r.Enrol(a, secretOf(3)), "a secret of its own")
			id, ok := r.Resolve(eidOf(t, 1, e), now)
			require.True(t, ok)
			assert.Equal(t, b, id)
			id, ok = r.Resolve(eidOf(t, 3, e), now)
			require.True(t, ok)
			assert.Equal(t, a, id)

			require.NoError(t, r.Enrol(a, secretOf(1)))
			require.True(t, r.Remove(b))
			id, ok = r.Resolve(eidOf(t, 1, e), now)
			require.True(t, ok)
			assert.Equal(t, a, id, "the other card, once one is removed")
		})
	}
}

func TestResolverSecretSize(t *testing.T) {
	var r Resolver
	for _, n := range []int{0, 15, 17} {
		assert.ErrorIs(t, r.Enrol("card", make([]byte, n)), ErrSecret)
	}
	assert.Zero(t, r.Len())
}

// TestResolverEnrolFails: an Enrol that fails leaves the Resolver as it
// was: a card enrolled before keeps its secret, and its EID still resolves
// to it. An empty card ID is reported before a bad secret.
func TestResolverEnrolFails(t *testing.T) {
	var r Resolver
	now := EpochStart(1000)
	require.NoError(t, r.Enrol("card", secretOf(1)))
	r.Advance(now)
	assert.ErrorIs(t, r.Enrol("card", make([]byte, 15)), ErrSecret)
	assert.ErrorIs(t, r.Enrol("", nil), ErrCardID)
	assert.Equal(t, []string{"card"}, r.CardIDs())
	id, ok := r.Resolve(eidOf(t, 1, 1000), now)
	assert.True(t, ok)
	assert.Equal(t, "card", id)
}

// TestResolverManyCards builds tables in parallel and grows them while they
// are live. Of its resolutions, only the first at 25 minutes builds tables
// (the one of the epoch after, which Advance did not build), and starts
// the build ahead: a resolution that builds besides fails the test at
// once, rather than after a build for each of its 110,592 resolutions.
func TestResolverManyCards(t *testing.T) {
	const n = 3 * parallelMin
	// The tables have room for twice their cards, at each count the test
	// reaches (as TestTableSize checks): in a full table, a build would
	// place a card, and a lookup look for an absent EID, for ever.
	for cards, size := range map[int]int{n / 2: 1 << 14, n: 1 << 15, n - n/3: 1 << 14} {
		require.Equal(t, size, tableSize(cards), "%d cards", cards)
	}
	var r Resolver
	for i := range n / 2 {
		require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
	}
	now := exampleTime
	r.Advance(now)
	for i := n / 2; i < n; i++ { // forces the live tables to grow
		require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
	}
	for i := 0; i < n; i += 3 {
		require.True(t, r.Remove(cardIDOf(i)))
	}
	var (
		card  int       // of the resolution under way
		epoch uint32    // of its EID
		when  time.Time // the time it is given
		built []string  // the resolutions that built tables
	)
	r.hookResolveBuilt = func() {
		built = append(built, fmt.Sprintf("card %d, epoch %d, at %s", card, epoch, when.Format(time.TimeOnly)))
		if len(built) > 1 {
			t.Fatalf("resolutions that built tables: %q", built)
		}
	}
	for _, at := range []time.Time{now, now.Add(10 * time.Minute), now.Add(25 * time.Minute)} {
		e := Epoch(at)
		for i := range n {
			for _, ep := range []uint32{e - 1, e, e + 1} {
				card, epoch, when = i, ep, at
				id, ok := r.Resolve(eidOf(t, i, ep), at)
				if i%3 == 0 {
					require.False(t, ok, "removed card %d", i)
				} else {
					require.True(t, ok, "card %d epoch %d", i, ep)
					require.Equal(t, cardIDOf(i), id)
				}
			}
		}
	}
	assert.Equal(t, []string{fmt.Sprintf("card 0, epoch %d, at 00:25:00", Epoch(now)+1)}, built, "the resolutions that built tables")
}

func TestResolverAdvanceBuildsAhead(t *testing.T) {
	var r Resolver
	require.NoError(t, r.Enrol("a", secretOf(1)))
	now := exampleTime
	e := Epoch(now)
	r.Advance(now)
	r.mu.RLock()
	for _, ep := range []uint32{e - 1, e, e + 1, e + 2} {
		tb := r.tables[ep%ring]
		require.NotNil(t, tb)
		assert.Equal(t, ep, tb.epoch)
	}
	assert.True(t, r.coversLocked(e+1, 1), "the next epoch needs no build")
	r.mu.RUnlock()
}

// TestTableRemove checks backward-shift deletion against a map, in a small
// table where probe sequences overlap and wrap around; removing an entry
// the table does not hold changes nothing.
func TestTableRemove(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		tb := newTable(0, 64)
		model := make(map[EID]uint32)
		for i := range 40 {
			var eid EID
			binary.LittleEndian.PutUint64(eid[:], rng.Uint64())
			binary.LittleEndian.PutUint64(eid[8:], rng.Uint64())
			if i%4 == 0 { // same probe start as another key
				for other := range model {
					copy(eid[:8], other[:8])
					break
				}
			}
			tb.insert(eid, uint32(i))
			model[eid] = uint32(i)
		}
		for eid, pos := range model {
			if rng.IntN(2) == 0 {
				tb.remove(eid, pos)
				delete(model, eid)
			}
		}
		// What the table lacks, removed, leaves it as it is: an EID
		// that starts its probe where a live one does, and a live EID
		// under another card's position.
		before := slices.Clone(tb.entries)
		for eid, pos := range model {
			absent := eid
			absent[15] ^= 1
			tb.remove(absent, pos)
			tb.remove(eid, pos+1)
		}
		require.Equal(t, before, tb.entries, "round %d", round)
		require.Equal(t, len(model), liveEntries(tb), "round %d", round)
		for eid, pos := range model {
			got, ok := tb.lookup(eid)
			require.True(t, ok, "round %d", round)
			require.Equal(t, pos, got)
		}
	}
}

func TestResolverConcurrent(t *testing.T) {
	var r Resolver
	const n = 200
	for i := range n {
		require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
	}
	now := exampleTime
	e := Epoch(now)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range n {
				if i%2 == 1 { // odd cards are never removed
					id, ok := r.Resolve(eidOf(t, i, e), now.Add(time.Duration(g)*time.Minute))
					assert.True(t, ok)
					assert.Equal(t, cardIDOf(i), id)
				}
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < n; i += 2 {
			r.Remove(cardIDOf(i))
			assert.NoError(t, r.Enrol(cardIDOf(i), secretOf(i+n)))
		}
	})
	wg.Go(func() {
		for k := range 5 {
			r.Advance(now.Add(time.Duration(k) * time.Second))
		}
	})
	wg.Wait()
	assert.Equal(t, n, r.Len())
}

func TestResolveAllocs(t *testing.T) {
	var r Resolver
	for i := range 100 {
		require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
	}
	now := exampleTime
	hit, miss := eidOf(t, 7, Epoch(now)), eidOf(t, 1000, Epoch(now))
	r.Resolve(hit, now)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		r.Resolve(hit, now)
		r.Resolve(miss, now)
	}))
}

// TestResolverChangesDuringBuild enrols, re-enrols and removes cards while a
// build works on its copy of the cards: the installed tables must reflect
// the final state.
func TestResolverChangesDuringBuild(t *testing.T) {
	var r Resolver
	for i := range 100 {
		require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
	}
	r.hookBuild = func([]uint32) {
		for i := range 50 {
			require.True(t, r.Remove(cardIDOf(i)))
		}
		for i := 100; i < 150; i++ { // reuse the freed positions
			require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
		}
		for i := 150; i < 300; i++ { // and grow past the tables' size
			require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
		}
		require.NoError(t, r.Enrol(cardIDOf(60), secretOf(1000)))
	}
	now := exampleTime
	r.Advance(now)
	r.hookBuild = nil

	e := Epoch(now)
	for _, ep := range []uint32{e - 1, e, e + 1} {
		for i := range 300 {
			id, ok := r.Resolve(eidOf(t, i, ep), now)
			switch {
			case i < 50 || i == 60:
				require.False(t, ok, "card %d", i)
			default:
				require.True(t, ok, "card %d", i)
				require.Equal(t, cardIDOf(i), id)
			}
		}
		id, ok := r.Resolve(eidOf(t, 1000, ep), now)
		require.True(t, ok)
		assert.Equal(t, cardIDOf(60), id)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, ep := range []uint32{e - 1, e, e + 1, e + 2} {
		tb := r.tables[ep%ring]
		require.NotNil(t, tb)
		assert.Equal(t, 250, liveEntries(tb), "epoch %d: one entry per card", ep)
		assert.Len(t, tb.entries, tableSize(250), "epoch %d: grown to the cards enrolled during the build", ep)
	}
}

// TestResolveBuildsAhead: a resolution in the second half of an epoch
// (aheadAfter or more into it by the time it is given, and not a second
// earlier) starts one build of the table of the epoch after next in the
// background, and returns without waiting for it, so that the resolutions
// of the next epoch find every table they need. It runs in a synctest
// bubble, where synctest.Wait returns once the resolutions and the builds
// have returned or wait in the hook: a build ahead that does not start,
// does not end or is waited for fails the test at once, rather than hangs
// it.
func TestResolveBuildsAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r Resolver
		require.NoError(t, r.Enrol("a", secretOf(1)))
		e := Epoch(exampleTime)
		hooked, release := make(chan struct{}, 4), make(chan struct{})
		built := recordBuilds(&r, func() {
			hooked <- struct{}{}
			<-release
		})
		t.Cleanup(func() { // lets a build the hook still holds end with the test
			select {
			case <-release:
			default:
				close(release)
			}
		})
		// entered fails unless a build has run the hook since the last call.
		entered := func(msg string) {
			t.Helper()
			select {
			case <-hooked:
			default:
				t.Fatal(msg)
			}
		}
		// resolves fails, rather than hangs, when the resolution waits for a
		// build that the hook holds, in the hook. (One that waited for the
		// build lock, which the build ahead holds, would hang the test: to
		// synctest a sync.Mutex does not block durably. A resolution takes
		// that lock only to build the tables it lacks.)
		resolves := func(epoch uint32, now time.Time) {
			t.Helper()
			eid := eidOf(t, 1, epoch)
			var (
				id string
				ok bool
			)
			done := make(chan struct{})
			go func() {
				defer close(done)
				id, ok = r.Resolve(eid, now)
			}()
			synctest.Wait()
			select {
			case <-done:
			default:
				t.Fatal("the resolution waits for a build")
			}
			require.True(t, ok)
			require.Equal(t, "a", id)
		}

		close(release)
		resolves(e, exampleTime.Add(time.Minute))
		assert.Equal(t, [][]uint32{{e - 1, e, e + 1}}, built(), "the tables Resolve needs, built by it")
		assert.False(t, r.ahead.Load(), "nothing ahead in the first half of the epoch")
		entered("the resolution's own build ran no hook")

		release = make(chan struct{})
		resolves(e, exampleTime.Add(aheadAfter-time.Second))
		require.False(t, r.ahead.Load(), "nothing ahead a second before aheadAfter")
		assert.Len(t, built(), 1)
		late := exampleTime.Add(aheadAfter)
		resolves(e, late) // and waits until the build ahead has ended or waits in the hook
		entered("no build ahead under way, held by the hook")
		require.True(t, r.ahead.Load(), "a build ahead started, and has not ended")
		for range 3 {
			resolves(e, late.Add(time.Minute))
		}
		close(release)
		synctest.Wait() // the build ahead installs its table and ends
		require.False(t, r.ahead.Load(), "the build ahead has ended")
		assert.Equal(t, [][]uint32{{e - 1, e, e + 1}, {e + 2}}, built(), "one build ahead, of the table of the epoch after next")

		resolves(e+1, EpochStart(e+1))
		resolves(e, EpochStart(e+1))
		resolves(e+2, EpochStart(e+1).Add(time.Minute))
		assert.Len(t, built(), 2, "the next epoch needs no build")
		assert.Zero(t, len(hooked), "no build since")
	})
}

// TestFirstResolveLateBuildsAhead: the first resolution of a Resolver, in
// the second half of an epoch, builds the tables it needs and starts the
// build of the table of the epoch after next too, as any resolution there
// does, so that the first resolution of the next epoch waits for no build.
// It runs in a synctest bubble, as TestResolveBuildsAhead does.
func TestFirstResolveLateBuildsAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r Resolver
		require.NoError(t, r.Enrol("a", secretOf(1)))
		e := Epoch(exampleTime)
		// The hook holds the second build, the one ahead, until release, so
		// that it cannot have ended by the time the resolution returns.
		var builds atomic.Int32
		release := make(chan struct{})
		built := recordBuilds(&r, func() {
			if builds.Add(1) == 2 {
				<-release
			}
		})
		defer close(release) // lets the build ahead end if the test fails

		id, ok := r.Resolve(eidOf(t, 1, e), EpochStart(e).Add(aheadAfter))
		require.True(t, ok)
		require.Equal(t, "a", id)
		synctest.Wait() // the build ahead waits in the hook, unless none started
		require.True(t, r.ahead.Load(), "a build ahead started, and has not ended")
		require.Equal(t, int32(2), builds.Load(), "the build ahead waits in the hook")
		release <- struct{}{}
		synctest.Wait() // the build ahead installs its table and ends
		require.False(t, r.ahead.Load(), "the build ahead has ended")
		assert.Equal(t, [][]uint32{{e - 1, e, e + 1}, {e + 2}}, built())

		id, ok = r.Resolve(eidOf(t, 1, e+2), EpochStart(e+1))
		require.True(t, ok)
		require.Equal(t, "a", id)
		assert.Len(t, built(), 2, "the next epoch needs no build")
	})
}

// recordBuilds has r record the epochs of the tables of each build, and
// then run during (unless nil) while the build works; it returns what
// reads the record.
func recordBuilds(r *Resolver, during func()) (built func() [][]uint32) {
	var (
		mu     sync.Mutex
		builds [][]uint32
	)
	r.hookBuild = func(epochs []uint32) {
		mu.Lock()
		builds = append(builds, slices.Clone(epochs))
		mu.Unlock()
		if during != nil {
			during()
		}
	}
	return func() [][]uint32 {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(builds)
	}
}

// TestStaleBuildKeepsTheTablesResolveNeeds: once resolutions four epochs
// later have built the tables of their epochs, neither Advance given the
// old time nor the build ahead that a resolution of the old epoch started,
// run only now, replaces them with the tables of the old epochs, which
// share their places in the ring: the resolutions that follow find every
// table they need, with no build.
func TestStaleBuildKeepsTheTablesResolveNeeds(t *testing.T) {
	e := Epoch(exampleTime)
	old, now := EpochStart(e), EpochStart(e+4)
	for name, stale := range map[string]func(r *Resolver){
		"advance": func(r *Resolver) { r.Advance(old) },
		"build_ahead": func(r *Resolver) {
			r.buildAhead(e)
			synctest.Wait() // the build ahead ends
		},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var r Resolver
				require.NoError(t, r.Enrol("a", secretOf(1)))
				r.Advance(old)
				built := recordBuilds(&r, nil)
				id, ok := r.Resolve(eidOf(t, 1, e+4), now)
				require.True(t, ok)
				require.Equal(t, "a", id)
				require.Equal(t, [][]uint32{{e + 3, e + 4, e + 5}}, built())

				stale(&r)
				require.False(t, r.ahead.Load(), "no build ahead under way")
				r.mu.RLock()
				for _, ep := range []uint32{e + 3, e + 4, e + 5} {
					assert.Equal(t, ep, r.tables[ep%ring].epoch, "the table in the place of epoch %d", ep)
				}
				r.mu.RUnlock()
				for _, ep := range []uint32{e + 3, e + 4, e + 5} {
					id, ok := r.Resolve(eidOf(t, 1, ep), now)
					require.True(t, ok, "epoch %d", ep)
					require.Equal(t, "a", id)
				}
				assert.Equal(t, [][]uint32{{e + 3, e + 4, e + 5}}, built(), "no build since the resolutions' own")
			})
		})
	}
}

// TestNoBuildAheadInThePlaceOfALaterTable: when the place of the table of
// the epoch after next holds the table of a later epoch (Advance given a
// later time), a resolution in the second half of the epoch starts no
// build ahead, which would replace nothing; the first resolution of the
// next epoch builds the tables it lacks.
func TestNoBuildAheadInThePlaceOfALaterTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r Resolver
		require.NoError(t, r.Enrol("a", secretOf(1)))
		e := Epoch(exampleTime)
		r.Advance(EpochStart(e + 4)) // tables e+3 to e+6; e+6 in the place of e+2
		built := recordBuilds(&r, nil)
		late := EpochStart(e).Add(aheadAfter)
		id, ok := r.Resolve(eidOf(t, 1, e), late)
		require.True(t, ok)
		require.Equal(t, "a", id)
		synctest.Wait() // a build ahead, had one started, would have ended
		assert.False(t, r.ahead.Load(), "no build ahead under way")
		assert.Equal(t, [][]uint32{{e - 1, e, e + 1}}, built(), "the tables Resolve needs, built by it")
		r.mu.RLock()
		assert.False(t, r.wantsAheadLocked(e, late), "no build ahead: the place of epoch %d holds epoch %d", e+2, r.tables[(e+2)%ring].epoch)
		r.mu.RUnlock()

		id, ok = r.Resolve(eidOf(t, 1, e+2), EpochStart(e+1))
		require.True(t, ok)
		require.Equal(t, "a", id)
		assert.Equal(t, [][]uint32{{e - 1, e, e + 1}, {e + 2}}, built(), "the table the next epoch lacks, built by its first resolution")
	})
}

// TestBuildAheadOneAtATime: while a build ahead is under way, a call
// that would start one starts none; once it has ended, the next starts.
func TestBuildAheadOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r Resolver
		require.NoError(t, r.Enrol("a", secretOf(1)))
		e := Epoch(exampleTime)
		r.Advance(EpochStart(e))
		built := recordBuilds(&r, nil)
		r.ahead.Store(true) // as if a build ahead were under way
		r.buildAhead(e + 1)
		synctest.Wait() // a build ahead, had one started, would have ended
		assert.Empty(t, built(), "no second build ahead")
		assert.True(t, r.ahead.Load(), "the one under way is not marked ended")

		r.ahead.Store(false)
		r.buildAhead(e + 1)
		synctest.Wait() // the build ahead ends
		assert.Equal(t, [][]uint32{{e + 3}}, built(), "the table of the epoch after next of e+1")
		assert.False(t, r.ahead.Load(), "the build ahead has ended")
	})
}

// TestResolveEpochsApart: two resolutions at once, of times two or more
// epochs apart, each build the tables of their epochs, which take the same
// places in the ring. The second builds and installs its tables right
// after the first has built its own: each finds its EID all the same, in
// the tables of its own epoch. Each resolves an EID of the epoch of its
// window whose place the other's tables take.
func TestResolveEpochsApart(t *testing.T) {
	e := Epoch(exampleTime)
	for _, tt := range []struct{ first, second uint32 }{
		{e, e + 2}, {e, e + 3}, {e, e + 4}, {e + 4, e}, {e + 2, e},
	} {
		eid1, eid2 := tt.first-1, tt.second+1
		if tt.first > tt.second {
			eid1, eid2 = tt.first+1, tt.second-1
		}
		t.Run(fmt.Sprintf("%+d_then_%+d", int(tt.first-e), int(tt.second-e)), func(t *testing.T) {
			var r Resolver
			require.NoError(t, r.Enrol("a", secretOf(1)))
			require.NoError(t, r.Enrol("b", secretOf(2)))
			var (
				second   bool
				id2      string
				ok2      bool
				resolved int
			)
			r.hookResolveBuilt = func() {
				resolved++
				if second {
					return
				}
				second = true
				id2, ok2 = r.Resolve(eidOf(t, 2, eid2), EpochStart(tt.second))
			}
			id, ok := r.Resolve(eidOf(t, 1, eid1), EpochStart(tt.first))
			require.Equal(t, 2, resolved, "both resolutions built their tables")
			assert.True(t, ok, "the first resolution")
			assert.Equal(t, "a", id)
			assert.True(t, ok2, "the second resolution")
			assert.Equal(t, "b", id2)
		})
	}
}

// TestNilResolver checks that a nil *Resolver is the empty Resolver for
// the methods that read it (nothing resolves, no cards, nothing to remove
// or build) and that Enrol on it fails with ErrNilResolver, where each
// was a nil-pointer panic.
func TestNilResolver(t *testing.T) {
	var r *Resolver
	now := EpochStart(1000)
	assert.Zero(t, r.Len())
	assert.Empty(t, r.CardIDs())
	id, ok := r.Resolve(eidOf(t, 1, 1000), now)
	assert.False(t, ok)
	assert.Empty(t, id)
	assert.False(t, r.Remove(cardIDOf(1)))
	r.Advance(now)
	assert.ErrorIs(t, r.Enrol(cardIDOf(1), secretOf(1)), ErrNilResolver)
	// Bad arguments are reported as on any Resolver.
	assert.ErrorIs(t, r.Enrol("", secretOf(1)), ErrCardID)
	assert.ErrorIs(t, r.Enrol(cardIDOf(1), nil), ErrSecret)
}

// TestResolverRemoveDuringBuild: a card removed while a build works on its
// copy of the cards, its position left free, is in none of the tables the
// build installs.
func TestResolverRemoveDuringBuild(t *testing.T) {
	var r Resolver
	require.NoError(t, r.Enrol("a", secretOf(1)))
	require.NoError(t, r.Enrol("b", secretOf(2)))
	r.hookBuild = func([]uint32) { require.True(t, r.Remove("b")) }
	now := exampleTime
	r.Advance(now)
	r.hookBuild = nil
	e := Epoch(now)
	for _, ep := range []uint32{e - 1, e, e + 1} {
		id, ok := r.Resolve(eidOf(t, 2, ep), now)
		assert.False(t, ok, "b, epoch %d", ep)
		assert.Empty(t, id)
		id, ok = r.Resolve(eidOf(t, 1, ep), now)
		assert.True(t, ok, "a, epoch %d", ep)
		assert.Equal(t, "a", id)
	}
}

// TestResolverFreedPositions: a build copies the positions that removed
// cards freed but puts none of them in its tables, whose length is that
// for the cards enrolled, not for the positions: neither the zero EID nor
// an EID of the all-zero key, which a freed position holds, resolves,
// before the position is taken again or after.
func TestResolverFreedPositions(t *testing.T) {
	var r Resolver
	const n, removed = 12, 4 // so few that a table would hold the freed positions too
	for i := range n {
		require.NoError(t, r.Enrol(cardIDOf(i), secretOf(i)))
	}
	for i := range removed {
		require.True(t, r.Remove(cardIDOf(i)))
	}
	now := exampleTime
	e := Epoch(now)
	r.Advance(now)
	r.mu.RLock()
	for _, ep := range []uint32{e - 1, e, e + 1, e + 2} {
		assert.Len(t, r.tables[ep%ring].entries, 16, "epoch %d: tableSize(8), not tableSize(12)", ep)
	}
	r.mu.RUnlock()
	zeroKey := newEIDKey([16]byte{})
	resolvesNone := func(when string) {
		t.Helper()
		for _, ep := range []uint32{e - 1, e, e + 1} {
			for _, eid := range []EID{{}, zeroKey.EID(ep)} {
				id, ok := r.Resolve(eid, now)
				assert.False(t, ok, "%s: epoch %d, EID %v", when, ep, eid)
				assert.Empty(t, id)
			}
		}
	}
	resolvesNone("freed")
	require.NoError(t, r.Enrol("new", secretOf(100)))
	resolvesNone("one taken again")
	id, ok := r.Resolve(eidOf(t, 100, e), now)
	assert.True(t, ok)
	assert.Equal(t, "new", id)
}

// TestNearEpochs: the epoch itself, then the one before and the one after,
// none past either end of the uint32 range.
func TestNearEpochs(t *testing.T) {
	for _, tt := range []struct {
		e    uint32
		want []uint32
	}{
		{0, []uint32{0, 1}},
		{1, []uint32{1, 0, 2}},
		{2945376, []uint32{2945376, 2945375, 2945377}},
		{math.MaxUint32 - 1, []uint32{math.MaxUint32 - 1, math.MaxUint32 - 2, math.MaxUint32}},
		{math.MaxUint32, []uint32{math.MaxUint32, math.MaxUint32 - 1}},
	} {
		eps, n := NearEpochs(tt.e)
		assert.Equal(t, tt.want, eps[:n], "epoch %d", tt.e)
	}
}

// TestTableSize: a table has the smallest power of two of 24-octet slots
// that is at least twice the number of cards, and 16 at least, so that the
// four tables of 1,000,000 cards take 4 × 2^21 × 24 octets, the 200 MB
// that Resolver gives.
func TestTableSize(t *testing.T) {
	for _, tt := range []struct{ cards, size int }{
		{0, 16}, {1, 16}, {8, 16}, {9, 32}, {16, 32}, {17, 64}, {1_000_000, 1 << 21},
	} {
		assert.Equal(t, tt.size, tableSize(tt.cards), "%d cards", tt.cards)
	}
	assert.Equal(t, uintptr(24), unsafe.Sizeof(entry{}))
}

// TestTableHome: the home slots of a table's keys span all its slots (the
// top log2(len) bits of the Fibonacci hash), not a part of them, which
// would lengthen every probe.
func TestTableHome(t *testing.T) {
	for _, size := range []int{16, 64, 1024} {
		tb := newTable(0, size)
		assert.Equal(t, uint(64-bits.TrailingZeros(uint(size))), tb.shift, "size %d", size)
		seen := make(map[int]bool)
		for k0 := range uint64(64 * size) {
			h := tb.home(k0)
			require.True(t, 0 <= h && h < size, "size %d, key %d: home %d", size, k0, h)
			seen[h] = true
		}
		assert.Len(t, seen, size, "size %d", size)
	}
}

// TestFillTablesInParallel: a build on two workers places every live card
// of its copy, and no other: the last card, which the second worker
// derives when the cards do not split evenly, and the cards whose probe
// runs past the end of a worker's region of the table (placed last), the
// first region's and the table's own, which wraps round to its start.
func TestFillTablesInParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const epoch, size = 2945376, 1 << 13 // room for every card of the copy
	probe := newTable(epoch, size)       // two regions: slots 0 to 4095 and 4096 to 8191
	last, end := size/2-1, size-1        // the last slots of the regions
	homes := map[int][][16]byte{last: nil, end: nil}
	for i := uint64(0); len(homes[last]) < 2 || len(homes[end]) < 2; i++ {
		if i == 1<<22 {
			t.Fatalf("no two keys of each home among %d: %d and %d found", i, len(homes[last]), len(homes[end]))
		}
		var k [16]byte
		binary.LittleEndian.PutUint64(k[:], i)
		k0, _ := keys(newEIDKey(k).EID(epoch))
		if h := probe.home(k0); h == last || h == end {
			homes[h] = append(homes[h], k)
		}
	}
	cards := make([]keyOnly, parallelMin+3) // 2,050 cards for a worker, 2,049 for the other
	live := map[uint32][16]byte{0: homes[last][0], 1: homes[end][0], 2050: homes[end][1], parallelMin + 2: homes[last][1]}
	for pos, k := range live {
		cards[pos] = keyOnly{key: k, live: true}
	}
	ts := []*table{newTable(epoch, size), newTable(epoch+1, size)}
	fillTables(ts, cards)
	for _, tb := range ts {
		assert.Equal(t, len(live), liveEntries(tb), "epoch %d: one entry per live card", tb.epoch)
		for pos, k := range live {
			got, ok := tb.lookup(newEIDKey(k).EID(tb.epoch))
			assert.True(t, ok, "epoch %d, card %d", tb.epoch, pos)
			assert.Equal(t, pos, got, "epoch %d", tb.epoch)
		}
	}
	at := func(i int) uint32 { return ts[0].entries[i].pos1 }
	assert.Equal(t, []uint32{0 + 1, parallelMin + 2 + 1, 1 + 1, 2050 + 1}, []uint32{at(last), at(last + 1), at(end), at(0)},
		"the second card of each home in the slot after it, wrapping round from the last")
}

// liveEntries returns how many of tb's slots hold a card.
func liveEntries(tb *table) int {
	n := 0
	for _, e := range tb.entries {
		if e.pos1 != 0 {
			n++
		}
	}
	return n
}
