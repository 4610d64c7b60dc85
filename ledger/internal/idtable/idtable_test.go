package idtable

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type id [16]byte

func idOf(hi, lo uint64) id {
	var k id
	binary.BigEndian.PutUint64(k[:8], hi)
	binary.BigEndian.PutUint64(k[8:], lo)
	return k
}

func TestTableMatchesMap(t *testing.T) {
	tests := []struct {
		name string
		key  func(r *rand.Rand) id
	}{
		{"random", func(r *rand.Rand) id { return idOf(r.Uint64(), r.Uint64()) }},
		{"small", func(r *rand.Rand) id { return idOf(0, r.Uint64N(3000)) }},
		{"high half", func(r *rand.Rand) id { return idOf(r.Uint64N(3000), 0) }},
		{"zero and max", func(r *rand.Rand) id {
			if r.IntN(2) == 0 {
				return id{}
			}
			return idOf(^uint64(0), ^uint64(0))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var tab Table[id]
			for round := range 3 {
				want := map[id]int{}
				var order []id
				for range 5000 {
					k := tt.key(r)
					n, added := tab.Add(k)
					if m, ok := want[k]; ok {
						require.False(t, added, "round %d: %x added twice", round, k)
						require.Equal(t, m, n)
						continue
					}
					require.True(t, added)
					require.Equal(t, len(order), n)
					want[k] = n
					order = append(order, k)
				}
				assert.Equal(t, len(order), tab.Len())
				assert.Equal(t, order, tab.Keys())
				for k, m := range want {
					n, ok := tab.Find(k)
					assert.True(t, ok)
					assert.Equal(t, m, n)
				}
				for range 1000 {
					k := idOf(r.Uint64(), r.Uint64()|1<<63)
					_, ok := tab.Find(k)
					_, want := want[k]
					assert.Equal(t, want, ok)
				}
				// The next round starts from an emptied table, of a
				// smaller size than it grew to in the second one.
				tab.Reset([]int{100, 10, 0}[round])
				assert.Zero(t, tab.Len())
				_, ok := tab.Find(order[0])
				assert.False(t, ok)
			}
		})
	}
}

func TestZeroTable(t *testing.T) {
	var tab Table[id]
	_, ok := tab.Find(id{})
	assert.False(t, ok)
	assert.Empty(t, tab.Keys())
	n, added := tab.Add(id{})
	assert.True(t, added)
	assert.Zero(t, n)
	n, ok = tab.Find(id{})
	assert.True(t, ok)
	assert.Zero(t, n)
}

func TestSeedsDiffer(t *testing.T) {
	var a, b Table[id]
	a.Add(id{1})
	b.Add(id{1})
	assert.NotEqual(t, a.hash(id{2}), b.hash(id{2}))
}

// TestSeedKeepsSeed: Seed draws no new seed for a Hasher that has one, so
// that the hashes of a hash table built on it stay where they were put.
func TestSeedKeepsSeed(t *testing.T) {
	var h Hasher
	h.Seed()
	want := h.Hash(idOf(1, 2))
	h.Seed()
	assert.Equal(t, want, h.Hash(idOf(1, 2)))
}

// BenchmarkFind compares a lookup with one in a Go map, over 10,000 keys
// as the ledger's benchmarks use.
func BenchmarkFind(b *testing.B) {
	const n = 10_000
	keys := make([]id, n)
	var tab Table[id]
	m := make(map[id]int, n)
	for i := range keys {
		keys[i] = idOf(0, uint64(i+1))
		tab.Add(keys[i])
		m[keys[i]] = i
	}
	r := rand.New(rand.NewPCG(1, 2))
	probe := make([]id, 1<<16)
	for i := range probe {
		probe[i] = keys[r.IntN(n)]
	}
	b.Run("Table", func(b *testing.B) {
		b.ReportAllocs()
		s := 0
		for i := 0; b.Loop(); i++ {
			v, _ := tab.Find(probe[i&(len(probe)-1)])
			s += v
		}
		_ = s
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		s := 0
		for i := 0; b.Loop(); i++ {
			s += m[probe[i&(len(probe)-1)]]
		}
		_ = s
	})
}

func TestPairsMatchesMap(t *testing.T) {
	type pair struct {
		k id
		v uint64
	}
	r := rand.New(rand.NewPCG(3, 4))
	var p Pairs[id]
	for round := range 3 {
		// Few keys and integers, so that pairs repeat, and pairs that
		// share a key or an integer but not both.
		want := map[pair]int{}
		for range 3000 {
			k := pair{idOf(r.Uint64N(2), r.Uint64N(40)), r.Uint64N(40) << (r.Uint64N(2) * 56)}
			n, added := p.Add(k.k, k.v)
			if m, ok := want[k]; ok {
				require.False(t, added, "round %d: %v added twice", round, k)
				require.Equal(t, m, n)
				continue
			}
			require.True(t, added, "round %d: %v", round, k)
			require.Equal(t, len(want), n)
			want[k] = n
		}
		assert.Equal(t, len(want), p.Len())
		p.Reset([]int{100, 0, 0}[round])
		assert.Zero(t, p.Len())
	}
}

// TestTableFull: a Table holds at most maxLen keys (fewer than 2^32 - 1,
// the numbers a slot holds): adding one more panics with errFull, leaving
// the table as it was, while the keys it holds are still found and added
// again. The limit is lowered here, the test adding no 4 billion keys.
func TestTableFull(t *testing.T) {
	require.Equal(t, uint64(1<<32-2), maxLen)
	defer func(n uint64) { maxLen = n }(maxLen)
	maxLen = 5
	var tab Table[id]
	for i := range 5 {
		n, added := tab.Add(idOf(0, uint64(i)))
		require.True(t, added)
		require.Equal(t, i, n)
	}
	assert.PanicsWithError(t, errFull.Error(), func() { tab.Add(idOf(1, 0)) })
	assert.Equal(t, 5, tab.Len())
	_, ok := tab.Find(idOf(1, 0))
	assert.False(t, ok)
	n, added := tab.Add(idOf(0, 3))
	assert.False(t, added)
	assert.Equal(t, 3, n)
	tab.Reset(0)
	n, added = tab.Add(idOf(1, 0))
	assert.True(t, added)
	assert.Equal(t, 0, n)
}

// collision returns two keys that the seeded hash of tab sends to one
// slot of a table of minSlots with the same upper 32 bits, so that only
// the keys tell them apart. Of 36 bits, a pair turns up among about 2^18
// keys; among 2^21, all but certainly.
func collision(t *testing.T, tab *Table[id]) (a, b id) {
	tab.hasher.Seed()
	seen := map[uint64]id{}
	for i := range uint64(1 << 21) {
		k := idOf(0, i)
		h := tab.hash(k)
		f := h>>32<<32 | h&(minSlots-1)
		if o, ok := seen[f]; ok {
			return o, k
		}
		seen[f] = k
	}
	t.Fatal("no two of 2^21 keys share 36 bits of their hash")
	return a, b
}

// TestHashCollision: two keys whose slot and upper 32 hash bits are the
// same are numbered and found apart.
func TestHashCollision(t *testing.T) {
	var tab Table[id]
	a, b := collision(t, &tab)
	n, added := tab.Add(a)
	require.True(t, added)
	require.Equal(t, 0, n)
	n, ok := tab.Find(b)
	assert.False(t, ok)
	assert.Zero(t, n)
	n, added = tab.Add(b)
	assert.True(t, added)
	assert.Equal(t, 1, n)
	n, added = tab.Add(a)
	assert.False(t, added)
	assert.Equal(t, 0, n)
	for want, k := range []id{a, b} {
		n, ok := tab.Find(k)
		assert.True(t, ok)
		assert.Equal(t, want, n)
	}
}

// TestHalfFull: the table is at most half full after each Add, so that a
// lookup of a missing key meets an empty slot.
func TestHalfFull(t *testing.T) {
	var tab Table[id]
	for i := range 100 {
		tab.Add(idOf(0, uint64(i)))
		require.LessOrEqual(t, 2*tab.Len(), len(tab.slots), "%d keys", tab.Len())
		_, ok := tab.Find(idOf(1, 0))
		require.False(t, ok)
	}
}

// TestResetKeepsRoom: Reset(hint) makes room for hint keys, adding them
// grows the table no more, and a Reset to the size the table has reuses
// its memory.
func TestResetKeepsRoom(t *testing.T) {
	var tab Table[id]
	tab.Reset(100)
	slots := len(tab.slots)
	for i := range 100 {
		tab.Add(idOf(0, uint64(i)))
	}
	assert.Equal(t, slots, len(tab.slots))
	assert.Zero(t, testing.AllocsPerRun(10, func() { tab.Reset(100) }))
	assert.Equal(t, slots, len(tab.slots))
}

// TestHashZeroHalves: keys whose first or second 8 bytes are zero hash
// apart, each half mixed with its own seed.
func TestHashZeroHalves(t *testing.T) {
	var tab Table[id]
	tab.hasher.Seed()
	hashes := map[uint64]id{}
	for i := range uint64(1000) {
		for _, k := range []id{idOf(0, i+1), idOf(i+1, 0)} {
			h := tab.hash(k)
			o, ok := hashes[h]
			require.False(t, ok, "%x and %x hash to %x", o, k, h)
			hashes[h] = k
		}
	}
}

// TestPairsResetEmptiesKeys: Pairs.Reset empties the keys too, so that
// the keys of the pairs added before count no more against the limit.
func TestPairsResetEmptiesKeys(t *testing.T) {
	defer func(n uint64) { maxLen = n }(maxLen)
	maxLen = 2
	var p Pairs[id]
	p.Add(idOf(0, 1), 1)
	p.Add(idOf(0, 2), 1)
	p.Reset(0)
	n, added := p.Add(idOf(0, 3), 1)
	assert.True(t, added)
	assert.Zero(t, n)
	n, added = p.Add(idOf(0, 4), 1)
	assert.True(t, added)
	assert.Equal(t, 1, n)
}
