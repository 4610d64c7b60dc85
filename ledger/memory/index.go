package memory

import (
	"sort"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/idtable"
)

// index maps transfer IDs to their position in the store's chunks.
//
// IDs that arrive in ascending order, as time-based IDs (ledger.NewID,
// TigerBeetle's recommendation) mostly do, need little memory of their
// own: transfers at consecutive positions whose IDs ascend past every ID
// indexed so far form a run, recorded as its first position and its
// length, and every fenceLen-th ID of a run is copied into fences. A
// lookup binary-searches the runs by their first ID, then the run's
// fences, then the at most fenceLen transfers after the fence. A new ID
// greater than all of them is known to be absent at once. Other IDs go to
// an open-addressing hash table with linear probing whose 8-byte slots
// hold a 32-bit fingerprint of the ID and the position; a fingerprint
// match is confirmed against the stored transfer. Its hash is seeded at
// random per index, so that client-chosen IDs cannot be picked to collide.
type index struct {
	hasher idtable.Hasher // seeded when the hash table is first made
	runs   []run          // ascending IDs, by position
	fences []ledger.ID    // each run's IDs 0, fenceLen, 2*fenceLen, …
	last   ledger.ID      // the greatest ID in runs
	slots  []uint64       // fingerprint<<32 | position+1; 0 is empty; length a power of two
	n      int            // IDs in slots
}

// run is the transfers at positions [start, start+n), whose IDs ascend;
// its fences start at fences[fence].
type run struct{ start, n, fence uint32 }

const fenceLen = 8

// get returns the position of id among the transfers in c.
func (x *index) get(c *chunks, id ledger.ID) (int, bool) {
	if len(x.runs) > 0 && id.Compare(x.last) <= 0 {
		if pos, ok := x.getRun(c, id); ok {
			return pos, true
		}
	}
	if x.n == 0 {
		return 0, false
	}
	h := x.hasher.Hash(id)
	fp := h >> 32
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>32 == fp {
			if pos := int(uint32(s)) - 1; c.at(pos).ID == id {
				return pos, true
			}
		}
	}
}

// getRun looks id up among the runs.
func (x *index) getRun(c *chunks, id ledger.ID) (int, bool) {
	// The last run whose first ID is <= id.
	k := sort.Search(len(x.runs), func(k int) bool { return x.fences[x.runs[k].fence].Compare(id) > 0 }) - 1
	if k < 0 {
		return 0, false
	}
	r := x.runs[k]
	fences := x.fences[r.fence : r.fence+(r.n+fenceLen-1)/fenceLen]
	// The last fence <= id, then the transfers after it.
	f := sort.Search(len(fences), func(f int) bool { return fences[f].Compare(id) > 0 }) - 1
	lo := int(r.start) + f*fenceLen
	if fences[f] == id {
		return lo, true
	}
	n := min(fenceLen, int(r.start+r.n)-lo)
	i := sort.Search(n-1, func(i int) bool { return c.at(lo+1+i).ID.Compare(id) >= 0 })
	if pos := lo + 1 + i; i < n-1 && c.at(pos).ID == id {
		return pos, true
	}
	return 0, false
}

// put records that the transfer at pos in c has ID id, which is not in x
// yet.
func (x *index) put(c *chunks, id ledger.ID, pos int) {
	if len(x.runs) == 0 || id.Compare(x.last) > 0 {
		if k := len(x.runs) - 1; k >= 0 && int(x.runs[k].start+x.runs[k].n) == pos {
			if x.runs[k].n%fenceLen == 0 {
				x.fences = append(x.fences, id)
			}
			x.runs[k].n++
		} else {
			x.runs = append(x.runs, run{start: uint32(pos), n: 1, fence: uint32(len(x.fences))})
			x.fences = append(x.fences, id)
		}
		x.last = id
		return
	}
	if 2*(x.n+1) > len(x.slots) { // load at most 1/2: short probe runs
		x.grow(c)
	}
	x.insert(id, pos)
	x.n++
}

func (x *index) insert(id ledger.ID, pos int) {
	h := x.hasher.Hash(id)
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = h>>32<<32 | uint64(uint32(pos+1))
}

// grow doubles the hash table and reinserts its IDs.
func (x *index) grow(c *chunks) {
	x.hasher.Seed()
	old := x.slots
	x.slots = make([]uint64, max(1024, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			pos := int(uint32(s)) - 1
			x.insert(c.at(pos).ID, pos)
		}
	}
}
