package payflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/pki/record"
)

// publicState maps a stored state to the state the API shows: a
// settlement under way shows the state it started from.
func publicState(s string) string {
	switch s {
	case StateApproving:
		return StatePending
	case stateCapturing, stateVoiding:
		return StateHeld
	}
	return s
}

// final reports whether a stored state never changes again.
func final(s string) bool {
	switch s {
	case StateCaptured, StateDeclined, StateCancelled, StateExpired:
		return true
	}
	return false
}

// stateError is the error for an action that the stored state forbids. A
// settlement under way (approving, capturing, voiding) is ErrConflict
// saying which, not the public state it shows (pending or held), in
// which the action may be allowed: the caller may try again once the
// settlement ended.
func stateError(s string) error {
	switch s {
	case StateExpired:
		return fmt.Errorf("%w: the request expired", ErrExpired)
	case StateCaptured, StateDeclined, StateCancelled:
		return fmt.Errorf("%w: the request is %s", ErrFinal, s)
	case StateApproving:
		return fmt.Errorf("%w: a consent to the request is being settled", ErrConflict)
	case stateCapturing:
		return fmt.Errorf("%w: the payment is being captured", ErrConflict)
	case stateVoiding:
		return fmt.Errorf("%w: the payment's hold is being voided", ErrConflict)
	}
	return fmt.Errorf("%w: the request is %s", ErrConflict, s)
}

// CreateRequest implements API. The request must be signed by a seller
// card of the merchant it names, within a paired session of that card
// whose shopper is the payer; its items are priced from the merchant's
// catalog and must add up to its amount, in the merchant's currency. A
// session of another seller card, or whose shopper card is revoked, is
// ErrNotFound, as Session answers it (and the seller card's own
// revocation ErrCard); one whose shopper card has become a merchant's
// seller card since it paired (EnrollMerchant listing it: seen by
// another process within PlatformOptions.CacheTTL), which is no
// session's shopper, is ErrForbidden. The same signed request again (the
// same bytes) is a retry: its card is checked as for a new request of
// it, but for its counter, which is neither checked nor spent (see
// retried): a seller card revoked since, or whose chain is no longer
// trusted, is ErrCard, and one that is no longer a seller card of the
// request's merchant ErrForbidden, the request left as it is and nothing
// of it told. A retry of a card that passes is answered with the
// request's view as a read shows it (without a consent nonce; a pending
// request whose shopper card is revoked is withdrawn by that read, see
// withdrawRevoked). Another request with the same ID is ErrConflict. A
// request into a session not paired yet is ErrConflict too, and spends
// no counter (see refuse): the same signed request sent again is refused
// the same way until the session is paired, and then taken, unless the
// seller card's counter has passed it meanwhile (ErrClone: its own
// pairing proof into the session, signed after the request, passes it).
// Any other refusal after the signature spends the counter.
func (p *Platform) CreateRequest(ctx context.Context, req *CreateRequest) (*PaymentView, error) {
	if req == nil {
		return nil, errNilRequest("create")
	}
	var r record.PaymentRequest
	c, err := p.openCard(ctx, req.Request, &r)
	if err != nil {
		return nil, err
	}
	id := ID(r.RequestID)
	old, decided, err := p.storedRequest(ctx, id, req.Request)
	if err != nil {
		return nil, err
	}
	if decided { // the same bytes, accepted before: a retry
		return p.retried(ctx, c, old, req.Request, &r)
	}
	a, err := p.check(ctx, c, req.Request, &r)
	if err != nil {
		return nil, err
	}
	rec, err := p.newPayment(ctx, c, req.Request, &r)
	if err != nil {
		err = p.refuse(ctx, a, err)
	} else {
		a.Insert = rec
		err = p.accept(ctx, a)
	}
	if err != nil {
		if old, err2 := p.store.Payment(ctx, id); err2 == nil && errors.Is(err, ErrClone) {
			return p.retried(ctx, c, old, req.Request, &r) // a concurrent retry won
		}
		return nil, err
	}
	return p.currentView(ctx, a.Insert)
}

// newPayment checks a verified payment request of seller card c and
// returns the record to insert.
func (p *Platform) newPayment(ctx context.Context, c *CardRecord, msg []byte, r *record.PaymentRequest) (*PaymentRecord, error) {
	if err := sellerCard(c, r.MerchantID); err != nil {
		return nil, err
	}
	now := p.now()
	s, err := p.store.Session(ctx, ID(r.SessionID))
	if err != nil {
		return nil, err
	}
	switch { // in the order of PROTOCOL.md §6.3
	case s.SellerCardID != c.ID:
		// Another card's session is one that does not exist, as
		// Session answers it.
		return nil, ErrNotFound
	case s.MerchantID != r.MerchantID:
		// The shopper confirmed this merchant on screen; the seller card
		// may have moved to another merchant since.
		return nil, fmt.Errorf("%w: the session is with merchant %q", ErrForbidden, s.MerchantID)
	}
	// A session whose shopper card is revoked is one that does not exist,
	// as Session answers it.
	shopper, err := p.sessionCards(ctx, s)
	if err != nil {
		return nil, err
	}
	if shopper.MerchantID != "" {
		// Made a merchant's seller card since it paired: no session's
		// shopper (see notShopper).
		return nil, fmt.Errorf("%w: the session's shopper card is a merchant's seller card", ErrForbidden)
	}
	switch {
	case !s.ShopperConfirmed || !s.SellerConfirmed:
		return nil, fmt.Errorf("%w: the session is not paired", ErrConflict)
	case !now.Before(s.ExpiresAt):
		return nil, fmt.Errorf("%w: session", ErrExpired)
	case s.ShopperCardID != r.PayerCardID:
		return nil, fmt.Errorf("%w: the payer is not the shopper of the session", ErrMismatch)
	}
	m, err := p.merchant(ctx, r.MerchantID)
	if err != nil {
		return nil, err
	}
	if r.Currency != m.Currency {
		return nil, fmt.Errorf("%w: currency %s, the merchant's is %s", ErrMismatch, r.Currency, m.Currency)
	}
	lines, err := p.price(ctx, m.ID, r.Items)
	if err != nil {
		return nil, err
	}
	if len(r.Items) > 0 {
		var total uint64
		for _, l := range lines {
			var carry uint64
			total, carry = bits.Add64(total, l.Amount, 0)
			if carry != 0 || total > ledger.AmountLimit {
				return nil, fmt.Errorf("%w: total exceeds the limit", ErrInvalid)
			}
		}
		if total != r.Amount {
			return nil, fmt.Errorf("%w: items total %d, request says %d", ErrMismatch, total, r.Amount)
		}
	}
	for _, l := range r.Legs {
		if _, err := p.store.Asset(ctx, l.Asset); errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: asset %q is not registered", ErrInvalid, l.Asset)
		} else if err != nil {
			return nil, err // no verdict on the request: it stays unspent
		}
	}
	legs := assetLegs(r.Legs)
	ttl := p.ttl.request
	if r.TTL > 0 {
		ttl = min(time.Duration(r.TTL)*time.Second, p.ttl.maxRequest)
	}
	h := record.Hash(msg)
	rec := &PaymentRecord{
		ID: ID(r.RequestID), SessionID: s.ID, State: StatePending, MerchantID: m.ID, SellerCardID: c.ID,
		PayerCardID: r.PayerCardID, Currency: r.Currency, Amount: r.Amount, Lines: lines, Legs: legs,
		Request: msg, RequestHash: h[:], ManualCapture: m.ManualCapture,
		ExpiresAt: now.Add(ttl), CreatedAt: now, UpdatedAt: now,
	}
	if err := receiptFits(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// retried answers payment request msg (r), of card c, whose ID is
// stored: other bytes get a conflict (requestTaken); the same signed
// bytes, a retry, have c checked first as a new request of c is, but for
// its counter, which is neither checked nor spent: its chain, revocation
// and signature (verifyRecord: ErrCard or ErrSignature, unverified, as
// check refuses them), then that it is a seller card of the request's
// merchant (sellerCard: ErrForbidden). A refusal leaves the request as
// it is, its state unread. A card that passes gets the seller's view as
// a read shows it (currentView: expired, once it is pending past its
// expiry).
func (p *Platform) retried(ctx context.Context, c *CardRecord, old *PaymentRecord, msg []byte, r *record.PaymentRequest) (*PaymentView, error) {
	if !bytes.Equal(old.Request, msg) {
		return nil, requestTaken(old.ID)
	}
	if err := p.verifyRecord(ctx, c, msg, r); err != nil {
		return nil, unverified(err)
	}
	if err := sellerCard(c, old.MerchantID); err != nil {
		return nil, err
	}
	return p.currentView(ctx, old)
}

// sellerCard returns nil when card c is a seller card of merchant
// merchantID, and ErrForbidden otherwise: the refusal of a payment
// request of c for that merchant, new or sent again.
func sellerCard(c *CardRecord, merchantID string) error {
	if c.MerchantID == "" || c.MerchantID != merchantID {
		return fmt.Errorf("%w: card %s is not a seller card of merchant %q", ErrForbidden, c.ID, merchantID)
	}
	return nil
}

// storedRequest is the step of CreateRequest before it verifies the
// signature of payment request msg, which CheckRecord takes too: the read
// of the request stored under its ID, id. It returns that request and
// whether the step decides the call, with the call's error (takenID):
// not when the ID is free; the store's failure; the refusal of a request
// whose ID another request holds (requestTaken); and, with no error, a
// retry of the same bytes accepted before, which the call answers as
// retried does.
func (p *Platform) storedRequest(ctx context.Context, id ID, msg []byte) (*PaymentRecord, bool, error) {
	old, err := p.store.Payment(ctx, id)
	decided, err := takenID(err, old != nil && !bytes.Equal(old.Request, msg), func() error { return requestTaken(old.ID) })
	return old, decided, err
}

// requestTaken is the refusal of a payment request whose ID another
// request holds.
func requestTaken(id ID) error {
	return fmt.Errorf("%w: request ID %v is taken by another request", ErrConflict, id)
}

// price turns items into lines priced from the merchant's catalog.
func (p *Platform) price(ctx context.Context, merchantID string, items []record.Item) ([]Line, error) {
	if len(items) == 0 {
		return nil, nil
	}
	cat, err := p.store.Catalog(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	bySKU := make(map[string]CatalogItem, len(cat))
	for _, it := range cat {
		bySKU[it.SKU] = it
	}
	lines := make([]Line, len(items))
	for i, it := range items {
		ci, ok := bySKU[it.SKU]
		if !ok {
			return nil, fmt.Errorf("%w: SKU %q is not in the catalog", ErrMismatch, it.SKU)
		}
		hi, lo := bits.Mul64(ci.UnitPrice, it.Quantity)
		if hi != 0 || lo > ledger.AmountLimit {
			return nil, fmt.Errorf("%w: line %q exceeds the limit", ErrInvalid, it.SKU)
		}
		lines[i] = Line{SKU: it.SKU, Name: ci.Name, Quantity: it.Quantity, UnitPrice: ci.UnitPrice, Amount: lo}
	}
	return lines, nil
}

// view renders a payment request; nonce, when set, is the payer's consent
// nonce. The view of a held request carries its hold's expiry.
func (p *Platform) view(ctx context.Context, r *PaymentRecord, nonce []byte) (*PaymentView, error) {
	m, err := p.merchant(ctx, r.MerchantID)
	if err != nil {
		return nil, err
	}
	v := &PaymentView{
		ID: r.ID, SessionID: r.SessionID, State: publicState(r.State), MerchantID: r.MerchantID,
		MerchantName: m.Name, PayerCardID: r.PayerCardID, Currency: r.Currency, Amount: r.Amount,
		Lines: r.Lines, Legs: r.Legs, Request: r.Request, RequestHash: r.RequestHash,
		ConsentNonce: nonce, ExpiresAt: r.ExpiresAt, Captured: r.Captured, Refunded: r.Refunded,
		Receipt: r.Receipt, ManualCapture: r.ManualCapture,
	}
	if v.State == StateHeld {
		v.HoldExpiresAt = r.HoldExpiresAt
	}
	return v, nil
}

// load returns a payment request as current shows it.
func (p *Platform) load(ctx context.Context, id ID) (*PaymentRecord, error) {
	r, err := p.store.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	return p.current(ctx, r)
}

// current returns r, just read from the store, as every call shows it,
// settling an expiry that is due, as ExpireDue would: a request pending
// at or after its expiry is expired (expire); a held one at or after its
// hold's expiry has its hold voided and is expired (expireHold), and an
// expiry whose void is under way is finished (captured instead when the
// ledger had posted the holds: see drive). A void that fails fails
// the call; the request stays voiding, for the next call or RecoverSweep.
// A request pending before its expiry whose seller card or shopper card
// is revoked is cancelled (withdrawRevoked).
func (p *Platform) current(ctx context.Context, r *PaymentRecord) (*PaymentRecord, error) {
	var retries conflictRetries
	for {
		now := p.now()
		var err error
		switch {
		case r.State == StatePending && expiryDue(r, now):
			err = p.expire(ctx, r, now)
		case r.State == StatePending:
			err = p.withdrawRevoked(ctx, r, now)
		case r.State == StateHeld && expiryDue(r, now):
			err = p.expireHold(ctx, r)
		case r.State == stateVoiding && r.VoidTo == StateExpired:
			err = p.drive(ctx, r)
		default:
			return r, nil
		}
		if err == nil {
			return r, nil
		} else if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		if err := retries.again(ctx, err); err != nil {
			return nil, err
		}
		if r, err = p.store.Payment(ctx, r.ID); err != nil {
			return nil, err
		}
	}
}

// expiryDue reports whether r is at or past, at now, the expiry that
// current settles: the request's expiry when r is pending, its hold's
// when r is held. A request in another state has no expiry due.
func expiryDue(r *PaymentRecord, now time.Time) bool {
	switch r.State {
	case StatePending:
		return !now.Before(r.ExpiresAt)
	case StateHeld:
		return !now.Before(r.HoldExpiresAt)
	}
	return false
}

// nowUnexpired returns the time now, at which Approve, Decline, Cancel
// and Capture write the change of r that their checks allowed, and
// whether r's expiry (expiryDue: the request's, or its hold's when held)
// is still to come then. When it came while the checks ran, the call goes
// round its loop again: current expires r, voiding a hold (or the call
// reads r again, when another call changed it first), and the call is
// refused as any call at or after the expiry.
func (p *Platform) nowUnexpired(r *PaymentRecord) (time.Time, bool) {
	now := p.now()
	return now, !expiryDue(r, now)
}

// withdrawRevoked cancels r, pending and unexpired at now, when the seller
// card that signed it or the shopper card that would pay it is revoked
// (refusal: the CRLs of the platform's verifier list its certificate or
// a CA certificate above it, and a login's chain verification refuses
// it): a request signed by a card no longer trusted is paid by no one,
// and one whose payer is no longer trusted can be paid by no one; it is
// withdrawn as the merchant's Cancel withdraws it, by a compare-and-set
// from pending, which moves no money. For cards the CRLs do not list the
// check is a map lookup or two each, without allocating. It leaves r as
// it is, and returns nil, when neither card is revoked (a card no longer
// stored is not); it returns ErrConflict, having changed nothing, when
// another call changed r first.
func (p *Platform) withdrawRevoked(ctx context.Context, r *PaymentRecord, now time.Time) error {
	for _, id := range [...]string{r.SellerCardID, r.PayerCardID} {
		e, err := p.cardEntry(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		refused, err := p.refusal(e)
		if err != nil {
			return err
		}
		if refused != nil {
			r.State, r.UpdatedAt = StateCancelled, now
			return p.store.UpdatePayment(ctx, r, StatePending)
		}
	}
	return nil
}

// Payment implements API. The payer of a pending request gets a fresh
// consent nonce with every call, usable once until shortly after the
// request expires, bound to the request and to the payer's card; the
// seller cards of the merchant see the request without one. So does a
// payer card that has become a merchant's seller card since the request
// was made (seen by another process within PlatformOptions.CacheTTL),
// whose consent Approve refuses (ErrForbidden): it may still decline the
// request (Decline). Made a seller card of the request's own merchant, it
// sees the view of that merchant's seller cards.
func (p *Platform) Payment(ctx context.Context, token string, id ID) (*PaymentView, error) {
	c, err := p.auth(ctx, token)
	if err != nil {
		return nil, err
	}
	r, err := p.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.ID != r.PayerCardID && c.MerchantID != r.MerchantID {
		return nil, fmt.Errorf("%w: not a party of the request", ErrForbidden)
	}
	var nonce []byte
	if c.ID == r.PayerCardID && c.MerchantID == "" && r.State == StatePending {
		// A merchant's seller card pays nothing (see notShopper): a
		// nonce of its would only be spent by a refused consent.
		if nonce, err = mintNonce(p.nonceKey, p.rand, r.ExpiresAt.Add(p.ttl.challenge), c.ID, r.ID[:]); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return p.view(ctx, r, nonce)
}

// Approve implements API. The consent must be signed by the payer's card
// over a consent nonce of Payment, name the request's hash, amount,
// currency and merchant, and arrive while the request is pending and
// unexpired. A consent to a request that is not stored is ErrNotFound,
// whoever signed it, spending nothing; one of another card than the
// payer's, its signature verified, is ErrForbidden.
// A request that ended (captured, declined or cancelled:
// ErrFinal; expired: ErrExpired) is told so first, whatever the consent
// names; a consent that names another hash, amount, currency or merchant
// than a request that has not ended is ErrMismatch, also while another
// consent's settlement is under way (held, say), which is otherwise
// ErrConflict. Each of these refusals spends the consent, but ErrConflict
// (see below). The payment is then held in the ledger and, unless the
// merchant captures manually, captured at once with a signed receipt. A
// payment the payer's wallet cannot cover is ErrFunds, and so is one with
// an account that the ledger holds closed or does not hold (the payer's
// wallet or the merchant's account, in the currency or an asset of a
// leg: a merchant's account in its currency, which its enrolment creates,
// is missing from a ledger restored from an older copy); one whose
// hold would take an account's totals past the ledger's limit is
// ErrLimit; each stays pending, or is cancelled when the session's seller
// card paired again while the hold was being placed (see Pair). A
// request whose seller card is revoked is cancelled, and the consent
// ErrFinal, as a consent to a request the merchant cancelled (see
// withdrawRevoked). A consent of a payer card that has become a
// merchant's seller card since (seen by another process within
// PlatformOptions.CacheTTL), which pays nothing, is ErrForbidden and
// spent, the request left pending, once its card and nonce are verified
// and before the request's state is looked at; the same consent accepted
// before the change, sent again, is answered as below. A consent whose
// request reaches its expiry before the consent is accepted (while the
// legs are read, say) is ErrExpired and spent, as one that arrives after
// the expiry. A request stored before CreateRequest checked the length of
// its receipt (see receiptFits), whose receipt would be too long to sign,
// is refused before any money moves: the consent is ErrInvalid and spent,
// and the request stays pending, to be declined, cancelled or left to
// expire. So is a request with an account of its legs (the payer's wallet
// or the merchant's account, in the currency or an asset of a leg) whose
// ID the ledger holds with other fields (flags, user data, ledger, code;
// see checkLegAccounts): the consent is ErrConflict, nothing of it
// stored. A consent refused with ErrConflict before it is accepted (an
// account so taken, or another consent's settlement under way, the
// request approving, held, being captured or voided) spends neither its
// nonce nor its counter, as every card-signed record refused with
// ErrConflict before it is accepted (see refuse): the same consent sent
// again is refused the same way while the conflict lasts (ErrReplay or
// ErrClone first, once another record spent its nonce or passed its
// counter), and taken once it is over. A consent that an earlier version
// accepted to such a request, left approving, is refused with ErrConflict
// when it is sent again, before or after its nonce expired (or by
// RecoverSweep), as a hold the ledger refused: the request is pending
// again, or cancelled (see Pair), and the consent spent. A consent whose
// hold chain the ledger refuses because it holds one of the chain's IDs
// (a hold's, or with auto capture a post's) as a transfer that another
// client of the ledger wrote is ErrConflict too, as a refused hold,
// nothing moved (the holds of that chain that the ledger holds as the
// platform makes them, made before, are voided): the next consent's holds
// take the IDs of the next attempt. The same consent sent again (the same
// bytes: its hash is the request's ConsentHash) is answered as the first
// call would have been, also once its nonce has expired (the request's
// expiry plus the challenge lifetime). When its settlement has not
// finished (an error or a lost reply ended the first call; a ledger or a
// store out of reach for that long leaves the request approving) the
// retry finishes it. When the consent was settled, its hold made, its
// reply lost (not stored under the Idempotency-Key), the retry gets the
// request's view as a read shows it, moving no money and signing nothing:
// held, or captured (refunded or not) with the stored receipt, or, once
// the payment ended without a capture (its hold voided by a cancellation
// or at its expiry, which that read may settle), cancelled or expired.
// Its card's chain, revocation and signature are checked first, as for
// any consent: the consent of a card revoked since is ErrCard, and the
// request stays as it is (approving, for RecoverSweep). A consent whose
// hold the ledger refused is ErrReplay when sent again. Another consent
// to a request that is approving is ErrReplay once its nonce has expired,
// and another consent to a request that a consent settled is refused as
// before (ErrReplay for its spent nonce). A copy sent at the same moment
// as the first, which read the request pending, gets the reply of the
// first's settlement too.
func (p *Platform) Approve(ctx context.Context, req *ApproveRequest) (*PaymentView, error) {
	if req == nil {
		return nil, errNilRequest("approve")
	}
	var cs record.Consent
	c, r, err := p.openConsent(ctx, req.Consent, &cs, checkedPayment(ctx, req.Consent))
	if err != nil {
		return nil, err
	}
	if c.ID != r.PayerCardID {
		if err := p.verifyRecord(ctx, c, req.Consent, &cs); err != nil {
			return nil, unverified(err)
		}
		return nil, fmt.Errorf("%w: card %s is not the payer", ErrForbidden, c.ID)
	}
	a, err := p.check(ctx, c, req.Consent, &cs)
	ch := record.Hash(req.Consent)
	switch {
	case errors.Is(err, ErrReplay) && r.State == StateApproving && bytes.Equal(r.ConsentHash, ch[:]):
		// This very consent was accepted and its settlement did not
		// finish, and its nonce has expired since (a settlement may
		// stay unfinished longer than the nonce's lifetime): check
		// verified the card's chain, revocation and signature before
		// the nonce, and the retry finishes the settlement as below.
		return p.finishApproving(ctx, r)
	case (err == nil || errors.Is(err, ErrReplay)) && settledBy(r, ch[:]):
		// This very consent was accepted and settled, its hold made,
		// its reply lost (its nonce spent, or expired since): check
		// verified the card's chain, revocation and signature, and the
		// retry gets the request's view, as a read shows it.
		return p.currentView(ctx, r)
	case err != nil:
		return nil, err
	}
	var legs []leg // the legs whose accounts this call checked
	// The consent is accepted in the transaction that moves the request to
	// approving; a lost compare-and-set undoes both and reads again.
	// A store error while reading it back leaves the consent unspent, so
	// that the same consent may be sent again.
	var retries conflictRetries
	for {
		if r, err = p.current(ctx, r); err != nil {
			return nil, err
		}
		if r.State == StateApproving && bytes.Equal(r.ConsentHash, ch[:]) {
			// This very consent was accepted and its settlement did not
			// finish (the reply failed or was lost): the retry finishes
			// it, as RecoverSweep would, and gets the first call's reply.
			return p.finishApproving(ctx, r)
		}
		if settledBy(r, ch[:]) {
			// This very consent was settled since the request was read
			// (a copy sent at the same moment finished first).
			return p.view(ctx, r, nil)
		}
		if c.MerchantID != "" {
			// The payer, made a merchant's seller card since the
			// request was made, pays nothing (see notShopper).
			return nil, p.refuse(ctx, a, notShopper(c))
		}
		// A request that ended is told so before what the consent says
		// of it: no consent pays it, whatever its amount or hash, and the
		// payer learns that it is over rather than that its consent
		// differs. One of a settlement under way is told the mismatch
		// first, a refusal that lasts, not a conflict that ends.
		if final(r.State) {
			return nil, p.refuse(ctx, a, stateError(r.State))
		}
		if err := consentMatches(&cs, r); err != nil {
			return nil, p.refuse(ctx, a, err)
		}
		if r.State != StatePending {
			return nil, p.refuse(ctx, a, stateError(r.State))
		}
		if holdRefused(r) && bytes.Equal(r.ConsentHash, ch[:]) {
			// This very consent was refused: it is spent.
			return nil, fmt.Errorf("%w: the consent was refused and spent", ErrReplay)
		}
		if err := receiptFits(r); err != nil {
			// A request stored before CreateRequest checked its receipt:
			// refused before the money moves, not after.
			return nil, p.refuse(ctx, a, fmt.Errorf("%w: the request cannot be paid", err))
		}
		// The accounts of the legs are checked, and the payer's asset
		// wallets created, before the consent is accepted: one whose ID
		// the ledger holds with other fields refuses it while the
		// request is pending, rather than leave it approving with a
		// hold that can never be sent, or have the ledger take money or
		// assets out of an account that may go below zero.
		if legs, err = p.legs(ctx, r); err != nil {
			return nil, p.refuse(ctx, a, err)
		}
		if err := p.checkLegAccounts(ctx, r, legs); err != nil {
			return nil, p.refuse(ctx, a, err)
		}
		now, ok := p.nowUnexpired(r)
		if !ok { // expired while the legs were read and the wallets created
			continue
		}
		// A pairing's mark (VoidTo) on a pending request predates this
		// approval: a process from before the mark existed put a marked
		// request back to pending when its hold was refused. Only a
		// pairing since this approval began ends a refusal cancelled.
		r.State, r.UpdatedAt, r.VoidTo = StateApproving, now, ""
		r.Attempt++
		r.Consent, r.ConsentHash = req.Consent, ch[:]
		r.HoldExpiresAt = now.Add(p.ttl.hold)
		a.Update, a.From = r, StatePending
		if err = p.accept(ctx, a); err == nil {
			break
		}
		if errors.Is(err, ErrReplay) || errors.Is(err, ErrClone) {
			// A copy of this consent sent at the same moment may have
			// spent the nonce and counter first.
			return p.acceptedMeanwhile(ctx, r.ID, ch[:], err)
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		if err := retries.again(ctx, err); err != nil {
			return nil, err
		}
		if r, err = p.store.Payment(ctx, r.ID); err != nil {
			return nil, err
		}
	}
	if err := p.driveLegs(ctx, r, legs); err != nil {
		return nil, err
	}
	return p.view(ctx, r, nil)
}

// consentMatches checks that consent cs repeats request r: its hash, its
// amount and currency, and its payee (ErrMismatch).
func consentMatches(cs *record.Consent, r *PaymentRecord) error {
	switch {
	case !bytes.Equal(cs.RequestHash, r.RequestHash):
		return fmt.Errorf("%w: consent is for another version of the request", ErrMismatch)
	case cs.Amount != r.Amount || cs.Currency != r.Currency:
		return fmt.Errorf("%w: consent is for %d %s, the request for %d %s", ErrMismatch, cs.Amount, cs.Currency, r.Amount, r.Currency)
	case cs.MerchantID != r.MerchantID:
		return fmt.Errorf("%w: consent names another payee", ErrMismatch)
	}
	return nil
}

// openConsent is the step of Approve before it verifies the signature of
// consent msg, which CheckRecord takes too: it opens msg into cs
// (openCard) and returns the card that claims to have signed it and the
// request it names, read before the consent is verified, so that a
// consent to a request that does not exist is refused whoever signed it.
// read is the request as CheckRecord read it for the call
// (checkedPayment), which is taken rather than read again; nil has it
// read from the store. Its refusals are unverified.
func (p *Platform) openConsent(ctx context.Context, msg []byte, cs *record.Consent, read *PaymentRecord) (*CardRecord, *PaymentRecord, error) {
	c, err := p.openCard(ctx, msg, cs)
	if err != nil {
		return nil, nil, err
	}
	if read == nil {
		if read, err = p.store.Payment(ctx, ID(cs.RequestID)); err != nil {
			return nil, nil, unverified(err)
		}
	}
	return c, read, nil
}

// acceptedMeanwhile answers a consent whose acceptance failed with
// replayed, ErrReplay or ErrClone, after it read the request pending and
// holding no trace of it: when the request now holds this very consent
// (hash ch), a copy sent at the same moment was accepted first, and this
// call gets the reply of its settlement, finishing it if it is still
// under way (as a retried consent does): the view, or the ledger's
// refusal of the hold. Otherwise the consent was replayed and replayed is
// the answer.
func (p *Platform) acceptedMeanwhile(ctx context.Context, id ID, ch []byte, replayed error) (*PaymentView, error) {
	r, err := p.store.Payment(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case !bytes.Equal(r.ConsentHash, ch):
		return nil, replayed
	case holdRefused(r):
		return nil, p.holdRefusal(ctx, r)
	case r.State == StateApproving:
		return p.finishApproving(ctx, r)
	}
	return p.view(ctx, r, nil)
}

// settledBy reports whether r holds the payment that the consent whose
// hash is ch settled: r holds that consent (a refused hold leaves its hash
// without the consent, holdRefused) and its settlement finished, its hold
// made: the payment held (a capture or a void under way too), captured
// (refunded in part or in full, or not), or ended without a capture
// after it was held (cancelled or expired, its hold voided).
func settledBy(r *PaymentRecord, ch []byte) bool {
	switch r.State {
	case StateHeld, stateCapturing, stateVoiding, StateCaptured, StateCancelled, StateExpired:
		return r.Consent != nil && bytes.Equal(r.ConsentHash, ch)
	}
	return false
}

// currentView returns the view of r, without a consent nonce, as a read
// shows it (current settles an expiry that is due, as every read does),
// with the receipt stored, moving no money and signing nothing: the
// answer to the consent that settled r (settledBy), sent again once its
// reply was lost, and to a payment request, made or sent again.
func (p *Platform) currentView(ctx context.Context, r *PaymentRecord) (*PaymentView, error) {
	r, err := p.current(ctx, r)
	if err != nil {
		return nil, err
	}
	return p.view(ctx, r, nil)
}

// finishApproving answers a consent that r, approving, holds, whose
// settlement did not finish: it finishes that settlement (drive) and
// returns the view of r, or the error that ended the settlement (the
// ledger's refusal of the hold, say), as the call that accepted the
// consent would have answered.
func (p *Platform) finishApproving(ctx context.Context, r *PaymentRecord) (*PaymentView, error) {
	if err := p.drive(ctx, r); err != nil {
		return nil, err
	}
	return p.view(ctx, r, nil)
}

// Decline implements API: the payer ends a pending request. Declining a
// declined request again returns it. A decline at or after the request's
// expiry is ErrExpired, and the request expired (see current); the
// expiry is checked again at the time the decline is recorded, so a
// decline that reaches the expiry after it read the request pending is
// ErrExpired too.
func (p *Platform) Decline(ctx context.Context, token string, id ID) (*PaymentView, error) {
	c, err := p.auth(ctx, token)
	if err != nil {
		return nil, err
	}
	var retries conflictRetries
	for {
		r, err := p.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if c.ID != r.PayerCardID {
			return nil, fmt.Errorf("%w: only the payer declines", ErrForbidden)
		}
		switch r.State {
		case StateDeclined:
			return p.view(ctx, r, nil)
		case StatePending:
		default:
			return nil, stateError(r.State)
		}
		now, ok := p.nowUnexpired(r)
		if !ok {
			continue
		}
		r.State, r.UpdatedAt = StateDeclined, now
		err = p.store.UpdatePayment(ctx, r, StatePending)
		if errors.Is(err, ErrConflict) {
			if err := retries.again(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return p.view(ctx, r, nil)
	}
}

// Cancel implements API: a seller card of the merchant withdraws a pending
// request, or a held payment, whose hold is voided. Cancelling a cancelled
// request again returns it; cancelling one whose void is under way (a
// cancellation whose reply was lost) finishes the void and answers from
// the final state. A cancellation at or after the hold's expiry is
// ErrExpired, as a capture is: the hold is voided and the request expired
// (see current); so is one of a pending request at or after its expiry,
// and the request is expired. The expiry is checked again at the time
// the cancellation is recorded (its move to cancelled or voiding): a
// cancellation that reaches the expiry after it read the request is
// ErrExpired too, although the ledger, whose timeout is in whole
// seconds, may keep the hold up to a second longer. A cancellation that
// finds the hold posted (a capture of the payment that the ledger made
// while the request was recorded held: see Capture) is ErrFinal: the
// request ends captured, for the amount posted, with its receipt.
func (p *Platform) Cancel(ctx context.Context, token string, id ID) (*PaymentView, error) {
	c, err := p.auth(ctx, token)
	if err != nil {
		return nil, err
	}
	var retries conflictRetries
	for {
		r, err := p.load(ctx, id)
		if err != nil {
			return nil, err
		}
		if c.MerchantID != r.MerchantID {
			return nil, fmt.Errorf("%w: only the merchant cancels", ErrForbidden)
		}
		now, ok := p.nowUnexpired(r)
		if !ok {
			continue
		}
		from := r.State
		switch r.State {
		case StateCancelled:
			return p.view(ctx, r, nil)
		case StatePending:
			r.State = StateCancelled
		case StateHeld:
			r.State, r.VoidTo = stateVoiding, StateCancelled
		case stateVoiding:
			// A cancellation whose call ended before its outcome was
			// recorded (its reply lost): finish it now and answer from
			// the final state. (load finishes an expiry's.)
			if err := p.drive(ctx, r); err != nil {
				return nil, err
			}
			continue
		default:
			return nil, stateError(r.State)
		}
		r.UpdatedAt = now
		err = p.store.UpdatePayment(ctx, r, from)
		if errors.Is(err, ErrConflict) {
			if err := retries.again(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := p.drive(ctx, r); err != nil {
			return nil, err
		}
		if r.State != StateCancelled {
			continue // captured: the holds were posted (see drive)
		}
		return p.view(ctx, r, nil)
	}
}

// Capture implements API: a seller card of the merchant captures a held
// payment, all of it (Amount zero) or part of it, the rest being released.
// Capturing more than is held is ErrLimit; capturing a captured payment
// again with the same amount returns it, and so does capturing one whose
// capture of the same amount is under way (a capture whose reply was
// lost), which finishes it first. A card that is not a seller card of the
// merchant is ErrForbidden. A payment that is not held is refused as its
// state says: ErrConflict while it is pending or another settlement of it
// is under way (a consent's, a cancellation's, a capture of another amount);
// ErrFinal once captured (for another amount), declined or cancelled;
// ErrExpired once expired. A capture at or after the hold's expiry
// is ErrExpired: the hold is voided and the request expired, as ExpireDue
// would (see current). The expiry is checked again at the time the capture
// is recorded (its move to capturing): a capture that reaches the expiry
// after it read the payment held is ErrExpired too, although the ledger,
// whose timeout is in whole seconds, may keep the hold up to a second
// longer. A payment of a request stored before CreateRequest checked the
// length of its receipt (see receiptFits), whose receipt would be too long
// to sign, is refused a capture with ErrInvalid before any money moves: it
// stays held, and its hold is voided when the merchant cancels it or when
// it expires. A capture with an account of the payment that the ledger
// holds closed, and none that it does not hold, is ErrConflict: the
// request stays held, nothing posted, and a capture once the account is
// reopened succeeds, unless the ledger itself refused the posts (the account
// closed after the platform looked, or the hold lost by the ledger: see
// post), which refuses every later capture; so does a post's ID that the
// ledger holds as a transfer that is not that post (one that another client
// of the ledger wrote) and that neither posts nor voids a hold of the
// payment, its other holds still pending: the request stays held, and its
// hold can be cancelled or expire. When the transfers under the post IDs, or
// transfers under other IDs, posted or voided the holds (the holds moved,
// not by the platform; also when another post's ID is taken as above), the
// capture is ErrInternal and the request is left capturing (shown held),
// which no later cancellation (ErrConflict), capture or expiry ends (see
// post). A capture whose posts the ledger made before the account was
// closed, its outcome not recorded, is finished when sent again (or by
// RecoverSweep): the request is captured. The money moves once: when a
// capture driven twice (sent again, or by RecoverSweep) is recorded refused
// by one call, the account closed, while the account is reopened and the
// other makes the posts, that other records the request capturing again and
// ends it captured with its receipt (the refused call's ErrConflict stands);
// a cancellation or the hold's expiry that meets such posts ends it captured
// too. A capture of another amount than posts made so is ErrFinal, the
// request captured for the amount posted. A held request can be cancelled
// whatever its accounts.
func (p *Platform) Capture(ctx context.Context, token string, req *CaptureRequest) (*PaymentView, error) {
	if req == nil {
		return nil, errNilRequest("capture")
	}
	c, err := p.auth(ctx, token)
	if err != nil {
		return nil, err
	}
	var retries conflictRetries
	for {
		r, err := p.load(ctx, req.RequestID)
		if err != nil {
			return nil, err
		}
		if c.MerchantID != r.MerchantID {
			return nil, fmt.Errorf("%w: only the merchant captures", ErrForbidden)
		}
		amount := req.Amount
		if amount == 0 {
			amount = r.Amount
		}
		switch {
		case r.State == StateCaptured && r.Captured == amount:
			return p.view(ctx, r, nil)
		case r.State == stateCapturing && r.CaptureAmount == amount:
			// This capture, whose call ended before its outcome was
			// recorded (its reply lost): finish it now.
			if err := p.drive(ctx, r); err != nil {
				return nil, err
			}
			continue
		case r.State != StateHeld:
			// A hold that ran out (the ledger may keep it up to a second
			// longer, and the sweep may not have come yet) was voided and
			// the request expired by load: no capture.
			return nil, stateError(r.State)
		case amount > r.Amount:
			return nil, fmt.Errorf("%w: %d is more than the %d held", ErrLimit, amount, r.Amount)
		}
		if err := receiptFits(r); err != nil {
			// A request stored before CreateRequest checked its receipt:
			// refused before the money moves, not after.
			return nil, fmt.Errorf("%w: the payment cannot be captured; its hold is voided when it is cancelled or expires", err)
		}
		now, ok := p.nowUnexpired(r)
		if !ok {
			continue
		}
		r.State, r.CaptureAmount, r.UpdatedAt = stateCapturing, amount, now
		err = p.store.UpdatePayment(ctx, r, StateHeld)
		if errors.Is(err, ErrConflict) {
			if err := retries.again(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := p.drive(ctx, r); err != nil {
			return nil, err
		}
		if r.State != StateCaptured || r.Captured != amount {
			continue // captured for another amount made before (see post)
		}
		return p.view(ctx, r, nil)
	}
}
