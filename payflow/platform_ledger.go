package payflow

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/casimpay/casimpay/ledger"
)

// Account codes (ledger.Account.Code): the platform's chart of accounts.
const (
	AccountWallet   uint16 = 1 // a card's balance in one currency or asset
	AccountMerchant uint16 = 2 // a merchant's balance in one currency or asset
	AccountFunding  uint16 = 3 // money from outside (a bank), one per currency
	AccountIssuer   uint16 = 4 // the issuer of an asset, one per asset
)

// Transfer codes (ledger.Transfer.Code).
const (
	TransferPayment uint16 = 1 // a payment leg: hold, post or void
	TransferRefund  uint16 = 2 // a refund, merchant to payer
	TransferFunding uint16 = 3 // funding source to a wallet
	TransferIssue   uint16 = 4 // asset issuer to a merchant
)

// Kinds of derived transfer IDs.
const (
	kindHold   byte = 1
	kindPost   byte = 2
	kindVoid   byte = 3
	kindRefund byte = 4
	kindFund   byte = 5
	kindIssue  byte = 6
	kindLimit  byte = 7
)

// TransferID returns the ledger transfer ID that the platform derives for
// one leg of an operation on the object id (a payment request, a refund, a
// funding or an issue):
//
//	SHA-256("CASIM-LEDGER" || id || attempt uint32 BE || leg || kind)[:16]
//
// with kind 1 hold, 2 post, 3 void, 4 refund, 5 funding, 6 issue, and leg 0
// for the money and 1 + i for asset leg i. Kind 7, with attempt and leg 0,
// names the limit mark of the transfer whose ID is taken as the object:
// an ID the ledger keeps failed once that transfer was refused for an
// overflow, and never a transfer. A retry derives the same IDs,
// so the ledger answers "exists" instead of moving money twice.
func TransferID(id ID, attempt uint32, leg, kind byte) ledger.ID {
	h := sha256.New()
	h.Write([]byte("CASIM-LEDGER"))
	h.Write(id[:])
	var b [6]byte
	binary.BigEndian.PutUint32(b[:4], attempt)
	b[4], b[5] = leg, kind
	h.Write(b[:])
	var out ledger.ID
	copy(out[:], h.Sum(nil))
	return out
}

// refundTransferID returns the ID of the one ledger transfer of the refund
// id (kind 4, attempt and leg 0), which its receipt names alone.
func refundTransferID(id ID) ledger.ID { return TransferID(id, 0, 0, kindRefund) }

// AccountID returns the ledger account ID of an owner (card ID, merchant
// ID, or "" for the platform's funding and issuer accounts) with an
// account code in a ledger:
//
//	SHA-256("CASIM-ACCOUNT" || code uint16 BE || ledger uint32 BE || owner)[:16]
func AccountID(code uint16, ledgerCode uint32, owner string) ledger.ID {
	h := sha256.New()
	h.Write([]byte("CASIM-ACCOUNT"))
	var b [6]byte
	binary.BigEndian.PutUint16(b[:2], code)
	binary.BigEndian.PutUint32(b[2:], ledgerCode)
	h.Write(b[:])
	h.Write([]byte(owner))
	var out ledger.ID
	copy(out[:], h.Sum(nil))
	return out
}

// unitLedger returns the ledger code of a currency (its ISO 4217 numeric
// code) or of a registered asset.
func (p *Platform) unitLedger(ctx context.Context, unit string) (uint32, error) {
	if c, ok := ledger.LookupCurrency(unit); ok {
		return c.Numeric, nil
	}
	a, err := p.store.Asset(ctx, unit)
	if errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("%w: %q is neither a currency nor a registered asset", ErrInvalid, unit)
	}
	if err != nil {
		return 0, err
	}
	return a.Ledger, nil
}

// account returns the definition of an account of the platform's chart.
func account(code uint16, ledgerCode uint32, owner string) ledger.Account {
	a := ledger.Account{ID: AccountID(code, ledgerCode, owner), Ledger: ledgerCode, Code: code}
	if code == AccountWallet || code == AccountMerchant {
		a.Flags = ledger.AccountDebitsMustNotExceedCredits
	}
	return a
}

// createAccounts creates accounts, accepting those that exist already. An
// account whose ID the ledger holds closed (a closing transfer sets
// AccountClosed) or with other flags, user data, ledger or code is
// ErrConflict, naming the account and the ledger's result: the ID is
// taken by other content, which the caller cannot use. One that the
// ledger holds closed but otherwise as given is a closedError (which a
// hold goes on with: the ledger refuses its transfers). The other
// accounts are created all the same (none is linked). When all are
// created or exist as given, they are kept as the platform's own
// (ownAccounts).
func (p *Platform) createAccounts(ctx context.Context, accounts ...ledger.Account) error {
	res, err := p.ledger.CreateAccounts(ctx, accounts)
	if err != nil {
		return ledgerUnavailable(err)
	}
	for i, r := range res {
		a := &accounts[i]
		switch r {
		case ledger.AccountCreated, ledger.AccountExists:
		case ledger.AccountExistsWithDifferentFlags, ledger.AccountExistsWithDifferentUserData128,
			ledger.AccountExistsWithDifferentUserData64, ledger.AccountExistsWithDifferentUserData32,
			ledger.AccountExistsWithDifferentLedger, ledger.AccountExistsWithDifferentCode:
			if r == ledger.AccountExistsWithDifferentFlags {
				closed, err := p.closedAs(ctx, *a)
				if err != nil {
					return err
				}
				if closed {
					return fmt.Errorf("%w: %w", ErrConflict, accountClosed(*a))
				}
			}
			return accountTaken(*a, r)
		default:
			return fmt.Errorf("%w: ledger account %v: %v", ErrInternal, a.ID, r)
		}
	}
	p.own.add(accounts...)
	return nil
}

// closedAs reports whether the ledger holds the account a closed and
// otherwise as given: a closing transfer closed it since it was created,
// and the ledger, which compares flags first, answers a retry of its
// creation exists_with_different_flags.
func (p *Platform) closedAs(ctx context.Context, a ledger.Account) (bool, error) {
	found, err := p.ledger.LookupAccounts(ctx, []ledger.ID{a.ID})
	if err != nil {
		return false, ledgerUnavailable(err)
	}
	if len(found) == 0 {
		return false, nil
	}
	closed, err := heldAsOwn(a, found[0])
	return closed && err == nil, nil
}

// heldAsOwn checks got, the account that the ledger holds under the ID of
// the platform's account want: got is want, and closed reports whether a
// closing transfer closed it since, or got has other flags, user data,
// ledger or code, which is ErrConflict naming want and the ledger's
// answer to its creation (accountTaken, ledger.ExistingAccount).
func heldAsOwn(want, got ledger.Account) (closed bool, err error) {
	open := got
	open.Flags &^= ledger.AccountClosed
	if ledger.ExistingAccount(&want, &open) != ledger.AccountExists {
		return false, accountTaken(want, ledger.ExistingAccount(&want, &got))
	}
	return got.Flags&ledger.AccountClosed != 0, nil
}

// accountTaken is the ErrConflict of the account a, whose ID the ledger
// holds closed or with other fields, the ledger's answer to its creation
// being r.
func accountTaken(a ledger.Account, r ledger.CreateAccountResult) error {
	return fmt.Errorf("%w: ledger: account %v (code %d, ledger %d) exists closed or with other fields: %v",
		ErrConflict, a.ID, a.Code, a.Ledger, r)
}

// checkOpen checks, before a transfer into or out of accounts, that the
// ledger holds each of them open: it refuses a transfer into or out of an
// account that does not exist or is closed, and keeps that transfer's ID
// failed, so that the transfer could not be made once the account is
// opened or reopened. An account it holds closed is ErrConflict (a
// closedError); accounts may repeat. With asOwn set, an account that the
// ledger does not hold is ErrNotFound, and one that it holds with other
// flags, user data, ledger or code than the platform's account is
// ErrConflict too (accountTaken), as createAccounts answers it. post
// leaves it unset, its accounts those of holds that the ledger made: an
// account that the ledger does not hold, wherever it is among accounts,
// ends the look, nil, whatever others are closed, as the ledger holds no
// hold over it (a ledger restored from an older copy lost both) and
// refuses the posts as those of a hold it lost, keeping their IDs failed:
// reopening a closed account would capture nothing.
func (p *Platform) checkOpen(ctx context.Context, asOwn bool, accounts ...ledger.Account) error {
	ids := make([]ledger.ID, len(accounts))
	for i := range accounts {
		ids[i] = accounts[i].ID
	}
	found, err := p.ledger.LookupAccounts(ctx, ids)
	if err != nil {
		return ledgerUnavailable(err)
	}
	index := func(a ledger.Account) int {
		return slices.IndexFunc(found, func(g ledger.Account) bool { return g.ID == a.ID })
	}
	if !asOwn && slices.ContainsFunc(accounts, func(a ledger.Account) bool { return index(a) < 0 }) {
		return nil
	}
	for _, a := range accounts {
		i := index(a)
		if i < 0 {
			return fmt.Errorf("%w: ledger: no account %v (code %d, ledger %d): open it first", ErrNotFound, a.ID, a.Code, a.Ledger)
		}
		closed := found[i].Flags&ledger.AccountClosed != 0
		if asOwn {
			if closed, err = heldAsOwn(a, found[i]); err != nil {
				return err
			}
		}
		if closed {
			return fmt.Errorf("%w: %w", ErrConflict, accountClosed(a))
		}
	}
	return nil
}

// unlessMade returns err, the error of a look at the accounts of the
// transfers ts before they are made (checkOpen, createAccounts), or nil
// when err is a closedError and the ledger holds a transfer of ts already
// (ts is one transfer, or a linked chain whose transfers exist all or
// none): the ledger answers a transfer it made exists before it looks at
// its accounts, so a retry after a lost reply or record, an account closed
// since, goes on to find the transfers made rather than be refused.
func (p *Platform) unlessMade(ctx context.Context, err error, ts []ledger.Transfer) error {
	if asClosed(err) == nil {
		return err
	}
	found, lerr := p.lookupTransfers(ctx, ts)
	if lerr != nil {
		return lerr
	}
	if len(found) > 0 {
		return nil
	}
	return err
}

// lookupTransfers returns the transfers of ts that the ledger holds, as
// it holds them.
func (p *Platform) lookupTransfers(ctx context.Context, ts []ledger.Transfer) ([]ledger.Transfer, error) {
	ids := make([]ledger.ID, len(ts))
	for i := range ts {
		ids[i] = ts[i].ID
	}
	found, err := p.ledger.LookupTransfers(ctx, ids)
	if err != nil {
		return nil, ledgerUnavailable(err)
	}
	return found, nil
}

// closedError reports an account that the ledger holds closed: a closing
// pending transfer (TigerBeetle's closing_debit or closing_credit) closed
// it, and until that transfer is voided or expires the ledger refuses
// every transfer into or out of it but a void, and keeps the refused
// transfer's ID failed, as for exceeds_credits. The sentinel that goes
// with it depends on the call: ErrFunds for the refusal of a hold or a
// refund (ledgerError), ErrConflict for an account or a capture.
type closedError struct{ msg string }

func (e *closedError) Error() string { return e.msg }

// accountClosed is the closedError of a, found closed.
func accountClosed(a ledger.Account) *closedError {
	return &closedError{fmt.Sprintf("ledger: account %v (code %d, ledger %d) is closed", a.ID, a.Code, a.Ledger)}
}

// transferClosed is the closedError of the ledger's refusal r
// (debit_account_already_closed or credit_account_already_closed) of t,
// naming the account when t does (a post or a void names none).
func transferClosed(t *ledger.Transfer, r ledger.CreateTransferResult) *closedError {
	id := t.CreditAccountID
	if r == ledger.TransferDebitAccountAlreadyClosed {
		id = t.DebitAccountID
	}
	if id.IsZero() {
		return &closedError{fmt.Sprintf("ledger: %v", r)}
	}
	return &closedError{fmt.Sprintf("ledger: account %v is closed: %v", id, r)}
}

// asClosed returns the closedError that err wraps, or nil.
func asClosed(err error) *closedError {
	ce, _ := errors.AsType[*closedError](err)
	return ce
}

// errRefusedBefore marks a transfer whose ID the ledger refused at an
// earlier attempt (id_already_failed): its outcome is final.
var errRefusedBefore = errors.New("refused at an earlier attempt")

// noAccount is the debit account of the transfers that spend refused IDs
// and limit marks: an ID in the namespace of transfer IDs, which no
// account is given.
var noAccount = TransferID(ID{}, 0, 0, 0)

// limitMark returns the ID that the ledger keeps as failed once the
// transfer first, or the chain it begins, was refused for overflowing an
// account's totals (spendRefused): the ledger keeps no reason with a
// failed ID, and this one tells that refusal from one for want of funds.
func limitMark(first ledger.ID) ledger.ID { return TransferID(ID(first), 0, 0, kindLimit) }

// spending returns the transfer under id that the ledger refuses with
// debit_account_not_found, and then keeps as failed: it debits noAccount.
func spending(id ledger.ID, first ledger.Transfer) ledger.Transfer {
	return ledger.Transfer{
		ID: id, DebitAccountID: noAccount, CreditAccountID: first.CreditAccountID, Amount: 1,
		Ledger: first.Ledger, Code: first.Code,
	}
}

// refusedBefore turns errRefusedBefore, met by the transfer first or the
// chain it begins, into the refusal it stands for: a crash, a lost reply
// or a failed state update came between the ledger's refusal of a hold or
// a refund and the record of it. The ledger refuses those transfers only
// when the payer's or the merchant's balance does not cover them (ErrFunds)
// or an account is closed (ErrFunds too: see closedError), or an
// account's totals would pass its limit (ErrLimit), and it keeps the
// IDs refused for the first reason by itself and those of the second
// after spendRefused, which spends first's limit mark before. So the
// limit mark tells which: refusedBefore asks the ledger with a transfer
// under it that fails validation (its two accounts are the same), which
// the ledger answers id_already_failed for a spent ID and otherwise
// refuses without keeping it. A limit mark that the ledger holds as a
// transfer (markTaken) tells no reason: the refusal stands, ErrConflict.
func (p *Platform) refusedBefore(ctx context.Context, first ledger.Transfer, err error) error {
	if !errors.Is(err, errRefusedBefore) {
		return err
	}
	probe := spending(limitMark(first.ID), first)
	probe.CreditAccountID = noAccount
	res, lerr := p.ledger.CreateTransfers(ctx, []ledger.Transfer{probe})
	if lerr != nil {
		return ledgerUnavailable(lerr)
	}
	switch r := res[0]; {
	case r == ledger.TransferIDAlreadyFailed:
		return fmt.Errorf("%w: %v (an account's totals would have passed the ledger's limit)", ErrLimit, err)
	case r == ledger.TransferAccountsMustBeDifferent:
		return fmt.Errorf("%w: %v", ErrFunds, err)
	case r == ledger.TransferExists, existsOtherwise(r):
		return markTaken(first.ID, r)
	}
	return fmt.Errorf("%w: ledger: reading a limit mark: %v", ErrInternal, res[0])
}

// markTaken is the ErrConflict of the transfer id, or the chain it
// begins, refused, whose limit mark the ledger holds as a transfer that
// the platform did not make (another client of the ledger wrote it under
// the platform's ID), its answer being r: the mark cannot be spent, and
// tells no reason. The refusal stands all the same (the ledger keeps id
// failed), and is taken as the refusal of a transfer whose own ID is so
// taken: a refused hold chain (errIDTaken), a failed refund
// (errRefundTaken).
func markTaken(id ledger.ID, r ledger.CreateTransferResult) error {
	return fmt.Errorf("%w: ledger: the limit mark of transfer %v exists as a transfer that the platform did not make (%v): the refusal's reason is not kept",
		ErrConflict, id, r)
}

// errMade reports that the transfer whose ID spendRefused was to spend
// exists: another process created it.
var errMade = errors.New("the transfer exists")

// createRefusalKept runs create, which creates first or a chain that
// first begins, and turns a lost refusal into the refusal it stands for
// (refusedBefore). When the ledger refuses for an overflow now, it spends
// first's ID (spendRefused) so that the refusal is final, and when the
// transfers were created meanwhile, it runs create again to take them.
// An overflow refused before has its IDs spent already. A limit mark
// that the ledger holds as a transfer makes the refusal ErrConflict
// (markTaken), now or at a later try.
func (p *Platform) createRefusalKept(ctx context.Context, first ledger.Transfer, create func() error) error {
	err := create()
	if !errors.Is(err, ErrLimit) {
		return p.refusedBefore(ctx, first, err)
	}
	switch serr := p.spendRefused(ctx, first); {
	case errors.Is(serr, errMade): // created meanwhile: take it
		return p.refusedBefore(ctx, first, create())
	case serr != nil:
		return serr
	}
	return err
}

// spendRefused makes the ledger keep t's ID as failed after t, or the
// chain it begins, was refused for overflowing an account's totals
// (ErrLimit). The ledger keeps the IDs of transfers refused for a state
// that can change (such as exceeds_credits) but not of these, and the
// overflow may clear when a hold on the account is released: a process
// that still holds an older copy of the request or refund could then
// create the transfers after the refusal was recorded. A transfer under
// t's ID from an account that does not exist is refused with
// debit_account_not_found, which the ledger keeps. In the same batch, and
// before it, t's limit mark is spent the same way, so that whoever meets
// t's ID failed finds the mark spent and knows the reason
// (refusedBefore). It returns errMade when t's ID exists: the transfer
// was created meanwhile. A limit mark that the ledger holds as a transfer
// is ErrConflict (markTaken), t's ID spent all the same.
func (p *Platform) spendRefused(ctx context.Context, t ledger.Transfer) error {
	res, err := p.ledger.CreateTransfers(ctx, []ledger.Transfer{spending(limitMark(t.ID), t), spending(t.ID, t)})
	if err != nil {
		return ledgerUnavailable(err)
	}
	mark := res[0]
	taken := mark == ledger.TransferExists || existsOtherwise(mark)
	if mark != ledger.TransferDebitAccountNotFound && mark != ledger.TransferIDAlreadyFailed && !taken {
		return fmt.Errorf("%w: ledger: spending a limit mark: %v", ErrInternal, mark)
	}
	switch r := res[1]; {
	case taken && (r == ledger.TransferDebitAccountNotFound || r == ledger.TransferIDAlreadyFailed):
		return markTaken(t.ID, mark)
	case r == ledger.TransferDebitAccountNotFound, r == ledger.TransferIDAlreadyFailed:
		return nil
	case r == ledger.TransferExists, existsOtherwise(r):
		return errMade
	default:
		return fmt.Errorf("%w: ledger: spending a refused ID: %v", ErrInternal, r)
	}
}

// createChain creates ts as one linked chain, all or nothing, and accepts a
// chain that an earlier call already created: a retry after a crash or a
// lost reply gets "exists" for the first transfer the earlier call created,
// which fails the rest of the chain, so createChain looks the transfers up and
// submits again, linked, only those that are missing. Transfers are
// immutable, exists means the same fields, and a transfer found by the
// lookup must have the fields asked for (sameTransfer; the rest of a
// chain behind one that exists is never compared by the ledger), else
// createChain submits nothing more and returns ErrConflict; so the ledger
// ends with exactly the chain asked for. The Linked flags of ts are set
// here.
func (p *Platform) createChain(ctx context.Context, ts []ledger.Transfer) error {
	for len(ts) > 0 {
		for i := range ts {
			ts[i].Flags |= ledger.TransferLinked
		}
		ts[len(ts)-1].Flags &^= ledger.TransferLinked
		res, err := p.ledger.CreateTransfers(ctx, ts)
		err = ledgerError(ts, res, err)
		if err == nil || len(ts) == 1 || !slices.Contains(res, ledger.TransferExists) {
			return err
		}
		found, lerr := p.lookupTransfers(ctx, ts)
		if lerr != nil {
			return lerr
		}
		if len(found) == 0 {
			return err
		}
		want := make(map[ledger.ID]*ledger.Transfer, len(ts))
		for i := range ts {
			want[ts[i].ID] = &ts[i]
		}
		have := make(map[ledger.ID]bool, len(found))
		for _, t := range found {
			if w, ok := want[t.ID]; !ok || !sameTransfer(*w, t) {
				return fmt.Errorf("%w: ledger: transfer %v exists with other fields", ErrConflict, t.ID)
			}
			have[t.ID] = true
		}
		ts = slices.DeleteFunc(slices.Clone(ts), func(t ledger.Transfer) bool { return have[t.ID] })
	}
	return nil
}

// sameTransfer reports whether got, a transfer the ledger holds, is want:
// the same accounts, amount, user data, ledger, code, pending ID, timeout
// and flags but TransferLinked, which depends on the transfer's place in
// the chain that created it. Accounts and user data are compared where
// want sets them: a post or void leaves them to the ledger, which copies
// them from the pending transfer.
func sameTransfer(want, got ledger.Transfer) bool {
	set := func(w, g ledger.ID) bool { return w.IsZero() || w == g }
	return set(want.DebitAccountID, got.DebitAccountID) && set(want.CreditAccountID, got.CreditAccountID) &&
		set(want.UserData128, got.UserData128) && want.Amount == got.Amount && want.Ledger == got.Ledger &&
		want.Code == got.Code && want.PendingID == got.PendingID && want.Timeout == got.Timeout &&
		want.Flags&^ledger.TransferLinked == got.Flags&^ledger.TransferLinked
}

// existsOtherwise reports whether r says that a transfer with the same ID
// but other fields exists.
func existsOtherwise(r ledger.CreateTransferResult) bool {
	switch r {
	case ledger.TransferExistsWithDifferentFlags, ledger.TransferExistsWithDifferentPendingID,
		ledger.TransferExistsWithDifferentTimeout, ledger.TransferExistsWithDifferentDebitAccountID,
		ledger.TransferExistsWithDifferentCreditAccountID, ledger.TransferExistsWithDifferentAmount,
		ledger.TransferExistsWithDifferentUserData128, ledger.TransferExistsWithDifferentUserData64,
		ledger.TransferExistsWithDifferentUserData32, ledger.TransferExistsWithDifferentLedger,
		ledger.TransferExistsWithDifferentCode:
		return true
	}
	return false
}

// transfer creates t alone, and returns ledgerError's error.
func (p *Platform) transfer(ctx context.Context, t ledger.Transfer) error {
	ts := []ledger.Transfer{t}
	res, err := p.ledger.CreateTransfers(ctx, ts)
	return ledgerError(ts, res, err)
}

// ledgerUnavailable is the error of a call of the ledger that failed,
// err its store's (a ledger out of reach, a reply lost): ErrUnavailable,
// with err as its cause, its text and what errors.Is and errors.As find
// in it, but payflow's sentinels and *Error: a store whose error wraps one
// of them (as one that reuses payflow's errors might) tells no verdict of
// the ledger by it, for the ledger may have made the transfers whose
// reply was lost, and a refusal or an expiry read from it would record
// nothing moved and let the money move again.
func ledgerUnavailable(err error) error {
	return fmt.Errorf("%w: ledger: %w", ErrUnavailable, ledgerCause{err})
}

// ledgerCause is the cause of a ledgerUnavailable error: err, whose
// payflow sentinels and *Error it hides.
type ledgerCause struct{ err error }

func (c ledgerCause) Error() string { return c.err.Error() }

// Is reports whether err matches target, when target is none of payflow's
// sentinels nor an *Error.
func (c ledgerCause) Is(target error) bool {
	if _, ok := target.(*Error); ok || isSentinel(target) {
		return false
	}
	return errors.Is(c.err, target)
}

// As finds target in err as errors.As does, but an *Error.
func (c ledgerCause) As(target any) bool {
	if _, ok := target.(**Error); ok {
		return false
	}
	return errors.As(c.err, target)
}

// ledgerError is the error of a CreateTransfers call of ts: nil when every
// event was created or existed already, else the first real failure of
// the batch (linked_event_failed only follows another). The ledger's
// refusals for a state of an account, whose IDs it keeps failed, are
// ErrFunds: the balance does not cover the transfer (exceeds_credits),
// the debit or the credit account does not exist
// (debit_account_not_found, credit_account_not_found), or it is closed
// (a closedError).
func ledgerError(ts []ledger.Transfer, res []ledger.CreateTransferResult, err error) error {
	if err != nil {
		return ledgerUnavailable(err)
	}
	for i, r := range res {
		switch r {
		case ledger.TransferCreated, ledger.TransferExists, ledger.TransferLinkedEventFailed:
			continue
		case ledger.TransferExceedsCredits, ledger.TransferDebitAccountNotFound, ledger.TransferCreditAccountNotFound:
			return fmt.Errorf("%w: ledger: %v", ErrFunds, r)
		case ledger.TransferDebitAccountAlreadyClosed, ledger.TransferCreditAccountAlreadyClosed:
			return fmt.Errorf("%w: %w", ErrFunds, transferClosed(&ts[i], r))
		case ledger.TransferPendingTransferExpired:
			return fmt.Errorf("%w: ledger: %v", ErrExpired, r)
		case ledger.TransferOverflowsDebitsPending, ledger.TransferOverflowsCreditsPending,
			ledger.TransferOverflowsDebitsPosted, ledger.TransferOverflowsCreditsPosted,
			ledger.TransferOverflowsDebits, ledger.TransferOverflowsCredits:
			// An account's totals would pass the ledger's limit of 2^63-1.
			return fmt.Errorf("%w: ledger: %v", ErrLimit, r)
		case ledger.TransferIDAlreadyFailed:
			return fmt.Errorf("%w: ledger: %v: %w", ErrInternal, r, errRefusedBefore)
		}
		if existsOtherwise(r) { // the ID was used with other content
			return fmt.Errorf("%w: ledger: %v", ErrConflict, r)
		}
		return fmt.Errorf("%w: ledger: %v", ErrInternal, r)
	}
	for _, r := range res {
		if r == ledger.TransferLinkedEventFailed {
			return fmt.Errorf("%w: ledger: linked chain failed", ErrInternal)
		}
	}
	return nil
}
