package postgres_test

import (
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
	at := time.Unix(1_800_000_000, 0)
	sess := &payflow.SessionRecord{ID: payflow.ID{0xee}, ShopperCardID: "8900000000000000001", SellerCardID: "8900000000000000002",
		MerchantID: "m", ShopperEID: make([]byte, 16), SellerEID: make([]byte, 16), SellerConfirmed: true, ExpiresAt: at.Add(time.Hour)}
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 1, Session: sess, Now: at}))
	p := &payflow.PaymentRecord{ID: payflow.ID{1}, SessionID: sess.ID, State: payflow.StatePending, MerchantID: "m",
		SellerCardID: sess.SellerCardID, PayerCardID: sess.ShopperCardID, Currency: "EUR", Amount: 100,
		Request: []byte("request"), RequestHash: []byte("hash"), ExpiresAt: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at}
	a := &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 2, Insert: p}
	require.NoError(t, s.Accept(ctx, a))
	p = a.Insert
	p.State = "approving"
	require.NoError(t, s.UpdatePayment(ctx, p, payflow.StatePending))

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `UPDATE payflow_payments SET state = 'pending', version = version + 1 WHERE id = $1`, p.ID[:])
	require.NoError(t, err)
	var xid string
	require.NoError(t, tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid))
	paired := make(chan error, 1)
	go func() {
		paired <- s.Accept(ctx, &payflow.Acceptance{CardID: sess.SellerCardID, Counter: 3, Session: sess, Now: at, CancelPending: true})
	}()
	// Wait until the pairing waits for the refusal's transaction.
	for waiting := 0; waiting == 0; {
		var n int
		require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid'
			AND transactionid::text = $1 AND NOT granted`, xid).Scan(&n))
		waiting = n
		select {
		case err := <-paired:
			t.Fatalf("the pairing did not wait for the refusal: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-paired)
	got, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, got.State, "cancelled once the refusal committed")
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

// TestCatalogOrderUnderLocale: in a database whose default collation is
// a language's (here ICU's en-US) rather than C, a catalog still comes in
// SKU order as the other stores give it, byte by byte: "B" before "a".
func TestCatalogOrderUnderLocale(t *testing.T) {
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
}

// TestOpenNegativeMaxConns: a negative MaxConns is refused with
// ErrNegativeOption rather than read as the default.
func TestOpenNegativeMaxConns(t *testing.T) {
	s, err := postgres.Open(context.Background(), testenv.PostgresSchema(t), postgres.Options{MaxConns: -1})
	if !assert.ErrorIs(t, err, postgres.ErrNegativeOption) {
		s.Close()
	}
}
