package memory

import (
	"encoding/binary"
	"sort"

	"github.com/casimpay/casimpay/ledger"
)

// index maps transfer IDs to their position in the store's chunks.
//
// IDs that arrive in ascending order, as time-based IDs (ledger.NewID,
// TigerBeetle's recommendation) mostly do, are appended to a sorted
// array: appending costs no random memory access, and a new ID greater
// than all of them is known to be absent at once. Other IDs go to an
// open-addressing hash table with linear probing whose 8-byte slots hold
// a 32-bit fingerprint of the ID and the position; a fingerprint match is
// confirmed against the stored transfer.
type index struct {
	seq   [][]seqEntry // ascending IDs, in chunks of seqChunk (growing never copies)
	last  ledger.ID    // the greatest ID in seq
	slots []uint64     // fingerprint<<32 | position+1; 0 is empty; length a power of two
	n     int          // IDs in slots
}

const seqChunk = 4096

type seqEntry struct {
	id  ledger.ID
	pos uint32
}

func hashID(id ledger.ID) uint64 {
	h := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])*0x9e3779b97f4a7c15
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}

// get returns the position of id among the transfers in c.
func (x *index) get(c *chunks, id ledger.ID) (int, bool) {
	if len(x.seq) > 0 && id.Compare(x.last) <= 0 {
		// The first chunk whose last ID is >= id, then the entry.
		k := sort.Search(len(x.seq), func(k int) bool {
			c := x.seq[k]
			return c[len(c)-1].id.Compare(id) >= 0
		})
		c := x.seq[k]
		i := sort.Search(len(c), func(i int) bool { return c[i].id.Compare(id) >= 0 })
		if c[i].id == id {
			return int(c[i].pos), true
		}
	}
	if x.n == 0 {
		return 0, false
	}
	h := hashID(id)
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

// put records the position of the transfer at pos in c, whose ID is not
// in x yet.
func (x *index) put(c *chunks, pos int) {
	id := c.at(pos).ID
	if len(x.seq) == 0 || id.Compare(x.last) > 0 {
		if k := len(x.seq); k == 0 || len(x.seq[k-1]) == seqChunk {
			x.seq = append(x.seq, make([]seqEntry, 0, seqChunk))
		}
		k := len(x.seq) - 1
		x.seq[k] = append(x.seq[k], seqEntry{id: id, pos: uint32(pos)})
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
	h := hashID(id)
	mask := uint64(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = h>>32<<32 | uint64(uint32(pos+1))
}

// grow doubles the hash table and reinserts its IDs.
func (x *index) grow(c *chunks) {
	old := x.slots
	x.slots = make([]uint64, max(1024, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			pos := int(uint32(s)) - 1
			x.insert(c.at(pos).ID, pos)
		}
	}
}
