package sqlstate_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
)

// withdrawnCard is the card whose sessions the benchmark of their
// withdrawal deletes.
const withdrawnCard = "8900000000000000001"

// writeSessions writes n sessions on db, in one transaction, the cards of
// the session numbered j given by cards, and, on PostgreSQL, has the
// server gather the table's statistics, as its autovacuum would.
func writeSessions(tb testing.TB, db *sql.DB, d sqlstate.Dialect, n int, cards func(j int) (shopper, seller string)) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(tb, err)
	defer tx.Rollback()
	const chunk = 200
	for i := 0; i < n; i += chunk {
		var values []string
		var args []any
		for j := i; j < min(i+chunk, n); j++ {
			shopper, seller := cards(j)
			values = append(values, "(?, ?, ?, 'm', ?, ?, 1, 1, ?)")
			args = append(args, []byte(fmt.Sprintf("session %08d", j)), shopper, seller, []byte{1}, []byte{2}, sec(3600))
		}
		_, err := tx.ExecContext(ctx, sqlstate.Rebind(d, `INSERT INTO payflow_sessions (id, shopper_card_id, seller_card_id,
			merchant_id, shopper_eid, seller_eid, shopper_ok, seller_ok, expires_at) VALUES `+strings.Join(values, ", ")), args...)
		require.NoError(tb, err)
	}
	require.NoError(tb, tx.Commit())
	if d == sqlstate.Postgres {
		_, err := db.ExecContext(ctx, `ANALYZE payflow_sessions`)
		require.NoError(tb, err)
	}
}

// otherCards are the cards of sessions of other cards than withdrawnCard:
// 5,000 shopper cards and 100 seller cards.
func otherCards(j int) (shopper, seller string) {
	return fmt.Sprintf("89000000001%08d", j%5000), fmt.Sprintf("89000000002%08d", j%100)
}

// sessionsUnindexed is the last schema version whose sessions have no
// index by card.
const sessionsUnindexed = 13

// TestWithdrawalIndexed: the sessions of a card enrolled again, which the
// enrolment deletes, are found through the indexes of sessions by shopper
// card and by seller card, not by reading every session: on SQLite the
// plan searches both indexes; on PostgreSQL, told to read no table in
// full where an index serves (enable_seqscan off: the table is small),
// it scans both. Sessions written at schema version sessionsUnindexed are
// in the indexes once the store is migrated: the enrolment deletes the
// card's, as shopper card and as seller card, and leaves the others.
func TestWithdrawalIndexed(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, open := atVersion(t, e, sessionsUnindexed)
			const n = 1000
			writeSessions(t, db, e.d, n, func(j int) (string, string) {
				shopper, seller := otherCards(j)
				switch j {
				case 3:
					shopper = withdrawnCard
				case 7:
					seller = withdrawnCard
				}
				return shopper, seller
			})
			s := open(t)
			c := &payflow.CardRecord{ID: withdrawnCard, Chain: [][]byte{[]byte("cert")}, AdvSecret: []byte("secret of card 1"), EnrolledAt: t0}
			require.NoError(t, s.PutCard(ctx, c))
			c.Chain = [][]byte{[]byte("new cert")}
			require.NoError(t, s.PutCard(ctx, c))
			// A query on db after the migration, which another connection
			// made, has SQLite read the schema again for db's plans.
			var left, ofCard int
			require.NoError(t, db.QueryRowContext(ctx, sqlstate.Rebind(e.d, `SELECT count(*),
				coalesce(sum(CASE WHEN shopper_card_id = ? OR seller_card_id = ? THEN 1 ELSE 0 END), 0) FROM payflow_sessions`),
				withdrawnCard, withdrawnCard).Scan(&left, &ofCard))
			assert.Equal(t, n-2, left, "the other cards' sessions left")
			assert.Zero(t, ofCard, "the card's sessions withdrawn")

			q := sqlstate.Rebind(e.d, sqlstate.QWithdrawSessions(e.d))
			var plan string
			if e.d == sqlstate.SQLite {
				var err error
				plan, err = sqlitedb.QueryPlan(ctx, db, q, withdrawnCard, withdrawnCard)
				require.NoError(t, err)
			} else {
				plan = pgPlan(t, db, q, withdrawnCard, withdrawnCard)
			}
			for _, index := range []string{"payflow_sessions_shopper", "payflow_sessions_seller"} {
				assert.Contains(t, plan, index)
			}
			assert.NotContains(t, plan, "SCAN payflow_sessions", "a full scan")
			assert.NotContains(t, plan, "Seq Scan", "a full scan")
		})
	}
}

// TestWithdrawalOfPaymentsIndexed pins PROTOCOL.md §6.7: the pending
// requests that a card's enrolment with another certificate cancels are
// "found through … partial indexes of pending requests by seller card and
// by payer card", not by reading every pending request: with 1,000
// requests of other cards, every other one pending, and the table's
// statistics gathered, the statement that cancels them searches both
// indexes on SQLite, and on PostgreSQL, told to read no table in full
// where an index serves, scans both. Run, it cancels the card's pending
// requests as seller card and as payer card, and no other: neither the
// card's captured or expired requests nor those of other cards.
func TestWithdrawalOfPaymentsIndexed(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			db, open := e.fresh(t)
			open(t)
			tx, err := db.BeginTx(ctx, nil)
			require.NoError(t, err)
			defer tx.Rollback()
			for j := range 1000 {
				id := []byte(fmt.Sprintf("request %08d", j))
				shopper, seller := otherCards(j)
				expires := sec(3600)
				switch j {
				case 4, 5: // pending, then captured
					shopper = withdrawnCard
				case 8, 9:
					seller = withdrawnCard
				case 10: // pending, expired
					shopper, expires = withdrawnCard, sec(1)
				}
				_, err := tx.ExecContext(ctx, sqlstate.Rebind(e.d, `INSERT INTO payflow_payments (id, session_id, state,
					version, merchant_id, seller_card_id, payer_card_id, currency, amount, request, request_hash, manual_capture,
					expires_at, created_at, updated_at, attempt, hold_expires_at, capture_amount, captured, refunded, void_to,
					settled_at, due_at) VALUES (?, ?, ?, 1, 'm', ?, ?, 'EUR', 10, ?, ?, 0, ?, 1, 1, 0, 0, 0, 0, 0, '', 0, 0)`),
					id, id, map[bool]string{true: payflow.StatePending, false: payflow.StateCaptured}[j%2 == 0],
					seller, shopper, id, id, expires)
				require.NoError(t, err)
			}
			require.NoError(t, tx.Commit())
			_, err = db.ExecContext(ctx, `ANALYZE payflow_payments`)
			require.NoError(t, err)

			q := sqlstate.Rebind(e.d, sqlstate.QWithdrawPayments(e.d))
			args := []any{sec(1), sec(1), withdrawnCard, withdrawnCard, sec(1)}
			var plan string
			if e.d == sqlstate.SQLite {
				plan, err = sqlitedb.QueryPlan(ctx, db, q, args...)
				require.NoError(t, err)
			} else {
				plan = pgPlan(t, db, q, args...)
			}
			for _, index := range []string{"payflow_payments_pending_seller", "payflow_payments_pending_payer"} {
				assert.Contains(t, plan, index)
			}
			assert.NotContains(t, plan, "payflow_payments_due", "every pending request read")
			assert.NotContains(t, plan, "SCAN payflow_payments", "a full scan")
			assert.NotContains(t, plan, "Seq Scan", "a full scan")

			_, err = db.ExecContext(ctx, q, args...)
			require.NoError(t, err)
			rows, err := db.QueryContext(ctx, sqlstate.Rebind(e.d, `SELECT id FROM payflow_payments WHERE state = ? ORDER BY id`), payflow.StateCancelled)
			require.NoError(t, err)
			defer rows.Close()
			var cancelled []string
			for rows.Next() {
				var id []byte
				require.NoError(t, rows.Scan(&id))
				cancelled = append(cancelled, string(id))
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, []string{"request 00000004", "request 00000008"}, cancelled)
		})
	}
}

// pgPlan returns PostgreSQL's plan of q with args (EXPLAIN), its lines as
// fmt.Sprint prints them, with enable_seqscan off.
func pgPlan(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `SET enable_seqscan = off`)
	require.NoError(t, err)
	defer conn.ExecContext(ctx, `RESET enable_seqscan`)
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+q, args...)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	return fmt.Sprint(plan)
}

// BenchmarkWithdrawSessions: the enrolment of a card with another
// certificate (PutCard), which deletes the card's sessions, four of them,
// among 100,000 sessions of other cards.
func BenchmarkWithdrawSessions(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			db, open := e.fresh(b)
			s := open(b)
			writeSessions(b, db, e.d, 100_000, otherCards)
			c := &payflow.CardRecord{ID: withdrawnCard, Chain: [][]byte{[]byte("cert 0")}, AdvSecret: []byte("secret of card 1"), EnrolledAt: t0}
			require.NoError(b, s.PutCard(ctx, c))
			counter := uint64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				for j := range 4 {
					counter++
					sess := &payflow.SessionRecord{ID: payflow.ID{byte(j)}, ShopperCardID: withdrawnCard, SellerCardID: "8900000000100000001",
						MerchantID: "m", ShopperEID: []byte{1}, SellerEID: []byte{2}, ShopperConfirmed: true, ExpiresAt: t0.Add(time.Hour)}
					require.NoError(b, s.Accept(ctx, &payflow.Acceptance{CardID: "8900000000000000090", Counter: counter, Session: sess, Now: t0}))
				}
				c.Chain = [][]byte{[]byte(fmt.Sprint("cert ", i+1))}
				b.StartTimer()
				if err := s.PutCard(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			for j := range 4 {
				_, err := s.Session(ctx, payflow.ID{byte(j)})
				require.ErrorIs(b, err, payflow.ErrNotFound, "session %d withdrawn", j)
			}
		})
	}
}
