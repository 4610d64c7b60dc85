package memory

import (
	"encoding/binary"

	"github.com/casimpay/casimpay/ledger"
)

// index maps transfer IDs to their position in the store's chunks: an
// open-addressing hash table with linear probing whose slots hold only a
// 32-bit fingerprint of the ID and the position (8 bytes), so that it stays
// small and cache-friendly with millions of IDs. A fingerprint match is
// confirmed against the stored transfer.
type index struct {
	slots []uint64 // fingerprint<<32 | position+1; 0 is empty; length a power of two
	n     int
}

func hashID(id ledger.ID) uint64 {
	h := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])*0x9e3779b97f4a7c15
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}

// get returns the position of id among the transfers in c.
func (x *index) get(c *chunks, id ledger.ID) (int, bool) {
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

// put records that the transfer at position pos of c, whose ID is not in x
// yet, is the next one: positions are added in order 0, 1, 2, …
func (x *index) put(c *chunks, pos int) {
	if 2*(x.n+1) > len(x.slots) { // load at most 1/2: short probe runs
		x.grow(c)
	}
	x.insert(c.at(pos).ID, pos)
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

// grow doubles the table and reinserts every indexed transfer, reading the
// chunks in order.
func (x *index) grow(c *chunks) {
	x.slots = make([]uint64, max(1024, 2*len(x.slots)))
	for pos := range x.n {
		x.insert(c.at(pos).ID, pos)
	}
}
