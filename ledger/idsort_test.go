package ledger

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSortIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	random := func(n int, span uint64) []ID {
		ids := make([]ID, n)
		for i := range ids {
			ids[i] = IDFromUint64s(r.Uint64N(span), r.Uint64N(span))
		}
		return ids
	}
	tests := []struct {
		name string
		ids  []ID
	}{
		{"empty", nil},
		{"one", []ID{IDFromUint64(1)}},
		{"random", random(5000, 1<<63)},
		{"random 128 bits", func() []ID {
			ids := make([]ID, 20000)
			for i := range ids {
				ids[i] = IDFromUint64s(r.Uint64(), r.Uint64())
			}
			return ids
		}()},
		{"small values", func() []ID {
			ids := make([]ID, 8000)
			for i := range ids {
				ids[i] = IDFromUint64(1 + r.Uint64N(10000))
			}
			return ids
		}()},
		{"shared prefix, then few values", func() []ID {
			ids := make([]ID, 3000)
			for i := range ids {
				ids[i] = IDFromUint64s(0x0123456789abcdef, 0x0123456789ab0000|r.Uint64N(4)<<8|r.Uint64N(3))
			}
			return ids
		}()},
		{"all equal", make([]ID, 500)},
		{"duplicates", random(5000, 3)},
		{"small", random(11, 1<<63)},
		{"ascending", func() []ID {
			ids := make([]ID, 3000)
			for i := range ids {
				ids[i] = IDFromUint64(uint64(i))
			}
			return ids
		}()},
		{"descending", func() []ID {
			ids := make([]ID, 3000)
			for i := range ids {
				ids[i] = IDFromUint64(uint64(len(ids) - i))
			}
			return ids
		}()},
		{"organ pipe", func() []ID {
			ids := make([]ID, 3001)
			for i := range ids {
				ids[i] = IDFromUint64(uint64(min(i, len(ids)-i)))
			}
			return ids
		}()},
		{"high bytes differ", func() []ID {
			ids := random(2000, 1<<63)
			for i := range ids {
				binary.BigEndian.PutUint64(ids[i][8:], 7)
			}
			return ids
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := slices.Clone(tt.ids)
			slices.SortFunc(want, ID.Compare)
			got := slices.Clone(tt.ids)
			sortIDs(got)
			assert.Equal(t, want, got)
		})
	}
}

func TestIDSorterReuse(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var s idSorter
	for _, n := range []int{5000, 5001, 100, 65, 20000, 3} {
		ids := make([]ID, n)
		for i := range ids {
			ids[i] = IDFromUint64s(r.Uint64N(1<<20), r.Uint64())
		}
		want := slices.Clone(ids)
		slices.SortFunc(want, ID.Compare)
		s.sort(ids)
		assert.Equal(t, want, ids, "%d IDs", n)
	}
}

func TestHeapSortIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ids := make([]ID, 1000)
	for i := range ids {
		ids[i] = IDFromUint64s(r.Uint64N(4), r.Uint64())
	}
	want := slices.Clone(ids)
	slices.SortFunc(want, ID.Compare)
	heapSortIDs(ids)
	assert.Equal(t, want, ids)
}

func FuzzSortIDs(f *testing.F) {
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Each byte makes one ID with few distinct values, so that
		// duplicates and ties between the high halves are common.
		ids := make([]ID, len(b))
		for i, c := range b {
			ids[i] = IDFromUint64s(uint64(c>>4), uint64(c&15))
		}
		want := slices.Clone(ids)
		slices.SortFunc(want, ID.Compare)
		sortIDs(ids)
		assert.Equal(t, want, ids)
	})
}

// BenchmarkSortIDs sorts the account IDs of a batch of 8189 random
// transfers, as small integers (the ledger's benchmarks) and as hashes
// (payflow's account IDs).
func BenchmarkSortIDs(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, keys := range []struct {
		name string
		id   func() ID
	}{
		{"small", func() ID { return IDFromUint64(1 + r.Uint64N(10000)) }},
		{"hashes", func() ID { return IDFromUint64s(r.Uint64(), r.Uint64()) }},
	} {
		src := make([]ID, 8000)
		for i := range src {
			src[i] = keys.id()
		}
		ids := make([]ID, len(src))
		b.Run(keys.name+"/idSorter", func(b *testing.B) {
			b.ReportAllocs()
			var s idSorter
			for b.Loop() {
				copy(ids, src)
				s.sort(ids)
			}
		})
		b.Run(keys.name+"/quickSortIDs", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				copy(ids, src)
				quickSortIDs(ids, 2*bits.Len(uint(len(ids))))
			}
		})
		b.Run(keys.name+"/slices.SortFunc", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				copy(ids, src)
				slices.SortFunc(ids, ID.Compare)
			}
		})
	}
}
