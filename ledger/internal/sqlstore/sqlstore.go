// Package sqlstore holds what the SQL stores of package ledger (ledger/sqlite
// and ledger/postgres) share: the column lists and row scanning, every read
// of ledger.ReadTx built once for both SQL dialects (Reader), the checks of
// a write before it runs (SameAccount, PendingCheck) and the schema
// component name. Reading the embedded migrations is package
// internal/sqlmigrate's, shared with payflow; the retry schedule is
// package internal/pgretry's, shared with payflow's PostgreSQL store
// (payflow/internal/sqlstate).
package sqlstore

import (
	"fmt"

	"github.com/casimpay/casimpay/ledger"
)

// Component names the ledger's rows in table schema_migrations, which
// other components keeping tables in the same database (with their own
// component name) may share: columns component, version, name, applied_at,
// primary key (component, version).
const Component = "ledger"

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
