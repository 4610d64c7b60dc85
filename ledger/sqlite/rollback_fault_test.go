package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/sqlitedb"
	"github.com/casimpay/casimpay/ledger"
)

// TestRollbackFailsOnce: an Update whose fn fails, and whose ROLLBACK
// then fails once, fails with fn's error and leaves no transaction open
// on the file: another connection (another process's) takes the write
// lock at once, without waiting for the Store's next write, and finds
// nothing of the Update stored.
func TestRollbackFailsOnce(t *testing.T) {
	ctx := context.Background()
	fl := newFaultyLedger(t)
	refused := errors.New("refused")
	update := func() error {
		return fl.s.Update(ctx, func(tx ledger.Tx) error {
			if err := tx.InsertAccounts([]ledger.Account{faultAccount(1, 0)}); err != nil {
				return err
			}
			return refused
		})
	}
	for n := 1; ; n++ {
		fl.f.Arm(n)
		err := update()
		failed := fl.f.Failure()
		fl.f.Arm(0)
		require.NotEmpty(t, failed, "%d statements run, ROLLBACK not failed", n-1)
		if failed == "exec ROLLBACK" {
			require.ErrorIs(t, err, refused)
			break
		}
	}

	dsn, err := sqlitedb.DSN(fl.s.path, false, "busy_timeout(0)")
	require.NoError(t, err)
	other, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil) // BEGIN IMMEDIATE, not waiting
	require.NoError(t, err, "the write lock")
	var accounts int
	require.NoError(t, tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&accounts))
	assert.Zero(t, accounts)
	require.NoError(t, tx.Rollback())
}
