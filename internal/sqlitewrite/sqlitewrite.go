// Package sqlitewrite orders the writes of the module's SQLite stores to
// one database file. SQLite lets one connection write at a time; when two
// connections of one process want to write (the ledger's and the payflow
// state's), the loser of the file lock sleeps in SQLite's busy handler
// for milliseconds. A Lock makes them queue in the process instead, and a
// Batcher commits the concurrent write transactions of one store
// together, so that one fsync serves them all.
package sqlitewrite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
)

// A Lock is one store's handle on the in-process write lock of one
// database file: every store of the process that writes the file takes
// the lock around its write transactions. Other processes still meet
// SQLite's file lock.
type Lock struct {
	f      *fileLock
	closed bool // guarded by locks.mu
}

// fileLock is the lock of one file, shared by the Locks of its stores.
// It stays in locks.m while a Lock is open or the lock is held, so that
// every handle on the file shares it.
type fileLock struct {
	key  string
	sem  chan struct{}
	refs int // open Locks; guarded by locks.mu
}

// forgetLocked takes f out of locks.m when no Lock is open and the lock is
// not held. locks.mu must be held.
func (f *fileLock) forgetLocked() {
	if f.refs == 0 && len(f.sem) == 0 && locks.m[f.key] == f {
		delete(locks.m, f.key)
	}
}

var locks struct {
	mu sync.Mutex
	m  map[string]*fileLock
}

// OpenLock returns a handle on the write lock of the database file at
// path: one lock for every path that names the same file through
// symbolic links or relative paths (hard links are not recognised: their
// writers fall back on SQLite's file lock). The file should exist. Each
// OpenLock must be paired with one Close of the handle it returns.
func OpenLock(path string) (*Lock, error) {
	key, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitewrite: %w", err)
	}
	if real, err := filepath.EvalSymlinks(key); err == nil {
		key = real
	}
	locks.mu.Lock()
	defer locks.mu.Unlock()
	f := locks.m[key]
	if f == nil {
		if locks.m == nil {
			locks.m = make(map[string]*fileLock)
		}
		f = &fileLock{key: key, sem: make(chan struct{}, 1)}
		locks.m[key] = f
	}
	f.refs++
	return &Lock{f: f}, nil
}

// Close releases the handle's reference to the file's lock; closing it
// again does nothing. It does not release the lock if the handle holds
// it: the handle's Unlock still does, and until then the lock stays the
// file's, so that a handle that OpenLock returns meanwhile shares it, and
// its Lock waits for it.
func (l *Lock) Close() {
	locks.mu.Lock()
	defer locks.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.f.refs--
	l.f.forgetLocked()
}

// TryLock takes the lock if it is free and reports whether it did,
// without waiting.
func (l *Lock) TryLock() bool {
	select {
	case l.f.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// Lock waits for the lock, or for ctx to end (returning its error).
func (l *Lock) Lock(ctx context.Context) error {
	if l.TryLock() {
		return nil
	}
	select {
	case l.f.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Unlock releases the lock taken by Lock or TryLock, and forgets it when
// every handle on the file has been closed.
func (l *Lock) Unlock() {
	<-l.f.sem
	locks.mu.Lock()
	defer locks.mu.Unlock()
	l.f.forgetLocked()
}

// ErrClosed is returned by Batcher.Write and Batcher.Prepare after Close,
// and by a Prepare that a Close races.
var ErrClosed = errors.New("sqlitewrite: closed")

// ErrTransactionLost is the error, wrapping SQLite's, of the writes of a
// batch of several whose transaction SQLite rolled back while the batch
// ran: a statement failed with an error that ends the transaction, such
// as the constraint of INSERT OR ROLLBACK, SQLITE_FULL or SQLITE_IOERR.
// Every write of the batch fails with it, but the one whose statement
// failed when it returned that error, and nothing of the batch is kept,
// also when that write ignored the error. (A write alone fails with its
// error, or with COMMIT's when it ignored it.)
var ErrTransactionLost = errors.New("sqlitewrite: transaction rolled back during its batch")

// MaxBatch is the most write transactions that a Batcher commits
// together.
const MaxBatch = 128

// A Batcher runs the write transactions of one store on its writer
// connection, committing those that wait together as one SQLite
// transaction (group commit): while one commit waits for its fsync, the
// next transactions queue, and then run one after the other in one
// transaction, each inside a savepoint, so that a transaction that fails
// or panics is rolled back alone. A transaction's changes are visible to
// those after it in the same batch, exactly as if each had committed
// before the next began. Write returns once the batch has ended, failed
// transactions included, so nothing is reported done before it is durable,
// and a failure caused by an earlier transaction of the batch is reported
// only when that transaction's rows can be read (or are known lost). The
// batch runs on the goroutine of one of its callers (the first in the
// queue), so a lone write costs no hand-off. That caller, the leader,
// takes the Lock and begins the transaction (BEGIN IMMEDIATE, which waits
// up to the busy timeout for the write lock of another process) while its
// batch forms: the writes queued when the transaction has begun, up to
// MaxBatch, are the batch, the leader's first. A caller whose context ends
// while its write is queued, leader included, leaves the queue at once,
// its fn never run; when the leader leaves, the next queued write takes
// the lead and begins again. It is safe for concurrent use.
type Batcher struct {
	c    *Conn
	lock *Lock

	mu   sync.Mutex
	idle sync.Cond // signalled when leading turns false
	// queue holds the writes whose batch has not begun, the leader's
	// first when there is a leader.
	queue   []*job
	leading bool // a caller is running batches
	closed  bool
	// prepared holds the statements of Prepare, which Close closes
	// before it gives the connection back (closeConn).
	prepared []*sql.Stmt

	// savepoint and rollbackTo are the savepoint of each job of a batch of
	// several, mark and release the batch's own, under them.
	savepoint, rollbackTo, mark, release *sql.Stmt

	beforePrepare func() // called, when set, by Prepare once it has found the Batcher open
}

// A Tx is the transaction of a Batcher that a function given to Write runs
// its statements in, on the Batcher's connection; or the transaction of a
// Conn, between its Begin and its Commit or Rollback.
type Tx struct{ c *sql.Conn }

// ExecContext runs query in the transaction.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.c.ExecContext(ctx, query, args...)
}

// QueryRowContext runs query in the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.c.QueryRowContext(ctx, query, args...)
}

// QueryContext runs query in the transaction.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.c.QueryContext(ctx, query, args...)
}

// StmtContext returns st, which must come from the Batcher's (or the
// Conn's) Prepare: it runs on the transaction's connection as it is. It
// has the form of (*sql.Tx).StmtContext, so that code can run on either.
func (t *Tx) StmtContext(_ context.Context, st *sql.Stmt) *sql.Stmt { return st }

type job struct {
	ctx     context.Context
	fn      func(context.Context, *Tx) error
	err     error
	panic   any
	settled bool
	// wake gets a value when the job is settled, and before that one more
	// if its caller is to lead the next batch (Write takes it at once, or
	// leave hands the lead on).
	wake chan struct{}
}

// A Conn is a writer connection taken from its pool and kept, with the
// statements that begin and end its transactions (BEGIN IMMEDIATE, COMMIT,
// ROLLBACK) prepared once rather than at every transaction, as
// (*sql.DB).BeginTx does (which also starts a goroutine per transaction).
// It runs one transaction at a time: its user orders them, as a Batcher
// does, or under a Lock. Its embedded Tx runs statements on the
// connection, inside the transaction when one is open.
type Conn struct {
	Tx
	begin, commit, rollback *sql.Stmt
}

// NewConn takes a connection from db's pool and keeps it until Close;
// meanwhile db is used for nothing else if its pool holds one connection:
// that would wait for Close.
func NewConn(ctx context.Context, db *sql.DB) (*Conn, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlitewrite: %w", err)
	}
	c := &Conn{Tx: Tx{conn}}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&c.begin, "BEGIN IMMEDIATE"}, {&c.commit, "COMMIT"}, {&c.rollback, "ROLLBACK"}} {
		if *p.st, err = conn.PrepareContext(ctx, p.q); err != nil {
			c.Close()
			return nil, fmt.Errorf("sqlitewrite: %w", err)
		}
	}
	return c, nil
}

// Prepare returns query prepared on the connection; it runs there, in the
// transaction when one is open. Close does not close it.
func (c *Conn) Prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.c.PrepareContext(ctx, query)
}

// Close closes the prepared statements of c and gives the connection back
// to its pool.
func (c *Conn) Close() {
	for _, st := range []*sql.Stmt{c.begin, c.commit, c.rollback} {
		if st != nil {
			st.Close()
		}
	}
	c.c.Close()
}

// Begin begins a transaction with BEGIN IMMEDIATE, which waits for the
// write lock of other processes (the busy timeout) or for ctx to end. When
// BEGIN fails, it rolls back whatever transaction was left open: when one
// was (a transaction whose ROLLBACKs failed), it begins again, so that the
// failure of the transaction before is not this one's; else it returns
// BEGIN's error.
func (c *Conn) Begin(ctx context.Context) error {
	_, err := c.begin.ExecContext(ctx)
	if err == nil {
		return nil
	}
	if _, rerr := c.rollback.ExecContext(context.Background()); rerr != nil {
		return err // none was open
	}
	_, err = c.begin.ExecContext(ctx) // none is open when it fails
	return err
}

// Commit commits the transaction. A COMMIT that fails may leave it open
// (SQLite keeps it when a deferred constraint fails): it is then rolled
// back, so that the connection is ready for the next.
func (c *Conn) Commit() error {
	_, err := c.commit.ExecContext(context.Background())
	if err != nil {
		c.Rollback()
	}
	return err
}

// Rollback rolls the transaction back, if one is open. A ROLLBACK that
// fails is run once more, so that one failure does not leave the
// transaction open, holding SQLite's write lock, which the other stores
// of the file and other processes wait for meanwhile (and then fail with
// SQLITE_BUSY). Its errors are dropped: there is none to roll back when
// SQLite has rolled it back already (both ROLLBACKs then fail, changing
// nothing). A transaction that both leave open keeps the write lock until
// the next Begin, which rolls it back and then begins its own.
func (c *Conn) Rollback() {
	if _, err := c.rollback.ExecContext(context.Background()); err != nil {
		_, _ = c.rollback.ExecContext(context.Background())
	}
}

// NewBatcher returns a Batcher writing through a connection of db that it
// takes from db's pool and keeps until Close (a Conn), taking lock around
// each transaction. Meanwhile the statements of its transactions are
// prepared with Prepare, and db is used for nothing else if its pool holds
// one connection: that would wait for Close.
func NewBatcher(ctx context.Context, db *sql.DB, lock *Lock) (*Batcher, error) {
	c, err := NewConn(ctx, db)
	if err != nil {
		return nil, err
	}
	b := &Batcher{c: c, lock: lock}
	b.idle.L = &b.mu
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&b.savepoint, "SAVEPOINT batched"}, {&b.rollbackTo, "ROLLBACK TO batched"},
		{&b.mark, "SAVEPOINT batch"}, {&b.release, "RELEASE batch"},
	} {
		if *p.st, err = c.Prepare(ctx, p.q); err != nil {
			break
		}
	}
	if err != nil {
		b.closeConn()
		return nil, fmt.Errorf("sqlitewrite: %w", err)
	}
	return b, nil
}

// closeConn closes the prepared statements, those of Prepare among them,
// and gives the connection back to its pool.
func (b *Batcher) closeConn() {
	for _, st := range append([]*sql.Stmt{b.savepoint, b.rollbackTo, b.mark, b.release}, b.prepared...) {
		if st != nil {
			st.Close()
		}
	}
	b.c.Close()
}

// Prepare returns query prepared on the Batcher's connection, for the
// functions given to Write to run through Tx.StmtContext. The Batcher
// keeps the statement until Close, which closes it while the connection
// is open: database/sql does not close the statements of a connection
// taken from its pool with the connection, and a statement closed once its
// database is closed would reach the closed SQLite connection (which
// crashes the process); closed by Close, the statement's own Close does
// nothing. After Close, and when a Close that it races closes the
// connection under it or closes the Batcher while it prepares, it fails
// with ErrClosed alone, whatever the connection answered: the Batcher is
// closed for good, and no error of the statement or of the connection
// tells a caller otherwise. (A statement so prepared for nothing is left
// to the connection: it cannot be closed safely once the connection may
// be closed.)
func (b *Batcher) Prepare(ctx context.Context, query string) (*sql.Stmt, error) {
	if b.isClosed() {
		return nil, ErrClosed
	}
	if b.beforePrepare != nil {
		b.beforePrepare()
	}
	st, err := b.c.Prepare(ctx, query)
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return nil, ErrClosed
	case err != nil:
		return nil, err
	}
	b.prepared = append(b.prepared, st)
	return st, nil
}

// isClosed reports whether Close has been called.
func (b *Batcher) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// Close waits for the queued transactions to be committed, closes the
// statements of Prepare and gives the connection back to the pool; later
// calls of Write and Prepare fail with ErrClosed. It does not close the
// database.
func (b *Batcher) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for b.leading {
		b.idle.Wait()
	}
	b.mu.Unlock()
	b.closeConn()
}

// Write runs fn in a write transaction and returns once its batch has
// ended: nil when fn returned nil and the commit succeeded; fn's error,
// with nothing of fn's changes kept, when fn failed and the rest of the
// batch committed; the commit's error when the batch could not commit,
// with none of its changes kept (to every write of the batch, failed or
// not, since a failure may rest on the lost writes); ErrTransactionLost
// when SQLite rolled the batch's transaction back while it ran, none of
// its changes kept, even when fn returned nil. When fn
// panics, its changes are rolled back and Write panics with the same
// value. fn must use only tx for the database, must not keep tx, and must
// not call Write.
//
// A Write whose ctx ends before its batch has begun (while it is queued,
// or while it leads and waits for the Lock or for BEGIN) returns ctx's
// error at once, and fn never runs. Once the batch has begun, Write waits
// for its end: a fn that has not started when ctx ends does not run, and
// Write returns ctx's error; a fn that runs runs to its end, and Write
// returns its batch's outcome: fn gets a context with ctx's values that
// is never cancelled, and must run its statements with it, because SQLite
// rolls back the whole transaction, the other callers' writes with it,
// when an INSERT, UPDATE or DELETE is interrupted.
func (b *Batcher) Write(ctx context.Context, fn func(context.Context, *Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &job{ctx: ctx, fn: fn, wake: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.queue = append(b.queue, j)
	lead := !b.leading
	b.leading = true
	b.mu.Unlock()
	if !lead {
		select {
		case <-j.wake:
		case <-ctx.Done():
			if b.leave(j) {
				return ctx.Err()
			}
			<-j.wake // its batch has begun: wait for it to end
		}
		lead = !j.settled
	}
	if lead {
		b.lead(j)
	}
	if j.panic != nil {
		panic(j.panic)
	}
	return j.err
}

// leave takes j, whose caller's context has ended, out of the queue, and
// reports whether it was there: false when its batch has begun. When j
// was to lead the next batch, the lead goes to the next job.
func (b *Batcher) leave(j *job) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.Index(b.queue, j)
	if i < 0 {
		return false
	}
	b.queue = slices.Delete(b.queue, i, i+1)
	select {
	case <-j.wake: // the lead, which j does not take
		b.handOffLocked()
	default:
	}
	return true
}

// handOffLocked hands the lead to the first job in the queue, or ends
// the lead when the queue is empty.
func (b *Batcher) handOffLocked() {
	if len(b.queue) == 0 {
		b.queue = nil
		b.leading = false
		b.idle.Broadcast()
		return
	}
	b.queue[0].wake <- struct{}{}
}

// lead runs the next batch, whose leader's job j is the first in the
// queue, and hands the lead on.
func (b *Batcher) lead(j *job) {
	if batch := b.begin(j); batch != nil {
		b.run(batch)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handOffLocked()
}

// begin takes the Lock and begins the transaction of the next batch,
// waiting for either as long as the context of the leader's job j lasts,
// then takes the batch from the queue, j first, and returns it, with the
// Lock held. When j's context ends first, j alone is settled with its
// error, out of the queue; when BEGIN fails, the batch is settled with
// its error; begin then returns nil, the Lock released.
func (b *Batcher) begin(j *job) []*job {
	err := b.lock.Lock(j.ctx)
	if err == nil {
		if err = b.c.Begin(j.ctx); err != nil {
			b.lock.Unlock()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil && j.ctx.Err() != nil {
		b.queue = b.queue[1:] // j: only the leader takes the queue's head
		j.settle(j.ctx.Err())
		return nil
	}
	n := min(len(b.queue), MaxBatch)
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	if err != nil {
		settleAll(batch, err)
		return nil
	}
	return batch
}

// run runs the jobs of batch in the transaction that begin began, ends
// it, releases the Lock and settles each job.
func (b *Batcher) run(batch []*job) {
	defer b.lock.Unlock()
	// No caller's context governs the transaction: it is shared.
	ctx := context.Background()
	tx := &b.c.Tx
	if len(batch) == 1 { // no savepoint needed: the transaction is the job's
		j := batch[0]
		if err := j.call(tx); err != nil {
			b.c.Rollback()
			j.settle(err)
			return
		}
		j.settle(b.c.Commit())
		return
	}
	// Each job runs after a savepoint of its own. Savepoints are not
	// released: they nest, ROLLBACK TO goes back to the newest of the name
	// (the failed job's own), and COMMIT keeps everything they hold.
	//
	// A job that fails is told so only once the batch has ended: its
	// failure may rest on rows of the jobs before it (a key they took, a
	// counter they advanced), which its caller must be able to read when
	// it hears of the failure, and which may yet be lost if the commit
	// fails.
	//
	// Under the jobs' savepoints lies the batch's own (mark), which
	// RELEASE finds before COMMIT only in the transaction that BEGIN
	// began: SQLite may roll a transaction back whole on a statement's
	// error, which a job can ignore, and the next SAVEPOINT would then
	// begin another, in which the later jobs' writes would be committed
	// without the earlier ones'.
	if _, err := b.mark.ExecContext(ctx); err != nil {
		b.c.Rollback()
		settleAll(batch, err)
		return
	}
	failed := make([]error, len(batch))
	kept := 0
	for i, j := range batch {
		if _, err := b.savepoint.ExecContext(ctx); err != nil {
			b.c.Rollback()
			settleAll(batch, err)
			return
		}
		if err := j.call(tx); err != nil {
			if _, rerr := b.rollbackTo.ExecContext(ctx); rerr != nil {
				// The transaction is unusable (SQLite may have rolled it
				// back whole): give up the batch.
				b.c.Rollback()
				j.settle(err)
				settleAll(batch, fmt.Errorf("%w: %w", ErrTransactionLost, rerr))
				return
			}
			failed[i] = err
		} else {
			kept++
		}
	}
	if kept == 0 {
		b.c.Rollback()
	} else if _, err := b.release.ExecContext(ctx); err != nil {
		b.c.Rollback()
		settleAll(batch, fmt.Errorf("%w: %w", ErrTransactionLost, err))
		return
	} else if err := b.c.Commit(); err != nil {
		settleAll(batch, err) // none of the batch is kept
		return
	}
	for i, j := range batch {
		j.settle(failed[i]) // nil for a job that is kept
	}
}

// call runs the job's fn on tx, turning a panic into an error for the
// batch and keeping the value for Write to panic with.
func (j *job) call(tx *Tx) (err error) {
	if err := j.ctx.Err(); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			j.panic = r
			err = fmt.Errorf("sqlitewrite: transaction panicked: %v", r)
		}
	}()
	return j.fn(context.WithoutCancel(j.ctx), tx)
}

// settle reports err to the job's Write, unless the job is settled.
func (j *job) settle(err error) {
	if j.settled {
		return
	}
	j.settled = true
	if j.panic == nil {
		j.err = err
	}
	j.wake <- struct{}{}
}

func settleAll(batch []*job, err error) {
	for _, j := range batch {
		j.settle(err)
	}
}
