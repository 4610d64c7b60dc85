// Package ledger is a double-entry ledger with TigerBeetle's semantics.
//
// # Model
//
// Accounts and transfers carry 128-bit IDs (ID) chosen by the client; the
// ID is the idempotency key, so a client stores it before sending and
// retries with the same ID. Each account belongs to one Ledger (a currency
// or an asset) and keeps four balances: debits and credits, pending and
// posted. A Transfer moves an amount from a debit account to a credit
// account of the same ledger, either at once or in two phases: a pending
// transfer holds the amount, and a later post (all of it or part), a void,
// or its timeout resolves the hold exactly once. Transfers are immutable.
//
// CreateAccounts and CreateTransfers take batches of up to BatchMax events
// and return one named result per event (created, exists, exceeds_credits,
// pending_transfer_expired, …: see CreateTransferResult), in TigerBeetle's
// order of precedence. Events flagged as linked form a chain with the next
// event of the same call; a chain is created all or nothing.
//
// casimpay uses the ISO 4217 numeric code of a currency as the Ledger of
// its accounts (978 for EUR) and amounts in the currency's minor unit;
// LookupCurrency, FormatAmount and ParseAmount convert for display, with
// integers only.
//
// # Rules, as in TigerBeetle
//
//   - A failed transfer ID stays failed when the failure was transient
//     (CreateTransferResult.Transient: accounts not found or closed, limits
//     exceeded, pending transfer not found); a retry gets id_already_failed,
//     so one ID never has two outcomes. Validation failures are not
//     recorded: the corrected transfer may reuse the ID.
//   - A post's Amount is the amount to post: AmountMax (or the pending
//     amount) posts everything, less posts that much and releases the rest,
//     zero posts nothing. This is TigerBeetle's rule since 0.16.
//   - Timestamps are assigned by the ledger from Options.Now, unique and
//     strictly increasing over accounts, transfers and expiries, and never
//     go back across restarts or clock steps.
//   - A pending transfer with a timeout expires at its timestamp plus the
//     timeout, in ledger time. Each batch first releases expired holds
//     (up to Options.ExpiryLimit of them, at most BatchMax), in order of
//     expiry, and those that expire at the same time in the order they
//     were created; a post or void of an expired hold fails with
//     pending_transfer_expired (and releases it then, when the batch's
//     sweep had not).
//
// Differences from TigerBeetle: amounts and balances are capped at
// AmountLimit (2^63-1) so that SQL engines store them in a signed 64-bit
// integer, with amount_must_not_exceed_limit for larger amounts and the
// overflows_* results for balances; AmountMax is 2^64-1; the imported flag
// is not supported; the result of a successful event is named created
// (TigerBeetle's clients said ok); the release of an expired pending
// transfer adds a row to the balance history of an account with
// AccountHistory, which GetAccountBalances finds by that pending transfer.
// As in TigerBeetle, exists and id_already_failed are checked right
// after the ID, so that a retry reports the first outcome even when the
// accounts have changed since. A retried account creation, though, is
// compared with the account as it is, flags included: once a closing
// pending transfer has closed the account (AccountClosed), the original
// creation answers exists_with_different_flags (see CreateAccounts).
//
// # Stores
//
// The rules run in Ledger, inside one transaction of a Store: the
// in-memory store of package ledger/memory (the reference model),
// ledger/sqlite or ledger/postgres. The Store contract is narrow and bulk
// (a handful of calls per batch), and package ledger/ledgertest is the
// conformance suite every store passes. Concurrent CreateTransfers calls
// are merged by a group-commit batcher into one store transaction.
//
// Verify recomputes every balance from the immutable transfers and checks
// that debits equal credits in every ledger.
package ledger
