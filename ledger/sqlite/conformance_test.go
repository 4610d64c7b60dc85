package sqlite

import (
	"context"
	"path/filepath"
	"runtime"
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

// TestOpenPathIsFileName: Open takes ":memory:" as the name of a file,
// which it makes in the working directory, and refuses an empty path.
func TestOpenPathIsFileName(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no file name holds a colon on Windows")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	s, err := Open(context.Background(), ":memory:", Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.FileExists(t, filepath.Join(dir, ":memory:"))
	_, err = Open(context.Background(), "", Options{})
	require.EqualError(t, err, "sqlite: open : sqlitedb: empty database path")
}
