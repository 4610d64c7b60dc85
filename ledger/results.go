package ledger

// Results of CreateTransfers, in descending precedence (TigerBeetle's):
// when several apply, the first one listed is returned. The numeric value
// of each transient result (see Transient) is stored with its failed
// transfer ID and never changes; the values of the other codes are not
// stored.
const (
	TransferCreated CreateTransferResult = iota
	TransferLinkedEventFailed
	TransferLinkedEventChainOpen
	TransferTimestampMustBeZero
	TransferReservedFlag
	TransferIDMustNotBeZero
	TransferIDMustNotBeIntMax
	TransferExistsWithDifferentFlags
	TransferExistsWithDifferentPendingID
	TransferExistsWithDifferentTimeout
	TransferExistsWithDifferentDebitAccountID
	TransferExistsWithDifferentCreditAccountID
	TransferExistsWithDifferentAmount
	TransferExistsWithDifferentUserData128
	TransferExistsWithDifferentUserData64
	TransferExistsWithDifferentUserData32
	TransferExistsWithDifferentLedger
	TransferExistsWithDifferentCode
	TransferExists
	TransferIDAlreadyFailed
	TransferFlagsAreMutuallyExclusive
	TransferDebitAccountIDMustNotBeZero
	TransferDebitAccountIDMustNotBeIntMax
	TransferCreditAccountIDMustNotBeZero
	TransferCreditAccountIDMustNotBeIntMax
	TransferAccountsMustBeDifferent
	TransferPendingIDMustBeZero
	TransferPendingIDMustNotBeZero
	TransferPendingIDMustNotBeIntMax
	TransferPendingIDMustBeDifferent
	TransferTimeoutReservedForPendingTransfer
	TransferClosingTransferMustBePending
	TransferAmountMustNotExceedLimit
	TransferLedgerMustNotBeZero
	TransferCodeMustNotBeZero
	TransferDebitAccountNotFound
	TransferCreditAccountNotFound
	TransferAccountsMustHaveTheSameLedger
	TransferTransferMustHaveTheSameLedgerAsAccounts
	TransferPendingTransferNotFound
	TransferPendingTransferNotPending
	TransferPendingTransferHasDifferentDebitAccountID
	TransferPendingTransferHasDifferentCreditAccountID
	TransferPendingTransferHasDifferentLedger
	TransferPendingTransferHasDifferentCode
	TransferExceedsPendingTransferAmount
	TransferPendingTransferHasDifferentAmount
	TransferPendingTransferAlreadyPosted
	TransferPendingTransferAlreadyVoided
	TransferPendingTransferExpired
	TransferDebitAccountAlreadyClosed
	TransferCreditAccountAlreadyClosed
	TransferOverflowsDebitsPending
	TransferOverflowsCreditsPending
	TransferOverflowsDebitsPosted
	TransferOverflowsCreditsPosted
	TransferOverflowsDebits
	TransferOverflowsCredits
	TransferOverflowsTimeout
	TransferExceedsCredits
	TransferExceedsDebits
)

var createTransferResultNames = [...]string{
	"created",
	"linked_event_failed",
	"linked_event_chain_open",
	"timestamp_must_be_zero",
	"reserved_flag",
	"id_must_not_be_zero",
	"id_must_not_be_int_max",
	"exists_with_different_flags",
	"exists_with_different_pending_id",
	"exists_with_different_timeout",
	"exists_with_different_debit_account_id",
	"exists_with_different_credit_account_id",
	"exists_with_different_amount",
	"exists_with_different_user_data_128",
	"exists_with_different_user_data_64",
	"exists_with_different_user_data_32",
	"exists_with_different_ledger",
	"exists_with_different_code",
	"exists",
	"id_already_failed",
	"flags_are_mutually_exclusive",
	"debit_account_id_must_not_be_zero",
	"debit_account_id_must_not_be_int_max",
	"credit_account_id_must_not_be_zero",
	"credit_account_id_must_not_be_int_max",
	"accounts_must_be_different",
	"pending_id_must_be_zero",
	"pending_id_must_not_be_zero",
	"pending_id_must_not_be_int_max",
	"pending_id_must_be_different",
	"timeout_reserved_for_pending_transfer",
	"closing_transfer_must_be_pending",
	"amount_must_not_exceed_limit",
	"ledger_must_not_be_zero",
	"code_must_not_be_zero",
	"debit_account_not_found",
	"credit_account_not_found",
	"accounts_must_have_the_same_ledger",
	"transfer_must_have_the_same_ledger_as_accounts",
	"pending_transfer_not_found",
	"pending_transfer_not_pending",
	"pending_transfer_has_different_debit_account_id",
	"pending_transfer_has_different_credit_account_id",
	"pending_transfer_has_different_ledger",
	"pending_transfer_has_different_code",
	"exceeds_pending_transfer_amount",
	"pending_transfer_has_different_amount",
	"pending_transfer_already_posted",
	"pending_transfer_already_voided",
	"pending_transfer_expired",
	"debit_account_already_closed",
	"credit_account_already_closed",
	"overflows_debits_pending",
	"overflows_credits_pending",
	"overflows_debits_posted",
	"overflows_credits_posted",
	"overflows_debits",
	"overflows_credits",
	"overflows_timeout",
	"exceeds_credits",
	"exceeds_debits",
}

// Results of CreateAccounts, in descending precedence. The numeric values
// are stable; new codes are only ever appended.
const (
	AccountCreated CreateAccountResult = iota
	AccountLinkedEventFailed
	AccountLinkedEventChainOpen
	AccountTimestampMustBeZero
	AccountReservedFlag
	AccountIDMustNotBeZero
	AccountIDMustNotBeIntMax
	AccountExistsWithDifferentFlags // all the flags as stored, AccountClosed as transfers left it
	AccountExistsWithDifferentUserData128
	AccountExistsWithDifferentUserData64
	AccountExistsWithDifferentUserData32
	AccountExistsWithDifferentLedger
	AccountExistsWithDifferentCode
	AccountExists
	AccountFlagsAreMutuallyExclusive
	AccountDebitsPendingMustBeZero
	AccountDebitsPostedMustBeZero
	AccountCreditsPendingMustBeZero
	AccountCreditsPostedMustBeZero
	AccountLedgerMustNotBeZero
	AccountCodeMustNotBeZero
)

var createAccountResultNames = [...]string{
	"created",
	"linked_event_failed",
	"linked_event_chain_open",
	"timestamp_must_be_zero",
	"reserved_flag",
	"id_must_not_be_zero",
	"id_must_not_be_int_max",
	"exists_with_different_flags",
	"exists_with_different_user_data_128",
	"exists_with_different_user_data_64",
	"exists_with_different_user_data_32",
	"exists_with_different_ledger",
	"exists_with_different_code",
	"exists",
	"flags_are_mutually_exclusive",
	"debits_pending_must_be_zero",
	"debits_posted_must_be_zero",
	"credits_pending_must_be_zero",
	"credits_posted_must_be_zero",
	"ledger_must_not_be_zero",
	"code_must_not_be_zero",
}

// CreateTransferResult is the outcome of one event of CreateTransfers. Its
// String is TigerBeetle's snake_case name. The zero value is TransferCreated.
type CreateTransferResult uint8

// CreateAccountResult is the outcome of one event of CreateAccounts. Its
// String is TigerBeetle's snake_case name. The zero value is AccountCreated.
type CreateAccountResult uint8

// String returns TigerBeetle's name of r, such as "exceeds_credits".
func (r CreateTransferResult) String() string {
	if int(r) < len(createTransferResultNames) {
		return createTransferResultNames[r]
	}
	return "CreateTransferResult(" + itoa(uint64(r)) + ")"
}

// String returns TigerBeetle's name of r, such as "exists".
func (r CreateAccountResult) String() string {
	if int(r) < len(createAccountResultNames) {
		return createAccountResultNames[r]
	}
	return "CreateAccountResult(" + itoa(uint64(r)) + ")"
}

// Transient reports whether r depends on the ledger's state at the time of
// the attempt rather than on the transfer alone, so that the same transfer
// could succeed later. The ledger records a transfer ID that failed with a
// transient result, and any retry of it gets TransferIDAlreadyFailed: a
// client-chosen ID then has one final outcome (TigerBeetle's rule).
func (r CreateTransferResult) Transient() bool {
	switch r {
	case TransferDebitAccountNotFound, TransferCreditAccountNotFound,
		TransferPendingTransferNotFound, TransferExceedsCredits, TransferExceedsDebits,
		TransferDebitAccountAlreadyClosed, TransferCreditAccountAlreadyClosed:
		return true
	}
	return false
}

// ParseCreateTransferResult returns the result named s (String's form).
func ParseCreateTransferResult(s string) (CreateTransferResult, bool) {
	for i, n := range createTransferResultNames {
		if n == s {
			return CreateTransferResult(i), true
		}
	}
	return 0, false
}

// ParseCreateAccountResult returns the result named s (String's form).
func ParseCreateAccountResult(s string) (CreateAccountResult, bool) {
	for i, n := range createAccountResultNames {
		if n == s {
			return CreateAccountResult(i), true
		}
	}
	return 0, false
}
