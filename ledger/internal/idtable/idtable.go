// Package idtable numbers 16-byte IDs densely, in the order they are
// added: the hash table of the ledger's hot paths (the accounts a batch
// touches, the accounts of the in-memory store), where a Go map keyed by a
// 16-byte array costs more than the work around each lookup.
//
// It is open addressing with linear probing, at most half full. A slot
// holds 32 bits of the key's hash and its number, and the keys sit in one
// slice in number order, so a lookup usually reads one slot and one key.
// The hash is seeded at random per table, as Go's maps are, so that
// client-chosen IDs cannot be picked to collide. Pairs numbers pairs of
// an ID and a 64-bit integer on two Tables.
//
//	var t idtable.Table[ledger.ID]
//	n, added := t.Add(id) // n == 0, added
//	n, ok := t.Find(id)   // n == 0, ok
//	ids := t.Keys()       // []ledger.ID{id}
package idtable

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"math/rand/v2"
)

// Table numbers the keys added to it 0, 1, 2, … It holds fewer than
// 2^32 - 1 keys: Add panics, leaving the table as it was, when asked to
// add a key to a table that holds 2^32 - 2, so that a caller that may add
// more bounds its keys first. The zero value is an empty table. A Table
// is not safe for concurrent use.
type Table[K ~[16]byte] struct {
	hasher Hasher
	slots  []uint64 // hash>>32<<32 | number+1; 0 is empty; length a power of two
	keys   []K      // by number
}

// maxLen is the most keys a Table holds: a slot holds a number plus one
// in 32 bits, 0 marking it empty. A variable for the tests.
var maxLen uint64 = 1<<32 - 2

// errFull is the panic of Add on a Table that holds maxLen keys.
var errFull = errors.New("idtable: table full: it numbers at most 4294967294 keys")

// minSlots is the smallest table.
const minSlots = 16

// Len returns the number of keys.
func (t *Table[K]) Len() int { return len(t.keys) }

// Keys returns the keys by number: Keys()[n] is the key numbered n. The
// slice is the table's own until the next Add or Reset.
func (t *Table[K]) Keys() []K { return t.keys }

// Find returns the number of k, or false when k is not in the table.
func (t *Table[K]) Find(k K) (int, bool) {
	if len(t.keys) == 0 {
		return 0, false
	}
	h := t.hash(k)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if s>>32 == h>>32 {
			if n := int(uint32(s)) - 1; t.keys[n] == k {
				return n, true
			}
		}
	}
}

// Add returns the number of k, adding k with the next number when it is
// not in the table yet (added is then true). It panics when k is not in a
// table that holds 2^32 - 2 keys, the most a Table holds.
func (t *Table[K]) Add(k K) (n int, added bool) {
	if 2*(len(t.keys)+1) > len(t.slots) {
		t.grow()
	}
	h := t.hash(k)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			if uint64(len(t.keys)) >= maxLen {
				panic(errFull)
			}
			n = len(t.keys)
			t.keys = append(t.keys, k)
			t.slots[i] = h>>32<<32 | uint64(uint32(n+1))
			return n, true
		}
		if s>>32 == h>>32 {
			if n := int(uint32(s)) - 1; t.keys[n] == k {
				return n, false
			}
		}
	}
}

// Reset empties the table and makes room for hint keys, keeping its
// memory: clearing costs in proportion to hint, not to the largest size
// the table ever had.
func (t *Table[K]) Reset(hint int) {
	t.keys = t.keys[:0]
	size := minSlots
	for size < 2*hint {
		size <<= 1
	}
	t.resize(size)
}

// grow doubles the slots and numbers the keys again in them.
func (t *Table[K]) grow() {
	t.resize(max(minSlots, 2*len(t.slots)))
	mask := uint64(len(t.slots) - 1)
	for n, k := range t.keys {
		h := t.hash(k)
		i := h & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = h>>32<<32 | uint64(uint32(n+1))
	}
}

// resize makes t.slots size empty slots, reusing its array when it is
// large enough.
func (t *Table[K]) resize(size int) {
	t.hasher.Seed()
	if cap(t.slots) >= size {
		t.slots = t.slots[:size]
		clear(t.slots)
	} else {
		t.slots = make([]uint64, size)
	}
}

func (t *Table[K]) hash(k K) uint64 { return t.hasher.Hash([16]byte(k)) }

// Hasher is the seeded hash of a Table, for other hash tables of IDs (the
// in-memory store's transfer index). Its zero value has no seed: call Seed
// before the first Hash. After Seed it is safe for concurrent use.
type Hasher struct{ seed0, seed1 uint64 }

// Seed draws h's seed at random, unless h has one already.
func (h *Hasher) Seed() {
	if h.seed0 == 0 {
		h.seed0, h.seed1 = rand.Uint64()|1, rand.Uint64()
	}
}

// Hash is wyhash's mixing of a 16-byte input: two 64×64→128-bit
// multiplications, with h's seed.
func (h *Hasher) Hash(b [16]byte) uint64 {
	v := mix(binary.LittleEndian.Uint64(b[:8])^h.seed0, binary.LittleEndian.Uint64(b[8:])^h.seed1)
	return mix(v^0xa0761d6478bd642f, 0xe7037ed1a0b428db)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
