// Package sqlite is the embedded store of package ledger: one SQLite
// database file, on the pure-Go driver modernc.org/sqlite (no cgo).
//
// Open creates or opens the file and applies the schema migrations that are
// embedded in the binary (table schema_migrations records them; reopening
// is a no-op). Every connection runs with
//
//   - journal_mode=WAL: readers never block the writer, and the reverse;
//   - synchronous=FULL: Update returns only after its commit is on disk, so
//     a transfer whose created result came back survives a crash or power
//     loss;
//   - busy_timeout: a process waits for another process's write lock
//     instead of failing at once (Options.BusyTimeout);
//   - foreign_keys=ON, on STRICT tables with CHECK constraints;
//   - 1 KiB pages (for a new file) and a checkpoint every 16 MiB of WAL,
//     which cut the bytes and system calls that each commit costs;
//   - temp_store=MEMORY and a page cache of up to 64 MiB per connection.
//
// The payflow state (package payflow/sqlite) opens its connections to the
// same file with the same settings, so the file is the same whichever of
// the two creates it.
//
// SQLite allows one writer at a time, so the Store keeps one writer
// connection, on which Update runs BEGIN IMMEDIATE transactions, and a pool
// of read-only connections for View, each kept with its BEGIN, COMMIT and
// read statements prepared. Within one process, the Store and the
// payflow state (package payflow/sqlite) on the same file take turns
// through an in-process lock around their write transactions, so that
// neither sleeps in SQLite's busy handler waiting for the other. The
// ledger's group-commit batcher (ledger.Ledger) turns many concurrent
// requests into one transaction, and a batch costs a handful of
// statements: multi-row INSERT and UPDATE … FROM (VALUES …) for the
// writes, WHERE id IN (…) for the reads, all prepared once and cached.
//
// Schema: IDs are 16-byte big-endian BLOBs (byte order is numeric order);
// amounts, balances and timestamps are INTEGER (the ledger keeps them below
// 2^63, and a balance, an amount, a timestamp, an expiry time or the last
// timestamp read negative, the bits of one above ledger.AmountLimit or
// ledger.TimestampLimit that the ledger never writes, fails the read with
// an error wrapping ledger.ErrCorrupt, and so fails an account filter
// that matches such a transfer or balance history row but for its time,
// whatever its range, and every transaction of a batch of transfers
// (CreateTransfers), whose expiry sweep meets first an active pending
// state with such an expiry time (index pending_expiry holds them since
// migration 0004), while accounts are still created, which runs no sweep);
// UserData64 is the int64 with the same bits.
// Transfers are keyed in their table by timestamp, which the ledger
// assigns in increasing order, so new rows append to the end of the
// B-tree; their IDs have a unique index. The single ledger_state row, which
// the first migration inserts, holds the last timestamp: a database without
// it (damaged, or not a ledger's) fails every write transaction, and every
// read of the last timestamp (ledger.Ledger.Verify's), with an error
// wrapping ledger.ErrCorrupt.
//
//	s, err := sqlite.Open(ctx, "/var/lib/casimpay/ledger.db", sqlite.Options{})
//	if err != nil { … }
//	defer s.Close()
//	l, err := ledger.New(s, ledger.Options{})
//	if err != nil { … }
//	defer l.Close()
//	results, err := l.CreateTransfers(ctx, transfers)
package sqlite
