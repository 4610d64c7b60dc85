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
