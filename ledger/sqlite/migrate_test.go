package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlfault"
	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore/sqltest"
)

// migrationRow is a row of the ledger's in schema_migrations.
type migrationRow struct {
	Version   int
	Name      string
	AppliedAt int64
}

// olderFile writes, with the plain driver, a ledger database at path at
// schema version n: the first n embedded migrations, each recorded in
// schema_migrations as Open records it, but applied at its version
// (applied_at), which tells the rows written here from Open's.
func olderFile(t *testing.T, path string, n int) []migrationRow {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, `CREATE TABLE schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL,
		name TEXT NOT NULL, applied_at INTEGER NOT NULL, PRIMARY KEY (component, version)) STRICT`)
	require.NoError(t, err)
	var rows []migrationRow
	for _, m := range sqltest.Migrations(t, migrationFS)[:n] {
		_, err := db.ExecContext(ctx, m.SQL)
		require.NoError(t, err, "migration %d_%s", m.Version, m.Name)
		_, err = db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?1, ?2, ?3, ?2)`, sqlstore.Component, m.Version, m.Name)
		require.NoError(t, err)
		rows = append(rows, migrationRow{m.Version, m.Name, int64(m.Version)})
	}
	return rows
}

// fileState returns the ledger's rows of schema_migrations in the file
// at path, by version, and its schema: each table's and index's SQL, by
// name.
func fileState(t *testing.T, path string) (rows []migrationRow, schema map[string]string) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	require.NoError(t, err)
	defer db.Close()
	rs, err := db.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations WHERE component = ?1 ORDER BY version`,
		sqlstore.Component)
	require.NoError(t, err)
	defer rs.Close()
	for rs.Next() {
		var r migrationRow
		require.NoError(t, rs.Scan(&r.Version, &r.Name, &r.AppliedAt))
		rows = append(rows, r)
	}
	require.NoError(t, rs.Err())
	schema = map[string]string{}
	ss, err := db.QueryContext(ctx, `SELECT type || ' ' || name, coalesce(sql, '') FROM sqlite_master`)
	require.NoError(t, err)
	defer ss.Close()
	for ss.Next() {
		var name, text string
		require.NoError(t, ss.Scan(&name, &text))
		schema[name] = text
	}
	require.NoError(t, ss.Err())
	return rows, schema
}

// currentSchema returns the schema of a file that Open creates, but for
// schema_migrations, which the files of olderFile write otherwise.
func currentSchema(t *testing.T) map[string]string {
	t.Helper()
	s, path := openTemp(t)
	require.NoError(t, s.Close())
	_, schema := fileState(t, path)
	delete(schema, "table schema_migrations")
	return schema
}

// TestMigrateFromEachVersion: Open brings a file at each schema version
// up to date, applying each migration that the file lacks once and
// recording it, with its name and the time it applied it, after the rows
// of those the file has, which it leaves as they were; the file then has
// the schema of a new one. A file that is up to date is left as it was.
func TestMigrateFromEachVersion(t *testing.T) {
	ms := sqltest.Migrations(t, migrationFS)
	want := currentSchema(t)
	for n := 1; n <= len(ms); n++ {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ledger.db")
			old := olderFile(t, path, n)
			before := time.Now().UnixNano()
			s, err := Open(context.Background(), path, Options{})
			require.NoError(t, err)
			after := time.Now().UnixNano()
			require.NoError(t, s.Close())
			rows, schema := fileState(t, path)
			require.Len(t, rows, len(ms))
			assert.Equal(t, old, rows[:n], "the rows of the migrations the file had")
			for i, m := range ms[n:] {
				r := rows[n+i]
				assert.Equal(t, migrationRow{m.Version, m.Name, r.AppliedAt}, r)
				assert.True(t, before <= r.AppliedAt && r.AppliedAt <= after, "migration %d applied at %d, not during Open", m.Version, r.AppliedAt)
			}
			delete(schema, "table schema_migrations")
			assert.Equal(t, want, schema)
		})
	}
}

// TestMigrateRacingOpens: Stores opened on a new database file while
// another Open migrates it all open, and the migrations are applied once:
// the Opens take turns on the file's write lock in the process, rather
// than on SQLite's lock, whose busy timeout (1 ms) would run out while
// the other Open migrates. The first Open is held inside its migration,
// in its transaction, until each of the others has found the lock taken
// or has returned (as it does, failing, when it does not take turns but
// begins its own migration).
func TestMigrateRacingOpens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ledger.db")
	// A new file, in WAL mode: the database that the Opens migrate, with
	// no table.
	w, r, err := sqlitedb.Open(ctx, path, sqlitedb.Options{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, w.Close())

	const opens = 8
	inside, release := make(chan struct{}), make(chan struct{})
	var first sync.Once
	settled := make(chan struct{}, opens)
	stores := make([]*Store, opens)
	errs := make([]error, opens)
	var wg sync.WaitGroup
	open := func(i int) {
		settle := sync.OnceFunc(func() { settled <- struct{}{} })
		wg.Go(func() {
			defer settle()
			stores[i], errs[i] = Open(ctx, path, Options{
				BusyTimeout: time.Millisecond,
				migrating:   func() { first.Do(func() { close(inside); <-release }) },
				lock: func(ctx context.Context, l *sqlitewrite.Lock) error {
					if l.TryLock() {
						return nil
					}
					settle() // it waits for the Open that holds the lock
					return l.Lock(ctx)
				},
			})
		})
	}
	open(0)
	<-inside
	for i := 1; i < opens; i++ {
		open(i)
	}
	for range opens - 1 {
		<-settled
	}
	close(release)
	wg.Wait()
	for i, s := range stores {
		if assert.NoError(t, errs[i], "Open %d", i) {
			require.NoError(t, s.Close())
		}
	}
	rows, schema := fileState(t, path)
	ms := sqltest.Migrations(t, migrationFS)
	require.Len(t, rows, len(ms))
	for i, m := range ms {
		assert.Equal(t, migrationRow{m.Version, m.Name, rows[i].AppliedAt}, rows[i])
	}
	delete(schema, "table schema_migrations")
	assert.Equal(t, currentSchema(t), schema)
}

// TestMigrateAllOrNothing: when a statement of the migration of a file at
// schema version 1 fails, whichever it is, Open fails with its error,
// naming the file and the migration, and the file is left at version 1,
// its schema and schema_migrations as they were: the migrations applied
// before it are undone with it.
func TestMigrateAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.db")
	wantRows := olderFile(t, ref, 1)
	_, wantSchema := fileState(t, ref)
	ms := sqltest.Migrations(t, migrationFS)
	f := &sqlfault.Faults{}
	failed := 0
	for at := 1; ; at++ {
		path := filepath.Join(dir, strconv.Itoa(at)+".db")
		olderFile(t, path, 1)
		f.Arm(at)
		_, err := Open(context.Background(), path, Options{pools: faultPools(f)})
		require.NotEmpty(t, f.Failure(), "Open ran no statement %d", at)
		if f.Failure() == "prepare BEGIN" { // of the writer's statements, once the migration committed
			require.ErrorIs(t, err, sqlfault.ErrStatement)
			break
		}
		failed++
		require.ErrorIs(t, err, sqlfault.ErrStatement, "statement %d, %s", at, f.Failure())
		// The error names the file, and the migration whose statement
		// failed: after BEGIN, CREATE TABLE and the SELECT of the
		// version, each migration runs two, its SQL and its INSERT.
		step := "migrate"
		if m := 1 + (at-4)/2; at >= 4 && m < len(ms) {
			step = fmt.Sprintf("migration %d_%s", ms[m].Version, ms[m].Name)
		}
		assert.EqualError(t, err, fmt.Sprintf("sqlite: open %s: %s: statement %d, %s: statement failed", path, step, at, f.Failure()))
		rows, schema := fileState(t, path)
		assert.Equal(t, wantRows, rows, "statement %d, %s", at, f.Failure())
		assert.Equal(t, wantSchema, schema, "statement %d, %s", at, f.Failure())
	}
	// BEGIN, CREATE TABLE, the SELECT of the version, the three migrations
	// and their INSERTs, and COMMIT.
	assert.Equal(t, 10, failed)
}
