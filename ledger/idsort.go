package ledger

import (
	"encoding/binary"
	"math/bits"
)

// sortIDs sorts ids ascending (in numeric order, as ID.Compare), with
// scratch memory of its own; idSorter keeps it from one sort to the next.
func sortIDs(ids []ID) {
	var s idSorter
	s.sort(ids)
}

// idSorter sorts IDs. A batch of random transfers sorts about as many
// account IDs as it has transfers, and slices.SortFunc with ID.Compare
// spent most of its time in the indirect call and the mispredicted branch
// of each comparison. idSorter is a most-significant-byte-first radix
// sort: one counting pass and one move per byte position that still
// tells IDs apart, which for IDs spread evenly over the 128 bits (hashes,
// or the random part of time-based IDs) is one or two positions for
// thousands of IDs; the small buckets left are sorted by comparison.
// Leading bytes that all IDs share cost no move, and no input costs more
// than 16 passes. Input that is already ascending, as time-based transfer
// IDs usually are, costs one pass. The zero value is ready to use.
type idSorter struct {
	tmp []ID // scratch, as long as the longest input
}

// radixMin is the bucket size below which comparison sorting is cheaper
// than another counting pass.
const radixMin = 24

func (s *idSorter) sort(ids []ID) {
	if idsSorted(ids) {
		return
	}
	if len(ids) <= radixMin {
		quickSortIDs(ids, 2*bits.Len(uint(len(ids))))
		return
	}
	if cap(s.tmp) < len(ids) {
		s.tmp = make([]ID, len(ids))
	}
	// Skip the leading bytes that every ID shares.
	h0, l0 := ids[0].Uint64s()
	var dh, dl uint64
	for i := range ids {
		h, l := ids[i].Uint64s()
		dh |= h ^ h0
		dl |= l ^ l0
	}
	d := bits.LeadingZeros64(dh) / 8
	if dh == 0 {
		d = 8 + bits.LeadingZeros64(dl)/8
	}
	s.radix(ids, d)
}

// radix sorts a, whose IDs share their first d bytes, by byte d and then
// each bucket by the bytes after it.
func (s *idSorter) radix(a []ID, d int) {
	for ; d < len(ID{}); d++ {
		if len(a) <= radixMin {
			quickSortIDs(a, 2*bits.Len(uint(len(a))))
			return
		}
		var count [256]int
		for i := range a {
			count[a[i][d]]++
		}
		if count[a[0][d]] == len(a) {
			continue // byte d tells none apart
		}
		// count[b] becomes where bucket b starts, and after the moves
		// where it ends.
		sum := 0
		for b, c := range count {
			count[b] = sum
			sum += c
		}
		tmp := s.tmp[:len(a)]
		for i := range a {
			b := a[i][d]
			tmp[count[b]] = a[i]
			count[b]++
		}
		copy(a, tmp)
		start := 0
		for _, end := range count {
			if end-start > 1 {
				s.radix(a[start:end], d+1)
			}
			start = end
		}
		return
	}
}

// idLess reports whether a < b.
func idLess(a, b *ID) bool {
	ah, bh := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	if ah != bh {
		return ah < bh
	}
	return binary.BigEndian.Uint64(a[8:]) < binary.BigEndian.Uint64(b[8:])
}

// idsSorted reports whether ids is ascending (duplicates allowed).
func idsSorted(ids []ID) bool {
	for i := 1; i < len(ids); i++ {
		if idLess(&ids[i], &ids[i-1]) {
			return false
		}
	}
	return true
}

// accountsSorted reports whether a is in ascending ID order.
func accountsSorted(a []Account) bool {
	for i := 1; i < len(a); i++ {
		if idLess(&a[i].ID, &a[i-1].ID) {
			return false
		}
	}
	return true
}

func quickSortIDs(a []ID, depth int) {
	for len(a) > 12 {
		if depth == 0 {
			heapSortIDs(a)
			return
		}
		depth--
		p := partitionIDs(a)
		// Recurse into the smaller side, loop on the larger: the stack
		// stays logarithmic.
		if p < len(a)-p {
			quickSortIDs(a[:p], depth)
			a = a[p+1:]
		} else {
			quickSortIDs(a[p+1:], depth)
			a = a[:p]
		}
	}
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && idLess(&a[j], &a[j-1]); j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// partitionIDs moves the median of a's first, middle and last IDs to its
// final place p, with a[:p] <= a[p] <= a[p+1:], and returns p. len(a) >= 3.
func partitionIDs(a []ID) int {
	n, m := len(a), len(a)/2
	if idLess(&a[m], &a[0]) {
		a[m], a[0] = a[0], a[m]
	}
	if idLess(&a[n-1], &a[m]) {
		a[n-1], a[m] = a[m], a[n-1]
		if idLess(&a[m], &a[0]) {
			a[m], a[0] = a[0], a[m]
		}
	}
	a[0], a[m] = a[m], a[0]
	p := a[0]
	// a[1:i] <= p and a[j+1:] >= p. Both scans stop at IDs equal to the
	// pivot, so runs of equal IDs split evenly.
	i, j := 1, n-1
	for {
		for i <= j && idLess(&a[i], &p) {
			i++
		}
		for i <= j && idLess(&p, &a[j]) {
			j--
		}
		if i >= j {
			break
		}
		a[i], a[j] = a[j], a[i]
		i++
		j--
	}
	a[0], a[j] = a[j], a[0]
	return j
}

func heapSortIDs(a []ID) {
	for i := len(a)/2 - 1; i >= 0; i-- {
		siftDownIDs(a, i)
	}
	for end := len(a) - 1; end > 0; end-- {
		a[0], a[end] = a[end], a[0]
		siftDownIDs(a[:end], 0)
	}
}

func siftDownIDs(a []ID, i int) {
	for {
		c := 2*i + 1
		if c >= len(a) {
			return
		}
		if c+1 < len(a) && idLess(&a[c], &a[c+1]) {
			c++
		}
		if !idLess(&a[i], &a[c]) {
			return
		}
		a[i], a[c] = a[c], a[i]
		i = c
	}
}
