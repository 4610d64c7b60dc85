package sqlstate_test

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/pgconfig"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/pki"
)

// TestPostgresCancelPendingUnpiped: on a PostgreSQL store without a
// Pipeline, an acceptance of a session with CancelPending, which the one
// statement of a piped store cannot run, commits in the transaction of
// Accept: the session is written and its pending request cancelled.
func TestPostgresCancelPendingUnpiped(t *testing.T) {
	ctx := context.Background()
	db, open := engines[1].fresh(t)
	open(t) // migrated
	s := sqlstate.NewPostgres(db, nil, pgconfig.WithContextErr)
	defer s.Close()
	const shopper, seller = "8900000000000000001", "8900000000000000002"
	p := pendingRequest(shopper, seller)
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: shopper, Counter: 1, Insert: p}))
	session := &payflow.SessionRecord{ID: payflow.ID{0xee}, ShopperCardID: shopper, SellerCardID: seller,
		MerchantID: "m", ShopperEID: bytes.Repeat([]byte{1}, 16), SellerEID: bytes.Repeat([]byte{2}, 16),
		SellerConfirmed: true, ExpiresAt: t0.Add(10 * time.Minute)}
	at := t0.Add(time.Minute)
	require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: seller, Counter: 1, Session: session, Now: at, CancelPending: true}))
	got, err := s.Session(ctx, session.ID)
	require.NoError(t, err)
	assert.Equal(t, session, got)
	cancelled, err := s.Payment(ctx, p.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, cancelled.State)
	assert.Equal(t, at, cancelled.UpdatedAt)
	assert.Equal(t, uint64(2), cancelled.Version)
}

// TestReenrolmentAtNoTimeCancelsDueAtEveryNow: a card enrolled again with
// no enrolment time (the zero EnrolledAt) cancels its pending requests,
// whose time of update is then the zero time, which is due at every now
// (payflow.Store): DuePayments finds them at a time before 1970 too.
func TestReenrolmentAtNoTimeCancelsDueAtEveryNow(t *testing.T) {
	onEachEngine(t, func(t *testing.T, s payflow.Store) {
		ctx := context.Background()
		const shopper, seller = "8900000000000000001", "8900000000000000002"
		card := &payflow.CardRecord{ID: shopper, Chain: [][]byte{[]byte("cert")}, AdvSecret: bytes.Repeat([]byte{1}, 16)}
		require.NoError(t, s.PutCard(ctx, card))
		p := pendingRequest(shopper, seller)
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: seller, Counter: 1, Insert: p}))
		card.Chain = [][]byte{[]byte("new cert")}
		require.NoError(t, s.PutCard(ctx, card))

		got, err := s.Payment(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCancelled, got.State)
		assert.True(t, got.UpdatedAt.IsZero(), "updated at %v", got.UpdatedAt)
		for _, now := range []time.Time{time.Unix(-1_000_000_000, 0), t0} {
			due, err := s.DuePayments(ctx, payflow.StateCancelled, now, 10)
			require.NoError(t, err)
			if assert.Len(t, due, 1, "due at %v", now) {
				assert.Equal(t, p.ID, due[0].ID)
			}
		}
	})
}

// pendingRequest is request 1 of session 0xee, pending and unexpired at
// t0, from seller to shopper.
func pendingRequest(shopper, seller string) *payflow.PaymentRecord {
	return &payflow.PaymentRecord{
		ID: payflow.ID{1}, SessionID: payflow.ID{0xee}, State: payflow.StatePending, MerchantID: "m",
		SellerCardID: seller, PayerCardID: shopper, Currency: "EUR", Amount: 10,
		Request: []byte("signed request"), RequestHash: bytes.Repeat([]byte{0xaa}, 32),
		ExpiresAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0,
	}
}

// TestNowAfterLastTimeKept: a now after the last time that a store keeps
// (math.MaxInt64 nanoseconds since the Unix epoch, in 2262) is after every
// time kept, that one included: a nonce that expires then is expired,
// and a pending request that expires then is due.
func TestNowAfterLastTimeKept(t *testing.T) {
	last := time.Unix(0, math.MaxInt64)
	now := last.Add(time.Second)
	onEachEngine(t, func(t *testing.T, ps payflow.Store) {
		ctx := context.Background()
		s := sqlStore(t, ps)
		nonce := []byte("nonce expiring last")
		require.NoError(t, s.Add(ctx, nonce, last))
		assert.ErrorIs(t, s.Consume(ctx, nonce, now), pki.ErrNonce)

		const shopper, seller = "8900000000000000001", "8900000000000000002"
		p := pendingRequest(shopper, seller)
		p.ExpiresAt = last
		require.NoError(t, s.Accept(ctx, &payflow.Acceptance{CardID: seller, Counter: 1, Insert: p}))
		due, err := s.DuePayments(ctx, payflow.StatePending, now, 10)
		require.NoError(t, err)
		if assert.Len(t, due, 1) {
			assert.Equal(t, p.ID, due[0].ID)
		}
	})
}

// onEachEngine runs fn as a subtest of each engine, on a new store of it.
func onEachEngine(t *testing.T, fn func(t *testing.T, s payflow.Store)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			_, open := e.fresh(t)
			fn(t, open(t))
		})
	}
}
