package payflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/pki/record"
)

// leg is one ledger movement of a payment request: index 0 is the money
// (payer to merchant), 1 + i is asset leg i (merchant to payer).
type leg struct {
	index         byte
	ledger        uint32
	debit, credit ledger.ID
	amount        uint64
}

// legCount returns how many ledger movements (legs) a payment request of
// amount with assets asset legs has: the money when amount is not zero,
// and each asset leg. Its settlement posts one ledger transfer for each,
// whatever the capture (a part of the amount, for a merchant that
// captures manually, posts the money leg all the same) and the attempt,
// and its payment receipt carries their IDs, as the phones check.
func legCount(amount uint64, assets int) int {
	if amount > 0 {
		assets++
	}
	return assets
}

// legs returns the ledger movements of r, the money first, legCount of
// them.
func (p *Platform) legs(ctx context.Context, r *PaymentRecord) ([]leg, error) {
	cur, ok := ledger.LookupCurrency(r.Currency)
	if !ok {
		return nil, fmt.Errorf("%w: unknown currency %q", ErrInternal, r.Currency)
	}
	var out []leg
	if r.Amount > 0 {
		out = append(out, leg{0, cur.Numeric, AccountID(AccountWallet, cur.Numeric, r.PayerCardID), AccountID(AccountMerchant, cur.Numeric, r.MerchantID), r.Amount})
	}
	for i, l := range r.Legs {
		a, err := p.store.Asset(ctx, l.Asset)
		if err != nil {
			return nil, err
		}
		out = append(out, leg{byte(1 + i), a.Ledger, AccountID(AccountMerchant, a.Ledger, r.MerchantID), AccountID(AccountWallet, a.Ledger, r.PayerCardID), l.Amount})
	}
	return out, nil
}

// errAccountTaken marks the ErrConflict of an account of the legs of a
// request whose ID the ledger holds with other fields (checkLegAccounts):
// no hold of the request is ever sent, which drive records as a refused
// hold.
var errAccountTaken = errors.New("an account of the legs, which the platform cannot use")

// checkLegAccounts checks the accounts of the legs of r, the payer's
// wallet and the merchant's account in each leg's ledger, which its holds
// debit and credit, in one look-up, and creates the payer's wallets in
// the assets of the legs that the ledger does not hold. Only the accounts
// not found to be the platform's own before (ownAccounts, which keeps
// those that pass here or that createAccounts created or found) are
// looked up, and when there are none, the ledger is not asked. An account
// whose ID the ledger holds with other fields (flags, user data, ledger,
// code) is ErrConflict with errAccountTaken, before any account is
// created: the ledger would move money or assets out of an account that
// may go below zero, or refuse the hold chain for good. One that it holds
// closed, but otherwise the platform's, is left to the ledger, which
// refuses the hold chain as it does for any closed account of the legs
// (ErrFunds, the hold's ID kept failed), and so is an account of the legs
// that it does not hold but a payer's asset wallet (the payer's wallet in
// the currency, never opened, or the merchant's account in an asset it
// was never issued: debit_account_not_found, ErrFunds; the merchant's
// account in the currency, which its enrolment creates, missing from a
// ledger restored from an older copy: credit_account_not_found, ErrFunds
// too). Approve checks them before it accepts the consent, so that such
// an account refuses the consent while the request is pending; hold
// checks them for a settlement driven again (a retried consent,
// RecoverSweep).
func (p *Platform) checkLegAccounts(ctx context.Context, r *PaymentRecord, legs []leg) error {
	want := make([]ledger.Account, 0, 2*len(legs))
	for _, l := range legs {
		want = append(want, account(AccountWallet, l.ledger, r.PayerCardID), account(AccountMerchant, l.ledger, r.MerchantID))
	}
	ids := p.own.unknown(want)
	if len(ids) == 0 {
		return nil
	}
	found, err := p.ledger.LookupAccounts(ctx, ids)
	if err != nil {
		return ledgerUnavailable(err)
	}
	var wallets []ledger.Account // the payer's asset wallets to create
	// want[i] is an account of legs[i/2].
	for i, a := range want {
		if !slices.Contains(ids, a.ID) {
			continue // found to be the platform's before
		}
		j := slices.IndexFunc(found, func(g ledger.Account) bool { return g.ID == a.ID })
		switch {
		case j >= 0:
			if _, err := heldAsOwn(a, found[j]); err != nil {
				return fmt.Errorf("%w (%w)", err, errAccountTaken)
			}
			p.own.add(a)
		case a.Code == AccountWallet && legs[i/2].index > 0:
			wallets = append(wallets, a)
		}
	}
	if len(wallets) == 0 {
		return nil
	}
	switch err := p.createAccounts(ctx, wallets...); {
	case asClosed(err) != nil: // closed since the look-up
		return nil
	case errors.Is(err, ErrConflict):
		return fmt.Errorf("%w (%w)", err, errAccountTaken)
	default:
		return err
	}
}

// hold places the pending transfers of r's current attempt, linked: all
// legs or none. With capture set it posts them in the same linked chain
// (auto capture: one ledger batch) and returns the IDs of the posts. The
// accounts of the legs are checked first, the payer's wallets in their
// assets created (checkLegAccounts), unless made is set (Approve did so
// just before), and an account whose ID the ledger holds with other
// fields stops the hold before any transfer is sent, unless the ledger
// holds the chain already: one that a version that did not check these
// accounts made before the record of its outcome was lost goes on, and
// the ledger answers it exists. A chain that the ledger refuses because it
// holds one of its IDs (a hold's, or a post's) as a transfer that another
// client of the ledger wrote, while it holds none of the chain's posts as
// the platform makes them (sameTransfer), is ErrConflict with errIDTaken:
// every try of this attempt's chain is refused alike, and nothing moved
// but the holds of the chain that the ledger holds as the platform makes
// them, which are voided first (see chainTaken). So is a chain that the
// ledger refuses for an overflow, or refused so before, whose limit mark
// it holds as another client's transfer (markTaken).
func (p *Platform) hold(ctx context.Context, r *PaymentRecord, legs []leg, capture, made bool) ([][]byte, error) {
	ts, ids := p.holdChain(r, legs, capture)
	if !made {
		if err := p.checkLegAccounts(ctx, r, legs); errors.Is(err, errAccountTaken) {
			made, lerr := p.madeAny(ctx, ts[:1])
			if lerr != nil {
				return nil, lerr
			}
			if !made {
				return nil, err
			}
		} else if err != nil {
			return nil, err
		}
	}
	err := p.createRefusalKept(ctx, ts[0], func() error { return p.createChain(ctx, ts) })
	if errors.Is(err, ErrConflict) {
		return nil, p.chainTaken(ctx, r, legs, ts, err)
	}
	return ids, err
}

// chainTaken answers err, the ErrConflict of ts, the hold chain of r's
// current attempt and of its legs: the ledger holds one of the chain's IDs
// with other fields, and so never makes the chain. When it holds none of
// the chain's posts as the platform makes them (sameTransfer), nothing
// moved but the holds that it holds so (made otherwise than by this
// chain, which the ledger makes whole or not at all: by an earlier
// version, or by another client as the platform makes them): chainTaken
// voids these, each on its own, and returns err with errIDTaken, which
// drive records as a refused hold. A hold that the ledger holds posted
// (by a transfer that the platform did not make, under a post ID of the
// chain or another) is ErrInternal, the hold moved, not by the platform,
// and so is a void that the ledger refuses otherwise; a post of the chain
// made as the platform makes it leaves err as it is (the money moved): r
// stays approving.
func (p *Platform) chainTaken(ctx context.Context, r *PaymentRecord, legs []leg, ts []ledger.Transfer, err error) error {
	found, lerr := p.lookupTransfers(ctx, ts)
	if lerr != nil {
		return lerr
	}
	var made []leg // the legs whose holds the ledger holds as the platform makes them
	for _, g := range found {
		i := slices.IndexFunc(ts, func(w ledger.Transfer) bool { return w.ID == g.ID })
		switch {
		case !sameTransfer(ts[i], g):
		case i >= len(legs): // a post of the chain
			return err
		default:
			made = append(made, legs[i])
		}
	}
	if len(made) > 0 {
		posted, verr := p.voidHolds(ctx, r, made)
		if verr != nil {
			return verr
		}
		if posted {
			return fmt.Errorf("%w: ledger: a hold of request %v is posted, not by the platform, and another ID of its chain taken (%v)",
				ErrInternal, r.ID, err)
		}
	}
	return fmt.Errorf("%w (%w)", err, errIDTaken)
}

// errIDTaken marks the ErrConflict of a hold chain (the holds of a
// request's attempt, and their posts with auto capture) one of whose IDs
// the ledger holds as another transfer, while it holds none of the chain's
// posts as the platform makes them: a transfer that another client of the
// ledger wrote under the platform's ID. The ledger refuses the whole
// linked chain (exists_with_different_*), and refuses it alike at every
// try; the holds of the chain that it holds as the platform makes them
// (made otherwise than by this chain) are voided (chainTaken), so that
// nothing moved: drive records it as a refused hold, so that the next
// consent, whose attempt derives other IDs, can settle the request. A
// chain refused for an overflow whose limit mark the ledger holds so
// (markTaken) ends alike.
var errIDTaken = errors.New("an ID of the hold chain, which the ledger holds as a transfer that the platform did not make")

// madeAny reports whether the ledger holds any of ts as the platform makes
// it (sameTransfer).
func (p *Platform) madeAny(ctx context.Context, ts []ledger.Transfer) (bool, error) {
	found, err := p.lookupTransfers(ctx, ts)
	if err != nil {
		return false, err
	}
	for _, g := range found {
		if slices.ContainsFunc(ts, func(w ledger.Transfer) bool { return w.ID == g.ID && sameTransfer(w, g) }) {
			return true, nil
		}
	}
	return false, nil
}

// holdChain returns the linked chain that hold creates for r's current
// attempt: the holds of legs and, with capture set, their posts, whose
// IDs it returns too.
func (p *Platform) holdChain(r *PaymentRecord, legs []leg, capture bool) ([]ledger.Transfer, [][]byte) {
	ts := make([]ledger.Transfer, len(legs), 2*len(legs))
	for i, l := range legs {
		ts[i] = holdTransfer(r, l)
	}
	if !capture {
		return ts, nil
	}
	posts, ids := p.posts(r, legs)
	return append(ts, posts...), ids
}

// holdTransfer returns the pending transfer of leg l of r's current
// attempt.
func holdTransfer(r *PaymentRecord, l leg) ledger.Transfer {
	return ledger.Transfer{
		ID: TransferID(r.ID, r.Attempt, l.index, kindHold), DebitAccountID: l.debit, CreditAccountID: l.credit,
		Amount: l.amount, UserData128: ledger.ID(r.ID), Timeout: holdTimeout(r),
		Ledger: l.ledger, Code: TransferPayment, Flags: ledger.TransferPending | ledger.TransferLinked,
	}
}

// holdRefused reports whether the ledger refused the holds of r's current
// attempt (or a taken account of the legs stopped them, errAccountTaken,
// whose consent's copies Approve refuses before acceptedMeanwhile, or an
// ID of their chain taken, errIDTaken: see holdStopped): drive then put r
// back to pending (or cancelled, see refusedState) without its consent
// but with the consent's hash, which tells a copy of that consent its
// answer (acceptedMeanwhile).
func holdRefused(r *PaymentRecord) bool { return r.Consent == nil && r.ConsentHash != nil }

// holdRefusal returns the ledger's refusal of the holds of r's current
// attempt, which holdRefused reports: ErrConflict with errIDTaken when the
// ledger holds a transfer under an ID of their chain (another client's,
// or a hold of the platform's that chainTaken voided: the chain was
// refused whole), else ErrFunds or ErrLimit, as the first answer was
// (refusedBefore), or ErrConflict when the chain's limit mark is a
// transfer that the platform did not make, which tells no reason
// (markTaken).
func (p *Platform) holdRefusal(ctx context.Context, r *PaymentRecord) error {
	legs, err := p.legs(ctx, r)
	if err != nil {
		return err
	}
	if len(legs) == 0 {
		return fmt.Errorf("%w: request %v moves nothing", ErrInternal, r.ID)
	}
	ts, _ := p.holdChain(r, legs, !r.ManualCapture)
	found, err := p.lookupTransfers(ctx, ts)
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("%w: ledger: transfer %v exists with other fields (%w)", ErrConflict, found[0].ID, errIDTaken)
	}
	return p.refusedBefore(ctx, ts[0], fmt.Errorf("ledger: hold: %w", errRefusedBefore))
}

// ledgerRefused reports whether err is the ledger's refusal of a hold or a
// refund, which drive records by putting the request back to pending (or
// cancelled, see refusedState) and driveRefund by failing the refund: the
// balance does not cover it or an account is closed (ErrFunds), or an
// account's totals would pass the ledger's limit (ErrLimit). A ledger out
// of reach is neither, whatever its store's error wraps
// (ledgerUnavailable).
func ledgerRefused(err error) bool { return errors.Is(err, ErrFunds) || errors.Is(err, ErrLimit) }

// holdStopped reports whether err ends a hold of r's attempt with nothing
// moved, which drive records as a refused hold: the ledger refused it
// (ledgerRefused), an account of the legs is taken (errAccountTaken), or
// an ID of the hold chain is (errIDTaken).
func holdStopped(err error) bool {
	return ledgerRefused(err) || errors.Is(err, errAccountTaken) || errors.Is(err, errIDTaken)
}

// holdTimeout is the ledger timeout of the holds of r, from what the
// platform recorded when it accepted the consent (the hold's expiry and
// the time of that update), so that every process that retries the holds
// submits the same transfers whatever its own HoldTTL. It is rounded up to
// whole seconds: the ledger times the hold from its own timestamp, which
// is no earlier than that update, so the ledger releases the funds no
// earlier than the hold's expiry.
func holdTimeout(r *PaymentRecord) uint32 {
	return seconds(r.HoldExpiresAt.Sub(r.UpdatedAt))
}

// posts returns the linked transfers that post the holds of r (the money
// leg for CaptureAmount, the asset legs in full) and their IDs.
func (p *Platform) posts(r *PaymentRecord, legs []leg) ([]ledger.Transfer, [][]byte) {
	ts := make([]ledger.Transfer, len(legs))
	ids := make([][]byte, len(legs))
	for i, l := range legs {
		amount := l.amount
		if l.index == 0 {
			amount = r.CaptureAmount
		}
		id := TransferID(r.ID, r.Attempt, l.index, kindPost)
		ids[i] = bytes.Clone(id[:])
		ts[i] = ledger.Transfer{
			ID: id, PendingID: TransferID(r.ID, r.Attempt, l.index, kindHold), Amount: amount,
			Ledger: l.ledger, Code: TransferPayment, Flags: ledger.TransferPostPendingTransfer | ledger.TransferLinked,
		}
	}
	return ts, ids
}

// errCaptureRefused marks a capture refused, nothing posted: for a closed
// account of the legs, because the ledger refused a post of these holds
// before (id_already_failed: an account was closed then, or the ledger had
// lost the hold), or because it holds a post's ID as another transfer that
// leaves the holds pending (see post). drive records it by putting the
// request back to held.
var errCaptureRefused = errors.New("capture refused")

// post captures the holds of r: the money leg for CaptureAmount, the asset
// legs in full, linked. An account of the legs that the ledger does not
// hold is left to the ledger, which refuses the posts of the hold it lost
// with it (pending_transfer_not_found, ErrInternal, and id_already_failed
// at every later try), also when another account of the legs is closed
// (see checkOpen). A capture is refused (ErrConflict with
// errCaptureRefused), nothing posted, when an account of the legs is
// closed: post looks first, so that the ledger does not refuse the posts
// and keep their IDs failed, and the capture succeeds once the account is
// reopened. Posts that the ledger made before the account was closed (a
// capture whose record was lost, driven again) are not refused: post
// finds them made and goes on, and the ledger answers them exists. When
// the account is closed after that look, the ledger refuses the posts and
// keeps their IDs failed, and so refuses every later capture of these
// holds (id_already_failed, as for a post of a hold the ledger lost,
// pending_transfer_not_found at the first try): the hold can only be
// voided or expire. Posts of these holds that the ledger made for
// another amount (a capture of another amount, recorded held while its
// posts were made, see driveLegs) are the capture made: post returns
// them, and the request is captured for their amount. A post's ID that
// the ledger holds with other fields, as no post of these holds
// (madeCapture finds none: a transfer that another client of the ledger
// wrote under the platform's ID), refuses the capture too, nothing
// posted, and every later one alike, when no transfer under these IDs
// posts or voids one of the holds and the ledger holds every hold
// pending, the taken posts' own included: the holds are left pending, and
// can only be voided or expire. The ledger stops a chain at its first
// failure, the taken ID, before it looks at any hold, so post asks it
// about the holds with the posts under spare IDs (probeHolds). When a
// transfer under these IDs posts or voids a hold (a post's ID posting
// another leg's hold, or its own leg's hold in part, or voiding it), or
// the ledger answers probeHolds pending_transfer_already_posted or
// _voided (a hold, whichever, posted or voided under another ID), the
// capture is ErrInternal and r stays capturing, as for holds that the
// ledger holds posted under other IDs: the holds moved, not by the
// platform, and no void would release them all.
func (p *Platform) post(ctx context.Context, r *PaymentRecord, legs []leg) (*posted, error) {
	accounts := make([]ledger.Account, 0, 2*len(legs))
	for _, l := range legs {
		accounts = append(accounts, account(AccountWallet, l.ledger, r.PayerCardID), account(AccountMerchant, l.ledger, r.MerchantID))
	}
	ts, ids := p.posts(r, legs)
	if err := p.unlessMade(ctx, p.checkOpen(ctx, false, accounts...), ts); err != nil {
		if ce := asClosed(err); ce != nil {
			return nil, fmt.Errorf("%w: %w: %w", ErrConflict, errCaptureRefused, ce)
		}
		return nil, err
	}
	err := p.createChain(ctx, ts)
	if errors.Is(err, ErrConflict) { // a post's ID holds other fields
		made, moved, lerr := p.madeCapture(ctx, r, legs)
		if lerr != nil {
			return nil, lerr
		}
		if made != nil {
			return made, nil
		}
		if moved {
			return nil, fmt.Errorf("%w: ledger: a post's ID holds a transfer that posted or voided a hold of request %v, not this capture's post (%v): the holds moved, not by the platform",
				ErrInternal, r.ID, err)
		}
		// The ledger stopped the chain at the first taken ID, before it
		// looked at the holds of the posts behind it, the taken post's
		// own hold included.
		return nil, p.probeHolds(ctx, r, ts, err)
	}
	const kept = "the ledger keeps the refused post's ID: the hold can only be cancelled or expire"
	if ce := asClosed(err); ce != nil {
		return nil, fmt.Errorf("%w: %w: %w (%s)", ErrConflict, errCaptureRefused, ce, kept)
	}
	if errors.Is(err, errRefusedBefore) {
		return nil, fmt.Errorf("%w: %w: ledger: a post of this hold was refused before (an account closed, or the hold lost; %s)",
			ErrConflict, errCaptureRefused, kept)
	}
	if err != nil {
		return nil, err
	}
	return &posted{amount: r.CaptureAmount, ids: ids}, nil
}

// probeHolds asks the ledger whether the holds that ts posts are all still
// pending, after it refused ts for err, a post's ID taken by a transfer
// that is not this capture's. It submits the posts again, linked, each
// under an ID of its own drawn from the platform's random source
// (PlatformOptions.Rand; one that fails is ErrUnavailable), and ends
// the chain with a transfer that the ledger refuses for its form
// (accounts_must_be_different, under a random ID too), a refusal that the
// ledger checks before any account or hold and does not keep: the chain
// fails whole, nothing moves, and the ledger's first failure is the post
// of the first hold no longer pending, if any. With every hold pending,
// the capture is refused (ErrConflict with errCaptureRefused); a hold
// posted or voided (pending_transfer_already_posted or _voided) is
// ErrInternal, an expired one ErrExpired, as ledgerError says. The
// ledger keeps failed only the random ID of a post it refused for a
// state (a hold lost, an account closed), which nothing else uses.
func (p *Platform) probeHolds(ctx context.Context, r *PaymentRecord, ts []ledger.Transfer, err error) error {
	probe := slices.Clone(ts)
	end := ledger.Transfer{
		DebitAccountID: AccountID(AccountWallet, ts[0].Ledger, r.PayerCardID), Amount: 1, Ledger: ts[0].Ledger, Code: TransferPayment,
	}
	end.CreditAccountID = end.DebitAccountID // refused: accounts_must_be_different
	probe = append(probe, end)
	for i := range probe {
		if _, rerr := io.ReadFull(p.rand, probe[i].ID[:]); rerr != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, rerr)
		}
		probe[i].Flags |= ledger.TransferLinked
	}
	probe[len(probe)-1].Flags &^= ledger.TransferLinked
	res, lerr := p.ledger.CreateTransfers(ctx, probe)
	if lerr != nil {
		return ledgerUnavailable(lerr)
	}
	if len(res) == len(probe) && res[len(res)-1] == ledger.TransferAccountsMustBeDifferent &&
		!slices.ContainsFunc(res[:len(res)-1], func(r ledger.CreateTransferResult) bool { return r != ledger.TransferLinkedEventFailed }) {
		return fmt.Errorf("%w: %w: the ledger holds a post's ID as a transfer that is not this capture's (%v), every hold pending: the hold can only be cancelled or expire",
			ErrConflict, errCaptureRefused, err)
	}
	perr := ledgerError(probe, res, nil)
	if ce := asClosed(perr); ce != nil {
		return fmt.Errorf("%w: %w: %w", ErrConflict, errCaptureRefused, ce)
	}
	if perr == nil || errors.Is(perr, ErrFunds) {
		perr = fmt.Errorf("%w: ledger: posts of the holds of request %v answered %v", ErrInternal, r.ID, res)
	}
	return fmt.Errorf("a post's ID taken (%v), the holds of request %v: %w", err, r.ID, perr)
}

// posted is a capture that the ledger made: the amount that the post of
// the money leg moved (zero without one) and the IDs of the posts, which
// the receipt lists.
type posted struct {
	amount uint64
	ids    [][]byte
}

// madeCapture looks up the posts of r's holds (their IDs derived from r's
// attempt, as post makes them) and returns the capture they made, or nil
// when the ledger does not hold every one of them as the post of its
// leg's hold, the asset legs in full: the posts are one linked chain,
// made all or none. The amount is the ledger's, whatever r's
// CaptureAmount. moved reports whether a transfer that the ledger holds
// under one of these IDs posts or voids one of the holds (its pending ID
// is a hold's, whichever leg's): without the capture made, the holds
// moved by transfers that the platform did not make.
func (p *Platform) madeCapture(ctx context.Context, r *PaymentRecord, legs []leg) (made *posted, moved bool, err error) {
	ts, ids := p.posts(r, legs)
	found, err := p.lookupTransfers(ctx, ts)
	if err != nil {
		return nil, false, err
	}
	holds := make(map[ledger.ID]bool, len(ts))
	for _, t := range ts {
		holds[t.PendingID] = true
	}
	byID := make(map[ledger.ID]ledger.Transfer, len(found))
	for _, t := range found {
		byID[t.ID] = t
		moved = moved || holds[t.PendingID]
	}
	made = &posted{ids: ids}
	for i, l := range legs {
		t, ok := byID[ts[i].ID]
		if !ok || t.PendingID != ts[i].PendingID || t.Flags&ledger.TransferPostPendingTransfer == 0 ||
			l.index > 0 && t.Amount != l.amount {
			return nil, moved, nil
		}
		if l.index == 0 {
			made.amount = t.Amount
		}
	}
	return made, moved, nil
}

// void releases the holds of r, each on its own: a hold the ledger already
// voided or expired counts as released, and so does one it does not hold
// (pending_transfer_not_found: the ledger lost it). The ledger keeps the
// ID of a void refused for that, the only refusal of a void it keeps, and
// answers a retry id_already_failed, which counts the same. A hold the
// ledger already posted (pending_transfer_already_posted) was captured:
// the posts of a capture were made while the request was recorded held
// (a capture driven twice, one driver finding an account closed before
// the other's posts: see driveLegs). void then returns that capture
// (madeCapture), which drive records instead of the void; a post that
// the ledger does not hold as the capture's is ErrInternal (the holds
// posted by transfers that the platform did not make), and r stays
// voiding, every later void failing alike.
func (p *Platform) void(ctx context.Context, r *PaymentRecord, legs []leg) (*posted, error) {
	captured, err := p.voidHolds(ctx, r, legs)
	if err != nil || !captured {
		return nil, err
	}
	made, _, err := p.madeCapture(ctx, r, legs)
	if err != nil {
		return nil, err
	}
	if made == nil {
		return nil, fmt.Errorf("%w: ledger: void: %v, and the ledger holds no capture of request %v",
			ErrInternal, ledger.TransferPendingTransferAlreadyPosted, r.ID)
	}
	return made, nil
}

// voidHolds voids the holds of the legs of r's current attempt, each on
// its own, and reports whether the ledger holds one of them posted
// (pending_transfer_already_posted): the others are voided all the same.
// A hold that the ledger voided or expired already, or does not hold,
// counts as released (see void).
func (p *Platform) voidHolds(ctx context.Context, r *PaymentRecord, legs []leg) (posted bool, err error) {
	ts := make([]ledger.Transfer, len(legs))
	for i, l := range legs {
		ts[i] = ledger.Transfer{
			ID: TransferID(r.ID, r.Attempt, l.index, kindVoid), PendingID: TransferID(r.ID, r.Attempt, l.index, kindHold),
			Ledger: l.ledger, Code: TransferPayment, Flags: ledger.TransferVoidPendingTransfer,
		}
	}
	res, err := p.ledger.CreateTransfers(ctx, ts)
	if err != nil {
		return false, ledgerUnavailable(err)
	}
	for _, x := range res {
		switch x {
		case ledger.TransferCreated, ledger.TransferExists, ledger.TransferPendingTransferAlreadyVoided,
			ledger.TransferPendingTransferExpired, ledger.TransferPendingTransferNotFound,
			ledger.TransferIDAlreadyFailed:
		case ledger.TransferPendingTransferAlreadyPosted:
			posted = true
		default:
			return false, fmt.Errorf("%w: ledger: void: %v", ErrInternal, x)
		}
	}
	return posted, nil
}

// drive completes the settlement under way in r (approving, capturing or
// voiding), step by step, each step a compare-and-set. A step lost to
// another process is read again and continued from where that process left
// it, so any number of processes may drive one request. It returns
// ErrFunds or ErrLimit when the hold was refused (r is pending again, or
// cancelled when its session's seller card paired again while it was
// approving: see refusedState), ErrExpired when the ledger had expired the
// hold before capture, ErrConflict with errCaptureRefused when an account
// of the legs is closed at capture or the ledger refuses the posts for
// good (r is held again, see post), and ErrConflict with errAccountTaken
// when an account of the legs is taken (r is pending or cancelled again,
// as after a refused hold: a consent that an earlier version accepted
// without checking the accounts first, see checkLegAccounts), and
// ErrConflict with errIDTaken when the ledger holds an ID of the hold
// chain as a transfer that another client of the ledger wrote (r is
// pending or cancelled again, nothing moved, see hold: the next consent's
// attempt derives other IDs). The money moves once, and a request whose
// capture the ledger made ends captured with its receipt, for the amount
// posted: a call that made the posts and finds r recorded held meanwhile
// (by another driver of the capture, refused for a closed account before
// the posts were made) records it capturing again and goes on, and a void
// that finds the holds posted (r recorded held so, then cancelled or
// expired) ends r captured instead.
func (p *Platform) drive(ctx context.Context, r *PaymentRecord) error {
	return p.driveLegs(ctx, r, nil)
}

// driveLegs is drive given made, the legs of r whose accounts Approve
// checked, and whose payer's wallets it created, before it accepted r's
// consent (checkLegAccounts), or nil: drive then finds the legs and hold
// checks the accounts.
func (p *Platform) driveLegs(ctx context.Context, r *PaymentRecord, made []leg) error {
	legs := made
	var result error
	var capture *posted // the capture whose posts this call made
	var retries conflictRetries
	for {
		switch {
		case r.State == StatePending || r.State == StateExpired || r.State == StateCancelled:
			return result
		case r.State == StateHeld && capture != nil:
			// Recorded capturing again below.
		case r.State == StateHeld && errors.Is(result, errCaptureRefused):
			return result
		case r.State == StateHeld || final(r.State):
			return nil
		}
		var err error
		if legs == nil {
			if legs, err = p.legs(ctx, r); err != nil {
				return err
			}
		}
		from := r.State
		now := p.now()
		switch r.State {
		case StateApproving:
			if !r.ManualCapture {
				r.CaptureAmount = r.Amount
			}
			ids, err := p.hold(ctx, r, legs, !r.ManualCapture, made != nil)
			switch {
			case holdStopped(err):
				// Nothing moved. A taken account stops every hold of r
				// before its first transfer: hold checks the accounts
				// first, and an account that the ledger once held as
				// the platform's stays so (closing it aside, which
				// checkLegAccounts lets through). A taken ID of the
				// chain refuses every try of this attempt's chain; the
				// next consent's attempt derives other IDs.
				result = err
				r.State, r.Consent, r.HoldExpiresAt, r.CaptureAmount = refusedState(r), nil, time.Time{}, 0 // see holdRefused
			case err != nil:
				return err
			case r.ManualCapture:
				r.State, r.VoidTo = StateHeld, "" // a pairing's mark is spent
			default:
				rc, err := p.receipt(r, ids, now)
				if err != nil {
					return err
				}
				r.State, r.Captured, r.Receipt, r.SettledAt, r.VoidTo = StateCaptured, r.CaptureAmount, rc, now, ""
			}
		case StateHeld:
			// This call made the posts of r's capture, but another
			// driver of that capture, which found an account closed
			// before the posts were made, recorded it refused (held)
			// first. The money moved: r is recorded capturing again, for
			// the amount posted, and the posts answer exists.
			r.State, r.CaptureAmount = stateCapturing, capture.amount
		case stateCapturing:
			c, err := p.post(ctx, r, legs)
			switch {
			case errors.Is(err, ErrExpired):
				result = err
				r.State = StateExpired
			case errors.Is(err, errCaptureRefused): // nothing moved
				result = err
				r.State = StateHeld
			case err != nil:
				return err
			default:
				capture = c
				if err := p.captured(r, c, now); err != nil {
					return err
				}
			}
		case stateVoiding:
			c, err := p.void(ctx, r, legs)
			switch {
			case err != nil:
				return err
			case c != nil:
				// The holds were posted: r's capture was made while
				// it was recorded held (see StateHeld above). It ends
				// captured, not voided.
				if err := p.captured(r, c, now); err != nil {
					return err
				}
			default:
				r.State = r.VoidTo
			}
		default:
			return fmt.Errorf("%w: unknown state %q", ErrInternal, r.State)
		}
		r.UpdatedAt = now
		err = p.store.UpdatePayment(ctx, r, from)
		if errors.Is(err, ErrConflict) {
			// Another process (RecoverSweep, a retried consent) settled it
			// first: go on from what it recorded, which is what the caller
			// answers with, not from this process's unrecorded outcome,
			// unless that is held while this call made the posts (see
			// StateHeld above).
			if err := retries.again(ctx, err); err != nil {
				return err
			}
			stored, err := p.store.Payment(ctx, r.ID)
			if err != nil {
				return err
			}
			*r = *stored
			continue
		}
		if err != nil {
			return err
		}
	}
}

// captured makes r captured at now by c, the capture that the ledger
// made: for c's amount, with its receipt.
func (p *Platform) captured(r *PaymentRecord, c *posted, now time.Time) error {
	r.CaptureAmount = c.amount
	rc, err := p.receipt(r, c.ids, now)
	if err != nil {
		return err
	}
	r.State, r.Captured, r.Receipt, r.SettledAt, r.VoidTo = StateCaptured, c.amount, rc, now, ""
	return nil
}

// refusedState is the state in which a refused hold leaves r, approving:
// pending, so that the payer may consent again, unless the session's
// seller card paired again since the approval began, which marks r with
// VoidTo cancelled (Acceptance.CancelPending): that pairing cancelled
// the session's pending requests, and r, older than it, ends cancelled
// too rather than become payable again.
func refusedState(r *PaymentRecord) string {
	if r.VoidTo == StateCancelled {
		return StateCancelled
	}
	return StatePending
}

// receipt signs the payment receipt of r.
func (p *Platform) receipt(r *PaymentRecord, transferIDs [][]byte, now time.Time) ([]byte, error) {
	return p.sign(paymentReceipt(r, transferIDs, now))
}

// paymentReceipt returns the payment receipt of r, settled at now by the
// ledger transfers transferIDs.
func paymentReceipt(r *PaymentRecord, transferIDs [][]byte, now time.Time) *record.Receipt {
	rc := &record.Receipt{
		Kind: record.ReceiptPayment, RequestID: bytes.Clone(r.ID[:]), RequestHash: r.RequestHash,
		ConsentHash: r.ConsentHash, Amount: r.CaptureAmount, Currency: r.Currency,
		PayerCardID: r.PayerCardID, MerchantID: r.MerchantID, TransferIDs: transferIDs,
		Time: uint64(now.UnixMilli()),
	}
	for _, l := range r.Lines {
		rc.Lines = append(rc.Lines, record.Line{SKU: l.SKU, Name: l.Name, Quantity: l.Quantity, UnitPrice: l.UnitPrice})
	}
	for _, l := range r.Legs {
		rc.Legs = append(rc.Legs, record.Leg{Asset: l.Asset, Amount: l.Amount})
	}
	return rc
}

// assetLegs returns legs, of a signed payment request or receipt, as the
// asset legs of a payment record or view, in order (an empty slice for
// none).
func assetLegs(legs []record.Leg) []AssetLeg {
	out := make([]AssetLeg, len(legs))
	for i, l := range legs {
		out[i] = AssetLeg{Asset: l.Asset, Amount: l.Amount}
	}
	return out
}

// receiptFits checks that the payment receipt of r can be signed: that
// with the longest values its settlement can give it (a consent hash, the
// transfer ID of each leg, the whole amount, the longest time) its message
// is at most record.MaxMessage bytes, the most a phone verifies (the
// platform's chain, which every receipt carries too, has room of its own,
// record.MaxChain, which NewPlatform checks). Catalog
// names make a receipt longer than its request, so a request that a card
// signed can have a receipt too long to sign, which would be found only
// after the money moved. A request whose receipt does not fit is
// ErrInvalid: CreateRequest refuses it, and Approve and Capture refuse to
// move the money of one stored before that check.
func receiptFits(r *PaymentRecord) error {
	ids := make([][]byte, legCount(r.Amount, len(r.Legs)))
	for i := range ids {
		ids[i] = bytes.Repeat([]byte{0xff}, record.IDSize)
	}
	rc := paymentReceipt(r, ids, time.Time{})
	rc.ConsentHash, rc.Amount, rc.Time = make([]byte, record.HashSize), r.Amount, math.MaxUint64
	payload, err := record.Marshal(rc)
	if err != nil {
		return fmt.Errorf("%w: its receipt: %v", ErrInvalid, err)
	}
	if size := record.MessageSize(record.TypeReceipt, payload); size > record.MaxMessage {
		return fmt.Errorf("%w: its receipt would be %d bytes signed, over %d", ErrInvalid, size, record.MaxMessage)
	}
	return nil
}

// sign signs rc with the platform's key, its certificate chain in the
// receipt (x5chain, PROTOCOL.md §3.6), so that the phones verify the
// receipt with the certificate of the key that signed it, also once the
// platform signs with another key.
func (p *Platform) sign(rc *record.Receipt) ([]byte, error) {
	msg, err := record.SignReceipt(p.rand, p.key, rc, p.chain)
	if err != nil {
		return nil, fmt.Errorf("%w: receipt: %w", ErrInternal, err)
	}
	return msg, nil
}

// Refund implements API. The refund request must be signed by a seller card
// of the merchant of a captured payment, in its currency: one of a payment
// not stored is ErrNotFound, then one signed by a card that is not a
// seller card of the payee ErrForbidden, then one in another currency
// ErrMismatch, each refusal spending the card's counter; all refunds of a
// payment together never exceed what was captured (ErrLimit). The refund
// ID makes it retry-safe: the same signed refund again returns the same
// view, also a copy sent at the same moment as the one made (whose
// reservation may leave too little for the copy, or whose counter the
// copy finds spent), once its card is checked as for a new refund of it,
// but for its counter, which is neither checked nor spent (see
// refundRetried): a seller card revoked since, or whose chain is no
// longer trusted, is ErrCard, and one that is no longer a seller card of
// the payee ErrForbidden, the refund left as it is and nothing of it
// told (one whose transfer is still to be made is finished by
// RecoverSweep). A refund whose transfer is still to be made is finished
// by a retry that passes, as RecoverSweep would finish it, the money
// moving once (a failed one is answered with its failure); another
// refund with the same ID is ErrConflict. A refund of a payment not
// captured yet (pending, held, or its settlement under way) is ErrConflict
// and spends no counter (see refuse): the same signed refund sent again is
// refused the same way until the payment is captured, and then taken (or
// refused for good, ErrFinal or ErrExpired, once the payment ended
// otherwise), unless the seller card's counter has passed it meanwhile
// (ErrClone). A refund the merchant's balance cannot cover, or that the
// ledger refuses because the merchant's account or the payer's wallet is
// closed or missing, is ErrFunds and final; one that would take the payer's
// wallet totals past the ledger's limit is ErrLimit and final. One whose
// ledger transfer ID the ledger holds as a transfer with other fields,
// which another client of the ledger wrote, is ErrConflict and final too
// (errRefundTaken): the ledger never makes its transfer. One whose transfer
// ID the ledger keeps failed, having refused a transfer that another client
// wrote under it, is ErrFunds and final (ErrLimit when the limit mark is
// spent too): the ledger keeps no reason or content with a failed ID, which
// the platform's own refusal whose record was lost leaves alike. A final
// refusal releases the refund's reservation. A refund returns money only:
// the assets of the payment's legs stay in the payer's wallets, and a
// payment of assets alone (amount zero) has nothing to refund (ErrLimit).
func (p *Platform) Refund(ctx context.Context, req *RefundRequest) (*RefundView, error) {
	if req == nil {
		return nil, errNilRequest("refund")
	}
	var rr record.RefundRequest
	c, err := p.openCard(ctx, req.Refund, &rr)
	if err != nil {
		return nil, err
	}
	id := ID(rr.RefundID)
	old, decided, err := p.storedRefund(ctx, id, req.Refund)
	if err != nil {
		return nil, err
	}
	if decided { // the same bytes, accepted before: a retry
		return p.refundRetried(ctx, c, old, req.Refund, &rr)
	}
	a, err := p.check(ctx, c, req.Refund, &rr)
	if err != nil {
		return nil, err
	}
	pay, err := p.store.Payment(ctx, ID(rr.RequestID))
	if err == nil { // an expiry that is due is settled first
		pay, err = p.current(ctx, pay)
	}
	if err != nil { // not found spends the record; a store failure does not
		return nil, p.refuse(ctx, a, err)
	}
	if c.MerchantID != pay.MerchantID {
		return nil, p.refuse(ctx, a, notPayeeCard(c))
	}
	if rr.Currency != pay.Currency {
		return nil, p.refuse(ctx, a, fmt.Errorf("%w: refund in %s of a payment in %s", ErrMismatch, rr.Currency, pay.Currency))
	}
	h := record.Hash(req.Refund)
	ref := &RefundRecord{
		ID: id, RequestID: pay.ID, State: RefundPending, Amount: rr.Amount, Currency: rr.Currency,
		Request: req.Refund, Hash: h[:], CreatedAt: p.now(),
	}
	// The refund is stored, and its amount reserved on the payment, in the
	// transaction that accepts the signed record; a lost compare-and-set
	// undoes all three and reads the payment again.
	var retries conflictRetries
	for {
		if pay.State != StateCaptured {
			return nil, p.refuse(ctx, a, stateError(pay.State))
		}
		if rr.Amount > pay.Captured || pay.Refunded > pay.Captured-rr.Amount {
			// The reservation that leaves too little may be a copy's of
			// these bytes, made since this call read no refund under id.
			return p.refundCopied(ctx, c, req.Refund, &rr,
				p.refuse(ctx, a, fmt.Errorf("%w: %d refunded of %d captured, %d more asked", ErrLimit, pay.Refunded, pay.Captured, rr.Amount)))
		}
		pay.Refunded += rr.Amount
		pay.UpdatedAt = p.now()
		ref.Refunded = pay.Refunded
		a.Refund, a.Update, a.From = ref, pay, StateCaptured
		err := p.accept(ctx, a)
		if err == nil {
			if a.Refund != ref { // a concurrent copy stored it first
				return p.refundRetried(ctx, c, a.Refund, req.Refund, &rr)
			}
			break
		}
		if errors.Is(err, ErrClone) {
			return p.refundCopied(ctx, c, req.Refund, &rr, err)
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		if err := retries.again(ctx, err); err != nil {
			return nil, err
		}
		if pay, err = p.store.Payment(ctx, pay.ID); err != nil {
			return nil, err
		}
	}
	if err := p.driveRefund(ctx, ref, pay); err != nil {
		return nil, err
	}
	return refundView(ref), nil
}

// storedRefund is the step of Refund before it verifies the signature
// of refund request msg, which CheckRecord takes too: the read of the
// refund stored under its ID, id. It returns that refund and whether the
// step decides the call, with the call's error (takenID): not when the ID
// is free; the store's failure; the refusal of a refund whose ID another
// refund holds (refundTaken); and, with no error, a retry of the same
// bytes accepted before, which the call answers as refundRetried does.
func (p *Platform) storedRefund(ctx context.Context, id ID, msg []byte) (*RefundRecord, bool, error) {
	old, err := p.store.Refund(ctx, id)
	decided, err := takenID(err, old != nil && !bytes.Equal(old.Request, msg), func() error { return refundTaken(old.ID) })
	return old, decided, err
}

// refundCopied answers err, the refusal of refund rr of card c, whose
// signed record is msg, after its first read found no refund under its
// ID: when err is ErrClone, a copy of msg sent at the same moment may
// have spent the card's counter first and stored the refund (its
// reservation too, which may be what left too little for this call), and
// the stored refund then answers, as it answers the same refund sent
// again (refundRetried); otherwise, or when no refund can be read under
// the ID, err does.
func (p *Platform) refundCopied(ctx context.Context, c *CardRecord, msg []byte, rr *record.RefundRequest, err error) (*RefundView, error) {
	if !errors.Is(err, ErrClone) {
		return nil, err
	}
	old, rerr := p.store.Refund(ctx, ID(rr.RefundID))
	if rerr != nil {
		return nil, err
	}
	return p.refundRetried(ctx, c, old, msg, rr)
}

// refundRetried answers refund request msg (rr), of card c, whose ID is
// stored as old: other bytes get a conflict (refundTaken); the same
// signed bytes, a retry, have c checked first as a new refund of c is,
// but for its counter, which is neither checked nor spent: its chain,
// revocation and signature (verifyRecord: ErrCard or ErrSignature,
// unverified, as check refuses them), then, the payment read, that it is
// a seller card of the payee (ErrForbidden). A refusal leaves the refund
// as it is: one whose transfer is still to be made is finished by
// RecoverSweep. A card that passes gets the refund's view, a refund whose
// transfer is still to be made finished first (driveRefund, the money
// moving once), or a failed refund's failure (refundFailure).
func (p *Platform) refundRetried(ctx context.Context, c *CardRecord, old *RefundRecord, msg []byte, rr *record.RefundRequest) (*RefundView, error) {
	if !bytes.Equal(old.Request, msg) {
		return nil, refundTaken(old.ID)
	}
	if err := p.verifyRecord(ctx, c, msg, rr); err != nil {
		return nil, unverified(err)
	}
	pay, err := p.store.Payment(ctx, old.RequestID)
	if err != nil {
		return nil, err
	}
	if c.MerchantID != pay.MerchantID {
		return nil, notPayeeCard(c)
	}
	switch old.State {
	case RefundFailed:
		return nil, refundFailure(old)
	case RefundPending:
		if err := p.driveRefund(ctx, old, pay); err != nil {
			return nil, err
		}
	}
	return refundView(old), nil
}

// notPayeeCard is the refusal of a refund signed by card c, which is not
// a seller card of the payee, new or sent again.
func notPayeeCard(c *CardRecord) error {
	return fmt.Errorf("%w: card %s is not a seller card of the payee", ErrForbidden, c.ID)
}

// refundTaken is the refusal of a refund request whose ID another refund
// holds.
func refundTaken(id ID) error {
	return fmt.Errorf("%w: refund ID %v is taken by another refund", ErrConflict, id)
}

func refundView(r *RefundRecord) *RefundView {
	return &RefundView{ID: r.ID, RequestID: r.RequestID, Amount: r.Amount, Currency: r.Currency, Refunded: r.Refunded, Receipt: r.Receipt}
}

// driveRefund moves a reserved refund in the ledger and records the
// outcome: done with a receipt, or failed with its reservation released
// when the ledger refuses the transfer or holds its ID as a transfer with
// other fields (refundRefused), the refund's failure then recorded with
// the code of that error. An outcome that another process recorded
// meanwhile is r's outcome, as the stored refund answers it to any
// reader: nil when done (r then holds its receipt), the stored failure
// (refundFailure) when failed, even when the ledger refused r here too,
// or when pay was read after that process released r's reservation. A
// payment that the store shows holding less than r's reservation while it
// holds r pending, before and after that read, is ErrInternal: the store
// lost the reservation, which only r's failure releases, and r is left
// pending as stored.
func (p *Platform) driveRefund(ctx context.Context, r *RefundRecord, pay *PaymentRecord) error {
	cur, ok := ledger.LookupCurrency(r.Currency)
	if !ok {
		return fmt.Errorf("%w: unknown currency %q", ErrInternal, r.Currency)
	}
	tid := refundTransferID(r.ID)
	t := ledger.Transfer{
		ID: tid, DebitAccountID: AccountID(AccountMerchant, cur.Numeric, pay.MerchantID),
		CreditAccountID: AccountID(AccountWallet, cur.Numeric, pay.PayerCardID), Amount: r.Amount,
		UserData128: ledger.ID(pay.ID), Ledger: cur.Numeric, Code: TransferRefund,
	}
	lerr := p.createRefusalKept(ctx, t, func() error { return p.transfer(ctx, t) })
	if errors.Is(lerr, ErrConflict) { // the ledger holds tid, or its limit mark, with other fields
		lerr = fmt.Errorf("%w (%w)", lerr, errRefundTaken)
	}
	if lerr != nil && !refundRefused(lerr) {
		return lerr
	}
	var rc []byte
	if lerr == nil {
		now := p.now()
		var err error
		rc, err = p.sign(&record.Receipt{
			Kind: record.ReceiptRefund, RequestID: bytes.Clone(pay.ID[:]), RequestHash: pay.RequestHash,
			RefundID: bytes.Clone(r.ID[:]), RefundHash: r.Hash, Amount: r.Amount, Currency: r.Currency,
			PayerCardID: pay.PayerCardID, MerchantID: pay.MerchantID, TransferIDs: [][]byte{bytes.Clone(tid[:])},
			Time: uint64(now.UnixMilli()),
		})
		if err != nil {
			return err
		}
	}
	// Done with the receipt, or failed with the reservation released in
	// the same transaction; written again from the stored refund while
	// another process only deferred it meanwhile. A payment that holds
	// less than r's reservation was read after another process ended r
	// and released it: the stored refund answers, as when the write
	// finds r ended. One read after r was found stored pending, r still
	// pending after it, is a broken store (the failure and the release
	// are one write): ErrInternal, r left as stored.
	readAfterPending := false // pay was read after r was found stored pending
	var retries conflictRetries
	for {
		end := *r
		var err error
		switch {
		case lerr == nil:
			end.State, end.Receipt = RefundDone, rc
			err = p.store.UpdateRefund(ctx, &end, RefundPending, nil, "")
		case pay.Refunded >= r.Amount: // pay's reservation released with the failure
			end.State, end.Failure = RefundFailed, AsError(lerr).Code
			// A copy: pay stays the payment as read, which the check
			// of a lost write below compares with the reservation.
			released := *pay
			released.Refunded -= r.Amount
			released.UpdatedAt = p.now()
			err = p.store.UpdateRefund(ctx, &end, RefundPending, &released, StateCaptured)
		default: // pay read after another process released r's reservation
			err = ErrConflict
		}
		if err == nil {
			*r = end
			return lerr
		}
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if err := retries.again(ctx, err); err != nil {
			return err
		}
		stored, err := p.store.Refund(ctx, r.ID)
		if err != nil {
			return err
		}
		*r = *stored
		switch {
		case stored.State == RefundDone: // ended by another process, with its receipt
			return nil
		case stored.State == RefundFailed: // ended by another process; the ledger answers one ID alike
			return refundFailure(stored)
		case lerr != nil:
			if readAfterPending && pay.Refunded < r.Amount {
				return fmt.Errorf("%w: store: refund %v is pending, its payment %v holding %d refunded, less than its reservation of %d",
					ErrInternal, r.ID, pay.ID, pay.Refunded, r.Amount)
			}
			if pay, err = p.store.Payment(ctx, pay.ID); err != nil {
				return err
			}
			readAfterPending = true
		}
	}
}

// errRefundTaken marks the ErrConflict of a refund whose transfer ID the
// ledger holds as a transfer with other fields, one that the platform did
// not make (another client of the ledger wrote it under the platform's
// ID): the ledger refuses the refund's transfer alike at every try, and
// never makes it, so driveRefund ends the refund failed, as it does a
// refund that the ledger refused (refundRefused). So it does a refund
// refused for an overflow, now or before, whose limit mark the ledger
// holds so (markTaken): the ledger keeps the refund's ID failed.
var errRefundTaken = errors.New("the refund's transfer ID, which the ledger holds as a transfer that the platform did not make")

// refundRefused reports whether err ends a refund failed for good,
// nothing moved: the ledger refused its transfer (ledgerRefused), or
// holds its ID as another transfer (errRefundTaken).
func refundRefused(err error) bool { return ledgerRefused(err) || errors.Is(err, errRefundTaken) }

// refundFailure is the error that answers a failed refund, from the code
// recorded with it: the ledger's refusal (ErrFunds, ErrLimit), or its
// transfer ID taken (ErrConflict with errRefundTaken).
func refundFailure(r *RefundRecord) error {
	switch r.Failure {
	case AsError(ErrLimit).Code:
		return fmt.Errorf("%w: the refund would take the payer's wallet totals past the ledger's limit", ErrLimit)
	case AsError(ErrConflict).Code:
		return fmt.Errorf("%w: ledger: the refund's transfer ID holds a transfer that the platform did not make (%w)", ErrConflict, errRefundTaken)
	}
	return fmt.Errorf("%w: the ledger refused the refund: the merchant's balance did not cover it, or an account was closed or missing", ErrFunds)
}

// sweepLimit returns the limit of a sweep, limit or, when it is zero, the
// default of 1000, and refuses a negative one (CheckDueLimit).
func sweepLimit(limit int) (int, error) {
	if err := CheckDueLimit(limit); err != nil {
		return 0, err
	}
	if limit == 0 {
		return 1000, nil
	}
	return limit, nil
}

// ExpireDue expires the pending requests past their expiry and voids the
// holds of held payments past the hold TTL, at most limit of each (zero:
// 1000; a negative limit is refused with ErrInvalid, CheckDueLimit, and
// nothing done), and deletes expired nonces, tokens, sessions and idempotent
// replies (the tokens that the process keeps and that expired at now are
// read from the store again, whatever the clock does afterwards: see
// tokenCache). It returns how many requests it expired. A request that fails
// (its record or its void) is reported and the others go on; the error
// joins every failure, and a held payment whose void failed is finished
// by RecoverSweep. A held payment whose holds the ledger had posted (its
// capture made while it was recorded held, see Capture) is captured
// rather than expired, and not counted. Run it from a timer in one or
// several processes: every transition is a compare-and-set.
func (p *Platform) ExpireDue(ctx context.Context, limit int) (int, error) {
	limit, err := sweepLimit(limit)
	if err != nil {
		return 0, err
	}
	now := p.now()
	n := 0
	var errs []error
	due, err := p.store.DuePayments(ctx, StatePending, now, limit)
	if err != nil {
		return n, err
	}
	for _, r := range due {
		if err := p.expire(ctx, r, now); err == nil {
			n++
		} else if !errors.Is(err, ErrConflict) {
			errs = append(errs, fmt.Errorf("expiring request %v: %w", r.ID, err))
		}
	}
	held, err := p.store.DuePayments(ctx, StateHeld, now, limit)
	if err != nil {
		return n, errors.Join(append(errs, err)...)
	}
	for _, r := range held {
		if err := p.expireHold(ctx, r); errors.Is(err, ErrConflict) {
			continue
		} else if err != nil {
			errs = append(errs, fmt.Errorf("expiring hold %v: %w", r.ID, err))
			continue
		}
		if r.State == StateExpired { // not captured (see expireHold)
			n++
		}
	}
	p.tokens.sweep(now)
	if _, err := p.store.DeleteExpired(ctx, now); err != nil {
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// expire records r, pending at or past its expiry, as expired at now. It
// returns ErrConflict, having changed nothing, when another process
// changed r first.
func (p *Platform) expire(ctx context.Context, r *PaymentRecord, now time.Time) error {
	r.State, r.UpdatedAt = StateExpired, now
	return p.store.UpdatePayment(ctx, r, StatePending)
}

// expireHold expires r, held past its hold's expiry: it records r as
// voiding to expired and voids the hold. It returns ErrConflict, having
// changed nothing, when another process changed r first; a void that
// fails is left to RecoverSweep. Holds that the ledger posted end r
// captured instead, with its receipt (see drive).
func (p *Platform) expireHold(ctx context.Context, r *PaymentRecord) error {
	r.State, r.VoidTo, r.UpdatedAt = stateVoiding, StateExpired, p.now()
	if err := p.store.UpdatePayment(ctx, r, StateHeld); err != nil {
		return err
	}
	if err := p.drive(ctx, r); err != nil {
		return fmt.Errorf("voiding: %w", err)
	}
	return nil
}

// RecoverSweep completes the settlements and refunds left half done (by a
// crash, a lost database connection or a ledger outage) for longer than
// RecoverAfter, at most limit of each state (zero: 1000; a negative limit
// is refused with ErrInvalid, CheckDueLimit, and nothing done), the oldest
// first. It returns how many it completed. Derived ledger IDs make the
// repeated ledger calls harmless; a settlement that another process is
// still driving is simply continued by both. One that fails is deferred
// and the sweep goes on with the others; the error joins every failure,
// each naming its request or refund. Deferring moves the due time of
// the request or refund later (DeferredTo, by a compare-and-set that
// leaves it as it is when another process wrote it meanwhile), so that
// it waits as long again as it has been under way before its next try,
// at least RecoverAfter and at most MaxRecoverDelay (RecoverAfter when
// longer): the waits double from RecoverAfter up to that cap. Later
// sweeps thus reach the requests and refunds behind ones that fail at
// every try, however many of those there are. A settlement that moved
// the money of a request whose receipt is too long to sign (one stored
// before CreateRequest checked it, see receiptFits) fails at every try
// with ErrInternal: its receipt cannot be signed, and no state undoes a
// posted payment. So does a capture or a void that meets holds posted or
// voided by transfers that the platform did not make (see post and void),
// moving nothing, and the ledger keeping none of the refused IDs. A hold
// chain whose ID the ledger holds as a transfer that another client of
// the ledger wrote, none of the chain's posts made (see hold: its holds
// made are voided), is no such failure: the request goes back to pending
// (or cancelled, see refusedState), as after a refused hold, and counts
// as completed, and so is a refund that the ledger refuses, or whose
// transfer ID it holds as a transfer that another client of the ledger
// wrote (see Refund): the refund ends failed.
func (p *Platform) RecoverSweep(ctx context.Context, limit int) (int, error) {
	limit, err := sweepLimit(limit)
	if err != nil {
		return 0, err
	}
	before := p.now().Add(-p.ttl.recoverAfter)
	n := 0
	var errs []error
	for _, state := range []string{StateApproving, stateCapturing, stateVoiding} {
		due, err := p.store.DuePayments(ctx, state, before, limit)
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		for _, r := range due {
			read := *r // drive changes r
			// A refusal that drive recorded (back to pending, or
			// cancelled when a pairing of the session's seller card marked
			// the request while approving, or expired, or held again for
			// a closed account, or pending again for a taken account
			// of the legs or a taken ID of the hold chain) ends the
			// settlement as much as a success.
			if err := p.drive(ctx, r); err != nil && !holdStopped(err) && !errors.Is(err, ErrExpired) &&
				!errors.Is(err, errCaptureRefused) {
				errs = append(errs, fmt.Errorf("settling request %v: %w", r.ID, err))
				read.DeferredTo = p.deferral(read.UpdatedAt)
				if err := p.store.UpdatePayment(ctx, &read, read.State); err != nil && !errors.Is(err, ErrConflict) {
					errs = append(errs, fmt.Errorf("deferring request %v: %w", r.ID, err))
				}
				continue
			}
			n++
		}
	}
	refunds, err := p.store.DueRefunds(ctx, before, limit)
	if err != nil {
		return n, errors.Join(append(errs, err)...)
	}
	for _, r := range refunds {
		read := *r // driveRefund changes r
		pay, err := p.store.Payment(ctx, r.RequestID)
		if err == nil {
			err = p.driveRefund(ctx, r, pay)
		}
		if err != nil && !refundRefused(err) {
			errs = append(errs, fmt.Errorf("refund %v: %w", r.ID, err))
			read.DeferredTo = p.deferral(read.CreatedAt)
			if err := p.store.UpdateRefund(ctx, &read, RefundPending, nil, ""); err != nil && !errors.Is(err, ErrConflict) {
				errs = append(errs, fmt.Errorf("deferring refund %v: %w", r.ID, err))
			}
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// MaxRecoverDelay is the longest that RecoverSweep waits before it tries
// again a settlement or refund that failed, unless RecoverAfter is longer.
const MaxRecoverDelay = time.Hour

// deferral returns the due time (DeferredTo) of a settlement or refund
// under way since since, whose try failed now: RecoverSweep tries it
// again once it has waited as long again as it has been under way, at
// least RecoverAfter and at most MaxRecoverDelay (RecoverAfter when
// longer). The due time stands for the time of a last update, which the
// sweep takes RecoverAfter after it: it is the time of the next try less
// RecoverAfter, no earlier than now.
func (p *Platform) deferral(since time.Time) time.Time {
	now := p.now()
	wait := max(min(now.Sub(since), MaxRecoverDelay), p.ttl.recoverAfter)
	return now.Add(wait - p.ttl.recoverAfter)
}
