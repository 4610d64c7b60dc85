package sqlite

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"fmt"
	"sync"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

// maxReadStmts bounds the statement cache of each read connection. The
// texts that sqlstore.Reader builds for the SQLite dialect are bounded
// (TestReadStmtsBound counts them, 244): 40 ID lookups (4 tables, IN
// lists of the 10 powers of two up to sqlstore.MaxInList), 96 account
// transfer and 96 balance history filters (3 sides × 16 sets of user
// data and code conditions × 2 orders), 8 pages of ForEach… (the first
// and the next of 4 tables), 2 pages of BalanceRows (from a timestamp of
// an account, or from the next account), 1 ExpiredPending and 1
// LastTimestamp. A text past the bound runs unprepared.
const maxReadStmts = 256

// View implements ledger.Store: fn runs in a read transaction (BEGIN …
// COMMIT) on one of the Store's read-only connections, and sees one
// snapshot of committed data: the one of its first read (WAL), while
// other Views and Update run beside it. The Store keeps its read
// connections, as many as Options.ReadConns, each with BEGIN, COMMIT and
// ROLLBACK prepared once and its own cache of prepared read statements
// (at most maxReadStmts), rather than opening each View with
// (*sql.DB).BeginTx. When ctx ends, View waits no longer for a
// connection (and fails with an error wrapping ctx's), and a read that
// runs is interrupted and later reads fail, with an error wrapping ctx's
// that View returns when fn passes it on. The transaction ends when fn
// returns or panics, before the connection goes back to the pool; a
// COMMIT that fails there is rolled back and does not change what View
// returns (what fn read is one snapshot either way), and a connection
// that stays in its transaction is closed, not put back. A
// View that runs when Close is called runs to its end, which Close waits
// for; one that waits for a connection then, or starts after, fails with
// ledger.ErrClosed.
func (s *Store) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	if err := ledger.CheckRun(ctx, !s.notMade(), fn); err != nil {
		return err
	}
	if !s.enter() {
		return ledger.ErrClosed
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	c, err := s.reads.get(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := c.beginTx(); err != nil {
		s.reads.put(c, false)
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	v := &view{ctx: ctx, c: c}
	defer func() {
		v.c = nil // a ReadTx kept past View reads nothing more
		s.reads.put(c, c.endTx())
	}()
	return fn(sqlstore.Reader{Dialect: sqlstore.SQLite, Query: v.query})
}

// view is one View's transaction.
type view struct {
	ctx context.Context
	c   *readConn // nil once View has returned
}

func (v *view) query(query string, args []any, row func(sqlstore.Scanner) error) error {
	c := v.c
	if c == nil {
		return fmt.Errorf("sqlite: %w", sql.ErrTxDone)
	}
	// SQLite forgets an interrupt that comes before a statement starts.
	if err := v.ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	var rows *sql.Rows
	var err error
	if st := c.stmt(v.ctx, query); st != nil {
		rows, err = st.QueryContext(v.ctx, args...)
	} else {
		rows, err = c.c.QueryContext(v.ctx, query, args...)
	}
	return scanRows(rows, err, row)
}

// readConn is a read connection that the Store keeps, with its prepared
// statements. One View at a time uses it.
type readConn struct {
	c                       *sql.Conn
	begin, commit, rollback *sql.Stmt
	stmts                   map[string]*sql.Stmt // by text, at most maxReadStmts
}

func newReadConn(ctx context.Context, db *sql.DB) (*readConn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c := &readConn{c: conn, stmts: make(map[string]*sql.Stmt)}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&c.begin, "BEGIN"}, {&c.commit, "COMMIT"}, {&c.rollback, "ROLLBACK"}} {
		if *p.st, err = conn.PrepareContext(ctx, p.q); err != nil {
			c.close(true)
			return nil, err
		}
	}
	return c, nil
}

// beginTx begins a transaction. BEGIN (deferred) takes no lock and does
// not wait, so it runs without the View's context.
func (c *readConn) beginTx() error {
	_, err := c.begin.Exec()
	return err
}

// endTx ends the transaction (COMMIT, or ROLLBACK when COMMIT fails) and
// reports whether the connection is surely outside one.
func (c *readConn) endTx() bool {
	if _, err := c.commit.Exec(); err == nil {
		return true
	}
	_, err := c.rollback.Exec()
	return err == nil
}

// stmt returns query prepared on c, from its cache or prepared now, or nil
// when the cache is full or preparing fails (the query then runs
// unprepared, and reports the error).
func (c *readConn) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := c.stmts[query]; st != nil {
		return st
	}
	if len(c.stmts) >= maxReadStmts {
		return nil
	}
	st, err := c.c.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.stmts[query] = st
	return st
}

// close closes c's statements and gives the connection back to the pool
// of the *sql.DB, or, when discard is set, closes it: it may be inside a
// transaction.
func (c *readConn) close(discard bool) {
	for _, st := range c.stmts {
		st.Close()
	}
	for _, st := range []*sql.Stmt{c.begin, c.commit, c.rollback} {
		if st != nil {
			st.Close()
		}
	}
	if discard {
		// An ErrBadConn from Raw makes database/sql close the connection.
		_ = c.c.Raw(func(any) error { return sqldriver.ErrBadConn })
		return
	}
	c.c.Close()
}

// readPool holds the read connections of a Store, at most cap(slots).
type readPool struct {
	db    *sql.DB
	slots chan struct{} // one value per View holding a connection
	done  chan struct{} // closed by close

	mu     sync.Mutex
	free   []*readConn
	closed bool
}

func newReadPool(db *sql.DB) *readPool {
	return &readPool{db: db, slots: make(chan struct{}, db.Stats().MaxOpenConnections), done: make(chan struct{})}
}

// get returns a connection of the pool, opening one when none is free and
// fewer than cap(slots) are open, or waits for one, for ctx's end or for
// close.
func (p *readPool) get(ctx context.Context) (*readConn, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.done:
			return nil, ledger.ErrClosed
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, ledger.ErrClosed
	}
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
	c, err := newReadConn(ctx, p.db)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// put gives c back to the pool, outside a transaction when ok is set;
// otherwise, or after close, c is closed.
func (p *readPool) put(c *readConn, ok bool) {
	p.mu.Lock()
	if ok && !p.closed {
		p.free = append(p.free, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.close(!ok)
	}
	<-p.slots
}

// close closes the free connections; those in use are closed when they
// come back.
func (p *readPool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	free := p.free
	p.free = nil
	close(p.done)
	p.mu.Unlock()
	for _, c := range free {
		c.close(false)
	}
}
