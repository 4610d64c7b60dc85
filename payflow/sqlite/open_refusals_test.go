package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow/sqlite"
)

// TestOpenRefusesNewerSchema: a database whose payflow schema a newer
// version of the package wrote is refused with ErrSchemaTooNew, naming
// the file, and its schema is left as it was.
func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	s := mustOpen(t, path)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var known int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT max(version) FROM payflow_schema`).Scan(&known))
	_, err = db.ExecContext(ctx, `INSERT INTO payflow_schema (version, name, applied_at) VALUES (?, 'future', 0)`, known+1)
	require.NoError(t, err)

	_, err = sqlite.Open(ctx, path, sqlite.Options{})
	require.ErrorIs(t, err, sqlite.ErrSchemaTooNew)
	assert.ErrorContains(t, err, path)
	var rows, latest int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*), max(version) FROM payflow_schema`).Scan(&rows, &latest))
	assert.Equal(t, known+1, rows)
	assert.Equal(t, known+1, latest)
}

// TestOpenRefusesAFileNotADatabase: a file that is not a SQLite database
// is refused, naming the file, and left as it was.
func TestOpenRefusesAFileNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casimpay.db")
	junk := make([]byte, 4096)
	copy(junk, "not a database")
	require.NoError(t, os.WriteFile(path, junk, 0o600))
	_, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.ErrorContains(t, err, "sqlite: open "+path+": ")
	require.ErrorContains(t, err, "file is not a database")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, junk, got)
}
