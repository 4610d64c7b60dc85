package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/ledger"
)

// TestReadConnPrepareFails: a View that opens a read connection whose
// BEGIN, COMMIT or ROLLBACK fails to prepare, or whose BEGIN then fails,
// fails with that error and closes the connection rather than keep it,
// so that the pool, of one connection here, has none open and serves the
// next View.
func TestReadConnPrepareFails(t *testing.T) {
	ctx := context.Background()
	for n, stmt := range []string{"prepare BEGIN", "prepare COMMIT", "prepare ROLLBACK", "exec BEGIN"} {
		t.Run(stmt, func(t *testing.T) {
			f := &sqlfault.Faults{}
			s, err := Open(ctx, filepath.Join(t.TempDir(), "ledger.db"), Options{ReadConns: 1, noSync: true, pools: faultPools(f)})
			require.NoError(t, err)
			defer s.Close()
			view := func() error {
				return s.View(ctx, func(tx ledger.ReadTx) error {
					_, err := tx.LastTimestamp()
					return err
				})
			}
			f.Arm(n + 1)
			err = view()
			require.Equal(t, stmt, f.Failure())
			f.Arm(0)
			require.ErrorIs(t, err, sqlfault.ErrStatement)
			require.Equal(t, 0, s.r.Stats().OpenConnections, "read connections open")
			require.Empty(t, s.reads.free)
			assert.NoError(t, view(), "the next View")
		})
	}
}
