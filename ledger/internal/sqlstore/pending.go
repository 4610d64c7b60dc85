package sqlstore

import (
	"fmt"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/idtable"
)

// PendingCheck records the transfers and pending states a write
// transaction inserts, so that a SQL store checks against its transfers
// table only the pending states whose transfer the transaction does not
// insert itself: the ledger inserts a hold's pending state with the hold,
// so a purchase's write asks nothing more of the database. The zero value
// records nothing. A PendingCheck is not safe for concurrent use.
type PendingCheck struct {
	transfers []insertedTransfer
	pending   []ledger.ID
}

// insertedTransfer is a transfer the transaction inserts: its ID and
// whether it has ledger.TransferPending.
type insertedTransfer struct {
	id      ledger.ID
	pending bool
}

// Transfers records transfers inserted by the transaction.
func (c *PendingCheck) Transfers(t []ledger.Transfer) {
	for k := range t {
		c.transfers = append(c.transfers, insertedTransfer{t[k].ID, t[k].Flags&ledger.TransferPending != 0})
	}
}

// Pending records pending states inserted by the transaction.
func (c *PendingCheck) Pending(p []ledger.Pending) {
	for k := range p {
		c.pending = append(c.pending, p[k].ID)
	}
}

// Unknown returns the IDs of the recorded pending states whose transfer
// the transaction does not insert: the store must find each of them among
// its stored transfers with ledger.TransferPending. It fails with an error
// wrapping ledger.ErrCorrupt when a pending state names a transfer the
// transaction inserts without ledger.TransferPending.
func (c *PendingCheck) Unknown() ([]ledger.ID, error) {
	if len(c.pending) == 0 {
		return nil, nil
	}
	var inserted idtable.Table[ledger.ID]
	var pending []bool // by inserted's numbers
	for _, t := range c.transfers {
		if _, added := inserted.Add(t.id); added {
			pending = append(pending, t.pending)
		}
	}
	var unknown []ledger.ID
	for _, id := range c.pending {
		n, ok := inserted.Find(id)
		switch {
		case !ok:
			unknown = append(unknown, id)
		case !pending[n]:
			return nil, fmt.Errorf("%w: pending state of transfer %v, inserted without the pending flag", ledger.ErrCorrupt, id)
		}
	}
	return unknown, nil
}
