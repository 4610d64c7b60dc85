package postgres_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
)

// TestPutCardMeetsUncommittedSecret: a card enrolled with the advertising
// secret that another transaction gives another card, uncommitted, waits
// for that transaction: once it commits, the enrolment is refused with
// ErrConflict (the unique index of secrets, which the look for another
// card with the secret did not see) and the card is not stored; once it
// rolls back, the card is stored.
func TestPutCardMeetsUncommittedSecret(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, waiting := openNamed(t, dsn, "secret")
	for i, commit := range []bool{true, false} {
		other, id := "890000000000000010"+string(rune('0'+i)), "890000000000000020"+string(rune('0'+i))
		secret := bytes.Repeat([]byte{0x50 + byte(i)}, 16)
		tx := beginOther(t, dsn)
		_, err := tx.Exec(ctx, `INSERT INTO payflow_cards (id, chain, adv_secret, display_name, enrolled_at) VALUES ($1, '', $2, '', 0)`,
			other, secret)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- s.PutCard(ctx, &payflow.CardRecord{ID: id, AdvSecret: secret}) }()
		await(t, "the enrolment waiting for the other card's", done, func() bool { return waiting() == 1 })
		if commit {
			require.NoError(t, tx.Commit(ctx))
			assert.ErrorIs(t, <-done, payflow.ErrConflict)
			_, err = s.Card(ctx, id)
			assert.ErrorIs(t, err, payflow.ErrNotFound, "not stored")
			continue
		}
		require.NoError(t, tx.Rollback(ctx))
		require.NoError(t, <-done)
		got, err := s.Card(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, secret, got.AdvSecret)
	}
}

// TestPutCardsOfOneMerchantAtOnce: two cards given to one merchant at once
// are enrolled side by side: the second does not wait for the first,
// which waits here for its card's row that another transaction holds.
// Each takes the merchant's lock shared, which only PutMerchant takes
// exclusive. The merchant's ID is the test's own: merchant locks are the
// database's (advisory), so a PutMerchant of the same ID by a test of
// another package, in another schema, waiting behind the first card's
// shared lock would hold the second card up as well.
func TestPutCardsOfOneMerchantAtOnce(t *testing.T) {
	const merchant = "merchant of TestPutCardsOfOneMerchantAtOnce"
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, waiting := openNamed(t, dsn, "onemerchant")
	c1, c2 := "8900000000000000001", "8900000000000000002"
	require.NoError(t, s.PutCard(ctx, &payflow.CardRecord{ID: c1, AdvSecret: bytes.Repeat([]byte{1}, 16)}))
	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `SELECT 1 FROM payflow_cards WHERE id = $1 FOR UPDATE`, c1)
	require.NoError(t, err)
	first := make(chan error, 1)
	go func() {
		first <- s.PutCard(ctx, &payflow.CardRecord{ID: c1, AdvSecret: bytes.Repeat([]byte{1}, 16), MerchantID: merchant})
	}()
	await(t, "the first card waiting for its row", first, func() bool { return waiting() == 1 })
	second := make(chan error, 1)
	go func() {
		second <- s.PutCard(ctx, &payflow.CardRecord{ID: c2, AdvSecret: bytes.Repeat([]byte{2}, 16), MerchantID: merchant})
	}()
	var secondErr error
	ended := false
	deadline := time.After(time.Minute)
	for !ended && waiting() < 2 {
		select {
		case secondErr = <-second:
			ended = true
		case <-deadline:
			t.Fatal("the second card: neither ended nor waiting within a minute")
		case <-time.After(10 * time.Millisecond):
		}
	}
	assert.True(t, ended, "the second card waits for the first")
	require.NoError(t, tx.Commit(ctx))
	if !ended {
		secondErr = <-second
	}
	assert.NoError(t, secondErr, "the second card")
	assert.NoError(t, <-first, "the first card")
	for _, id := range []string{c1, c2} {
		got, err := s.Card(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, merchant, got.MerchantID, id)
	}
}

// TestSetCatalogWaitsForReplacement: a catalog replaced while another
// transaction replaces it, holding the merchant's row and having inserted
// an item, uncommitted, waits for that transaction and then replaces its
// catalog whole: the other's item is gone. Under READ COMMITTED, a
// replacement that did not wait would delete none of the other's
// items, which it does not see, and the two catalogs would merge.
func TestSetCatalogWaitsForReplacement(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, waiting := openNamed(t, dsn, "catalog")
	require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR"}))
	tx := beginOther(t, dsn)
	_, err := tx.Exec(ctx, `SELECT 1 FROM payflow_merchants WHERE id = 'm' FOR UPDATE`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO payflow_catalog (merchant_id, sku, name, unit_price) VALUES ('m', 'x', 'X', 1)`)
	require.NoError(t, err)
	items := []payflow.CatalogItem{{SKU: "y", Name: "Y", UnitPrice: 2}}
	done := make(chan error, 1)
	go func() { done <- s.SetCatalog(ctx, "m", items) }()
	await(t, "the replacement waiting for the other", done, func() bool { return waiting() == 1 })
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-done)
	got, err := s.Catalog(ctx, "m")
	require.NoError(t, err)
	assert.Equal(t, items, got)
}

// TestReadCancelledWhileWaiting: a read whose context ends while it waits
// for a table that another transaction has locked fails with an error
// that wraps the context's (context.Canceled), as a write does, once the
// server has cancelled its statement: so it is of a read of one row
// (Payment), of rows (Cards) and of the catalog (Catalog), whether the
// wait is its statement's preparation (its first run) or its run (the
// statement prepared by a read before).
func TestReadCancelledWhileWaiting(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	for _, prepared := range []bool{false, true} {
		app := map[bool]string{false: "unprepared", true: "prepared"}[prepared]
		s, waiting := openNamed(t, dsn, app)
		if !prepared {
			require.NoError(t, s.PutMerchant(ctx, &payflow.Merchant{ID: "m", Name: "M", Currency: "EUR"}))
			require.NoError(t, s.SetCatalog(ctx, "m", []payflow.CatalogItem{{SKU: "x", Name: "X", UnitPrice: 1}}))
		}
		for _, c := range []struct {
			table string
			read  func(context.Context) error
		}{
			{"payflow_payments", func(ctx context.Context) error { _, err := s.Payment(ctx, payflow.ID{1}); return err }},
			{"payflow_cards", func(ctx context.Context) error {
				return s.Cards(ctx, func(*payflow.CardRecord) error { return nil })
			}},
			{"payflow_catalog", func(ctx context.Context) error { _, err := s.Catalog(ctx, "m"); return err }},
		} {
			t.Run(app+"/"+c.table, func(t *testing.T) {
				if prepared {
					if err := c.read(ctx); err != nil {
						require.ErrorIs(t, err, payflow.ErrNotFound)
					}
				}
				tx := beginOther(t, dsn)
				_, err := tx.Exec(ctx, `LOCK TABLE `+c.table+` IN ACCESS EXCLUSIVE MODE`)
				require.NoError(t, err)
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- c.read(cctx) }()
				await(t, "the read waiting for the table", done, func() bool { return waiting() == 1 })
				cancel()
				assert.ErrorIs(t, <-done, context.Canceled)
				assert.Zero(t, waiting(), "the read's statement still waits on the server")
				require.NoError(t, tx.Rollback(ctx))
			})
		}
	}
}
