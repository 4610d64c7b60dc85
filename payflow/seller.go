package payflow

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
)

// SellerCard is what a Seller needs of its CA-SIM; *simcard.Card has it.
type SellerCard interface {
	ICCID() (string, error)
	Advert(epoch uint32, role adv.Role, flags adv.Flags) ([]byte, error)
	SignAuthProof(p *record.AuthProof) ([]byte, error)
	SignPaymentRequest(r *record.PaymentRequest) ([]byte, error)
	SignRefundRequest(r *record.RefundRequest) ([]byte, error)
	// Counter is the last signature counter that the card used.
	Counter() (uint64, error)
}

var _ SellerCard = (*simcard.Card)(nil)

// maxRequestIndexSkips bounds how many request indexes of a session a
// Seller skips in one Request because requests of an earlier session with
// the same ID hold them, before it asks at the next index: when that one
// is taken too, Request moves past it as well and fails with ErrConflict,
// the card having signed maxRequestIndexSkips+1 requests.
const maxRequestIndexSkips = 16

// keptPaidRequests is how many of the requests it saw paid a Seller
// remembers, so that Request does not report a paid request that it finds
// at a taken index when the phone saw it paid already (Request).
const keptPaidRequests = 256

// Seller is the phone logic of the Seller POS app, screen by screen: the
// service queue of shoppers nearby (Peers), the confirmation with the
// shopper's name and the pairing code (Select, WaitPaired), the catalog
// (Catalog), the payment request (Request) and its status (Status, Wait),
// the held requests of a merchant that captures manually (Held,
// CaptureHeld, CancelHeld), the verified receipts of captures and refunds
// (Capture, Refund, RefundPayment), and the end of a customer's turn
// (Leave). It is safe for concurrent use; the methods that talk to the
// platform or wait take a context.
//
// The card signs each record with its counter, which the platform requires
// to increase from one record of the card to the next (PROTOCOL.md §4.6),
// and calls that sign records are sent in the order they are signed only
// if the app makes them one at a time: Select, Request, Refund,
// RefundPayment, and Login, which every call that talks to the platform
// makes when the phone holds no token or its token expired (calls of
// Request run one at a time among themselves, and so do refunds and
// logins; a Request, a refund or a login waits for another only as long
// as its context lasts, and a call that needs to log in while another
// logs in uses that one's token, as Login says, so that calls that only
// read, such as Status and Wait made at once, sign one auth proof for the
// two). A call whose record reaches the platform after one that the card
// signed later, for a call made at the same moment, is refused: it fails
// with ErrClone, having taken no effect, and may be made again.
//
// The views, receipts, catalog and login that a Seller returns, also in
// its errors (PaidError, RefundMadeError), are the caller's own: they
// share no memory with what the phone keeps (the request on screen, the
// held requests, the catalog it prices with, its login), which writing
// into them leaves as it was.
type Seller struct {
	phone
	card SellerCard
	rand io.Reader
	// screenRead, when set, is called once withdrawShown read the request
	// on screen, before it reads that request from the platform.
	screenRead func()

	// catalogMu is held while Catalog fetches the catalog: one call
	// fetches it at a time, and one waits for another only as long as its
	// context lasts.
	catalogMu ctxLock
	catalog   *Catalog // the catalog kept (Catalog); guarded by phone.mu
	// forgotten is the catalog last dropped to be fetched again
	// (forgetCatalog), used while the platform refuses that fetch for the
	// card's budget of catalog reads; guarded by phone.mu.
	forgotten *Catalog

	// requestMu is held while a Request runs: they run one at a time, and
	// one waits for another only as long as its context lasts.
	requestMu ctxLock
	// settleMu is held while settleUnsent withdraws the requests of
	// unsent, one call at a time, each waiting for another only as long as
	// its context lasts.
	settleMu ctxLock

	unsentMu sync.Mutex      // held only while unsent is read or changed
	unsent   []unsentRequest // signed payment requests to withdraw, oldest first (Request)

	// refundMu is held while a refund runs: they run one at a time, and
	// one waits for another only as long as its context lasts.
	refundMu    ctxLock
	unconfirmed *sentRefund // a refund sent without a receipt that verifies; guarded by refundMu
	// refundWaits, when set, is called as a refund is about to wait for
	// its turn (refundMu).
	refundWaits func()

	// last is the ID of the payment request made last (Request: one the
	// platform recorded, or that it may have recorded), or of a paid
	// request that took the screen since (showPaid); Cancel withdraws the
	// request on screen only when it is this one (lastPayment). Guarded by
	// phone.mu.
	last ID

	held []*PaymentView // the requests last seen held, oldest first (Held); guarded by phone.mu
	// lapsed are the last MaxHeld held requests that Held left out as past
	// their hold expiry, oldest first; guarded by phone.mu.
	lapsed []*PaymentView
	// receiptDue are the requests kept in held whose capture may have
	// been made without its receipt returned (captureUnanswered): each is
	// kept, also once seen captured and whatever its hold expiry, until a
	// receipt of its capture is returned (paymentReceipt) or it is seen
	// ended otherwise; guarded by phone.mu.
	receiptDue map[ID]bool
	// capturing are the captures under way (capture) by request, with the
	// receipts of it returned meanwhile (received); guarded by phone.mu.
	capturing map[ID]*captures
	// paid are the last keptPaidRequests requests seen captured (seen,
	// received, showPaid), the one seen paid longest ago first; guarded by
	// phone.mu.
	paid []ID
}

// captures counts the captures of a request under way and the receipts of
// the request returned since the first of them began.
type captures struct {
	calls    int
	receipts uint64
}

// NewSeller returns the seller phone of card, which must belong to a
// merchant. It fails with ErrInvalid when card is nil or a nil pointer (a
// nil *simcard.Card), or opts lacks the API (also one that is a nil
// pointer) or a way to verify receipts, or has a PlatformKey that is no
// ECDSA P-256 key with its point on the curve, or a Queue that is not a
// seller's (PhoneOptions).
func NewSeller(card SellerCard, opts PhoneOptions) (*Seller, error) {
	s := &Seller{
		card: card, rand: rand.Reader, requestMu: newCtxLock(), settleMu: newCtxLock(),
		catalogMu: newCtxLock(), refundMu: newCtxLock(),
		receiptDue: make(map[ID]bool), capturing: make(map[ID]*captures),
	}
	if err := s.init(adv.Seller, card, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// Select is the seller's choice of a shopper from the queue, as the
// phones' Select says: one of an EID that the queue does not hold live
// fails with queue.ErrUnknownPeer, one that the platform does not resolve
// with its error (ErrNotFound for an EID it does not know), and one made
// once the card's signature counter reached 2^64-1, so that the card
// signs no pairing proof, with the error of the card's refusal
// (simcard.ErrConditions), before anything below is withdrawn, the
// request on screen and those kept to be sent again as they are. The shopper
// of the session selected before finds its requests while they stay pending,
// so Select first sends again a payment request that got no answer or no
// verdict of the platform (also the view of another request), as the next
// Request does (Request): one recorded and still payable is cancelled, and
// one paid goes on screen with its receipt and Select fails with ErrFinal,
// selecting nothing. Like Request, Select waits for the settlement of an
// approval of a request that it cancels (ErrConflict) to end, for
// PhoneOptions.SettleWait at most and as long as ctx lasts, and fails as
// Request says when it does not end by then, selecting nothing. It waits for
// a Request's or another Select's withdrawal of the requests sent again,
// also through such a wait, only as long as ctx lasts, failing with ctx's
// error alone. Then the request on screen that was last seen pending and
// that the platform still shows pending is cancelled, as Request does (a
// hold made at that moment is voided); one paid since stays on screen with
// its receipt and Select fails with ErrFinal, selecting nothing, as Request
// does; one held since is left as it is (it stays capturable: Held,
// CaptureHeld). While the platform does not answer either, Select fails
// with its error and selects nothing. A request sent again that the
// platform answers with the view of another request, or with one that is
// not of the request on screen or held under its ID (ErrMismatch, as Request
// says: nothing is cancelled or shown), stays kept: every Request and
// Select sends it again first and fails with ErrMismatch, asking and
// selecting nothing, while the platform answers so, which may be until
// the app starts the phone again (a new Seller, which keeps no request of
// the Seller before).
//
// A Request (of another goroutine) whose answer arrives while Select is
// under way, before the pairing is answered, puts its request on screen,
// its session still selected, and returns it (unless the answer is the
// view of another request: the request is then kept, and the next Request
// or Select sends it again first, as above). Select takes it off the
// screen as it selects the session; one answered held or captured, which
// Request took note of (Held; seen paid), is left as it is, one held
// staying capturable (CaptureHeld), as one on screen held since is. Select
// withdraws one answered pending as Request withdraws
// one answered after a selection: it is cancelled once the pairing is
// accepted (a hold made at that moment is voided), and while the platform
// does not answer that, or still answers ErrConflict (a settlement under
// way) after PhoneOptions.SettleWait or the end of ctx, it is kept and
// sent again, as signed, by the next Request or Select, which fail while
// it gets no answer; Select itself then returns the Confirmation without
// an error. One paid meanwhile goes on screen with its receipt (Status,
// Wait), unless a Request of the shopper selected (of another goroutine)
// put its request there by then: that one stays on screen, and the next
// Request or Select withdraws it while it is payable. Select then fails
// with a *PaidError (ErrFinal) whose Payment is the paid request
// (RefundPayment refunds it by its ID), and returns the Confirmation of
// the shopper, selected all the same (WaitPaired, Request): a non-nil
// Confirmation with an error means that the shopper was selected. Select
// that fails otherwise returns a nil Confirmation, having selected
// nothing, as when ErrFinal comes from a request sent again or on screen
// before the selection (above).
//
// A session's ID derives from both EIDs (SessionID), so selecting a
// shopper again in the same EID epoch, also after selecting others or
// leaving it (Leave), lands in the same session, whose request indexes
// (SessionRequestID) before the next one are taken by the requests made
// there. The phone keeps the next index of the 16 sessions it selected
// last, the one selected now (or, after Leave, the one left) among them:
// Select lands in one of them at its next index, so that the
// next Request takes it without first having the card sign requests that
// the platform refuses as taken, and in any other session at index 0
// (where Request moves past indexes found taken). The index of the
// session left longest ago is forgotten first, and a Select forgets those
// of the sessions that name the card's EID of an epoch more than one
// before the one of the EID that its pairing proof names (the epoch of
// PhoneOptions.Now when the card signs the proof). A Select lands only in
// a session that names the EID its proof names, but the platform takes a
// proof naming the EID of the epoch before or after its own, so the
// answers to proofs signed on either side of an epoch's end may come in
// either order (Selects at once, a clock set back): the indexes of the
// epoch before are kept.
//
// A Select of a peer that the queue holds live whose ctx ended before it
// fails with ctx's error, whether or not the API heeds ctx (a Platform in
// process): it sends nothing, withdraws nothing, and the queue shows
// selected what it showed before. One of a peer that the queue does not
// hold live fails with queue.ErrUnknownPeer all the same.
func (s *Seller) Select(ctx context.Context, eid adv.EID) (*Confirmation, error) {
	// A peer that the queue lacks, or that the platform does not name (a
	// read), is refused before anything is withdrawn, and so is a card
	// that can sign no pairing proof; the queue keeps the one chosen while
	// the requests are withdrawn.
	choice, err := s.choose(eid)
	if err != nil {
		return nil, err
	}
	r, err := s.resolvePeer(ctx, eid)
	if err == nil {
		_, err = s.signingHeader()
	}
	if err == nil {
		if _, _, err = s.settleUnsent(ctx); err == nil {
			err = s.withdrawShown(ctx)
		}
	}
	if err != nil {
		s.choiceEnded(choice)
		return nil, err
	}
	c, dropped, err := s.selectChosen(ctx, choice, r)
	if err != nil {
		return nil, err
	}
	// A Request answered while the pairing was under way put its request
	// on screen, its session still selected.
	if dropped != nil && dropped.State == StatePending {
		if kept, err := s.withdrawLeft(ctx, dropped); err != nil && !kept {
			return c, err // selected all the same
		}
	}
	return c, nil
}

// Catalog returns the merchant's catalog, fetched once and again after a
// Request that it could not price (a SKU it lacks: ErrInvalid), whose
// receipt would be too long with its names (ErrInvalid), or that the
// platform refused as priced otherwise (ErrMismatch), as when the
// merchant changed the catalog since. A catalog of another merchant than
// the card's (its MerchantID), or whose currency, SKUs,
// item names or prices are of a form that no record carries (the card
// signs the currency and SKUs in payment requests, and receipts carry the
// names and prices), or that repeats a SKU (which the platform refuses to
// set: SetCatalog), is ErrMismatch and is not kept: it is fetched again
// next time. Calls fetch the catalog one at a time: one that comes while
// another fetches it waits for that one only as long as ctx lasts, and
// then fails with ctx's error, having asked the platform nothing. A call
// whose ctx ended fails with ctx's error, also when the catalog is kept.
// A fetch again that the platform refuses for the card's budget of
// catalog reads (ErrRateLimited: PlatformOptions.CatalogRate) leaves the
// phone with the catalog it dropped, which Catalog returns and Request
// prices with (the platform checking the prices as ever) until a later
// call fetches it; with none dropped, or the one dropped because the
// platform refused a request priced with it (ErrMismatch), whose prices
// it would refuse again, Catalog fails with that error.
// The catalog it returns is the caller's own: it shares no memory (its
// items) with the one the phone keeps and prices requests with, which
// writing into it leaves as it was.
func (s *Seller) Catalog(ctx context.Context) (*Catalog, error) {
	c, err := s.keptCatalog(ctx)
	if err != nil {
		return nil, err
	}
	own := *c
	own.Items = slices.Clone(c.Items)
	return &own, nil
}

// keptCatalog is Catalog, returning the catalog that the phone keeps.
func (s *Seller) keptCatalog(ctx context.Context) (*Catalog, error) {
	if err := s.catalogMu.lock(ctx); err != nil {
		return nil, err
	}
	defer s.catalogMu.unlock()
	s.mu.Lock()
	kept := s.catalog
	s.mu.Unlock()
	if kept != nil {
		return kept, nil
	}
	l, err := s.loginState(ctx)
	if err != nil {
		return nil, err
	}
	if l.MerchantID == "" {
		return nil, fmt.Errorf("%w: the card belongs to no merchant", ErrForbidden)
	}
	c, err := authed(ctx, &s.phone, func(token string) (*Catalog, error) { return s.api.Catalog(ctx, token, l.MerchantID) })
	if errors.Is(err, ErrRateLimited) {
		// A fetch again that the card's budget of catalog reads
		// refuses: the catalog dropped, of the card's merchant, still
		// prices the items, as the platform then checks them.
		s.mu.Lock()
		f := s.forgotten
		s.mu.Unlock()
		if f != nil && f.MerchantID == l.MerchantID {
			return f, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if err := checkCatalog(c, l.MerchantID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.catalog, s.forgotten = c, nil
	s.mu.Unlock()
	return c, nil
}

// checkCatalog checks c, a catalog that the platform sent for merchant,
// the card's, that it is that merchant's, and for the forms that the
// records carry (ErrMismatch otherwise): its currency, and its items as
// the platform sets them (checkCatalogItems: SKUs, names and prices of
// those forms, no SKU twice, as an item of a repeated SKU has no one
// price).
func checkCatalog(c *Catalog, merchant string) error {
	if c.MerchantID != merchant {
		return fmt.Errorf("%w: the catalog is of merchant %q, not of this card's", ErrMismatch, c.MerchantID)
	}
	err := record.CheckCurrency(c.Currency)
	if err == nil {
		err = checkCatalogItems(c.Items)
	}
	if err != nil {
		return fmt.Errorf("%w: the catalog: %v", ErrMismatch, err)
	}
	return nil
}

// forgetCatalog drops c, the catalog kept, so that it is fetched again,
// and keeps it for keptCatalog to use while that fetch is refused
// ErrRateLimited.
func (s *Seller) forgetCatalog(c *Catalog) { s.dropCatalog(c, true) }

// dropCatalog drops c, the catalog kept or the one forgotten, so that it
// is fetched again. Kept as a fallback (fallback, and c the catalog
// kept), keptCatalog uses it while that fetch is refused ErrRateLimited;
// one that the platform refused a request priced with is none.
func (s *Seller) dropCatalog(c *Catalog, fallback bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.catalog == c
	if kept {
		s.catalog = nil
	}
	switch {
	case fallback && kept:
		s.forgotten = c
	case !fallback && s.forgotten == c:
		s.forgotten = nil
	}
}

// Charge is what the seller asks the shopper to pay: catalog items, or an
// amount in a currency, and assets that go to the shopper with it.
type Charge struct {
	// Items are SKUs of the catalog with quantities; the amount is their
	// total at catalog prices, in the catalog currency.
	Items []record.Item
	// Amount and Currency are used when Items is empty.
	Amount   uint64
	Currency string
	// Legs are assets that move from the merchant to the shopper.
	Legs []record.Leg
	// TTL asks for a lifetime in seconds; zero is the platform default.
	TTL uint32
}

// Request has the card sign a payment request of charge to the paired
// shopper and records it on the platform; it returns the seller's status
// screen, a view that is the caller's own (as the Seller type says). The
// platform's answer goes on screen and is taken note of as Status takes a
// view: one that shows the request held (the shopper approved it before
// the answer came, for a merchant that captures manually) keeps it among
// the held ones (Held) at once, and one that shows it captured, taken as
// Status takes it (below), has it seen paid at once, its receipt verified
// by Wait. An item not in the catalog, or a total that overflows, is
// ErrInvalid; a total that the platform prices otherwise, with the catalog
// as it is now, is ErrMismatch. After either, and after a charge of items
// refused for its receipt's length (below), the next Request prices the
// items with the catalog fetched again (Catalog). A charge that no payment
// request can carry (a total of zero without legs, as of free items alone;
// a currency or SKU of the wrong form; more than record.MaxItems items or
// record.MaxLegs legs, an item of quantity zero or a leg of amount zero, or
// an amount over 2^63-1; more items and legs, of longer SKUs and asset
// names, than a signed request of record.MaxMessage bytes holds with the
// card header that the card adds, its ICCID and its next counter, read from
// the card first; a payment receipt, with the names and prices of the
// catalog that priced the items on its lines and the longest values its
// settlement can give, longer than record.MaxMessage, as the platform
// refuses such a request: PROTOCOL.md §6.3) is ErrInvalid too, before the
// card signs anything. A charge refused so, or for an item not in the
// catalog or a total that overflows, is refused before the phone withdraws
// anything (below): the request on screen, and those kept to be sent again,
// stay as they are; a catalog of values of a form that no record carries,
// or of another merchant than the card's, is ErrMismatch (Catalog), as is a
// session of values of such a form (Select), which is not selected. A
// session that expired by the phone's clock (PhoneOptions.Now), whose
// requests the platform refuses, is ErrExpired, also before the phone
// withdraws anything or the card signs; so is a card whose signature
// counter reached 2^64-1, which signs nothing more, with the error of the
// card's refusal (simcard.ErrConditions).
//
// The request takes the session's next free index (SessionRequestID): the
// one after the requests this phone made in the session, also before it
// selected others and this one again, while Select keeps its index, and
// after those it sent again and found recorded (below). A
// session of the same two cards and EIDs opened before, by this phone in
// another run or selected before the 16 sessions whose index Select
// keeps, may hold indexes already: Request moves past up to 16 of them
// and asks at the next index; when that one is taken too, it moves past
// it as well (17 in all, the card signing 17 requests) and fails with
// ErrConflict, and the next Request goes on after them. Since the
// shopper would be shown such a request first, one that
// the platform shows pending is cancelled as Request moves past it (one
// held is kept in Held). One that the platform shows paid (captured, also
// as Request cancelled it), and that this phone did not see paid before
// (on screen: Request, Status, Wait; in Held, shown captured while its
// capture's receipt is due; its receipt; or a *PaidError; it remembers
// the last 256 requests it saw paid), is moved past too, and Request
// fails with a *PaidError (ErrFinal) naming it, asking nothing more, so
// that the seller sees the payment before asking again, as the shopper
// may have paid a request that the phone made before it was started again
// and never saw paid: the paid request goes on screen with its receipt
// (Status, Wait) only while the screen is empty, and the next Request
// goes on after it (reporting the next such one it finds), so that each
// is reported once. A view read there of another session's request, or
// one that does not carry the signed request it shows, byte for byte, is
// ErrMismatch: nothing is cancelled, shown or kept, and the next Request
// reads that index again; so is one of the request on screen, or of one
// kept in Held, that is not of it, compared before anything is cancelled,
// which cancels, shows and keeps nothing either, and so, with
// ErrInternal, is one in a state that no request's view has (a platform's
// inner state, a newer platform's state), which may still be payable. A
// request that the platform answers with the view of another request (of
// another ID, hash, amount, currency, merchant or session, or payer, or
// with other lines or legs, than the card signed, or with line names of a
// form that no receipt carries (record.CheckName), or without the signed
// request itself, byte for byte) is ErrMismatch, as is one answered with
// its view captured for other than its whole amount (or, when the view
// says that the merchant captures manually, for more than it), which
// Status takes as no view of it, not taken as paid; one answered with its
// view in a state that no request's view has (a platform's inner state, a
// newer platform's state) is ErrInternal; each goes on no screen; it may
// be recorded all the same and is kept to be withdrawn, as one without an
// answer (below), and the next Request goes on at its index, after those
// found taken before it, since it may not be recorded there, unless it
// finds it recorded as it sends it again (below). Calls of Request run
// one at a time.
//
// While the seller keeps MaxHeld requests (Held), held, or whose capture's
// receipt is due, Request fails with ErrLimit before the card signs, so
// that no hold is made that the phone could not keep. It reads them from
// the platform then (as Held does) and refuses so before it withdraws
// anything (below): the request on screen, and those kept to be sent
// again, stay as they are. A held request that it also keeps to be sent
// again (below), the same signed request (its ID and RequestHash: not
// another that the card signed under its ID), does not count then, as
// withdrawing it voids its hold or fails Request. Withdrawing them may
// keep more (one on screen, or at a taken index, found held), so it checks
// again before the card signs, and a Request refused then has withdrawn
// them. Capturing or cancelling a held one (CaptureHeld, CancelHeld) makes
// room, also one whose capture's receipt is due but whose capture was not
// made, and so does a hold that expired, which Request then finds ended;
// only a CaptureHeld of the captured amount frees those that Held shows
// captured, whose capture was made (or, while one is on screen, Wait or
// Capture of that amount): CancelHeld of one fails with ErrFinal, and it
// stays kept.
//
// A payment request that the platform did not answer (it failed or could
// not be reached, ctx ended, or over HTTP it was still running when the
// retries ran out), or that got a reply that is no verdict of the
// platform on it (rate_limited, or over HTTP a reply without the
// platform's error body, whatever its status, as a gateway or proxy sends
// in its stead, or the view of another request: ErrMismatch, above), may
// have been recorded all the same, and the shopper would find it before
// any later one, and pay it. So the next Request first sends it again, as
// signed. Once the platform answers with its view (of the request the
// card signed, byte for byte, as above), in whatever state, the request
// holds its index: the next request of its session takes the index after
// it at once (while the phone keeps that session's index: Select), also
// when the call goes no further (an error below), and the card signs no
// other request under its ID. A request recorded and still payable
// (pending or held) is cancelled, and one that was paid goes on screen
// (Status, Wait), unless a Select took it off the screen or it is of a
// session left, and another request is there, and Request fails with a
// *PaidError (ErrFinal) naming it instead of charging again, once it
// withdrew the other requests kept so after it too, which the shoppers
// could still pay (one of them paid too stays kept, not shown, and the
// next call that sends it again reports it, so that each is reported
// once; one that gets no answer or verdict stops it, and stays kept with
// those after it, for the next call to send again). While that
// gets no answer or verdict either, or the view of another request
// (ErrMismatch, as above: one paid is not taken as paid), Request fails
// with its error. So it does with ErrMismatch while it gets a view of it
// under the ID of the request on screen, or of one kept in Held, that is
// not of that request (another request that the card signed under that
// ID), compared before anything is cancelled: nothing is cancelled or
// shown, and the request stays kept. A Select sends it again first too
// (Select), and so does a Cancel, for which it is the request made last
// (Cancel).
//
// The shopper phone shows a session's first request that is still
// pending, so a request on screen that was last seen pending (Request,
// Status, Wait) and that the platform still shows pending is cancelled
// first (a hold made at that moment is voided). One paid since stays on
// screen with its receipt (Status, Wait) and Request fails with ErrFinal,
// asking nothing, so that the seller sees the payment before asking again;
// one held since is left as it is as the new request takes the screen (it
// stays capturable: Held, CaptureHeld).
//
// A request that Request cancels (one sent again, the one on screen, or
// one at a taken index) may be one whose approval the platform is
// settling at that moment: it shows it pending, and answers its
// cancellation ErrConflict until the settlement ended. Request then sends
// the cancellation again every poll interval (PhoneOptions.PollInterval),
// for PhoneOptions.SettleWait after the first ErrConflict at most, until
// the platform answers otherwise, and goes on as above with what it
// answers then: one paid is reported as paid (ErrFinal, a *PaidError);
// one held by that approval has its hold voided; one whose hold was
// refused is cancelled. A settlement that outlasts SettleWait (an outage,
// or an approval whose outcome the platform could not record, which
// stays approving until its recovery sweep: PROTOCOL.md §6.4) fails
// Request with the platform's last ErrConflict; when ctx ends first,
// between two cancellations or during one that then gets no verdict,
// Request fails with ctx's error joined with that ErrConflict. Either
// way the request stays to be withdrawn, and a Request that withdraws it
// before it asks fails so, having asked nothing: one sent again (also one
// answered after a selection and kept), or on screen, is withdrawn by the
// next Request or Select, first, or by a Cancel (Cancel); one at a taken
// index by the next Request while its session is selected, which reads
// that index again (Select does not withdraw taken indexes; it keeps the
// session's next index, so a Request after the session is selected again
// reads it too). A cancellation answered ErrFinal or ErrExpired, or with
// the view of the request captured, declined or expired (no cancellation,
// which the platform answers with those errors), has Request read the
// request again, and go on with what that read shows: a read that shows
// it still payable (pending or held), which is no view of a request that
// ended, fails Request with ErrInternal, as an answer to the cancellation
// that shows it so does (Cancel), asking nothing, and the request stays
// to be withdrawn as last seen, as above; so does a Select's or Cancel's
// withdrawal of it.
//
// A request that Request, Select or Cancel finds paid while withdrawing
// it (sent again, on screen, or at a taken index) is taken as paid only
// as Status and Wait take it: its view must show its whole amount
// captured or, when every view of it that the phone had (the one kept,
// and the first that the call read or got in answer) says that the
// merchant captures manually, no more than it. Another is ErrMismatch,
// not a *PaidError: the request is not shown or taken as seen paid, and
// stays as it was, to be withdrawn again.
//
// Calls of Request run one at a time: one waits for another, also
// through such a wait, only as long as its ctx lasts, and then fails
// with ctx's error alone, having done nothing. One whose ctx ends after
// it began fails with ctx's error before the card signs, whether or not
// the API heeds ctx (a Platform in process): the card signs nothing and
// no request is sent, and what it withdrew until then stays withdrawn,
// as before a refusal then.
//
// A payment request that the platform answers after another session was
// selected (Select), or the session left (Leave), is of the session
// selected before: Request does not put it on screen, leaves the request
// indexes of the new session alone, withdraws it at once as above (or
// with the next Request, while the platform does not answer), except that
// one paid goes on screen only while the screen is empty or shows it, and
// fails with ErrNotPaired (and ErrFinal for one paid, too); one answered
// with the view of another request is ErrMismatch and kept, as above. One
// answered while a Select is under way, before its pairing is answered,
// goes on screen and is returned, and that Select withdraws it (Select).
// Its index, and those it moved past, stay taken in the session it was
// made in, whose next index Select keeps. When another session is
// selected before the card signs (also while Request moves past taken
// indexes), or the session is left, Request fails with ErrNotPaired and
// asks nothing more; when it found a paid request there that it reports
// (above), the error is that *PaidError too.
func (s *Seller) Request(ctx context.Context, charge Charge) (*PaymentView, error) {
	if err := s.requestMu.lock(ctx); err != nil {
		return nil, err
	}
	defer s.requestMu.unlock()
	sess, err := s.pairedSession()
	if err != nil {
		return nil, err
	}
	// The platform refuses a request in a session that expired: refused
	// before anything is withdrawn, or signed.
	if sessionLapsed(sess, s.opts.Now()) {
		return nil, fmt.Errorf("%w: session", ErrExpired)
	}
	r := &record.PaymentRequest{
		SessionID: sess.ID[:], PayerCardID: sess.ShopperCardID, MerchantID: sess.MerchantID,
		Currency: charge.Currency, Amount: charge.Amount, Items: charge.Items, Legs: charge.Legs, TTL: charge.TTL,
	}
	var priced *Catalog // the catalog that priced the items
	var lines []Line    // the items priced, as the receipt's lines
	if len(charge.Items) > 0 {
		c, err := s.keptCatalog(ctx)
		if err != nil {
			return nil, err
		}
		if r.Amount, lines, err = catalogLines(c, charge.Items); err != nil {
			s.forgetCatalog(c) // it may lack a SKU added since
			return nil, err
		}
		r.Currency, priced = c.Currency, c
	}
	// A charge that no request carries leaves the requests to withdraw as
	// they are; every request ID has the same length.
	first := SessionRequestID(sess.ID, 0)
	r.RequestID = first[:]
	if err := s.checkCharge(first, r, lines, priced); err != nil {
		return nil, err
	}
	// So does a seller that keeps MaxHeld held requests: reading them
	// withdraws nothing. Those kept to be withdrawn do not count, as
	// withdrawing them ends them or fails Request. Withdrawing may keep
	// more (one on screen or at a taken index found held), so the loop
	// below checks again.
	if err := s.roomForHold(ctx, s.unsentKeys()); err != nil {
		return nil, err
	}
	if _, _, err := s.settleUnsent(ctx); err != nil {
		return nil, err
	}
	if err := s.withdrawShown(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	// n is sess's own index only while sess is selected.
	current, n := s.selected(sess), s.next
	s.mu.Unlock()
	if !current {
		return nil, errReselected
	}
	// However Request ends, the next one of sess goes on at n at least:
	// after the indexes found taken before n, and at n again while a
	// request there may need withdrawing, until withdraw finds it recorded.
	defer func() { s.skipTo(sess, n) }()
	for skips := 0; ; skips++ {
		if err := s.roomForHold(ctx, nil); err != nil {
			return nil, err
		}
		s.mu.Lock()
		current = s.selected(sess)
		s.mu.Unlock()
		if !current { // selected while roomForHold or withdrawTaken asked
			return nil, errReselected
		}
		id := SessionRequestID(sess.ID, n)
		r.RequestID = id[:]
		if err := s.checkCharge(id, r, lines, priced); err != nil {
			return nil, err
		}
		// A call whose ctx ended signs and sends nothing, also when the
		// calls before it (an API in process) did not look at ctx.
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		msg, err := s.card.SignPaymentRequest(r)
		if err != nil {
			return nil, err
		}
		v, err := s.api.CreateRequest(ctx, &CreateRequest{Request: msg})
		if errors.Is(err, ErrConflict) { // an earlier session with this ID used the index
			if werr := s.withdrawTaken(ctx, sess, id); werr != nil {
				if holdsError[*PaidError](werr) { // reported: the next Request goes on after it
					n++
					s.mu.Lock()
					current = s.selected(sess)
					s.mu.Unlock()
					if !current { // selected while withdrawTaken asked
						return nil, fmt.Errorf("%w: %w", errReselected, werr)
					}
				}
				return nil, werr
			}
			n++
			if skips < maxRequestIndexSkips {
				continue
			}
			return nil, err
		}
		if err != nil {
			if !refused(err) { // it may be recorded
				s.keepMade(id, unsentRequest{msg: msg, next: n + 1})
			}
			if priced != nil && errors.Is(err, ErrMismatch) { // priced or sold otherwise now
				s.dropCatalog(priced, false)
			}
			return nil, err
		}
		if err := checkRecorded(v, r, msg); err != nil { // no verdict on msg: it may be recorded
			s.keepMade(id, unsentRequest{msg: msg, next: n + 1})
			return nil, err
		}
		s.mu.Lock()
		// A view is taken as Status and Wait take it: in a state that a
		// request's view has, of the request kept under its ID, and
		// captured for what a capture of it can have captured; no verdict
		// on msg either, otherwise.
		if err := s.checkTakenLocked(v, v); err != nil {
			s.mu.Unlock()
			s.keepMade(id, unsentRequest{msg: msg, next: n + 1})
			return nil, err
		}
		// The request holds index n however it ends, also when another
		// session was selected meanwhile.
		s.moveOnLocked(sess.ID, n+1)
		s.last = id
		current := s.selected(sess)
		if current {
			// On screen, and noted as Status and Wait note a view:
			// kept in Held while held, seen paid once captured.
			s.payment = v
			s.seenLocked(v)
		}
		s.mu.Unlock()
		if !current {
			if _, err := s.withdrawLeft(ctx, v); err != nil {
				return nil, fmt.Errorf("%w: %w", errReselected, err)
			}
			return nil, errReselected
		}
		return cloneView(v), nil // the app's own, v kept on screen
	}
}

// skipTo has the next Request of sess, while it is selected or its index
// kept (Select), go on at index n at least, after indexes found taken.
func (s *Seller) skipTo(sess *SessionView, n uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.moveOnLocked(sess.ID, n)
}

// withdrawTaken settles the request id of sess that an earlier session
// with the same ID made at the index Request found taken: it cancels it
// while the platform shows it pending, as the shopper would be shown it
// first (waiting for the settlement of an approval of it under way, as
// Request says: a hold that approval made is voided); one read held is
// kept in Held. One paid that this phone did not see paid before
// (sawPaidLocked) goes on screen while the screen is empty (showPaid),
// and withdrawTaken fails with a *PaidError naming it, so that the seller
// sees the payment before asking again. A view of
// another session's request, or one that does not carry the signed
// request it shows (checkRecorded), is ErrMismatch: nothing is
// cancelled, shown or kept, and the next Request reads that index again.
// So is one of the request on screen, or kept in Held, that is not of
// it (checkKept), compared before a pending one is cancelled, so that
// nothing is cancelled, shown or kept, and again, with the screen and
// Held as they are then, with the view after the cancellation, so that
// nothing is shown or kept; and so is a view that shows the request
// captured for what no capture of it can have captured
// (checkCapturedAmount, against that view, the first read, and the one
// kept: checkTakenLocked), nothing being shown, kept or taken as seen
// paid. A view in a state that no request's view has is ErrInternal
// (knownView), and so is nothing cancelled, shown or kept.
func (s *Seller) withdrawTaken(ctx context.Context, sess *SessionView, id ID) error {
	v, err := knownView(s.merchantPayment(ctx, id, sess.MerchantID))
	if err != nil {
		return err
	}
	first := v
	if v.SessionID != sess.ID {
		return fmt.Errorf("%w: the platform's view is of another session's request", ErrMismatch)
	}
	if err := checkRecordedMsg(v, v.Request); err != nil {
		return err
	}
	if err := s.checkKept(v); err != nil {
		return err
	}
	if v.State == StatePending {
		if v, err = s.cancelRecorded(ctx, v); err != nil {
			return err
		}
	}
	s.mu.Lock()
	if err := s.checkTakenLocked(first, v); err != nil { // the screen or Held may have changed meanwhile
		s.mu.Unlock()
		return err
	}
	known := s.sawPaidLocked(v.ID)
	s.seenLocked(v)
	s.mu.Unlock()
	if v.State == StateCaptured && !known {
		return s.showPaid(first, v, false, ", found at a taken index of the session,")
	}
	return nil
}

// checkKept checks that v, a view of a request the seller made, is of
// the request that the phone keeps under v's ID (sameRequest): on screen,
// or among the held requests (Held), also one left out as past its hold
// expiry. A request ID names one recorded request, so a view under it of
// another is the platform's contradiction, not the request kept.
func (s *Seller) checkKept(v *PaymentView) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, kept := range s.keptLocked(v.ID) {
		if err := sameRequest(kept, v); err != nil {
			return err
		}
	}
	return nil
}

// keptLocked returns the views that the phone keeps of the request id,
// s.mu held: the one on screen, then the one among the held requests
// (Held), also one left out as past its hold expiry.
func (s *Seller) keptLocked(id ID) []*PaymentView {
	var kept []*PaymentView
	if s.payment != nil && s.payment.ID == id {
		kept = append(kept, s.payment)
	}
	if h, err := s.heldRequestLocked(id); err == nil {
		kept = append(kept, h)
	}
	return kept
}

// checkTakenLocked is checkTaken of v, a view of a request the seller
// made, that first, the first view of it that the call read or got in
// answer, led to, against first and the views of it kept on screen and
// in Held (keptLocked), s.mu held: so a part of the amount is taken
// as captured for a merchant that captures manually only when every view
// of it says so (ErrMismatch otherwise), as Status and Wait take it.
func (s *Seller) checkTakenLocked(first, v *PaymentView) error {
	return checkTaken(v, append([]*PaymentView{first}, s.keptLocked(v.ID)...)...)
}

// unsentRequest is a signed payment request that may be recorded, kept to
// be withdrawn: msg, whose Request got no answer or no verdict (also the
// view of another request), or which left a screen (taken off it by a
// Select, whose withdrawal got no answer), so that a request made since
// in the session selected may be on screen.
type unsentRequest struct {
	msg  []byte
	id   ID // msg's request ID
	left bool
	// next is the index after msg's in its session (SessionRequestID),
	// which the session's next request takes once the platform shows msg
	// recorded (withdraw); zero for one that left the screen, whose
	// Request moved past its index as the platform recorded it.
	next uint32
}

// keepMade keeps u, the signed payment request id that Request made and
// that may be recorded, to be withdrawn (keepUnsent), as the request made
// last, which a request on screen is then not (lastPayment).
func (s *Seller) keepMade(id ID, u unsentRequest) {
	s.mu.Lock()
	s.last = id
	s.mu.Unlock()
	u.id = id
	s.keepUnsent(u)
}

// requestKey names a signed payment request fully: its ID and the hash of
// the signed request (a seller card may sign more than one request under
// one ID).
type requestKey struct {
	id   ID
	hash string
}

// unsentKeys returns the keys of the requests kept to be withdrawn
// (keepUnsent).
func (s *Seller) unsentKeys() map[requestKey]bool {
	s.unsentMu.Lock()
	defer s.unsentMu.Unlock()
	keys := make(map[requestKey]bool, len(s.unsent))
	for _, u := range s.unsent {
		h := record.Hash(u.msg)
		keys[requestKey{u.id, string(h[:])}] = true
	}
	return keys
}

// keepUnsent keeps u, a signed payment request that may be recorded, to
// be withdrawn (settleUnsent).
func (s *Seller) keepUnsent(u unsentRequest) {
	s.unsentMu.Lock()
	defer s.unsentMu.Unlock()
	s.unsent = append(s.unsent, u)
}

// settleUnsent settles the payment requests kept by keepUnsent, oldest
// first, as Request says (Request, Select, Cancel). kept reports that it
// found requests kept, and last is the final view of the newest of them
// that the platform recorded (withdraw), nil when it recorded none.
//
// One found paid does not stop it: the requests kept after it, which the
// shoppers could still pay, are withdrawn too, and then it fails with the
// paid one's *PaidError alone. It stops at a later one that gets no
// answer or verdict, which stays kept with those after it, for the next
// call to send again: the payment is reported, not that error, which
// would have the app make the call again with the payment unseen. A later
// one found paid too is not shown and stays kept, so that the next call
// reports it: each is reported once.
func (s *Seller) settleUnsent(ctx context.Context) (last *PaymentView, kept bool, err error) {
	if err := s.settleMu.lock(ctx); err != nil {
		return nil, false, err
	}
	defer s.settleMu.unlock()
	var paid error // the *PaidError of the first one found paid
	for i := 0; ; {
		// Only settleUnsent takes requests off unsent, and keepUnsent
		// adds them at its end, so those before i stay where they are.
		s.unsentMu.Lock()
		if i == len(s.unsent) {
			if i == 0 {
				s.unsent = nil
			}
			s.unsentMu.Unlock()
			if paid != nil {
				return nil, true, paid
			}
			return last, kept, nil
		}
		u := s.unsent[i]
		s.unsentMu.Unlock()
		kept = true
		v, done, err := s.withdraw(ctx, u, paid == nil)
		if done {
			s.unsentMu.Lock()
			s.unsent = slices.Delete(s.unsent, i, i+1)
			s.unsentMu.Unlock()
			if v != nil {
				last = v
			}
		} else {
			i++
		}
		switch {
		case err == nil:
		case paid != nil: // reported alone, the rest kept
			return nil, true, paid
		case holdsError[*PaidError](err):
			paid = err
		default:
			return nil, true, err
		}
	}
}

// withdraw sends u's signed payment request again: one recorded and still
// payable is cancelled, and one that was paid is ErrFinal and goes on
// screen, unless it left the screen and another request is there. A view
// of it that is not of the request kept under its ID, on screen or in
// Held (another request that the card signed under that ID) is
// ErrMismatch: nothing is cancelled or shown, and u stays kept
// (withdrawRecorded). Once the platform answers with its view
// (checkRecordedMsg), in whatever state, its index is taken, and the next
// request of its session goes on after it (u.next, moveOnLocked), so that
// the card signs no other request under its ID. done reports that u is
// settled, and v is then its final view (cancelled, paid, or as it ended
// otherwise), nil when the platform refused it, which was then never
// recorded. Unless report, one found paid is not shown: it is not done,
// and is reported when sent again.
func (s *Seller) withdraw(ctx context.Context, u unsentRequest, report bool) (v *PaymentView, done bool, err error) {
	msg := u.msg
	v, err = s.api.CreateRequest(ctx, &CreateRequest{Request: msg})
	if err != nil {
		if !refused(err) {
			return nil, false, err
		}
		return nil, true, nil // refused, so never recorded
	}
	if err := checkRecordedMsg(v, msg); err != nil { // a view paid goes on screen, to be refunded
		return nil, false, err
	}
	s.mu.Lock()
	// Recorded, whatever happens next: its session (the one the card
	// signed, as checkRecordedMsg checked) goes on after it.
	s.moveOnLocked(v.SessionID, u.next)
	// One paid that left the screen, or of a session left, does not take it
	// from a request made since in the session selected (of another shopper,
	// or of the same one selected again), which stays there to be withdrawn
	// first; one of the session selected whose Request got no answer is
	// newer than any request on screen.
	over := !u.left && s.session != nil && s.session.ID == v.SessionID
	s.mu.Unlock()
	if _, err := knownView(v, nil); err != nil { // no verdict on what became of it
		return nil, false, err
	}
	v, err = s.withdrawRecorded(ctx, v, over, report)
	return v, v != nil, err
}

// checkRecorded checks that v, the platform's answer to msg, which the
// card signed over r, is the view of that request: msg itself as its
// signed request, its ID, hash, amount, currency, merchant, session and
// payer, when r names one, and lines and legs that are r's
// (showsSignedLines), with line names of the form that receipts carry
// (checkLineNames; ErrMismatch otherwise). The later checks of the
// request's views and receipt compare them with this view (sameRequest,
// checkReceipt), so a view that files the request under another party is
// never taken as it, and every view taken as it carries msg.
func checkRecorded(v *PaymentView, r *record.PaymentRequest, msg []byte) error {
	h := record.Hash(msg)
	if !bytes.Equal(v.Request, msg) || !bytes.Equal(r.RequestID, v.ID[:]) || !bytes.Equal(v.RequestHash, h[:]) ||
		v.Amount != r.Amount || v.Currency != r.Currency ||
		v.MerchantID != r.MerchantID || !bytes.Equal(r.SessionID, v.SessionID[:]) || (r.PayerCardID != "" && v.PayerCardID != r.PayerCardID) ||
		!showsSignedLines(r, v.Lines, v.Legs) {
		return fmt.Errorf("%w: the platform recorded another request", ErrMismatch)
	}
	return checkLineNames(v.Lines)
}

// checkRecordedMsg is checkRecorded of v against msg, a signed payment
// request, opened first: a msg that does not open (a view without its
// signed request) is ErrMismatch.
func checkRecordedMsg(v *PaymentView, msg []byte) error {
	var r record.PaymentRequest
	if err := record.Open(msg, &r); err != nil {
		return fmt.Errorf("%w: the signed payment request does not open", ErrMismatch)
	}
	return checkRecorded(v, &r, msg)
}

// withdrawLeft withdraws v, the view of a request recorded in a session
// selected before, which its shopper may still find: at once, or, when the
// platform gives no view of it, or one that is not of the request kept
// under its ID (withdrawRecorded), kept as one without an answer
// (keepUnsent), which kept reports, by v's signed request, which is what
// the card signed (checkRecorded, sameRequest). One paid is ErrFinal, and
// goes on screen with its receipt unless a request of the session
// selected since is there (withdrawRecorded).
func (s *Seller) withdrawLeft(ctx context.Context, v *PaymentView) (kept bool, err error) {
	w, err := s.withdrawRecorded(ctx, v, false, true)
	if err == nil || w != nil {
		return false, err
	}
	s.keepUnsent(unsentRequest{msg: v.Request, id: v.ID, left: true})
	return true, err
}

// withdrawRecorded cancels the recorded request of v, a view of it, when
// v shows it payable (pending or held), and returns its final view; one
// that was paid goes on screen (showPaid, over the request there when
// over), with its view and ErrFinal. It returns a nil view when the
// platform gives none, and when v, or the view after a cancellation, is
// not of the request kept under v's ID, on screen or in Held (checkKept,
// compared before the cancellation is sent, and by showPaid), or shows it
// captured for what no capture of it can have captured (showPaid): that
// is ErrMismatch, and nothing is cancelled or shown. Unless report, one
// paid is not shown either: the view is nil and the error too, so that it
// is reported when sent again (settleUnsent).
func (s *Seller) withdrawRecorded(ctx context.Context, v *PaymentView, over, report bool) (*PaymentView, error) {
	if err := s.checkKept(v); err != nil {
		return nil, err
	}
	first := v
	if payable(v.State) {
		var err error
		if v, err = s.cancelRecorded(ctx, v); err != nil {
			return nil, err
		}
	}
	switch {
	case v.State != StateCaptured:
		return v, nil
	case !report:
		return nil, nil
	}
	err := s.showPaid(first, v, over, ", which the phone withdraws,")
	if !holdsError[*PaidError](err) { // not shown
		return nil, err
	}
	return v, err
}

// showPaid puts v, the captured view of a request the phone meant to
// withdraw, on screen with its receipt (Status, Wait), and returns
// a *PaidError saying that the request, described by what, was paid. Unless
// over, v takes the screen only while it is empty or shows v's request: a
// request that a Request of the session selected since put there stays,
// so that the next Request or Select withdraws it while it is payable.
// A v that is not of the request kept under its ID (checkKept), or
// that shows it captured for what no capture of it can have captured,
// by first, the first view of it that the call had, or the view kept
// (checkTakenLocked: the whole amount, or for a merchant that captures
// manually no more than it, as Status and Wait take it), is ErrMismatch:
// it is not shown or taken as seen paid.
func (s *Seller) showPaid(first, v *PaymentView, over bool, what string) error {
	// v may be on screen already (seen), where calls of other goroutines
	// read it without the lock: the checks, which give the view checked
	// the merchant name kept (sameRequest), write into a copy.
	v = cloneView(v)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkTakenLocked(first, v); err != nil {
		return err
	}
	if over || s.payment == nil || s.payment.ID == v.ID {
		s.payment, s.last = v, v.ID
	}
	s.notePaidLocked(v.ID)
	return &PaidError{Payment: cloneView(v), what: what}
}

// PaidError is the error of a Request, Select or Cancel that found paid a
// payment request the phone meant to withdraw, or sent again after it got
// no answer, or of a Request that found paid, at an index of the session
// taken before, a request that the phone did not see paid (see Request,
// Select and Cancel). It matches ErrFinal. The request is on screen with
// its receipt (Status, Wait) unless another request keeps the screen;
// either way Payment names it, so that the app can show it or refund it
// by its ID (RefundPayment).
type PaidError struct {
	// Payment is the platform's captured view of the request, the
	// caller's own (a copy of the one the phone may keep on screen). Its
	// Receipt is as the platform gave it: Wait verifies it while the
	// request is on screen, RefundPayment the receipt of its refund.
	Payment *PaymentView

	what string // describes the request in Error
}

// Error names the request paid; one without its Payment (a zero value,
// or a nil *PaidError) says that a payment request was paid.
func (e *PaidError) Error() string {
	if e == nil || e.Payment == nil {
		return fmt.Sprintf("%v: a payment request was paid (no view given)", ErrFinal)
	}
	return fmt.Sprintf("%v: payment request %v%s was paid", ErrFinal, e.Payment.ID, e.what)
}

// Unwrap returns ErrFinal.
func (e *PaidError) Unwrap() error { return ErrFinal }

// cancelRecorded cancels the recorded request of v, a view of it, and
// returns its view after: cancelled, or as it ended meanwhile, once a
// settlement of it under way ended (cancelSettled). When the platform
// answers that it ended (ErrFinal, ErrExpired), or with its view ended
// otherwise (captured, declined, expired), which is no cancellation and
// which it answers so, the request is read again; a read that shows it
// still payable (pending or held), which is no view of an ended request,
// or in a state that no request's view has (knownView), is ErrInternal,
// and no view, as such an answer to the cancellation is (cancelAnswer).
func (s *Seller) cancelRecorded(ctx context.Context, recorded *PaymentView) (*PaymentView, error) {
	v, err := s.cancelSettled(ctx, recorded)
	if err == nil && v.State != StateCancelled { // ended otherwise
		err = fmt.Errorf("%w: the platform answered the cancellation with the payment %s", ErrFinal, v.State)
	}
	if errors.Is(err, ErrFinal) || errors.Is(err, ErrExpired) { // it ended meanwhile
		ended := err
		v, err = s.reread(ctx, recorded)
		if err == nil && payable(v.State) {
			return nil, fmt.Errorf("%w: the platform answered the cancellation (%v) and then showed the payment %s",
				ErrInternal, ended, v.State)
		}
		return knownView(v, err)
	}
	return v, err
}

// knownView returns v and err, but for a v in a state that no request's
// view has (a platform's inner state, a newer platform's state), which
// tells nothing of the request: that is ErrInternal, and no view.
func knownView(v *PaymentView, err error) (*PaymentView, error) {
	if err == nil && !knownState(v.State) {
		return nil, errUnknownState(v)
	}
	return v, err
}

// cancelAnswer returns v and err, the platform's answer to a
// cancellation, but for a v that shows the request still payable (pending
// or held), which is no cancellation (the platform answers one with the
// request cancelled, or ErrFinal or ErrExpired once it ended otherwise),
// or in a state that no request's view has (knownView): that is
// ErrInternal, and no view.
func cancelAnswer(v *PaymentView, err error) (*PaymentView, error) {
	if err == nil && payable(v.State) {
		return nil, fmt.Errorf("%w: the platform answered the cancellation with the payment %s", ErrInternal, v.State)
	}
	return knownView(v, err)
}

// cancelSettled asks the platform to cancel cur, a request the seller
// made, and returns its view. While the platform answers that a
// settlement of the request is under way (its verdict ErrConflict: a
// consent being settled, the request shown pending, or a capture being
// made, shown held), it asks again every poll interval, for
// PhoneOptions.SettleWait after the first such answer at most, and
// answers as the platform answers once that settlement ended: the
// request cancelled (a refused hold, or one voided), or ended (ErrFinal
// once paid). When SettleWait runs out first, it fails with the
// platform's last ErrConflict. When ctx ends first, between two
// cancellations or during one that then gets no verdict, it fails with
// ctx's error joined with that ErrConflict. A view in a state that no
// request's view has is ErrInternal (knownView), and so is one that shows
// the request still payable (pending or held), which the platform never
// answers to a cancellation that it made: no cancellation, and no verdict
// on it (cancelAnswer).
func (s *Seller) cancelSettled(ctx context.Context, cur *PaymentView) (*PaymentView, error) {
	var conflict error // the platform's last answer ErrConflict
	var until time.Time
	for {
		v, err := s.callOn(ctx, cur, func(token string, cur *PaymentView) (*PaymentView, error) {
			return s.api.Cancel(ctx, token, cur.ID)
		})
		switch {
		case errors.Is(err, ErrConflict) && refused(err): // a settlement under way
			conflict = err
		case err != nil && conflict != nil && !refused(err) && ctx.Err() != nil: // ctx ended during the call
			return nil, errors.Join(context.Cause(ctx), conflict)
		default:
			return cancelAnswer(v, err)
		}
		if until.IsZero() {
			until = time.Now().Add(s.opts.SettleWait)
		}
		if !time.Now().Before(until) {
			return nil, conflict
		}
		if err := s.sleep(ctx); err != nil {
			return nil, errors.Join(err, conflict)
		}
	}
}

// withdrawShown cancels the request on screen, last seen pending, while
// the platform still shows it pending, as Request says, and takes it off
// the screen once it ended without a payment. One paid since stays on
// screen with its receipt, and withdrawShown fails with ErrFinal, so that
// the seller sees the payment before asking again. It reads the screen
// once: a Cancel or Select of another goroutine that took the request off
// it since leaves it to be read and withdrawn all the same (one paid goes
// back on an empty screen, as showPaid says).
func (s *Seller) withdrawShown(ctx context.Context) error {
	s.mu.Lock()
	shown := s.payment
	s.mu.Unlock()
	if s.screenRead != nil {
		s.screenRead()
	}
	if shown == nil || shown.State != StatePending {
		return nil
	}
	// shown, also when a Cancel or Select took it off the screen since.
	v, err := s.look(ctx, shown)
	if err == nil && v.State == StatePending {
		v, err = s.cancelRecorded(ctx, v)
	}
	if err != nil {
		return err
	}
	switch v.State {
	case StateCaptured:
		return s.showPaid(shown, v, false, " on screen")
	case StateHeld:
	default:
		s.finish(v)
	}
	return nil
}

// unanswered reports whether a call that failed with err got no verdict
// on what it sent: the platform failed or could not be reached, ctx
// ended, or over HTTP the first attempt was still running when the
// retries ran out (ErrInFlight). What it sent may have taken effect.
func unanswered(err error) bool {
	return serverError(err) || errors.Is(err, ErrInFlight)
}

// refused reports whether err, the error of a call, is the platform's
// verdict on it: for a call that sent a signed record, that it refused
// the record, which then took no effect; for a resolution, that it
// cannot name the EID (phone.askOnce). That is an error of a refusal code
// (not unanswered) that the platform gave, in process or over HTTP in its
// error body. Neither rate_limited, which says that the call was not run
// then, not what an earlier attempt of it over HTTP did, nor a reply
// without the platform's error body (statusOnlyError), which a gateway or
// proxy may have sent in its stead after an earlier attempt reached the
// platform, is that verdict: what the call sent may have taken effect.
func refused(err error) bool {
	return err != nil && !unanswered(err) && !errors.Is(err, ErrRateLimited) && !holdsError[*statusOnlyError](err)
}

// checkToSign checks r, a record that the phone built to have the card sign
// it, before the card is asked to: the values that came from the platform
// were checked when received (Catalog, Select, RefundPayment, and the
// views of the requests the phone made against what it signed), so one
// that package record refuses (record.ErrMalformed: a payment request of
// amount zero without legs, an amount over 2^63-1, a currency or SKU of
// the wrong form, more than record.MaxItems items, a refund of zero, a
// record whose signed message would be longer than record.MaxMessage) is
// the caller's, and ErrInvalid, as the platform answers such a record.
// The message is measured with h, the card header that the card adds when
// it signs (signingHeader), so that the check refuses exactly what the
// card would.
func checkToSign[R any, P interface {
	*R
	record.CardRecord
}](r P, h record.CardHeader) error {
	signed := *r // a copy, r's header left as the phone built it
	*P(&signed).Header() = h
	payload, err := record.Marshal(P(&signed))
	if err == nil {
		err = record.CheckMessageSize(r.Type(), payload)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// signingHeader returns the card header that the card adds to the next
// record it signs (PROTOCOL.md §2.6): its ICCID and the counter after the
// last one it used, read from the card. A record that the card signs after
// another, signed in between by a call of another goroutine (Select, a
// Login), may take a longer counter: the card then refuses it
// (simcard.ErrRefused) without using a counter, should that counter take
// its message over record.MaxMessage. A card whose counter is 2^64-1 signs
// nothing more (it answers 6985): that is simcard.ErrConditions, as the
// card's refusal is.
func (s *Seller) signingHeader() (record.CardHeader, error) {
	id, err := s.CardID()
	if err != nil {
		return record.CardHeader{}, err
	}
	last, err := s.card.Counter()
	if err != nil {
		return record.CardHeader{}, err
	}
	if last == math.MaxUint64 {
		return record.CardHeader{}, fmt.Errorf("%w: the card's signature counter is exhausted", simcard.ErrConditions)
	}
	return record.CardHeader{CardID: id, Counter: last + 1}, nil
}

// checkSigned is checkToSign of r with the header that the card adds to
// the next record it signs (signingHeader).
func checkSigned[R any, P interface {
	*R
	record.CardRecord
}](s *Seller, r P) error {
	h, err := s.signingHeader()
	if err != nil {
		return err
	}
	return checkToSign(r, h)
}

// catalogLines prices items at the catalog's prices, and returns their
// total and the lines of a receipt of them.
func catalogLines(c *Catalog, items []record.Item) (uint64, []Line, error) {
	byCatalog := make(map[string]CatalogItem, len(c.Items))
	for _, it := range c.Items {
		byCatalog[it.SKU] = it
	}
	var total uint64
	lines := make([]Line, len(items))
	for i, it := range items {
		ci, ok := byCatalog[it.SKU]
		if !ok {
			return 0, nil, fmt.Errorf("%w: SKU %q is not in the catalog", ErrInvalid, it.SKU)
		}
		hi, amount := bits.Mul64(ci.UnitPrice, it.Quantity)
		sum, carry := bits.Add64(total, amount, 0)
		if hi != 0 || carry != 0 || sum > 1<<63-1 {
			return 0, nil, fmt.Errorf("%w: total overflows", ErrInvalid)
		}
		total = sum
		lines[i] = Line{SKU: it.SKU, Name: ci.Name, Quantity: it.Quantity, UnitPrice: ci.UnitPrice, Amount: amount}
	}
	return total, lines, nil
}

// checkCharge checks r, a payment request of ID id whose items priced
// (their lines, by the catalog priced) or amount make a charge, before the
// card signs it: that the card would sign it (checkSigned) and that its
// receipt would fit (checkReceiptFits). A receipt too long with the names
// of priced drops that catalog, whose names may be shorter now.
func (s *Seller) checkCharge(id ID, r *record.PaymentRequest, lines []Line, priced *Catalog) error {
	if err := checkSigned(s, r); err != nil {
		return err
	}
	if err := checkReceiptFits(id, r, lines); err != nil {
		if priced != nil {
			s.forgetCatalog(priced)
		}
		return err
	}
	return nil
}

// checkReceiptFits checks, before the card signs r, of ID id, that the
// payment receipt of r would fit (receiptFits) with lines, its items
// priced by the catalog the phone holds: the platform refuses a request
// whose receipt does not (ErrInvalid), which the card would have signed,
// using a counter, for nothing.
func checkReceiptFits(id ID, r *record.PaymentRequest, lines []Line) error {
	return receiptFits(&PaymentRecord{
		ID: id, Currency: r.Currency, Amount: r.Amount, PayerCardID: r.PayerCardID, MerchantID: r.MerchantID,
		Lines: lines, Legs: assetLegs(r.Legs), RequestHash: make([]byte, record.HashSize),
	})
}

// Status returns the status screen of the payment request on screen
// (ErrNoPayment when there is none), as the platform holds it now: the
// one made last, a paid one that took the screen since (PaidError), or an
// earlier one that stays there while the one made last got no answer
// (Cancel). The view is the caller's own, as the Seller type says. A view
// in a state that no request's view has (a platform's inner state, a
// newer platform's state) is ErrInternal, and one that is not of the
// request on screen (its signed request, byte for byte, ID, hash,
// parties, amount, currency, lines and legs) is ErrMismatch, as is one
// that shows it captured for other than its whole amount, or, when the
// view kept and this one both say that the merchant captures manually,
// for more than it (checkCapturedAmount, as the shopper's phone checks):
// the request stays on screen, and among the held ones (Held), as last
// seen, not taken as paid. Status verifies no receipt: a captured view
// that passes these checks goes on screen, and the request is then seen
// paid (PROTOCOL.md §5.6), with the view's Receipt as the platform gave
// it, which Wait verifies.
//
// A Status whose ctx ended before it fails with ctx's error, whether or
// not the API heeds ctx (a Platform in process): it reads nothing, and the
// screen and the held requests (Held) stay as they were. With no request
// on screen it fails with ErrNoPayment all the same.
func (s *Seller) Status(ctx context.Context) (*PaymentView, error) {
	v, err := s.status(ctx)
	if err != nil {
		return nil, err
	}
	return cloneView(v), nil // the app's own, v kept on screen
}

// status is Status, returning the view that the phone keeps.
func (s *Seller) status(ctx context.Context) (*PaymentView, error) {
	cur, err := s.currentPayment()
	if err != nil {
		return nil, err
	}
	// Once ctx ended, nothing is read, whether or not the API heeds ctx.
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return s.look(ctx, cur)
}

// look returns the view of cur, a request the seller made, as the platform
// holds it now, and takes note of it (seen). A view in a state that no
// request's view has (a platform's inner state, a newer platform's state)
// tells nothing of the request: it is ErrInternal, and nothing is noted.
// A captured view that shows captured what no capture of cur can have
// captured (checkCapturedAmount) is ErrMismatch, and nothing is noted:
// the request is not seen paid.
func (s *Seller) look(ctx context.Context, cur *PaymentView) (*PaymentView, error) {
	v, err := s.reread(ctx, cur)
	if err != nil {
		return nil, err
	}
	if err := checkTaken(v, cur); err != nil {
		return nil, err
	}
	s.seen(v)
	return v, nil
}

// checkTaken checks v, a view of a request that the phone read or got in
// answer, against shown, views of that request that it had, before the
// phone takes note of v (seen): one in a state that no request's view has
// is ErrInternal (knownView), and one that is not of the request of
// every view of shown (sameRequest, which gives v the merchant name of
// the last), or that shows it captured for what no capture of it can have
// captured by one of them (checkCapturedAmount), is ErrMismatch.
func checkTaken(v *PaymentView, shown ...*PaymentView) error {
	if _, err := knownView(v, nil); err != nil {
		return err
	}
	for _, w := range shown {
		if err := sameRequest(w, v); err != nil {
			return err
		}
	}
	if v.State != StateCaptured {
		return nil
	}
	for _, w := range shown {
		if err := checkCapturedAmount(w, v); err != nil {
			return err
		}
	}
	return nil
}

// seen puts v, a view of a request the seller made, on screen in place of
// an older view of the same request, and keeps it among the held requests
// (Held) while it shows it held, or captured while the receipt of a
// capture of it that may have been made is due (receiptDue). A view that
// shows it captured, on screen or so kept, is remembered as seen paid
// (notePaidLocked); one that Held drops, captured without its receipt
// being due (captured elsewhere), is not: the app did not see it paid.
func (s *Seller) seen(v *PaymentView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seenLocked(v)
}

// received is seen for v, a captured view whose verified receipt is
// returned: v is no longer kept for its receipt, and the captures of it
// under way count the receipt (captureUnanswered).
func (s *Seller) received(v *PaymentView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.receiptDue, v.ID)
	if c := s.capturing[v.ID]; c != nil {
		c.receipts++
	}
	s.seenLocked(v)
	s.notePaidLocked(v.ID) // its receipt returned
}

// seenLocked is seen with s.mu held.
func (s *Seller) seenLocked(v *PaymentView) {
	if s.payment != nil && s.payment.ID == v.ID {
		s.payment = v
	}
	if i := viewIndex(s.lapsed, v.ID); i >= 0 {
		s.lapsed = slices.Delete(s.lapsed, i, i+1)
	}
	i := viewIndex(s.held, v.ID)
	keep := v.State == StateHeld || v.State == StateCaptured && s.receiptDue[v.ID]
	switch {
	case keep && i >= 0:
		s.held[i] = v
	case keep:
		s.held = append(s.held, v)
	case i >= 0:
		s.held = slices.Delete(s.held, i, i+1)
	}
	if !keep {
		delete(s.receiptDue, v.ID)
	}
	// Seen paid only where the app sees it so: on screen, or kept in
	// Held, which shows it captured.
	if v.State == StateCaptured && (keep || s.payment != nil && s.payment.ID == v.ID) {
		s.notePaidLocked(v.ID)
	}
}

// notePaidLocked remembers that the request id was seen paid, among the
// last keptPaidRequests (sawPaidLocked), as the last one seen paid; s.mu
// is held.
func (s *Seller) notePaidLocked(id ID) {
	if i := slices.Index(s.paid, id); i >= 0 {
		s.paid = slices.Delete(s.paid, i, i+1)
	}
	s.paid = append(s.paid, id)
	if over := len(s.paid) - keptPaidRequests; over > 0 {
		s.paid = slices.Delete(s.paid, 0, over)
	}
}

// sawPaidLocked reports whether the request id is among the last
// keptPaidRequests that this phone saw paid (notePaidLocked); s.mu is
// held.
func (s *Seller) sawPaidLocked(id ID) bool {
	return slices.Contains(s.paid, id)
}

// captureUnanswered keeps cur, a request whose capture may have been made
// without its receipt returned, among the held requests until the receipt
// of a capture of it is returned, or it is seen ended otherwise
// (receiptDue): the capture got no answer or no verdict of the platform,
// the view of another request (no verdict on cur), or a captured view
// whose receipt does not verify (made). A request has one capture, so
// once a receipt of it was returned since the capture began (since, from
// beginCapture: by another call), the receipt of the capture made is, and
// cur is not kept.
func (s *Seller) captureUnanswered(cur *PaymentView, since uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.capturing[cur.ID]; c != nil && c.receipts != since {
		return
	}
	s.receiptDue[cur.ID] = true
	if i := viewIndex(s.lapsed, cur.ID); i >= 0 {
		s.lapsed = slices.Delete(s.lapsed, i, i+1)
	}
	if viewIndex(s.held, cur.ID) < 0 {
		s.held = append(s.held, cur)
	}
}

// MaxHeld is how many held requests a Seller keeps (Held) at most: while
// it keeps that many, held, or whose capture's receipt is due, Request
// makes no other request (ErrLimit), so that no hold is made that the
// phone could not keep; only a CaptureHeld of the captured amount frees
// those that Held shows captured, whose capture was made (CancelHeld
// fails with ErrFinal).
const MaxHeld = 64

// Held returns the held payment requests of a merchant that captures
// manually that the seller keeps for a capture (CaptureHeld) or a
// cancellation (CancelHeld), oldest first. The seller keeps every request
// it made and saw held (Status, Wait, Request), in this session or one
// selected before, also once another request takes the screen, until it
// sees it ended: captured or cancelled by this phone, found captured,
// cancelled or expired by a call of this phone on it, or past its hold
// expiry (HoldExpiresAt) by the phone's clock (PhoneOptions.Now). Held
// leaves out those past their hold expiry without asking the platform,
// reads each of the others from the platform and leaves out those that
// ended; while the platform does not answer, or shows one in a state that
// no request's view has (ErrInternal), it returns them as last seen, from
// the first request it could not read on, with the error.
//
// A capture (Capture, CaptureHeld) that got no answer, or a reply that is
// no verdict of the platform on it (as for Request), the view of
// another request (ErrMismatch) or one of its request in a state that no
// request's view has, or that shows it still payable, pending or held, as
// the platform never answers a capture (ErrInternal), may have been made
// all the same, and one answered captured without a receipt of it that
// verifies was made. So the seller keeps its request, whatever its hold
// expiry, also once it sees it captured, which Held then shows, until a
// capture of it returns its verified receipt (CaptureHeld of the same
// amount, which the platform answers with the capture made; Wait or
// Capture while it is on screen), or returned it while that capture was
// under way (from the moment the call found its request, also while it
// checks the platform's certificate: Capture), or it is seen ended
// without a capture; until then it counts toward MaxHeld. One whose
// capture was not made stays held, and Held shows it so: a CancelHeld, a
// CaptureHeld of any amount or its hold's expiry frees it.
//
// A Held whose ctx ended before it reads nothing, whether or not the API
// heeds ctx (a Platform in process), and leaves out none: it returns the
// held requests kept, as last seen, with ctx's error, and keeps them as
// they were.
//
// The views it returns are the caller's own, as the Seller type says.
func (s *Seller) Held(ctx context.Context) ([]*PaymentView, error) {
	err := context.Cause(ctx)
	if err == nil {
		err = s.refreshHeld(ctx)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	held := make([]*PaymentView, len(s.held))
	for i, v := range s.held {
		held[i] = cloneView(v) // the app's own, v kept
	}
	return held, err
}

// refreshHeld stops keeping the held requests past their hold expiry by
// the phone's clock (lapseLocked) and reads the others from the platform,
// so that those that ended are no longer kept (seen).
func (s *Seller) refreshHeld(ctx context.Context) error {
	s.mu.Lock()
	s.lapseLocked()
	held := slices.Clone(s.held)
	s.mu.Unlock()
	for _, h := range held {
		if _, err := s.look(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// lapseLocked moves the held requests kept whose hold expiry has passed by
// the phone's clock to lapsed, which keeps the last MaxHeld of them for a
// capture or cancellation (heldRequest), so that the platform tells it
// that they expired; s.mu is held. A view without a hold expiry (from a
// platform that sends none) stays kept, to be read, and so does one whose
// receipt is due (receiptDue): its capture may have been made in time.
func (s *Seller) lapseLocked() {
	now := s.opts.Now()
	s.held = slices.DeleteFunc(s.held, func(h *PaymentView) bool {
		past := !s.receiptDue[h.ID] && holdLapsed(h, now)
		if past {
			s.lapsed = append(s.lapsed, h)
		}
		return past
	})
	if n := len(s.lapsed) - MaxHeld; n > 0 {
		s.lapsed = slices.Delete(s.lapsed, 0, n)
	}
}

// roomForHold fails with ErrLimit while the seller keeps MaxHeld
// requests, held, or whose capture's receipt is due (refreshHeld), those
// of spare left out: requests kept to be withdrawn (unsentKeys), before
// Request withdraws them, which ends each of them (a hold voided) or
// fails. A held request is left out only when one kept has both its ID
// and its request hash: withdrawing another request under its ID leaves
// it held.
func (s *Seller) roomForHold(ctx context.Context, spare map[requestKey]bool) error {
	full := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := len(s.held)
		for _, h := range s.held {
			if spare[requestKey{h.ID, string(h.RequestHash)}] {
				n--
			}
		}
		return n >= MaxHeld
	}
	if !full() {
		return nil
	}
	if err := s.refreshHeld(ctx); err != nil {
		return err
	}
	if full() {
		return fmt.Errorf("%w: %d requests are kept, held, or whose capture's receipt is due; capture or cancel a held one, "+
			"and only a CaptureHeld of the captured amount frees those that Held shows captured", ErrLimit, MaxHeld)
	}
	return nil
}

// heldRequest returns the view kept of the held request id, also of one
// that Held left out as past its hold expiry (lapsed), or ErrNoPayment.
func (s *Seller) heldRequest(id ID) (*PaymentView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.heldRequestLocked(id)
}

// heldRequestLocked is heldRequest with s.mu held.
func (s *Seller) heldRequestLocked(id ID) (*PaymentView, error) {
	for _, kept := range [][]*PaymentView{s.held, s.lapsed} {
		if i := viewIndex(kept, id); i >= 0 {
			return kept[i], nil
		}
	}
	return nil, fmt.Errorf("%w: request %v is not held by this phone", ErrNoPayment, id)
}

// viewIndex returns the index of the view of request id in views, or -1.
func viewIndex(views []*PaymentView, id ID) int {
	return slices.IndexFunc(views, func(v *PaymentView) bool { return v.ID == id })
}

// ended takes note of err, the error of a capture or cancellation of cur:
// when it says that the request ended (ErrFinal, ErrExpired), the view
// the platform shows now is seen, so that an ended request is no longer
// kept as held. It returns err. A read that shows the request still
// payable (pending or held), which is no view of an ended request, or in
// a state that no request's view has (knownView), is ErrInternal, joined
// to err, and one that shows it captured for what no capture of it can
// have captured (checkTaken) is ErrMismatch, joined so; either way nothing
// is noted: the request stays as last seen, as cancelRecorded's read does.
func (s *Seller) ended(ctx context.Context, cur *PaymentView, err error) error {
	if !errors.Is(err, ErrFinal) && !errors.Is(err, ErrExpired) {
		return err
	}
	v, lerr := s.reread(ctx, cur)
	if lerr == nil && payable(v.State) {
		lerr = fmt.Errorf("%w: the platform then showed the payment %s", ErrInternal, v.State)
	}
	if lerr == nil {
		lerr = checkTaken(v, cur)
	}
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	s.seen(v)
	return err
}

// Wait waits until the shopper acts on the payment request on screen
// (Status), or it ends otherwise, and returns its status: captured with
// the verified receipt (one of another request, parties or currency, for
// another amount than captured, or with other lines or legs than the
// card signed, or with another count of ledger transfer IDs than the
// platform posts for that request, one for the money when its amount is
// not zero and one for each asset leg, is ErrMismatch, the captured view
// staying on screen and the request seen paid as Status leaves them, so
// that only the receipt is withheld; so is a view captured for another
// amount than Status takes, which leaves the request as last seen),
// held (for a manual capture: see Capture), declined, cancelled or
// expired with a nil receipt; a read that shows it in another state fails
// Wait with ErrInternal, the request staying on screen (Status). The view
// is the caller's own, as the Seller type says.
//
// A Wait whose ctx ended before it fails with ctx's error and reads
// nothing, whether or not the API heeds ctx (a Platform in process), as
// Status says; one whose ctx ends while it waits for the shopper fails
// with ctx's error then.
func (s *Seller) Wait(ctx context.Context) (*PaymentView, *Receipt, error) {
	v, rc, err := s.wait(ctx)
	return cloneView(v), rc, err // the app's own, v kept on screen
}

// wait is Wait, returning the view that the phone keeps.
func (s *Seller) wait(ctx context.Context) (*PaymentView, *Receipt, error) {
	for {
		v, err := s.status(ctx)
		if err != nil {
			return nil, nil, err
		}
		switch v.State {
		case StatePending:
			if err := s.sleep(ctx); err != nil {
				return nil, nil, err
			}
			continue
		case StateCaptured:
			rc, err := s.paymentReceipt(ctx, v, 0)
			if err != nil {
				return nil, nil, err
			}
			return v, rc, nil
		case StateHeld:
			return v, nil, nil
		}
		s.finish(v)
		return v, nil, nil
	}
}

// paymentReceipt verifies the receipt of v, a captured view of a request
// the seller made (checked with sameRequest against the view kept of it,
// and with checkCapturedAmount: the whole amount captured, or for a
// merchant that captures manually no more than it, as the shopper's phone
// checks): of this request, with the lines and legs that the card signed
// (checkReceipt), for what v says was captured, and when amount is not
// zero, for amount.
func (s *Seller) paymentReceipt(ctx context.Context, v *PaymentView, amount uint64) (*Receipt, error) {
	rc, err := s.verifyReceipt(ctx, v.Receipt)
	if err != nil {
		return nil, err
	}
	if err := checkReceipt(rc, record.ReceiptPayment, v); err != nil {
		return nil, err
	}
	if rc.Amount != v.Captured || (amount != 0 && rc.Amount != amount) {
		return nil, fmt.Errorf("%w: the receipt is for %d of %d, not what was captured", ErrMismatch, rc.Amount, v.Amount)
	}
	s.received(v)
	return rc, nil
}

// Cancel withdraws the payment request made last; a hold is voided.
//
// A payment request whose Request got no answer or no verdict of the
// platform (Request) may be recorded all the same, and the shopper would
// find it and pay it: the phone keeps it, and it is the request made last.
// Cancel sends it again first, as signed, as the next Request or Select
// would (with every other request that the phone keeps so, oldest first),
// and returns the final view of the newest of them that the platform
// recorded: cancelled (a hold voided), or as it ended otherwise (declined,
// expired, or cancelled by a pairing since); the request on screen, an
// earlier one, is left as it is. A request on screen made after them and
// last seen payable (pending or held), as one that a Request made in the
// session selected while a Select took the one before it off the screen
// and kept it, getting no answer to its withdrawal, is the request made
// last: Cancel then withdraws it too, as below, and returns what that
// returns. One paid goes on screen with its receipt (Status, Wait) as
// Request says, and Cancel fails with a *PaidError (ErrFinal) naming it,
// once it withdrew the requests kept after it too (one of them paid too
// stays kept, not shown, and the next Cancel reports it); one whose view
// shows captured what no capture of it can have captured is ErrMismatch,
// as Request says, and stays kept. When the platform refuses them all,
// they were never recorded, and Cancel fails with ErrNoPayment. While it
// gets no answer or no verdict (also the view of another request:
// ErrMismatch, or one in a state that no request's view has: ErrInternal),
// Cancel fails with that error and the request stays kept, to be sent
// again by the next Cancel, Request or Select. Cancel waits for a
// Request's or Select's withdrawal of the kept requests only as long as
// ctx lasts, and then fails with ctx's error alone; one whose ctx ended
// before it fails with ctx's error, sending nothing, whether or not the
// API heeds ctx (a Platform in process), unless it keeps no request to
// send again and has none to withdraw (below): that is ErrNoPayment all
// the same, as for Capture.
//
// Otherwise Cancel withdraws the request on screen when it is the request
// made last, or a paid one that took the screen since (ErrNoPayment when
// there is none). One paid is ErrFinal, and stays on screen (Status,
// Wait), also when the platform answers the cancellation with the
// request captured rather than with ErrFinal; so is one declined, also
// when answered with the request declined. One past its expiry, or held
// past its hold expiry (whose hold the platform then voids), is
// ErrExpired, and stays on screen, shown expired (Status), no longer kept
// as held, also when the platform answers the cancellation with the
// request expired rather than with ErrExpired. When the read of the
// request after such an answer shows it still payable (pending or held),
// which is no view of a request that ended, Cancel fails with ErrInternal
// too, joined to that ErrFinal or ErrExpired, the request as last seen:
// on screen, and among the held ones (Held). A request on screen that a
// later one followed, which got no answer and which a Cancel withdrew as
// above (one held, which Request leaves on screen), is an earlier one:
// Cancel leaves it as it is, still capturable (Held, CaptureHeld;
// CancelHeld withdraws it), and fails with ErrNoPayment. A cancellation
// answered with a view of the request in a state that no request's view
// has (a platform's inner state, a newer platform's state), or that shows
// it still payable (pending or held: no cancellation, which the platform
// never answers so), fails with ErrInternal, the request as last seen: on
// screen, and among the held ones (Held), until a read shows how it
// ended, to be withdrawn again; so does the cancellation of a request
// that Request or Select withdraws, which then asks or selects nothing.
//
// While the platform settles an approval of the request, or a capture of
// it (it answers the cancellation ErrConflict), Cancel sends the
// cancellation again every poll interval (PhoneOptions.PollInterval)
// until that settlement ended, for PhoneOptions.SettleWait after the
// first ErrConflict at most: a hold that the approval made is then
// voided, a payment it captured is ErrFinal, and one whose hold was
// refused is cancelled. A settlement that outlasts SettleWait (an
// outage, an approval whose outcome the platform could not record, or a
// capture left capturing for good: PROTOCOL.md §6.4) fails Cancel with
// the platform's last ErrConflict, the request as it was (one sent again
// still kept). When ctx ends first, between two cancellations or during
// one that then gets no verdict, Cancel fails with ctx's error joined
// with that ErrConflict.
func (s *Seller) Cancel(ctx context.Context) (*PaymentView, error) {
	// Nothing to send again and nothing to withdraw, whatever ctx.
	if _, err := s.lastPayment(); err != nil && len(s.unsentKeys()) == 0 {
		return nil, err
	}
	last, kept, err := s.settleUnsent(ctx)
	if err != nil {
		return nil, err
	}
	// The request made last, on screen and payable, was made after those
	// kept, if any (a Request withdraws them first); one shown paid
	// (showPaid), maybe one of them, is not withdrawn again after them.
	cur, err := s.lastPayment()
	switch {
	case err == nil && (!kept || payable(cur.State)):
		return s.cancel(ctx, cur)
	case last != nil:
		return cloneView(last), nil // the app's own
	case kept:
		return nil, fmt.Errorf("%w: the platform refused the payment request sent again, which it never recorded", ErrNoPayment)
	}
	return nil, err
}

// lastPayment returns the request on screen when it is the request made
// last, or a paid one that took the screen since (Seller.last), and
// ErrNoPayment otherwise: one on screen that a later request followed,
// kept without an answer, is left to CancelHeld (Cancel).
func (s *Seller) lastPayment() (*PaymentView, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.payment == nil:
		return nil, ErrNoPayment
	case s.payment.ID != s.last:
		return nil, fmt.Errorf("%w: the request made last, %v, was withdrawn; the one on screen, %v, is an earlier one, left as it is",
			ErrNoPayment, s.last, s.payment.ID)
	}
	return s.payment, nil
}

// CancelHeld withdraws the held request id, one of Held, as Cancel does,
// voiding its hold. A request that the phone does not keep as held is
// ErrNoPayment; one that Held left out as past its hold expiry (one of
// the last MaxHeld) is sent to the platform all the same, which answers
// ErrExpired (and voids the hold), and is then no longer kept. One whose
// capture was made without its receipt returned, which Held shows
// captured, fails with ErrFinal and stays kept until a CaptureHeld of the
// captured amount returns its receipt (Held). While a capture of it is
// being made, CancelHeld waits for it to end as Cancel does, for
// PhoneOptions.SettleWait at most: one made is ErrFinal, and one that
// does not end by then (a capture left capturing for good, PROTOCOL.md
// §6.4) is the platform's last ErrConflict, the request kept as held.
// A call whose ctx ended before it fails with ctx's error, sending
// nothing, whether or not the API heeds ctx (a Platform in process); a
// request not kept as held is ErrNoPayment all the same.
func (s *Seller) CancelHeld(ctx context.Context, id ID) (*PaymentView, error) {
	cur, err := s.heldRequest(id)
	if err != nil {
		return nil, err
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return s.cancel(ctx, cur)
}

// cancel withdraws cur, a request the seller made, once a settlement of
// it under way ended (cancelSettled). A cancellation answered with the
// request captured or declined, which the platform answers with ErrFinal,
// is ErrFinal as that one is, and one answered with the request expired,
// which the platform answers with ErrExpired, is ErrExpired: the request
// is read again (ended), and stays on screen.
func (s *Seller) cancel(ctx context.Context, cur *PaymentView) (*PaymentView, error) {
	v, err := s.cancelSettled(ctx, cur)
	switch {
	case err == nil && (v.State == StateCaptured || v.State == StateDeclined):
		err = fmt.Errorf("%w: the platform answered the cancellation with the payment %s", ErrFinal, v.State)
	case err == nil && v.State == StateExpired:
		err = fmt.Errorf("%w: the platform answered the cancellation with the request expired", ErrExpired)
	}
	if err != nil {
		return nil, s.ended(ctx, cur, err)
	}
	s.seen(v) // kept while it shows the request held
	s.finish(v)
	return cloneView(v), nil // the app's own
}

// Capture captures amount (zero: all) of the held payment request on
// screen (Status) and returns the verified receipt. Like Refund, it first
// checks that the phone still trusts the platform's certificate that the
// receipt will be verified with (ErrCard when that expired or was
// revoked: no money moves). A held request that another request took the
// screen from is captured with CaptureHeld, as is one whose capture got
// no answer or no receipt that verifies (Held) once it left the screen.
// A call whose ctx ended before it fails with ctx's error, sending
// nothing, whether or not the API heeds ctx (a Platform in process); with
// no request on screen it fails with ErrNoPayment all the same.
func (s *Seller) Capture(ctx context.Context, amount uint64) (*Receipt, error) {
	return s.capture(ctx, func() (*PaymentView, error) {
		if s.payment == nil {
			return nil, ErrNoPayment
		}
		return s.payment, nil
	}, amount)
}

// CaptureHeld captures amount (zero: all) of the held request id, one of
// Held, as Capture does, also after the seller asked for other payments
// or selected another session since. A request that the phone does not
// keep as held is ErrNoPayment; one that ended meanwhile, or that Held
// left out as past its hold expiry (one of the last MaxHeld), is sent to
// the platform all the same, fails with its error (ErrFinal, ErrExpired)
// and is no longer kept, but for one that the read after still shows
// payable (pending or held), which is no view of a request that ended:
// that is ErrInternal too, joined to that error, and the request stays
// kept as last seen. One whose capture got no answer, no verdict or
// no receipt that verifies stays kept, also captured, until a capture of
// it returns its receipt (Held): CaptureHeld of that capture's amount
// returns it. A call whose ctx ended before it fails as Capture's does: a
// request not kept as held is ErrNoPayment all the same.
func (s *Seller) CaptureHeld(ctx context.Context, id ID, amount uint64) (*Receipt, error) {
	return s.capture(ctx, func() (*PaymentView, error) { return s.heldRequestLocked(id) }, amount)
}

// capture captures amount of the request that find returns, one the
// seller made, or fails with find's error; find runs with s.mu held.
func (s *Seller) capture(ctx context.Context, find func() (*PaymentView, error), amount uint64) (*Receipt, error) {
	cur, since, done, err := s.beginCapture(find)
	if err != nil {
		return nil, err
	}
	defer done()
	// Once ctx ended, nothing is sent, whether or not the API heeds ctx.
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if err := s.trustPlatform(ctx); err != nil {
		return nil, err
	}
	v, err := authed(ctx, &s.phone, func(token string) (*PaymentView, error) {
		return s.api.Capture(ctx, token, &CaptureRequest{RequestID: cur.ID, Amount: amount})
	})
	if err != nil {
		if !refused(err) { // it may have been made
			s.captureUnanswered(cur, since)
		}
		return nil, s.ended(ctx, cur, err)
	}
	if err := sameRequest(cur, v); err != nil { // no verdict on cur: it may have been made
		s.captureUnanswered(cur, since)
		return nil, err
	}
	if err := checkTaken(v, cur); err != nil { // no verdict either
		s.captureUnanswered(cur, since)
		return nil, err
	}
	if payable(v.State) {
		// Still payable: the platform answers a capture with the request
		// captured, or ErrFinal or ErrExpired once it ended otherwise.
		// No verdict either.
		s.captureUnanswered(cur, since)
		return nil, fmt.Errorf("%w: the platform answered the capture with the payment %s", ErrInternal, v.State)
	}
	if v.State != StateCaptured {
		s.seen(v)
		return nil, fmt.Errorf("%w: payment %s", ErrFinal, v.State)
	}
	rc, err := s.paymentReceipt(ctx, v, amount)
	if err != nil { // made, without a receipt that verifies
		s.captureUnanswered(cur, since)
		return nil, err
	}
	return rc, nil
}

// beginCapture returns cur, the request to capture that find returns
// (run with s.mu held), or find's error, and takes note of a capture of
// it under way until done is called. since is the count of receipts of
// the request returned meanwhile so far (captureUnanswered). As find runs
// under the same hold of s.mu, the capture is under way from the moment
// its request is found: a receipt that another call returns after that,
// also while this one checks the platform's certificate (trustPlatform,
// which may ask the platform for it), is counted.
func (s *Seller) beginCapture(find func() (*PaymentView, error)) (cur *PaymentView, since uint64, done func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, err = find(); err != nil {
		return nil, 0, nil, err
	}
	id := cur.ID
	c := s.capturing[id]
	if c == nil {
		c = &captures{}
		s.capturing[id] = c
	}
	c.calls++
	return cur, c.receipts, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if c.calls--; c.calls == 0 {
			delete(s.capturing, id)
		}
	}, nil
}

// Refund has the card sign a refund of amount of the captured payment
// request on screen (Status), under a new refund ID, and returns the
// verified refund receipt. An amount of zero, or more than
// record.MaxAmount, is ErrInvalid, before the phone calls the platform (a
// kept refund, below, is not sent) or the card signs anything. The card
// signs a refund of a captured request only: when the request on screen
// is not captured, the phone reads it again, and one that is still not
// captured is refused as the platform would refuse its refund, with no
// refund signed or sent: ErrConflict (pending or held: a refund that the
// platform refused so would spend no counter and stay valid, to be taken
// once the request is captured), ErrFinal (declined or cancelled) or
// ErrExpired. A read that is not of that request (its signed request,
// byte for byte, ID, hash, parties, amount, currency, lines and legs),
// against which the card would sign the refund's currency and the phone
// check its receipt, is ErrMismatch, with no refund signed or sent. That
// read is taken as Status takes it: the screen shows the request as read,
// one captured seen paid and one held kept among the held ones (Held), and
// one in a state that no request's view has is ErrInternal, one that shows
// it captured for what no capture of it can have captured ErrMismatch,
// with no refund signed or sent, the request staying as last seen. The
// platform refuses refunds beyond what was captured (ErrLimit). Before a
// refund is sent, a kept one (below) or a new one, and once the refund's
// turn came (refunds run one at a time, below: the certificate may expire
// or be revoked while one waits), the phone checks that it still trusts
// the platform's certificate that the receipt will be verified with
// (ErrCard when that expired or was revoked: no money moves).
//
// A refund that the platform did not answer, or that got a reply that is
// no verdict of the platform on it (as for Request), may have been made
// all the same, and one answered with a receipt that does not verify was
// made. So the next Refund first sends that refund again, as signed, and
// fails with the error while there is still no answer, no verdict or no
// receipt that verifies. When the platform makes or shows that refund, a
// Refund of the same request and amount returns its receipt, and one of
// another request or amount fails with a *RefundMadeError, which matches
// ErrConflict and carries that refund's verified receipt, so that the
// seller learns of it, and keeps its receipt, instead of refunding twice;
// the Refund after it makes a new refund. When the platform refuses it
// (with another code, over HTTP in its error body), it was not made, and
// Refund makes the new refund. A refund that the platform answers with a
// verified receipt of another refund or request, or of other ledger
// transfers than the one that the platform derives from its refund ID
// (TransferID of that ID, attempt 0, leg 0, kind 4), sent the first time or
// again, fails that Refund with ErrMismatch, whose message names that
// refund (its amount and request) and says that it may have been made and
// that the phone keeps it, and stays kept: the Refunds
// after it send it again first, as above, but while the platform answers
// it so again, they pass it over, without an error, and make their new
// refunds, so that the seller is told once and not kept from refunding.
// It stays kept until the platform answers it otherwise, as above, or a
// new refund that gets no answer, no verdict or no receipt that verifies
// takes its place (the phone keeps one).
//
// Refunds (Refund, RefundPayment) run one at a time: one that comes while
// another runs waits for it only as long as ctx lasts, and then fails
// with ctx's error, having sent nothing, neither a kept refund nor a new
// one, and the card signing nothing; so does one whose ctx ended before
// its turn, or before the call, whether or not the API heeds ctx (a
// Platform in process): it reads nothing, not even the platform's
// certificate chain. One whose ctx ends after it began (as it checks the
// certificate, or sends a kept refund again) fails with ctx's error
// before the card signs a new refund, whether or not the API heeds ctx:
// the card signs nothing and no new refund is sent, and what became of
// the kept one stays so. An amount that Refund refuses is ErrInvalid, and no
// request on screen ErrNoPayment, all the same.
func (s *Seller) Refund(ctx context.Context, amount uint64) (*Receipt, error) {
	if err := checkRefundAmount(amount); err != nil {
		return nil, err
	}
	cur, err := s.currentPayment()
	if err != nil {
		return nil, err
	}
	return s.refund(ctx, cur, amount, s.look) // a read of it noted, as Status notes it
}

// RefundPayment refunds amount of the merchant's captured payment request
// id as Refund does, also one no longer on screen (after later requests
// or another session), such as the request of a receipt. An amount that
// Refund refuses is ErrInvalid before anything else. The phone reads the
// request first: an ID the platform does not know is ErrNotFound, a
// request of another merchant ErrForbidden (the platform's refusal), and
// a view of another request or merchant than asked for, in a currency of
// a form that no record carries, or that does not show the signed request
// it carries (its ID, hash, amount, currency, parties, session, lines and
// legs, byte for byte), against which the card would sign the refund's
// currency and the phone check its receipt, ErrMismatch, with no refund
// signed or sent. A read of a request that the phone keeps, on screen or
// among the held ones (Held), is taken as Refund takes its read (as
// Status takes it, with ErrInternal or ErrMismatch, no refund signed or
// sent, the request as last seen), and so is the read again of one not
// captured; the reads of another request leave the screen and Held as
// they were. One whose ctx ended before it fails with ctx's error before
// it reads the request, whether or not the API heeds ctx (a Platform in
// process), as Refund says.
func (s *Seller) RefundPayment(ctx context.Context, id ID, amount uint64) (*Receipt, error) {
	if err := checkRefundAmount(amount); err != nil {
		return nil, err
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	l, err := s.loginState(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.merchantPayment(ctx, id, l.MerchantID)
	if err != nil {
		return nil, err
	}
	// The card signs the refund in v's currency, and its receipt is
	// checked against v: v must show the signed request it carries.
	if err := checkRecordedMsg(v, v.Request); err != nil {
		return nil, err
	}
	kept, err := s.noteKept(v)
	if err != nil {
		return nil, err
	}
	if kept { // read again, if need be, as Refund reads it
		return s.refund(ctx, v, amount, s.look)
	}
	return s.refund(ctx, v, amount, s.reread)
}

// noteKept takes v, the view of a request of the merchant that the phone
// read, as Status takes a read (look) when it is of a request that the
// phone keeps, on screen or among the held ones (Held), and reports
// whether it is. A v in a state that no request's view has is ErrInternal
// (knownView), and one that is not of the request kept, or that shows it
// captured for what no capture of it can have captured, ErrMismatch
// (checkTakenLocked); either way nothing is noted.
func (s *Seller) noteKept(v *PaymentView) (kept bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keptLocked(v.ID)) == 0 {
		return false, nil
	}
	if err := s.checkTakenLocked(v, v); err != nil {
		return true, err
	}
	s.seenLocked(v)
	return true, nil
}

// checkRefundAmount refuses an amount that no refund request carries
// (record.CheckRefundAmount), as checkToSign refuses the record.
func checkRefundAmount(amount uint64) error {
	if err := record.CheckRefundAmount(amount); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

// merchantPayment reads the request id of merchant; a view of another
// request or merchant, or in a currency of a form that no record carries
// (a refund of it is signed in that currency), is ErrMismatch.
func (s *Seller) merchantPayment(ctx context.Context, id ID, merchant string) (*PaymentView, error) {
	v, err := authed(ctx, &s.phone, func(token string) (*PaymentView, error) { return s.api.Payment(ctx, token, id) })
	if err != nil {
		return nil, err
	}
	if v.ID != id || v.MerchantID != merchant {
		return nil, fmt.Errorf("%w: the platform's view is of another request than the one asked for", ErrMismatch)
	}
	if err := record.CheckCurrency(v.Currency); err != nil {
		return nil, fmt.Errorf("%w: the platform's view of request %v: %v", ErrMismatch, id, err)
	}
	return v, nil
}

// refund refunds amount of cur, a payment request of the merchant, as
// Refund says; read reads cur again when cur is not captured (look, for
// a request that the phone keeps, on screen or in Held, which notes the
// read as Status does; reread for another).
func (s *Seller) refund(ctx context.Context, cur *PaymentView, amount uint64, read func(context.Context, *PaymentView) (*PaymentView, error)) (*Receipt, error) {
	// Once ctx ended, nothing is sent, whether or not the API heeds ctx.
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if s.refundWaits != nil {
		s.refundWaits()
	}
	if err := s.refundMu.lock(ctx); err != nil {
		return nil, err
	}
	defer s.refundMu.unlock()
	// Before a refund is sent, kept or new, once its turn came: the
	// certificate may have expired, or been revoked, while it waited.
	if err := s.trustPlatform(ctx); err != nil {
		return nil, err
	}
	if u := s.unconfirmed; u != nil {
		rc, notMade, err := s.sendRefund(ctx, u)
		other := errors.Is(err, errOtherRefund)
		switch {
		case notMade:
			s.unconfirmed = nil
		case other && u.reported:
			// Reported once: passed over, still kept, until a refund
			// made now that gets no answer takes its place.
		case other:
			u.reported = true
			return nil, err
		case err != nil:
			return nil, err
		case u.payment.ID != cur.ID || u.amount != amount:
			s.unconfirmed = nil
			return nil, &RefundMadeError{Receipt: rc, RequestID: u.payment.ID}
		default:
			s.unconfirmed = nil
			return rc, nil
		}
	}
	// The card signs a refund of a request captured only: the platform
	// refuses one of a request not captured yet with ErrConflict, which
	// spends no counter and leaves that refund valid, to be taken once the
	// request is captured, also as a copy that another sends, while the
	// phone would have gone on to sign another. Captured is final, so a
	// view of it needs no second look. The read must be of cur's request
	// (sameRequest), whose currency the card signs and against which the
	// refund's receipt is checked.
	if cur.State != StateCaptured {
		v, err := read(ctx, cur)
		if err != nil {
			return nil, err
		}
		if v.State != StateCaptured {
			return nil, fmt.Errorf("%w; no refund signed", stateError(v.State))
		}
		cur = v
	}
	u := &sentRefund{payment: cur, amount: amount}
	if _, err := io.ReadFull(s.rand, u.id[:]); err != nil {
		return nil, fmt.Errorf("payflow: refund ID: %w", err)
	}
	rr := &record.RefundRequest{RefundID: u.id[:], RequestID: cur.ID[:], Amount: amount, Currency: cur.Currency}
	if err := checkSigned(s, rr); err != nil {
		return nil, err
	}
	// A call whose ctx ended signs and sends nothing, also when the calls
	// before it (an API in process) did not look at ctx.
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	var err error
	if u.msg, err = s.card.SignRefundRequest(rr); err != nil {
		return nil, err
	}
	rc, notMade, err := s.sendRefund(ctx, u)
	if err != nil && !notMade {
		u.reported = errors.Is(err, errOtherRefund)
		s.unconfirmed = u
	}
	return rc, err
}

// RefundMadeError is the error of a Refund that found the refund sent
// before without an answer made, for another request or amount than it
// asked for (see Refund). It matches ErrConflict.
type RefundMadeError struct {
	// Receipt is the verified receipt of the refund made.
	Receipt *Receipt
	// RequestID is the payment request it refunds.
	RequestID ID
}

// Error names the refund made, its amount and request; one without its
// Receipt says so, and a nil *RefundMadeError names none.
func (e *RefundMadeError) Error() string {
	switch {
	case e == nil:
		return fmt.Sprintf("%v: a refund sent before without an answer was made (no receipt given)", ErrConflict)
	case e.Receipt == nil:
		return fmt.Sprintf("%v: a refund of request %v, sent before without an answer, was made (no receipt given)", ErrConflict, e.RequestID)
	}
	return fmt.Sprintf("%v: a refund of %d of request %v, sent before without an answer, was made", ErrConflict, e.Receipt.Amount, e.RequestID)
}

// Unwrap returns ErrConflict.
func (e *RefundMadeError) Unwrap() error { return ErrConflict }

// sentRefund is a signed refund request of a payment.
type sentRefund struct {
	payment *PaymentView
	id      ID
	amount  uint64
	msg     []byte
	// reported: a Refund failed with the ErrMismatch of a verified
	// receipt of another refund or request (errOtherRefund) that the
	// platform answered u with, the last time it answered it with a
	// receipt; guarded by refundMu.
	reported bool
}

// errOtherRefund is the ErrMismatch of sendRefund for a verified receipt
// of another refund or request than the one sent, or of other transfers.
var errOtherRefund = errors.New("the platform answered with a verified receipt of another refund, request or transfer")

// otherRefund is the error of sendRefund for u answered with a verified
// receipt of another refund or request: detail, the ErrMismatch of the
// check that refused it, and errOtherRefund, saying that u may have been
// made and is kept, to be sent again.
func otherRefund(u *sentRefund, detail error) error {
	return fmt.Errorf("%w: %w, for the refund of %d of request %v, which may have been made all the same: "+
		"the phone keeps it and sends it again before its next refund", detail, errOtherRefund, u.amount, u.payment.ID)
}

// sendRefund sends u to the platform and returns its verified receipt.
// notMade reports that the platform refused u (refused), which was then
// not made. A verified receipt of another refund or request, or whose
// transfer IDs are not the one transfer that the platform derives from
// u's refund ID (refundTransferID), is ErrMismatch matching
// errOtherRefund, whose message says that u may have been made
// (otherRefund).
func (s *Seller) sendRefund(ctx context.Context, u *sentRefund) (rc *Receipt, notMade bool, err error) {
	v, err := s.api.Refund(ctx, &RefundRequest{Refund: u.msg})
	if err != nil {
		return nil, refused(err), err
	}
	if rc, err = s.verifyReceipt(ctx, v.Receipt); err != nil {
		return nil, false, err
	}
	if err := checkReceipt(rc, record.ReceiptRefund, u.payment); err != nil {
		return nil, false, otherRefund(u, err)
	}
	h := record.Hash(u.msg)
	if !bytes.Equal(rc.RefundID, u.id[:]) || !bytes.Equal(rc.RefundHash, h[:]) || rc.Amount != u.amount {
		return nil, false, otherRefund(u, fmt.Errorf("%w: another refund ID, hash or amount", ErrMismatch))
	}
	tid := refundTransferID(u.id)
	if len(rc.TransferIDs) != 1 || !bytes.Equal(rc.TransferIDs[0], tid[:]) {
		return nil, false, otherRefund(u, fmt.Errorf("%w: transfer IDs other than the refund's", ErrMismatch))
	}
	return rc, false, nil
}
