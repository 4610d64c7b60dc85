package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// PollInterval is how often a phone asks the platform again while it waits
// for the other phone.
const PollInterval = 50 * time.Millisecond

// SettleWait is how long a seller's phone waits for a settlement of its
// request under way, which the cloud answers a cancellation of the request
// with (payflow.PhoneOptions.SettleWait: Withdraw, and a request sent
// again, AskAgain): payflow.DefaultSettleWait. A test sets it before it
// makes phones, shorter, so that a phone gives up on a settlement that
// the cloud holds for good without spending ten seconds on it; a program
// never changes it. It must be positive.
var SettleWait = payflow.DefaultSettleWait

// WallClock is the clock of the phones and of their radio: the epoch of
// their EIDs, in their adverts and pairing proofs, and the expiry of the
// sessions they wait in. A test sets it before it makes phones.
var WallClock = time.Now

// Phone is the app of a shopper or a seller: payflow's phone logic
// (payflow.Shopper or payflow.Seller) driving the card, with the phone's
// radio and the screen it prints on.
type Phone struct {
	Party   *Party
	Card    *Card
	API     payflow.API
	Screen  *Screen
	Station *Station
	Scanner *Listener
	// Shopper or Seller is the phone logic, after the party's role.
	Shopper *payflow.Shopper
	Seller  *payflow.Seller
	// Token, Name and MerchantID are set by Login; Token is renewed
	// when a session read finds it expired (session).
	Token, Name, MerchantID string
	// PUK is the PUK that the shopper types when the card's PIN is
	// blocked: Approve unblocks the card with it, the PIN it approves
	// with becoming the card's PIN. Empty, Approve fails on a blocked PIN.
	PUK string

	// consents counts the shopper's calls of the API's Approve: the
	// consents the phone sent, or set out to send (consentCounter).
	consents atomic.Int64
}

// consentCounter is the API of a shopper's phone, which counts the calls
// of its Approve (Phone.consents), so that the phone tells an approval
// whose consent may have reached the platform from one that never left
// it (RunShopper).
type consentCounter struct {
	payflow.API
	n *atomic.Int64
}

func (a consentCounter) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	a.n.Add(1)
	return a.API.Approve(ctx, req)
}

// phone is what Shopper and Seller share.
type phone interface {
	Login(ctx context.Context) (*payflow.LoginResponse, error)
	Peers(ctx context.Context) ([]payflow.QueueEntry, error)
	Select(ctx context.Context, eid adv.EID) (*payflow.Confirmation, error)
	WaitPaired(ctx context.Context) (*payflow.Confirmation, error)
	Leave() error
	Queue() *queue.Queue
}

// NewPhone returns the phone of party with card, talking to api, printing
// on screen, trusting the root certificate rootDER for receipts. Its
// station sends the advert of its app, with the flags that the app sets
// (Station.Advert): assets when party has them (Party.Assets).
func NewPhone(party *Party, card *Card, api payflow.API, screen *Screen, rootDER []byte) (*Phone, error) {
	v, err := ReceiptVerifier(rootDER)
	if err != nil {
		return nil, err
	}
	opts := payflow.PhoneOptions{API: api, Verifier: v, PollInterval: PollInterval, SettleWait: SettleWait, Now: func() time.Time { return WallClock() }, Assets: party.Assets}
	p := &Phone{Party: party, Card: card, API: api, Screen: screen}
	var q *queue.Queue
	var app advertiser
	if party.Role == adv.Seller {
		if p.Seller, err = payflow.NewSeller(card.Card, opts); err != nil {
			return nil, err
		}
		q, app = p.Seller.Queue(), p.Seller
	} else {
		opts.API = consentCounter{API: api, n: &p.consents}
		if p.Shopper, err = payflow.NewShopper(card.Card, opts); err != nil {
			return nil, err
		}
		q, app = p.Shopper.Queue(), p.Shopper
	}
	p.Station = &Station{Party: party, Card: card, app: app}
	p.Scanner = &Listener{Party: party, Queue: q}
	return p, nil
}

func (p *Phone) app() phone {
	if p.Seller != nil {
		return p.Seller
	}
	return p.Shopper
}

// EID returns the phone's EID at now, as its card broadcasts it.
func (p *Phone) EID(now time.Time) (adv.EID, error) {
	b, err := p.Station.Advert(now)
	if err != nil {
		return adv.EID{}, err
	}
	pk, err := adv.Parse(b)
	if err != nil {
		return adv.EID{}, err
	}
	return pk.EID, nil
}

// Login proves the card to the platform.
func (p *Phone) Login(ctx context.Context) error {
	r, err := p.app().Login(ctx)
	if err != nil {
		return err
	}
	p.Token, p.Name, p.MerchantID = r.Token, r.DisplayName, r.MerchantID
	p.Screen.Printf("%s logged in with card %s (the card signed the cloud's challenge)", r.DisplayName, r.CardID)
	return nil
}

// ServiceQueue shows the service queue: the peers heard nearby that the
// cloud could name, nearest first, each with the strength that the queue
// orders them by (payflow.QueueEntry.Level, the smoothed RSSI held in a
// dead band), so that the list reads in order, and the flags of its latest
// advert that the queue holds (queue.Peer.Packet, flagMarks): "[busy]"
// for a peer in a payment session with another phone, which the user may
// still tap, and "[assets]" for one that exchanges e-tickets and other
// assets.
func (p *Phone) ServiceQueue(ctx context.Context) ([]payflow.QueueEntry, error) {
	entries, err := p.app().Peers(ctx)
	if err != nil {
		return nil, err
	}
	what := "shopper"
	if p.Party.Role == adv.Shopper {
		what = "seller"
	}
	if len(entries) != 1 {
		what += "s"
	}
	p.Screen.Printf("Service queue: %d %s nearby, nearest first", len(entries), what)
	flags := make(map[adv.EID]adv.Flags)
	for _, pe := range p.Scanner.Queue.Snapshot() {
		flags[pe.Packet.EID] = pe.Packet.Flags
	}
	for i, e := range entries {
		p.Screen.Printf("  %d. %-16s %4.0f dBm  (EID %s…)%s", i+1, e.Name, e.Level, e.EID.String()[:8], flagMarks(flags[e.EID]))
	}
	return entries, nil
}

// flagMarks returns what a line of the service queue shows of the flags
// of a peer's advert (PROTOCOL.md §1.1): "  [busy]", "  [assets]",
// "  [busy, assets]", or nothing for none.
func flagMarks(f adv.Flags) string {
	var marks []string
	if f&adv.FlagBusy != 0 {
		marks = append(marks, "busy")
	}
	if f&adv.FlagAssets != 0 {
		marks = append(marks, "assets")
	}
	if len(marks) == 0 {
		return ""
	}
	return "  [" + strings.Join(marks, ", ") + "]"
}

// Choose finds the entry named name, as the user taps it: of several (a
// peer heard under its EIDs of two epochs, the one before still kept in
// the queue after its EID rotated), the newest (newest).
func (p *Phone) Choose(entries []payflow.QueueEntry, name string) (payflow.QueueEntry, error) {
	i, ok := p.newest(entries, name)
	if !ok {
		return payflow.QueueEntry{}, fmt.Errorf("demo: %q is not in the service queue", name)
	}
	p.Screen.Printf("%s taps %d. %s", p.Party.Display, i+1, name)
	return entries[i], nil
}

// newest returns the index of the entry named name whose EID the phone's
// queue first heard last (the first of them when the queue tells none
// apart), and whether there is one.
func (p *Phone) newest(entries []payflow.QueueEntry, name string) (int, bool) {
	first := make(map[adv.EID]time.Time)
	for _, pe := range p.Scanner.Queue.Snapshot() {
		first[pe.Packet.EID] = pe.FirstSeen
	}
	best := -1
	for i, e := range entries {
		if e.Name == name && (best < 0 || first[e.EID].After(first[entries[best].EID])) {
			best = i
		}
	}
	return best, best >= 0
}

// Confirm selects e: the card signs a proof over a fresh challenge naming
// e's EID, and the confirmation screen shows e's name and the pairing code
// (which the phone checked against the one it computed from both EIDs).
func (p *Phone) Confirm(ctx context.Context, e payflow.QueueEntry) (*payflow.Confirmation, error) {
	c, err := p.app().Select(ctx, e.EID)
	if err != nil {
		return nil, err
	}
	p.Screen.Printf("Confirmation: %s, pairing code %s (the other screen must show the same)", c.Name, c.PairingCode)
	return c, nil
}

// AwaitPaired waits until both cards have confirmed and shows the pairing
// code of the session.
func (p *Phone) AwaitPaired(ctx context.Context) (*payflow.Confirmation, error) {
	c, err := p.app().WaitPaired(ctx)
	if err != nil {
		return nil, err
	}
	p.Screen.Printf("Paired with %s: the cloud confirms pairing code %s (session %s)", c.Name, c.PairingCode, Short(c.SessionID))
	return c, nil
}

// Done is the user's "done" once the purchase with peer ended (its
// receipt shown, or declined, cancelled or expired): the phone leaves
// the session (payflow's Leave), so that its advert no longer says busy
// (Station.Advert), and shows so. While the payment request on its
// screen is not final (pending or held), it fails with
// payflow.ErrPaymentUnderWay, showing nothing, the phone still in the
// session.
func (p *Phone) Done(peer string) error {
	if err := p.app().Leave(); err != nil {
		return err
	}
	p.Screen.Printf("Done with %s: the phone leaves the session, and its advert no longer says busy", peer)
	return nil
}

// Charge is the seller's till: it shows the basket priced from the
// merchant's catalog (Price) and has the card sign the payment request
// (Ask). legs are assets that go to the shopper with the payment. A
// payment that Request reports paid instead of asking (a
// payflow.PaidError, as for a request of the till's earlier run in the
// same session that the shopper paid) is shown as a sale already paid, and
// the card signs a new request for the basket.
func (p *Phone) Charge(ctx context.Context, shopper string, basket []Item, legs []record.Leg) (*payflow.PaymentView, error) {
	sale, err := p.Price(ctx, shopper, basket, legs)
	if err != nil {
		return nil, err
	}
	return p.Ask(ctx, sale)
}

// Sale is a basket priced for a shopper (Price), for the card to ask
// payment of (Ask).
type Sale struct {
	Shopper string
	Charge  payflow.Charge
	// Counter is the card's signature counter when the basket was priced:
	// a payment request that the card signed since, with a higher counter,
	// is of this sale.
	Counter uint64
}

// Price shows the basket for shopper priced from the merchant's catalog,
// which the phone reads from the platform once, and returns the sale of
// it, with legs, the assets that go to the shopper with the payment. It
// shows nothing when the catalog cannot be read, and fails with an item
// that the catalog lacks.
func (p *Phone) Price(ctx context.Context, shopper string, basket []Item, legs []record.Leg) (*Sale, error) {
	cat, err := p.Seller.Catalog(ctx)
	if err != nil {
		return nil, err
	}
	counter, err := p.Card.Counter()
	if err != nil {
		return nil, err
	}
	prices := make(map[string]payflow.CatalogItem, len(cat.Items))
	for _, it := range cat.Items {
		prices[it.SKU] = it
	}
	sale := &Sale{Shopper: shopper, Charge: payflow.Charge{Legs: legs}, Counter: counter}
	var total uint64
	p.Screen.Printf("Basket for %s:", shopper)
	for _, it := range basket {
		ci, ok := prices[it.SKU]
		if !ok {
			return nil, fmt.Errorf("demo: %q is not in the catalog", it.SKU)
		}
		sale.Charge.Items = append(sale.Charge.Items, record.Item{SKU: it.SKU, Quantity: it.Quantity})
		total += ci.UnitPrice * it.Quantity
		p.Screen.Printf("  %2d × %-22s %8s", it.Quantity, ci.Name, Amount(ci.UnitPrice*it.Quantity, cat.Currency))
	}
	for _, l := range legs {
		p.Screen.Printf("  %2d × %-22s (delivered with the payment)", l.Amount, l.Asset)
	}
	p.Screen.Printf("  Total %29s", Money(total, cat.Currency))
	return sale, nil
}

// Ask has the card sign the payment request of sale and sends it to the
// platform (payflow.Seller.Request), which records it for the shopper to
// approve. A payment that Request reports paid instead of asking (a
// *payflow.PaidError) of a request that the card signed before sale was
// priced, as one of the till's earlier run in the same session that the
// shopper paid, is shown as an earlier sale already paid, and the card
// signs a new request for sale; one of a request of sale itself
// (AskAgain) fails Ask with the *payflow.PaidError.
func (p *Phone) Ask(ctx context.Context, sale *Sale) (*payflow.PaymentView, error) {
	v, err := p.Seller.Request(ctx, sale.Charge)
	// A payment that the till did not see, such as one to a request of its
	// earlier run in the same session, is shown before the card signs a
	// new request for sale.
	for {
		paid, ok := errors.AsType[*payflow.PaidError](err)
		if !ok || p.ofSale(paid.Payment, sale) {
			break
		}
		p.Screen.Printf("Request %s, of an earlier sale, was already paid (%s); the card signs a new request for this basket", Short(paid.Payment.ID), Money(paid.Payment.Captured, paid.Payment.Currency))
		v, err = p.Seller.Request(ctx, sale.Charge)
	}
	if err != nil {
		return nil, err
	}
	p.Screen.Printf("The card signed payment request %s; waiting for %s to approve", Short(v.ID), sale.Shopper)
	return v, nil
}

// AskAgain is Ask of sale again after an Ask that failed with err,
// payflow.ErrUnavailable (the cloud did not answer: it may be restarting)
// or payflow.ErrInFlight (the cloud did not answer in time, and still
// worked on the request when the client's retries ran out), which the
// line it shows first tells (showAgain). The phone first sends the
// payment request that got no answer again, as the card signed it
// (payflow.Seller.Request): one that the cloud recorded and that is still
// payable is cancelled and the card signs a new one; one that was paid
// meanwhile, also by an approval that the cloud was settling as the phone
// cancelled it (the phone waits for that settlement to end, for
// SettleWait at most), goes on screen with its receipt
// (AwaitSettled), and AskAgain fails with a *payflow.PaidError naming it,
// asking nothing more. A settlement that lasts longer fails AskAgain with
// the cloud's payflow.ErrConflict, asking nothing, and the request stays
// to be sent again: an AskAgain after that ErrConflict (err) does, the
// line it shows saying that the cloud still settles an approval.
func (p *Phone) AskAgain(ctx context.Context, sale *Sale, err error) (*payflow.PaymentView, error) {
	p.showAgain("payment request", err)
	return p.Ask(ctx, sale)
}

// showAgain shows that the phone sends its call what again, after an
// attempt that failed with err: that the cloud still works on it
// (payflow.ErrInFlight), that it still settles an approval of it
// (payflow.ErrConflict of a cancellation, AskAgain), or that it did not
// answer it.
func (p *Phone) showAgain(what string, err error) {
	switch {
	case errors.Is(err, payflow.ErrInFlight):
		p.Screen.Printf("The cloud is still working on the %s: sending it again", what)
	case errors.Is(err, payflow.ErrConflict):
		p.Screen.Printf("The cloud is still settling an approval of the %s: sending it again", what)
	default:
		p.Screen.Printf("The cloud did not answer the %s: sending it again", what)
	}
}

// ofSale reports whether v is the view of a payment request that the
// phone's card signed for sale: one whose signature the card's key
// verifies, with a counter above the one of sale.
func (p *Phone) ofSale(v *payflow.PaymentView, sale *Sale) bool {
	pub, err := p.Card.PublicKey()
	if err != nil {
		return false
	}
	var r record.PaymentRequest
	return record.Verify(v.Request, pub, &r) == nil && r.CardID == p.Card.ICCID && r.Counter > sale.Counter
}

// AwaitRequest is the shopper's phone waiting for the payment screen of
// the paired session (NextRequest); it shows it.
func (p *Phone) AwaitRequest(ctx context.Context) (*payflow.PaymentView, error) {
	v, err := p.NextRequest(ctx)
	if err != nil {
		return nil, err
	}
	p.Screen.Printf("Payment request from %s:", v.MerchantName)
	for _, l := range v.Lines {
		p.Screen.Printf("  %2d × %-22s @ %6s %8s", l.Quantity, l.Name, Amount(l.UnitPrice, v.Currency), Amount(l.Amount, v.Currency))
	}
	for _, l := range v.Legs {
		p.Screen.Printf("  %2d × %-22s you receive it with the payment", l.Amount, l.Asset)
	}
	p.Screen.Printf("  Total %38s", Money(v.Amount, v.Currency))
	p.Screen.Printf("  (request %s, expires %s)", Short(v.ID), v.ExpiresAt.UTC().Format("15:04:05 UTC"))
	return v, nil
}

// NextRequest is the shopper's phone waiting for the next request to
// approve of the paired session, a pending view of WaitPayment, without
// showing it. A payment that the phone's consent settled before, whose
// receipt did not reach it, comes first: it is a receipt to collect, not
// a request to approve, and the phone collects it (CollectReceipt) and
// waits on.
func (p *Phone) NextRequest(ctx context.Context) (*payflow.PaymentView, error) {
	v, err := p.Shopper.WaitPayment(ctx)
	for err == nil && v.State == payflow.StateCaptured {
		if _, err = p.CollectReceipt(ctx, v); err == nil {
			v, err = p.Shopper.WaitPayment(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Approve is the shopper approving v, the payment screen shown
// (AwaitRequest), with the card's PIN: the card signs a consent bound to
// the request's hash, amount, currency and payee; the cloud settles and
// returns the signed receipt, which the phone verifies and shows. When
// another request took the phone's screen since v was shown, it fails with
// payflow.ErrMismatch and the card signs nothing (payflow's ApproveShown).
// On a card whose PIN is blocked (no tries left), the phone says so and,
// without a PUK, asks for no PIN and fails with simcard.ErrPINBlocked,
// saying on its screen and in its error that -puk unblocks it, or, when
// the card's PUK is blocked too, that nothing unblocks the card, the
// error matching simcard.ErrPUKBlocked too, with or without the PUK;
// with the PUK, the PUK not blocked, it unblocks the card, pin becoming
// its PIN, and goes on (unblock).
func (p *Phone) Approve(ctx context.Context, v *payflow.PaymentView, pin string) (*payflow.Receipt, error) {
	left, total, err := p.Card.PINTries()
	if err != nil {
		return nil, err
	}
	if left == 0 {
		if p.PUK == "" {
			return nil, p.pinBlocked(simcard.ErrPINBlocked)
		}
		if err := p.unblock(pin); err != nil {
			return nil, err
		}
		if left, total, err = p.Card.PINTries(); err != nil {
			return nil, err
		}
	}
	p.Screen.Printf("Enter PIN (%d of %d tries left): %s", left, total, mask(pin))
	return p.approve(ctx, v, pin, total)
}

// ApproveAgain is Approve of v again, the PIN not asked again, after an
// approval that failed with err, payflow.ErrUnavailable (the cloud did
// not answer: it may be restarting) or payflow.ErrInFlight (the cloud did
// not answer in time, and still settled the approval when the client's
// retries ran out), which the line it shows first tells (showAgain): the
// phone sends the consent that it keeps again, the card signing no other,
// or, when the card signed none, has the card verify pin and sign one
// (payflow's ApproveShown).
func (p *Phone) ApproveAgain(ctx context.Context, v *payflow.PaymentView, pin string, err error) (*payflow.Receipt, error) {
	_, total, terr := p.Card.PINTries()
	if terr != nil {
		return nil, terr
	}
	p.showAgain("approval", err)
	return p.approve(ctx, v, pin, total)
}

// approve has the phone approve v with pin (ApproveShown) and shows the
// outcome; total is the card's PIN tries.
func (p *Phone) approve(ctx context.Context, v *payflow.PaymentView, pin string, total int) (*payflow.Receipt, error) {
	rc, err := p.Shopper.ApproveShown(ctx, v, pin)
	var se *simcard.StatusError
	switch {
	case errors.As(err, &se) && errors.Is(err, simcard.ErrWrongPIN):
		return nil, refused(p.Screen.Printf, "PIN", se, total, err)
	case errors.Is(err, simcard.ErrPINBlocked):
		return nil, p.pinBlocked(err)
	case err != nil:
		return nil, err
	}
	p.Screen.Printf("PIN accepted by the card, which signed the consent to %s for %s", Money(v.Amount, v.Currency), v.MerchantName)
	p.showReceipt(rc, v.MerchantName)
	return rc, nil
}

// pinBlocked shows that the card's PIN is blocked and how to unblock it,
// with the -puk flag of the programs that run a shopper's phone (the
// shopper and grocery programs), and returns err, which tells both,
// wrapped. When the card's PUK is blocked too, it shows that nothing
// unblocks the card instead (pukBlocked), its error matching
// simcard.ErrPUKBlocked too.
func (p *Phone) pinBlocked(err error) error {
	left, _, perr := p.Card.PUKTries()
	if perr != nil {
		return fmt.Errorf("demo: the card's PIN is blocked, its PUK's tries unread: %w; %w", err, perr)
	}
	if left == 0 {
		p.Screen.Printf("The card's PIN is blocked")
		return pukBlocked(p.Screen.Printf, fmt.Errorf("%w; %w", err, simcard.ErrPUKBlocked))
	}
	p.Screen.Printf("The card's PIN is blocked: run again with -puk and the card's PUK (the demo cards' is %s), which unblocks it and makes -pin its PIN", simcardtest.PUK)
	return fmt.Errorf("demo: the card's PIN is blocked (run again with -puk and the card's PUK to unblock it): %w", err)
}

// pukBlocked shows with show that the card's PUK is blocked too, so that
// nothing unblocks the card, and returns err, the blocked PUK's error,
// wrapped, saying that the PIN and PUK are blocked.
func pukBlocked(show func(format string, args ...any), err error) error {
	show("The card's PUK is blocked too: nothing unblocks the card")
	return fmt.Errorf("demo: the card's PIN and PUK are blocked: %w", err)
}

// refused shows with show that the card refused the secret what ("PIN"
// or "PUK") with se, the wrong secret's status error err, and returns err
// wrapped, saying the tries left of total.
func refused(show func(format string, args ...any), what string, se *simcard.StatusError, total int, err error) error {
	n, _ := se.TriesLeft()
	show("Wrong %s: the card refused it (%d of %d tries left)", what, n, total)
	return fmt.Errorf("demo: wrong %s, %d of %d tries left: %w", what, n, total, err)
}

// unblock shows that the card's PIN is blocked and unblocks it with the
// phone's PUK (UnblockPIN), pin becoming the card's PIN. When the card's
// PUK is blocked too, it presents no PUK and shows that nothing unblocks
// the card instead (pinBlocked), its error matching simcard.ErrPINBlocked
// and simcard.ErrPUKBlocked.
func (p *Phone) unblock(pin string) error {
	left, _, err := p.Card.PUKTries()
	if err != nil {
		return err
	}
	if left == 0 {
		return p.pinBlocked(simcard.ErrPINBlocked)
	}
	p.Screen.Printf("The card's PIN is blocked: the PUK unblocks it")
	return UnblockPIN(p.Card.Card, p.PUK, pin, p.Screen.Printf)
}

// UnblockPIN unblocks the PIN of card with puk (simcard.Card.Unblock,
// RESET RETRY COUNTER), pin becoming the card's PIN with its tries
// restored, a PIN not blocked too, showing with show the PUK's tries left
// before it is presented, masked, and the outcome: the PIN unblocked, or,
// when it had tries left, the PIN not blocked and set all the same. A
// wrong PUK fails with an error matching simcard.ErrWrongPUK that says the
// PUK's tries left, and a blocked PUK, which nothing unblocks, with one
// matching simcard.ErrPUKBlocked, without the card being asked; the PIN is
// then left as it was.
func UnblockPIN(card *simcard.Card, puk, pin string, show func(format string, args ...any)) error {
	pinLeft, _, err := card.PINTries()
	if err != nil {
		return err
	}
	left, total, err := card.PUKTries()
	if err != nil {
		return err
	}
	err = simcard.ErrPUKBlocked // without a try left, the card is not asked
	if left > 0 {
		show("Enter PUK (%d of %d tries left): %s", left, total, mask(puk))
		err = card.Unblock(puk, pin)
	}
	var se *simcard.StatusError
	switch {
	case errors.As(err, &se) && errors.Is(err, simcard.ErrWrongPUK):
		return refused(show, "PUK", se, total, err)
	case errors.Is(err, simcard.ErrPUKBlocked):
		return pukBlocked(show, err)
	case err != nil:
		return err
	}
	if pinLeft > 0 {
		show("PIN not blocked, set all the same with the PUK; the card's PIN is now the new one")
		return nil
	}
	show("PIN unblocked by the PUK; the card's PIN is now the new one")
	return nil
}

// CollectReceipt takes the receipt of v, a payment settled with a consent
// of the phone whose receipt did not reach it (a captured view of
// WaitPayment): the phone sends that consent again, the card signs
// nothing and no PIN is asked, and the verified receipt is shown.
func (p *Phone) CollectReceipt(ctx context.Context, v *payflow.PaymentView) (*payflow.Receipt, error) {
	p.Screen.Printf("Receipt to collect: %s paid to %s for request %s, settled before its receipt reached the phone",
		Money(v.Captured, v.Currency), v.MerchantName, Short(v.ID))
	rc, err := p.Shopper.ApproveShown(ctx, v, "") // the kept consent again: no PIN
	if err != nil {
		return nil, err
	}
	p.showReceipt(rc, v.MerchantName)
	return rc, nil
}

// AwaitSettled is the seller's phone waiting for the outcome of its last
// request; a captured payment's receipt, verified, is shown.
func (p *Phone) AwaitSettled(ctx context.Context) (*payflow.PaymentView, *payflow.Receipt, error) {
	v, rc, err := p.Seller.Wait(ctx)
	if err != nil {
		return nil, nil, err
	}
	if rc == nil {
		p.Screen.Printf("Request %s ended %s", Short(v.ID), v.State)
		return v, nil, nil
	}
	p.showReceipt(rc, v.MerchantName)
	return v, rc, nil
}

// withdrawMargin is how much longer than the phone's wait for a
// settlement under way (SettleWait) a Withdraw runs at most, so that a
// settlement that outlasts that wait ends Withdraw with the cloud's
// verdict (payflow.ErrConflict), not with the end of its own time.
const withdrawMargin = 3 * time.Second

// Withdraw is the seller's till giving up on its last payment request: it
// cancels it, so that the shopper's phone, which pays the first payable
// request of the session (and the same two phones meet in the same session
// again until their EIDs rotate), does not pay it in a later purchase
// instead of the one the till then waits for. A till killed before it
// could withdraw has the request cancelled by the cloud when it pairs
// again (PROTOCOL.md §6.1), but a shopper's phone that pairs before it
// would still find the request: withdrawing closes that gap at once. The
// request is the last one the till sent, also one that the cloud did not
// answer, which may be recorded all the same: the phone sends it again
// and cancels it (payflow.Seller.Cancel); Withdraw fails with
// payflow.ErrNoPayment when there is none, or the cloud never recorded
// it. It runs even when ctx has ended, for SettleWait and withdrawMargin
// at most. When the shopper paid just before, or her approval that the
// cloud was settling as the till withdrew paid (the phone waits for that
// settlement to end, for SettleWait at most: payflow.Seller.Cancel), the
// verified receipt is shown and the request is left as it is; one that
// does not end by then fails Withdraw with the cloud's
// payflow.ErrConflict. A request sent again that the phone reports paid
// (a *payflow.PaidError) while another request keeps its screen, as one
// that a selection took off the screen, has no receipt that the phone
// verifies: Withdraw returns its view, without a receipt, and the
// *payflow.PaidError, rather than the outcome of the request on screen.
func (p *Phone) Withdraw(ctx context.Context) (*payflow.PaymentView, *payflow.Receipt, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), SettleWait+withdrawMargin)
	defer cancel()
	v, err := p.Seller.Cancel(ctx)
	if paid, ok := errors.AsType[*payflow.PaidError](err); ok && !p.onScreen(ctx, paid.Payment) {
		return paid.Payment, nil, err
	}
	if errors.Is(err, payflow.ErrFinal) {
		return p.AwaitSettled(ctx)
	}
	if err != nil {
		return nil, nil, err
	}
	p.Screen.Printf("Request %s withdrawn: %s", Short(v.ID), v.State)
	return v, nil, nil
}

// onScreen reports whether v is of the request on the seller's screen
// (payflow.Seller.Status), whose receipt Wait verifies (AwaitSettled).
func (p *Phone) onScreen(ctx context.Context, v *payflow.PaymentView) bool {
	shown, err := p.Seller.Status(ctx)
	return err == nil && shown.ID == v.ID
}

// showReceipt prints a receipt the phone verified offline.
func (p *Phone) showReceipt(rc *payflow.Receipt, merchant string) {
	p.Screen.Printf("Receipt verified offline: platform signature, certificate chain up to the trusted root")
	p.Screen.Printf("  card %s paid %s to %s at %s", rc.PayerCardID, Money(rc.Amount, rc.Currency), merchant,
		time.UnixMilli(int64(rc.Time)).UTC().Format("2006-01-02 15:04:05 UTC"))
	for _, l := range rc.Legs {
		p.Screen.Printf("  %d × %s delivered", l.Amount, l.Asset)
	}
	p.Screen.Printf("  ledger transfers: %d, request %x", len(rc.TransferIDs), rc.RequestID[:4])
}

func mask(pin string) string { return string(bytes.Repeat([]byte{'*'}, len(pin))) }
