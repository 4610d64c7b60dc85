package postgres

import "github.com/casimpay/casimpay/internal/pgretry"

// SQLSTATE codes that Update retries besides pgretry.Retryable's, and
// migrate too while it creates schema_migrations (duplicate_table and
// duplicate_object only there), and those it does not retry.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503" // not retried: ledger.ErrCorrupt
	codeInvalidText         = "22P02" // from updateAll, checkPending and setLastTimestamp, not retried: ledger.ErrCorrupt
	codeDuplicateTable      = "42P07"
	codeDuplicateObject     = "42710"
)

func isUniqueViolation(err error) bool {
	return pgretry.Code(err) == codeUniqueViolation
}

func isForeignKeyViolation(err error) bool {
	return pgretry.Code(err) == codeForeignKeyViolation
}

// isRefused reports a write that updateAll, checkPending or
// setLastTimestamp refused: an update of a row that is not stored, a
// pending state of a transfer that is not pending, or a last timestamp
// that is not past the last one.
func isRefused(err error) bool {
	return pgretry.Code(err) == codeInvalidText
}

// isDuplicateTable reports the errors of CREATE TABLE IF NOT EXISTS racing
// with the same statement in another session: duplicate_table, or
// duplicate_object for the table's row type.
func isDuplicateTable(err error) bool {
	code := pgretry.Code(err)
	return code == codeDuplicateTable || code == codeDuplicateObject
}
