// Package sqlstate implements payflow.Store over database/sql for SQLite
// and PostgreSQL, which share one schema up to column type names: the
// queries are written with ? placeholders and rebound for PostgreSQL.
package sqlstate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/casimpay/casimpay/internal/pgretry"
	"github.com/casimpay/casimpay/internal/sqlitewrite"
	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
)

// Dialect is the SQL engine.
type Dialect int

// The engines.
const (
	SQLite Dialect = iota
	Postgres
)

// Store is a payflow.Store over a writer pool w and a reader pool r (the
// same pool for PostgreSQL). It is safe for concurrent use.
type Store struct {
	w, r  *sql.DB
	d     Dialect
	batch *sqlitewrite.Batcher // nil: writes run on w as they come
	pipe  Pipeline             // nil: none (SQLite)
	ended CallErr              // nil: errors returned as they are (SQLite)

	betweenBatches func()          // called, when set, by DeleteExpired after each batch it committed
	prepared       func(*sql.Stmt) // called, when set, by stmt with each statement it prepared, before it keeps it
	claimed        func(try int)   // called, when set, by BeginIdempotent after each upsert that did not take the key

	mu     sync.Mutex
	bound  map[string]string
	stmts  map[stmtKey]*sql.Stmt
	closed bool // Close has been called: stmt keeps no statement, and prepares none
}

type stmtKey struct {
	db    *sql.DB
	query string
}

var _ payflow.Store = (*Store)(nil)

// New returns a Store over migrated databases. With a batch (the SQLite
// store's, over w), every write transaction and every single-statement
// write goes through it, to be committed together with concurrent ones;
// without, each runs on w as it comes.
func New(w, r *sql.DB, d Dialect, batch *sqlitewrite.Batcher) *Store {
	return &Store{w: w, r: r, d: d, batch: batch, bound: make(map[string]string), stmts: make(map[stmtKey]*sql.Stmt)}
}

// Query is a statement of a Pipeline, in the dialect's form, with its
// arguments.
type Query struct {
	SQL  string
	Args []any
}

// Pipeline runs queries on one connection of the writer pool as one
// transaction, sent at once (PostgreSQL's pipeline: one round trip), and
// scans the one row that the first returns into dest. They run one after
// the other under READ COMMITTED, each from a snapshot taken as it
// starts, once the ones before it have ended (with the row locks they
// took); an error of one aborts them all and is returned. The postgres
// package gives one, over pgx.
type Pipeline func(ctx context.Context, queries []Query, dest ...any) error

// CallErr returns the error that a call whose context is ctx fails with
// when one of its statements failed with err: err itself, or err wrapping
// more (the postgres package's wraps the context's error too when the
// server cancelled the statement for ctx's end). It returns nil for nil.
type CallErr func(ctx context.Context, err error) error

// NewPostgres returns a Store over a migrated PostgreSQL database that
// runs pipelines with pipe and fails a call whose statement failed with
// the error that ended gives.
func NewPostgres(db *sql.DB, pipe Pipeline, ended CallErr) *Store {
	s := New(db, db, Postgres, nil)
	s.pipe, s.ended = pipe, ended
	return s
}

// callErr returns the error of a call whose context is ctx for its
// statement's error err: through s.ended when it is set. The error of
// every statement of the Store goes through it: in stmt, exec, row, wrow,
// query, tx, the rows' Err of queryAll and Catalog, and Accept's
// pipeline (endedRow).
func (s *Store) callErr(ctx context.Context, err error) error {
	if s.ended == nil || err == nil {
		return err
	}
	return s.ended(ctx, err)
}

// endedRow returns row, whose Scan's error goes through s.callErr.
func (s *Store) endedRow(ctx context.Context, row rowScanner) rowScanner {
	if s.ended == nil {
		return row
	}
	return callErrRow{s, ctx, row}
}

// callErrRow is a row of endedRow.
type callErrRow struct {
	s   *Store
	ctx context.Context
	row rowScanner
}

func (r callErrRow) Scan(dest ...any) error { return r.s.callErr(r.ctx, r.row.Scan(dest...)) }

// stmt returns the prepared statement of query (rebound) on db, preparing
// it on first use: SQLite then parses each query once, not on every call.
// Statements are kept under the query as written, so that it is rebound
// only when prepared. With a Batcher, the writer's statements are prepared
// on its connection. Once Close has been called it fails with ErrClosed,
// and a statement it prepared while Close ran is closed, not kept, so
// that Close leaves no statement open.
func (s *Store) stmt(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	k := stmtKey{db, query}
	s.mu.Lock()
	st, ok := s.stmts[k]
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case ok:
		return st, nil
	}
	var err error
	if db == s.w && s.batch != nil {
		st, err = s.batch.Prepare(ctx, rebind(s.d, query))
	} else {
		st, err = db.PrepareContext(ctx, rebind(s.d, query))
	}
	if err != nil {
		return nil, s.callErr(ctx, err)
	}
	if s.prepared != nil {
		s.prepared(st)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		st.Close()
		return nil, ErrClosed
	}
	if old, ok := s.stmts[k]; ok {
		st.Close()
		return old, nil
	}
	s.stmts[k] = st
	return st, nil
}

// exec runs a prepared write statement as a transaction of its own.
func (s *Store) exec(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	st, err := s.stmt(ctx, s.w, query)
	if err != nil {
		return nil, err
	}
	if s.batch == nil {
		res, err := st.ExecContext(ctx, args...)
		return res, s.callErr(ctx, err)
	}
	err = s.batch.Write(ctx, func(ctx context.Context, tx *sqlitewrite.Tx) error {
		res, err = tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		return err
	})
	return res, err
}

// row runs a prepared query of the reader pool that returns one row.
func (s *Store) row(ctx context.Context, query string, args ...any) rowScanner {
	st, err := s.stmt(ctx, s.r, query)
	if err != nil {
		return errRow{err}
	}
	return s.endedRow(ctx, st.QueryRowContext(ctx, args...))
}

// wrow runs a write statement that returns one row (RETURNING) as a
// transaction of its own: with a Batcher, when its row is scanned; with a
// Pipeline (PostgreSQL), as a pipeline of its own, when its row is
// scanned; else prepared. Not through database/sql's rows on PostgreSQL:
// those close when the context ends, so that a statement that had
// committed (a nonce consumed) could fail with the context's error when
// the context ended before its row was scanned. A Pipeline's connection
// reads the server's answer (pgconfig.CancelOnContextEnd): the
// statement's row when it has ended, or the server's cancellation,
// nothing committed. A plain SELECT goes to the reader pool (row), which
// sees every commit that returned.
func (s *Store) wrow(ctx context.Context, query string, args ...any) rowScanner {
	if s.pipe != nil {
		return s.endedRow(ctx, pipelinedRow{s.pipe, ctx, []Query{{s.q(query), args}}})
	}
	st, err := s.stmt(ctx, s.w, query)
	if err != nil {
		return errRow{err}
	}
	if s.batch == nil {
		return s.endedRow(ctx, st.QueryRowContext(ctx, args...))
	}
	return batchedRow{s.batch, ctx, st, args}
}

// batchedRow is the row of wrow through a Batcher: Scan runs the
// statement and scans its row in one batched transaction.
type batchedRow struct {
	b    *sqlitewrite.Batcher
	ctx  context.Context
	st   *sql.Stmt
	args []any
}

func (r batchedRow) Scan(dest ...any) error {
	return r.b.Write(r.ctx, func(ctx context.Context, tx *sqlitewrite.Tx) error {
		return tx.StmtContext(ctx, r.st).QueryRowContext(ctx, r.args...).Scan(dest...)
	})
}

// query runs a prepared query of db. The error of its rows (Err) is the
// caller's to pass through callErr.
func (s *Store) query(ctx context.Context, db *sql.DB, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, db, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, s.callErr(ctx, err)
}

type rowScanner interface{ Scan(...any) error }

// queryAll runs a prepared query of the reader pool and returns its rows,
// each scanned by scan.
func queryAll[T any](ctx context.Context, s *Store, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.query(ctx, s.r, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, s.callErr(ctx, rows.Err())
}

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// ErrClosed is the error of a statement of a Store after its Close.
var ErrClosed = errors.New("payflow: store closed")

// Close closes the prepared statements; a statement is prepared no more,
// and one whose preparation was under way is closed once prepared (see
// stmt). It does not close the pools.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for k, st := range s.stmts {
		st.Close()
		delete(s.stmts, k)
	}
	return nil
}

// q rebinds a query written with ? placeholders for the dialect, once.
func (s *Store) q(query string) string {
	if s.d == SQLite {
		return query
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.bound[query]
	if !ok {
		b = rebind(s.d, query)
		s.bound[query] = b
	}
	return b
}

// rebind returns a query written with ? placeholders in the form of
// dialect d: unchanged for SQLite, with $1, $2, … for PostgreSQL.
func rebind(d Dialect, query string) string {
	if d == SQLite {
		return query
	}
	var sb strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			sb.WriteString("$" + strconv.Itoa(n))
			continue
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// ErrSchemaTooNew reports a database migrated by a newer program.
var ErrSchemaTooNew = errors.New("payflow: database schema is newer than this program")

// Migrate applies the migrations newer than the version recorded in the
// table payflow_schema, in one transaction (under an advisory lock on
// PostgreSQL; on SQLite under the write lock, which a writer pool of
// sqlitedb takes at BEGIN, BEGIN IMMEDIATE, before the version is read).
// A database at a version past the last of ms fails with ErrSchemaTooNew.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, ms []sqlmigrate.Migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("payflow: migrate: %w", err)
	}
	defer tx.Rollback()
	if d == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7208142337)`); err != nil {
			return fmt.Errorf("payflow: migrate: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS payflow_schema (version BIGINT NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("payflow: migrate: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM payflow_schema`).Scan(&cur); err != nil {
		return fmt.Errorf("payflow: migrate: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("%w: version %d, known up to %d", ErrSchemaTooNew, cur, len(ms))
	}
	ins := rebind(d, `INSERT INTO payflow_schema (version, name, applied_at) VALUES (?, ?, ?)`)
	for _, m := range ms[cur:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("payflow: migration %d_%s: %w", m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, ins, m.Version, m.Name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("payflow: migration %d_%s: %w", m.Version, m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("payflow: migrate: %w", err)
	}
	return nil
}

// byteOrder returns col for ORDER BY in the order of its bytes, which is
// SQLite's and Go's: on PostgreSQL, where a column's collation is the
// database's (a language's, in most), under the C collation.
func (s *Store) byteOrder(col string) string {
	if s.d == Postgres {
		return col + ` COLLATE "C"`
	}
	return col
}

// ns and tm convert times to and from their column form. A time outside
// the years 1678 to 2262, which no Store writes (payflow.StorableTimes)
// but a call may compare with those written (the now of DuePayments, say),
// is the nearest int64: before, or after, every time stored, as it is.
// math.MinInt64, the column form of every time before minTime, is no
// stored time's: StorableTimes refuses minTime, in 1677, as every time
// before 1678.
func ns(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// nsFirst is ns(t), but math.MinInt64 for the zero time (none), which it
// so puts before every time kept, one before the Unix epoch included: no
// time kept has that column form (payflow.StorableTimes), and every time
// before the first time kept has it (ns).
func nsFirst(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return ns(t)
}

// minTime and maxTime are the first and the last time that int64
// nanoseconds since the Unix epoch hold.
var minTime, maxTime = time.Unix(0, math.MinInt64), time.Unix(0, math.MaxInt64)

func tm(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, v)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// unstorable reports a text key that no row holds: every text the stores
// keep is UTF-8 without a NUL byte (the platform checks what it stores),
// and PostgreSQL refuses other text as a parameter (invalid byte sequence,
// NUL included), so such a key names nothing.
func unstorable(key string) bool { return payflow.StorableText(key) != nil }

// notFound maps sql.ErrNoRows to payflow.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return payflow.ErrNotFound
	}
	return err
}

// encMode and decMode encode and decode the CBOR columns (line items,
// legs, certificate chains). decMode reads back every array that encMode
// wrote: it takes as many elements as the library allows, 2^31-1, far
// more than a column's bytes hold (each element takes one at least), so
// that a list of any length that a Store keeps (the memory store keeps
// any) is read back, rather than written and then unreadable.
var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

// maxArrayElements is the most elements that the library lets a decoder
// take in one array.
const maxArrayElements = math.MaxInt32

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	if decMode, err = (cbor.DecOptions{MaxArrayElements: maxArrayElements}).DecMode(); err != nil {
		panic(err)
	}
}

func enc(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(err) // only slices of plain structs are encoded
	}
	return b
}

func dec(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	if err := decMode.Unmarshal(b, v); err != nil {
		return fmt.Errorf("payflow: stored value: %w", err)
	}
	return nil
}

// PutCard implements payflow.Store in one transaction: a look for another
// card with the secret, a read of the card as stored (withdraw, when the
// certificate changes), then the upsert. Of two PostgreSQL transactions
// that give two cards one secret at once, the second to commit clashes on
// the unique index of secrets (unique_violation), which is ErrConflict
// too; SQLite runs one write transaction at a time. On PostgreSQL a card
// given to a merchant first takes the merchant's lock, shared (see
// merchantLock), which PutMerchant takes exclusive before anything else,
// so that the two run one after the other: the card joining the merchant
// while a PutMerchant of it runs would be cleared by that PutMerchant
// without having been locked in the order of the cards' IDs, and two
// PutMerchant calls could then each hold a card that the other waits for
// (a deadlock). A lock of the merchant's row would not do: a row that a
// PutMerchant under way inserts is no row to lock.
//
// The withdrawal of a card enrolled again locks its sessions in the order
// of their IDs, as DeleteExpired locks a batch of expired ones (see
// withdraw), and then its pending requests in the order that the server's
// plan reads them, which is not one order: the rows' order in the table (a
// sequential scan, or a bitmap of the partial indexes by card) or an
// index's (a prepared statement's generic plan may read the pending
// requests through the index of due times). Two cards enrolled again at
// once, whose pending requests are each other's (one signed, the other
// would pay) but not their sessions, which are locked first, may so each
// hold a request that the other waits for: the server ends one
// transaction with a deadlock, which PutCard then runs again (rerunTx),
// the other having committed or still holding its rows.
func (s *Store) PutCard(ctx context.Context, c *payflow.CardRecord) error {
	if err := payflow.CheckCard(c); err != nil {
		return err
	}
	err := s.rerunTx(ctx, func(ctx context.Context, tx dbTx) error {
		if s.d == Postgres && c.MerchantID != "" {
			if _, err := tx.ExecContext(ctx, s.q(merchantLock(true)), c.MerchantID); err != nil {
				return err
			}
		}
		var other string
		err := tx.QueryRowContext(ctx, s.q(`SELECT id FROM payflow_cards WHERE adv_secret = ? AND id <> ?`), c.AdvSecret, c.ID).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("%w: card %s has this advertising secret", payflow.ErrConflict, other)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		old, err := scanCard(tx.QueryRowContext(ctx, s.q(`SELECT `+cardCols+` FROM payflow_cards WHERE id = ?`), c.ID))
		switch {
		case err == nil && payflow.Reenrolled(old, c):
			if err := s.withdraw(ctx, tx, c.ID, c.EnrolledAt); err != nil {
				return err
			}
		case err != nil && !errors.Is(err, payflow.ErrNotFound):
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO payflow_cards (id, chain, adv_secret, display_name, merchant_id, enrolled_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET chain = excluded.chain, adv_secret = excluded.adv_secret,
				display_name = excluded.display_name, enrolled_at = excluded.enrolled_at,
				merchant_id = CASE WHEN excluded.merchant_id = '' THEN payflow_cards.merchant_id ELSE excluded.merchant_id END`),
			c.ID, enc(c.Chain), c.AdvSecret, c.DisplayName, c.MerchantID, ns(c.EnrolledAt))
		return err
	})
	if pgretry.Code(err) == codeUniqueViolation {
		return fmt.Errorf("%w: another card has this advertising secret", payflow.ErrConflict)
	}
	return err
}

// withdraw deletes, in tx, the sessions of card id and cancels the
// payment requests that it signed or would pay that are pending and
// unexpired at t (none without an expiry, kept as 0, which a t before
// 1970 is below; at the zero t, an enrolment time of none, every other:
// t is compared in the column form of nsFirst, before every time kept,
// as in qConfirm), as UpdatePayment writes a cancellation (PutCard of a
// card with a new certificate or advertising secret). The sessions are
// found through the indexes of sessions by shopper card and by seller
// card (schema version 14), the requests through the partial indexes of
// pending requests by seller card and by payer card (version 13).
// On PostgreSQL the sessions are locked first, in the order of their IDs
// (FOR UPDATE), before any is deleted, as DeleteExpired locks a batch of
// expired ones (see sweeps), so that the two never each hold a session
// that the other waits for.
func (s *Store) withdraw(ctx context.Context, tx dbTx, id string, t time.Time) error {
	if _, err := tx.ExecContext(ctx, s.q(qWithdrawSessions[s.d]), id, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.q(qWithdrawPayments[s.d]), ns(t), nsFirst(t), id, id, nsFirst(t))
	return err
}

// qWithdrawPayments cancels the pending requests of a card unexpired at a
// time, by dialect; its arguments are the update's time and due time, the
// card's ID twice and the time (see withdraw). The requests are found
// through the partial indexes of pending requests by seller card and by
// payer card: on SQLite through the row IDs that each index lists, as its
// planner reads every pending request through payflow_payments_due
// (state, due_at) for the plain condition; PostgreSQL's planner combines
// both indexes for it once it has the table's statistics.
var qWithdrawPayments = [...]string{
	SQLite: `UPDATE payflow_payments SET ` + withdrawnPayment + ` WHERE rowid IN (
		SELECT rowid FROM payflow_payments WHERE state = '` + payflow.StatePending + `' AND seller_card_id = ?
		UNION ALL SELECT rowid FROM payflow_payments WHERE state = '` + payflow.StatePending + `' AND payer_card_id = ?)
		AND expires_at > ? AND expires_at <> 0`,
	Postgres: `UPDATE payflow_payments SET ` + withdrawnPayment + `
		WHERE state = '` + payflow.StatePending + `' AND (seller_card_id = ? OR payer_card_id = ?) AND expires_at > ? AND expires_at <> 0`,
}

// withdrawnPayment is what qWithdrawPayments sets: the cancellation, at
// the time of its first argument, due at its second.
const withdrawnPayment = `state = '` + payflow.StateCancelled + `', version = version + 1, updated_at = ?, due_at = ?, deferred_to = 0`

// qWithdrawSessions deletes the sessions of a card, its ID given twice,
// by dialect, found through the indexes of sessions by shopper card and
// by seller card: on PostgreSQL once they are locked in the order of
// their IDs (see withdraw).
var qWithdrawSessions = [...]string{
	SQLite: `DELETE FROM payflow_sessions WHERE shopper_card_id = ? OR seller_card_id = ?`,
	Postgres: `DELETE FROM payflow_sessions WHERE id IN (SELECT id FROM payflow_sessions
		WHERE shopper_card_id = ? OR seller_card_id = ? ORDER BY id FOR UPDATE)`,
}

// merchantLock is the statement that takes, until the transaction ends,
// PostgreSQL's advisory lock of the merchant whose ID is its argument:
// shared when shared is true (PutCard), else exclusive (PutMerchant).
// Unlike a lock of the merchant's row, it is there before the row is:
// PutMerchant takes it first, also when it inserts the merchant. Two
// merchants whose IDs hash alike share one lock, and merely wait for
// each other; so do merchants of one ID in two schemas of a database
// (advisory locks are the database's).
func merchantLock(shared bool) string {
	fn := "pg_advisory_xact_lock"
	if shared {
		fn += "_shared"
	}
	return `SELECT ` + fn + `(` + strconv.Itoa(merchantLockClass) + `, hashtext(?))`
}

// merchantLockClass is the first key of merchantLock's advisory locks,
// which sets them apart from others (Migrate's, of one key).
const merchantLockClass = 72081423

// SQLSTATE codes of PostgreSQL errors.
const (
	codeDivisionByZero  = "22012"
	codeUniqueViolation = "23505"
)

const cardCols = `id, chain, adv_secret, display_name, merchant_id, enrolled_at`

func scanCard(row rowScanner) (*payflow.CardRecord, error) {
	var c payflow.CardRecord
	var chain []byte
	var at int64
	if err := row.Scan(&c.ID, &chain, &c.AdvSecret, &c.DisplayName, &c.MerchantID, &at); err != nil {
		return nil, notFound(err)
	}
	c.EnrolledAt = tm(at)
	return &c, dec(chain, &c.Chain)
}

// Card implements payflow.Store.
func (s *Store) Card(ctx context.Context, id string) (*payflow.CardRecord, error) {
	if unstorable(id) {
		return nil, payflow.ErrNotFound
	}
	return scanCard(s.row(ctx, `SELECT `+cardCols+` FROM payflow_cards WHERE id = ?`, id))
}

// Cards implements payflow.Store.
func (s *Store) Cards(ctx context.Context, fn func(*payflow.CardRecord) error) error {
	list, err := queryAll(ctx, s, scanCard, `SELECT `+cardCols+` FROM payflow_cards ORDER BY `+s.byteOrder("id"))
	if err != nil {
		return err
	}
	for _, c := range list {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

// PutMerchant implements payflow.Store in one transaction: an upsert that
// updates a merchant only in its own currency (ErrConflict otherwise),
// then the seller cards: every card of the merchant is cleared and each
// one listed set. On PostgreSQL the rows of the cards it writes (the
// merchant's and those listed) are locked first, in the order of their
// IDs, so that two PutMerchant calls that move cards between two
// merchants, whatever the order of their lists, take them one after the
// other: in the order of the statements, each could hold a card that the
// other waits for, and the server would end one with a deadlock (SQLite
// has one writer anyway). No card joins the merchant between those locks
// and the cards' writes: the transaction first takes the merchant's lock
// (merchantLock), exclusive, which a PutCard giving a card to it takes
// first, shared. A listed card ID that no row can hold (see unstorable)
// is ErrNotFound, as any card not enrolled.
func (s *Store) PutMerchant(ctx context.Context, m *payflow.Merchant) error {
	if err := payflow.CheckMerchant(m); err != nil {
		return err
	}
	return s.tx(ctx, func(ctx context.Context, tx dbTx) error {
		if s.d == Postgres {
			if _, err := tx.ExecContext(ctx, s.q(merchantLock(false)), m.ID); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO payflow_merchants (id, name, currency, manual_capture) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, manual_capture = excluded.manual_capture
			WHERE payflow_merchants.currency = excluded.currency`),
			m.ID, m.Name, m.Currency, b2i(m.ManualCapture))
		if err := oneRow(res, err, payflow.ErrConflict); err != nil {
			return err
		}
		for _, id := range m.SellerCardIDs {
			if unstorable(id) { // names no card (a parameter PostgreSQL refuses)
				return payflow.ErrNotFound
			}
		}
		if s.d == Postgres {
			if _, err := tx.ExecContext(ctx, s.q(`SELECT 1 FROM payflow_cards WHERE merchant_id = ? OR id = ANY (?)
				ORDER BY `+s.byteOrder("id")+` FOR UPDATE`), m.ID, m.SellerCardIDs); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE payflow_cards SET merchant_id = '' WHERE merchant_id = ?`), m.ID); err != nil {
			return err
		}
		for _, id := range m.SellerCardIDs {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE payflow_cards SET merchant_id = ? WHERE id = ?`), m.ID, id)
			if err := oneRow(res, err, payflow.ErrNotFound); err != nil {
				return err
			}
		}
		return nil
	})
}

// dbTx is a write transaction: a *sql.Tx, or a *sqlitewrite.Tx of the
// Batcher, whose StmtContext takes only statements of its Prepare (stmt
// prepares the writer's statements so).
type dbTx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	StmtContext(ctx context.Context, st *sql.Stmt) *sql.Stmt
}

// tx runs fn in a write transaction. fn must run its statements with the
// context it is given: through a Batcher, one that is never cancelled.
func (s *Store) tx(ctx context.Context, fn func(context.Context, dbTx) error) error {
	if s.batch != nil {
		return s.batch.Write(ctx, func(ctx context.Context, tx *sqlitewrite.Tx) error { return fn(ctx, tx) })
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.callErr(ctx, err)
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return s.callErr(ctx, err)
	}
	return s.callErr(ctx, tx.Commit())
}

// maxReruns is how many times rerunTx runs a transaction again.
const maxReruns = 10

// rerunTx runs fn in a write transaction as tx does and, on PostgreSQL,
// runs it again when the server rolled the transaction back for a
// deadlock or a serialization failure (pgretry.Retryable), after a
// randomized exponential backoff (pgretry.Wait), at most maxReruns times;
// it returns the last transaction's error, joined with ctx's when ctx
// ends while it waits. fn must hold nothing of a transaction it ran
// before.
func (s *Store) rerunTx(ctx context.Context, fn func(context.Context, dbTx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.tx(ctx, fn)
		if s.d != Postgres || attempt >= maxReruns || !pgretry.Retryable(err) {
			return err
		}
		if werr := pgretry.Wait(ctx, attempt, rand.Float64()); werr != nil {
			return errors.Join(err, werr)
		}
	}
}

// Merchant implements payflow.Store with one query, the merchant's row
// joined with its seller cards, so that the merchant and its cards are
// read from one snapshot: a concurrent PutMerchant gives its whole
// version or none of it, never the name of one with the cards of the
// other. A merchant without seller cards gives one row of NULL card.
func (s *Store) Merchant(ctx context.Context, id string) (*payflow.Merchant, error) {
	if unstorable(id) {
		return nil, payflow.ErrNotFound
	}
	type row struct {
		m    payflow.Merchant
		card sql.NullString
	}
	rows, err := queryAll(ctx, s, func(r rowScanner) (v row, err error) {
		var manual int64
		err = r.Scan(&v.m.ID, &v.m.Name, &v.m.Currency, &manual, &v.card)
		v.m.ManualCapture = manual != 0
		return v, err
	}, `SELECT m.id, m.name, m.currency, m.manual_capture, c.id FROM payflow_merchants m
		LEFT JOIN payflow_cards c ON c.merchant_id = m.id WHERE m.id = ? ORDER BY `+s.byteOrder("c.id"), id)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, payflow.ErrNotFound
	}
	m := rows[0].m
	for _, r := range rows {
		if r.card.Valid {
			m.SellerCardIDs = append(m.SellerCardIDs, r.card.String)
		}
	}
	return &m, nil
}

// SetCatalog implements payflow.Store. On PostgreSQL the merchant's row is
// locked first (FOR UPDATE), so that concurrent replacements of one
// catalog run one after the other: under READ COMMITTED the DELETE of the
// second would otherwise miss the rows the first inserted, and the
// catalogs would merge (SQLite has one writer anyway).
func (s *Store) SetCatalog(ctx context.Context, merchantID string, items []payflow.CatalogItem) error {
	if err := payflow.CheckCatalog(items); err != nil {
		return err
	}
	if unstorable(merchantID) {
		return payflow.ErrNotFound
	}
	lock := `SELECT 1 FROM payflow_merchants WHERE id = ?`
	if s.d == Postgres {
		lock += ` FOR UPDATE`
	}
	return s.tx(ctx, func(ctx context.Context, tx dbTx) error {
		var one int
		if err := tx.QueryRowContext(ctx, s.q(lock), merchantID).Scan(&one); err != nil {
			return notFound(err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM payflow_catalog WHERE merchant_id = ?`), merchantID); err != nil {
			return err
		}
		for _, it := range items {
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO payflow_catalog (merchant_id, sku, name, unit_price) VALUES (?, ?, ?, ?)
				ON CONFLICT DO NOTHING`), merchantID, it.SKU, it.Name, int64(it.UnitPrice))
			if err := oneRow(res, err, payflow.ErrConflict); err != nil {
				return err
			}
		}
		return nil
	})
}

// Catalog implements payflow.Store with one query: the merchant's row
// joined with its items, so that an unknown merchant gives no row and one
// without items a row of NULLs.
func (s *Store) Catalog(ctx context.Context, merchantID string) ([]payflow.CatalogItem, error) {
	if unstorable(merchantID) {
		return nil, payflow.ErrNotFound
	}
	rows, err := s.query(ctx, s.r, `SELECT c.sku, c.name, c.unit_price FROM payflow_merchants m
		LEFT JOIN payflow_catalog c ON c.merchant_id = m.id WHERE m.id = ? ORDER BY `+s.byteOrder("c.sku"), merchantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []payflow.CatalogItem
	for rows.Next() {
		var sku, name sql.NullString
		var p sql.NullInt64
		if err := rows.Scan(&sku, &name, &p); err != nil {
			return nil, err
		}
		if items == nil {
			items = []payflow.CatalogItem{}
		}
		if sku.Valid {
			items = append(items, payflow.CatalogItem{SKU: sku.String, Name: name.String, UnitPrice: uint64(p.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, s.callErr(ctx, err)
	}
	if items == nil {
		return nil, payflow.ErrNotFound
	}
	return items, nil
}

// PutAsset implements payflow.Store.
func (s *Store) PutAsset(ctx context.Context, a payflow.Asset) error {
	if err := payflow.StorableText(a.Name); err != nil {
		return err
	}
	if _, err := s.exec(ctx, `INSERT INTO payflow_assets (name, ledger) VALUES (?, ?) ON CONFLICT DO NOTHING`, a.Name, int64(a.Ledger)); err != nil {
		return err
	}
	got, err := s.Asset(ctx, a.Name)
	if err != nil {
		if errors.Is(err, payflow.ErrNotFound) {
			return payflow.ErrConflict // the ledger code is taken
		}
		return err
	}
	if got != a {
		return payflow.ErrConflict
	}
	return nil
}

// Asset implements payflow.Store.
func (s *Store) Asset(ctx context.Context, name string) (payflow.Asset, error) {
	if unstorable(name) {
		return payflow.Asset{}, payflow.ErrNotFound
	}
	a := payflow.Asset{Name: name}
	var l int64
	if err := s.row(ctx, `SELECT ledger FROM payflow_assets WHERE name = ?`, name).Scan(&l); err != nil {
		return payflow.Asset{}, notFound(err)
	}
	a.Ledger = uint32(l)
	return a, nil
}

// Add implements pki.NonceStore.
func (s *Store) Add(ctx context.Context, nonce []byte, expires time.Time) error {
	if err := payflow.CheckNonce(nonce, expires); err != nil {
		return err
	}
	res, err := s.exec(ctx, `INSERT INTO payflow_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, nonce, ns(expires))
	return oneRow(res, err, payflow.ErrConflict)
}

// Consume implements pki.NonceStore: one DELETE … RETURNING, so that of
// concurrent calls exactly one gets the row.
func (s *Store) Consume(ctx context.Context, nonce []byte, now time.Time) error {
	if err := payflow.CheckNow(now); err != nil {
		return err
	}
	var exp int64
	err := s.wrow(ctx, `DELETE FROM payflow_nonces WHERE nonce = ? RETURNING expires_at`, nonce).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return pki.ErrNonce
	}
	if err != nil {
		return err
	}
	if exp == 0 || ns(now) >= exp { // 0: the zero time, expired at every now
		return pki.ErrNonce
	}
	return nil
}

// Advance implements pki.CounterStore with one conditional upsert:
// INSERT … ON CONFLICT DO UPDATE … WHERE counter < new. Counter 0, which
// the upsert would insert for a card never seen, is never above the
// counter held (0 for such a card) and is refused before it.
func (s *Store) Advance(ctx context.Context, cardID string, counter uint64) error {
	if err := payflow.StorableCardID(cardID); err != nil {
		return err
	}
	if counter > math.MaxInt64 {
		return &pki.CounterError{CardID: cardID, Last: math.MaxInt64, Got: counter}
	}
	if counter > 0 {
		res, err := s.exec(ctx, qAdvance, cardID, int64(counter))
		if ok, err := changed(res, err); ok || err != nil {
			return err
		}
	}
	return counterError(s.row(ctx, qCounter, cardID), cardID, counter)
}

// counterError returns the *pki.CounterError of a refused counter got,
// reading the counter held from row (qCounter): 0 when the card has none.
func counterError(row rowScanner, cardID string, got uint64) error {
	var last int64
	if err := row.Scan(&last); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	return &pki.CounterError{CardID: cardID, Last: uint64(last), Got: got}
}

// The statements of Accept.
const (
	qUseNonce = `INSERT INTO payflow_used_nonces (nonce, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qAdvance  = `INSERT INTO payflow_counters (card_id, counter) VALUES (?, ?)
		ON CONFLICT (card_id) DO UPDATE SET counter = excluded.counter WHERE payflow_counters.counter < excluded.counter`
	qCounter  = `SELECT counter FROM payflow_counters WHERE card_id = ?`
	qPutToken = `INSERT INTO payflow_tokens (hash, card_id, cert_hash, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`
	// qConfirm returns no row for a stored session expired at the
	// acceptance's time (its expiry not after it, or zero), or of another
	// shopper or seller card or merchant, which it leaves as it is: it
	// never changes a stored session's merchant.
	qConfirm = `INSERT INTO payflow_sessions (` + sessionCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET
			shopper_ok = CASE WHEN excluded.shopper_ok = 1 THEN 1 ELSE payflow_sessions.shopper_ok END,
			seller_ok = CASE WHEN excluded.seller_ok = 1 THEN 1 ELSE payflow_sessions.seller_ok END
		WHERE payflow_sessions.expires_at > ? AND payflow_sessions.expires_at <> 0
			AND payflow_sessions.shopper_card_id = excluded.shopper_card_id
			AND payflow_sessions.seller_card_id = excluded.seller_card_id
			AND payflow_sessions.merchant_id = excluded.merchant_id
		RETURNING ` + sessionCols
	qSession = `SELECT ` + sessionCols + ` FROM payflow_sessions WHERE id = ?`
	// qCancelPending cancels the session's pending requests and marks
	// those whose approval is under way (VoidTo cancelled, their times
	// kept: the holds' timeout derives from updated_at) in one statement,
	// so that a refused hold's compare-and-set that moves one of them
	// back to pending meanwhile is serialized with it on the request's
	// row: one statement's rows come from one snapshot, and a row that an
	// uncommitted write holds is read again once it commits. It names
	// the states as literals, so that it is planned on the partial index
	// of those states by session. A request whose expiry is 0, the zero
	// time, has expired at every time, one before the Unix epoch included.
	qCancelPending = `UPDATE payflow_payments SET
		state = CASE state WHEN '` + payflow.StatePending + `' THEN '` + payflow.StateCancelled + `' ELSE state END,
		void_to = CASE state WHEN '` + payflow.StatePending + `' THEN void_to ELSE '` + payflow.StateCancelled + `' END,
		version = version + 1,
		updated_at = CASE state WHEN '` + payflow.StatePending + `' THEN ? ELSE updated_at END,
		due_at = CASE state WHEN '` + payflow.StatePending + `' THEN ? ELSE due_at END,
		deferred_to = CASE state WHEN '` + payflow.StatePending + `' THEN 0 ELSE deferred_to END
		WHERE session_id = ? AND state IN ('` + payflow.StatePending + `', '` + payflow.StateApproving + `') AND expires_at > ? AND expires_at <> 0`
)

// confirmArgs are the arguments of qConfirm for a's Session: a's Now
// last, the zero time (which expires no session but one whose expiry is
// zero, see payflow.Acceptance) before every time stored (nsFirst), not
// the Unix epoch as ns has it.
func confirmArgs(a *payflow.Acceptance) []any {
	return append(sessionArgs(a.Session), nsFirst(a.Now))
}

// cancelArgs are the arguments of qCancelPending for a's CancelPending.
func cancelArgs(a *payflow.Acceptance) []any {
	t := ns(a.Now)
	return []any{t, t, a.Session.ID[:], t}
}

// Spent implements payflow.Store with one read of the used nonces and the
// counters, the tables whose writes in Accept refuse a record.
func (s *Store) Spent(ctx context.Context, nonce []byte, cardID string, counter uint64) error {
	if err := payflow.StorableCardID(cardID); err != nil {
		return err
	}
	var used, last int64
	err := s.row(ctx, `SELECT (SELECT count(*) FROM payflow_used_nonces WHERE nonce = ?),
		coalesce((SELECT counter FROM payflow_counters WHERE card_id = ?), 0)`, nonce, cardID).Scan(&used, &last)
	switch {
	case err != nil:
		return err
	case nonce != nil && used > 0: // the nonce first, as in Accept
		return pki.ErrNonce
	case counter > math.MaxInt64: // fits no SQL integer; no card reaches it
		return &pki.CounterError{CardID: cardID, Last: math.MaxInt64, Got: counter}
	case counter <= uint64(last):
		return &pki.CounterError{CardID: cardID, Last: uint64(last), Got: counter}
	}
	return nil
}

// NonceKey implements payflow.Store: an insert that keeps a stored key,
// then a read.
func (s *Store) NonceKey(ctx context.Context, candidate []byte) ([]byte, error) {
	if err := payflow.CheckNonceKey(candidate); err != nil {
		return nil, err
	}
	if _, err := s.exec(ctx, `INSERT INTO payflow_keys (name, key) VALUES ('nonce', ?) ON CONFLICT DO NOTHING`, candidate); err != nil {
		return nil, err
	}
	var key []byte
	if err := s.row(ctx, `SELECT key FROM payflow_keys WHERE name = 'nonce'`).Scan(&key); err != nil {
		return nil, err
	}
	return key, nil
}

// Accept implements payflow.Store in one transaction: the nonce's insert,
// the counter's conditional upsert, the write of a and the cancellation of
// its session's pending requests commit together. A session's upsert that
// finds the stored session expired, or of another shopper or seller card
// or merchant, changes no row, returns none and is followed by a read of
// that session, and nothing is cancelled: an expired one is returned, and
// one of other cards or another merchant refused
// (payflow.CheckSessionParties), rolling back the nonce and the counter.
// The cancellation is a statement of its own, after the counter's upsert: on
// PostgreSQL (READ COMMITTED) it reads the requests from a snapshot taken
// once the upsert holds the card's counter row, so that it cancels every
// request of the session whose transaction committed before that (the
// acceptance of a request takes its seller card's row too) and none
// recorded after it (whose acceptance waits for the row until this one
// commits). SQLite runs one write transaction at a time, which sees every
// one committed before it.
func (s *Store) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if err := a.Check(); err != nil {
		return err
	}
	if s.d == Postgres && a.Counter > 0 && a.Counter <= math.MaxInt64 && a.Refund == nil {
		if done, err := s.acceptOne(ctx, a); done || err != nil {
			return err
		}
	}
	// Prepare before the transaction takes the (single SQLite) writer
	// connection.
	var write, update, cancel string
	switch {
	case a.Token != nil:
		write = qPutToken
	case a.Session != nil:
		write = qConfirm
	case a.Insert != nil:
		write = qInsertPayment
	case a.Refund != nil:
		write = qInsertRefund
	}
	if a.Update != nil {
		update = qUpdatePayment
	}
	if a.CancelPending {
		cancel = qCancelPending
	}
	var st [6]*sql.Stmt
	for i, q := range [...]string{qUseNonce, qAdvance, qCounter, write, update, cancel} {
		if q == "" {
			continue
		}
		var err error
		if st[i], err = s.stmt(ctx, s.w, q); err != nil {
			return err
		}
	}
	var inserted, refundHeld bool
	err := s.tx(ctx, func(ctx context.Context, tx dbTx) error {
		if a.Nonce != nil {
			res, err := tx.StmtContext(ctx, st[0]).ExecContext(ctx, a.Nonce, ns(a.NonceExpires))
			if err := oneRow(res, err, pki.ErrNonce); err != nil {
				return err
			}
		}
		if a.Counter > math.MaxInt64 { // fits no SQL integer; no card reaches it
			return &pki.CounterError{CardID: a.CardID, Last: math.MaxInt64, Got: a.Counter}
		}
		advanced := false
		if a.Counter > 0 { // 0 is above no counter held, as Advance says
			var err error
			if advanced, err = changed(tx.StmtContext(ctx, st[1]).ExecContext(ctx, a.CardID, int64(a.Counter))); err != nil {
				return err
			}
		}
		if !advanced {
			return counterError(tx.StmtContext(ctx, st[2]).QueryRowContext(ctx, a.CardID), a.CardID, a.Counter)
		}
		var w *sql.Stmt
		if st[3] != nil {
			w = tx.StmtContext(ctx, st[3])
		}
		switch {
		case a.Token != nil:
			t := a.Token
			res, err := w.ExecContext(ctx, t.Hash, t.CardID, t.CertHash, ns(t.ExpiresAt))
			return oneRow(res, err, payflow.ErrConflict)
		case a.Session != nil:
			stored, err := scanSession(w.QueryRowContext(ctx, confirmArgs(a)...))
			if errors.Is(err, payflow.ErrNotFound) { // expired, or of other parties: left as it is
				if stored, err = scanSession(tx.QueryRowContext(ctx, s.q(qSession), a.Session.ID[:])); err != nil {
					return err
				}
				if err := payflow.CheckSessionParties(stored, a); err != nil {
					return err
				}
				a.Session = stored
				return nil
			}
			if err != nil {
				return err
			}
			a.Session = stored
			if st[5] == nil {
				return nil
			}
			_, err = tx.StmtContext(ctx, st[5]).ExecContext(ctx, cancelArgs(a)...)
			return err
		case a.Insert != nil:
			var err error
			if inserted, err = changed(w.ExecContext(ctx, insertArgs(a.Insert)...)); err != nil || inserted {
				return err
			}
			stored, err := scanPayment(tx.QueryRowContext(ctx, s.q(qPayment), a.Insert.ID[:]))
			if err != nil {
				return err
			}
			a.Insert = stored
			return nil
		case a.Refund != nil:
			ok, err := changed(w.ExecContext(ctx, refundArgs(a.Refund)...))
			if err != nil {
				return err
			}
			if !ok { // stored before: its reservation too
				stored, err := scanRefund(tx.QueryRowContext(ctx, s.q(qRefund), a.Refund.ID[:]))
				if err != nil {
					return err
				}
				a.Refund, refundHeld = stored, true
				return nil
			}
		}
		if st[4] == nil {
			return nil
		}
		// The payment's update, alone or reserving the refund just stored.
		res, err := tx.StmtContext(ctx, st[4]).ExecContext(ctx, updateArgs(a.Update, a.From)...)
		return oneRow(res, err, payflow.ErrConflict)
	})
	if err != nil {
		return err
	}
	switch {
	case inserted:
		a.Insert = asInserted(a.Insert)
	case a.Update != nil && !refundHeld:
		markWritten(a.Update, a.From)
		if a.Refund != nil {
			a.Refund.Version = 1
		}
	}
	return nil
}

// acceptOne tries Accept on PostgreSQL as one statement, one round trip
// instead of five: the nonce's insert, the counter's upsert and the write
// are data-modifying WITH queries, and the main query divides by the
// number of rows each changed, so that a refusal of any of them is a
// division by zero that aborts the statement and all its changes. The
// main query reads them only in its select list, in that order (each
// runs when its count, or a stored session's column, is first read):
// the write, which takes the row of a session or a request, comes after
// the counter's upsert, which waits for the card's counter row, as in
// the transaction of Accept, so that the two never hold one of those
// rows each while waiting for the other's (a deadlock). Read in a FROM
// clause, the write would run before the select list, the counter last.
// The cancellation of a session's pending requests (CancelPending)
// follows it as a second statement in the same pipeline (still one round
// trip), which an abort of the first skips: as a WITH query of the
// statement it would read the requests from the statement's snapshot,
// taken before the counter's upsert waited for the card's row, and miss a
// request whose transaction held that row and committed meanwhile.
// Without a Pipeline such an acceptance is left to the transaction of
// Accept. It returns true when the statement committed, and false with
// no error when it was refused (or a unique key clashed, or the session
// had expired or was of other cards or another merchant and w changed no
// row): the caller then runs the transaction of Accept, which tells which
// refused (or commits the nonce and counter of an expired session's
// acceptance).
func (s *Store) acceptOne(ctx context.Context, a *payflow.Acceptance) (bool, error) {
	if a.CancelPending && s.pipe == nil {
		return false, nil
	}
	var b strings.Builder
	var args []any
	check := "1"
	b.WriteString("WITH ")
	if a.Nonce != nil {
		b.WriteString("n AS (" + qUseNonce + " RETURNING 1), ")
		args = append(args, a.Nonce, ns(a.NonceExpires))
		check += " / (SELECT count(*) FROM n)"
	}
	b.WriteString("c AS (" + qAdvance + " RETURNING 1)")
	args = append(args, a.CardID, int64(a.Counter))
	check += " / (SELECT count(*) FROM c)"
	var write, cols string
	switch {
	case a.Token != nil:
		write = qPutToken + " RETURNING 1"
		args = append(args, a.Token.Hash, a.Token.CardID, a.Token.CertHash, ns(a.Token.ExpiresAt))
	case a.Session != nil:
		write = qConfirm
		for _, col := range strings.Split(sessionCols, ", ") {
			cols += ", (SELECT " + col + " FROM w)"
		}
		args = append(args, confirmArgs(a)...)
	case a.Insert != nil:
		write = qInsertPayment + " RETURNING 1"
		args = append(args, insertArgs(a.Insert)...)
	case a.Update != nil:
		write = qUpdatePayment + " RETURNING 1"
		args = append(args, updateArgs(a.Update, a.From)...)
	}
	if write != "" {
		b.WriteString(", w AS (" + write + ")")
		check += " / (SELECT count(*) FROM w)"
	}
	b.WriteString(" SELECT " + check + cols)
	var row rowScanner
	if a.CancelPending {
		// Skipped when the statement aborts (also when the session has
		// expired: w then returns no row).
		row = s.endedRow(ctx, pipelinedRow{s.pipe, ctx, []Query{{s.q(b.String()), args}, {s.q(qCancelPending), cancelArgs(a)}}})
	} else {
		row = s.wrow(ctx, b.String(), args...)
	}
	var ok int64
	var err error
	if a.Session != nil {
		var stored *payflow.SessionRecord
		stored, err = scanSession(prefixed{row, &ok})
		if err == nil {
			a.Session = stored
		}
	} else {
		err = row.Scan(&ok)
	}
	switch code := pgretry.Code(err); {
	case code == codeDivisionByZero || code == codeUniqueViolation:
		return false, nil
	case err != nil:
		return false, err
	}
	switch {
	case a.Insert != nil:
		a.Insert = asInserted(a.Insert)
	case a.Update != nil:
		markWritten(a.Update, a.From)
	}
	return true, nil
}

// pipelinedRow is the row of the first of queries, run in a Pipeline
// when it is scanned.
type pipelinedRow struct {
	pipe    Pipeline
	ctx     context.Context
	queries []Query
}

func (r pipelinedRow) Scan(dest ...any) error { return r.pipe(r.ctx, r.queries, dest...) }

// prefixed scans a row into ok and then the destinations it is given.
type prefixed struct {
	row rowScanner
	ok  *int64
}

func (p prefixed) Scan(dest ...any) error { return p.row.Scan(append([]any{p.ok}, dest...)...) }

// changed returns the error err of the statement that gave res or, when
// there is none, whether the statement changed exactly one row.
func changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// oneRow returns the error err of the statement that gave res or, when
// there is none, the error none unless res changed exactly one row.
func oneRow(res sql.Result, err, none error) error {
	ok, err := changed(res, err)
	if err == nil && !ok {
		return none
	}
	return err
}

// Token implements payflow.Store: the record's hash is the stored one, not
// the caller's slice.
func (s *Store) Token(ctx context.Context, hash []byte) (*payflow.TokenRecord, error) {
	var t payflow.TokenRecord
	var exp int64
	if err := s.row(ctx, `SELECT hash, card_id, cert_hash, expires_at FROM payflow_tokens WHERE hash = ?`, hash).Scan(&t.Hash, &t.CardID, &t.CertHash, &exp); err != nil {
		return nil, notFound(err)
	}
	t.ExpiresAt = tm(exp)
	return &t, nil
}

const sessionCols = `id, shopper_card_id, seller_card_id, merchant_id, shopper_eid, seller_eid, shopper_ok, seller_ok, expires_at`

func scanSession(row rowScanner) (*payflow.SessionRecord, error) {
	var r payflow.SessionRecord
	var id []byte
	var sok, lok, exp int64
	if err := row.Scan(&id, &r.ShopperCardID, &r.SellerCardID, &r.MerchantID, &r.ShopperEID, &r.SellerEID, &sok, &lok, &exp); err != nil {
		return nil, notFound(err)
	}
	copy(r.ID[:], id)
	r.ShopperConfirmed, r.SellerConfirmed, r.ExpiresAt = sok != 0, lok != 0, tm(exp)
	return &r, nil
}

func sessionArgs(r *payflow.SessionRecord) []any {
	return []any{r.ID[:], r.ShopperCardID, r.SellerCardID, r.MerchantID, r.ShopperEID, r.SellerEID,
		b2i(r.ShopperConfirmed), b2i(r.SellerConfirmed), ns(r.ExpiresAt)}
}

// Session implements payflow.Store.
func (s *Store) Session(ctx context.Context, id payflow.ID) (*payflow.SessionRecord, error) {
	return scanSession(s.row(ctx, qSession, id[:]))
}
