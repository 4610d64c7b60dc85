package sqlitewrite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingDriver is a database/sql driver whose connections fail to
// prepare one query and count the statements they hold open.
type countingDriver struct {
	fail string       // the query whose Prepare fails
	open atomic.Int64 // statements prepared and not closed
}

var errPrepare = errors.New("prepare refused")

func (d *countingDriver) Open(string) (driver.Conn, error) { return countingConn{d}, nil }

type countingConn struct{ d *countingDriver }

func (c countingConn) Prepare(query string) (driver.Stmt, error) {
	if query == c.d.fail {
		return nil, errPrepare
	}
	c.d.open.Add(1)
	return &countingStmt{d: c.d}, nil
}

func (countingConn) Close() error              { return nil }
func (countingConn) Begin() (driver.Tx, error) { return nil, errors.New("not supported") }

type countingStmt struct {
	d    *countingDriver
	once sync.Once
}

func (s *countingStmt) Close() error {
	s.once.Do(func() { s.d.open.Add(-1) })
	return nil
}
func (*countingStmt) NumInput() int                              { return -1 }
func (*countingStmt) Exec([]driver.Value) (driver.Result, error) { return driver.ResultNoRows, nil }
func (*countingStmt) Query([]driver.Value) (driver.Rows, error) {
	return nil, errors.New("not supported")
}

var countingDrivers atomic.Int64

// countingDB opens a database of a countingDriver that fails to prepare
// fail.
func countingDB(t *testing.T, fail string) (*sql.DB, *countingDriver) {
	t.Helper()
	d := &countingDriver{fail: fail}
	name := "sqlitewrite-counting-" + string(rune('a'+countingDrivers.Add(1)))
	sql.Register(name, d)
	db, err := sql.Open(name, "")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db, d
}

// TestNewConnFailureGivesConnectionBack: a NewConn whose statements cannot
// be prepared closes those it prepared and gives the connection back to
// the pool.
func TestNewConnFailureGivesConnectionBack(t *testing.T) {
	for _, q := range []string{"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"} {
		t.Run(q, func(t *testing.T) {
			db, d := countingDB(t, q)
			c, err := NewConn(context.Background(), db)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, errPrepare)
			assert.Equal(t, 0, db.Stats().InUse, "the connection is back in the pool")
			assert.Equal(t, int64(0), d.open.Load(), "no statement is left open")
		})
	}
}

// TestNewBatcherFailureGivesConnectionBack: likewise for the statements
// of a Batcher.
func TestNewBatcherFailureGivesConnectionBack(t *testing.T) {
	for _, q := range []string{"SAVEPOINT batched", "ROLLBACK TO batched", "SAVEPOINT batch", "RELEASE batch"} {
		t.Run(q, func(t *testing.T) {
			db, d := countingDB(t, q)
			b, err := NewBatcher(context.Background(), db, nil)
			assert.Nil(t, b)
			assert.ErrorIs(t, err, errPrepare)
			assert.Equal(t, 0, db.Stats().InUse, "the connection is back in the pool")
			assert.Equal(t, int64(0), d.open.Load(), "no statement is left open")
		})
	}
}

// TestNewConnPoolClosed: NewConn and NewBatcher fail with the error of a
// pool that gives no connection, and return nothing.
func TestNewConnPoolClosed(t *testing.T) {
	db, _ := countingDB(t, "")
	require.NoError(t, db.Close())
	c, err := NewConn(context.Background(), db)
	assert.Nil(t, c)
	assert.EqualError(t, err, "sqlitewrite: sql: database is closed")
	b, err := NewBatcher(context.Background(), db, nil)
	assert.Nil(t, b)
	assert.EqualError(t, err, "sqlitewrite: sql: database is closed")
}

// TestConnCloseClosesStatements: Close closes the statements of the Conn
// and gives the connection back, and a Batcher's Close closes its own and
// those of Prepare.
func TestConnCloseClosesStatements(t *testing.T) {
	db, d := countingDB(t, "")
	c, err := NewConn(context.Background(), db)
	require.NoError(t, err)
	assert.Equal(t, int64(3), d.open.Load())
	c.Close()
	assert.Equal(t, int64(0), d.open.Load())
	assert.Equal(t, 0, db.Stats().InUse)

	b, err := NewBatcher(context.Background(), db, nil)
	require.NoError(t, err)
	_, err = b.Prepare(context.Background(), "SELECT 1")
	require.NoError(t, err)
	assert.Equal(t, int64(8), d.open.Load())
	b.Close()
	assert.Equal(t, int64(0), d.open.Load())
	assert.Equal(t, 0, db.Stats().InUse)
}

// TestPrepareFails: a query that cannot be prepared fails Prepare with
// the connection's error, and no statement.
func TestPrepareFails(t *testing.T) {
	_, _, b := openDB(t)
	st, err := b.Prepare(context.Background(), `SELECT nothing FROM nowhere`)
	assert.Nil(t, st)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrClosed)
	assert.Empty(t, b.prepared)
}
