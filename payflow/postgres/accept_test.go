package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/postgres"
	"github.com/casimpay/casimpay/pki"
)

// insertRequest inserts p, at version 1 and due at its expiry, in tx.
func insertRequest(t *testing.T, tx pgx.Tx, p *payflow.PaymentRecord) {
	t.Helper()
	_, err := tx.Exec(context.Background(), `INSERT INTO payflow_payments (id, session_id, state, version, merchant_id,
		seller_card_id, payer_card_id, currency, amount, request, request_hash, manual_capture, expires_at, created_at,
		updated_at, attempt, hold_expires_at, capture_amount, captured, refunded, void_to, settled_at, due_at)
		VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13, 0, 0, 0, 0, 0, '', 0, $11)`,
		p.ID[:], p.SessionID[:], p.State, p.MerchantID, p.SellerCardID, p.PayerCardID, p.Currency, int64(p.Amount), p.Request,
		p.RequestHash, p.ExpiresAt.UnixNano(), p.CreatedAt.UnixNano(), p.UpdatedAt.UnixNano())
	require.NoError(t, err)
}

// keyClash is a case of TestAcceptMeetsUncommittedKey: another
// transaction writes, in other, the key that the acceptance a writes.
type keyClash struct {
	name  string
	other func(t *testing.T, tx pgx.Tx, a *payflow.Acceptance)
	a     func(nonce []byte, card string, at time.Time) *payflow.Acceptance
	// committed and rolledBack check Accept's error and what is stored
	// once the other transaction committed or rolled back.
	committed, rolledBack func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error)
}

// TestAcceptMeetsUncommittedKey: an acceptance whose nonce, login token,
// session, payment request or card counter another transaction has
// written, uncommitted, with the same key waits for that transaction and
// then has the outcome of a key stored before it if it committed (the
// nonce refused with pki.ErrNonce, the token with payflow.ErrConflict
// and nothing kept, the stored session's confirmations kept, the stored
// request returned with nonce and counter spent, the counter refused
// with the other's as the last), or of a new key if it rolled back: no
// statement of Accept's fails with the server's unique violation, every
// unique key of the tables it writes being the conflict target of its
// insert.
func TestAcceptMeetsUncommittedKey(t *testing.T) {
	ctx := context.Background()
	at := time.Unix(1_800_000_000, 0)
	exp := at.Add(time.Hour)
	session := func(card string) *payflow.SessionRecord {
		return &payflow.SessionRecord{ID: payflow.ID{0x5e, card[len(card)-1]}, ShopperCardID: "8900000000000000099", SellerCardID: card,
			MerchantID: "m", ShopperEID: make([]byte, 16), SellerEID: make([]byte, 16), SellerConfirmed: true, ExpiresAt: exp}
	}
	request := func(card string) *payflow.PaymentRecord {
		return &payflow.PaymentRecord{ID: payflow.ID{0x9e, card[len(card)-1]}, SessionID: payflow.ID{1}, State: payflow.StatePending,
			MerchantID: "m", SellerCardID: card, PayerCardID: "8900000000000000099", Currency: "EUR", Amount: 100,
			Request: []byte("request"), RequestHash: []byte("hash"), ExpiresAt: exp, CreatedAt: at, UpdatedAt: at}
	}
	// spent checks whether the acceptance's nonce and counter were
	// committed.
	spent := func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, want bool) {
		t.Helper()
		err := s.Spent(ctx, a.Nonce, a.CardID, a.Counter)
		if want {
			assert.ErrorIs(t, err, pki.ErrNonce, "nonce and counter committed")
		} else {
			assert.NoError(t, err, "nonce and counter not committed")
		}
	}
	cases := []keyClash{
		{
			name: "nonce",
			other: func(t *testing.T, tx pgx.Tx, a *payflow.Acceptance) {
				_, err := tx.Exec(ctx, `INSERT INTO payflow_used_nonces (nonce, expires_at) VALUES ($1, $2)`, a.Nonce, exp.UnixNano())
				require.NoError(t, err)
			},
			a: func(nonce []byte, card string, _ time.Time) *payflow.Acceptance {
				return &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: card, Counter: 3}
			},
			committed: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				assert.ErrorIs(t, err, pki.ErrNonce)
				assert.NoError(t, s.Spent(ctx, nil, a.CardID, a.Counter), "the counter not committed")
			},
			rolledBack: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				require.NoError(t, err)
				spent(t, s, a, true)
			},
		},
		{
			name: "token",
			other: func(t *testing.T, tx pgx.Tx, a *payflow.Acceptance) {
				_, err := tx.Exec(ctx, `INSERT INTO payflow_tokens (hash, card_id, cert_hash, expires_at) VALUES ($1, 'other', $2, $3)`,
					a.Token.Hash, []byte("other cert"), exp.UnixNano())
				require.NoError(t, err)
			},
			a: func(nonce []byte, card string, _ time.Time) *payflow.Acceptance {
				return &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: card, Counter: 3,
					Token: &payflow.TokenRecord{Hash: bytes.Repeat([]byte{0x7e, card[len(card)-1]}, 16), CardID: card, CertHash: []byte("cert"), ExpiresAt: exp}}
			},
			committed: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				assert.ErrorIs(t, err, payflow.ErrConflict)
				spent(t, s, a, false)
				got, err := s.Token(ctx, a.Token.Hash)
				require.NoError(t, err)
				assert.Equal(t, "other", got.CardID, "the other's token kept")
			},
			rolledBack: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				require.NoError(t, err)
				spent(t, s, a, true)
				got, err := s.Token(ctx, a.Token.Hash)
				require.NoError(t, err)
				assert.Equal(t, a.Token, got)
			},
		},
		{
			name: "session",
			other: func(t *testing.T, tx pgx.Tx, a *payflow.Acceptance) {
				r := a.Session
				_, err := tx.Exec(ctx, `INSERT INTO payflow_sessions (id, shopper_card_id, seller_card_id, merchant_id, shopper_eid,
					seller_eid, shopper_ok, seller_ok, expires_at) VALUES ($1, $2, $3, $4, $5, $6, 1, 0, $7)`,
					r.ID[:], r.ShopperCardID, r.SellerCardID, r.MerchantID, r.ShopperEID, r.SellerEID, r.ExpiresAt.UnixNano())
				require.NoError(t, err)
			},
			a: func(nonce []byte, card string, at time.Time) *payflow.Acceptance {
				return &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: card, Counter: 3, Session: session(card), Now: at}
			},
			committed: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				require.NoError(t, err)
				spent(t, s, a, true)
				want := *session(a.CardID)
				want.ShopperConfirmed = true
				assert.Equal(t, &want, a.Session, "the shopper's confirmation kept, the seller's added")
				got, err := s.Session(ctx, want.ID)
				require.NoError(t, err)
				assert.Equal(t, &want, got)
			},
			rolledBack: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				require.NoError(t, err)
				spent(t, s, a, true)
				want := session(a.CardID)
				assert.Equal(t, want, a.Session)
				got, err := s.Session(ctx, want.ID)
				require.NoError(t, err)
				assert.Equal(t, want, got)
			},
		},
		{
			name: "request",
			other: func(t *testing.T, tx pgx.Tx, a *payflow.Acceptance) {
				p := *a.Insert
				p.Request = []byte("other request")
				insertRequest(t, tx, &p)
			},
			a: func(nonce []byte, card string, _ time.Time) *payflow.Acceptance {
				return &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: card, Counter: 3, Insert: request(card)}
			},
			committed: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				require.NoError(t, err)
				spent(t, s, a, true)
				assert.Equal(t, []byte("other request"), a.Insert.Request, "the stored request returned")
				got, err := s.Payment(ctx, a.Insert.ID)
				require.NoError(t, err)
				assert.Equal(t, a.Insert, got)
			},
			rolledBack: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				require.NoError(t, err)
				spent(t, s, a, true)
				assert.Equal(t, []byte("request"), a.Insert.Request)
				assert.Equal(t, uint64(1), a.Insert.Version)
				got, err := s.Payment(ctx, a.Insert.ID)
				require.NoError(t, err)
				assert.Equal(t, a.Insert, got)
			},
		},
		{
			name: "counter",
			other: func(t *testing.T, tx pgx.Tx, a *payflow.Acceptance) {
				_, err := tx.Exec(ctx, `INSERT INTO payflow_counters (card_id, counter) VALUES ($1, 5)`, a.CardID)
				require.NoError(t, err)
			},
			a: func(nonce []byte, card string, _ time.Time) *payflow.Acceptance {
				return &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: card, Counter: 3}
			},
			committed: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				assert.Equal(t, &pki.CounterError{CardID: a.CardID, Last: 5, Got: 3}, err)
				assert.NoError(t, s.Spent(ctx, a.Nonce, a.CardID, 6), "the nonce not committed")
			},
			rolledBack: func(t *testing.T, s *postgres.Store, a *payflow.Acceptance, err error) {
				require.NoError(t, err)
				spent(t, s, a, true)
				assert.Equal(t, &pki.CounterError{CardID: a.CardID, Last: 3, Got: 3}, s.Spent(ctx, nil, a.CardID, 3))
			},
		},
	}
	dsn := testenv.PostgresSchema(t)
	s := open(t, dsn)
	card := 0
	for _, c := range cases {
		for _, commit := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/%s", c.name, map[bool]string{true: "committed", false: "rolled back"}[commit]), func(t *testing.T) {
				card++
				id := fmt.Sprintf("89000000000000001%02d", card)
				a := c.a(bytes.Repeat([]byte{byte(card)}, 32), id, at)
				tx := beginOther(t, dsn)
				var xid string
				require.NoError(t, tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid))
				c.other(t, tx, a)
				done := make(chan error, 1)
				go func() { done <- s.Accept(ctx, a) }()
				await(t, "the acceptance waiting for the other transaction", done, func() bool {
					var n int
					require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid'
						AND transactionid::text = $1 AND NOT granted`, xid).Scan(&n))
					return n > 0
				})
				if commit {
					require.NoError(t, tx.Commit(ctx))
					c.committed(t, s, a, <-done)
				} else {
					require.NoError(t, tx.Rollback(ctx))
					c.rolledBack(t, s, a, <-done)
				}
			})
		}
	}
}

// TestAcceptCounterAboveInt64: an acceptance whose counter no SQL integer
// holds (above math.MaxInt64) is refused with a *pki.CounterError whose
// Last is math.MaxInt64, for a card never seen as for one whose counter
// is stored, and writes nothing: its nonce stays unused and the card's
// counter as it was.
func TestAcceptCounterAboveInt64(t *testing.T) {
	ctx := context.Background()
	s := open(t, testenv.PostgresSchema(t))
	exp := time.Unix(1_800_000_000, 0)
	seen := "8900000000000000002"
	require.NoError(t, s.Advance(ctx, seen, 7))
	for i, card := range []string{"8900000000000000001", seen} {
		for _, counter := range []uint64{math.MaxInt64 + 1, math.MaxUint64} {
			nonce := bytes.Repeat([]byte{byte(i), byte(counter)}, 16)
			err := s.Accept(ctx, &payflow.Acceptance{Nonce: nonce, NonceExpires: exp, CardID: card, Counter: counter})
			assert.Equal(t, &pki.CounterError{CardID: card, Last: math.MaxInt64, Got: counter}, err, "card %s, counter %d", card, counter)
			assert.NoError(t, s.Spent(ctx, nonce, card, 8), "card %s, counter %d: nothing written", card, counter)
		}
	}
	assert.Equal(t, &pki.CounterError{CardID: seen, Last: 7, Got: 7}, s.Spent(ctx, nil, seen, 7))
}

// TestPipelineCommitRefused: a call run as a pipeline (a Consume, a
// seller card's pairing with CancelPending) whose statements all succeed
// but whose transaction the server refuses at its commit (here a deferred
// constraint trigger that raises) fails with the server's error, and
// nothing of it is kept: the nonce can be consumed again, the pairing's
// nonce and counter are unused and its session not stored.
func TestPipelineCommitRefused(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s := open(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	_, err = conn.Exec(ctx, `CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'P0001'; END $$`)
	require.NoError(t, err)
	refuse := func(t *testing.T, table string) {
		_, err := conn.Exec(ctx, `CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT OR UPDATE OR DELETE ON `+table+`
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()`)
		require.NoError(t, err)
		t.Cleanup(func() {
			_, err := conn.Exec(context.Background(), `DROP TRIGGER refuse_commit ON `+table)
			require.NoError(t, err)
		})
	}
	refused := func(t *testing.T, err error) {
		t.Helper()
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		assert.Equal(t, "P0001", pgErr.Code)
	}
	at := time.Unix(1_800_000_000, 0)
	nonce := bytes.Repeat([]byte{0x4e}, 32)
	t.Run("consume", func(t *testing.T) {
		require.NoError(t, s.Add(ctx, nonce, at.Add(time.Hour)))
		t.Run("refused", func(t *testing.T) {
			refuse(t, "payflow_nonces")
			refused(t, s.Consume(ctx, nonce, at))
		})
		assert.NoError(t, s.Consume(ctx, nonce, at), "the nonce kept")
	})
	t.Run("pairing", func(t *testing.T) {
		sess := &payflow.SessionRecord{ID: payflow.ID{0x5e}, ShopperCardID: "8900000000000000001", SellerCardID: "8900000000000000002",
			MerchantID: "m", ShopperEID: make([]byte, 16), SellerEID: make([]byte, 16), SellerConfirmed: true, ExpiresAt: at.Add(time.Hour)}
		a := &payflow.Acceptance{Nonce: nonce, NonceExpires: at.Add(time.Hour), CardID: sess.SellerCardID, Counter: 1, Session: sess,
			Now: at, CancelPending: true}
		t.Run("refused", func(t *testing.T) {
			refuse(t, "payflow_sessions")
			refused(t, s.Accept(ctx, a))
		})
		assert.NoError(t, s.Spent(ctx, nonce, sess.SellerCardID, 1), "nonce and counter unused")
		_, err := s.Session(ctx, sess.ID)
		assert.ErrorIs(t, err, payflow.ErrNotFound, "the session not stored")
	})
}
