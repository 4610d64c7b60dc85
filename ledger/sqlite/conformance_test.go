package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/ledgertest"
)

func TestConformance(t *testing.T) {
	ledgertest.Run(t, ledgertest.Config{
		NewStore: func(t *testing.T) ledger.Store {
			s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"), Options{noSync: true})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
		Reopen: func(t *testing.T, closed ledger.Store) ledger.Store {
			s, err := Open(context.Background(), closed.(*Store).path, Options{noSync: true})
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
		FailReads: func(t *testing.T, s ledger.Store) {
			// On the writer connection, between the store's transactions.
			ctx := context.Background()
			st := s.(*Store)
			require.NoError(t, st.lock.Lock(ctx))
			defer st.lock.Unlock()
			_, err := st.conn.ExecContext(ctx, `ALTER TABLE failed_transfers RENAME TO failed_transfers_away`)
			require.NoError(t, err)
		},
		DeleteAccount: func(t *testing.T, s ledger.Store, id ledger.ID) {
			// On the writer connection, between the store's transactions,
			// with the foreign keys off and then on again.
			ctx := context.Background()
			st := s.(*Store)
			require.NoError(t, st.lock.Lock(ctx))
			defer st.lock.Unlock()
			_, err := st.conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`)
			require.NoError(t, err)
			_, err = st.conn.ExecContext(ctx, `DELETE FROM accounts WHERE id = ?1`, id[:])
			require.NoError(t, err)
			_, err = st.conn.ExecContext(ctx, `PRAGMA foreign_keys = ON`)
			require.NoError(t, err)
		},
	})
}

func TestNotMade(t *testing.T) {
	ledgertest.RunNotMade(t, (*Store)(nil), new(Store))
}
