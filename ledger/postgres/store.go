package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/casimpay/casimpay/internal/pgconfig"
	"github.com/casimpay/casimpay/internal/pgretry"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/idtable"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

// Store is a ledger.Store in a PostgreSQL database, reached through a pgx
// connection pool. It is safe for concurrent use, and several processes may
// share one database: write transactions serialize on the ledger's
// timestamp row (SELECT … FOR UPDATE, which every transaction that writes
// takes before its first write), and every batch locks the accounts it
// touches in one global order (ascending ID), so they never deadlock and a
// hot account costs no more than any other.
//
// The store uses no advisory locks, sequences or serial keys, so the same
// schema suits PostgreSQL-compatible distributed engines.
//
// Open makes a Store: a nil *Store, or the zero Store, fails every call
// (Update, View, Close) with ledger.ErrNilStore. Update and View given a
// nil context fail with ledger.ErrNilContext, and given a nil fn with
// ledger.ErrNilFunc, before they start anything.
type Store struct {
	dsn    string
	pool   *pgxpool.Pool
	opts   Options
	closed atomic.Bool

	beforeAcquire func() // called, when set, by Update and View once they have found the Store open
}

var _ ledger.Store = (*Store)(nil)

// Open connects to the database named by dsn (a URL or key/value
// connection string, see pgx.ParseConfig) and brings the ledger's schema
// up to date; the schema lives in the connection's search_path. Processes
// that open the same database at once apply each migration exactly once.
// Open fails when an option is negative (ErrNegativeOption), the DSN does
// not parse, the server cannot be reached, or the schema is newer than this
// package (ErrSchemaTooNew).
//
// A call whose context ends while its statement runs has the server
// cancel the statement (a cancel request) and returns once the server has
// answered, the statement cancelled or ended, so that nothing of the call
// is left on the server to commit later: Update and View then fail with
// an error wrapping both the context's error and the server's (SQLSTATE
// 57014), and so does Open when its context ends while its migration
// waits for another process's. A server that answers neither within a
// second has the connection dropped.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	pool, err := openPool(ctx, dsn, opts)
	if err != nil {
		return nil, err
	}
	return &Store{dsn: dsn, pool: pool, opts: opts}, nil
}

// notMade reports whether Open did not make s: nil, or the zero Store.
func (s *Store) notMade() bool { return s == nil || s.pool == nil }

// Close closes the pool, once the Updates and Views that hold a
// connection of it have ended. Calls to Update and View after Close fail
// with ledger.ErrClosed, as do those that it meets before they hold a
// connection (waiting for one, say).
func (s *Store) Close() error {
	if s.notMade() {
		return ledger.ErrNilStore
	}
	if !s.closed.Swap(true) {
		s.pool.Close()
	}
	return nil
}

// poolErr returns, prefixed, the error of a call that could not begin on a
// connection of the pool (Acquire, BeginTx), wrapping ledger.ErrClosed too
// once Close has been called, which closed the pool under the call.
func (s *Store) poolErr(prefix string, err error) error {
	if s.closed.Load() {
		return fmt.Errorf("%s: %w: %w", prefix, ledger.ErrClosed, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// Update implements ledger.Store: fn runs in one READ COMMITTED transaction
// whose writes are sent together with COMMIT, as one pipelined batch of
// bulk statements: Update returns once the commit is durable. The writes
// hold the lock of the ledger_state row: Tx.LastTimestamp takes it, and
// when fn wrote without calling it, the batch takes it before the first
// write (a fn that locked accounts first may then deadlock with another
// transaction, which the rerun below resolves). A serialization failure
// (SQLSTATE 40001), a deadlock (40P01) or a unique violation (23505, a
// concurrent insert of the same key) rolls back and reruns fn after a
// randomized exponential backoff, at most Options.MaxRetries times. A
// unique key that fn inserts twice (an ID into one table, a transfer's
// timestamp, or a balance history row's account and timestamp; in one call
// of an insert method or in two) is no clash: Update fails with an error
// wrapping ledger.ErrCorrupt before it sends the writes, and does not run
// fn again. A row that names a row which does not exist
// (foreign_key_violation 23503, from the deferred foreign keys: a balance
// history row naming no transfer, among others), a pending state of a
// transfer that is not pending (checkPending), a transfer whose debit and
// credit account are the same (refused before the writes are sent,
// sqlstore.SameAccount, and not retried), an update of a row that is not
// stored, an update that names one row twice (each update is one statement,
// whose count of updated rows then falls short), or a last timestamp that
// is not past the last one (setLastTimestamp), fails with an error wrapping
// ledger.ErrCorrupt, and nothing of fn's writes is stored. The write
// methods of the transaction only queue their statements and never fail: a
// write the server refuses fails Update, even when fn returned nil, and
// nothing is stored; when fn fails, nothing is sent. A read that fails (the
// server aborts the transaction when the statement failed there) loses the
// transaction too: the later reads fail with its error without being sent,
// and Update fails with it, even when fn ignored it and returned nil, after
// a rerun when it is a serialization failure or a deadlock. An insert of a
// unique key that is stored fails with an error wrapping ledger.ErrCorrupt
// and its unique violation once the retries are spent. When ctx ends while
// fn runs, Update sends none of fn's writes, rolls back, and fails with an
// error wrapping ctx's error, unless fn or a read failed (a statement
// that ctx's end cancelled, though, fails Update with an error wrapping
// ctx's error too, see Open): also when fn gave
// a key twice, or a transfer whose debit and credit account are the same,
// which the write methods do not report. The ROLLBACK of a transaction
// that Update gives up runs also when ctx has ended, and waits at most
// 5 s (rollbackTimeout) for the server: a connection whose ROLLBACK fails
// or times out is closed, not returned to the pool, and Update returns the
// error it would have returned had the ROLLBACK succeeded.
func (s *Store) Update(ctx context.Context, fn func(ledger.Tx) error) error {
	if err := ledger.CheckRun(ctx, !s.notMade(), fn); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if s.closed.Load() {
			return ledger.ErrClosed
		}
		err := pgconfig.WithContextErr(ctx, s.update(ctx, fn))
		if err == nil || !pgretry.Retryable(err) && !isUniqueViolation(err) {
			return err
		}
		if attempt >= s.opts.maxRetries() {
			if isUniqueViolation(err) {
				// A rerun finds the row of a concurrent insert, and so
				// inserts it no more: fn inserts a key that is stored.
				return fmt.Errorf("%w: %w", ledger.ErrCorrupt, err)
			}
			return err
		}
		if werr := pgretry.Wait(ctx, attempt, rand.Float64()); werr != nil {
			return errors.Join(err, werr)
		}
	}
}

// rollbackTimeout bounds the ROLLBACK that Update sends when it gives up a
// transaction. The ROLLBACK runs even when ctx has ended, so it does not
// take ctx's deadline; a healthy server answers it in milliseconds, and
// one that has stopped answering would otherwise hold Update, and the
// ledger's batch with every caller waiting on it, until TCP gives up. A
// ROLLBACK that times out closes the connection, which is then discarded.
const rollbackTimeout = 5 * time.Second

// rollbackContext returns the context of a ROLLBACK of a transaction run
// with ctx: ctx's values, without its end, for at most rollbackTimeout.
// pgx closes a connection whose ROLLBACK fails, as one on a context that
// has ended does before it is sent.
func rollbackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
}

func (s *Store) update(ctx context.Context, fn func(ledger.Tx) error) error {
	if s.beforeAcquire != nil {
		s.beforeAcquire()
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.poolErr("postgres", err)
	}
	// Release destroys a connection that is closed or still inside a
	// transaction, so a ROLLBACK below that fails or times out leaks
	// nothing: pgx closes a connection whose statement timed out, and the
	// server rolls back the transaction of a connection that is gone.
	defer c.Release()
	t := &writeTx{ctx: ctx, c: c}
	t.Reader = sqlstore.Reader{Dialect: sqlstore.Postgres, Query: t.query, Fail: t.fail}
	defer func() {
		if t.open {
			rctx, cancel := rollbackContext(ctx)
			defer cancel()
			_, _ = c.Exec(rctx, "ROLLBACK")
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.err != nil {
		return t.err // a read that failed, whose error fn ignored
	}
	if err := ctx.Err(); err != nil {
		// Nothing sent once ctx has ended, even when fn did nothing or
		// gave a key twice: a refusal of the writes does not win over
		// ctx's error (ledger.Store.Update).
		return fmt.Errorf("postgres: commit: %w", err)
	}
	if t.inserted.refused != nil {
		return t.inserted.refused // nothing sent; the deferred ROLLBACK ends an open transaction
	}
	// The writes and COMMIT in one round trip: the inserts, then the
	// updates, which so find the rows inserted in the transaction whatever
	// the order of fn's calls. After an error the server skips the rest of
	// the pipeline, COMMIT included.
	writes := append(t.batch.QueuedQueries, t.updates.QueuedQueries...)
	if len(writes) > 0 && !t.locked {
		// fn wrote without reading LastTimestamp (the ledger reads it
		// first): the ledger_state lock goes out before the writes, in
		// the same round trip, so that they do not interleave with
		// those of another transaction.
		writes = append([]*pgx.QueuedQuery{{SQL: lockState}}, writes...)
	}
	if !t.open {
		if len(writes) == 0 {
			return nil // fn did nothing
		}
		// fn wrote without reading: BEGIN goes out with the writes.
		writes = append([]*pgx.QueuedQuery{{SQL: begin}}, writes...)
		t.open = true // even on error: ROLLBACK is harmless outside a transaction
	}
	t.batch.QueuedQueries = writes
	unknown, err := t.pending.Unknown()
	if err != nil {
		return fmt.Errorf("postgres: write: %w", err)
	}
	if len(unknown) > 0 {
		t.batch.Queue(checkPending, idArray(len(unknown), func(i int) ledger.ID { return unknown[i] }),
			sqlstore.Int(ledger.TransferPending))
	}
	t.batch.Queue("COMMIT")
	if err := c.SendBatch(ctx, &t.batch).Close(); isForeignKeyViolation(err) || isRefused(err) {
		return fmt.Errorf("postgres: write: %w: %w", ledger.ErrCorrupt, err)
	} else if err != nil {
		return fmt.Errorf("postgres: write: %w", err)
	}
	t.open = false
	return nil
}

// View implements ledger.Store: fn runs in a REPEATABLE READ, READ ONLY
// transaction, which sees one snapshot. When ctx has ended before the
// call, View fails with an error wrapping ctx's without taking a
// connection; when it ends while fn runs, a read that runs is cancelled
// and later reads fail, with an error wrapping ctx's that View returns
// when fn passes it on. The ROLLBACK that ends the transaction runs also
// when ctx has ended, and waits at most 5 s (rollbackTimeout), as
// Update's does, so that the connection goes back to the pool open.
func (s *Store) View(ctx context.Context, fn func(ledger.ReadTx) error) error {
	if err := ledger.CheckRun(ctx, !s.notMade(), fn); err != nil {
		return err
	}
	if s.closed.Load() {
		return ledger.ErrClosed
	}
	if s.beforeAcquire != nil {
		s.beforeAcquire()
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.poolErr("postgres: begin", err)
	}
	defer func() {
		rctx, cancel := rollbackContext(ctx)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	return pgconfig.WithContextErr(ctx, fn(sqlstore.Reader{Dialect: sqlstore.Postgres, Query: queryFunc(ctx, tx)}))
}

// querier is what queryFunc needs of a pgx.Tx or a pool connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func queryFunc(ctx context.Context, tx querier) sqlstore.QueryFunc {
	return func(query string, args []any, row func(sqlstore.Scanner) error) error {
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows); err != nil {
				return fmt.Errorf("postgres: %w", err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		return nil
	}
}

// writeTx is the ledger.Tx of Update, on one pool connection. BEGIN goes
// out with the first read (LastTimestamp, the ledger's first call), or
// with the writes when fn reads nothing; reads run at once, and writes are
// queued (inserts in batch, updates in updates) and sent with COMMIT,
// inserts first (the ledger never reads what it wrote in the same
// transaction): a batch of the ledger costs one round trip per read and
// one for all the writes. The writes hold the ledger_state lock
// (lockState): LastTimestamp takes it, and when fn did not call it, the
// lock goes out first with the writes.
type writeTx struct {
	sqlstore.Reader
	ctx    context.Context
	c      *pgxpool.Conn
	open   bool // BEGIN sent, neither COMMIT nor ROLLBACK yet
	locked bool // lockState sent in the transaction
	batch  pgx.Batch
	// updates follow batch, the inserts, when Update sends them.
	updates pgx.Batch
	// pending records the inserted transfers and pending states, so that
	// checkPending asks only about pending states of transfers the
	// transaction does not insert.
	pending sqlstore.PendingCheck
	// inserted numbers the unique keys of the inserted rows, so that
	// Update refuses a key given twice before it sends anything.
	inserted insertedKeys
	// err is the error of the first read that failed, or that was refused
	// before it was sent (a limit out of range, sqlstore.Reader.Fail): the
	// transaction is lost (ledger.Tx; the server aborts it when the
	// statement failed there), so no later read is sent and Update fails
	// with err.
	err error
}

// The tables whose inserted IDs insertedKeys numbers, and what their rows
// are.
const (
	accountsTable = iota
	transfersTable
	pendingTable
	failedTable
)

var insertedKinds = [...]string{"account", "transfer", "pending state of transfer", "failed transfer"}

// insertedKeys numbers the unique keys of the rows that a transaction
// inserts: the IDs of each table, the transfers' timestamps, and the
// account and timestamp of the balance history rows. A key given twice
// would fail the commit with a unique violation, which Update takes for a
// concurrent insert of the same key and reruns fn for, in vain:
// insertedKeys finds it, and Update fails at once with ledger.ErrCorrupt.
// The zero value has no keys.
type insertedKeys struct {
	tables     [len(insertedKinds)]idtable.Table[ledger.ID]
	timestamps idtable.Table[ledger.ID] // of the transfers, as IDs
	balances   idtable.Pairs[ledger.ID] // account and timestamp
	// refused is the error of the first key given twice or transfer of
	// one account, nil when there is none.
	refused error
}

// add numbers the IDs of n rows inserted into table (accountsTable …),
// id(i) that of row i.
func (d *insertedKeys) add(table, n int, id func(i int) ledger.ID) {
	ids := &d.tables[table]
	if ids.Len() == 0 {
		ids.Reset(n)
	}
	for i := range n {
		if _, added := ids.Add(id(i)); !added {
			d.twice(fmt.Sprintf("%s %v", insertedKinds[table], id(i)))
		}
	}
}

// addTransfers numbers the IDs and the timestamps of inserted transfers,
// and records the refusal of a transfer whose debit and credit account are
// the same (sqlstore.SameAccount), unless a refusal is recorded already.
func (d *insertedKeys) addTransfers(tr []ledger.Transfer) {
	if err := sqlstore.SameAccount(tr); err != nil && d.refused == nil {
		d.refused = fmt.Errorf("postgres: write: %w", err)
	}
	d.add(transfersTable, len(tr), func(i int) ledger.ID { return tr[i].ID })
	if d.timestamps.Len() == 0 {
		d.timestamps.Reset(len(tr))
	}
	for k := range tr {
		if _, added := d.timestamps.Add(ledger.IDFromUint64(tr[k].Timestamp)); !added {
			d.twice(fmt.Sprintf("transfer timestamp %d", tr[k].Timestamp))
		}
	}
}

// addBalances numbers the account and timestamp of inserted balance
// history rows.
func (d *insertedKeys) addBalances(b []ledger.BalanceRow) {
	if d.balances.Len() == 0 {
		d.balances.Reset(len(b))
	}
	for k := range b {
		if _, added := d.balances.Add(b[k].AccountID, b[k].Timestamp); !added {
			d.twice(fmt.Sprintf("balance history of account %v at %d", b[k].AccountID, b[k].Timestamp))
		}
	}
}

// twice records key, given twice, unless a refusal is recorded already.
func (d *insertedKeys) twice(key string) {
	if d.refused == nil {
		d.refused = fmt.Errorf("postgres: write: %w: %s inserted twice", ledger.ErrCorrupt, key)
	}
}

var _ ledger.Tx = (*writeTx)(nil)

const begin = "BEGIN ISOLATION LEVEL READ COMMITTED"

func (t *writeTx) query(query string, args []any, row func(sqlstore.Scanner) error) error {
	if t.err != nil {
		return t.err
	}
	if !t.open {
		if _, err := t.c.Exec(t.ctx, begin); err != nil {
			return t.fail(fmt.Errorf("postgres: begin: %w", err))
		}
		t.open = true
	}
	return t.fail(queryFunc(t.ctx, t.c)(query, args, row))
}

// fail records err, when not nil, as the error of the first read that
// failed (writeTx.err), and returns it.
func (t *writeTx) fail(err error) error {
	if err != nil && t.err == nil {
		t.err = err
	}
	return err
}

// lockState reads the last timestamp and locks the ledger_state row until
// the transaction ends: every write transaction takes it before its first
// write, so write transactions are serialized.
const lockState = `SELECT last_timestamp FROM ledger_state WHERE id = 1 FOR UPDATE`

// LastTimestamp implements ledger.Tx: it locks the ledger_state row
// (lockState), which serializes write transactions from here to commit.
// When it is the first call, BEGIN travels with it. A database without
// that row (damaged, or not a ledger's), or whose last timestamp reads
// negative (sqlstore.ScanTimestamp), fails with an error wrapping
// ledger.ErrCorrupt, which loses the transaction.
func (t *writeTx) LastTimestamp() (uint64, error) {
	var ts uint64
	if t.err != nil {
		return 0, t.err
	}
	t.locked = true // even on error: the transaction is then lost
	var err error
	if t.open {
		ts, err = sqlstore.ScanTimestamp(t.c.QueryRow(t.ctx, lockState))
	} else {
		var b pgx.Batch
		b.Queue(begin)
		b.Queue(lockState).QueryRow(func(row pgx.Row) error {
			var err error
			ts, err = sqlstore.ScanTimestamp(row)
			return err
		})
		t.open = true // even on error: ROLLBACK is harmless outside a transaction
		err = t.c.SendBatch(t.ctx, &b).Close()
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, t.fail(sqlstore.Postgres.NoState())
	case err != nil:
		return 0, t.fail(fmt.Errorf("postgres: %w", err))
	}
	return ts, nil
}

// setLastTimestamp records $1 as the last timestamp, and fails with
// invalid_text_representation (22P02) as updateAll, which Update reports
// as ledger.ErrCorrupt, unless $1 is past the last one. The message reads
// the last one in a subquery, which sees it as it was before the update,
// and which keeps the planner from evaluating the cast, constant with
// the parameter alone, whatever the count.
const setLastTimestamp = `WITH u AS (UPDATE ledger_state SET last_timestamp = $1
		WHERE id = 1 AND last_timestamp < $1 RETURNING 1)
	SELECT CASE WHEN count(*) = 0 THEN ('ledger: last timestamp ' || $1::bigint || ' set, not past ' ||
		coalesce((SELECT last_timestamp FROM ledger_state WHERE id = 1)::text, 'none'))::integer END
	FROM u`

// SetLastTimestamp implements ledger.Tx: a ts that is not past the last
// timestamp fails Update with ledger.ErrCorrupt (setLastTimestamp).
func (t *writeTx) SetLastTimestamp(ts uint64) error {
	t.batch.Queue(setLastTimestamp, sqlstore.Int(ts))
	return nil
}

// LockAccounts implements ledger.Tx with one statement that locks the rows
// in ascending ID order.
func (t *writeTx) LockAccounts(ids []ledger.ID) ([]ledger.Account, error) {
	out := make([]ledger.Account, 0, len(ids))
	err := t.Query(`SELECT `+sqlstore.AccountColumns+` FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
		[]any{idArray(len(ids), func(i int) ledger.ID { return ids[i] })},
		func(s sqlstore.Scanner) error {
			a, err := sqlstore.ScanAccount(s)
			out = append(out, a)
			return err
		})
	return out, err
}

func idArray(n int, f func(i int) ledger.ID) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		id := f(i)
		out[i] = id[:]
	}
	return out
}

func intArray[T ~uint8 | ~uint16 | ~uint32 | ~uint64](n int, f func(i int) T) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = sqlstore.Int(f(i))
	}
	return out
}

// InsertAccounts implements ledger.Tx.
func (t *writeTx) InsertAccounts(a []ledger.Account) error {
	n := len(a)
	id := func(i int) ledger.ID { return a[i].ID }
	t.inserted.add(accountsTable, n, id)
	t.batch.Queue(`INSERT INTO accounts (`+sqlstore.AccountColumns+`) SELECT * FROM unnest(
		$1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
		$6::bytea[], $7::bigint[], $8::bigint[], $9::bigint[], $10::integer[], $11::integer[], $12::bigint[])`,
		idArray(n, id),
		intArray(n, func(i int) uint64 { return a[i].DebitsPending }),
		intArray(n, func(i int) uint64 { return a[i].DebitsPosted }),
		intArray(n, func(i int) uint64 { return a[i].CreditsPending }),
		intArray(n, func(i int) uint64 { return a[i].CreditsPosted }),
		idArray(n, func(i int) ledger.ID { return a[i].UserData128 }),
		intArray(n, func(i int) uint64 { return a[i].UserData64 }),
		intArray(n, func(i int) uint32 { return a[i].UserData32 }),
		intArray(n, func(i int) uint32 { return a[i].Ledger }),
		intArray(n, func(i int) uint16 { return a[i].Code }),
		intArray(n, func(i int) ledger.AccountFlags { return a[i].Flags }),
		intArray(n, func(i int) uint64 { return a[i].Timestamp }),
	)
	return nil
}

// updateAll makes update, an UPDATE … RETURNING 1 with parameters $1 to
// $(count-1), fail unless it updates the number of rows in parameter
// $count: with invalid_text_representation (22P02), which Update reports as
// ledger.ErrCorrupt. The server then skips the rest of the batch, COMMIT
// included. (Only PL/pgSQL raises an error of its own; a text that is no
// integer, cast to one, names what is wrong in the message.)
func updateAll(update string, count int) string {
	p := "$" + strconv.Itoa(count)
	return "WITH u AS (" + update + ") SELECT CASE WHEN count(*) <> " + p +
		" THEN ('ledger: ' || " + p + " - count(*) || ' row(s) to update do not exist')::integer END FROM u"
}

// UpdateAccounts implements ledger.Tx. An account that is neither stored
// nor inserted in the transaction (before or after this call) fails Update
// with ledger.ErrCorrupt.
func (t *writeTx) UpdateAccounts(a []ledger.Account) error {
	n := len(a)
	t.updates.Queue(updateAll(`UPDATE accounts AS a SET debits_pending = v.dp, debits_posted = v.dpo,
		credits_pending = v.cp, credits_posted = v.cpo, flags = v.flags
		FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::integer[])
			AS v(id, dp, dpo, cp, cpo, flags)
		WHERE a.id = v.id RETURNING 1`, 7),
		idArray(n, func(i int) ledger.ID { return a[i].ID }),
		intArray(n, func(i int) uint64 { return a[i].DebitsPending }),
		intArray(n, func(i int) uint64 { return a[i].DebitsPosted }),
		intArray(n, func(i int) uint64 { return a[i].CreditsPending }),
		intArray(n, func(i int) uint64 { return a[i].CreditsPosted }),
		intArray(n, func(i int) ledger.AccountFlags { return a[i].Flags }),
		int64(n),
	)
	return nil
}

// InsertTransfers implements ledger.Tx.
func (t *writeTx) InsertTransfers(tr []ledger.Transfer) error {
	t.pending.Transfers(tr)
	t.inserted.addTransfers(tr)
	n := len(tr)
	id := func(i int) ledger.ID { return tr[i].ID }
	t.batch.Queue(`INSERT INTO transfers (`+sqlstore.TransferColumns+`) SELECT * FROM unnest(
		$1::bytea[], $2::bytea[], $3::bytea[], $4::bigint[], $5::bytea[],
		$6::bytea[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::integer[], $12::integer[], $13::bigint[])`,
		idArray(n, id),
		idArray(n, func(i int) ledger.ID { return tr[i].DebitAccountID }),
		idArray(n, func(i int) ledger.ID { return tr[i].CreditAccountID }),
		intArray(n, func(i int) uint64 { return tr[i].Amount }),
		idArray(n, func(i int) ledger.ID { return tr[i].PendingID }),
		idArray(n, func(i int) ledger.ID { return tr[i].UserData128 }),
		intArray(n, func(i int) uint64 { return tr[i].UserData64 }),
		intArray(n, func(i int) uint32 { return tr[i].UserData32 }),
		intArray(n, func(i int) uint32 { return tr[i].Timeout }),
		intArray(n, func(i int) uint32 { return tr[i].Ledger }),
		intArray(n, func(i int) uint16 { return tr[i].Code }),
		intArray(n, func(i int) ledger.TransferFlags { return tr[i].Flags }),
		intArray(n, func(i int) uint64 { return tr[i].Timestamp }),
	)
	return nil
}

// checkPending fails, with invalid_text_representation (22P02) as
// updateAll, when a transfer with an ID in $1 lacks flag $2
// (ledger.TransferPending): a pending state of a transfer that is not
// pending. Update queues it after every write, just before COMMIT, for
// the pending states whose transfer the transaction does not insert
// (sqlstore.PendingCheck checks the others without the database). (A
// pending state naming no transfer fails its foreign key at COMMIT.)
const checkPending = `SELECT CASE WHEN count(*) > 0 THEN
	('ledger: ' || count(*) || ' pending state(s) of transfers that are not pending')::integer END
	FROM transfers WHERE id = ANY($1) AND flags & $2 = 0`

// InsertPending implements ledger.Tx. A pending state of a transfer that
// is not pending fails Update with ledger.ErrCorrupt (checkPending).
func (t *writeTx) InsertPending(p []ledger.Pending) error {
	n := len(p)
	id := func(i int) ledger.ID { return p[i].ID }
	t.inserted.add(pendingTable, n, id)
	t.pending.Pending(p)
	t.batch.Queue(`INSERT INTO pending (`+sqlstore.PendingColumns+`)
		SELECT * FROM unnest($1::bytea[], $2::smallint[], $3::bigint[], $4::bigint[])`,
		idArray(n, id),
		intArray(n, func(i int) ledger.PendingStatus { return p[i].Status }),
		intArray(n, func(i int) uint64 { return p[i].ExpiresAt }),
		intArray(n, func(i int) uint64 { return p[i].Timestamp }),
	)
	return nil
}

// UpdatePending implements ledger.Tx. A pending state that is neither
// stored nor inserted in the transaction (before or after this call) fails
// Update with ledger.ErrCorrupt.
func (t *writeTx) UpdatePending(p []ledger.Pending) error {
	n := len(p)
	t.updates.Queue(updateAll(`UPDATE pending AS p SET status = v.status
		FROM unnest($1::bytea[], $2::smallint[]) AS v(id, status) WHERE p.id = v.id RETURNING 1`, 3),
		idArray(n, func(i int) ledger.ID { return p[i].ID }),
		intArray(n, func(i int) ledger.PendingStatus { return p[i].Status }),
		int64(n),
	)
	return nil
}

// InsertFailed implements ledger.Tx.
func (t *writeTx) InsertFailed(f []ledger.FailedTransfer) error {
	n := len(f)
	id := func(i int) ledger.ID { return f[i].ID }
	t.inserted.add(failedTable, n, id)
	t.batch.Queue(`INSERT INTO failed_transfers (`+sqlstore.FailedColumns+`)
		SELECT * FROM unnest($1::bytea[], $2::smallint[], $3::bigint[])`,
		idArray(n, id),
		intArray(n, func(i int) ledger.CreateTransferResult { return f[i].Result }),
		intArray(n, func(i int) uint64 { return f[i].Timestamp }),
	)
	return nil
}

// InsertBalances implements ledger.Tx.
func (t *writeTx) InsertBalances(b []ledger.BalanceRow) error {
	t.inserted.addBalances(b)
	n := len(b)
	t.batch.Queue(`INSERT INTO account_balances (`+sqlstore.BalanceRowColumns+`) SELECT * FROM unnest(
		$1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bytea[])`,
		idArray(n, func(i int) ledger.ID { return b[i].AccountID }),
		intArray(n, func(i int) uint64 { return b[i].DebitsPending }),
		intArray(n, func(i int) uint64 { return b[i].DebitsPosted }),
		intArray(n, func(i int) uint64 { return b[i].CreditsPending }),
		intArray(n, func(i int) uint64 { return b[i].CreditsPosted }),
		intArray(n, func(i int) uint64 { return b[i].Timestamp }),
		idArray(n, func(i int) ledger.ID { return b[i].TransferID }),
	)
	return nil
}
