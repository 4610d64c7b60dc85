package sqlstate

import (
	"database/sql"
	"time"
)

// QDueRefunds is the query of DueRefunds.
const QDueRefunds = qDueRefunds

// DueRefundsArgs are the arguments of QDueRefunds for DueRefunds(t, limit).
func DueRefundsArgs(t time.Time, limit int) []any { return dueRefundsArgs(t, limit) }

// Rebind returns query, written with ? placeholders, in the form of d.
func Rebind(d Dialect, query string) string { return rebind(d, query) }

// SetBetweenBatches makes DeleteExpired call fn after each batch that it
// committed.
func SetBetweenBatches(s *Store, fn func()) { s.betweenBatches = fn }

// QWithdrawSessions is the statement of d that deletes a card's sessions
// when it is enrolled again, the card's ID its two arguments.
func QWithdrawSessions(d Dialect) string { return qWithdrawSessions[d] }

// QWithdrawPayments is the statement of d that cancels a card's pending
// requests when it is enrolled again (see withdraw for its arguments).
func QWithdrawPayments(d Dialect) string { return qWithdrawPayments[d] }

// OnPrepared makes stmt call fn with each statement that it has prepared,
// before it keeps it, so that tests can have Close run there.
func OnPrepared(s *Store, fn func(*sql.Stmt)) { s.prepared = fn }

// Stmts returns the number of prepared statements that s keeps.
func Stmts(s *Store) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stmts)
}

// OnClaimed makes BeginIdempotent call fn, with the number of the try,
// after each upsert that did not take the key and before its read.
func OnClaimed(s *Store, fn func(try int)) { s.claimed = fn }

// PipelineOf returns the Pipeline of s; nil: none.
func PipelineOf(s *Store) Pipeline { return s.pipe }
