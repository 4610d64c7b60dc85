package sqlstate_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	sqlite3 "modernc.org/sqlite"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/sqlite"
)

// errStatement is the error of the statement that a faults fails.
var errStatement = errors.New("statement failed")

// faults numbers the statements run through the connections of its
// faultConnectors, from 1 since it was last armed (preparations, BEGINs,
// executions, queries, the reads of a query's rows after its first, and
// COMMITs, each one), and fails the one numbered at with an error
// wrapping errStatement, without running it: as SQLite fails a
// statement, which changes nothing and leaves the transaction open. A COMMIT of a driver transaction (database/sql's Tx)
// that it fails is rolled back, as PostgreSQL ends a transaction whose
// COMMIT failed. It is safe for concurrent use.
type faults struct {
	mu     sync.Mutex
	n      int    // statements run since armed
	at     int    // the statement to fail; 0: none
	failed string // what the statement failed since armed was; "": none
}

// arm starts the numbering again, failing the statement numbered at (none
// when at is 0).
func (f *faults) arm(at int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.at, f.failed = 0, at, ""
}

// failure returns what the statement failed since arm was, "" when none
// was.
func (f *faults) failure() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// next numbers a statement, described by what, and returns the error it
// fails with, or nil.
func (f *faults) next(what string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.n != f.at {
		return nil
	}
	f.failed = what
	return fmt.Errorf("statement %d, %s: %w", f.n, what, errStatement)
}

// faultConnector opens connections of the SQLite driver to dsn whose
// statements f numbers.
type faultConnector struct {
	d   driver.Driver
	dsn string
	f   *faults
}

func (c faultConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.d.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return faultConn{conn, c.f}, nil
}

func (c faultConnector) Driver() driver.Driver { return c.d }

// faultConn is a connection of a faultConnector. The SQLite driver's
// connection has the context forms of every call.
type faultConn struct {
	c driver.Conn
	f *faults
}

// brief is the first word of query, which tells what the statement does.
func brief(query string) string {
	word, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	return word
}

func (c faultConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c faultConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.f.next("prepare " + brief(query)); err != nil {
		return nil, err
	}
	st, err := c.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return faultStmt{st, c.f, brief(query)}, nil
}

func (c faultConn) Close() error { return c.c.Close() }

func (c faultConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.f.next("begin"); err != nil {
		return nil, err
	}
	tx, err := c.c.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return faultTx{tx, c.f}, nil
}

func (c faultConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.f.next("exec " + brief(query)); err != nil {
		return nil, err
	}
	return c.c.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (c faultConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.f.next("query " + brief(query)); err != nil {
		return nil, err
	}
	rows, err := c.c.(driver.QueryerContext).QueryContext(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return &faultRows{Rows: rows, f: c.f, what: brief(query)}, nil
}

func (c faultConn) ResetSession(ctx context.Context) error {
	return c.c.(driver.SessionResetter).ResetSession(ctx)
}

func (c faultConn) IsValid() bool { return c.c.(driver.Validator).IsValid() }

// faultStmt is a prepared statement of a faultConn.
type faultStmt struct {
	st   driver.Stmt
	f    *faults
	what string
}

func (s faultStmt) Close() error  { return s.st.Close() }
func (s faultStmt) NumInput() int { return s.st.NumInput() }

func (s faultStmt) Exec([]driver.Value) (driver.Result, error) {
	return nil, errors.New("faultStmt: Exec without a context")
}

func (s faultStmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("faultStmt: Query without a context")
}

func (s faultStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.f.next("exec " + s.what); err != nil {
		return nil, err
	}
	return s.st.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s faultStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.f.next("query " + s.what); err != nil {
		return nil, err
	}
	rows, err := s.st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	return &faultRows{Rows: rows, f: s.f, what: s.what}, nil
}

// faultRows are the rows of a query of a faultConn. The SQLite driver
// runs a query to its first row when it starts it, and each later read
// of a row (or of the rows' end) runs it on: f numbers those reads as
// statements, and fails one as SQLite fails a query that it runs on,
// after the rows before.
type faultRows struct {
	driver.Rows
	f     *faults
	what  string
	first bool // the first row has been read
}

func (r *faultRows) Next(dest []driver.Value) error {
	if r.first {
		if err := r.f.next("next " + r.what); err != nil {
			return err
		}
	}
	r.first = true
	return r.Rows.Next(dest)
}

// faultTx is a transaction of a faultConn.
type faultTx struct {
	tx driver.Tx
	f  *faults
}

func (t faultTx) Commit() error {
	if err := t.f.next("commit"); err != nil {
		_ = t.tx.Rollback()
		return err
	}
	return t.tx.Commit()
}

func (t faultTx) Rollback() error { return t.tx.Rollback() }

var (
	_ driver.Connector          = faultConnector{}
	_ driver.ConnPrepareContext = faultConn{}
	_ driver.ConnBeginTx        = faultConn{}
	_ driver.ExecerContext      = faultConn{}
	_ driver.QueryerContext     = faultConn{}
	_ driver.SessionResetter    = faultConn{}
	_ driver.Validator          = faultConn{}
	_ driver.StmtExecContext    = faultStmt{}
	_ driver.StmtQueryContext   = faultStmt{}
)

// migratedFile returns a SQLite file, in a temporary directory of t, with
// the payflow tables, which newFaultyStore copies rather than migrating
// a file for every store.
func migratedFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "migrated.db")
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close()) // the last connection's close leaves no WAL
	return path
}

// faultyStore is a sqlstate.Store on a new SQLite file, a copy of a
// migratedFile, whose writer and reader pools are of faultConnectors that f
// numbers the statements of, wired as payflow/sqlite wires its Store:
// with batched, its writes go through a Batcher over the writer pool;
// without, they run on the writer pool as database/sql transactions, as
// on PostgreSQL. plain reads the file through the plain driver.
type faultyStore struct {
	s     *sqlstate.Store
	f     *faults
	plain *sql.DB
	lock  *sqlitewrite.Lock // the Batcher's; nil without
}

func newFaultyStore(t *testing.T, migrated string, batched bool) *faultyStore {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "casimpay.db")
	copyFile(t, migrated, path)

	plain, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { plain.Close() })
	f := &faults{}
	w, r := faultPool(t, path, false, f), faultPool(t, path, true, f)
	fs := &faultyStore{f: f, plain: plain}
	var batch *sqlitewrite.Batcher
	if batched {
		fs.lock, err = sqlitewrite.OpenLock(path)
		require.NoError(t, err)
		t.Cleanup(fs.lock.Close)
		batch, err = sqlitewrite.NewBatcher(ctx, w, fs.lock)
		require.NoError(t, err)
		t.Cleanup(batch.Close)
	}
	fs.s = sqlstate.New(w, r, sqlstate.SQLite, batch)
	t.Cleanup(func() { fs.s.Close() })
	return fs
}

// faultPool returns a pool of connections to the SQLite file at path,
// with the pragmas of the SQLite stores but synchronous=OFF, whose
// statements f numbers: read-only, or else a writer pool of one
// connection.
func faultPool(t *testing.T, path string, readOnly bool, f *faults) *sql.DB {
	t.Helper()
	dsn, err := sqlitedb.DSN(path, readOnly, sqlitedb.Options{NoSync: true}.Pragmas()...)
	require.NoError(t, err)
	var d sqlite3.Driver
	db := sql.OpenDB(faultConnector{&d, dsn, f})
	t.Cleanup(func() { db.Close() })
	if !readOnly {
		db.SetMaxOpenConns(1)
	}
	return db
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// dump returns every row of the payflow tables, each table's sorted,
// under the table's name.
func (fs *faultyStore) dump(t *testing.T) map[string][]string {
	t.Helper()
	ctx := context.Background()
	var tables []string
	rows, err := fs.plain.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'payflow%'`)
	require.NoError(t, err)
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	out := make(map[string][]string)
	for _, table := range tables {
		rows, err := fs.plain.QueryContext(ctx, `SELECT * FROM `+table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		list := []string{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			list = append(list, fmt.Sprintf("%q", vals))
		}
		require.NoError(t, rows.Err())
		rows.Close()
		slices.Sort(list)
		out[table] = list
	}
	return out
}
