// Package pgretry is what the PostgreSQL stores' retry loops share: which
// errors of the server end a transaction that may succeed when run again,
// and how long to wait before each rerun; and the SQLSTATE code of an
// error (Code), by which the stores tell the server's other errors apart
// too. It imports no driver: it reads the code of any error that tells it
// (pgx's *pgconn.PgError does).
package pgretry

import (
	"context"
	"errors"
	"time"

	"github.com/casimpay/casimpay/internal/ctxsleep"
)

// SQLSTATE codes of the transient conflicts with other transactions.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// Retryable reports whether err, or an error it wraps, is a transient
// conflict with another transaction, after which the server rolled the
// transaction back and running it again can succeed: a serialization
// failure (SQLSTATE 40001) or a deadlock (40P01).
func Retryable(err error) bool {
	code := Code(err)
	return code == codeSerializationFailure || code == codeDeadlockDetected
}

// Code returns the SQLSTATE code of err, or of the first error it wraps
// that has one (a SQLState method, as pgx's *pgconn.PgError has), and ""
// when none has.
func Code(err error) string {
	var se interface{ SQLState() string }
	if errors.As(err, &se) {
		return se.SQLState()
	}
	return ""
}

// Backoff returns how long to wait before retry number attempt (0 for the
// first retry; a negative attempt counts as 0): exponential from 1 ms,
// capped at 100 ms, with the upper half of the interval chosen by jitter, a
// value in [0, 1).
func Backoff(attempt int, jitter float64) time.Duration {
	d := time.Millisecond << min(max(attempt, 0), 7)
	d = min(d, 100*time.Millisecond)
	return d/2 + time.Duration(float64(d/2)*jitter)
}

// Wait waits before retry number attempt, as long as Backoff says with
// jitter; it returns the cause of ctx's end (ctxsleep.Sleep) if ctx ends
// first.
func Wait(ctx context.Context, attempt int, jitter float64) error {
	return ctxsleep.Sleep(ctx, Backoff(attempt, jitter))
}
