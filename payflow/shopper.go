package payflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
)

// ShopperCard is what a Shopper needs of its CA-SIM; *simcard.Card has it.
type ShopperCard interface {
	ICCID() (string, error)
	Advert(epoch uint32, role adv.Role, flags adv.Flags) ([]byte, error)
	SignAuthProof(p *record.AuthProof) ([]byte, error)
	VerifyPIN(pin string) error
	SignConsent(c *record.Consent) ([]byte, error)
	// Select selects the applet again, which clears a verified PIN.
	Select() (byte, error)
}

var _ ShopperCard = (*simcard.Card)(nil)

// Shopper is the phone logic of the Shopper app, screen by screen: the
// service queue of sellers nearby (Peers), the confirmation with the
// merchant's name and the pairing code (Select, WaitPaired), the payment
// screen (WaitPayment), PIN entry and consent (ApproveShown, DeclineShown)
// and the receipt, verified offline, after which the app is done with the
// seller (Leave). It is safe for concurrent use; the methods
// that talk to the platform or wait take a context.
//
// As for a Seller, calls that sign records are sent in the order they are
// signed only if the app makes them one at a time: Select, ApproveShown
// and Approve (which run one at a time among themselves), and Login,
// which every call that talks to the platform makes when the phone holds
// no token or its token expired. Logins run one at a time (a call that
// needs one waits for the one under way and uses its token, as Login
// says), so calls that only read, such as WaitPayment and Peers made at
// once, sign one auth proof for the two; a login and a record signed for
// another of the calls above, made at the same moment, may still reach
// the platform out of order. A call whose record reaches the platform
// after one that the card signed later is refused: it fails with ErrClone,
// having taken no effect, and may be made again (PROTOCOL.md §4.6).
//
// The views, receipts and login that a Shopper returns are the caller's
// own: they share no memory with what the phone keeps (the request on
// screen, the consents it keeps with their requests and receipts, its
// login), which writing into them leaves as it was.
type Shopper struct {
	phone
	card ShopperCard

	// consentMu is held while an approval (ApproveShown, Approve) runs:
	// they run one at a time, and one waits for another only as long as
	// its context lasts.
	consentMu ctxLock
	// kept are the consents sent without a receipt that verifies, in the
	// order they were signed; guarded by phone.mu.
	kept []*sentConsent
}

// MaxKeptConsents is how many consents a Shopper keeps, sent without a
// receipt that verifies (ApproveShown), at most; while it keeps that many, the
// card signs no other consent.
const MaxKeptConsents = 16

// NewShopper returns the shopper phone of card. It fails with ErrInvalid
// when card is nil or a nil pointer (a nil *simcard.Card), or opts lacks
// the API (also one that is a nil pointer) or a way to verify receipts,
// or has a PlatformKey that is no ECDSA P-256 key with its point on the
// curve, or a Queue that is not a shopper's (PhoneOptions).
func NewShopper(card ShopperCard, opts PhoneOptions) (*Shopper, error) {
	s := &Shopper{card: card, consentMu: newCtxLock()}
	if err := s.init(adv.Shopper, card, opts); err != nil {
		return nil, err
	}
	return s, nil
}

// WaitPayment waits for the seller's payment request in the paired session
// and returns the payment screen: merchant name, lines, total, currency and
// asset legs, as the platform holds them and as the seller's card signed
// them (a view that differs from the signed request, has lines whose names
// are of a form that no receipt carries (record.CheckName), is of another
// request than the session's next (SessionRequestID), or names the
// merchant otherwise than the confirmation did, is ErrMismatch). The view
// it returns goes on screen (Payment) in place of the one there, and is
// the caller's own: the phone keeps the view it checked, which writing
// into the one returned leaves as it was (Payment says so too). An app that
// waits for the next request while the user reads one approves or declines
// the one it showed with ApproveShown or DeclineShown. Requests of the
// session that are no longer pending (held, captured, or ended otherwise)
// are skipped, and the request on screen, shown pending, that it reads
// ended without a capture (declined, cancelled, expired) is shown so
// (Payment) as it moves past it, checked as ApproveShown checks such a view
// (a view that it refuses changes nothing), so that the phone leaves
// (Leave); one read in a state that no request's view has (a platform's
// inner state, a newer platform's state) fails WaitPayment with
// ErrInternal, nothing put on screen, and the next WaitPayment reads it
// again. A not_found on reading the session's next request, also one
// without the platform's error body (a gateway's or proxy's 404), is taken
// for no request yet: WaitPayment reads it again after PollInterval, and
// nothing is kept of it. It fails with ErrNotPaired before pairing and once
// another session was selected (Select), or the session left (Leave),
// meanwhile, ErrExpired once the session expired without a request, and the
// context's error when it ends: once ctx has ended, WaitPayment sends no
// more reads, whether or not the API heeds ctx (a Platform in process), so
// a call whose ctx ended before it puts nothing on screen.
//
// A request paid with a consent that the phone keeps (ApproveShown), of this
// session or of one selected before, whose receipt the phone has not
// taken, comes first: WaitPayment returns its captured view, and the next
// approval (ApproveShown of that view, or Approve) sends that consent
// again and returns its receipt; when the session was left (Leave) as it
// read that request, it fails with ErrNotPaired instead, nothing on
// screen, and the consent stays kept for the next session paired. Such a
// view is a receipt to collect, not a request to approve, and a caller tells
// the two apart by State alone: a request to approve is always StatePending,
// a receipt to collect always StateCaptured (Captured says how much was
// paid). The approval collects it without the card: the PIN is not used and
// may be empty, and no money moves. When the platform refuses that consent
// then, the card signs no other, and the approval fails as the read of the
// request after the refusal shows it (as ApproveShown says): pending with a
// consent nonce, with the platform's refusal (when that refusal is
// ErrConflict, which spends neither the consent's nonce nor the card's
// counter, the consent still kept and the view on screen, a receipt to
// collect still); ended without a capture, with ErrFinal naming that state;
// pending without a consent nonce (a settlement under way), with
// ErrConflict, the consent still kept and the view on screen, a receipt to
// collect still (so too in a state that no request's view has, with
// ErrInternal, and when that read fails, with its error). The approval of
// such a view whose consent a WaitPayment dropped since (paid by another
// consent) fails with ErrFinal. Either way, with no consent of it kept, that
// view is no receipt to collect: it goes off screen (Payment fails with
// ErrNoPayment, and the next WaitPayment shows the session's next request),
// unless the read after the refusal showed the request ended without a
// capture, whose view then stays on screen in its place. A kept consent
// whose request is held stays kept until the merchant captures it, while the
// phone goes on to other requests; one whose request ended without a capture
// (no money moved) is dropped, once a view shows it so as its seller's card
// signed it (its session, lines and legs too). A kept consent whose request
// the platform answers with the view of another request, or ended with other
// lines, legs or session than its seller's card signed, fails WaitPayment
// with ErrMismatch once; the WaitPayment calls after it pass that consent
// over, still kept (it may have been charged), until the platform answers
// with its request's view again, and go on to the session's requests. So is
// a captured view of that request that shows captured another amount than
// the request's (more than it, for a merchant that captures manually), or
// other lines, legs or session than its seller's card signed, or whose
// receipt the approval would refuse, checked as it checks it: one of another
// request or consent, or for another amount than the view shows captured
// (ErrMismatch), or that does not verify (ErrSignature, or ErrCard when the
// phone no longer trusts the platform's certificate of Info, for a receipt
// that carries no chain). That consent is passed over, still kept (it counts
// toward MaxKeptConsents), until the platform shows its request with a
// receipt that the phone takes; WaitPayment then shows that request first
// again, and its approval returns the receipt. So is a kept consent whose
// request the platform answers with another verdict than its view
// (ErrNotFound, ErrForbidden: it may have been charged all the same), which
// fails WaitPayment with that error once, until the platform shows its
// request again. A receipt of another consent of the card, verified and of
// the request, for a kept consent that the platform refused when the phone
// sent it (another consent settled the request first), also when a later
// send of it got no answer, says that the kept one was not made: WaitPayment
// drops it without an error and goes on. A kept consent whose request's read
// gets no answer (ErrUnavailable, ErrInternal, rate_limited, a reply without
// the platform's error body), or whose captured view's receipt cannot be
// checked for want of the platform's certificate chain, is passed over by
// that call alone, still kept, without an error: WaitPayment goes on to
// the next kept consent and the session's requests, and the next call
// reads it again; a read that fails once ctx ended fails WaitPayment
// with its error. A consent whose receipt an
// approval collects while WaitPayment reads its request is not kept any
// more, and WaitPayment does not show that request: it goes on to the
// next kept consent and the session's requests. Nor does it show a
// request of the session that it read pending while an approval or
// decline of it ended (the phone moved on to the session's next request
// meanwhile): it reads the next one. Kept consents live as long as the
// Shopper: a new one keeps none.
func (s *Shopper) WaitPayment(ctx context.Context) (*PaymentView, error) {
	sess, err := s.pairedSession()
	if err != nil {
		return nil, err
	}
	if v, err := s.keptCaptured(ctx); v != nil || err != nil {
		return v, err
	}
	for {
		s.mu.Lock()
		n, current := s.next, s.selected(sess)
		s.mu.Unlock()
		if !current {
			return nil, errReselected
		}
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		id := SessionRequestID(sess.ID, n)
		v, err := authed(ctx, &s.phone, func(token string) (*PaymentView, error) { return s.api.Payment(ctx, token, id) })
		switch {
		case errors.Is(err, ErrNotFound):
			if sessionLapsed(sess, s.opts.Now()) {
				return nil, fmt.Errorf("%w: session", ErrExpired)
			}
			if err := s.sleep(ctx); err != nil {
				return nil, err
			}
			continue
		case err != nil:
			return nil, err
		case v.ID != id:
			// Another request, even of this session, would take the
			// screen (or skip this index) in its place.
			return nil, fmt.Errorf("%w: the platform's view is of another request than the session's next", ErrMismatch)
		case !knownState(v.State):
			// A state that no request's view has tells nothing of the
			// request, which may still be payable: the index stays, to
			// be read again.
			return nil, errUnknownState(v)
		case v.State != StatePending:
			// The request on screen, ended without a capture, is shown
			// so, as last seen (Leave).
			s.showEndedRead(v)
			// The index is of sess: a session selected meanwhile has its
			// own.
			s.mu.Lock()
			if s.selected(sess) && s.next == n {
				s.next++
			}
			s.mu.Unlock()
			continue
		}
		cardID, err := s.CardID()
		if err != nil {
			return nil, err
		}
		if err := checkPaymentView(v, sess, cardID); err != nil {
			return nil, err
		}
		s.mu.Lock()
		// An approval or decline of the request that ended while it was
		// read (finish), or another WaitPayment that found it ended, moved
		// the session past n: v may show pending a request no longer so.
		current, moved := s.selected(sess), s.next != n
		if current && !moved {
			s.payment = v
		}
		s.mu.Unlock()
		if !current {
			return nil, errReselected
		}
		if moved {
			continue
		}
		return cloneView(v), nil // the app's own, v kept as checked
	}
}

// keptCaptured returns the view of the first request, paid with a kept
// consent, that the platform shows captured with a receipt that the phone
// takes (receiptOf), put on screen, and drops the kept consents whose
// request ended otherwise. A consent that is no longer kept once its
// request was read (an approval collected its receipt meanwhile, or
// another WaitPayment dropped it) is passed over, whatever the read
// showed: it is checked kept and its view put on screen under one lock,
// so that a request whose receipt was collected is never shown as one to
// collect. Nor is one once no session is selected (Leave since
// WaitPayment began): that is errReselected, the consent still kept. A
// kept consent whose request the platform answers with the view of
// another request fails it with ErrMismatch the first time in a row only:
// then it is passed over, still kept, until the platform answers with its
// request's view again. So is one whose read the platform answers with
// another verdict (refused: ErrNotFound, ErrForbidden), with that error,
// one that shows the request ended without a capture otherwise than its
// seller's card signed it (checkShowsSigned: ErrMismatch), and a captured
// view that receiptOf refuses, with its error (ErrMismatch; ErrSignature
// or ErrCard for a receipt that does not verify), until the platform
// shows that request with a receipt that the phone takes; but a receipt
// of another consent for a consent that the platform refused
// (paidByAnother) drops it: it was not made. A read that gets no answer,
// or a receipt that cannot be checked for want of the platform's
// certificate chain, passes the consent over this time, still kept,
// without an error and without changing whether it was reported; once ctx
// ended, it fails with that read's error. Once ctx ended it reads no
// more: it fails with ctx's error, whether or not the API heeds ctx.
func (s *Shopper) keptCaptured(ctx context.Context) (*PaymentView, error) {
	s.mu.Lock()
	kept := slices.Clone(s.kept)
	s.mu.Unlock()
	for _, u := range kept {
		// Once ctx ended, nothing more is read, whether or not the API
		// heeds ctx: no view goes on screen.
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		v, err := s.reread(ctx, u.view)
		// A verdict of the platform instead of the request's view: the
		// view of another request (ErrMismatch), not_found, forbidden.
		misread := refused(err)
		switch {
		case err != nil:
		case v.State == StateCaptured:
			_, err = s.receiptOf(ctx, u, v)
			if s.paidByAnother(u, err) {
				// Not made: another consent of the card paid the
				// request, and nothing is to collect.
				s.drop(u)
				continue
			}
			misread = refusedReceipt(err)
		case endedUncaptured(v.State):
			// Dropped only on a view that shows the request as its
			// seller's card signed it.
			err = checkShowsSigned(v)
			misread = err != nil
		}
		if err != nil && !misread {
			if ctx.Err() != nil {
				return nil, err
			}
			// No answer (the platform failed or could not be reached,
			// or its certificate chain was out of reach): passed over
			// this time, still kept, and read again next time.
			continue
		}
		s.mu.Lock()
		if !slices.Contains(s.kept, u) {
			// An approval collected its receipt, or a WaitPayment dropped
			// it, since the consents were read: whatever its request
			// shows now is not to collect.
			s.mu.Unlock()
			continue
		}
		told := u.misread
		u.misread = misread
		if !misread && v.State == StateCaptured {
			if s.session == nil {
				// The session was left meanwhile (Leave): the phone is
				// as before any Select, nothing on screen, and the
				// consent stays kept for the next session paired.
				s.mu.Unlock()
				return nil, errReselected
			}
			s.payment = v
		}
		s.mu.Unlock()
		if misread {
			if told {
				continue
			}
			return nil, fmt.Errorf("%w (request %v, whose consent the phone keeps and passes over until the platform shows that request and a receipt of it that the phone takes)", err, u.view.ID)
		}
		if v.State == StateCaptured {
			return cloneView(v), nil // the app's own, v kept on screen
		}
		if endedUncaptured(v.State) {
			s.drop(u)
		}
	}
	return nil, nil
}

// endedUncaptured reports whether state is that of a request that ended
// without a capture (no money moved): declined, cancelled or expired.
func endedUncaptured(state string) bool {
	switch state {
	case StateDeclined, StateCancelled, StateExpired:
		return true
	}
	return false
}

// showEnded puts v, a view checked to be of its request (sameRequest),
// on screen in place of the view of that request there, when v shows it
// ended without a capture (endedUncaptured): the screen then shows the
// request as the phone knows it, not pending, until WaitPayment moves
// past it. Such a v is checked first, as a pending or captured view is,
// to show the request as its seller's card signed it (checkShowsSigned:
// its session, lines and legs too): one that does not is ErrMismatch,
// and the screen stays as it was. A view of another request than the one
// on screen, or of one captured (a receipt to collect is shown by
// WaitPayment alone), changes nothing.
func (s *Shopper) showEnded(v *PaymentView) error {
	if !endedUncaptured(v.State) {
		return nil
	}
	if err := checkShowsSigned(v); err != nil {
		return err
	}
	s.showEndedSigned(v)
	return nil
}

// showEndedSigned is showEnded of v, a view already checked to show its
// request as its seller's card signed it (checkShowsSigned), so that it is
// not checked again: one that does not show the request ended without a
// capture changes nothing.
func (s *Shopper) showEndedSigned(v *PaymentView) {
	if !endedUncaptured(v.State) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.payment != nil && s.payment.ID == v.ID && bytes.Equal(s.payment.RequestHash, v.RequestHash) {
		s.payment = cloneView(v)
	}
}

// showEndedRead is showEnded of v, a view that WaitPayment read at the
// index of the request on screen, shown pending: when v is of that
// request (sameRequest, checked against the view on screen) and shows it
// as its seller's card signed it, ended without a capture, it goes on
// screen in its place; otherwise nothing changes (a receipt to collect
// on screen stays).
func (s *Shopper) showEndedRead(v *PaymentView) {
	if !endedUncaptured(v.State) {
		return
	}
	s.mu.Lock()
	shown := s.payment
	s.mu.Unlock()
	if shown == nil || shown.State != StatePending {
		return
	}
	v = cloneView(v)
	if sameRequest(shown, v) != nil || checkShowsSigned(v) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.payment == shown { // not replaced meanwhile
		s.payment = v
	}
}

// finishShown is finish of v, a view that was on screen, only while the
// view on screen also shows v's state: one that shows that request
// otherwise, put there since (an ended view, showEnded), stays.
func (s *Shopper) finishShown(v *PaymentView) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.payment != nil && s.payment.State == v.State {
		s.finishLocked(v)
	}
}

// keep keeps u until its receipt verifies or its request ends.
func (s *Shopper) keep(u *sentConsent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = append(s.kept, u)
}

// drop stops keeping u.
func (s *Shopper) drop(u *sentConsent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kept = slices.DeleteFunc(s.kept, func(k *sentConsent) bool { return k == u })
}

// keptFor returns the consent kept for the request of v, if any, and how
// many consents are kept. A consent is of that request when its view has
// v's ID and request hash: one kept for another request under that ID (a
// seller card may sign more than one) is not.
func (s *Shopper) keptFor(v *PaymentView) (*sentConsent, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.kept {
		if u.view.ID == v.ID && bytes.Equal(u.view.RequestHash, v.RequestHash) {
			return u, len(s.kept)
		}
	}
	return nil, len(s.kept)
}

// checkPaymentView checks that a payment view shows the seller-signed
// request it carries (checkShowsSigned), in the session, to this card,
// under the merchant's name that the session showed.
func checkPaymentView(v *PaymentView, sess *SessionView, cardID string) error {
	if err := checkShowsSigned(v); err != nil {
		return err
	}
	if v.SessionID != sess.ID || v.PayerCardID != cardID || v.MerchantID != sess.MerchantID || v.MerchantName != sess.MerchantName {
		return fmt.Errorf("%w: the payment screen differs from the seller's signed request", ErrMismatch)
	}
	return nil
}

// checkShowsSigned checks that a payment view shows the seller-signed
// request it carries (showsSigned).
func checkShowsSigned(v *PaymentView) error {
	_, err := showsSigned(v)
	return err
}

// showsSigned checks that a payment view shows the seller-signed request
// it carries: its hash, ID, session, parties, currency, amount, lines and
// legs (showsSignedLines), with line names of the form that receipts carry
// (checkLineNames; ErrMismatch), and returns that request, opened.
func showsSigned(v *PaymentView) (*record.PaymentRequest, error) {
	h := record.Hash(v.Request)
	r, err := openSigned(v)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(v.RequestHash, h[:]) ||
		!bytes.Equal(r.RequestID, v.ID[:]) || !bytes.Equal(r.SessionID, v.SessionID[:]) ||
		r.PayerCardID != v.PayerCardID || r.MerchantID != v.MerchantID ||
		r.Currency != v.Currency || r.Amount != v.Amount || !showsSignedLines(r, v.Lines, v.Legs) {
		return nil, fmt.Errorf("%w: the payment screen differs from the seller's signed request", ErrMismatch)
	}
	if err := checkLineNames(v.Lines); err != nil {
		return nil, err
	}
	return r, nil
}

// Payment returns the payment request on screen, or ErrNoPayment. The
// view it returns is the caller's own, as is the one WaitPayment returns:
// it shares no memory with the one the phone keeps on screen, so that an
// app that writes into it (its byte strings, lines, legs or fields)
// leaves the request on screen as the phone checked it.
func (s *Shopper) Payment() (*PaymentView, error) {
	v, err := s.currentPayment()
	return cloneView(v), err
}

// ApproveShown is the shopper's PIN entry on the payment screen that the
// app showed: shown is the view that WaitPayment (or Payment) returned and
// the app rendered for the user to read before typing the PIN. Unless the
// request on screen is the one shown, the same ID and RequestHash (a
// WaitPayment of another goroutine, as an app's refresh of the screen, may
// have put the session's next request there since), it fails with
// ErrMismatch before anything else: the card verifies no PIN and signs
// nothing, nothing is sent, and the request on screen stays. A nil shown,
// or no request on screen, is ErrNoPayment. An approval that takes its
// request off screen (below) takes that request alone, by its ID and
// RequestHash: another that WaitPayment put on screen under its ID while
// the approval ran (a seller card may sign more than one request under
// one ID) stays there.
//
// It then checks that the phone still trusts the platform's certificate
// that the receipt will be verified with (ErrCard when that expired or was
// revoked: nothing is signed or sent and no money moves). A fresh view
// that shows a settlement of the request under way (pending without a
// consent nonce, as while a consent that this phone no longer keeps is
// settled) fails with ErrConflict before the card is used. A fresh view
// that shows it held or captured while no consent of it is kept (another
// consent of the card, as another run of the app signs, paid it or holds
// it) fails with ErrFinal before the card is used, and the request goes
// off screen (Payment fails with ErrNoPayment), as it does once an
// approval returns its receipt: paid or being paid, it is no request to
// approve, and with no consent kept, no receipt to collect. That view is
// checked first to show the request as its seller's card signed it, its
// session, lines and legs too: one that does not fails the approval with
// ErrMismatch, the screen as it was. A fresh view that shows the request
// in a state that no request's view has (a platform's inner state, a
// newer platform's state) fails with ErrInternal before the card is
// used, the screen as it was. Once a fresh view shows the same request
// still pending, the card verifies the PIN (a wrong one fails with the
// card's error, matching simcard.ErrWrongPIN or simcard.ErrPINBlocked),
// then signs a consent bound to the request hash, amount, currency and
// payee over a fresh nonce, and the platform settles. A verified PIN that
// no signature follows, as the card fails or its layer panics (the panic
// goes on to the caller), is cleared first: the phone selects the applet
// again (ShopperCard.Select). ApproveShown returns the receipt, the
// caller's own (it shares no memory with what the phone keeps), verified
// offline and checked against the consent and the view of the captured
// payment: a receipt for another amount than the view shows captured or
// with other lines or legs than the seller's card signed (its lines'
// names, which the card does not sign, are not compared), or with another
// count of ledger transfer IDs than the platform posts for that request
// (one for the money when its amount is not zero, one for each asset leg),
// or a view that shows captured another amount than the request's (at most
// that, for a merchant that captures manually) or other lines, legs or
// session than the seller's card signed, fails with ErrMismatch, and the
// consent is kept as below. For a merchant that captures manually it
// waits, polling, until the seller captures; a payment that ends otherwise
// fails with ErrFinal. Once the hold's expiry (PaymentView.HoldExpiresAt)
// has passed by the phone's clock (PhoneOptions.Now), it reads the request
// once more, which has the platform expire it, and fails with ErrFinal, or
// with ErrExpired when the platform still shows it held; a read that shows
// it captured (the seller captured it before the hold expired) has it
// return that capture's receipt, as above. A view without a hold expiry is
// waited on until ctx ends. An answer to the consent, or to a poll, that
// is the view of another request (or of this one without its signed
// request, byte for byte) fails with ErrMismatch at once; an answer to the
// consent that shows the request cancelled or expired (the platform's
// answer to a copy of a consent that it held, its hold voided since) fails
// with ErrFinal, as a hold that so ends while it waits, the consent
// dropped; one that shows the request neither held, captured, cancelled
// nor expired, or a poll that shows the held request pending, declined or
// in a state that no request's view has, fails with ErrInternal (no
// accepted consent or hold leaves it so), and the consent is kept as
// below. A consent that the platform refuses may have been settled all the
// same by an earlier send of it (over HTTP, an attempt that settled it and
// got a reply that the handler did not store, a 5xx, which the client
// sends again): a platform of an earlier version refuses a consent that it
// settled when it comes again (this version answers it with the request's
// view). So after a refusal ApproveShown reads the request: shown held or
// captured, the consent is kept and ApproveShown waits for the capture and
// returns its receipt, checked as above; a receipt of another consent
// (that consent of the card settled the request first and spent its nonce:
// the payer is charged once) then fails with ErrFinal, the consent, not
// made, is not kept, and the request goes off screen (Payment fails with
// ErrNoPayment), as it does once an approval returns its receipt: paid, it
// is no request to approve, and with no consent kept, no receipt to
// collect; shown pending with a consent nonce after a refusal with
// ErrConflict, which, given before the platform accepts a consent (another
// consent's settlement under way, an account of the legs taken), spends
// neither its nonce nor the card's counter, the consent may still be
// accepted, sent again or as a copy (an HTTP retry still on its way), and
// ApproveShown fails with that refusal, the consent kept as below (sent
// again after a conflict that followed its acceptance, a hold chain
// refused, it is refused as spent, and so not made); shown pending with a
// consent nonce after another refusal, or ended without a capture, the
// consent was not made, and ApproveShown fails with the platform's
// refusal, nothing kept; shown pending without a consent nonce it fails
// with ErrConflict, in a state that no request's view has with
// ErrInternal, and when that read fails with its error, the consent kept
// as below.
//
// A consent that the platform did not answer (it failed or could not be
// reached, ctx ended, or over HTTP it was still running when the retries
// ran out), that got a reply that is no verdict of the platform on it
// (rate_limited, or over HTTP a reply without the platform's error body,
// whatever its status, as a gateway or proxy sends in its stead), that
// was held and not yet captured when the wait ended, or that was answered
// with a receipt that does not verify or is of another amount (above),
// with the view of another request or with a state that cannot follow it
// (ErrInternal), may have been settled all the same. So the next approval
// of that request (ApproveShown or Approve of a view with its ID and
// request hash: another request that the platform shows under its ID
// has a consent of its own signed) sends it again, as signed, without
// the card: a consent held or captured has the call wait for the
// capture and return its receipt, one still being settled fails with
// ErrConflict, one that the platform refused then, its request shown in a
// state that no request's view has, fails with ErrInternal and stays kept,
// one that the platform refused with ErrConflict then, its request shown
// pending with a consent nonce, fails with that refusal and stays kept,
// and one that the platform refused otherwise then was not made, and
// the card signs a new one as above. Consents of several requests are
// kept (WaitPayment shows a request paid with one first, a receipt to
// collect, which ApproveShown of that view collects; an approval of that
// view whose consent is no longer kept fails with ErrFinal, and one whose
// consent the platform refuses then fails with its refusal or, the
// request shown ended, with ErrFinal naming that state, and either takes
// the view off screen but for an ended view shown in its place, as
// WaitPayment says; the request shown pending without a consent nonce,
// or pending with one after a refusal with ErrConflict, it fails with
// ErrConflict, the consent kept and the view on screen),
// up to MaxKeptConsents: with that many, the card signs no new consent and
// the approval fails with ErrLimit. Calls of ApproveShown and Approve run
// one at a time: one that comes while another runs (waiting for a manual
// capture, say) waits for it only as long as ctx lasts, and then fails
// with ctx's error, the card unused. A call whose ctx ended before its
// turn fails with ctx's error, sending no consent, neither a kept one
// nor a new one, and collecting no receipt; one whose ctx ends before
// the card verifies the PIN fails with ctx's error, the card signing
// nothing. An approval that reads the request on screen ended without a
// capture (declined, cancelled or expired: the fresh view, the read after
// a refused consent, or the wait for the capture) leaves that view on
// screen (Payment) in place of the pending one, until WaitPayment moves
// past it. That view is checked first, as a pending or captured one is,
// to show the request as its seller's card signed it, its session, lines
// and legs too: one that does not fails the approval with ErrMismatch,
// the screen as it was, and a consent sent stays kept (it may have been
// settled all the same), as above.
func (s *Shopper) ApproveShown(ctx context.Context, shown *PaymentView, pin string) (*Receipt, error) {
	cur, err := s.onScreen(shown)
	if err != nil {
		return nil, err
	}
	return s.approve(ctx, cur, pin)
}

// Approve is ApproveShown of the payment request on screen at the time of
// the call (Payment), whichever it is: a WaitPayment of another goroutine
// may have replaced the request that the app showed, and Approve then
// approves the one that replaced it. An app that waits for requests while
// the user reads one approves that one with ApproveShown.
func (s *Shopper) Approve(ctx context.Context, pin string) (*Receipt, error) {
	shown, err := s.currentPayment()
	if err != nil {
		return nil, err
	}
	return s.approve(ctx, shown, pin)
}

// onScreen returns the request on screen, checked to be the one of shown,
// a view that the app showed: ErrMismatch when its ID or request hash
// differs, ErrNoPayment when shown is nil or no request is on screen.
func (s *Shopper) onScreen(shown *PaymentView) (*PaymentView, error) {
	cur, err := s.currentPayment()
	if err != nil {
		return nil, err
	}
	if shown == nil {
		return nil, fmt.Errorf("%w: no view shown", ErrNoPayment)
	}
	if cur.ID != shown.ID || !bytes.Equal(cur.RequestHash, shown.RequestHash) {
		return nil, fmt.Errorf("%w: the request on screen is another than the one shown", ErrMismatch)
	}
	return cur, nil
}

// approve approves shown, the request on screen (ApproveShown).
func (s *Shopper) approve(ctx context.Context, shown *PaymentView, pin string) (*Receipt, error) {
	// A call whose context ended goes no further, sending neither a kept
	// consent nor a new one.
	if err := s.consentMu.lock(ctx); err != nil {
		return nil, err
	}
	defer s.consentMu.unlock()
	// Before any consent is sent, a kept one (which may never have reached
	// the platform) or a new one.
	if err := s.trustPlatform(ctx); err != nil {
		return nil, err
	}
	u, n := s.keptFor(shown)
	// refusal is the platform's refusal of u now, and read the view of
	// u's request that the read after it got: pending with a consent
	// nonce, or ended without a capture.
	var refusal error
	var read *PaymentView
	if u != nil {
		out, r, err := s.sendConsent(ctx, u)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return s.settled(ctx, u, out)
		}
		s.drop(u) // refused: it was not made
		n--
		refusal, read = r, out
	}
	if shown.State != StatePending {
		// A receipt to collect, not a request to approve: the card signs
		// nothing for it. With no consent of it kept (a WaitPayment
		// dropped it, or the platform refused it now), a captured view
		// is no receipt to collect either: it goes off screen, unless
		// an ended view of the request replaced it (showEnded).
		if shown.State == StateCaptured {
			s.finishShown(shown)
		}
		switch {
		case refusal == nil:
			return nil, fmt.Errorf("%w: payment %s", ErrFinal, shown.State)
		case endedUncaptured(read.State):
			return nil, fmt.Errorf("%w: payment %s", ErrFinal, read.State)
		}
		return nil, refusal // the request shown pending
	}
	if n >= MaxKeptConsents {
		return nil, fmt.Errorf("%w: %d consents sent without a receipt are kept", ErrLimit, n)
	}
	// A fresh view carries a fresh consent nonce; it must show the same
	// request as the screen did. The read after a refusal of u, of u's
	// request, which is shown's (keptFor), checked so (sameRequest), is
	// one.
	v := read
	if v == nil {
		var err error
		if v, err = s.reread(ctx, shown); err != nil {
			return nil, err
		}
	}
	switch {
	case v.State == StatePending:
	case v.State == StateHeld || v.State == StateCaptured:
		// Paid, or being paid, by a consent that the phone does not
		// keep (none of this request is kept): nothing is left to
		// approve or collect on screen. A view of the request
		// otherwise than its seller's card signed it changes nothing.
		if err := checkShowsSigned(v); err != nil {
			return nil, err
		}
		s.finish(v)
		return nil, fmt.Errorf("%w: payment %s", ErrFinal, v.State)
	case endedUncaptured(v.State):
		if err := s.showEnded(v); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: payment %s", ErrFinal, v.State)
	default:
		// A state that no request's view has (a platform's inner
		// state, a newer platform's state) tells nothing of the
		// request: the screen stays as it was.
		return nil, errUnknownState(v)
	}
	if len(v.ConsentNonce) == 0 {
		return nil, errSettling
	}
	// The PIN is verified only now, right before the card signs, so that a
	// call that gives up earlier leaves no verified PIN on the card for
	// another consent. A call whose context ended signs nothing, also
	// when the calls before it (an API in process) did not look at ctx.
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	consent, err := s.signConsent(pin, &record.Consent{
		RequestID: v.ID[:], RequestHash: v.RequestHash, Nonce: v.ConsentNonce,
		Amount: v.Amount, Currency: v.Currency, MerchantID: v.MerchantID,
	})
	if err != nil {
		return nil, err
	}
	u = &sentConsent{view: v, msg: consent}
	out, refusal, err := s.sendConsent(ctx, u)
	if refusal != nil { // it was not made
		return nil, refusal
	}
	s.keep(u) // until its receipt verifies: it may have been settled, or may still be
	if err != nil {
		return nil, err
	}
	return s.settled(ctx, u, out)
}

// signConsent has the card verify pin and sign c. Unless the card signs
// c, which clears the verification, it selects the applet again
// (clearPIN) on the way out, so that no verified PIN stays on the card
// for another consent: after an error of the card, also of VerifyPIN (the
// card may have verified the PIN all the same when the error is the
// transport's, its reply lost), and when the card layer panics, before
// the panic goes on.
func (s *Shopper) signConsent(pin string, c *record.Consent) (msg []byte, err error) {
	returned := false
	defer func() {
		if !returned || err != nil {
			err = s.clearPIN(err)
		}
	}()
	if err = s.card.VerifyPIN(pin); err == nil {
		msg, err = s.card.SignConsent(c)
	}
	returned = true
	return msg, err
}

// clearPIN selects the applet again after err, which leaves no verified
// PIN on the card for another consent (the card clears it only when it
// signs), and returns err.
func (s *Shopper) clearPIN(err error) error {
	if _, serr := s.card.Select(); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// errSettling is the error of a consent to a request whose payer's view
// is pending without a consent nonce: the payer's view of a pending
// request carries one unless a settlement is under way, or the card may
// not pay (it has become a merchant's seller card since the request was
// made, see Platform.Payment).
var errSettling = fmt.Errorf("%w: a settlement of the request is under way, or the card may not pay it (a merchant's seller card)", ErrConflict)

// sentConsent is a signed consent and the view of the request it was
// signed over.
type sentConsent struct {
	view *PaymentView
	msg  []byte
	// misread: the last answered read of the request in keptCaptured
	// was answered with a verdict instead of its view (the view of
	// another request, not_found, forbidden), or with a captured view
	// whose receipt the phone refuses (receiptOf); guarded by phone.mu.
	misread bool
	// taken is the receipt that receiptOf took last for this consent, or
	// nil; guarded by phone.mu.
	taken *verifiedReceipt
	// refused: the platform refused a send of this consent
	// (sendConsent); it stays set whatever a later send gets (no answer,
	// say), so that a receipt of another consent, which only the
	// platform's refusal lets the phone take as the request paid
	// otherwise (paidByAnother), still drops this one; guarded by
	// phone.mu.
	refused bool
}

// sendConsent sends u, the first time or again, and returns the
// platform's view of its request once u was held or captured. A u that
// the platform refuses may have been settled all the same, by an earlier
// send of it: a platform of an earlier version refuses a consent that it
// settled when it is sent again, as a kept one is, or as the HTTP client's
// retry is when the attempt that settled it got a reply that the handler
// did not store (a 5xx). So after a refusal it reads the request: held or
// captured, it returns that view, and u.refused says that it was refused
// (settled tells then a receipt of another consent: u was not made);
// pending with a consent nonce after a refusal with ErrConflict, which,
// given before the platform accepts a consent, spends neither its nonce
// nor its counter (PROTOCOL.md §6.4), u may still be accepted, sent again
// or as a copy, and that refusal is its error, not a refusal; pending with
// a consent nonce after another refusal, or ended without a capture
// (endedUncaptured), u was not made, and it returns that view and refusal,
// the platform's refusal; but an ended view that shows the request
// otherwise than its seller's card signed it (showEnded) is ErrMismatch,
// as u may have been settled. A refused u whose request shows pending
// without a consent nonce is errSettling; one whose request shows a state
// that no request's view has is ErrInternal: u may have been settled all
// the same.
func (s *Shopper) sendConsent(ctx context.Context, u *sentConsent) (out *PaymentView, refusal, err error) {
	out, err = s.api.Approve(ctx, &ApproveRequest{Consent: u.msg})
	if !refused(err) {
		return out, nil, err
	}
	s.mu.Lock()
	u.refused = true
	s.mu.Unlock()
	// Refused now: settled before (its nonce is spent), or never made.
	refusal = err
	v, err := s.reread(ctx, u.view)
	switch {
	case err != nil:
		return nil, nil, err
	case v.State == StateHeld || v.State == StateCaptured:
		return v, nil, nil
	case v.State == StatePending && len(v.ConsentNonce) == 0:
		return nil, nil, errSettling
	case v.State == StatePending && errors.Is(refusal, ErrConflict):
		// Refused before it was accepted, its nonce and counter
		// unspent (PROTOCOL.md §6.4), u may still be accepted while
		// the nonce lasts; a u accepted before that conflict is
		// refused as spent when it is sent again.
		return nil, nil, refusal
	case v.State == StatePending || endedUncaptured(v.State):
		if err := s.showEnded(v); err != nil {
			// A view of the request otherwise than its seller's card
			// signed it tells nothing of u: u may have been settled.
			return nil, nil, err
		}
		return v, refusal, nil
	}
	return nil, nil, errUnknownState(v)
}

// errUnknownState is the ErrInternal of a read of a request, v, that
// shows it in a state that no request's view has.
func errUnknownState(v *PaymentView) error {
	return fmt.Errorf("%w: the platform shows the payment %s", ErrInternal, v.State)
}

// settled waits until out, the view of u's request after u was sent, is
// no longer held, and returns the receipt of u, verified offline and
// checked against it. Once the hold's expiry (HoldExpiresAt) has passed
// by the phone's clock, it reads the request once more and ends with what
// that read shows: a request captured (in time) has its receipt returned,
// as below, one that ended otherwise is ErrFinal, one still held is
// ErrExpired (u stays kept); a view without a hold expiry is waited on
// until ctx ends. Every view, out and each one read while it waits,
// is checked to be of u's request first (sameRequest): one of another
// request is ErrMismatch, and u stays kept. An out that shows the
// request cancelled or expired (the platform's answer to a copy of u
// whose hold was voided since) ends as a hold that so ends while it
// waits. ErrInternal, u kept, is an out that is neither held, captured,
// cancelled nor expired, or a read while held that shows
// the request neither held, captured, cancelled nor expired (pending,
// declined, or a state that no request's view has): no accepted consent
// or hold leaves it so. u is dropped only when its request ended
// cancelled or expired, in a view that shows it as its seller's card
// signed it (showEnded: ErrMismatch otherwise, u kept), or when the
// platform refused u (u.refused) and the captured view's receipt,
// verified, is of another consent (errOtherConsent): another consent of
// the card paid the request, and u was not made; that is ErrFinal, and
// the request goes off screen as it does once u's own receipt is returned
// (finish). A captured view that shows another amount captured than a
// capture of the request gives, or the request otherwise than its
// seller's card signed it (checkCaptured), or whose receipt is of another
// consent than u that the platform did not refuse, or for another amount
// than that view shows captured, is ErrMismatch, u kept.
func (s *Shopper) settled(ctx context.Context, u *sentConsent, out *PaymentView) (*Receipt, error) {
	v := u.view
	if err := sameRequest(v, out); err != nil {
		return nil, err
	}
	switch out.State {
	case StateHeld, StateCaptured:
	case StateCancelled, StateExpired:
		// A copy of u, held, whose hold was voided since (the merchant
		// cancelled, or the hold expired): it ends below, as a hold
		// that ends so while the phone waits.
	default:
		// An accepted consent leaves its request held or captured, and
		// its hold ends captured, cancelled or expired: u may have been
		// settled all the same, and stays kept.
		return nil, fmt.Errorf("%w: the platform answered the consent with the payment %s", ErrInternal, out.State)
	}
	for out.State == StateHeld {
		// Once the hold expired by the phone's clock, a read has the
		// platform settle the expiry; that read ends the wait.
		lapsed := holdLapsed(out, s.opts.Now())
		if !lapsed {
			if err := s.sleep(ctx); err != nil {
				return nil, err
			}
		}
		var err error
		if out, err = s.reread(ctx, v); err != nil {
			return nil, err
		}
		if lapsed && out.State == StateHeld {
			return nil, fmt.Errorf("%w: the hold expired by the phone's clock, and the platform still shows the payment held", ErrExpired)
		}
		switch out.State {
		case StateHeld, StateCaptured, StateCancelled, StateExpired:
		default:
			// A hold ends captured, cancelled or expired; another
			// state (also one of a newer platform, or a platform's
			// inner state) says nothing of the money: u stays kept.
			return nil, fmt.Errorf("%w: the platform shows the held payment %s", ErrInternal, out.State)
		}
	}
	if out.State != StateCaptured {
		// A view of the request otherwise than its seller's card signed
		// it tells nothing of u, which stays kept.
		if err := s.showEnded(out); err != nil {
			return nil, err
		}
		s.drop(u) // it ended cancelled or expired, without a capture
		return nil, fmt.Errorf("%w: payment %s", ErrFinal, out.State)
	}
	rc, err := s.receiptOf(ctx, u, out)
	if s.paidByAnother(u, err) {
		// Paid, by a consent that the phone does not keep: nothing is
		// left to approve or collect on screen.
		s.drop(u)
		s.finish(v)
		return nil, fmt.Errorf("%w: the platform refused the consent, and shows the payment captured by another consent of this card", ErrFinal)
	}
	if err != nil {
		return nil, err
	}
	s.drop(u)
	s.finish(v)
	return rc, nil
}

// errOtherConsent is the ErrMismatch of receiptOf for a receipt of
// another consent than the one it is checked against.
var errOtherConsent = errors.New("the receipt is not of this consent")

// paidByAnother reports whether err, of receiptOf for u, says that the
// receipt is of another consent (errOtherConsent) while the platform
// refused a send of u (refused): another consent of the card paid the
// request (it spent the nonce first, or settled the request since), and u
// was not made.
func (s *Shopper) paidByAnother(u *sentConsent, err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return u.refused && errors.Is(err, errOtherConsent)
}

// receiptOf returns the receipt that v, a captured view of the request of
// u, carries, verified offline (verifyReceipt: ErrSignature, also for a
// chain carried that the phone no longer trusts, or ErrCard when it no
// longer trusts the platform's certificate of Info) and checked
// against u and v: a view that shows another amount captured than a
// capture of the request gives, or the request otherwise than its
// seller's card signed it (checkCaptured), a receipt of another
// request, parties or currency, or with other lines or legs (or another
// count of transfer IDs) than the seller's card signed
// (checkReceiptFields, and checkReceiptLines with
// the signed request that checkCaptured opened), of another consent than u,
// or for another amount than v shows captured, is ErrMismatch. The
// receipt that it took for u before (taken: keptCaptured takes it before
// the approval that collects it) does not have its signature checked
// again while the phone trusts the key that verified it
// (verifyReceiptKnown); the other checks are made again. What it returns
// is a copy of the receipt that it takes for u (verifiedReceipt.receipt),
// so that a caller that writes into it leaves that one as verified.
func (s *Shopper) receiptOf(ctx context.Context, u *sentConsent, v *PaymentView) (*Receipt, error) {
	// v carries u's signed request, byte for byte (sameRequest).
	r, err := checkCaptured(u.view, v)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	taken := u.taken
	s.mu.Unlock()
	vr, err := s.verifyReceiptKnown(ctx, v.Receipt, taken)
	if err != nil {
		return nil, err
	}
	rc := vr.rc
	if err := checkReceiptFields(rc, record.ReceiptPayment, u.view); err != nil {
		return nil, err
	}
	if err := checkReceiptLines(rc, r); err != nil {
		return nil, err
	}
	ch := record.Hash(u.msg)
	if !bytes.Equal(rc.ConsentHash, ch[:]) {
		return nil, fmt.Errorf("%w: %w", ErrMismatch, errOtherConsent)
	}
	if rc.Amount != v.Captured {
		return nil, fmt.Errorf("%w: the receipt is for %d, the payment shows %d captured", ErrMismatch, rc.Amount, v.Captured)
	}
	s.mu.Lock()
	u.taken = vr
	s.mu.Unlock()
	return vr.receipt(), nil // the caller's own, vr kept as verified
}

// refusedReceipt reports whether err, of receiptOf, is the phone refusing
// the view or its receipt (ErrMismatch; ErrSignature, or ErrCard when it
// does not trust the platform's certificate of Info), rather than failing to
// reach the platform.
func refusedReceipt(err error) bool {
	return errors.Is(err, ErrMismatch) || errors.Is(err, ErrSignature) || errors.Is(err, ErrCard)
}

// checkCaptured checks that v, a captured view of the request of shown,
// shows that request as its seller's card signed it (checkShowsSigned:
// its lines and legs too, which the screen of a receipt to collect shows)
// and what a capture of it can have captured (checkCapturedAmount). It
// returns the signed request that v carries, opened.
func checkCaptured(shown, v *PaymentView) (*record.PaymentRequest, error) {
	r, err := showsSigned(v)
	if err != nil {
		return nil, err
	}
	if err := checkCapturedAmount(shown, v); err != nil {
		return nil, err
	}
	return r, nil
}

// DeclineShown refuses the payment request that the app showed, shown,
// as ApproveShown takes it: unless the request on screen is the one shown
// (the same ID and RequestHash), it fails with ErrMismatch and sends
// nothing; a nil shown, or no request on screen, is ErrNoPayment. It
// returns the view the platform answered, checked to be of that request
// and to show it as its seller's card signed it, its session, lines and
// legs too (ErrMismatch, the request staying on screen), and to show it
// declined, and takes the request off screen: that request alone, by its
// ID and RequestHash, as ApproveShown does. A view that shows the request
// ended otherwise (captured, cancelled or expired), checked so too
// (ErrMismatch otherwise, without the view), fails with ErrFinal, and
// DeclineShown returns it with the error; one that shows it pending, held
// or in a state that no request's view has (no decline leaves a request
// so) fails with ErrInternal. Either way, and when the decline fails
// otherwise, the request stays on screen: the WaitPayment after it moves
// past a request that ended. The screen (Payment) then shows the request
// as the phone last read it when that read showed it ended without a
// capture (cancelled or expired), not pending: a view answered so, or,
// when the platform refuses the decline with ErrFinal or ErrExpired, the
// view that the phone then reads (the decline fails with the platform's
// error all the same). Such a view is checked first to show the request
// as its seller's card signed it, its session, lines and legs too: a view
// answered so that does not fails the decline with ErrMismatch, and
// either leaves the screen as it was. A call whose ctx ended before it
// fails with ctx's error, sending nothing, whether or not the API heeds
// ctx (a Platform in process), and the request stays on screen.
func (s *Shopper) DeclineShown(ctx context.Context, shown *PaymentView) (*PaymentView, error) {
	cur, err := s.onScreen(shown)
	if err != nil {
		return nil, err
	}
	return s.decline(ctx, cur)
}

// Decline is DeclineShown of the payment request on screen at the time
// of the call (Payment), whichever it is, as Approve takes it.
func (s *Shopper) Decline(ctx context.Context) (*PaymentView, error) {
	shown, err := s.currentPayment()
	if err != nil {
		return nil, err
	}
	return s.decline(ctx, shown)
}

// decline refuses shown, the request on screen (DeclineShown).
func (s *Shopper) decline(ctx context.Context, shown *PaymentView) (*PaymentView, error) {
	// A call whose context ended sends nothing, whether or not the API
	// heeds ctx.
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	v, err := s.callOn(ctx, shown, func(token string, cur *PaymentView) (*PaymentView, error) {
		return s.api.Decline(ctx, token, cur.ID)
	})
	if errors.Is(err, ErrFinal) || errors.Is(err, ErrExpired) {
		// The platform refused the decline of a request that ended: the
		// phone reads it to show it so. A view that the phone refuses
		// (ErrMismatch) leaves the screen as it was; the decline fails
		// with the platform's error all the same.
		if v, rerr := s.reread(ctx, shown); rerr == nil {
			_ = s.showEnded(v)
		}
	}
	if err != nil {
		return nil, err
	}
	switch {
	case v.State == StateDeclined:
		// The app's view of the request declined shows it as its
		// seller's card signed it, as an ended one on screen does.
		if err := checkShowsSigned(v); err != nil {
			return nil, err
		}
	case v.State == StateCaptured || endedUncaptured(v.State):
		// Ended otherwise, which the phone takes as no decline: the
		// request stays on screen, shown so when it ended without a
		// capture, and WaitPayment moves past it. One that shows the
		// request otherwise than its seller's card signed it, also
		// captured, is ErrMismatch, the screen as it was.
		if err := checkShowsSigned(v); err != nil {
			return nil, err
		}
		s.showEndedSigned(v)
		return v, fmt.Errorf("%w: payment %s", ErrFinal, v.State)
	default:
		// Pending, held, or a state that no request's view has: no
		// decline leaves a request so.
		return nil, fmt.Errorf("%w: the platform answered the decline with the payment %s", ErrInternal, v.State)
	}
	s.finish(shown)
	return v, nil
}
