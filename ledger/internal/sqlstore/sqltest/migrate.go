package sqltest

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/ledger/internal/sqlstore"
)

// MigrationTest is a test of one migration of a SQL store: with exec, on
// an empty database, it writes the schema and rows of an older version (the
// migrations of the store in the migrations directory of fsys), then
// opens the store with open, which migrates them, and checks the rows.
// MigrateHistory, MigratePending and MigrateCorruptExpiry are
// MigrationTests.
type MigrationTest func(t *testing.T, d sqlstore.Dialect, fsys fs.FS, exec func(query string, args ...any) error,
	open func() ledger.Store)

// olderStore applies, with exec on an empty database, the store's first
// version migrations (in the migrations directory of fsys), records them
// in schema_migrations as the store does, and writes accounts 1 and 2 of
// accountsFixture. It returns the parameter list of n values in dialect d,
// for the rows that the test writes next.
func olderStore(t *testing.T, d sqlstore.Dialect, fsys fs.FS, exec func(query string, args ...any) error,
	version int) (params func(n int) string) {
	t.Helper()
	ddl, now := "applied_at INTEGER NOT NULL, PRIMARY KEY (component, version)) STRICT", "0"
	if d == sqlstore.Postgres {
		ddl, now = "applied_at timestamptz NOT NULL, PRIMARY KEY (component, version))", "now()"
	}
	require.NoError(t, exec("CREATE TABLE schema_migrations (component text NOT NULL, version integer NOT NULL, name text NOT NULL, "+ddl))
	ms := Migrations(t, fsys)
	require.LessOrEqual(t, version, len(ms))
	for _, m := range ms[:version] {
		require.NoError(t, exec(m.SQL), "migration %d_%s", m.Version, m.Name)
		require.NoError(t, exec("INSERT INTO schema_migrations VALUES ("+d.Param(1)+", "+d.Param(2)+", "+d.Param(3)+", "+now+")",
			sqlstore.Component, m.Version, m.Name))
	}
	params = func(n int) string {
		var sb strings.Builder
		for i := range n {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(d.Param(i + 1))
		}
		return sb.String()
	}
	for _, a := range accountsFixture()[:2] {
		require.NoError(t, exec("INSERT INTO accounts ("+sqlstore.AccountColumns+") VALUES ("+params(12)+")",
			sqlstore.AccountArgs(nil, &a)...))
	}
	return params
}

// MigratePending checks the migration of pending states written before they
// kept their transfer's timestamp. With exec, on an empty database, it
// applies the store's first two migrations as MigrateHistory does and
// writes accounts 1 and 2 (accountsFixture) and four holds from 1 to 2,
// with their pending states: 102, 101 and 100, created in that order one
// second apart, which all expire at 4 s, and 103, created last, which
// expires 1 ns later. Then it opens the store with open, which migrates the
// rows: each state must have its transfer's timestamp, and ExpiredPending
// must return the holds that expire at the same time in the order they were
// created, not in ID order.
func MigratePending(t *testing.T, d sqlstore.Dialect, fsys fs.FS, exec func(query string, args ...any) error,
	open func() ledger.Store) {
	t.Helper()
	params := olderStore(t, d, fsys, exec, 2)
	hold := func(v, ts uint64, timeout uint32) ledger.Transfer {
		return ledger.Transfer{ID: id(v), DebitAccountID: id(1), CreditAccountID: id(2), Amount: v, Ledger: 978, Code: 1,
			Flags: ledger.TransferPending, Timeout: timeout, Timestamp: ts}
	}
	holds := []ledger.Transfer{hold(102, 1e9, 3), hold(101, 2e9, 2), hold(100, 3e9, 1), hold(103, 3e9+1, 1)}
	var want []ledger.Pending
	for _, h := range holds {
		require.NoError(t, exec("INSERT INTO transfers ("+sqlstore.TransferColumns+") VALUES ("+params(13)+")",
			sqlstore.TransferArgs(nil, &h)...))
		// The columns of version 2.
		require.NoError(t, exec("INSERT INTO pending (id, status, expires_at) VALUES ("+params(3)+")",
			h.ID[:], sqlstore.Int(ledger.PendingActive), sqlstore.Int(h.ExpiresAt())))
		want = append(want, ledger.Pending{ID: h.ID, Status: ledger.PendingActive, ExpiresAt: h.ExpiresAt(), Timestamp: h.Timestamp})
	}
	require.Equal(t, uint64(4e9), holds[0].ExpiresAt())
	s := open()
	defer s.Close()
	require.NoError(t, s.View(context.Background(), func(tx ledger.ReadTx) error {
		got, err := tx.Pending([]ledger.ID{id(100), id(101), id(102), id(103)})
		require.NoError(t, err)
		assert.ElementsMatch(t, want, got)
		return nil
	}))
	tests := []struct {
		now   uint64
		limit int
		want  []ledger.Transfer
	}{
		{4e9 - 1, 10, nil},
		{4e9, 10, holds[:3]},
		{4e9, 1, holds[:1]},
		{4e9 + 1, 10, holds},
	}
	for _, tt := range tests {
		require.ErrorIs(t, s.Update(context.Background(), func(tx ledger.Tx) error {
			_, err := tx.LastTimestamp()
			require.NoError(t, err)
			got, err := tx.ExpiredPending(tt.now, tt.limit)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "now %d, limit %d", tt.now, tt.limit)
			return errAbort
		}), errAbort)
	}
}

// MigrateCorruptExpiry checks the migration of index pending_expiry to
// the active pending states whose expiry time reads negative. With exec,
// on an empty database, it applies the store's first three migrations,
// writes accounts 1 and 2 (accountsFixture) and two holds from 1 to 2
// with their pending states, 100 and 101, and then gives 101 an expiry
// time above ledger.TimestampLimit (negative, the schema's check off).
// Then it opens the store with open, which migrates the index: the sweep
// must meet state 101 whatever the time, and fail with ledger.ErrCorrupt.
func MigrateCorruptExpiry(t *testing.T, d sqlstore.Dialect, fsys fs.FS, exec func(query string, args ...any) error,
	open func() ledger.Store) {
	t.Helper()
	params := olderStore(t, d, fsys, exec, 3)
	for _, v := range []uint64{100, 101} {
		h := ledger.Transfer{ID: id(v), DebitAccountID: id(1), CreditAccountID: id(2), Amount: v, Ledger: 978, Code: 1,
			Flags: ledger.TransferPending, Timeout: 1, Timestamp: v * 1e9}
		require.NoError(t, exec("INSERT INTO transfers ("+sqlstore.TransferColumns+") VALUES ("+params(13)+")",
			sqlstore.TransferArgs(nil, &h)...))
		require.NoError(t, exec("INSERT INTO pending ("+sqlstore.PendingColumns+") VALUES ("+params(4)+")",
			h.ID[:], sqlstore.Int(ledger.PendingActive), sqlstore.Int(h.ExpiresAt()), sqlstore.Int(h.Timestamp)))
	}
	corrupt := "PRAGMA ignore_check_constraints = ON; UPDATE pending SET expires_at = -1 - expires_at WHERE timestamp = 101000000000; " +
		"PRAGMA ignore_check_constraints = OFF"
	if d == sqlstore.Postgres {
		corrupt = "ALTER TABLE pending DROP CONSTRAINT pending_expires_at_check; " +
			"UPDATE pending SET expires_at = -1 - expires_at WHERE timestamp = 101000000000"
	}
	require.NoError(t, exec(corrupt))
	s := open()
	defer s.Close()
	err := s.Update(context.Background(), func(tx ledger.Tx) error {
		if _, err := tx.LastTimestamp(); err != nil {
			return err
		}
		got, err := tx.ExpiredPending(1, 10)
		assert.Empty(t, got)
		return err
	})
	assert.ErrorIs(t, err, ledger.ErrCorrupt)
}
