package sqlitedb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
)

// TestReadPoolKeepsConnsIdle: the read pool keeps every one of its
// ReadConns connections open when they fall idle, rather than closing
// those beyond database/sql's default of two, so that their page caches
// live.
func TestReadPoolKeepsConnsIdle(t *testing.T) {
	ctx := context.Background()
	w, r, err := sqlitedb.Open(ctx, filepath.Join(t.TempDir(), "db"), sqlitedb.Options{ReadConns: 5})
	require.NoError(t, err)
	defer w.Close()
	defer r.Close()
	conns := make([]*sql.Conn, 5)
	for i := range conns {
		conns[i], err = r.Conn(ctx)
		require.NoError(t, err)
	}
	for _, c := range conns {
		require.NoError(t, c.Close())
	}
	st := r.Stats()
	assert.Equal(t, 5, st.Idle)
	assert.Equal(t, int64(0), st.MaxIdleClosed)
}
