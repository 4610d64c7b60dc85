package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
)

// TestReenrolmentsCrossing: two cards enrolled again at once, each with
// another certificate, by two platform processes whose plans read the
// pending requests in different orders, both succeed, and every pending
// request of either card ends cancelled once. The server plans the
// cancellation of a card's pending requests as it likes: with a bitmap of
// the partial indexes of pending requests by card, which reads the rows in
// their order in the table, or, as a prepared statement's generic plan, in
// the order of an index (of the requests' due times, say). Here one
// process reads them in the table's order and the other through an index
// (their planner settings say so): request 1, of both cards, comes first
// in the table and last in the index, request 3, of both too, the other
// way round, and request 2, of the first card alone, in between. Another
// transaction holds request 2 until the first card's enrolment holds
// request 1 and waits for it, and the second card's holds request 3 and
// waits for request 1: once request 2 is freed, the first waits for
// request 3 (a deadlock, SQLSTATE 40P01, which ended one of the two).
func TestReenrolmentsCrossing(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	tableOrder, waiting := openNamed(t, dsn+"&enable_indexscan=off", "reenrol")
	indexOrder, _ := openNamed(t, dsn+"&enable_seqscan=off&enable_bitmapscan=off", "reenrol")
	a, b, c := "8900000000000000001", "8900000000000000002", "8900000000000000003"
	at := time.Unix(1_800_000_000, 0)
	card := func(id, cert string) *payflow.CardRecord {
		return &payflow.CardRecord{ID: id, Chain: [][]byte{[]byte(cert + " " + id)}, AdvSecret: []byte(id[len(id)-16:]), EnrolledAt: at}
	}
	for _, id := range []string{a, b, c} {
		require.NoError(t, tableOrder.PutCard(ctx, card(id, "cert")))
	}
	var stored []*payflow.PaymentRecord
	for i, r := range []struct {
		id             byte
		seller, payer  string
		expiresMinutes int
	}{{3, a, b, 30}, {2, a, c, 20}, {1, b, a, 10}} { // in the table in this order
		p := &payflow.PaymentRecord{ID: payflow.ID{r.id}, SessionID: payflow.ID{r.id}, State: payflow.StatePending, MerchantID: "m",
			SellerCardID: r.seller, PayerCardID: r.payer, Currency: "EUR", Amount: 100, Request: []byte("request"), RequestHash: []byte("hash"),
			ExpiresAt: at.Add(time.Duration(r.expiresMinutes) * time.Minute), CreatedAt: at, UpdatedAt: at}
		acc := &payflow.Acceptance{CardID: "8900000000000000090", Counter: uint64(i + 1), Insert: p}
		require.NoError(t, tableOrder.Accept(ctx, acc))
		stored = append(stored, acc.Insert)
	}
	enrolled := at.Add(time.Minute)
	renewed := func(id string) *payflow.CardRecord {
		c := card(id, "new cert")
		c.EnrolledAt = enrolled
		return c
	}
	tx := beginOther(t, dsn)
	request2 := payflow.ID{2}
	_, err := tx.Exec(ctx, `SELECT 1 FROM payflow_payments WHERE id = $1 FOR UPDATE`, request2[:])
	require.NoError(t, err)
	doneA, doneB := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- tableOrder.PutCard(ctx, renewed(a)) }()
	await(t, "a's enrolment waiting for request 2", doneA, func() bool { return waiting() == 1 })
	go func() { doneB <- indexOrder.PutCard(ctx, renewed(b)) }()
	await(t, "b's enrolment waiting for request 1", doneB, func() bool { return waiting() == 2 })
	require.NoError(t, tx.Commit(ctx))
	assert.NoError(t, <-doneA, "a's enrolment")
	assert.NoError(t, <-doneB, "b's enrolment")
	for _, p := range stored {
		want := *p
		want.State, want.UpdatedAt, want.Version = payflow.StateCancelled, enrolled, 2
		got, err := tableOrder.Payment(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, &want, got, "request %x", p.ID[0])
	}
	for _, id := range []string{a, b} {
		got, err := tableOrder.Card(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, renewed(id).Chain, got.Chain, "card %s", id)
	}
}

// TestSweepCrossesReenrolment: a sweep of expired sessions (DeleteExpired)
// and the enrolment of a card with another certificate, which deletes the
// card's sessions, both succeed when they meet on the same expired
// sessions, read by their plans in opposite orders, and the sessions are
// gone. Here the sweep's process reads them through an index, of their
// expiries or of their IDs, and the enrolment's in the table's order
// (their planner settings say so): sessions 1, 2 and 3 expire in that
// order and stand in the table in the reverse order. Another
// transaction holds session 2 until the sweep holds session 1 and waits
// for it, and the enrolment waits too; locked in the order of the plans,
// the enrolment would hold session 3, and once session 2 is freed each
// would wait for the other (a deadlock, SQLSTATE 40P01). So it is too of
// sessions that expire in the reverse order of their IDs, 3 first: locked
// in the order of its plan, by expiry, the sweep would hold session 3
// while the enrolment holds session 1, and each would wait for the other
// once session 2 is freed. The enrolment's process checks for a deadlock
// only after an hour (deadlock_timeout), so that the server would end the
// sweep's transaction, which has no rerun, rather than the enrolment's,
// which PutCard runs again.
func TestSweepCrossesReenrolment(t *testing.T) {
	for _, reverse := range []bool{false, true} {
		t.Run(map[bool]string{false: "expiring in ID order", true: "expiring in reverse ID order"}[reverse], func(t *testing.T) {
			sweepCrossesReenrolment(t, reverse)
		})
	}
}

// sweepCrossesReenrolment is TestSweepCrossesReenrolment, the sessions
// expiring in the order of their IDs or, when reverse, in the reverse
// order.
func sweepCrossesReenrolment(t *testing.T, reverse bool) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	sweeper, waiting := openNamed(t, dsn+"&enable_seqscan=off&enable_bitmapscan=off&enable_hashjoin=off&enable_mergejoin=off&enable_hashagg=off", "sweep")
	enroller, _ := openNamed(t, dsn+"&enable_indexscan=off&enable_bitmapscan=off&deadlock_timeout=1h", "sweep")
	a, b := "8900000000000000001", "8900000000000000002"
	at := time.Unix(1_800_000_000, 0)
	card := func(id, cert string) *payflow.CardRecord {
		return &payflow.CardRecord{ID: id, Chain: [][]byte{[]byte(cert + " " + id)}, AdvSecret: []byte(id[len(id)-16:]), EnrolledAt: at}
	}
	for _, id := range []string{a, b} {
		require.NoError(t, enroller.PutCard(ctx, card(id, "cert")))
	}
	for i, id := range []byte{3, 2, 1} { // in the table in this order
		expiry := time.Duration(id) * time.Minute
		if reverse {
			expiry = time.Duration(4-id) * time.Minute
		}
		sess := &payflow.SessionRecord{ID: payflow.ID{id}, ShopperCardID: a, SellerCardID: b, MerchantID: "m",
			ShopperEID: []byte{1}, SellerEID: []byte{2}, SellerConfirmed: true, ExpiresAt: at.Add(expiry)}
		require.NoError(t, enroller.Accept(ctx, &payflow.Acceptance{CardID: "8900000000000000090", Counter: uint64(i + 1), Session: sess, Now: at}))
	}
	renewed := card(a, "new cert")
	renewed.EnrolledAt = at.Add(time.Hour)

	tx := beginOther(t, dsn)
	session2 := payflow.ID{2}
	_, err := tx.Exec(ctx, `SELECT 1 FROM payflow_sessions WHERE id = $1 FOR UPDATE`, session2[:])
	require.NoError(t, err)
	type swept struct {
		n   int
		err error
	}
	doneSweep, doneEnrol := make(chan swept, 1), make(chan error, 1)
	go func() {
		n, err := sweeper.DeleteExpired(ctx, at.Add(time.Hour))
		doneSweep <- swept{n, err}
	}()
	await(t, "the sweep waiting for session 2", nil, func() bool { return waiting() == 1 })
	go func() { doneEnrol <- enroller.PutCard(ctx, renewed) }()
	await(t, "the enrolment waiting", doneEnrol, func() bool { return waiting() == 2 })
	require.NoError(t, tx.Commit(ctx))
	s := <-doneSweep
	assert.NoError(t, s.err, "the sweep")
	assert.Equal(t, 3, s.n, "the sweep deleted the three sessions")
	assert.NoError(t, <-doneEnrol, "the enrolment")
	for _, id := range []byte{1, 2, 3} {
		_, err := enroller.Session(ctx, payflow.ID{id})
		assert.ErrorIs(t, err, payflow.ErrNotFound, "session %d", id)
	}
	got, err := enroller.Card(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, renewed.Chain, got.Chain)
}
