package sqlstate

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/casimpay/casimpay/payflow"
)

const paymentCols = `id, session_id, state, version, merchant_id, seller_card_id, payer_card_id, currency, amount,
	lines, legs, request, request_hash, manual_capture, expires_at, created_at, updated_at, attempt, consent,
	consent_hash, hold_expires_at, capture_amount, captured, refunded, void_to, receipt, settled_at, due_at, deferred_to`

// due is the column form of p.Due(), the time at which DuePayments finds
// p in its state. due_at keeps a due time as nsFirst does: the zero time
// (none), which is due before every other time and at every now
// (payflow.Store), one before the Unix epoch included, as math.MinInt64.
// A query of the rows due at a now then reads them through the index of
// due_at (due_at <= ?), in the order of their due times, those due at the
// zero time first.
func due(p *payflow.PaymentRecord) int64 { return nsFirst(p.Due()) }

// toWrite returns p as UpdatePayment(p, from) writes it: without its
// DeferredTo when the write changes the state.
func toWrite(p *payflow.PaymentRecord, from string) *payflow.PaymentRecord {
	if p.State == from {
		return p
	}
	c := *p
	c.DeferredTo = time.Time{}
	return &c
}

// markWritten makes p what UpdatePayment(p, from) wrote, once it is written:
// its Version incremented, its DeferredTo cleared when the state changed.
func markWritten(p *payflow.PaymentRecord, from string) {
	p.Version++
	if p.State != from {
		p.DeferredTo = time.Time{}
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func scanPayment(row rowScanner) (*payflow.PaymentRecord, error) {
	var p payflow.PaymentRecord
	var id, sid, lines, legs []byte
	var version, amount, manual, exp, created, updated, attempt, holdExp, capAmt, captured, refunded, settled, dueAt, deferred int64
	err := row.Scan(&id, &sid, &p.State, &version, &p.MerchantID, &p.SellerCardID, &p.PayerCardID, &p.Currency, &amount,
		&lines, &legs, &p.Request, &p.RequestHash, &manual, &exp, &created, &updated, &attempt, &p.Consent,
		&p.ConsentHash, &holdExp, &capAmt, &captured, &refunded, &p.VoidTo, &p.Receipt, &settled, &dueAt, &deferred)
	if err != nil {
		return nil, notFound(err)
	}
	copy(p.ID[:], id)
	copy(p.SessionID[:], sid)
	p.Version, p.Amount, p.ManualCapture = uint64(version), uint64(amount), manual != 0
	p.ExpiresAt, p.CreatedAt, p.UpdatedAt = tm(exp), tm(created), tm(updated)
	p.Attempt, p.HoldExpiresAt, p.CaptureAmount = uint32(attempt), tm(holdExp), uint64(capAmt)
	p.Captured, p.Refunded, p.SettledAt, p.DeferredTo = uint64(captured), uint64(refunded), tm(settled), tm(deferred)
	p.Consent, p.ConsentHash, p.Receipt = nilIfEmpty(p.Consent), nilIfEmpty(p.ConsentHash), nilIfEmpty(p.Receipt)
	if err := dec(lines, &p.Lines); err != nil {
		return nil, err
	}
	return &p, dec(legs, &p.Legs)
}

func encOpt[T any](v []T) []byte {
	if len(v) == 0 {
		return nil
	}
	return enc(v)
}

const qInsertPayment = `INSERT INTO payflow_payments (` + paymentCols + `)
	VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`

func insertArgs(p *payflow.PaymentRecord) []any {
	return []any{p.ID[:], p.SessionID[:], p.State, p.MerchantID, p.SellerCardID, p.PayerCardID, p.Currency, int64(p.Amount),
		encOpt(p.Lines), encOpt(p.Legs), p.Request, p.RequestHash, b2i(p.ManualCapture), ns(p.ExpiresAt), ns(p.CreatedAt),
		ns(p.UpdatedAt), int64(p.Attempt), nilIfEmpty(p.Consent), nilIfEmpty(p.ConsentHash), ns(p.HoldExpiresAt),
		int64(p.CaptureAmount), int64(p.Captured), int64(p.Refunded), p.VoidTo, nilIfEmpty(p.Receipt), ns(p.SettledAt), due(p),
		ns(p.DeferredTo)}
}

// asInserted returns what reading p back after inserting it would return,
// without reading it: a copy with Version 1 and its fields in column form.
func asInserted(p *payflow.PaymentRecord) *payflow.PaymentRecord {
	c := *p
	c.Version = 1
	c.ExpiresAt, c.CreatedAt, c.UpdatedAt = tm(ns(p.ExpiresAt)), tm(ns(p.CreatedAt)), tm(ns(p.UpdatedAt))
	c.HoldExpiresAt, c.SettledAt, c.DeferredTo = tm(ns(p.HoldExpiresAt)), tm(ns(p.SettledAt)), tm(ns(p.DeferredTo))
	c.Consent, c.ConsentHash, c.Receipt = nilIfEmpty(p.Consent), nilIfEmpty(p.ConsentHash), nilIfEmpty(p.Receipt)
	if len(p.Lines) == 0 {
		c.Lines = nil
	}
	if len(p.Legs) == 0 {
		c.Legs = nil
	}
	return &c
}

const qPayment = `SELECT ` + paymentCols + ` FROM payflow_payments WHERE id = ?`

// Payment implements payflow.Store.
func (s *Store) Payment(ctx context.Context, id payflow.ID) (*payflow.PaymentRecord, error) {
	return scanPayment(s.row(ctx, qPayment, id[:]))
}

// qUpdatePayment writes the mutable fields of a request and its due_at,
// which is given (updateDue) or, when NULL, for a pending request, its
// stored expires_at, in the column form of a due time (nsFirst): the
// next argument, nsFirst of the zero time, when expires_at is 0 (none).
const qUpdatePayment = `UPDATE payflow_payments SET state = ?, version = version + 1, updated_at = ?,
	attempt = ?, consent = ?, consent_hash = ?, hold_expires_at = ?, capture_amount = ?, captured = ?,
	refunded = ?, void_to = ?, receipt = ?, settled_at = ?, due_at = coalesce(?, nullif(expires_at, 0), ?), deferred_to = ?
	WHERE id = ? AND state = ? AND version = ?`

func updateArgs(p *payflow.PaymentRecord, from string) []any {
	p = toWrite(p, from)
	return []any{p.State, ns(p.UpdatedAt), int64(p.Attempt), nilIfEmpty(p.Consent), nilIfEmpty(p.ConsentHash), ns(p.HoldExpiresAt),
		int64(p.CaptureAmount), int64(p.Captured), int64(p.Refunded), p.VoidTo, nilIfEmpty(p.Receipt), ns(p.SettledAt), updateDue(p),
		nsFirst(time.Time{}), ns(p.DeferredTo), p.ID[:], from, int64(p.Version)}
}

// updateDue is the due_at argument of qUpdatePayment for p: NULL for a
// pending request, whose due time is its expiry as stored (an immutable
// field, which the update does not write, whatever p holds), else due(p).
func updateDue(p *payflow.PaymentRecord) any {
	if p.State == payflow.StatePending {
		return nil
	}
	return due(p)
}

// updatePayment is the compare-and-set of UpdatePayment in tx.
func (s *Store) updatePayment(ctx context.Context, tx dbTx, p *payflow.PaymentRecord, from string) error {
	res, err := tx.ExecContext(ctx, s.q(qUpdatePayment), updateArgs(p, from)...)
	return oneRow(res, err, payflow.ErrConflict)
}

// UpdatePayment implements payflow.Store: UPDATE … WHERE id = ? AND
// state = ? AND version = ?.
func (s *Store) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if err := payflow.CheckPaymentUpdate(p, from); err != nil {
		return err
	}
	res, err := s.exec(ctx, qUpdatePayment, updateArgs(p, from)...)
	if err := oneRow(res, err, payflow.ErrConflict); err != nil {
		return err
	}
	markWritten(p, from)
	return nil
}

// DuePayments implements payflow.Store.
func (s *Store) DuePayments(ctx context.Context, state string, t time.Time, limit int) ([]*payflow.PaymentRecord, error) {
	if err := payflow.CheckDueLimit(limit); err != nil {
		return nil, err
	}
	if err := payflow.CheckNow(t); err != nil {
		return nil, err
	}
	if unstorable(state) { // no request is in it
		return nil, nil
	}
	return queryAll(ctx, s, scanPayment, `SELECT `+paymentCols+` FROM payflow_payments
		WHERE state = ? AND due_at <= ? ORDER BY due_at, id LIMIT ?`, state, ns(t), limit)
}

const refundCols = `id, request_id, state, version, amount, currency, request, hash, refunded, receipt, failure, created_at, deferred_to`

const qRefund = `SELECT ` + refundCols + ` FROM payflow_refunds WHERE id = ?`

func scanRefund(row rowScanner) (*payflow.RefundRecord, error) {
	var r payflow.RefundRecord
	var id, rid []byte
	var version, amount, refunded, created, deferred int64
	if err := row.Scan(&id, &rid, &r.State, &version, &amount, &r.Currency, &r.Request, &r.Hash, &refunded, &r.Receipt, &r.Failure,
		&created, &deferred); err != nil {
		return nil, notFound(err)
	}
	copy(r.ID[:], id)
	copy(r.RequestID[:], rid)
	r.Version, r.Amount, r.Refunded = uint64(version), uint64(amount), uint64(refunded)
	r.CreatedAt, r.Receipt = tm(created), nilIfEmpty(r.Receipt)
	r.DeferredTo = tm(deferred)
	return &r, nil
}

// refundDue is a refund's due_at, the column form (nsFirst) of r.Due(), the
// time at which DueRefunds finds it, pending: the later of its CreatedAt
// and DeferredTo, which every write of either keeps so.
func refundDue(r *payflow.RefundRecord) int64 { return nsFirst(r.Due()) }

const qInsertRefund = `INSERT INTO payflow_refunds (` + refundCols + `, due_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`

func refundArgs(r *payflow.RefundRecord) []any {
	return []any{r.ID[:], r.RequestID[:], r.State, int64(r.Amount), r.Currency, r.Request, r.Hash, int64(r.Refunded),
		nilIfEmpty(r.Receipt), r.Failure, ns(r.CreatedAt), ns(r.DeferredTo), refundDue(r)}
}

// UpdateRefund implements payflow.Store in one transaction: UPDATE …
// WHERE id = ? AND state = ? AND version = ?, then the payment's
// compare-and-set.
func (s *Store) UpdateRefund(ctx context.Context, r *payflow.RefundRecord, from string, p *payflow.PaymentRecord, pFrom string) error {
	if err := payflow.CheckRefundUpdate(r, from, p, pFrom); err != nil {
		return err
	}
	err := s.tx(ctx, func(ctx context.Context, tx dbTx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE payflow_refunds SET state = ?, receipt = ?, refunded = ?, failure = ?, deferred_to = ?,
			due_at = ?, version = version + 1
			WHERE id = ? AND state = ? AND version = ?`),
			r.State, nilIfEmpty(r.Receipt), int64(r.Refunded), r.Failure, ns(r.DeferredTo), refundDue(r), r.ID[:], from,
			int64(r.Version))
		if err := oneRow(res, err, payflow.ErrConflict); err != nil {
			return err
		}
		if p != nil {
			return s.updatePayment(ctx, tx, p, pFrom)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.Version++
	if p != nil {
		markWritten(p, pFrom)
	}
	return nil
}

// Refund implements payflow.Store.
func (s *Store) Refund(ctx context.Context, id payflow.ID) (*payflow.RefundRecord, error) {
	return scanRefund(s.row(ctx, qRefund, id[:]))
}

// DueRefunds implements payflow.Store, reading the refunds in the order
// of the index of pending refunds by due_at and id.
func (s *Store) DueRefunds(ctx context.Context, t time.Time, limit int) ([]*payflow.RefundRecord, error) {
	if err := payflow.CheckDueLimit(limit); err != nil {
		return nil, err
	}
	if err := payflow.CheckNow(t); err != nil {
		return nil, err
	}
	return queryAll(ctx, s, scanRefund, qDueRefunds, dueRefundsArgs(t, limit)...)
}

// dueRefundsArgs are the arguments of qDueRefunds.
func dueRefundsArgs(t time.Time, limit int) []any {
	return []any{payflow.RefundPending, ns(t), limit}
}

const qDueRefunds = `SELECT ` + refundCols + ` FROM payflow_refunds
	WHERE state = ? AND due_at <= ? ORDER BY due_at, id LIMIT ?`

// claimTries is how many times BeginIdempotent claims a key that is
// released each time between its upsert and its read.
const claimTries = 3

// BeginIdempotent implements payflow.Store: an upsert that takes the key
// only when it is absent or expired (its deadline at or before now, or
// the zero time, which is before every now), then a read to classify a
// key held. A key released between the two (abandoned, or deleted as
// expired) is tried again, claimTries times in all, and then given up
// with payflow.ErrKeyContended.
func (s *Store) BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*payflow.IdempotentReply, error) {
	if err := payflow.StorableTimes(lease); err != nil {
		return nil, err
	}
	if err := checkReplyKey(key, bodyHash, now); err != nil {
		return nil, err
	}
	var hash, reply []byte
	var done, status int64
	for try := 1; ; try++ {
		taken, err := changed(s.exec(ctx, `INSERT INTO payflow_replies (key, body_hash, done, status, reply, deadline) VALUES (?, ?, 0, 0, NULL, ?)
			ON CONFLICT (key) DO UPDATE SET body_hash = excluded.body_hash, done = 0, status = 0, reply = NULL, deadline = excluded.deadline
			WHERE payflow_replies.deadline <= ? OR payflow_replies.deadline = 0`, key, bodyHash, ns(lease), ns(now)))
		if err != nil || taken {
			return nil, err
		}
		if s.claimed != nil {
			s.claimed(try)
		}
		err = s.row(ctx, `SELECT body_hash, done, status, reply FROM payflow_replies WHERE key = ?`, key).
			Scan(&hash, &done, &status, &reply)
		if errors.Is(err, sql.ErrNoRows) {
			if try < claimTries {
				continue
			}
			return nil, payflow.ErrKeyContended
		}
		if err != nil {
			return nil, err
		}
		break
	}
	return liveReply(bodyHash, hash, done, status, reply)
}

// checkReplyKey refuses the key, body hash and time of BeginIdempotent
// and LookupIdempotent that no row is kept for.
func checkReplyKey(key string, bodyHash []byte, now time.Time) error {
	if err := payflow.StorableText(key); err != nil {
		return err
	}
	if err := payflow.CheckNow(now); err != nil {
		return err
	}
	return payflow.CheckBodyHash(bodyHash)
}

// liveReply is what BeginIdempotent and LookupIdempotent answer of a
// live row of a key, with its body hash hash, its done, status and reply,
// for a request whose body hashes to bodyHash.
func liveReply(bodyHash, hash []byte, done, status int64, reply []byte) (*payflow.IdempotentReply, error) {
	switch {
	case string(hash) != string(bodyHash):
		return nil, payflow.ErrKeyReuse
	case done == 0:
		return nil, payflow.ErrInFlight
	}
	if reply == nil {
		reply = []byte{}
	}
	return &payflow.IdempotentReply{Status: int(status), Reply: reply}, nil
}

// LookupIdempotent implements payflow.ReplyReader: one read of the key's
// row, which counts as absent once expired at now (its deadline at or
// before now, or the zero time), as in BeginIdempotent.
func (s *Store) LookupIdempotent(ctx context.Context, key string, bodyHash []byte, now time.Time) (*payflow.IdempotentReply, error) {
	if err := checkReplyKey(key, bodyHash, now); err != nil {
		return nil, err
	}
	var hash, reply []byte
	var done, status, deadline int64
	err := s.row(ctx, `SELECT body_hash, done, status, reply, deadline FROM payflow_replies WHERE key = ?`, key).
		Scan(&hash, &done, &status, &reply, &deadline)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	case deadline == 0 || deadline <= ns(now):
		return nil, nil
	}
	return liveReply(bodyHash, hash, done, status, reply)
}

var _ payflow.ReplyReader = (*Store)(nil)

// FinishIdempotent implements payflow.Store: the row in flight is the
// caller's while its deadline is the caller's lease.
func (s *Store) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	if err := payflow.StorableTimes(expires); err != nil {
		return err
	}
	if unstorable(key) || unclaimed(lease) { // held by no one
		return payflow.ErrNotFound
	}
	res, err := s.exec(ctx, `UPDATE payflow_replies SET done = 1, status = ?, reply = ?, deadline = ?
		WHERE key = ? AND done = 0 AND deadline = ?`,
		int64(status), reply, ns(expires), key, ns(lease))
	return oneRow(res, err, payflow.ErrNotFound)
}

// AbandonIdempotent implements payflow.Store.
func (s *Store) AbandonIdempotent(ctx context.Context, key string, lease time.Time) error {
	if unstorable(key) || unclaimed(lease) { // held by no one
		return nil
	}
	_, err := s.exec(ctx, `DELETE FROM payflow_replies WHERE key = ? AND done = 0 AND deadline = ?`, key, ns(lease))
	return err
}

// unclaimed reports a lease that no key is claimed under: one that
// BeginIdempotent refuses (payflow.StorableTimes), among them the Unix
// epoch, whose column form (ns) is the zero time's, a lease that a key
// may be claimed under.
func unclaimed(lease time.Time) bool { return payflow.StorableTimes(lease) != nil }

// sweepBatch is the most rows that DeleteExpired deletes in one
// transaction, as many as the memory store walks in one hold of its lock.
const sweepBatch = 256

// sweep is a table that DeleteExpired sweeps: count counts its rows whose
// expiry is between its two arguments, del deletes up to its fifth
// argument of them (at most sweepBatch), whose expiry is between its
// first two and between its third and fourth, those that expired first,
// found through the index of their expiry. The expiry is checked again
// on the rows deleted, and not only in the subquery that picks them: on
// PostgreSQL a row that a concurrent write changed (an idempotency key
// claimed again, its deadline moved on) is read again once that write
// commits, and is then deleted only if it is still expired.
type sweep struct{ count, del string }

// sweeps are the tables of DeleteExpired, in the order it sweeps them, by
// dialect. On PostgreSQL the sessions that a batch picks are locked
// first, in the order of their IDs (FOR UPDATE), before any is deleted:
// a card's enrolment with another certificate deletes the card's
// sessions (withdraw), some of which may be expired, and locks them in
// that order too, so that the two never each hold a session that the
// other waits for (a deadlock, which would fail the sweep). Deleted in
// the order of the batch's plan, a hash of the IDs picked or the
// expiries', they would be locked in another order than the
// enrolment's.
var sweeps = [...][]sweep{SQLite: newSweeps(SQLite), Postgres: newSweeps(Postgres)}

// newSweeps returns the sweeps of dialect d.
func newSweeps(d Dialect) []sweep {
	var ss []sweep
	for _, t := range []struct {
		table, key, expiry string
		locked             bool // locked in the order of key first, on PostgreSQL
	}{
		{"payflow_nonces", "nonce", "expires_at", false},
		{"payflow_used_nonces", "nonce", "expires_at", false},
		{"payflow_tokens", "hash", "expires_at", false},
		{"payflow_sessions", "id", "expires_at", true},
		{"payflow_replies", "key", "deadline", false},
	} {
		between := t.expiry + ` >= ? AND ` + t.expiry + ` <= ?`
		picked := `SELECT ` + t.key + ` FROM ` + t.table + ` WHERE ` + between + ` ORDER BY ` + t.expiry + ` LIMIT ?`
		if t.locked && d == Postgres {
			picked = `SELECT ` + t.key + ` FROM ` + t.table + ` WHERE ` + t.key + ` IN (` + picked + `) ORDER BY ` + t.key + ` FOR UPDATE`
		}
		ss = append(ss, sweep{
			count: `SELECT count(*) FROM ` + t.table + ` WHERE ` + between,
			del:   `DELETE FROM ` + t.table + ` WHERE ` + between + ` AND ` + t.key + ` IN (` + picked + `)`,
		})
	}
	return ss
}

// expiredRanges returns the ranges of the column form of expiries (ns)
// that have expired at now, in the order DeleteExpired sweeps them, the
// order in which they expired: first 0, the zero time's (none), which is
// before every time kept and so has expired at every now, then up to
// now's (which holds 0 again when now is after the Unix epoch: the rows
// at 0 written since the first range was swept).
func expiredRanges(now time.Time) [][2]int64 {
	return [][2]int64{{0, 0}, {math.MinInt64, ns(now)}}
}

// DeleteExpired implements payflow.Store in batches of at most sweepBatch
// rows, each a write transaction of its own (through the SQLite store's
// Batcher, committed with the writes that come meanwhile), so that the
// sweep holds SQLite's writer, and PostgreSQL's row locks, for one batch at
// a time rather than for every row due. A row kept with the zero time as
// its expiry (0) has expired at every now, one before the Unix epoch
// included, and before every other: it goes first (see expiredRanges). Of
// each table it first counts the rows expired at now, and then deletes at
// most that many, those that expired first: rows written meanwhile already
// expired at now (by a process whose clock is behind the sweeper's) do not
// keep it going. A table's sweep ends once it has deleted that many, or
// with a batch that deletes none: on PostgreSQL a batch may delete fewer
// rows than it found while rows after them are expired, sparing a row that
// a concurrent write changed (a key claimed again) or that another sweep
// deleted first. When ctx ends, or a statement fails, it returns the rows
// that the batches before deleted with the error; the batches committed
// stay deleted.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	if err := payflow.CheckNow(now); err != nil {
		return 0, err
	}
	total := 0
	for _, q := range sweeps[s.d] {
		for _, r := range expiredRanges(now) {
			n, err := s.sweepRange(ctx, q, r[0], r[1])
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// sweepRange deletes, in batches, the rows of q's table whose expiry is
// between lo and hi, as many as it counts first, and returns how many
// went.
func (s *Store) sweepRange(ctx context.Context, q sweep, lo, hi int64) (int, error) {
	var left int
	if err := s.row(ctx, q.count, lo, hi).Scan(&left); err != nil {
		return 0, err
	}
	total := 0
	for left > 0 {
		res, err := s.exec(ctx, q.del, lo, hi, lo, hi, min(left, sweepBatch))
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
		left -= int(n)
		if s.betweenBatches != nil {
			s.betweenBatches()
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}
