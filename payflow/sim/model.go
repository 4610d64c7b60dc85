package sim

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// card is a phone with its virtual CA-SIM, and what the phone knows.
type card struct {
	name     string
	id       string
	v        *simcardtest.Virtual
	secret   []byte
	serial   *big.Int
	m        *merchant // set for a seller card
	token    string
	tokenExp time.Time
	revoked  bool
	pinLeft  int // PIN tries left, as the card should count them

	// The wallet as the model has it (shopper cards).
	posted, held uint64
	tickets      uint64
}

// merchant is a merchant with one seller card, and its balances as the
// model has them.
type merchant struct {
	id       string
	name     string
	manual   bool
	seller   *card
	posted   uint64
	incoming uint64
	tickets  uint64
}

// purchase is a payment request as the phones know it.
type purchase struct {
	id        payflow.ID
	session   payflow.ID
	shopper   *card
	m         *merchant
	amount    uint64
	tickets   uint64
	msg       []byte // the seller-signed request
	hash      [32]byte
	expiresAt time.Time
	state     string // last state the phones know
	// consents holds the hashes of every consent the payer's card signed
	// for this request; settledBy is the one that settled it, once the
	// phone knows.
	consents      map[[32]byte]bool
	settledBy     []byte
	holdExpiresAt time.Time
	captured      uint64
	refunded      uint64
	refunds       []*refund
}

type refund struct {
	id     payflow.ID
	msg    []byte
	amount uint64
	view   *payflow.RefundView
}

// catalog of every merchant.
var catalog = []payflow.CatalogItem{
	{SKU: "apple", Name: "Apple", UnitPrice: 120},
	{SKU: "bread", Name: "Sourdough bread", UnitPrice: 450},
	{SKU: "cheese", Name: "Cheese 200 g", UnitPrice: 780},
	{SKU: "comte", Name: "Comté 200 g", UnitPrice: 910},
}

// effective is the state the platform must show for p now: a pending
// request past its lifetime is expired, and one before it whose seller
// card or shopper card is revoked cancelled (the platform cancels it at
// the first call that reads it; every such call of the phones moves the
// model there); a held payment past its hold's end is expired (its hold
// voided at the first call that reads it, which expire runs for every one
// but the request in doubt after a crash).
func (w *world) effective(p *purchase) string {
	switch {
	case p.state == payflow.StatePending && !w.now.Before(p.expiresAt),
		p.state == payflow.StateHeld && !w.now.Before(p.holdExpiresAt):
		return payflow.StateExpired
	case p.state == payflow.StatePending && (p.m.seller.revoked || p.shopper.revoked):
		return payflow.StateCancelled
	}
	return p.state
}

// transition applies to the model the money movements of p going from its
// state to next, with captured the amount captured when next is captured.
func (w *world) transition(p *purchase, next string, captured uint64) error {
	from := p.state
	s, m := p.shopper, p.m
	switch {
	case from == next:
		return nil
	case from == payflow.StatePending && next == payflow.StateCaptured:
		s.posted -= p.amount
		m.posted += p.amount
		s.tickets += p.tickets
		m.tickets -= p.tickets
		p.captured = p.amount
	case from == payflow.StatePending && next == payflow.StateHeld:
		s.held += p.amount
		m.incoming += p.amount
	case from == payflow.StateHeld && next == payflow.StateCaptured:
		s.held -= p.amount
		m.incoming -= p.amount
		s.posted -= captured
		m.posted += captured
		p.captured = captured
	case from == payflow.StateHeld && (next == payflow.StateCancelled || next == payflow.StateExpired):
		s.held -= p.amount
		m.incoming -= p.amount
	case from == payflow.StatePending && (next == payflow.StateCancelled || next == payflow.StateExpired || next == payflow.StateDeclined):
	default:
		return w.failf("request %v went from %s to %s", p.id, from, next)
	}
	p.state = next
	return nil
}

// sellerPaired applies to the model the seller card's pairing proof in
// session id, accepted now: the session's requests pending and unexpired
// are cancelled.
func (w *world) sellerPaired(id payflow.ID) error {
	for _, p := range w.purchases {
		if p.session == id && p.state == payflow.StatePending && w.now.Before(p.expiresAt) {
			w.count("cancelled-by-pairing")
			w.logf("pairing again cancels %d", w.idx(p))
			if err := w.transition(p, payflow.StateCancelled, 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// stateErr is the error the platform gives for an action that state
// forbids.
func stateErr(state string) error {
	switch state {
	case payflow.StateExpired:
		return payflow.ErrExpired
	case payflow.StateCaptured, payflow.StateDeclined, payflow.StateCancelled:
		return payflow.ErrFinal
	}
	return payflow.ErrConflict
}

// sentinels are the payflow errors an outcome is compared by.
var sentinels = []error{
	payflow.ErrInvalid, payflow.ErrUnauthorized, payflow.ErrForbidden, payflow.ErrNotFound,
	payflow.ErrSignature, payflow.ErrCard, payflow.ErrClone, payflow.ErrReplay, payflow.ErrExpired,
	payflow.ErrFinal, payflow.ErrMismatch, payflow.ErrFunds, payflow.ErrLimit, payflow.ErrRateLimited,
	payflow.ErrConflict, payflow.ErrInFlight, payflow.ErrKeyReuse, payflow.ErrUnavailable, payflow.ErrInternal,
}

// kind names the sentinel err matches, "ok" for nil.
func kind(err error) string {
	if err == nil {
		return "ok"
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "other: " + err.Error()
}

// describe is kind(err) with err's text.
func describe(err error) string {
	if err == nil {
		return "ok"
	}
	return kind(err) + " (" + err.Error() + ")"
}

// expect fails unless err matches want (nil: no error).
func (w *world) expect(what string, err, want error) error {
	if want == nil && err == nil {
		return nil
	}
	if want != nil && errors.Is(err, want) {
		return nil
	}
	return w.failf("%s: got %s, want %s", what, describe(err), kind(want))
}

// receiptSigned checks msg, a receipt (what names it), and decodes it
// into rc: it carries the certificate chain of a receipt key that the
// platform had, was signed by that key, and at its time (its settlement
// time) the platform signed with that key; and a phone verifies it as it
// does offline (pki.Verifier.VerifyReceipt: by the chain it carries, or
// Info's, w.chain, for one without), unless that certificate was revoked,
// which the phone then refuses with pki.ErrRevoked.
func (w *world) receiptSigned(what string, msg []byte, rc *record.Receipt) error {
	sr, err := record.DecodeReceipt(msg)
	if err != nil {
		return w.failf("%s: %v", what, err)
	}
	chain := sr.Chain()
	i := slices.IndexFunc(w.receiptKeys, func(c *receiptKey) bool { return slices.EqualFunc(c.chain, chain, bytes.Equal) })
	if i < 0 {
		return w.failf("%s carries a chain of %d certificates that the platform never had", what, len(chain))
	}
	k := w.receiptKeys[i]
	if err := sr.Verify(&k.key.PublicKey, rc); err != nil {
		return w.failf("%s was not signed by the key of the chain it carries: %v", what, err)
	}
	at := int64(rc.Time)
	if at < k.from.UnixMilli() || !k.until.IsZero() && at > k.until.UnixMilli() {
		return w.failf("%s signed at %v by a key that the platform signed with from %v until %v",
			what, time.UnixMilli(at).UTC(), k.from, k.until)
	}
	_, err = w.platVerifier.VerifyReceipt(msg, w.chain, new(record.Receipt))
	switch {
	case k.revoked:
		if !errors.Is(err, pki.ErrRevoked) {
			return w.failf("%s of a revoked certificate: the phone got %s, want it revoked", what, describe(err))
		}
		w.count("receipt-of-revoked-key")
	case err != nil:
		return w.failf("%s does not verify: %v", what, err)
	case k != w.receiptKeys[len(w.receiptKeys)-1]:
		w.count("receipt-of-replaced-key")
	}
	return nil
}

// verifyReceipt checks a payment receipt of p (receiptSigned) and that it
// names p, a consent its payer's card signed for it and amount.
func (w *world) verifyReceipt(p *purchase, msg []byte, amount uint64) error {
	var rc record.Receipt
	if err := w.receiptSigned(fmt.Sprintf("receipt of %v", p.id), msg, &rc); err != nil {
		return err
	}
	var ch [32]byte
	copy(ch[:], rc.ConsentHash)
	switch {
	case rc.Kind != record.ReceiptPayment:
		return w.failf("receipt of %v is of kind %v", p.id, rc.Kind)
	case string(rc.RequestID) != string(p.id[:]) || string(rc.RequestHash) != string(p.hash[:]):
		return w.failf("receipt of %v names another request", p.id)
	case len(rc.ConsentHash) != 32 || !p.consents[ch]:
		return w.failf("receipt of %v names a consent its payer's card never signed", p.id)
	case rc.Amount != amount || rc.Currency != currency:
		return w.failf("receipt of %v says %d %s, want %d %s", p.id, rc.Amount, rc.Currency, amount, currency)
	case rc.PayerCardID != p.shopper.id || rc.MerchantID != p.m.id:
		return w.failf("receipt of %v names other parties", p.id)
	}
	var legs uint64
	for _, l := range rc.Legs {
		if l.Asset != ticketAsset {
			return w.failf("receipt of %v has a leg of %q", p.id, l.Asset)
		}
		legs += l.Amount
	}
	if legs != p.tickets {
		return w.failf("receipt of %v moves %d tickets, want %d", p.id, legs, p.tickets)
	}
	return nil
}

// verifyRefundReceipt checks a refund receipt (receiptSigned) and that
// it names r and p.
func (w *world) verifyRefundReceipt(p *purchase, r *refund, v *payflow.RefundView) error {
	var rc record.Receipt
	if err := w.receiptSigned(fmt.Sprintf("refund receipt of %v", r.id), v.Receipt, &rc); err != nil {
		return err
	}
	h := record.Hash(r.msg)
	switch {
	case rc.Kind != record.ReceiptRefund:
		return w.failf("refund receipt of %v is of kind %v", r.id, rc.Kind)
	case string(rc.RefundID) != string(r.id[:]) || string(rc.RefundHash) != string(h[:]):
		return w.failf("refund receipt of %v names another refund", r.id)
	case string(rc.RequestID) != string(p.id[:]) || rc.Amount != r.amount:
		return w.failf("refund receipt of %v says %d of %x", r.id, rc.Amount, rc.RequestID)
	}
	return nil
}

// newCard personalises a virtual card with an ICCID and keys from the
// seed and enrols it.
func (w *world) newCard(name string) (*card, error) {
	var digits uint64
	for digits < 1e15 {
		digits = w.rng.Uint64N(1e16)
	}
	iccid, err := pki.CompleteICCID(fmt.Sprintf("89%016d", digits))
	if err != nil {
		return nil, err
	}
	v, err := simcardtest.NewCard(w.issuer, simcardtest.Options{ICCID: iccid, Applet: applet.Options{Rand: w.bytes}})
	if err != nil {
		return nil, err
	}
	c := &card{name: name, id: iccid, v: v, secret: v.Enrolment.AdvertisingSecret, pinLeft: simcard.DefaultTries}
	if c.serial, err = serial(v.Enrolment.Chain[0]); err != nil {
		return nil, err
	}
	var id string
	if err := w.setUp("enrol-card", func() (err error) {
		id, err = w.plat.EnrollCard(w.ctx, v.Enrolment.Chain, c.secret, name)
		return err
	}); err != nil {
		return nil, err
	}
	if id != iccid {
		return nil, fmt.Errorf("sim: enrolled as %s, want %s", id, iccid)
	}
	return c, nil
}

// setUpWrites is how many of a set-up call's next store writes the one
// that a store error hits is drawn among: the most that one makes.
const setUpWrites = 2

// setUp runs an operator's call that sets the world up (an enrolment of a
// card or a merchant, a catalog, an asset, an issue, a wallet, a funding),
// one time in ten with one of its store writes failing, made or not
// (StoreError). Each of these calls is idempotent (the same card, merchant,
// catalog, asset or wallet again; an issue or a funding again under its
// ID): one that a failure left without a verdict (noVerdict) is run again,
// which must then succeed whatever the failed write left, and then the
// world is as if nothing had failed (check: issued and funded once). A
// call that fails otherwise is a *Failure (what names it) wrapping its
// error.
func (w *world) setUp(what string, call func() error) error {
	err := w.sendFailing(0.1, setUpWrites, func(err error) bool {
		w.count("store-error-at-" + what)
		return noVerdict(err)
	}, call)
	if err != nil {
		return &Failure{Seed: w.opts.Seed, Step: w.step, Detail: "set-up " + what, Err: err}
	}
	return nil
}

// populate enrols the shoppers and the merchants and funds them.
func (w *world) populate() error {
	for i, manual := range []bool{false, true} {
		seller, err := w.newCard(fmt.Sprintf("Till %d", i+1))
		if err != nil {
			return err
		}
		m := &merchant{id: fmt.Sprintf("shop-%d", i+1), name: fmt.Sprintf("Shop %d", i+1), manual: manual, seller: seller}
		seller.m = m
		if err := w.setUp("enrol-merchant", func() error {
			return w.plat.EnrollMerchant(w.ctx, payflow.Merchant{
				ID: m.id, Name: m.name, Currency: currency, ManualCapture: manual, SellerCardIDs: []string{seller.id},
			})
		}); err != nil {
			return err
		}
		if err := w.setUp("set-catalog", func() error { return w.plat.SetCatalog(w.ctx, m.id, catalog) }); err != nil {
			return err
		}
		w.merchants = append(w.merchants, m)
	}
	if err := w.setUp("register-asset", func() error { return w.plat.RegisterAsset(w.ctx, ticketAsset, ticketLedger) }); err != nil {
		return err
	}
	m := w.merchants[0]
	n := 5 + w.rng.Uint64N(10)
	issue := w.newID()
	if err := w.setUp("issue", func() error { return w.plat.Issue(w.ctx, issue, m.id, ticketAsset, n) }); err != nil {
		return err
	}
	m.tickets += n
	w.issued += n
	for i := range w.opts.Shoppers {
		c, err := w.newCard(fmt.Sprintf("Shopper %d", i+1))
		if err != nil {
			return err
		}
		if err := w.setUp("open-account", func() error { return w.plat.OpenAccount(w.ctx, c.id, currency) }); err != nil {
			return err
		}
		amount := 500 + w.rng.Uint64N(5000)
		funding := w.newID()
		if err := w.setUp("fund", func() error { return w.plat.Fund(w.ctx, funding, c.id, currency, amount) }); err != nil {
			return err
		}
		c.posted += amount
		w.funded += amount
		w.shoppers = append(w.shoppers, c)
	}
	return nil
}
