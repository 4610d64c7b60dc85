package ledger

import (
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSortIDsOneApart: IDs of which all but one share their first byte,
// the one that differs lower than the others and not first, are sorted by
// that byte: a byte position that tells one ID apart from the rest is not
// skipped.
func TestSortIDsOneApart(t *testing.T) {
	ids := make([]ID, 3*radixMin)
	for i := range ids {
		ids[i] = IDFromUint64s(5<<56, uint64(len(ids)-i))
	}
	ids[len(ids)/2] = IDFromUint64s(1<<56, uint64(len(ids)))
	want := sortedIDs(ids)
	sortIDs(ids)
	assert.Equal(t, want, ids)
}

// TestQuickSortIDs: quickSortIDs sorts inputs of every length up to twice
// radixMin, of few distinct IDs (many duplicates) or of many, whatever
// its depth, heapSortIDs taking over when it is spent.
func TestQuickSortIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := range 2*radixMin + 1 {
		for _, span := range []uint64{2, 5, 1 << 63} {
			for try := range 20 {
				ids := make([]ID, n)
				for i := range ids {
					ids[i] = IDFromUint64s(r.Uint64N(span), r.Uint64N(span))
				}
				want := sortedIDs(ids)
				for _, depth := range []int{2 * bits.Len(uint(n)), 1, 0} {
					got := slices.Clone(ids)
					quickSortIDs(got, depth)
					if !assert.Equal(t, want, got, "%d IDs of span %d, try %d, depth %d", n, span, try, depth) {
						return
					}
				}
			}
		}
	}
}

// sortedIDs returns a copy of ids sorted with ID.Compare.
func sortedIDs(ids []ID) []ID {
	want := slices.Clone(ids)
	slices.SortFunc(want, ID.Compare)
	return want
}
