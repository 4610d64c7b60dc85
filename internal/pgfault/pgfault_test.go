package pgfault_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/pgfault"
	"github.com/casimpay/casimpay/internal/pgretry"
	"github.com/casimpay/casimpay/internal/testenv"
)

// schema returns a connection to a new schema holding tables a_one and
// a_two, with a row in a_two, and b_other, and the schema's DSN.
func schema(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, q := range []string{
		`CREATE TABLE a_one (k int PRIMARY KEY, v text NOT NULL)`,
		`CREATE TABLE a_two (k int PRIMARY KEY, b bytea)`,
		`INSERT INTO a_two VALUES (1, '\x0102')`,
		`CREATE TABLE b_other (k int PRIMARY KEY)`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err)
	}
	return conn, dsn
}

// TestArmFailsNumberedWrites: the writes on the tables like the pattern
// are numbered from 1 after Arm, each statement once per trigger it
// fires (an upsert twice), reads and writes of other tables not at all;
// those armed fail with the code, their transaction rolled back, the
// others run.
func TestArmFailsNumberedWrites(t *testing.T) {
	ctx := context.Background()
	conn, dsn := schema(t)
	f, err := pgfault.Install(ctx, dsn, "a\\_%")
	require.NoError(t, err)
	defer f.Close(ctx)

	require.NoError(t, f.Arm(ctx, "40001", 2, 4))
	_, err = conn.Exec(ctx, `INSERT INTO a_one VALUES (1, 'x')`) // 1
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT * FROM a_one`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO b_other VALUES (1)`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `UPDATE a_two SET b = '\x03'`) // 2
	assert.True(t, pgfault.Is(err, "40001"), "%v", err)
	assert.False(t, pgfault.Is(err, pgfault.Code))
	assert.EqualError(t, err, "ERROR: pgfault: statement 2, UPDATE on a_two (SQLSTATE 40001)")
	_, err = conn.Exec(ctx, `INSERT INTO a_one VALUES (1, 'y') ON CONFLICT (k) DO UPDATE SET v = excluded.v`) // 3, 4
	assert.True(t, pgfault.Is(err, "40001"), "%v", err)
	_, err = conn.Exec(ctx, `DELETE FROM a_one`) // 5
	require.NoError(t, err)
	ran, err := f.Ran(ctx)
	require.NoError(t, err)
	assert.Equal(t, 5, ran)

	names, err := pgfault.Tables(ctx, conn, "%")
	require.NoError(t, err)
	assert.Equal(t, []string{"a_one", "a_two", "b_other"}, names, "the fault points' own table left out")

	tables, err := pgfault.Dump(ctx, conn, "%")
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"a_one": {}, "a_two": {"[1 [1 2]]"}, "b_other": {"[1]"}}, tables)

	require.NoError(t, f.Arm(ctx, pgfault.Code))
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO a_one VALUES (2, 'z')`)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(ctx))
	ran, err = f.Ran(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, ran, "a write rolled back stays numbered")

	require.NoError(t, f.Arm(ctx, pgfault.Code, 1))
	_, err = conn.Exec(ctx, `INSERT INTO a_one VALUES (2, 'z')`)
	assert.True(t, pgfault.Is(err, pgfault.Code), "%v", err)
	ran, err = f.Ran(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, ran)
}

// TestInstallFindsNoTable: a pattern that no table of the schema is like
// is refused.
func TestInstallFindsNoTable(t *testing.T) {
	_, dsn := schema(t)
	_, err := pgfault.Install(context.Background(), dsn, "c%")
	assert.EqualError(t, err, `pgfault: no table of schema is like "c%"`)
}

// TestInstallRefusesSecondInstall: a schema with fault points already,
// which stay there after Close, gets no second set.
func TestInstallRefusesSecondInstall(t *testing.T) {
	ctx := context.Background()
	_, dsn := schema(t)
	f, err := pgfault.Install(ctx, dsn, "a\\_%")
	require.NoError(t, err)
	require.NoError(t, f.Close(ctx))

	f, err = pgfault.Install(ctx, dsn, "b%")
	assert.Nil(t, f)
	assert.Equal(t, "42P07", pgretry.Code(err), "duplicate_table")
	assert.EqualError(t, err, `pgfault: ERROR: relation "pgfault_seq" already exists (SQLSTATE 42P07)`)
}
