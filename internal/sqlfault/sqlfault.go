// Package sqlfault is a test aid: a database/sql driver over the SQLite
// driver (or over another driver's connector, OpenConnector) that numbers
// the statements its connections run and fails those a test names, as
// SQLite fails a statement. Tests of the SQLite stores fail each statement
// of a call in turn with it, and check that the call fails with that
// statement's error and leaves the tables (Dump) as they were; tests of
// the PostgreSQL stores so fail their statements over pgx's database/sql
// connections before they reach the server. No production code imports
// it.
//
//	f := &sqlfault.Faults{}
//	w, err := sqlfault.Open(path, false, sqlitedb.Options{NoSync: true}, f)
//	…
//	f.Arm(3) // the third statement from now fails with ErrStatement
package sqlfault

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	sqlite3 "modernc.org/sqlite"

	"github.com/casimpay/casimpay/internal/sqlitedb"
)

// ErrStatement is wrapped by the error of each statement that a Faults
// fails, which names the statement ("statement 2, exec INSERT: …").
var ErrStatement = errors.New("statement failed")

// Faults numbers the statements run through the connections of the pools
// it opens (Open, OpenConnector), from 1 since it was last armed
// (preparations, BEGINs, executions, queries, the reads of a query's rows
// after its first, and COMMITs, each one), and fails those numbered as
// Arm said with an error wrapping ErrStatement, without running them: as
// SQLite fails a statement, which changes nothing and leaves the
// transaction open. A COMMIT of a driver transaction (database/sql's Tx)
// that it fails is rolled back, as PostgreSQL ends a transaction whose
// COMMIT failed. The zero Faults fails nothing and calls nothing after a
// statement (After). It is safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	n      int               // statements run since armed
	at     []int             // the statements to fail
	failed string            // what the first statement failed since armed was; "": none
	after  func(what string) // called after each statement run; nil: none
}

// After has fn called, from now on, with what each statement numbered
// was (as Failure tells it: "query DELETE", say) once it has run and
// before its result is returned; a statement that f fails does not run,
// and fn is not called for it. nil calls nothing. Arm leaves it as it is.
func (f *Faults) After(fn func(what string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.after = fn
}

// ran calls the function of After, if any, with what a statement that
// has run was.
func (f *Faults) ran(what string) {
	f.mu.Lock()
	fn := f.after
	f.mu.Unlock()
	if fn != nil {
		fn(what)
	}
}

// Arm starts the numbering again, failing the statements numbered at
// (none for 0, or no number).
func (f *Faults) Arm(at ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n, f.at, f.failed = 0, at, ""
}

// Failure returns what the first statement failed since Arm was, "" when
// none was.
func (f *Faults) Failure() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// next numbers a statement, described by what, and returns the error it
// fails with, or nil.
func (f *Faults) next(what string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if !slices.Contains(f.at, f.n) {
		return nil
	}
	if f.failed == "" {
		f.failed = what
	}
	return fmt.Errorf("statement %d, %s: %w", f.n, what, ErrStatement)
}

// run numbers a statement that what names (next) and, unless f fails it,
// runs it (do) and calls the function of After: it returns f's failure
// or do's error.
func (f *Faults) run(what string, do func() error) error {
	if err := f.next(what); err != nil {
		return err
	}
	err := do()
	f.ran(what)
	return err
}

// faultConnector opens connections of c whose statements f numbers.
type faultConnector struct {
	c driver.Connector
	f *Faults
}

func (c faultConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.c.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return faultConn{conn, c.f}, nil
}

func (c faultConnector) Driver() driver.Driver { return c.c.Driver() }

// dsnConnector opens connections of a driver to dsn.
type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// faultConn is a connection of a faultConnector. The connections of the
// SQLite driver and of pgx's have the context forms of every call.
type faultConn struct {
	c driver.Conn
	f *Faults
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
	what := brief(query)
	var st driver.Stmt
	if err := c.f.run("prepare "+what, func() (err error) {
		st, err = c.c.(driver.ConnPrepareContext).PrepareContext(ctx, query)
		return err
	}); err != nil {
		return nil, err
	}
	return faultStmt{st, c.f, what}, nil
}

func (c faultConn) Close() error { return c.c.Close() }

func (c faultConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c faultConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var tx driver.Tx
	if err := c.f.run("begin", func() (err error) {
		tx, err = c.c.(driver.ConnBeginTx).BeginTx(ctx, opts)
		return err
	}); err != nil {
		return nil, err
	}
	return faultTx{tx, c.f}, nil
}

func (c faultConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (res driver.Result, err error) {
	err = c.f.run("exec "+brief(query), func() (err error) {
		res, err = c.c.(driver.ExecerContext).ExecContext(ctx, query, args)
		return err
	})
	return res, err
}

func (c faultConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	what := brief(query)
	var rows driver.Rows
	if err := c.f.run("query "+what, func() (err error) {
		rows, err = c.c.(driver.QueryerContext).QueryContext(ctx, query, args)
		return err
	}); err != nil {
		return nil, err
	}
	return &faultRows{Rows: rows, f: c.f, what: what}, nil
}

func (c faultConn) ResetSession(ctx context.Context) error {
	if r, ok := c.c.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c faultConn) IsValid() bool {
	if v, ok := c.c.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue checks an argument as the connection's driver does
// (pgx's takes any), or else leaves it to database/sql's conversions.
func (c faultConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.c.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// faultStmt is a prepared statement of a faultConn.
type faultStmt struct {
	st   driver.Stmt
	f    *Faults
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

func (s faultStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (res driver.Result, err error) {
	err = s.f.run("exec "+s.what, func() (err error) {
		res, err = s.st.(driver.StmtExecContext).ExecContext(ctx, args)
		return err
	})
	return res, err
}

func (s faultStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	var rows driver.Rows
	if err := s.f.run("query "+s.what, func() (err error) {
		rows, err = s.st.(driver.StmtQueryContext).QueryContext(ctx, args)
		return err
	}); err != nil {
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
	f     *Faults
	what  string
	first bool // the first row has been read
}

func (r *faultRows) Next(dest []driver.Value) error {
	if !r.first {
		r.first = true
		return r.Rows.Next(dest)
	}
	return r.f.run("next "+r.what, func() error { return r.Rows.Next(dest) })
}

// faultTx is a transaction of a faultConn.
type faultTx struct {
	tx driver.Tx
	f  *Faults
}

func (t faultTx) Commit() error {
	if err := t.f.next("commit"); err != nil {
		_ = t.tx.Rollback()
		return err
	}
	err := t.tx.Commit()
	t.f.ran("commit")
	return err
}

func (t faultTx) Rollback() error { return t.tx.Rollback() }

var (
	_ driver.Connector          = faultConnector{}
	_ driver.Connector          = dsnConnector{}
	_ driver.ConnPrepareContext = faultConn{}
	_ driver.ConnBeginTx        = faultConn{}
	_ driver.ExecerContext      = faultConn{}
	_ driver.QueryerContext     = faultConn{}
	_ driver.SessionResetter    = faultConn{}
	_ driver.Validator          = faultConn{}
	_ driver.NamedValueChecker  = faultConn{}
	_ driver.StmtExecContext    = faultStmt{}
	_ driver.StmtQueryContext   = faultStmt{}
)

// Open returns a pool of connections to the SQLite file at path, with the
// pragmas of o, whose statements f numbers: read-only, or else a writer
// pool, of o.Conns(readOnly) connections, as sqlitedb.Open makes them;
// unlike sqlitedb.Open, it leaves the file's journal mode as it is.
func Open(path string, readOnly bool, o sqlitedb.Options, f *Faults) (*sql.DB, error) {
	dsn, err := sqlitedb.DSN(path, readOnly, o.Pragmas()...)
	if err != nil {
		return nil, err
	}
	db := OpenConnector(dsnConnector{&sqlite3.Driver{}, dsn}, f)
	db.SetMaxOpenConns(o.Conns(readOnly))
	db.SetMaxIdleConns(o.Conns(readOnly))
	return db, nil
}

// OpenConnector returns a pool of the connections of c whose statements f
// numbers, with database/sql's default limits. The connections of c must
// have the context forms of every call (driver.ConnPrepareContext,
// driver.ConnBeginTx, driver.ExecerContext, driver.QueryerContext, and
// their statements driver.StmtExecContext and driver.StmtQueryContext), as
// the SQLite driver's and pgx's (its stdlib.GetConnector) have.
// database/sql's Conn.Raw gives the wrapping connection, not c's.
func OpenConnector(c driver.Connector, f *Faults) *sql.DB {
	return sql.OpenDB(faultConnector{c, f})
}

// Dump returns every row of the tables of db, a SQLite database, whose
// name is LIKE like, each row as fmt's %q prints its values, each table's
// rows sorted (a table without rows has an empty list), under the table's
// name. Its statements are numbered too when db is a pool of Open.
func Dump(ctx context.Context, db *sql.DB, like string) (map[string][]string, error) {
	var tables []string
	if err := scan(ctx, db, func(vals []any) { tables = append(tables, vals[0].(string)) },
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?`, like); err != nil {
		return nil, err
	}
	out := make(map[string][]string)
	for _, table := range tables {
		list := []string{}
		if err := scan(ctx, db, func(vals []any) { list = append(list, fmt.Sprintf("%q", vals)) },
			`SELECT * FROM `+table); err != nil {
			return nil, err
		}
		slices.Sort(list)
		out[table] = list
	}
	return out, nil
}

// scan runs query and calls row with the values of each row.
func scan(ctx context.Context, db *sql.DB, row func([]any), query string, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		row(vals)
	}
	return rows.Err()
}

// Split returns the indexes of the errors of errs, each the error of one
// of several calls, that are nil (kept) and those that wrap ErrStatement
// (lost), in order, and an error naming the first of the others, nil when
// there is none.
func Split(errs []error) (kept, lost []int, err error) {
	for i, e := range errs {
		switch {
		case e == nil:
			kept = append(kept, i)
		case errors.Is(e, ErrStatement):
			lost = append(lost, i)
		case err == nil:
			err = fmt.Errorf("call %d: %w", i, e)
		}
	}
	return kept, lost, err
}
