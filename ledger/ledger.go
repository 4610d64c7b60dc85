package ledger

import "math"

// Limits of amounts, batches and timestamps.
const (
	// AmountLimit is the largest amount a transfer may move and the largest
	// value any balance field may reach: 2^63 - 1, so that every SQL engine
	// stores amounts and balances in a signed 64-bit integer.
	AmountLimit uint64 = math.MaxInt64

	// AmountMax is TigerBeetle's AMOUNT_MAX sentinel (2^64 - 1 here). As the
	// amount of a post-pending transfer it posts the full pending amount; as
	// the amount of a balancing transfer it moves as much as the balance
	// allows. Anywhere else it is rejected with AmountMustNotExceedLimit.
	AmountMax uint64 = math.MaxUint64

	// BatchMax is the largest number of events in one CreateAccounts or
	// CreateTransfers call (TigerBeetle's limit).
	BatchMax = 8189

	// TimestampLimit bounds every timestamp the ledger assigns, including the
	// expiry time of a pending transfer (timestamp + timeout): 2^63 - 1
	// nanoseconds, about the year 2262. A call that would need a later
	// timestamp fails with ErrTimestampLimit. The release of an expired
	// pending transfer takes a timestamp too, before the batch's events: one
	// that expires at the limit itself, or so near it that no batch starts
	// between its expiry and the limit with a timestamp left for the release
	// and for each of the batch's events, is released by no expiry, nor by
	// a post or void once expired (their batch fails the same way): its
	// amount stays held.
	TimestampLimit uint64 = math.MaxInt64
)

// Account is a double-entry account. The client chooses ID, UserData*,
// Ledger, Code and Flags; the ledger maintains the four balance fields and
// assigns Timestamp. When creating an account the balance fields and
// Timestamp must be zero.
//
// The balance of an account that is normally in debit (an asset, a
// customer's card) is DebitsPosted - CreditsPosted; one normally in credit
// (a merchant's payable) is CreditsPosted - DebitsPosted. Pending amounts are
// held by pending transfers until they are posted, voided or expire.
type Account struct {
	ID             ID
	DebitsPending  uint64
	DebitsPosted   uint64
	CreditsPending uint64
	CreditsPosted  uint64
	// UserData128, UserData64 and UserData32 are opaque to the ledger, for
	// linking an account to outside records. Immutable.
	UserData128 ID
	UserData64  uint64
	UserData32  uint32
	// Ledger partitions accounts: transfers move value only between
	// accounts of the same ledger. casimpay uses the ISO 4217 numeric code of
	// a currency as its ledger (see Currency.Numeric), and codes above 999
	// for other assets. Must not be zero.
	Ledger uint32
	// Code is a user-defined account type (chart of accounts). Must not be
	// zero.
	Code  uint16
	Flags AccountFlags
	// Timestamp is assigned by the ledger when the account is created:
	// nanoseconds, unique and strictly increasing across all events.
	Timestamp uint64
}

// AccountFlags are an account's option bits.
type AccountFlags uint16

// Account flags, with TigerBeetle's bit values.
const (
	// AccountLinked links the account with the next event of the batch: the
	// chain is created all or nothing.
	AccountLinked AccountFlags = 1 << 0
	// AccountDebitsMustNotExceedCredits rejects any transfer that would make
	// DebitsPending + DebitsPosted exceed CreditsPosted (exceeds_credits).
	AccountDebitsMustNotExceedCredits AccountFlags = 1 << 1
	// AccountCreditsMustNotExceedDebits rejects any transfer that would make
	// CreditsPending + CreditsPosted exceed DebitsPosted (exceeds_debits).
	AccountCreditsMustNotExceedDebits AccountFlags = 1 << 2
	// AccountHistory keeps the account's balances after every change, for
	// GetAccountBalances.
	AccountHistory AccountFlags = 1 << 3
	// Bit 4 is TigerBeetle's "imported", not supported here: it is rejected
	// as a reserved flag. AccountClosed marks a closed account: it takes no
	// new transfers, although pending transfers on it may still be voided or
	// expire. Set it at creation, or through a pending transfer with
	// TransferClosingDebit or TransferClosingCredit (voiding that transfer
	// reopens the account). While closed so, the account's creation retried
	// without the flag answers exists_with_different_flags.
	AccountClosed AccountFlags = 1 << 5

	accountKnownFlags = AccountLinked | AccountDebitsMustNotExceedCredits |
		AccountCreditsMustNotExceedDebits | AccountHistory | AccountClosed
)

// Transfer moves Amount from DebitAccountID to CreditAccountID, both on
// Ledger. Transfers are immutable once created; ID is the idempotency key.
// Timestamp must be zero when creating a transfer; the ledger assigns it.
//
// A single-phase transfer (no pending, post or void flag) posts at once. A
// pending transfer (TransferPending) holds Amount in DebitsPending and
// CreditsPending until a post (TransferPostPendingTransfer) or void
// (TransferVoidPendingTransfer) names it in PendingID, or until Timeout
// seconds after its timestamp pass.
//
// For a post or a void, DebitAccountID, CreditAccountID, Ledger, Code and
// the user data may be zero: the ledger stores the pending transfer's
// values. A post with Amount equal to the pending amount or AmountMax posts
// it all; a smaller Amount (zero included) posts that much and releases the
// rest; a larger one fails with exceeds_pending_transfer_amount. A void's
// Amount must be zero or the pending amount. This is TigerBeetle's rule
// since 0.16: zero no longer means "the full amount".
type Transfer struct {
	ID              ID
	DebitAccountID  ID
	CreditAccountID ID
	// Amount in the ledger's minor units (cents for EUR), at most
	// AmountLimit except for the AmountMax sentinel (see above). Zero is
	// allowed, as in TigerBeetle.
	Amount    uint64
	PendingID ID
	// UserData fields are opaque to the ledger.
	UserData128 ID
	UserData64  uint64
	UserData32  uint32
	// Timeout, only for pending transfers, is how many seconds after its
	// timestamp the hold expires; zero means never.
	Timeout uint32
	Ledger  uint32
	Code    uint16
	Flags   TransferFlags
	// Timestamp is assigned by the ledger: nanoseconds from the ledger's
	// clock, unique and strictly increasing across all events.
	Timestamp uint64
}

// TransferFlags are a transfer's option bits.
type TransferFlags uint16

// Transfer flags, with TigerBeetle's bit values.
const (
	// TransferLinked links the transfer with the next one of the same
	// request: the chain is created all or nothing.
	TransferLinked TransferFlags = 1 << 0
	// TransferPending holds the amount (first phase of a two-phase transfer).
	TransferPending TransferFlags = 1 << 1
	// TransferPostPendingTransfer posts the pending transfer PendingID.
	TransferPostPendingTransfer TransferFlags = 1 << 2
	// TransferVoidPendingTransfer voids the pending transfer PendingID.
	TransferVoidPendingTransfer TransferFlags = 1 << 3
	// TransferBalancingDebit moves at most Amount, less if needed so that the
	// debit account's debits do not exceed its credits.
	TransferBalancingDebit TransferFlags = 1 << 4
	// TransferBalancingCredit moves at most Amount, less if needed so that
	// the credit account's credits do not exceed its debits.
	TransferBalancingCredit TransferFlags = 1 << 5
	// TransferClosingDebit, on a pending transfer, closes the debit account
	// until the transfer is voided or expires; it cannot be posted.
	TransferClosingDebit TransferFlags = 1 << 6
	// TransferClosingCredit, on a pending transfer, closes the credit
	// account until the transfer is voided or expires; it cannot be posted.
	TransferClosingCredit TransferFlags = 1 << 7
	// Bit 8 is TigerBeetle's "imported", not supported here: it is rejected
	// as a reserved flag.

	transferKnownFlags = TransferLinked | TransferPending | TransferPostPendingTransfer |
		TransferVoidPendingTransfer | TransferBalancingDebit | TransferBalancingCredit |
		TransferClosingDebit | TransferClosingCredit
)

// ExpiresAt returns the ledger time at which a pending transfer with a
// timeout expires, or 0 when it never expires (not pending, or no timeout).
// A sum past 2^64 - 1, which only a timestamp far above TimestampLimit
// gives (one the ledger never assigns), is math.MaxUint64: it never wraps
// to an earlier time or to 0.
func (t *Transfer) ExpiresAt() uint64 {
	if t.Flags&TransferPending == 0 || t.Timeout == 0 {
		return 0
	}
	timeout := uint64(t.Timeout) * 1e9
	if t.Timestamp > math.MaxUint64-timeout {
		return math.MaxUint64
	}
	return t.Timestamp + timeout
}

// PendingStatus is the state of a pending transfer.
type PendingStatus uint8

// Pending statuses. The values are stored by the SQL stores: never reorder.
const (
	PendingNone    PendingStatus = iota // not a pending transfer
	PendingActive                       // holding its amount
	PendingPosted                       // posted, fully or partly
	PendingVoided                       // voided
	PendingExpired                      // its timeout passed
)

var pendingStatusNames = [...]string{"none", "pending", "posted", "voided", "expired"}

// String returns "none", "pending", "posted", "voided" or "expired".
func (s PendingStatus) String() string {
	if int(s) < len(pendingStatusNames) {
		return pendingStatusNames[s]
	}
	return "PendingStatus(" + itoa(uint64(s)) + ")"
}

// Pending is the resolution state of one pending transfer.
type Pending struct {
	// ID is the pending transfer's ID.
	ID     ID
	Status PendingStatus
	// ExpiresAt is Transfer.ExpiresAt of the pending transfer (0: never).
	ExpiresAt uint64
	// Timestamp is Transfer.Timestamp of the pending transfer: pending
	// transfers that expire at the same time are released in its order.
	Timestamp uint64
}

// FailedTransfer records a transfer ID that failed with a transient result
// (one that depends on the ledger's state at the time, such as
// exceeds_credits): such an ID stays failed, and a retry gets
// id_already_failed, so a retry can never succeed later by accident.
type FailedTransfer struct {
	ID        ID
	Result    CreateTransferResult
	Timestamp uint64
}

// AccountBalance is the state of an account with AccountHistory after the
// event at Timestamp.
type AccountBalance struct {
	AccountID      ID
	DebitsPending  uint64
	DebitsPosted   uint64
	CreditsPending uint64
	CreditsPosted  uint64
	Timestamp      uint64
}

// AccountFilter selects an account's transfers (GetAccountTransfers) or
// the balances those transfers left (GetAccountBalances).
type AccountFilter struct {
	AccountID ID
	// UserData128, UserData64, UserData32 and Code, when not zero, keep only
	// transfers with that value (balances of transfers with that value).
	UserData128 ID
	UserData64  uint64
	UserData32  uint32
	Code        uint16
	// TimestampMin and TimestampMax bound Timestamp, inclusive; zero means
	// unbounded. Either above TimestampLimit makes the filter invalid, as
	// in TigerBeetle: it selects nothing. To page forward, set TimestampMin
	// to the last timestamp seen plus one (backward with Reversed:
	// TimestampMax to it minus one).
	TimestampMin uint64
	TimestampMax uint64
	// Limit is the most results returned; zero returns nothing, like
	// TigerBeetle, and values above BatchMax are treated as BatchMax.
	Limit int
	Flags AccountFilterFlags
}

// AccountFilterFlags choose the side and the order.
type AccountFilterFlags uint8

// Account filter flags. At least one of AccountFilterDebits and
// AccountFilterCredits must be set, and no bit but these three, or nothing
// is returned (TigerBeetle's padding bits must be zero).
const (
	// AccountFilterDebits includes transfers that debit the account.
	AccountFilterDebits AccountFilterFlags = 1 << 0
	// AccountFilterCredits includes transfers that credit the account.
	AccountFilterCredits AccountFilterFlags = 1 << 1
	// AccountFilterReversed returns newest first.
	AccountFilterReversed AccountFilterFlags = 1 << 2

	accountFilterKnownFlags = AccountFilterDebits | AccountFilterCredits | AccountFilterReversed
)

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
