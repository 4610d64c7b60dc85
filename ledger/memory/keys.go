package memory

import (
	"fmt"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/idtable"
)

// checkKeys returns an error wrapping ledger.ErrCorrupt when a row of
// batches, inserts of one kind, has the unique key of a stored row
// (stored reports it) or of another row of batches. A key is a timestamp
// and an ID, which key returns: the zero ID for a transfer, whose
// timestamp alone is its key, and the account of a balance history row;
// name names a key in the error. Rows in the order the ledger writes them
// (keyOrder, with pairs for balance history rows) share no key; others
// are numbered in s.txKeys.
func checkKeys[T any](s *Store, batches [][]T, pairs bool, key func(*T) (ledger.ID, uint64),
	stored func(ledger.ID, uint64) bool, name func(ledger.ID, uint64) string) error {
	order := keyOrder{pairs: pairs}
	n := 0
	for _, batch := range batches {
		for k := range batch {
			id, ts := key(&batch[k])
			if stored(id, ts) {
				return fmt.Errorf("%w: insert of %s, which is stored", ledger.ErrCorrupt, name(id, ts))
			}
			order.next(ts, id)
		}
		n += len(batch)
	}
	if !order.unsure {
		return nil
	}
	s.txKeys.Reset(n)
	for _, batch := range batches {
		for k := range batch {
			if _, added := s.txKeys.Add(key(&batch[k])); !added {
				return fmt.Errorf("%w: %s inserted twice", ledger.ErrCorrupt, name(key(&batch[k])))
			}
		}
	}
	return nil
}

// keyOrder follows the rows of one kind, in the order given, to tell
// whether two of them may share a unique key: none do while their
// timestamps ascend, where with pairs two rows with different IDs (a
// transfer's two balance history rows) may share a timestamp. The zero
// value has seen no row, and lets no two rows share a timestamp.
type keyOrder struct {
	pairs  bool
	ts     uint64    // of the last row
	id     ledger.ID // of the last row
	at     int       // rows at ts, 0 before the first row
	unsure bool      // two rows may share a key
}

// next follows the row with timestamp ts and ID id.
func (o *keyOrder) next(ts uint64, id ledger.ID) {
	switch {
	case o.at == 0 || ts > o.ts:
		o.at = 1
	case o.pairs && ts == o.ts && o.at == 1 && id != o.id:
		o.at = 2
	default:
		o.unsure = true
	}
	o.ts, o.id = ts, id
}

// numberInserts numbers the IDs of the rows in batches, inserts of one
// kind, in ids (number), and returns an error wrapping ledger.ErrCorrupt
// when one is given twice or stored says it is stored.
func numberInserts[T any](ids *idtable.Table[ledger.ID], batches [][]T, kind string, id func(*T) ledger.ID, stored func(ledger.ID) bool) error {
	if v, twice := number(ids, batches, id); twice {
		return fmt.Errorf("%w: %s %v inserted twice", ledger.ErrCorrupt, kind, v)
	}
	for _, v := range ids.Keys() {
		if stored(v) {
			return fmt.Errorf("%w: insert of %s %v, which is stored", ledger.ErrCorrupt, kind, v)
		}
	}
	return nil
}

// number empties ids and adds the IDs of the rows in batches. It returns
// the first ID that two rows share, if any (twice is then true).
func number[T any](ids *idtable.Table[ledger.ID], batches [][]T, id func(*T) ledger.ID) (repeated ledger.ID, twice bool) {
	n := 0
	for _, batch := range batches {
		n += len(batch)
	}
	ids.Reset(n)
	for _, batch := range batches {
		for k := range batch {
			if _, added := ids.Add(id(&batch[k])); !added && !twice {
				repeated, twice = id(&batch[k]), true
			}
		}
	}
	return repeated, twice
}
