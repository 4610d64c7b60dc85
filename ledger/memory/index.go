package memory

import (
	"encoding/binary"

	"github.com/casimpay/casimpay/ledger"
)

// index maps transfer IDs to their position: an open-addressing hash table
// with linear probing. It touches one cache line per lookup in the common
// case, which matters once it holds millions of IDs.
type index struct {
	slots []slot // length is a power of two, or zero
	n     int
}

type slot struct {
	id  ledger.ID
	pos int64 // position + 1; 0 marks an empty slot
}

func hashID(id ledger.ID) uint64 {
	h := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])*0x9e3779b97f4a7c15
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}

// get returns the position of id.
func (x *index) get(id ledger.ID) (int, bool) {
	if x.n == 0 {
		return 0, false
	}
	mask := uint64(len(x.slots) - 1)
	for i := hashID(id) & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.pos == 0 {
			return 0, false
		}
		if s.id == id {
			return int(s.pos - 1), true
		}
	}
}

// put records the position of id, which is not in x yet.
func (x *index) put(id ledger.ID, pos int) {
	if 2*(x.n+1) > len(x.slots) { // load at most 1/2: short probe runs
		x.grow()
	}
	x.insert(id, int64(pos)+1)
	x.n++
}

func (x *index) insert(id ledger.ID, pos int64) {
	mask := uint64(len(x.slots) - 1)
	i := hashID(id) & mask
	for x.slots[i].pos != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = slot{id: id, pos: pos}
}

func (x *index) grow() {
	old := x.slots
	x.slots = make([]slot, max(1024, 2*len(old)))
	for _, s := range old {
		if s.pos != 0 {
			x.insert(s.id, s.pos)
		}
	}
}
