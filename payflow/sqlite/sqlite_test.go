package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ledgersqlite "github.com/casimpay/casimpay/ledger/sqlite"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/payflow/sqlite"
)

func open(tb testing.TB, path string) (*sqlite.Store, error) {
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { s.Close() })
	return s, nil
}

func mustOpen(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := open(t, path)
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) {
	paytest.Run(t, func(t *testing.T) payflow.Store { return mustOpen(t, filepath.Join(t.TempDir(), "casimpay.db")) })
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casimpay.db")
	s := mustOpen(t, path)
	require.NoError(t, s.Add(context.Background(), []byte("nonce"), time.Now().Add(time.Hour)))
	require.NoError(t, s.Close())
	s = mustOpen(t, path)
	require.NoError(t, s.Consume(context.Background(), []byte("nonce"), time.Now()), "state survives a reopen, migrations run once")
}

// TestPlatform runs the platform end to end with the ledger and the
// platform state in one SQLite file.
func TestPlatform(t *testing.T) {
	paytest.RunPlatform(t, func(t *testing.T) *paytest.Fixture {
		path := filepath.Join(t.TempDir(), "casimpay.db")
		ls, err := ledgersqlite.Open(context.Background(), path, ledgersqlite.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { ls.Close() })
		return paytest.NewFixture(t, mustOpen(t, path), ls, paytest.Options{})
	})
}
