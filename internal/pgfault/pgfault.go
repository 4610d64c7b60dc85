// Package pgfault is a test aid: fault points in a PostgreSQL schema that
// number the write statements run on its tables and fail the ones a test
// names, as the server fails a statement: with an error of a SQLSTATE code
// the test chooses, which aborts the statement's transaction. Tests of the
// PostgreSQL stores fail each write of a call in turn with it, and check
// that the call fails with that error (or runs its transaction again, for a
// code it retries) and leaves the tables (Dump) as they were. No
// production code imports it.
//
//	f, err := pgfault.Install(ctx, dsn, "payflow%")
//	…
//	err = f.Arm(ctx, pgfault.Code, 3) // the third write from now fails
//
// The fault points are statement-level BEFORE INSERT, UPDATE and DELETE
// triggers, and the numbers come from a sequence, which a rolled back
// transaction does not wind back; an INSERT … ON CONFLICT DO UPDATE fires
// both its INSERT and its UPDATE trigger, and so takes two numbers. Reads
// are not numbered.
package pgfault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Code is the SQLSTATE code of a failure that no store handles: a class of
// its own, which PostgreSQL allows for errors raised by functions.
const Code = "CF001"

// Faults are the fault points of one schema. A Faults is not safe for
// concurrent use: a test arms it and reads it between the calls it
// checks.
type Faults struct {
	conn *pgx.Conn
}

// Install creates, in the schema that dsn's search_path selects, the fault
// points of every table there whose name is LIKE like, and returns them
// unarmed, with a connection of their own, which Close closes. It fails
// when no table there is LIKE like, or the schema has fault points
// already.
func Install(ctx context.Context, dsn, like string) (*Faults, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgfault: %w", err)
	}
	f := &Faults{conn: conn}
	if err := f.install(ctx, like); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("pgfault: %w", err)
	}
	return f, nil
}

func (f *Faults) install(ctx context.Context, like string) error {
	tables, err := Tables(ctx, f.conn, like)
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("no table of schema is like %q", like)
	}
	stmts := []string{
		`CREATE SEQUENCE pgfault_seq`,
		`CREATE TABLE pgfault_plan (at bigint[] NOT NULL, code text NOT NULL)`,
		`INSERT INTO pgfault_plan VALUES ('{}', '` + Code + `')`,
		`CREATE FUNCTION pgfault_point() RETURNS trigger LANGUAGE plpgsql AS $$
		DECLARE
			n bigint := nextval('pgfault_seq');
			p pgfault_plan;
		BEGIN
			SELECT * INTO p FROM pgfault_plan;
			IF n = ANY (p.at) THEN
				RAISE EXCEPTION 'pgfault: statement %, % on %', n, TG_OP, TG_TABLE_NAME USING ERRCODE = p.code;
			END IF;
			RETURN NULL;
		END $$`,
	}
	for _, t := range tables {
		stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER pgfault_point BEFORE INSERT OR UPDATE OR DELETE ON %s
			FOR EACH STATEMENT EXECUTE FUNCTION pgfault_point()`, pgx.Identifier{t}.Sanitize()))
	}
	for _, s := range stmts {
		if _, err := f.conn.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the connection of f; the fault points stay in the schema.
func (f *Faults) Close(ctx context.Context) error { return f.conn.Close(ctx) }

// Arm starts the numbering again, from 1, and has the statements numbered
// at fail with the SQLSTATE code (none for no number).
func (f *Faults) Arm(ctx context.Context, code string, at ...int) error {
	list := make([]int64, len(at))
	for i, n := range at {
		list[i] = int64(n)
	}
	if _, err := f.conn.Exec(ctx, `UPDATE pgfault_plan SET at = $1, code = $2`, list, code); err != nil {
		return fmt.Errorf("pgfault: arm: %w", err)
	}
	if _, err := f.conn.Exec(ctx, `SELECT setval('pgfault_seq', 1, false)`); err != nil {
		return fmt.Errorf("pgfault: arm: %w", err)
	}
	return nil
}

// Ran returns how many statements were numbered since Arm, those failed
// included.
func (f *Faults) Ran(ctx context.Context) (int, error) {
	var n int
	if err := f.conn.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pgfault_seq`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgfault: %w", err)
	}
	return n, nil
}

// Tables returns the names of the tables of the schema that conn's
// search_path selects whose names are LIKE like, sorted, the fault
// points' own left out.
func Tables(ctx context.Context, conn *pgx.Conn, like string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables
		WHERE schemaname = current_schema() AND tablename LIKE $1 AND tablename NOT LIKE 'pgfault\_%' ORDER BY tablename`, like)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Dump returns every row of the tables of the schema that conn's
// search_path selects whose names are LIKE like (the fault points' own
// left out), each row formatted with %v and each table's sorted, under
// the table's name.
func Dump(ctx context.Context, conn *pgx.Conn, like string) (map[string][]string, error) {
	tables, err := Tables(ctx, conn, like)
	if err != nil {
		return nil, fmt.Errorf("pgfault: dump: %w", err)
	}
	out := make(map[string][]string, len(tables))
	for _, t := range tables {
		rows, err := conn.Query(ctx, `SELECT * FROM `+pgx.Identifier{t}.Sanitize())
		if err != nil {
			return nil, fmt.Errorf("pgfault: dump %s: %w", t, err)
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			vals, err := r.Values()
			return fmt.Sprintf("%v", vals), err
		})
		if err != nil {
			return nil, fmt.Errorf("pgfault: dump %s: %w", t, err)
		}
		slices.Sort(list)
		out[t] = append([]string{}, list...)
	}
	return out, nil
}

// Is reports whether err is, or wraps, the failure of a fault point armed
// with code.
func Is(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code && strings.HasPrefix(pgErr.Message, "pgfault: statement ")
}
