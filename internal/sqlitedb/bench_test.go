package sqlitedb_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/casimpay/casimpay/internal/cputime"
	"github.com/casimpay/casimpay/internal/sqlitedb"
)

// BenchmarkPurchaseShape is the bare SQLite work of one purchase, the
// least that the SQLite stores can spend on it: the statements of a
// purchase of payflow/sqlite's BenchmarkPurchase (22 writes in 8 write
// transactions, 11 point reads: see BENCHMARKS.md), each replaced by the
// simplest statement of its kind on a table of an integer key and a
// 32-octet value, through database/sql and prepared statements as the
// stores run them, with the stores' pragmas, in /dev/shm where it exists
// (so fsync costs nothing). Each write transaction takes the writer
// connection with BEGIN IMMEDIATE and commits; each read is a transaction
// of a pool connection.
func BenchmarkPurchaseShape(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	if _, err := os.Stat("/dev/shm"); err == nil {
		var err error
		if dir, err = os.MkdirTemp("/dev/shm", "casimpay-bench-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(dir)
	}
	w, r, err := sqlitedb.Open(ctx, filepath.Join(dir, "shape.db"), sqlitedb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if _, err := w.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	prepare := func(db *sql.DB, q string) *sql.Stmt {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		return st
	}
	insert := prepare(w, `INSERT INTO t (k, v) VALUES (?, ?)`)
	update := prepare(w, `UPDATE t SET v = ? WHERE k = ?`)
	read := prepare(r, `SELECT v FROM t WHERE k = ?`)
	// The writes of each transaction: inserts, then updates of rows that
	// exist.
	txs := [...]struct{ inserts, updates int }{
		{3, 0}, {3, 0}, // the logins: nonce, token, counter
		{3, 0}, {3, 0}, // the pairing proofs: nonce, session, counter
		{3, 0}, // the request: nonce, payment, counter
		{0, 2}, // the consent: counter, payment
		{2, 2}, // the ledger: transfers, pending; accounts, state
		{0, 1}, // the capture: payment
	}
	const reads = 11
	val := make([]byte, 32)
	key := int64(0)
	write := func(n, u int) error {
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for range n {
			key++
			binary.BigEndian.PutUint64(val, uint64(key))
			if _, err := tx.StmtContext(ctx, insert).ExecContext(ctx, key, val); err != nil {
				return err
			}
		}
		for i := range u {
			if _, err := tx.StmtContext(ctx, update).ExecContext(ctx, val, key-int64(i)); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	var got []byte
	b.ReportAllocs()
	b.ResetTimer()
	start := cputime.Process()
	for range b.N {
		for _, t := range txs {
			if err := write(t.inserts, t.updates); err != nil {
				b.Fatal(err)
			}
		}
		for i := range int64(reads) {
			if err := read.QueryRowContext(ctx, key-i).Scan(&got); err != nil {
				b.Fatal(err)
			}
		}
	}
	cputime.Report(b, start)
}
