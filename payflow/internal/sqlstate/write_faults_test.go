package sqlstate_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/pki"
)

// The cards of the calls of the fault tests.
const (
	shopperCard = "8900000000000000001"
	sellerCard  = "8900000000000000002"
)

// faultCase is a call of a Store made with each of its statements failed
// in turn.
type faultCase struct {
	name string
	// setup writes, on a new store, what the call finds; nil: nothing.
	setup func(t *testing.T, s *sqlstate.Store)
	// call returns the call to make on s, on arguments of its own, which
	// it is made with twice: with a statement failed, then without. It
	// returns what the call gave, to compare with an unfailed call's.
	call func(s *sqlstate.Store) func(context.Context) (any, error)
	// want is the error of the call when no statement fails; nil: none.
	want error
	// readBack is set for a call whose write commits before a read that
	// tells what it did: that read failing leaves the write made, as the
	// call without a failure leaves it.
	readBack bool
}

// faultDB is the database of a store whose statements a test fails one
// at a time, by their number: a faultyStore's (SQLite), whose every
// statement is numbered, or a pgFaults' (PostgreSQL), whose writes are.
type faultDB interface {
	// arm has the nth statement from now fail; 0: none.
	arm(t *testing.T, n int)
	// failure names the statement that failed since arm; "": none did.
	failure(t *testing.T) string
	// failed reports whether err is, or wraps, the failure of a
	// statement.
	failed(err error) bool
	// dump returns every row of the payflow tables, each table's sorted,
	// under the table's name.
	dump(t *testing.T) map[string][]string
}

// checkFaults makes c's call on a store that fresh returns, set up by
// c.setup, once without a failure, and then, for n = 1, 2, … until the
// call runs fewer than n statements, on a store so set up, with its nth
// statement failed: the call must fail with that statement's error (or
// give its refusal, when the statement was the ROLLBACK that follows it)
// and leave the tables as they were, and then, made again on the same
// arguments, give what the call without a failure gave and leave the
// tables as it left them. It returns the number of statements of the
// call.
func checkFaults(t *testing.T, c faultCase, fresh func() (*sqlstate.Store, faultDB)) int {
	ctx := context.Background()
	prepared := func() (*sqlstate.Store, faultDB) {
		s, db := fresh()
		if c.setup != nil {
			c.setup(t, s)
		}
		return s, db
	}
	ref, refDB := prepared()
	wantGot, err := c.call(ref)(ctx)
	require.Equal(t, c.want, err, "without a failure")
	wantErr, want := err, refDB.dump(t)
	for n := 1; ; n++ {
		s, db := prepared()
		before := db.dump(t)
		call := c.call(s)
		db.arm(t, n)
		got, err := call(ctx)
		failed := db.failure(t)
		db.arm(t, 0)
		if failed == "" {
			assert.Equal(t, wantErr, err, "%d statements run", n-1)
			assert.Equal(t, wantGot, got, "%d statements run", n-1)
			assert.Equal(t, want, db.dump(t), "%d statements run", n-1)
			return n - 1
		}
		if failed == "exec ROLLBACK" { // of a refusal, which it does not change
			require.Equal(t, wantErr, err, "statement %d, %s, failed", n, failed)
		} else {
			require.True(t, db.failed(err), "statement %d, %s, failed: %v", n, failed, err)
		}
		if c.readBack && strings.HasSuffix(failed, " SELECT") {
			assert.Equal(t, want, db.dump(t), "%s failed: the write made", failed)
		} else {
			assert.Equal(t, before, db.dump(t), "%s failed: the tables as they were", failed)
		}
		got, err = call(ctx)
		assert.Equal(t, wantErr, err, "made again after statement %d failed", n)
		assert.Equal(t, wantGot, got, "made again after statement %d failed", n)
		assert.Equal(t, want, db.dump(t), "made again after statement %d failed", n)
	}
}

// faultCard returns the card id with an advertising secret of the bytes
// secret.
func faultCard(id string, secret byte) *payflow.CardRecord {
	return &payflow.CardRecord{ID: id, Chain: [][]byte{[]byte("cert " + id)}, AdvSecret: bytes.Repeat([]byte{secret}, adv.SecretSize),
		DisplayName: "card " + id, EnrolledAt: t0}
}

// faultSession is the session of shopperCard and sellerCard with
// merchant m, expiring at exp.
func faultSession(exp time.Time) *payflow.SessionRecord {
	return &payflow.SessionRecord{ID: payflow.ID{0x5e}, ShopperCardID: shopperCard, SellerCardID: sellerCard, MerchantID: "m",
		ShopperEID: bytes.Repeat([]byte{1}, 16), SellerEID: bytes.Repeat([]byte{2}, 16), ShopperConfirmed: true, ExpiresAt: exp}
}

// faultPayment is a payment request of faultSession in state, expiring
// an hour after t0.
func faultPayment(id byte, state string) *payflow.PaymentRecord {
	return &payflow.PaymentRecord{ID: payflow.ID{id}, SessionID: payflow.ID{0x5e}, State: state, MerchantID: "m",
		SellerCardID: sellerCard, PayerCardID: shopperCard, Currency: "EUR", Amount: 690,
		Lines:   []payflow.Line{{SKU: "a", Name: "A", Quantity: 1, UnitPrice: 690, Amount: 690}},
		Request: []byte("signed request"), RequestHash: bytes.Repeat([]byte{0xaa}, 32),
		ExpiresAt: t0.Add(time.Hour), CreatedAt: t0, UpdatedAt: t0}
}

// faultRefund is a pending refund of 10 of request id 2.
func faultRefund() *payflow.RefundRecord {
	return &payflow.RefundRecord{ID: payflow.ID{0x51}, RequestID: payflow.ID{2}, State: payflow.RefundPending, Amount: 10,
		Currency: "EUR", Request: []byte("refund"), Hash: []byte("hash"), Refunded: 10, CreatedAt: t0}
}

// reserved is request 2, captured, as it reserves faultRefund.
func reserved() *payflow.PaymentRecord {
	p := faultPayment(2, payflow.StateCaptured)
	p.Version, p.Refunded = 1, 10
	return p
}

// accepted returns the call of Accept of the acceptance that a gives,
// which it returns.
func accepted(a func() *payflow.Acceptance) func(s *sqlstate.Store) func(context.Context) (any, error) {
	return func(s *sqlstate.Store) func(context.Context) (any, error) {
		acc := a()
		return func(ctx context.Context) (any, error) { return acc, s.Accept(ctx, acc) }
	}
}

// called returns a call of fn, whose arguments are its own.
func called(fn func(ctx context.Context, s *sqlstate.Store) (any, error)) func(s *sqlstate.Store) func(context.Context) (any, error) {
	return func(s *sqlstate.Store) func(context.Context) (any, error) {
		return func(ctx context.Context) (any, error) { return fn(ctx, s) }
	}
}

// nothing turns the error of a call that returns nothing else into the
// form of a faultCase's call.
func nothing(err error) (any, error) { return nil, err }

// withPayment is a setup that stores request 2 in state.
func withPayment(state string) func(t *testing.T, s *sqlstate.Store) {
	return func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, (&writer{s: s}).accept(&payflow.Acceptance{Insert: faultPayment(2, state)}))
	}
}

// withRefund is a setup that stores request 2 captured and faultRefund,
// which it reserves.
func withRefund(t *testing.T, s *sqlstate.Store) {
	withPayment(payflow.StateCaptured)(t, s)
	require.NoError(t, s.Accept(context.Background(), &payflow.Acceptance{CardID: sellerCard, Counter: 1, Refund: faultRefund(),
		Update: reserved(), From: payflow.StateCaptured}))
}

// refundDone returns the call of UpdateRefund that makes faultRefund
// done, with request 2 as withRefund stores it, read at version v.
func refundDone(v uint64) func(s *sqlstate.Store) func(context.Context) (any, error) {
	return called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		r := faultRefund()
		r.State, r.Version, r.Receipt = payflow.RefundDone, 1, []byte("receipt")
		p := reserved()
		p.Version, p.UpdatedAt = v, t0.Add(time.Second)
		return []any{r, p}, s.UpdateRefund(ctx, r, payflow.RefundPending, p, payflow.StateCaptured)
	})
}

// cardsAndMerchant is a setup that enrols both cards and gives the
// seller card to merchant m, with one catalog item.
func cardsAndMerchant(t *testing.T, s *sqlstate.Store) {
	ctx := context.Background()
	require.NoError(t, s.PutCard(ctx, faultCard(shopperCard, 1)))
	require.NoError(t, s.PutCard(ctx, faultCard(sellerCard, 2)))
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR", SellerCardIDs: []string{sellerCard}}))
	require.NoError(t, s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "old", Name: "Old", UnitPrice: 1}}))
}

var faultCases = []faultCase{
	{name: "PutCard", call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.PutCard(ctx, faultCard(shopperCard, 1)))
	})},
	{name: "PutCard enrolled again", setup: func(t *testing.T, s *sqlstate.Store) {
		cardsAndMerchant(t, s)
		w := &writer{s: s}
		require.NoError(t, w.accept(&payflow.Acceptance{Session: faultSession(t0.Add(time.Hour))}))
		require.NoError(t, w.accept(&payflow.Acceptance{Insert: faultPayment(2, payflow.StatePending)}))
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.PutCard(ctx, faultCard(shopperCard, 3)))
	})},
	{name: "PutCard of a merchant", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, s.PutMerchant(context.Background(), &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR"}))
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		c := faultCard(sellerCard, 2)
		c.MerchantID = "m"
		return nothing(s.PutCard(ctx, c))
	})},
	{name: "PutMerchant", setup: cardsAndMerchant, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "N", Currency: "EUR", SellerCardIDs: []string{shopperCard, sellerCard}}))
	})},
	{name: "SetCatalog", setup: cardsAndMerchant, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "a", Name: "A", UnitPrice: 2}, {SKU: "b", Name: "B", UnitPrice: 3}}))
	})},
	{name: "PutAsset", call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.PutAsset(ctx, payflow.Asset{Name: "ticket", Ledger: 1001}))
	}), readBack: true},
	{name: "NonceKey", call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return s.NonceKey(ctx, bytes.Repeat([]byte{7}, 32))
	}), readBack: true},
	{name: "Add", call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.Add(ctx, []byte("nonce"), t0.Add(time.Hour)))
	})},
	{name: "Consume", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, s.Add(context.Background(), []byte("nonce"), t0.Add(time.Hour)))
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.Consume(ctx, []byte("nonce"), t0))
	})},
	{name: "Advance", call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.Advance(ctx, shopperCard, 5))
	})},
	{name: "Advance refused", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, s.Advance(context.Background(), shopperCard, 5))
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.Advance(ctx, shopperCard, 5))
	}), want: &pki.CounterError{CardID: shopperCard, Last: 5, Got: 5}},
	{name: "Accept token", call: accepted(func() *payflow.Acceptance {
		return &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Hour), CardID: shopperCard, Counter: 1,
			Token: &payflow.TokenRecord{Hash: bytes.Repeat([]byte{0x70}, 32), CardID: shopperCard, CertHash: bytes.Repeat([]byte{0xce}, 32),
				ExpiresAt: t0.Add(time.Hour)}}
	})},
	{name: "Accept counter refused", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, s.Advance(context.Background(), shopperCard, 5))
	}, call: accepted(func() *payflow.Acceptance {
		return &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Hour), CardID: shopperCard, Counter: 5}
	}), want: &pki.CounterError{CardID: shopperCard, Last: 5, Got: 5}},
	{name: "Accept session cancelling", setup: withPayment(payflow.StatePending), call: accepted(func() *payflow.Acceptance {
		sess := faultSession(t0.Add(time.Hour))
		sess.ShopperConfirmed, sess.SellerConfirmed = false, true
		return &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Hour), CardID: sellerCard, Counter: 1,
			Session: sess, Now: t0, CancelPending: true}
	})},
	{name: "Accept session expired", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, (&writer{s: s}).accept(&payflow.Acceptance{Session: faultSession(t0.Add(time.Second))}))
	}, call: accepted(func() *payflow.Acceptance {
		return &payflow.Acceptance{CardID: sellerCard, Counter: 1, Session: faultSession(t0.Add(2 * time.Hour)), Now: t0.Add(time.Hour)}
	})},
	{name: "Accept insert", call: accepted(func() *payflow.Acceptance {
		return &payflow.Acceptance{CardID: sellerCard, Counter: 1, Insert: faultPayment(2, payflow.StatePending)}
	})},
	{name: "Accept insert stored", setup: withPayment(payflow.StatePending), call: accepted(func() *payflow.Acceptance {
		return &payflow.Acceptance{CardID: sellerCard, Counter: 1, Insert: faultPayment(2, payflow.StatePending)}
	})},
	{name: "Accept update", setup: withPayment(payflow.StatePending), call: accepted(func() *payflow.Acceptance {
		p := faultPayment(2, payflow.StateApproving)
		p.Version, p.UpdatedAt, p.Consent = 1, t0.Add(time.Second), []byte("consent")
		return &payflow.Acceptance{CardID: shopperCard, Counter: 1, Update: p, From: payflow.StatePending}
	})},
	{name: "Accept refund", setup: withPayment(payflow.StateCaptured), call: accepted(func() *payflow.Acceptance {
		return &payflow.Acceptance{CardID: sellerCard, Counter: 1, Refund: faultRefund(), Update: reserved(), From: payflow.StateCaptured}
	})},
	{name: "Accept refund stored", setup: withRefund, call: accepted(func() *payflow.Acceptance {
		return &payflow.Acceptance{CardID: sellerCard, Counter: 2, Refund: faultRefund(), Update: reserved(), From: payflow.StateCaptured}
	})},
	{name: "UpdatePayment", setup: withPayment(payflow.StatePending), call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		p := faultPayment(2, payflow.StateDeclined)
		p.Version, p.UpdatedAt = 1, t0.Add(time.Second)
		return p, s.UpdatePayment(ctx, p, payflow.StatePending)
	})},
	{name: "UpdateRefund", setup: withRefund, call: refundDone(2)},
	// Refusals, which roll back what their transactions wrote before.
	{name: "PutCard secret taken", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, s.PutCard(context.Background(), faultCard(shopperCard, 1)))
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.PutCard(ctx, faultCard(sellerCard, 1)))
	}), want: fmt.Errorf("%w: card %s has this advertising secret", payflow.ErrConflict, shopperCard)},
	{name: "PutMerchant card unknown", setup: cardsAndMerchant, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "N", Currency: "EUR", SellerCardIDs: []string{sellerCard, "8900000000000000009"}}))
	}), want: payflow.ErrNotFound},
	{name: "Accept session of another merchant", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, (&writer{s: s}).accept(&payflow.Acceptance{Session: faultSession(t0.Add(time.Hour))}))
	}, call: accepted(func() *payflow.Acceptance {
		sess := faultSession(t0.Add(time.Hour))
		sess.MerchantID = "other"
		return &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Hour), CardID: sellerCard, Counter: 1,
			Session: sess, Now: t0}
	}), want: fmt.Errorf("%w: session %x is stored with another merchant", payflow.ErrConflict, faultSession(t0).ID[:])},
	{name: "Accept nonce used", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, s.Accept(context.Background(), &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Hour), CardID: sellerCard, Counter: 1}))
	}, call: accepted(func() *payflow.Acceptance {
		return &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Hour), CardID: shopperCard, Counter: 1,
			Insert: faultPayment(3, payflow.StatePending)}
	}), want: pki.ErrNonce},
	{name: "Accept update changed", setup: withPayment(payflow.StatePending), call: accepted(func() *payflow.Acceptance {
		p := faultPayment(2, payflow.StateApproving)
		p.Version = 2 // not the stored one
		return &payflow.Acceptance{Nonce: []byte("nonce"), NonceExpires: t0.Add(time.Hour), CardID: shopperCard, Counter: 1,
			Update: p, From: payflow.StatePending}
	}), want: payflow.ErrConflict},
	// Request 2 as read before it reserved the refund.
	{name: "UpdateRefund payment changed", setup: withRefund, call: refundDone(1), want: payflow.ErrConflict},
	{name: "BeginIdempotent", call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return s.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	})},
	{name: "BeginIdempotent in flight", setup: func(t *testing.T, s *sqlstate.Store) {
		_, err := s.BeginIdempotent(context.Background(), "k", []byte{1}, t0, t0.Add(time.Minute))
		require.NoError(t, err)
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return s.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	}), want: payflow.ErrInFlight},
	{name: "FinishIdempotent", setup: func(t *testing.T, s *sqlstate.Store) {
		_, err := s.BeginIdempotent(context.Background(), "k", []byte{1}, t0, t0.Add(time.Minute))
		require.NoError(t, err)
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.FinishIdempotent(ctx, "k", t0.Add(time.Minute), 200, []byte("reply"), t0.Add(time.Hour)))
	})},
	{name: "AbandonIdempotent", setup: func(t *testing.T, s *sqlstate.Store) {
		_, err := s.BeginIdempotent(context.Background(), "k", []byte{1}, t0, t0.Add(time.Minute))
		require.NoError(t, err)
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.AbandonIdempotent(ctx, "k", t0.Add(time.Minute)))
	})},
}

// TestWriteFaults: a write of the SQLite store one of whose statements
// fails (its preparation, BEGIN, an execution, a query or COMMIT) fails
// with that statement's error and leaves every table as it was; made
// again, it does what it does when nothing fails. So through the
// Batcher, as payflow/sqlite writes, and in database/sql transactions on
// the writer pool, as the PostgreSQL store's writes that are not
// pipelined run.
func TestWriteFaults(t *testing.T) {
	migrated := migratedFile(t)
	for _, c := range faultCases {
		t.Run(c.name, func(t *testing.T) {
			for _, w := range wirings {
				t.Run(w.name, func(t *testing.T) {
					require.Positive(t, checkFaults(t, c, sqliteFaults(t, migrated, w.batched)), "statements run")
				})
			}
		})
	}
}

// wirings are the two ways of a faultyStore's writes.
var wirings = []struct {
	name    string
	batched bool
}{{"batched", true}, {"transactions", false}}

var readFaultCases = []faultCase{
	{name: "Cards", setup: cardsAndMerchant, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		var ids []string
		return ids, s.Cards(ctx, func(c *payflow.CardRecord) error {
			ids = append(ids, c.ID)
			return nil
		})
	})},
	{name: "Merchant", setup: cardsAndMerchant, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return s.Merchant(ctx, "m")
	})},
	{name: "Catalog", setup: cardsAndMerchant, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return s.Catalog(ctx, "m")
	})},
	{name: "Spent", setup: func(t *testing.T, s *sqlstate.Store) {
		require.NoError(t, s.Advance(context.Background(), shopperCard, 5))
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return nothing(s.Spent(ctx, []byte("nonce"), shopperCard, 6))
	})},
	{name: "LookupIdempotent", setup: func(t *testing.T, s *sqlstate.Store) {
		_, err := s.BeginIdempotent(context.Background(), "k", []byte{1}, t0, t0.Add(time.Minute))
		require.NoError(t, err)
	}, call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return s.LookupIdempotent(ctx, "k", []byte{1}, t0)
	}), want: payflow.ErrInFlight},
	{name: "DuePayments", setup: withPayment(payflow.StatePending), call: called(func(ctx context.Context, s *sqlstate.Store) (any, error) {
		return s.DuePayments(ctx, payflow.StatePending, t0.Add(2*time.Hour), 10)
	})},
}

// TestReadFaults: a read of the SQLite store whose statement fails
// (its preparation or its query) fails with that statement's error;
// made again, it reads what it reads when nothing fails.
func TestReadFaults(t *testing.T) {
	migrated := migratedFile(t)
	for _, c := range readFaultCases {
		t.Run(c.name, func(t *testing.T) {
			require.Positive(t, checkFaults(t, c, sqliteFaults(t, migrated, true)), "statements run")
		})
	}
}

// TestDeleteExpiredFaults: a statement of DeleteExpired that fails fails
// it with its error and the number of rows that the batches before it
// deleted, which stay deleted, and no other; run again, it deletes the
// rest, ending with the tables as one run without a failure leaves them.
func TestDeleteExpiredFaults(t *testing.T) {
	migrated := migratedFile(t)
	for _, w := range wirings {
		t.Run(w.name, func(t *testing.T) {
			fresh := sqliteFaults(t, migrated, w.batched)
			checkDeleteExpiredFaults(t, sqlstate.SQLite, func() (*sqlstate.Store, faultDB, *sql.DB) {
				s, db := fresh()
				return s, db, db.(*faultyStore).plain
			})
		})
	}
}

// checkDeleteExpiredFaults makes DeleteExpired, on a store that fresh
// returns with the rows of expiredRows written through plain (of dialect
// d), once without a failure and then, for n = 1, 2, … until it runs
// fewer than n statements, on a store so prepared, with its nth
// statement failed: it must fail with that statement's error and the
// number of rows that the batches before deleted, which stay deleted,
// and no other; run again, it must delete the rest and leave the tables
// as a run without a failure leaves them. Each kind's rows take two
// batches (sweepBatch is 256), so that a failure may come after a batch
// of the same kind.
func checkDeleteExpiredFaults(t *testing.T, d sqlstate.Dialect, fresh func() (*sqlstate.Store, faultDB, *sql.DB)) {
	const expired = 300 // of each of two kinds
	ctx := context.Background()
	prepared := func() (*sqlstate.Store, faultDB, *sql.DB) {
		s, db, plain := fresh()
		expiredRows(t, plain, d, expired)
		return s, db, plain
	}
	ref, refDB, _ := prepared()
	deleted, err := ref.DeleteExpired(ctx, t0)
	require.NoError(t, err)
	require.Equal(t, 2*expired, deleted)
	want := refDB.dump(t)
	batches, within := 0, 0 // runs with a failure after a batch committed; after one of the same kind
	for n := 1; ; n++ {
		s, db, plain := prepared()
		db.arm(t, n)
		deleted, err := s.DeleteExpired(ctx, t0)
		failed := db.failure(t)
		db.arm(t, 0)
		if failed == "" {
			require.NoError(t, err)
			assert.Equal(t, 2*expired, deleted)
			assert.Equal(t, want, db.dump(t))
			break
		}
		require.True(t, db.failed(err), "statement %d, %s, failed: %v", n, failed, err)
		assert.Equal(t, 2*expired-deleted, expiredLeft(t, plain, d), "statement %d, %s, failed", n, failed)
		if deleted > 0 {
			batches++
		}
		if deleted%expired != 0 {
			within++
		}
		rest, err := s.DeleteExpired(ctx, t0)
		require.NoError(t, err, "run again after statement %d failed", n)
		assert.Equal(t, 2*expired-deleted, rest, "run again after statement %d failed", n)
		assert.Equal(t, want, db.dump(t), "run again after statement %d failed", n)
	}
	assert.Positive(t, batches, "runs failed after a batch")
	assert.Positive(t, within, "runs failed after a batch of the same kind")
}
