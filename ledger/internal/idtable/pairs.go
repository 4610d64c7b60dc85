package idtable

import "encoding/binary"

// Pairs numbers pairs of a 16-byte key and a 64-bit integer (a balance
// history row's account and timestamp) 0, 1, 2, … in the order they are
// added, as Table numbers keys: it numbers the keys in one Table, and the
// pairs, as the key's number and the integer, in another. The zero value
// is empty. A Pairs is not safe for concurrent use.
type Pairs[K ~[16]byte] struct {
	keys  Table[K]
	pairs Table[[16]byte]
}

// Len returns the number of pairs.
func (p *Pairs[K]) Len() int { return p.pairs.Len() }

// Add returns the number of the pair (k, v), adding it with the next
// number when it is not in p yet (added is then true). It panics, as
// Table.Add does, when either Table it numbers with is full.
func (p *Pairs[K]) Add(k K, v uint64) (n int, added bool) {
	i, _ := p.keys.Add(k)
	var pair [16]byte
	binary.BigEndian.PutUint64(pair[:8], uint64(i))
	binary.BigEndian.PutUint64(pair[8:], v)
	return p.pairs.Add(pair)
}

// Reset empties p and makes room for hint pairs, keeping its memory, as
// Table.Reset does.
func (p *Pairs[K]) Reset(hint int) {
	p.keys.Reset(hint)
	p.pairs.Reset(hint)
}
