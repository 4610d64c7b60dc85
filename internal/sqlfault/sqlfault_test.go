package sqlfault

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
)

// openT opens a writer pool over a new SQLite file with a table t, and
// records what each statement that ran was.
func openT(t *testing.T, f *Faults) (db *sql.DB, ran func() []string) {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "f.db"), false, sqlitedb.Options{NoSync: true}, f)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)`)
	require.NoError(t, err)
	var (
		mu   sync.Mutex
		list []string
	)
	f.After(func(what string) {
		mu.Lock()
		list = append(list, what)
		mu.Unlock()
	})
	return db, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := slices.Clone(list)
		list = nil
		return out
	}
}

// readKeys returns the keys of table t in order, and the error that ended
// the reading, if any.
func readKeys(db *sql.DB) (ks []int64, err error) {
	err = scan(context.Background(), db, func(vals []any) { ks = append(ks, vals[0].(int64)) }, `SELECT k FROM t ORDER BY k`)
	return ks, err
}

// dumpT returns the rows of table t.
func dumpT(t *testing.T, db *sql.DB) []string {
	t.Helper()
	d, err := Dump(context.Background(), db, "t")
	require.NoError(t, err)
	return d["t"]
}

// TestFaultsNumbering: a Faults numbers the BEGINs, executions, queries,
// reads of a query's rows after its first (its end too) and COMMITs, and
// calls the function of After with what each was once it has run.
func TestFaultsNumbering(t *testing.T) {
	f := &Faults{}
	db, ran := openT(t, f)
	f.Arm()
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO t (k, v) VALUES (1, 'a'), (2, 'b')`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	ks, err := readKeys(db)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2}, ks)
	assert.Equal(t, []string{"begin", "exec INSERT", "commit", "query SELECT", "next SELECT", "next SELECT"}, ran())
	assert.Empty(t, f.Failure(), "none failed")
}

// TestFaultsFail: the statements Arm numbers fail with an error wrapping
// ErrStatement, without running (After is not called for them), and
// leave the transaction open; Failure tells the first; Arm starts the
// numbering again, and Arm(0) fails none.
func TestFaultsFail(t *testing.T) {
	f := &Faults{}
	db, ran := openT(t, f)
	f.Arm(2, 4)
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO t (k, v) VALUES (1, 'a')`)
	require.ErrorIs(t, err, ErrStatement)
	assert.EqualError(t, err, "statement 2, exec INSERT: statement failed")
	_, err = tx.Exec(`INSERT INTO t (k, v) VALUES (2, 'b')`)
	require.NoError(t, err, "statement 3: the transaction is still open")
	_, err = tx.Exec(`UPDATE t SET v = 'c'`)
	assert.EqualError(t, err, "statement 4, exec UPDATE: statement failed")
	require.NoError(t, tx.Commit())
	assert.Equal(t, []string{"begin", "exec INSERT", "commit"}, ran(), "the failed statements did not run")
	assert.Equal(t, "exec INSERT", f.Failure(), "the first failed")
	assert.Equal(t, []string{`['\x02' "b"]`}, dumpT(t, db), "of the three statements, the one that ran")

	ran() // Dump's statements
	f.Arm(0)
	assert.Empty(t, f.Failure(), "Arm forgets the failure")
	_, err = db.Exec(`DELETE FROM t`)
	require.NoError(t, err, "Arm(0) fails none")
	_, err = db.Exec(`INSERT INTO t (k, v) VALUES (3, 'c')`)
	require.NoError(t, err)
	assert.Equal(t, []string{"exec DELETE", "exec INSERT"}, ran(), "After is kept by Arm")
}

// TestFaultsFailCommit: a failed COMMIT of a transaction does not run and
// rolls the transaction back.
func TestFaultsFailCommit(t *testing.T) {
	f := &Faults{}
	db, ran := openT(t, f)
	f.Arm(3)
	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(`INSERT INTO t (k, v) VALUES (1, 'a')`)
	require.NoError(t, err)
	err = tx.Commit()
	assert.EqualError(t, err, "statement 3, commit: statement failed")
	assert.Equal(t, []string{"begin", "exec INSERT"}, ran())
	assert.Equal(t, "commit", f.Failure())
	assert.Empty(t, dumpT(t, db), "rolled back")
}

// TestFaultsFailNext: a read of a query's rows after its first fails as
// Arm says, after the rows before.
func TestFaultsFailNext(t *testing.T) {
	f := &Faults{}
	db, _ := openT(t, f)
	_, err := db.Exec(`INSERT INTO t (k, v) VALUES (1, 'a'), (2, 'b')`)
	require.NoError(t, err)
	f.Arm(2)
	ks, err := readKeys(db)
	assert.Equal(t, []int64{1}, ks)
	assert.EqualError(t, err, "statement 2, next SELECT: statement failed")
	assert.Equal(t, "next SELECT", f.Failure())
}

// TestZeroFaults: the zero Faults fails nothing and calls nothing after a
// statement.
func TestZeroFaults(t *testing.T) {
	f := &Faults{}
	db, err := Open(filepath.Join(t.TempDir(), "f.db"), false, sqlitedb.Options{NoSync: true}, f)
	require.NoError(t, err)
	defer db.Close()
	for range 3 {
		_, err = db.Exec(`CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY)`)
		require.NoError(t, err)
	}
	assert.Empty(t, f.Failure())
}

// TestDump: the rows of the tables whose name is LIKE like, each row as
// %q prints its values, sorted, under the table's name; a table with no
// rows has an empty list.
func TestDump(t *testing.T) {
	f := &Faults{}
	db, _ := openT(t, f)
	for _, q := range []string{
		`CREATE TABLE tx (a TEXT)`, `CREATE TABLE ty (a TEXT)`, `CREATE TABLE other (a TEXT)`,
		`INSERT INTO t (k, v) VALUES (2, 'b'), (1, NULL)`, `INSERT INTO tx VALUES ('b'), ('a')`,
		`INSERT INTO other VALUES ('o')`,
	} {
		_, err := db.Exec(q)
		require.NoError(t, err)
	}
	d, err := Dump(context.Background(), db, "t%")
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{
		"t":  {`['\x01' <nil>]`, `['\x02' "b"]`},
		"tx": {`["a"]`, `["b"]`}, // sorted, not in the order of their rowids
		"ty": {},
	}, d)
}

// TestSplit: the indexes of the nil errors, of those wrapping
// ErrStatement, in order, and an error naming the first of the others.
func TestSplit(t *testing.T) {
	other, second := errors.New("other"), errors.New("second")
	lost := errors.Join(errors.New("x"), ErrStatement)
	kept, lostAt, err := Split([]error{nil, lost, other, nil, ErrStatement, second})
	assert.Equal(t, []int{0, 3}, kept)
	assert.Equal(t, []int{1, 4}, lostAt)
	assert.ErrorIs(t, err, other)
	assert.EqualError(t, err, "call 2: other")

	kept, lostAt, err = Split([]error{nil, ErrStatement})
	assert.Equal(t, []int{0}, kept)
	assert.Equal(t, []int{1}, lostAt)
	assert.NoError(t, err)
}
