package sqlstate_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/internal/sqlmigrate"
	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/postgres"
	"github.com/casimpay/casimpay/payflow/sqlite"
)

// engine is a SQL engine of the payflow stores.
type engine struct {
	name string
	d    sqlstate.Dialect
	// dir is the directory of the store's package, whose migrations
	// directory holds its migrations.
	dir string
	// fresh returns a new database without payflow tables, and a
	// function that opens the store on it (migrating it to the latest
	// version). The database stays open until the test ends.
	fresh func(tb testing.TB) (*sql.DB, func(testing.TB) payflow.Store)
}

var engines = []engine{
	{"sqlite", sqlstate.SQLite, "../../sqlite", func(tb testing.TB) (*sql.DB, func(testing.TB) payflow.Store) {
		path := filepath.Join(tb.TempDir(), "casimpay.db")
		w, r, err := sqlitedb.Open(context.Background(), path, sqlitedb.Options{})
		require.NoError(tb, err)
		require.NoError(tb, r.Close())
		tb.Cleanup(func() { w.Close() })
		return w, func(tb testing.TB) payflow.Store {
			s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
			require.NoError(tb, err)
			tb.Cleanup(func() { s.Close() })
			return s
		}
	}},
	{"postgres", sqlstate.Postgres, "../../postgres", func(tb testing.TB) (*sql.DB, func(testing.TB) payflow.Store) {
		dsn := testenv.PostgresSchema(tb)
		db, err := sql.Open("pgx", dsn)
		require.NoError(tb, err)
		tb.Cleanup(func() { db.Close() })
		return db, func(tb testing.TB) payflow.Store {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			require.NoError(tb, err)
			tb.Cleanup(func() { s.Close() })
			return s
		}
	}},
}

// refundsUndue is the last schema version whose refunds have no due
// time of their own: DueRefunds computed it from created_at and
// deferred_to.
const refundsUndue = 8

// atVersion returns a new database of e whose payflow tables are at
// schema version v, and a function that opens the store on it.
func atVersion(tb testing.TB, e engine, v int) (*sql.DB, func(testing.TB) payflow.Store) {
	tb.Helper()
	db, open := e.fresh(tb)
	ms, err := sqlmigrate.Read(os.DirFS(e.dir), "migrations")
	require.NoError(tb, err)
	require.NoError(tb, sqlstate.Migrate(context.Background(), db, e.d, ms[:v]))
	return db, open
}

// oldRefund is a refund row as schema version refundsUndue holds it, its
// times in nanoseconds since 1970 (deferred 0: not deferred).
type oldRefund struct {
	id                payflow.ID
	state             string
	created, deferred int64
}

// insertOld writes rows in the columns of schema version refundsUndue,
// in one transaction.
func insertOld(tb testing.TB, db *sql.DB, d sqlstate.Dialect, rows []oldRefund) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(tb, err)
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, sqlstate.Rebind(d, `INSERT INTO payflow_refunds (id, request_id, state, amount, currency,
		request, hash, refunded, receipt, failure, created_at, deferred_to) VALUES (?, ?, ?, 10, 'EUR', ?, ?, 10, NULL, '', ?, ?)`))
	require.NoError(tb, err)
	defer st.Close()
	for _, r := range rows {
		_, err := st.ExecContext(ctx, r.id[:], []byte{0x70}, r.state, []byte("signed refund"), bytes.Repeat([]byte{0xbb}, 32),
			r.created, r.deferred)
		require.NoError(tb, err)
	}
	require.NoError(tb, tx.Commit())
}

// refundID is the ID of the refund numbered i.
func refundID(i int) payflow.ID { return payflow.ID{0x60, byte(i >> 16), byte(i >> 8), byte(i)} }

var t0 = time.Unix(1_800_000_000, 0)

// sec is the time s seconds after t0, in nanoseconds since 1970.
func sec(s int) int64 { return t0.Add(time.Duration(s) * time.Second).UnixNano() }

// qDueRefundsComputed is the query of DueRefunds that computed the due
// time of every pending refund from created_at and deferred_to.
const qDueRefundsComputed = `SELECT id` + qDueRefundsComputedFrom

// qDueRefundsComputedFrom is what follows the columns in
// qDueRefundsComputed.
const qDueRefundsComputedFrom = ` FROM payflow_refunds
	WHERE state = ? AND created_at <= ? AND deferred_to <= ?
	ORDER BY CASE WHEN deferred_to > created_at THEN deferred_to ELSE created_at END, id LIMIT ?`

// TestDueRefundsAsComputed: on refunds written at schema version
// refundsUndue, then migrated, and on refunds written, deferred (as
// RecoverSweep does: UpdateRefund from pending to pending with a
// DeferredTo) and ended by the store, DueRefunds returns exactly the
// refunds, in exactly the order, that the query computing their due time
// from created_at and deferred_to returns, at every time and limit.
func TestDueRefundsAsComputed(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, open := atVersion(t, e, refundsUndue)
			var rows []oldRefund
			for i := range 60 {
				r := oldRefund{id: refundID(i), state: payflow.RefundPending, created: sec(i * 7 % 13)}
				switch i % 4 {
				case 1: // deferred to its creation or later
					r.deferred = sec(i*7%13 + i%5)
				case 2: // deferred to before its creation
					r.deferred = sec(i*7%13 - 3)
				case 3:
					r.deferred = sec(i*7%13 + 4)
				}
				switch {
				case i%9 == 0:
					r.state = payflow.RefundDone
				case i%11 == 0:
					r.state = payflow.RefundFailed
				}
				rows = append(rows, r)
			}
			insertOld(t, db, e.d, rows)
			s := open(t)
			old, err := s.Refund(ctx, refundID(1))
			require.NoError(t, err)
			assert.Equal(t, uint64(1), old.Version, "a refund stored before its version is at version 1")

			// Refunds of a captured payment, written by the store, some
			// deferred as they are inserted.
			w := &writer{s: s}
			pay := &payflow.PaymentRecord{ID: payflow.ID{0x70}, SessionID: payflow.ID{0xee}, State: payflow.StateCaptured,
				MerchantID: "m", SellerCardID: "8900000000000000002", PayerCardID: "8900000000000000001", Currency: "EUR",
				Amount: 1000, Captured: 1000, Request: []byte("signed request"), RequestHash: bytes.Repeat([]byte{0xaa}, 32),
				ExpiresAt: t0, CreatedAt: t0, UpdatedAt: t0}
			require.NoError(t, w.accept(&payflow.Acceptance{Insert: pay}))
			pay, err = s.Payment(ctx, pay.ID)
			require.NoError(t, err)
			for i := 60; i < 80; i++ {
				r := &payflow.RefundRecord{ID: refundID(i), RequestID: pay.ID, State: payflow.RefundPending, Amount: 10,
					Currency: "EUR", Request: []byte("signed refund"), Hash: bytes.Repeat([]byte{0xbb}, 32),
					CreatedAt: time.Unix(0, sec(i%7))}
				if i%3 == 0 {
					r.DeferredTo = time.Unix(0, sec(i%7+i%4))
				}
				pay.Refunded += 10
				r.Refunded = pay.Refunded
				require.NoError(t, w.accept(&payflow.Acceptance{Refund: r, Update: pay, From: payflow.StateCaptured}))
			}
			// Deferrals, later and earlier than the due time, and ends,
			// of refunds written before the migration and after it.
			for i := 0; i < 80; i += 3 {
				r, err := s.Refund(ctx, refundID(i))
				require.NoError(t, err)
				if r.State != payflow.RefundPending {
					continue
				}
				from := r.State
				switch i % 5 {
				case 0:
					r.State, r.Receipt = payflow.RefundDone, []byte("receipt")
				case 1:
					r.DeferredTo = r.CreatedAt.Add(-time.Second)
				default:
					r.DeferredTo = r.CreatedAt.Add(time.Duration(i%4+1) * time.Second)
				}
				require.NoError(t, s.UpdateRefund(ctx, r, from, nil, ""))
			}

			computed, err := db.PrepareContext(ctx, sqlstate.Rebind(e.d, qDueRefundsComputed))
			require.NoError(t, err)
			defer computed.Close()
			most := 0
			for at := -4; at <= 20; at++ {
				for _, limit := range []int{0, 1, 5, 1000} {
					rows, err := computed.QueryContext(ctx, payflow.RefundPending, sec(at), sec(at), limit)
					require.NoError(t, err)
					var want []payflow.ID
					for rows.Next() {
						var id []byte
						require.NoError(t, rows.Scan(&id))
						want = append(want, payflow.ID(id))
					}
					require.NoError(t, rows.Err())
					got, err := s.DueRefunds(ctx, time.Unix(0, sec(at)), limit)
					require.NoError(t, err)
					var ids []payflow.ID
					for _, r := range got {
						ids = append(ids, r.ID)
						stored, err := s.Refund(ctx, r.ID)
						require.NoError(t, err)
						assert.Equal(t, stored, r)
					}
					require.Equal(t, want, ids, "at %d s, limit %d", at, limit)
					most = max(most, len(want))
				}
			}
			assert.Equal(t, 64, most, "pending refunds in all")
		})
	}
}

// writer accepts records as a card with a counter of its own.
type writer struct {
	s       payflow.Store
	counter uint64
}

func (w *writer) accept(a *payflow.Acceptance) error {
	w.counter++
	a.CardID, a.Counter = "8900000000000000090", w.counter
	return w.s.Accept(context.Background(), a)
}

// TestDueRefundsIndexed: the recovery sweep's DueRefunds reads the due
// pending refunds from an index, in its order, without sorting them.
func TestDueRefundsIndexed(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, open := e.fresh(t)
			open(t)
			conn, err := db.Conn(ctx)
			require.NoError(t, err)
			defer conn.Close()
			explain := "EXPLAIN QUERY PLAN "
			if e.d == sqlstate.Postgres {
				explain = "EXPLAIN "
				_, err = conn.ExecContext(ctx, "SET enable_seqscan = off") // the table is empty
				require.NoError(t, err)
			}
			rows, err := conn.QueryContext(ctx, explain+sqlstate.Rebind(e.d, sqlstate.QDueRefunds), sqlstate.DueRefundsArgs(t0, 1000)...)
			require.NoError(t, err)
			defer rows.Close()
			cols, err := rows.Columns()
			require.NoError(t, err)
			var plan []string
			for rows.Next() {
				dest := make([]any, len(cols))
				var detail string
				for i := range dest {
					dest[i] = new(any)
				}
				dest[len(cols)-1] = &detail
				require.NoError(t, rows.Scan(dest...))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			assert.Contains(t, fmt.Sprint(plan), "payflow_refunds_due")
			assert.NotContains(t, fmt.Sprint(plan), "TEMP B-TREE", "SQLite sorts none")
			assert.NotContains(t, fmt.Sprint(plan), "Sort", "PostgreSQL sorts none")
		})
	}
}

// qDueRefundsFormer is the query of DueRefunds at schema version
// refundsUndue: the refunds' columns of that version, in the order of
// qDueRefundsComputed, which no index serves.
const qDueRefundsFormer = `SELECT id, request_id, state, amount, currency, request, hash, refunded, receipt, failure,
	created_at, deferred_to` + qDueRefundsComputedFrom

// dueRefundsFormer reads the refunds of qDueRefundsFormer at t, limit of
// them at most, into records as DueRefunds did.
func dueRefundsFormer(ctx context.Context, st *sql.Stmt, t time.Time, limit int) ([]*payflow.RefundRecord, error) {
	rows, err := st.QueryContext(ctx, payflow.RefundPending, t.UnixNano(), t.UnixNano(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*payflow.RefundRecord
	for rows.Next() {
		var r payflow.RefundRecord
		var id, rid []byte
		var amount, refunded, created, deferred int64
		if err := rows.Scan(&id, &rid, &r.State, &amount, &r.Currency, &r.Request, &r.Hash, &refunded, &r.Receipt,
			&r.Failure, &created, &deferred); err != nil {
			return nil, err
		}
		copy(r.ID[:], id)
		copy(r.RequestID[:], rid)
		r.Amount, r.Refunded, r.CreatedAt = uint64(amount), uint64(refunded), time.Unix(0, created)
		if deferred != 0 {
			r.DeferredTo = time.Unix(0, deferred)
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}

// BenchmarkDueRefunds: the recovery sweep's read of the oldest 10, and
// 1000 (RecoverSweep's default limit), due pending refunds of 20,000
// refunds, 18,000 pending and due and 2,000 done. computed: the same read
// with the query of schema version refundsUndue (qDueRefundsFormer), on
// the same refunds in a table at that version.
func BenchmarkDueRefunds(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			db, open := atVersion(b, e, refundsUndue)
			var rows []oldRefund
			for i := range 20_000 {
				r := oldRefund{id: refundID(i), state: payflow.RefundPending, created: sec(i % 3600)}
				if i%2 == 1 {
					r.deferred = sec(i%3600 + i%600)
				}
				if i%10 == 0 {
					r.state = payflow.RefundDone
				}
				rows = append(rows, r)
			}
			insertOld(b, db, e.d, rows)
			s := open(b)
			ctx := context.Background()
			if e.d == sqlstate.Postgres {
				// The table and its indexes as VACUUM leaves them in
				// time: without the row versions that a migration's
				// update replaced (which a transaction open meanwhile
				// keeps from VACUUM), and with statistics.
				tx, err := db.BeginTx(ctx, nil)
				require.NoError(b, err)
				defer tx.Rollback()
				for _, q := range []string{
					"CREATE TEMPORARY TABLE refunds ON COMMIT DROP AS SELECT * FROM payflow_refunds",
					"TRUNCATE payflow_refunds",
					"INSERT INTO payflow_refunds SELECT * FROM refunds",
				} {
					_, err := tx.ExecContext(ctx, q)
					require.NoError(b, err)
				}
				require.NoError(b, tx.Commit())
				_, err = db.ExecContext(ctx, "ANALYZE payflow_refunds")
				require.NoError(b, err)
			}
			at := time.Unix(0, sec(4200))
			for _, limit := range []int{10, 1000} {
				b.Run(fmt.Sprint("limit=", limit), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						rs, err := s.DueRefunds(ctx, at, limit)
						if err != nil || len(rs) != limit {
							b.Fatal(len(rs), err)
						}
					}
				})
			}
			b.Run("computed", func(b *testing.B) {
				old, _ := atVersion(b, e, refundsUndue)
				insertOld(b, old, e.d, rows)
				if e.d == sqlstate.Postgres {
					_, err := old.ExecContext(ctx, "ANALYZE payflow_refunds")
					require.NoError(b, err)
				}
				st, err := old.PrepareContext(ctx, sqlstate.Rebind(e.d, qDueRefundsFormer))
				require.NoError(b, err)
				defer st.Close()
				for _, limit := range []int{10, 1000} {
					b.Run(fmt.Sprint("limit=", limit), func(b *testing.B) {
						b.ReportAllocs()
						for b.Loop() {
							rs, err := dueRefundsFormer(ctx, st, at, limit)
							if err != nil || len(rs) != limit {
								b.Fatal(len(rs), err)
							}
						}
					})
				}
			})
		})
	}
}

// zeroDueAsEpoch is the last schema version whose due_at keeps a due time
// of none (the zero time) as 0, the Unix epoch's nanoseconds.
const zeroDueAsEpoch = 10

// TestZeroDueMigrated: requests and refunds written at schema version
// zeroDueAsEpoch, due_at 0 for a due time of none (and for a refund
// created before 1970 and not deferred, which the migration that made its
// due_at left at 0, the greater of the two), are listed once migrated in
// the order of their due times, those due at the zero time first, then
// those due before 1970, as the rows written since.
func TestZeroDueMigrated(t *testing.T) {
	old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, open := atVersion(t, e, zeroDueAsEpoch)
			insertOld(t, db, e.d, []oldRefund{ // due_at 0, as the migration that made it left them
				{id: refundID(1), state: payflow.RefundPending, created: old.UnixNano()},
				{id: refundID(2), state: payflow.RefundPending},
				{id: refundID(3), state: payflow.RefundPending, deferred: old.Add(time.Hour).UnixNano()},
			})
			before := sqlstate.New(db, db, e.d, nil)
			defer before.Close()
			w := &writer{s: before}
			for _, p := range []struct {
				id      byte
				expires time.Time
			}{{0x71, old}, {0x72, time.Time{}}, {0x73, t0}} {
				require.NoError(t, w.accept(&payflow.Acceptance{Insert: &payflow.PaymentRecord{ID: payflow.ID{p.id},
					SessionID: payflow.ID{0xee}, State: payflow.StatePending, MerchantID: "m", SellerCardID: "8900000000000000002",
					PayerCardID: "8900000000000000001", Currency: "EUR", Amount: 10, Request: []byte("signed request"),
					RequestHash: bytes.Repeat([]byte{0xaa}, 32), ExpiresAt: p.expires, CreatedAt: t0, UpdatedAt: t0}}))
			}
			_, err := db.ExecContext(ctx, sqlstate.Rebind(e.d, `UPDATE payflow_payments SET due_at = 0 WHERE due_at = ?`), int64(math.MinInt64))
			require.NoError(t, err, "the zero time's due_at as schema version %d kept it", zeroDueAsEpoch)

			s := open(t)
			due, err := s.DuePayments(ctx, payflow.StatePending, t0, 10)
			require.NoError(t, err)
			var ids []payflow.ID
			for _, p := range due {
				ids = append(ids, p.ID)
			}
			assert.Equal(t, []payflow.ID{{0x72}, {0x71}, {0x73}}, ids, "the request expiring at the zero time first")
			refunds, err := s.DueRefunds(ctx, t0, 10)
			require.NoError(t, err)
			ids = nil
			for _, r := range refunds {
				ids = append(ids, r.ID)
			}
			assert.Equal(t, []payflow.ID{refundID(2), refundID(1), refundID(3)}, ids, "the refund made at the zero time first")
		})
	}
}
