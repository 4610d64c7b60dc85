package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
)

// reruns is how many times PutCard runs a transaction that the server
// refused (a deadlock, a serialization failure) again.
const reruns = 10

// refusedCards returns the DSN of a migrated schema whose card writes
// each raise a notice and then fail with a serialization failure
// (SQLSTATE 40001), the first n of them, and a function that counts the
// card writes tried so far.
func refusedCards(t *testing.T, n int) (string, func() int64) {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, err := Open(ctx, dsn, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, q := range []string{
		`CREATE SEQUENCE card_writes`,
		fmt.Sprintf(`CREATE FUNCTION refuse_card() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('card_writes') <= %d THEN
				RAISE NOTICE 'card write refused';
				RAISE EXCEPTION 'card write refused' USING ERRCODE = '40001';
			END IF;
			RETURN NEW;
		END $$`, n),
		`CREATE TRIGGER refuse_card BEFORE INSERT OR UPDATE ON payflow_cards FOR EACH ROW EXECUTE FUNCTION refuse_card()`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err)
	}
	return dsn, func() int64 {
		var tries int64
		require.NoError(t, conn.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM card_writes`).Scan(&tries))
		return tries
	}
}

// TestPutCardRerunsRefused: a PutCard whose transaction the server
// refuses with a serialization failure is run again, reruns times
// after the first: it succeeds when the last of those runs does, and
// otherwise fails with the last run's error, with no run after it.
func TestPutCardRerunsRefused(t *testing.T) {
	for _, c := range []struct {
		refused int
		ok      bool
	}{{reruns, true}, {reruns + 1, false}} {
		t.Run(fmt.Sprintf("%d refused", c.refused), func(t *testing.T) {
			ctx := context.Background()
			dsn, tries := refusedCards(t, c.refused)
			s, err := Open(ctx, dsn, Options{})
			require.NoError(t, err)
			defer s.Close()
			card := &payflow.CardRecord{ID: "8900000000000000001", AdvSecret: make([]byte, 16)}
			err = s.PutCard(ctx, card)
			assert.Equal(t, int64(reruns+1), tries(), "runs")
			_, gerr := s.Card(ctx, card.ID)
			if c.ok {
				assert.NoError(t, err)
				assert.NoError(t, gerr, "stored")
				return
			}
			var pgErr *pgconn.PgError
			require.ErrorAs(t, err, &pgErr)
			assert.Equal(t, "40001", pgErr.Code)
			assert.ErrorIs(t, gerr, payflow.ErrNotFound, "not stored")
		})
	}
}

// endedCtx is a context whose Err is context.Canceled once end has been
// called. Its Done channel is nil, as Background's: what reads only Done
// (database/sql, pgx) never sees it end, what reads Err (the wait between
// a refused transaction's runs) does.
type endedCtx struct {
	context.Context
	ended atomic.Bool
}

func (c *endedCtx) end() { c.ended.Store(true) }

func (c *endedCtx) Err() error {
	if c.ended.Load() {
		return context.Canceled
	}
	return nil
}

// TestPutCardRerunEndsWithContext: a PutCard whose context ends while its
// transaction runs, which the server then refuses with a serialization
// failure, is not run again: it fails with that refusal joined with the
// context's error.
func TestPutCardRerunEndsWithContext(t *testing.T) {
	ctx := context.Background()
	dsn, tries := refusedCards(t, reruns+1)
	cctx := &endedCtx{Context: ctx}
	cfg, err := connConfig(dsn)
	require.NoError(t, err)
	cfg.OnNotice = func(*pgconn.PgConn, *pgconn.Notice) { cctx.end() } // the card's write, just before its refusal
	s := newStore(stdlib.OpenDB(*cfg))
	defer s.Close()
	err = s.PutCard(cctx, &payflow.CardRecord{ID: "8900000000000000001", AdvSecret: make([]byte, 16)})
	assert.Equal(t, int64(1), tries(), "runs")
	assert.ErrorIs(t, err, context.Canceled)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "the refusal: %v", err)
	assert.Equal(t, "40001", pgErr.Code)
}
