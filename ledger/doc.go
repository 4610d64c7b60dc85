// Package ledger is a double-entry ledger with TigerBeetle's semantics.
//
// Accounts and transfers carry 128-bit IDs chosen by the client; the ID is
// the idempotency key. Each account belongs to one Ledger (a currency or an
// asset) and keeps four balances: debits and credits, pending and posted.
// A Transfer moves an amount from a debit account to a credit account of
// the same ledger, at once or in two phases (a pending hold that is later
// posted, fully or partly, voided, or expired by its timeout). Transfers
// are immutable. CreateAccounts and CreateTransfers take batches and return
// one named result per event (created, exists, exceeds_credits, …); events
// flagged as linked form chains that succeed or fail as a whole.
//
// The rules run in Ledger, inside one transaction of a Store: the
// in-memory store of package ledger/memory, ledger/sqlite or
// ledger/postgres. Package ledger/ledgertest is the conformance suite every
// store passes.
package ledger
