package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	ledgerpostgres "github.com/casimpay/casimpay/ledger/postgres"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/payflow/postgres"
)

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testenv.PostgresDSN(t)
	paytest.Run(t, func(t *testing.T) payflow.Store { return open(t, testenv.PostgresSchema(t)) })
}

func TestMigrateTwice(t *testing.T) {
	dsn := testenv.PostgresSchema(t)
	open(t, dsn)
	open(t, dsn) // a second process finds the schema current
}

// TestPendingBySessionIndexed: the pending and approving requests of a
// session that a seller card's pairing proof cancels or marks can be
// found through an index, not only by reading every request.
func TestPendingBySessionIndexed(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	open(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, "SET enable_seqscan = off") // the table is empty
	require.NoError(t, err)
	var plan []string
	rows, err := conn.Query(ctx, `EXPLAIN UPDATE payflow_payments SET state = 'cancelled', version = version + 1, updated_at = 1,
		due_at = 1 WHERE session_id = '\x01'::bytea AND state IN ('pending', 'approving') AND expires_at > 1`)
	require.NoError(t, err)
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	assert.Contains(t, fmt.Sprint(plan), "payflow_payments_pending_session")
}

// pairedSession stores a session of two cards, the seller's confirmed
// (its counter 1), and returns it with the time of its acceptance.
func pairedSession(t *testing.T, s *postgres.Store) (*payflow.SessionRecord, time.Time) {
	t.Helper()
	at := time.Unix(1_800_000_000, 0)
	sess := &payflow.SessionRecord{ID: payflow.ID{0xee}, ShopperCardID: "8900000000000000001", SellerCardID: "8900000000000000002",
		MerchantID: "m", ShopperEID: make([]byte, 16), SellerEID: make([]byte, 16), SellerConfirmed: true, ExpiresAt: at.Add(time.Hour)}
	require.NoError(t, s.Accept(context.Background(), &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 1, Session: sess, Now: at}))
	return sess, at
}

// pendingRequest returns a pending payment request of sess with the ID id.
func pendingRequest(sess *payflow.SessionRecord, id byte, at time.Time) *payflow.PaymentRecord {
	return &payflow.PaymentRecord{ID: payflow.ID{id}, SessionID: sess.ID, State: payflow.StatePending, MerchantID: "m",
		SellerCardID: sess.SellerCardID, PayerCardID: sess.ShopperCardID, Currency: "EUR", Amount: 100,
		Request: []byte("request"), RequestHash: []byte("hash"), ExpiresAt: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at}
}

// pairWhileHeld starts the seller card's pairing into sess at the time
// at, with its counter 3 and CancelPending; once the pairing waits for the
// uncommitted transaction tx (on a row that tx wrote or locked), it calls
// held (when not nil) with the process ID of the pairing's backend,
// commits tx, waits for the pairing to succeed and returns the request id
// as stored. It fails the test if the pairing ends before tx commits.
func pairWhileHeld(t *testing.T, s *postgres.Store, tx pgx.Tx, sess *payflow.SessionRecord, at time.Time, id payflow.ID,
	held func(pairing int32)) *payflow.PaymentRecord {
	t.Helper()
	ctx := context.Background()
	var xid string
	require.NoError(t, tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid))
	paired := make(chan error, 1)
	go func() {
		paired <- s.Accept(ctx, &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 3, Session: sess, Now: at, CancelPending: true})
	}()
	var pairing int32
	await(t, "the pairing waiting for the other transaction", paired, func() bool {
		require.NoError(t, tx.QueryRow(ctx, `SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'transactionid'
			AND transactionid::text = $1 AND NOT granted`, xid).Scan(&pairing))
		return pairing != 0
	})
	if held != nil {
		held(pairing)
	}
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-paired)
	got, err := s.Payment(ctx, id)
	require.NoError(t, err)
	return got
}

// await polls found until it returns true. It fails the test if done
// delivers first (the call awaited ended without waiting) or found does
// not hold within a minute.
func await(t *testing.T, what string, done <-chan error, found func() bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !found() {
		select {
		case err := <-done:
			t.Fatalf("%s: ended first: %v", what, err)
		case <-deadline:
			t.Fatalf("%s: not seen within a minute", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// beginOther begins a transaction on a connection of its own, rolled back
// at the end of the test unless committed.
func beginOther(t *testing.T, dsn string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx
}

// TestPairingWaitsForRefusedHold: a seller card's pairing whose
// cancellation meets a request of its session that a refused hold is
// moving from approving back to pending, uncommitted, waits for that
// write and cancels the request once it commits: the request was
// approving when the pairing's statement began, so that a cancellation of
// pending requests alone, from that statement's snapshot, would leave it
// pending after the pairing, payable again.
func TestPairingWaitsForRefusedHold(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s := open(t, dsn)
	sess, at := pairedSession(t, s)
	a := &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 2, Insert: pendingRequest(sess, 1, at)}
	require.NoError(t, s.Accept(ctx, a))
	p := a.Insert
	p.State = payflow.StateApproving
	require.NoError(t, s.UpdatePayment(ctx, p, payflow.StatePending))

	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `UPDATE payflow_payments SET state = 'pending', version = version + 1 WHERE id = $1`, p.ID[:])
	require.NoError(t, err)
	got := pairWhileHeld(t, s, tx, sess, at, p.ID, nil)
	assert.Equal(t, payflow.StateCancelled, got.State, "cancelled once the refusal committed")
}

// TestPairingCancelsRequestCommittedWhileWaiting: a request of the session
// whose transaction holds the seller card's counter row (as Accept's does
// when it records the request) and commits while the seller card's
// pairing waits for that row is cancelled by the pairing, although it was
// not committed when the pairing began: it was made before the pairing
// took the row, by a run of the seller's app that the pairing ends. So it
// is whatever default isolation the store's DSN sets: its connections run
// READ COMMITTED, where a stricter level would fail the pairing with a
// serialization failure (or read the requests from its first snapshot).
func TestPairingCancelsRequestCommittedWhileWaiting(t *testing.T) {
	for _, c := range []struct{ key, level string }{
		{"", ""},
		{"default_transaction_isolation", "repeatable read"},
		{"default_transaction_isolation", "serializable"},
		{"DEFAULT_TRANSACTION_ISOLATION", "serializable"},
	} {
		name := c.key + " " + c.level
		if c.level == "" {
			name = "server default"
		}
		t.Run(name, func(t *testing.T) { pairingCancelsRequestCommittedWhileWaiting(t, c.key, c.level) })
	}
}

// pairingCancelsRequestCommittedWhileWaiting is
// TestPairingCancelsRequestCommittedWhileWaiting with a store whose DSN
// sets the parameter key, default_transaction_isolation in some case, to
// level (the server's default when empty).
func pairingCancelsRequestCommittedWhileWaiting(t *testing.T, key, level string) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	storeDSN := dsn
	if level != "" {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		u.RawQuery += "&" + key + "=" + url.PathEscape(level)
		storeDSN = u.String()
	}
	s := open(t, storeDSN)
	sess, at := pairedSession(t, s)
	p := pendingRequest(sess, 1, at)

	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `UPDATE payflow_counters SET counter = 2 WHERE card_id = $1`, sess.SellerCardID)
	require.NoError(t, err)
	insertRequest(t, tx, p)
	got := pairWhileHeld(t, s, tx, sess, at.Add(time.Minute), p.ID, nil)
	assert.Equal(t, payflow.StateCancelled, got.State, "made before the pairing took the counter row")
	assert.Equal(t, uint64(2), got.Version)
	assert.Equal(t, at.Add(time.Minute), got.UpdatedAt, "cancelled at the pairing's time")
}

// TestPairingLeavesLaterRequest: a request of the session recorded while
// the seller card's pairing holds the card's counter row, its cancellation
// waiting for another transaction that locked an earlier request, waits
// for the pairing to commit and stays pending: the pairing cancels the
// earlier request and not this one, made after it by the run of the
// seller's app that the pairing starts.
func TestPairingLeavesLaterRequest(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s := open(t, dsn)
	sess, at := pairedSession(t, s)
	earlier := &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 2, Insert: pendingRequest(sess, 1, at)}
	require.NoError(t, s.Accept(ctx, earlier))

	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `SELECT 1 FROM payflow_payments WHERE id = $1 FOR UPDATE`, earlier.Insert.ID[:])
	require.NoError(t, err)
	later := &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 4, Insert: pendingRequest(sess, 2, at)}
	recorded := make(chan error, 1)
	got := pairWhileHeld(t, s, tx, sess, at.Add(time.Minute), earlier.Insert.ID, func(pairing int32) {
		go func() { recorded <- s.Accept(ctx, later) }()
		await(t, "the later request waiting for the pairing", recorded, func() bool {
			var waiting bool
			require.NoError(t, tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND pid <> $1
				AND $1 = ANY (pg_blocking_pids(pid)))`, pairing).Scan(&waiting))
			return waiting
		})
	})
	assert.Equal(t, payflow.StateCancelled, got.State, "made before the pairing")
	assert.Equal(t, uint64(2), got.Version)
	assert.Equal(t, at.Add(time.Minute), got.UpdatedAt, "cancelled at the pairing's time")

	require.NoError(t, <-recorded)
	got, err = s.Payment(ctx, later.Insert.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, got.State, "made after the pairing")
	assert.Equal(t, uint64(1), got.Version)
}

// TestPlatform runs the platform end to end with the ledger and the
// platform state in one PostgreSQL schema.
func TestPlatform(t *testing.T) {
	testenv.PostgresDSN(t)
	paytest.RunPlatform(t, func(t *testing.T) *paytest.Fixture {
		dsn := testenv.PostgresSchema(t)
		ls, err := ledgerpostgres.Open(context.Background(), dsn, ledgerpostgres.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { ls.Close() })
		return paytest.NewFixture(t, open(t, dsn), ls, paytest.Options{})
	})
}

// TestByteOrderUnderLocale: in a database whose default collation is a
// language's (here ICU's en-US) rather than C, a catalog still comes in
// SKU order, and the enrolled cards (Cards) and a merchant's seller cards
// (Merchant) in card ID order, as the other stores give them, byte by
// byte: "B" before "a".
func TestByteOrderUnderLocale(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	name := fmt.Sprintf("casimpay_icu_%d", time.Now().UnixNano())
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
	require.NoError(t, err, "the test server builds ICU databases")
	t.Cleanup(func() { // after the store's Close
		_, err := conn.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)")
		assert.NoError(t, err)
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.Path = "/" + name
	s := open(t, u.String())

	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR"}))
	items := []payflow.CatalogItem{{SKU: "a", Name: "A", UnitPrice: 1}, {SKU: "B", Name: "B", UnitPrice: 2}, {SKU: "a-2", Name: "A2", UnitPrice: 3}, {SKU: "a1", Name: "A1", UnitPrice: 4}}
	require.NoError(t, s.SetCatalog(ctx, "m", items))
	got, err := s.Catalog(ctx, "m")
	require.NoError(t, err)
	var skus []string
	for _, it := range got {
		skus = append(skus, it.SKU)
	}
	assert.Equal(t, []string{"B", "a", "a-2", "a1"}, skus)

	ids := []string{"a", "B", "a-2", "a1"}
	for i, id := range ids {
		require.NoError(t, s.PutCard(ctx, &payflow.CardRecord{ID: id, AdvSecret: bytes.Repeat([]byte{byte(i)}, 16)}))
	}
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: ids}))
	var cards []string
	require.NoError(t, s.Cards(ctx, func(c *payflow.CardRecord) error { cards = append(cards, c.ID); return nil }))
	assert.Equal(t, []string{"B", "a", "a-2", "a1"}, cards, "Cards")
	m, err := s.Merchant(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, []string{"B", "a", "a-2", "a1"}, m.SellerCardIDs, "Merchant")
}

// TestOpenNegativeMaxConns: a negative MaxConns is refused with
// ErrNegativeOption, naming the count, rather than read as the default.
func TestOpenNegativeMaxConns(t *testing.T) {
	s, err := postgres.Open(context.Background(), testenv.PostgresSchema(t), postgres.Options{MaxConns: -1})
	if !assert.ErrorIs(t, err, postgres.ErrNegativeOption) {
		s.Close()
	}
	assert.EqualError(t, err, "postgres: negative option: -1 connections")
}

// TestCancelledCallLeavesNoStatement: a call whose context ends while its
// statement waits for a row that another transaction holds returns only
// once the server has cancelled that statement: none of it is left on the
// server to take a backend past MaxConns and, once the row is free,
// commit what the call reported failed. It fails with an error that
// wraps the context's (context.Canceled), as the ledger's store does. So
// it is of one statement (Accept, and UpdatePayment's compare-and-set), a
// pipeline (Accept with CancelPending) and a transaction (UpdateRefund's).
func TestCancelledCallLeavesNoStatement(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s := open(t, dsn)
	sess, at := pairedSession(t, s)
	captured := pendingRequest(sess, 1, at)
	captured.State, captured.Captured, captured.Refunded = payflow.StateCaptured, 100, 10
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 2, Insert: captured}))
	refund := &payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: captured.ID, State: payflow.RefundPending, Amount: 10,
		Currency: "EUR", Request: []byte("refund"), Hash: []byte("hash"), Refunded: 10, CreatedAt: at}
	reserve := *captured
	reserve.Version = 1
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 3, Refund: refund, Update: &reserve,
		From: payflow.StateCaptured}))
	nonces := [][]byte{bytes.Repeat([]byte{8}, 32), bytes.Repeat([]byte{9}, 32)}
	for _, c := range []struct {
		name string
		hold string // a statement that locks the row the call waits for
		call func(context.Context) error
	}{
		{"one statement", `SELECT 1 FROM payflow_counters WHERE card_id = $1 FOR UPDATE`, func(ctx context.Context) error {
			return s.Accept(ctx, &payflow.Acceptance{Nonce: nonces[0], NonceExpires: at.Add(time.Hour), CardID: sess.SellerCardID, Counter: 4})
		}},
		{"pipeline", `SELECT 1 FROM payflow_counters WHERE card_id = $1 FOR UPDATE`, func(ctx context.Context) error {
			return s.Accept(ctx, &payflow.Acceptance{Nonce: nonces[1], NonceExpires: at.Add(time.Hour), CardID: sess.SellerCardID, Counter: 4,
				Session: sess, Now: at, CancelPending: true})
		}},
		{"compare-and-set", `SELECT 1 FROM payflow_payments WHERE $1 <> '' FOR UPDATE`, func(ctx context.Context) error {
			settled := reserve
			settled.Version, settled.SettledAt = 2, at.Add(time.Minute)
			return s.UpdatePayment(ctx, &settled, payflow.StateCaptured)
		}},
		{"transaction", `SELECT 1 FROM payflow_refunds WHERE $1 <> '' FOR UPDATE`, func(ctx context.Context) error {
			done := *refund
			done.State = payflow.RefundDone
			return s.UpdateRefund(ctx, &done, payflow.RefundPending, nil, "")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx := beginOther(t, dsn)
			var xid string
			require.NoError(t, tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid))
			_, err := tx.Exec(ctx, c.hold, sess.SellerCardID)
			require.NoError(t, err)
			waiting := func() bool {
				var n int
				require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid'
					AND transactionid::text = $1 AND NOT granted`, xid).Scan(&n))
				return n > 0
			}
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- c.call(cctx) }()
			await(t, "the call waiting for the row", done, waiting)
			cancel()
			assert.ErrorIs(t, <-done, context.Canceled)
			assert.False(t, waiting(), "the call's statement still waits on the server")
			require.NoError(t, tx.Rollback(ctx))
		})
	}
	for i, n := range nonces {
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{Nonce: n, NonceExpires: at.Add(time.Hour), CardID: sess.SellerCardID,
			Counter: 4 + uint64(i)}), "the cancelled acceptances committed nothing")
	}
	got, err := s.Refund(ctx, refund.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.RefundPending, got.State, "nor did the cancelled refund's end")
	p, err := s.Payment(ctx, captured.ID)
	require.NoError(t, err)
	assert.Equal(t, uint64(2), p.Version, "nor did the cancelled compare-and-set")
	assert.True(t, p.SettledAt.IsZero(), "nor did the cancelled compare-and-set")
}

// openNamed opens a store on dsn whose connections carry the application
// name app (without spaces), and returns it with a function that counts
// those of its connections that wait for a lock: a lock of a row or table,
// or an advisory lock that one of those connections holds. Advisory locks
// belong to the database, not to a schema, so a merchant's lock (its ID's
// hash) can be held for a moment by a test of another package, in its own
// schema, that enrols a merchant of the same ID; such a wait is not the
// test's, and is not counted.
func openNamed(t *testing.T, dsn, app string) (*postgres.Store, func() int) {
	t.Helper()
	s := open(t, namedDSN(t, dsn, app))
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return s, func() int {
		var n int
		require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity w
			WHERE w.application_name = $1 AND w.wait_event_type = 'Lock' AND (w.wait_event <> 'advisory'
				OR EXISTS (SELECT 1 FROM pg_stat_activity h WHERE h.pid = ANY (pg_blocking_pids(w.pid)) AND h.application_name = $1))`,
			app).Scan(&n))
		return n
	}
}

// namedDSN returns dsn (a URL with a query) with the application name app
// for its connections.
func namedDSN(t *testing.T, dsn, app string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.RawQuery += "&application_name=" + url.PathEscape(app)
	return u.String()
}

// TestPutMerchantsCrossing: two PutMerchant calls that take the same seller
// cards, listed in opposite orders or each holding the cards that the
// other lists, both succeed, one after the other, where each could hold a
// card row that the other waits for (a deadlock, SQLSTATE 40P01). Two
// other transactions hold the cards' rows until both calls wait, so that
// once they are freed each call finds free the card it waited for.
func TestPutMerchantsCrossing(t *testing.T) {
	c1, c2 := "8900000000000000001", "8900000000000000002"
	for _, c := range []struct {
		name         string
		a, b         []string      // the lists of the crossing calls for merchants a and b
		heldA, heldB []string      // the cards of a and b before the calls
		outcomes     [][2][]string // the cards of a and b after both calls, in either order
	}{
		{"opposite orders", []string{c1, c2}, []string{c2, c1}, nil, nil, [][2][]string{{{c1, c2}, nil}, {nil, {c1, c2}}}},
		{"each holding the other's", []string{c1}, []string{c2}, []string{c2}, []string{c1}, [][2][]string{{{c1}, {c2}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := testenv.PostgresSchema(t)
			s, waiting := openNamed(t, dsn, "crossing")
			for _, id := range []string{c1, c2} {
				require.NoError(t, s.PutCard(ctx, &payflow.CardRecord{ID: id, AdvSecret: bytes.Repeat([]byte(id[len(id)-1:]), 16)}))
			}
			merchant := func(id string, cards []string) *payflow.Merchant {
				return &payflow.Merchant{ID: id, Name: id, Currency: "EUR", SellerCardIDs: cards}
			}
			require.NoError(t, s.PutMerchant(ctx, merchant("a", c.heldA)))
			require.NoError(t, s.PutMerchant(ctx, merchant("b", c.heldB)))
			held := make([]pgx.Tx, 2)
			for i, id := range []string{c1, c2} {
				held[i] = beginOther(t, dsn)
				_, err := held[i].Exec(ctx, `SELECT 1 FROM payflow_cards WHERE id = $1 FOR UPDATE`, id)
				require.NoError(t, err)
			}
			doneA, doneB := make(chan error, 1), make(chan error, 1)
			go func() { doneA <- s.PutMerchant(ctx, merchant("a", c.a)) }()
			await(t, "a's PutMerchant waiting", doneA, func() bool { return waiting() == 1 })
			go func() { doneB <- s.PutMerchant(ctx, merchant("b", c.b)) }()
			await(t, "b's PutMerchant waiting", doneB, func() bool { return waiting() == 2 })
			for _, tx := range held {
				require.NoError(t, tx.Commit(ctx))
			}
			assert.NoError(t, <-doneA)
			assert.NoError(t, <-doneB)
			var got [2][]string
			for i, id := range []string{"a", "b"} {
				m, err := s.Merchant(ctx, id)
				require.NoError(t, err)
				got[i] = m.SellerCardIDs
			}
			assert.Contains(t, c.outcomes, got)
		})
	}
}

// TestMerchantOneSnapshot: a Merchant whose read of the seller cards
// waits (here for a lock on the cards' table) while another transaction
// commits a new version of the merchant returns one whole version, the
// old or the new, not the old name with the new cards.
func TestMerchantOneSnapshot(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, waiting := openNamed(t, dsn, "snapshot")
	c1, c2, c3 := "8900000000000000001", "8900000000000000002", "8900000000000000003"
	for _, id := range []string{c1, c2, c3} {
		require.NoError(t, s.PutCard(ctx, &payflow.CardRecord{ID: id, AdvSecret: bytes.Repeat([]byte(id[len(id)-1:]), 16)}))
	}
	old := &payflow.Merchant{ID: "m", Name: "Old", Currency: "EUR", SellerCardIDs: []string{c1, c2}}
	require.NoError(t, s.PutMerchant(ctx, old))
	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `LOCK TABLE payflow_cards IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	type read struct {
		m   *payflow.Merchant
		err error
	}
	done, read1 := make(chan error, 1), make(chan read, 1)
	go func() {
		m, err := s.Merchant(ctx, "m")
		read1 <- read{m, err}
		done <- err
	}()
	await(t, "Merchant waiting for the cards' table", done, func() bool { return waiting() == 1 })
	_, err = tx.Exec(ctx, `UPDATE payflow_merchants SET name = 'New' WHERE id = 'm'`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE payflow_cards SET merchant_id = CASE WHEN id = $1 THEN 'm' ELSE '' END`, c3)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	r := <-read1
	require.NoError(t, r.err)
	renamed := &payflow.Merchant{ID: "m", Name: "New", Currency: "EUR", SellerCardIDs: []string{c3}}
	assert.Contains(t, []*payflow.Merchant{old, renamed}, r.m)
}

// TestDeleteExpiredSparesKeyClaimedAgain: an idempotency key that
// DeleteExpired finds expired, but that a concurrent BeginIdempotent is
// claiming again (its deadline moved on, uncommitted), is kept once that
// claim commits: the sweep deletes only the rows still expired.
func TestDeleteExpiredSparesKeyClaimedAgain(t *testing.T) {
	ctx := context.Background()
	s, n := sweepWhileClaimed(t, 1)
	assert.Zero(t, n)
	_, err := s.BeginIdempotent(ctx, "k000", []byte{1}, sweptAt, sweptAt.Add(time.Hour))
	assert.ErrorIs(t, err, payflow.ErrInFlight, "the key claimed again is kept")
}

// sweptAt is the time of the sweep of sweepWhileClaimed.
var sweptAt = time.Unix(1_800_000_000, 0)

// sweepWhileClaimed stores n idempotency keys (k000, k001, …) expired at
// sweptAt and runs DeleteExpired at sweptAt while another transaction
// moves the deadline of k000 on (claims it again), committing that once
// the sweep waits for its row. It returns the store and what the sweep
// deleted.
func sweepWhileClaimed(t *testing.T, n int) (*postgres.Store, int) {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, waiting := openNamed(t, dsn, "sweep")
	for i := range n {
		_, err := s.BeginIdempotent(ctx, fmt.Sprintf("k%03d", i), []byte{1}, sweptAt.Add(-time.Hour), sweptAt.Add(-time.Minute))
		require.NoError(t, err)
	}
	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `UPDATE payflow_replies SET deadline = $1 WHERE key = 'k000'`, sweptAt.Add(time.Minute).UnixNano())
	require.NoError(t, err)
	type swept struct {
		n   int
		err error
	}
	done, result := make(chan error, 1), make(chan swept, 1)
	go func() {
		n, err := s.DeleteExpired(ctx, sweptAt)
		result <- swept{n, err}
		done <- err
	}()
	await(t, "DeleteExpired waiting for the key's row", done, func() bool { return waiting() == 1 })
	require.NoError(t, tx.Commit(ctx))
	r := <-result
	require.NoError(t, r.err)
	return s, r.n
}

// TestOpenCancelledWhileMigrating: an Open whose context ends while its
// migration waits for the advisory lock that another process's migration
// holds fails with an error that wraps the context's (context.Canceled),
// as every call of the store does, and not with the server's cancellation
// alone.
func TestOpenCancelledWhileMigrating(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7208142337)`)
	require.NoError(t, err)
	var pid int32
	require.NoError(t, tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		s, err := postgres.Open(cctx, dsn, postgres.Options{})
		if err == nil {
			s.Close()
		}
		done <- err
	}()
	await(t, "Open waiting for the migration's lock", done, func() bool {
		var waiting bool
		require.NoError(t, tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND $1 = ANY (pg_blocking_pids(pid)))`, pid).Scan(&waiting))
		return waiting
	})
	cancel()
	err = <-done
	assert.ErrorIs(t, err, context.Canceled)
}

// TestPutMerchantMeetsCardJoining: a PutCard that gives a card to a
// merchant while a PutMerchant of that merchant runs, and a PutMerchant
// of another merchant that takes that card and one the first takes, all
// succeed, whether the first PutMerchant updates its merchant or inserts
// it. Were a card to join meanwhile, the first PutMerchant's locks of its
// cards, in their order, would miss it and clear it out of order: holding
// the second card, it would wait for the first, which the other
// PutMerchant held while waiting for the second (a deadlock, SQLSTATE
// 40P01). PutCard waits for the merchant's advisory lock, which
// PutMerchant holds from before it inserts or updates the merchant's row,
// so a card cannot join a merchant whose PutMerchant is under way.
// Another transaction holds the second card's row until the calls have
// come to wait, each in turn.
func TestPutMerchantMeetsCardJoining(t *testing.T) {
	for _, stored := range []bool{true, false} {
		t.Run(map[bool]string{true: "merchant stored", false: "merchant inserted"}[stored], func(t *testing.T) {
			putMerchantMeetsCardJoining(t, stored)
		})
	}
}

// putMerchantMeetsCardJoining is TestPutMerchantMeetsCardJoining, the
// merchant given the card stored before or inserted by its PutMerchant.
func putMerchantMeetsCardJoining(t *testing.T, stored bool) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, waiting := openNamed(t, dsn, "joining")
	c1, c2 := "8900000000000000001", "8900000000000000002"
	for _, id := range []string{c1, c2} {
		require.NoError(t, s.PutCard(ctx, &payflow.CardRecord{ID: id, AdvSecret: bytes.Repeat([]byte(id[len(id)-1:]), 16)}))
	}
	for _, id := range []string{"a", "b"} {
		if id == "a" && !stored {
			continue
		}
		require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: id, Name: id, Currency: "EUR"}))
	}
	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `SELECT 1 FROM payflow_cards WHERE id = $1 FOR UPDATE`, c2)
	require.NoError(t, err)

	doneA := make(chan error, 1)
	go func() {
		doneA <- s.PutMerchant(ctx, &payflow.Merchant{ID: "a", Name: "a", Currency: "EUR", SellerCardIDs: []string{c2}})
	}()
	await(t, "a's PutMerchant waiting", doneA, func() bool { return waiting() == 1 })
	joined := make(chan error, 1)
	go func() {
		joined <- s.PutCard(ctx, &payflow.CardRecord{ID: c1, AdvSecret: bytes.Repeat([]byte("1"), 16), MerchantID: "a"})
	}()
	var joinErr error
	joinedFirst := false
	await(t, "the card given to a, stored or waiting", doneA, func() bool {
		select {
		case joinErr = <-joined:
			joinedFirst = true
			return true
		default:
			return waiting() == 2
		}
	})
	before := waiting()
	doneB := make(chan error, 1)
	go func() {
		doneB <- s.PutMerchant(ctx, &payflow.Merchant{ID: "b", Name: "b", Currency: "EUR", SellerCardIDs: []string{c1, c2}})
	}()
	await(t, "b's PutMerchant waiting", doneB, func() bool { return waiting() == before+1 })
	require.NoError(t, tx.Commit(ctx))
	assert.NoError(t, <-doneA, "a's PutMerchant")
	assert.NoError(t, <-doneB, "b's PutMerchant")
	if !joinedFirst {
		joinErr = <-joined
	}
	assert.NoError(t, joinErr, "the card given to a")
}

// TestAcceptTakesCounterFirst: an acceptance that waits for its card's
// counter row holds no row of its write meanwhile, so that another
// transaction that takes the card's counter row and then that row, in the
// order of Accept's own transaction (which runs when the one statement
// tried first is refused: a pairing into an expired session, say), does
// not deadlock with it. Accept's one statement wrote its session or its
// payment request first and then waited for the counter row with that
// row locked: of the two, the server ended one with a deadlock (SQLSTATE
// 40P01). So it is of a pairing (one statement), a seller card's pairing
// (a pipeline) and a consent's update of its request.
func TestAcceptTakesCounterFirst(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, waiting := openNamed(t, dsn, "counterfirst")
	sess, at := pairedSession(t, s)
	pending := &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 2, Insert: pendingRequest(sess, 1, at)}
	require.NoError(t, s.Accept(ctx, pending))
	require.NoError(t, s.Advance(ctx, sess.ShopperCardID, 1))
	approving := *pending.Insert
	approving.State = payflow.StateApproving
	counter := uint64(3)
	for _, c := range []struct {
		name string
		a    payflow.Acceptance
		row  string // a statement that takes the row of the write
	}{
		{"update", payflow.Acceptance{CardID: sess.ShopperCardID, Update: &approving, From: payflow.StatePending},
			`SELECT 1 FROM payflow_payments WHERE id = $1 FOR UPDATE`},
		{"session", payflow.Acceptance{CardID: sess.SellerCardID, Session: sess, Now: at},
			`SELECT 1 FROM payflow_sessions WHERE id = $1 FOR UPDATE`},
		{"session with cancellation", payflow.Acceptance{CardID: sess.SellerCardID, Session: sess, Now: at, CancelPending: true},
			`SELECT 1 FROM payflow_sessions WHERE id = $1 FOR UPDATE`},
	} {
		t.Run(c.name, func(t *testing.T) {
			counter++
			a := c.a
			a.Counter = counter
			tx := beginOther(t, dsn)
			_, err := tx.Exec(ctx, `SELECT 1 FROM payflow_counters WHERE card_id = $1 FOR UPDATE`, a.CardID)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() { done <- s.Accept(ctx, &a) }()
			await(t, "the acceptance waiting for the counter row", done, func() bool { return waiting() == 1 })
			id := sess.ID[:]
			if a.Update != nil {
				id = a.Update.ID[:]
			}
			_, err = tx.Exec(ctx, c.row, id)
			assert.NoError(t, err, "the row of the acceptance's write, the counter row held")
			require.NoError(t, tx.Commit(ctx))
			assert.NoError(t, <-done, "the acceptance")
		})
	}
}

// TestDeleteExpiredPastKeyClaimedAgain: a batch of DeleteExpired that
// spares a key claimed again meanwhile (its deadline moved on) deletes
// fewer rows than a batch holds, and the sweep still goes on to the rows
// expired after it: it goes on while a batch finds a whole batch of rows
// expired, not while it deletes one, which left the rest of the table to
// a later call.
func TestDeleteExpiredPastKeyClaimedAgain(t *testing.T) {
	const n = 300
	s, deleted := sweepWhileClaimed(t, n)
	assert.Equal(t, n-1, deleted, "every key expired but the one claimed again")
	for _, k := range []string{"k001", fmt.Sprintf("k%03d", n-1)} {
		assert.ErrorIs(t, s.FinishIdempotent(context.Background(), k, sweptAt.Add(-time.Minute), 200, nil, sweptAt.Add(time.Hour)),
			payflow.ErrNotFound, "%s deleted", k)
	}
}
