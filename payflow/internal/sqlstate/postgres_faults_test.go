package sqlstate_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/pgfault"
	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow/internal/sqlstate"
	"github.com/casimpay/casimpay/payflow/postgres"
)

// pgFaults is the faultDB of a new PostgreSQL schema of the payflow
// tables, whose writes pgfault numbers: the one armed fails with code.
// The tests of one schema run one after the other, each on tables that
// fresh empties, rather than on a schema migrated for each.
type pgFaults struct {
	dsn    string
	f      *pgfault.Faults
	conn   *pgx.Conn // dumps and empties the tables
	tables []string  // the payflow tables but payflow_schema, which fresh empties
	code   string
	n      int // the write armed to fail; 0: none
}

// newPGFaults returns the pgFaults of a new schema, migrated, whose
// writes fail with code when armed. It skips t without a PostgreSQL
// server (testenv).
func newPGFaults(t *testing.T, code string) *pgFaults {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.PostgresSchema(t)
	s, err := postgres.Open(ctx, dsn, postgres.Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	f, err := pgfault.Install(ctx, dsn, "payflow%")
	require.NoError(t, err)
	t.Cleanup(func() { f.Close(context.Background()) })
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	tables, err := pgfault.Tables(ctx, conn, "payflow%")
	require.NoError(t, err)
	tables = slices.DeleteFunc(tables, func(name string) bool { return name == "payflow_schema" })
	return &pgFaults{dsn: dsn, f: f, conn: conn, tables: tables, code: code}
}

// fresh returns a function that empties the payflow tables (empty) and
// returns a store on them, the same one each time, opened for t, and pf.
func (pf *pgFaults) fresh(t *testing.T) func() (*sqlstate.Store, faultDB) {
	t.Helper()
	ps, err := postgres.Open(context.Background(), pf.dsn, postgres.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { ps.Close() })
	return func() (*sqlstate.Store, faultDB) {
		pf.empty(t)
		return ps.Store, pf
	}
}

// empty disarms pf and empties the payflow tables (deletes, which pgfault
// numbers, and which are cheaper than TRUNCATE).
func (pf *pgFaults) empty(t *testing.T) {
	t.Helper()
	pf.armAt(t) // the deletes not failed
	_, err := pf.conn.Exec(context.Background(), `DELETE FROM `+strings.Join(pf.tables, `; DELETE FROM `))
	require.NoError(t, err)
}

func (pf *pgFaults) arm(t *testing.T, n int) {
	t.Helper()
	pf.armAt(t, n)
}

// armAt has the writes numbered at, from now, fail with pf.code.
func (pf *pgFaults) armAt(t *testing.T, at ...int) {
	t.Helper()
	if len(at) == 1 && at[0] == 0 {
		at = nil
	}
	require.NoError(t, pf.f.Arm(context.Background(), pf.code, at...))
	pf.n = 0
	if len(at) > 0 {
		pf.n = at[0]
	}
}

// ran returns the number of writes since the last arm.
func (pf *pgFaults) ran(t *testing.T) int {
	t.Helper()
	n, err := pf.f.Ran(context.Background())
	require.NoError(t, err)
	return n
}

func (pf *pgFaults) failure(t *testing.T) string {
	t.Helper()
	if ran := pf.ran(t); pf.n == 0 || ran < pf.n {
		return ""
	}
	return fmt.Sprintf("write %d", pf.n)
}

func (pf *pgFaults) failed(err error) bool { return pgfault.Is(err, pf.code) }

func (pf *pgFaults) dump(t *testing.T) map[string][]string {
	t.Helper()
	tables, err := pgfault.Dump(context.Background(), pf.conn, "payflow%")
	require.NoError(t, err)
	return tables
}

// TestPostgresWriteFaults: a write of the PostgreSQL store one of whose
// write statements fails (in a pipeline, a database/sql transaction or
// alone) fails with that statement's error and leaves every table as it
// was; made again, it does what it does when nothing fails. A refusal
// that a read tells, before any write (a card's advertising secret
// taken), runs none. The reads that follow a committed write (PutAsset's,
// NonceKey's) are not numbered, and so never fail here.
func TestPostgresWriteFaults(t *testing.T) {
	pf := newPGFaults(t, pgfault.Code)
	for _, c := range faultCases {
		t.Run(c.name, func(t *testing.T) {
			writes := checkFaults(t, c, pf.fresh(t))
			if c.name == "PutCard secret taken" {
				assert.Zero(t, writes, "writes run")
			} else {
				assert.Positive(t, writes, "writes run")
			}
		})
	}
}

// TestPostgresPutCardReruns: a PutCard whose transaction the server
// refuses at any of its writes with a serialization failure or a deadlock
// is run again, once, and then does what it does when nothing fails; one
// refused with a serialization failure at that write in every run fails,
// after maxReruns reruns, with the last refusal, leaving the tables as
// they were.
func TestPostgresPutCardReruns(t *testing.T) {
	const runs = 1 + 10 // the first and sqlstate's maxReruns
	ctx := context.Background()
	pf := newPGFaults(t, "40001")
	for _, code := range []string{"40001", "40P01"} {
		for _, c := range faultCases {
			if !slices.Contains([]string{"PutCard", "PutCard enrolled again"}, c.name) {
				continue
			}
			t.Run(code+" "+c.name, func(t *testing.T) {
				pf.code = code
				fresh := pf.fresh(t)
				prepared := func() (*sqlstate.Store, map[string][]string) {
					s, db := fresh()
					if c.setup != nil {
						c.setup(t, s)
					}
					return s, db.dump(t)
				}
				s, _ := prepared()
				pf.armAt(t)
				wantGot, err := c.call(s)(ctx)
				require.NoError(t, err, "without a failure")
				writes, want := pf.ran(t), pf.dump(t)
				require.Positive(t, writes)
				for n := 1; n <= writes; n++ {
					s, _ := prepared()
					pf.armAt(t, n)
					got, err := c.call(s)(ctx)
					assert.NoError(t, err, "write %d refused", n)
					assert.Equal(t, wantGot, got, "write %d refused", n)
					assert.Equal(t, n+writes, pf.ran(t), "write %d refused: writes of the run refused and of the one rerun", n)
					assert.Equal(t, want, pf.dump(t), "write %d refused", n)
					if code != "40001" {
						continue
					}

					s, before := prepared()
					var every []int // the nth write of each run
					for i := 1; i <= runs+1; i++ {
						every = append(every, i*n)
					}
					pf.armAt(t, every...)
					_, err = c.call(s)(ctx)
					assert.True(t, pgfault.Is(err, code), "write %d of every run refused: %v", n, err)
					assert.Equal(t, runs*n, pf.ran(t), "write %d of every run refused: writes of %d runs", n, runs)
					assert.Equal(t, before, pf.dump(t), "write %d of every run refused", n)
				}
			})
		}
	}
}

// TestPostgresDeleteExpiredFaults: a write of DeleteExpired on PostgreSQL
// that fails fails it with its error and the number of rows that the
// batches before it deleted, which stay deleted, and no other; run again,
// it deletes the rest.
func TestPostgresDeleteExpiredFaults(t *testing.T) {
	pf := newPGFaults(t, pgfault.Code)
	pf.checkDeleteExpiredFaults(t, pf.fresh(t))
}

// checkDeleteExpiredFaults is checkDeleteExpiredFaults on the stores that
// fresh returns on pf's schema, whose rows it writes through a pool of
// its own.
func (pf *pgFaults) checkDeleteExpiredFaults(t *testing.T, fresh func() (*sqlstate.Store, faultDB)) {
	plain, err := sql.Open("pgx", pf.dsn)
	require.NoError(t, err)
	defer plain.Close()
	checkDeleteExpiredFaults(t, sqlstate.Postgres, func() (*sqlstate.Store, faultDB, *sql.DB) {
		s, db := fresh()
		return s, db, plain
	})
}
