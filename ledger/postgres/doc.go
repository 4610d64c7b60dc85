// Package postgres is the PostgreSQL store of package ledger, on pgx/v5
// (pgxpool). It keeps the same tables as package ledger/sqlite (bytea IDs,
// big-endian; bigint amounts with CHECK (… >= 0)), and several processes
// (several ledger.Ledger instances) may share one database. A balance, an
// amount, a timestamp, an expiry time or the last timestamp read negative,
// the bits of one above ledger.AmountLimit or ledger.TimestampLimit that
// the ledger never writes (a row changed beside the store), fails the read
// with an error wrapping ledger.ErrCorrupt, and so fails an account
// filter that matches such a transfer or balance history row but for its
// time, whatever its range, and every transaction of a batch of
// transfers (CreateTransfers), whose expiry sweep meets first an active
// pending state with such an expiry time (index pending_expiry holds them
// since migration 0004), while accounts are still created, which runs no
// sweep.
//
// Open applies the schema migrations embedded in the binary, in one
// transaction that first takes LOCK TABLE schema_migrations IN EXCLUSIVE
// MODE, so processes that start together apply each migration exactly once.
//
// Update runs one READ COMMITTED transaction per batch of the ledger's
// group-commit batcher:
//
//   - the ledger's first call, Tx.LastTimestamp, locks the single
//     ledger_state row (SELECT … FOR UPDATE): write transactions serialize
//     from there, and every later read sees all committed writes; a
//     transaction whose fn writes without having called it takes the same
//     lock in the round trip of its writes, before the first, so the
//     writes of two transactions never interleave whatever fn reads; a
//     database without that row, which the first migration inserts
//     (damaged, or not a ledger's), fails the transaction, as it fails
//     every read of the last timestamp (ledger.Ledger.Verify's), with an
//     error wrapping ledger.ErrCorrupt;
//   - Tx.LockAccounts locks every account the batch touches with one
//     SELECT … WHERE id = ANY($1) ORDER BY id FOR UPDATE, in one global
//     order, so two batches never deadlock and a hot merchant account costs
//     one row lock per batch, not per transfer;
//   - the writes are queued and sent just before COMMIT as one pipelined
//     pgx.Batch of bulk statements over unnest() arrays: one round trip;
//   - a serialization failure (40001), deadlock (40P01) or unique violation
//     (23505) reruns the transaction after a randomized exponential
//     backoff, at most Options.MaxRetries times; a unique key that the
//     transaction inserts twice (an ID, a transfer's timestamp, a balance
//     history row's account and timestamp) is refused before the writes
//     are sent, with ledger.ErrCorrupt (or the context's error when the
//     context has ended: ledger.Store.Update's order), and is not retried;
//   - a transaction given up, and every View's read-only transaction, is
//     rolled back with a ROLLBACK that waits at most 5 s, even once the
//     context has ended (a connection on which the ROLLBACK is not sent
//     would be closed), so a server that stops answering then does not
//     hold the batch until TCP gives up; the connection of a ROLLBACK that
//     fails or times out is closed, not returned to the pool;
//   - a statement that runs when the context ends is cancelled by the
//     server (a cancel request), and the call returns once the server has
//     answered, so that no statement of a call that failed, COMMIT
//     included, is left on the server to run once a lock it waits for is
//     free.
//
// The store uses no advisory locks, no sequences and no serial keys (every
// key comes from the ledger), so the design stays valid on distributed
// PostgreSQL-compatible engines.
//
//	s, err := postgres.Open(ctx, "postgres://ledger@db.internal/casimpay", postgres.Options{})
//	if err != nil { … }
//	defer s.Close()
//	l, err := ledger.New(s, ledger.Options{})
package postgres
