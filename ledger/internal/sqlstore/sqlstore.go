// Package sqlstore holds what the SQL stores of package ledger (ledger/sqlite
// and ledger/postgres) share: the column lists and row scanning, every read
// of ledger.ReadTx built once for both SQL dialects (Reader), the schema
// component name and the bounded retry schedule. Reading the embedded
// migrations is package internal/sqlmigrate's, shared with payflow.
package sqlstore

import (
	"fmt"
	"time"

	"github.com/casimpay/casimpay/ledger"
)

// Component names the ledger's rows in table schema_migrations, which
// other components keeping tables in the same database (with their own
// component name) may share: columns component, version, name, applied_at,
// primary key (component, version).
const Component = "ledger"

// Backoff returns how long to wait before retry number attempt (0 for the
// first retry): exponential from 1 ms, capped at 100 ms, with the upper half
// of the interval chosen by jitter, a value in [0, 1).
func Backoff(attempt int, jitter float64) time.Duration {
	d := time.Millisecond << min(attempt, 7)
	d = min(d, 100*time.Millisecond)
	return d/2 + time.Duration(float64(d/2)*jitter)
}

// SameAccount returns an error wrapping ledger.ErrCorrupt when a transfer
// of tr debits and credits the same account, which the ledger never
// writes (ledger.TransferAccountsMustBeDifferent): a SQL store refuses it
// before it writes anything, as the memory store does.
func SameAccount(tr []ledger.Transfer) error {
	for k := range tr {
		if tr[k].DebitAccountID == tr[k].CreditAccountID {
			return fmt.Errorf("%w: transfer %v debits and credits the same account %v",
				ledger.ErrCorrupt, tr[k].ID, tr[k].DebitAccountID)
		}
	}
	return nil
}
