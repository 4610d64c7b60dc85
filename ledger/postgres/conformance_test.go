package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/ledgertest"
)

// schemas recycles migrated schemas between the many short tests of the
// conformance suite: creating and dropping a schema costs far more than
// the tests themselves. A schema goes back to the pool emptied (every table
// deleted, the timestamp reset), which is the state of a fresh one.
type schemas struct {
	outer *testing.T
	mu    sync.Mutex
	free  []string
}

func (p *schemas) get(t *testing.T) string {
	p.mu.Lock()
	var dsn string
	if n := len(p.free); n > 0 {
		dsn, p.free = p.free[n-1], p.free[:n-1]
	}
	p.mu.Unlock()
	if dsn == "" {
		dsn = testenv.PostgresSchema(p.outer)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("recycle schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		// DELETE, not TRUNCATE: the tables are small, and TRUNCATE
		// creates new files for every table and index.
		if _, err := conn.Exec(ctx, `BEGIN;
			DELETE FROM account_balances; DELETE FROM failed_transfers; DELETE FROM pending;
			DELETE FROM transfers; DELETE FROM accounts;
			UPDATE ledger_state SET last_timestamp = 0;
			COMMIT`); err != nil {
			t.Errorf("recycle schema: %v", err)
			return
		}
		p.mu.Lock()
		p.free = append(p.free, dsn)
		p.mu.Unlock()
	})
	return dsn
}

func TestConformance(t *testing.T) {
	testenv.PostgresDSN(t)
	pool := &schemas{outer: t}
	ledgertest.Run(t, ledgertest.Config{
		NewStore: func(t *testing.T) ledger.Store {
			s, err := Open(context.Background(), pool.get(t), Options{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
		Reopen: func(t *testing.T, closed ledger.Store) ledger.Store {
			s, err := Open(context.Background(), closed.(*Store).dsn, Options{})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
		FailReads: func(t *testing.T, s ledger.Store) {
			// Renamed back before the schema is recycled (cleanups run
			// last added first).
			rename := func(from, to string) error {
				_, err := s.(*Store).pool.Exec(context.Background(), `ALTER TABLE `+from+` RENAME TO `+to)
				return err
			}
			require.NoError(t, rename("failed_transfers", "failed_transfers_away"))
			t.Cleanup(func() { require.NoError(t, rename("failed_transfers_away", "failed_transfers")) })
		},
		DeleteAccount: func(t *testing.T, s ledger.Store, id ledger.ID) {
			// In a transaction that replicates (session_replication_role):
			// the foreign keys' triggers do not fire.
			ctx := context.Background()
			tx, err := s.(*Store).pool.Begin(ctx)
			require.NoError(t, err)
			defer tx.Rollback(ctx)
			_, err = tx.Exec(ctx, `SET LOCAL session_replication_role = replica`)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id[:])
			require.NoError(t, err)
			require.NoError(t, tx.Commit(ctx))
		},
	})
}

func TestNotMade(t *testing.T) {
	ledgertest.RunNotMade(t, (*Store)(nil), new(Store))
}
