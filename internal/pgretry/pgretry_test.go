package pgretry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/internal/pgretry"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt  int
		jitter   float64
		min, max time.Duration
	}{
		{0, 0, 500 * time.Microsecond, 500 * time.Microsecond},
		{-1, 0, 500 * time.Microsecond, 500 * time.Microsecond},
		{math.MinInt, 0.999, 500 * time.Microsecond, time.Millisecond},
		{0, 0.999, 500 * time.Microsecond, time.Millisecond},
		{1, 0, time.Millisecond, time.Millisecond},
		{3, 0, 4 * time.Millisecond, 4 * time.Millisecond},
		{7, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{100, 0, 50 * time.Millisecond, 50 * time.Millisecond},
		{100, 0.999, 50 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		got := pgretry.Backoff(tt.attempt, tt.jitter)
		assert.GreaterOrEqual(t, got, tt.min, "attempt %d jitter %v", tt.attempt, tt.jitter)
		assert.LessOrEqual(t, got, tt.max, "attempt %d jitter %v", tt.attempt, tt.jitter)
	}
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "40001"}, true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{fmt.Errorf("payflow: %w", &pgconn.PgError{Code: "40P01"}), true},
		{&pgconn.PgError{Code: "23505"}, false},
		{&pgconn.PgError{Code: "57014"}, false},
		{errors.New("40P01"), false},
		{nil, false},
	} {
		assert.Equal(t, c.want, pgretry.Retryable(c.err), "%v", c.err)
	}
}

func TestWaitEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, pgretry.Wait(ctx, 100, 0), context.Canceled)
}

// sqlStateError has a SQLSTATE code without being pgx's error.
type sqlStateError string

func (e sqlStateError) Error() string    { return "sqlstate " + string(e) }
func (e sqlStateError) SQLState() string { return string(e) }

func TestCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "23505"}, "23505"},
		{fmt.Errorf("ledger: %w", &pgconn.PgError{Code: "22P02"}), "22P02"},
		{sqlStateError("42P07"), "42P07"},
		{errors.Join(errors.New("23505"), &pgconn.PgError{Code: "40001"}), "40001"},
		{fmt.Errorf("outer: %w", fmt.Errorf("%w", sqlStateError("3F000"))), "3F000"},
		{errors.New("23505"), ""},
		{nil, ""},
	} {
		assert.Equal(t, c.want, pgretry.Code(c.err), "%v", c.err)
	}
}
