package memory

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
)

func TestIndex(t *testing.T) {
	tests := []struct {
		name string
		ids  func(i int) ledger.ID
	}{
		{"ascending", func(i int) ledger.ID { return ledger.IDFromUint64(uint64(10 + 3*i)) }},
		{"descending", func(i int) ledger.ID { return ledger.IDFromUint64(uint64(1_000_000 - i)) }},
		{"random", func(i int) ledger.ID {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			return ledger.IDFromUint64s(r.Uint64(), r.Uint64())
		}},
		{"runs", func(i int) ledger.ID {
			if i%1000 == 999 {
				return ledger.IDFromUint64(uint64(i)) // below every ID so far: hashed
			}
			return ledger.IDFromUint64(uint64(3_000_000 + i))
		}},
		{"interleaved", func(i int) ledger.ID {
			if i%2 == 0 {
				return ledger.IDFromUint64(uint64(1_000_000 + i))
			}
			return ledger.IDFromUint64(uint64(i))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c chunks
			var x index
			const n = 20_000
			for i := range n {
				tr := ledger.Transfer{ID: tt.ids(i)}
				x.put(&c, tr.ID, c.appendAll([]ledger.Transfer{tr}))
			}
			for i := range n {
				pos, ok := x.get(&c, tt.ids(i))
				require.True(t, ok, "id %d", i)
				require.Equal(t, i, pos)
			}
			for _, missing := range []ledger.ID{{}, ledger.IDMax, ledger.IDFromUint64(2_000_000), ledger.IDFromUint64(1_000_001)} {
				_, ok := x.get(&c, missing)
				require.False(t, ok, missing.String())
			}
			// Absent IDs next to stored ones: inside a run, between
			// fences, between runs.
			stored := map[ledger.ID]bool{}
			for i := range n {
				stored[tt.ids(i)] = true
			}
			for i := range n {
				hi, lo := tt.ids(i).Uint64s()
				for _, near := range []ledger.ID{ledger.IDFromUint64s(hi, lo+1), ledger.IDFromUint64s(hi, lo-1)} {
					if !stored[near] {
						_, ok := x.get(&c, near)
						require.False(t, ok, near.String())
					}
				}
			}
		})
	}
}

// BenchmarkIndexGet looks up stored IDs at random among 2,000,000
// ascending ones (one run) and as many random ones (the hash table).
func BenchmarkIndexGet(b *testing.B) {
	for _, tt := range []struct {
		name string
		id   func(r *rand.Rand, i int) ledger.ID
	}{
		{"ascending", func(_ *rand.Rand, i int) ledger.ID { return ledger.IDFromUint64(uint64(1 + i)) }},
		{"random", func(r *rand.Rand, _ int) ledger.ID { return ledger.IDFromUint64s(r.Uint64(), r.Uint64()) }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			const n = 2_000_000
			r := rand.New(rand.NewPCG(1, 2))
			var c chunks
			var x index
			batch := make([]ledger.Transfer, 1000)
			for i := 0; i < n; i += len(batch) {
				for k := range batch {
					batch[k] = ledger.Transfer{ID: tt.id(r, i+k)}
				}
				first := c.appendAll(batch)
				for k := range batch {
					x.put(&c, batch[k].ID, first+k)
				}
			}
			probe := make([]ledger.ID, 1<<16)
			for i := range probe {
				probe[i] = c.at(r.IntN(n)).ID
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, ok := x.get(&c, probe[i&(len(probe)-1)]); !ok {
					b.Fatal("missing")
				}
			}
		})
	}
}

// TestIndexChosenCollisions stores IDs that a client could pick to collide
// under an unseeded hash: all of them give the same value to
// lo ^ hi*0x9e3779b97f4a7c15, the fixed mixing of the halves. With the
// store's random seed they spread over the table, so no run of occupied
// slots (the cost of a lookup with linear probing) comes near their number.
func TestIndexChosenCollisions(t *testing.T) {
	var c chunks
	var x index
	// A first ID above all the others: the chosen ones go to the hash table.
	top := ledger.Transfer{ID: ledger.IDFromUint64s(^uint64(0), 1)}
	x.put(&c, top.ID, c.appendAll([]ledger.Transfer{top}))
	const n = 500
	const k = 0x9e3779b97f4a7c15
	for i := range uint64(n) {
		hi := i + 1
		lo := 12345 ^ hi*k
		var id ledger.ID
		binary.LittleEndian.PutUint64(id[:8], lo)
		binary.LittleEndian.PutUint64(id[8:], hi)
		tr := ledger.Transfer{ID: id}
		x.put(&c, id, c.appendAll([]ledger.Transfer{tr}))
	}
	require.Equal(t, n, x.n, "every chosen ID is in the hash table")
	for i := 1; i <= n; i++ {
		pos, ok := x.get(&c, c.at(i).ID)
		require.True(t, ok)
		require.Equal(t, i, pos)
	}
	longest, cur := 0, 0
	for _, s := range append(x.slots, x.slots...) { // twice: runs wrap around
		if s == 0 {
			cur = 0
			continue
		}
		cur++
		longest = max(longest, min(cur, len(x.slots)))
	}
	require.Less(t, longest, n/4, "longest run of occupied slots")
}
