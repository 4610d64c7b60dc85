package payflow

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/ctxsleep"
	"github.com/casimpay/casimpay/internal/nilptr"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
)

// Errors of the phones, besides the platform's.
var (
	// ErrNotPaired: the call needs a session that both cards confirmed.
	ErrNotPaired = errors.New("payflow: no paired session")
	// ErrNoPayment: the call needs a payment request on screen.
	ErrNoPayment = errors.New("payflow: no payment request")
	// ErrPaymentUnderWay: the payment request on screen is not final
	// (pending or held, as the phone last saw it), so the phone does not
	// leave its session (Leave).
	ErrPaymentUnderWay = errors.New("payflow: a payment request on screen is not final")
)

// UnknownPeerTTL is how long a phone keeps the platform's answer that it
// cannot name an advert (an EID it does not know, or a card without the
// advertised role) before it asks again, counted from when it asked (see
// PeerNameTTL). A not_found that is no verdict of the platform, over HTTP
// a reply without its error body (as a gateway or proxy sends in its
// stead), is no such answer: the phone keeps nothing and asks again on the
// next call.
const UnknownPeerTTL = 30 * time.Second

// PeerNameTTL is how long a phone keeps the platform's name for an advert
// (Peers, Select) before it asks again, counted from when it sent the
// resolution; an answer never replaces the one to a later resolution of
// the same EID, which the call that waited for it returns in its place,
// and is not kept when Select found the session with another name since
// it was sent (ErrMismatch), the call then asking again. So an advert
// replayed after the platform stopped naming its EID, or of a card
// revoked or no longer a seller card since, leaves the queue screen at
// most PeerNameTTL after the platform stops naming it, or twice that
// while the platform refuses the card's resolutions because of its rate
// (see Peers). That grace is the queue screen's only: once PeerNameTTL
// has passed, Select asks again, sending the resolution again while the
// platform answers ErrRateLimited, up to RateLimitTries times in all, and
// then fails with ErrRateLimited. A name is kept across the end of an EID
// epoch: the platform names an EID throughout the epoch after its own
// (PROTOCOL.md §1.2).
const PeerNameTTL = 30 * time.Second

// DefaultPollInterval is how often a phone asks the platform while it
// waits, unless PhoneOptions.PollInterval says otherwise.
const DefaultPollInterval = 200 * time.Millisecond

// DefaultSettleWait is how long a Seller sends again a cancellation that
// the platform answers ErrConflict, a settlement of the request under way
// (Seller.Cancel), unless PhoneOptions.SettleWait says otherwise. A
// settlement normally ends within one call of the platform to its ledger;
// one that lasts longer is an outage, or a request that stays so for good
// (PROTOCOL.md §6.4).
const DefaultSettleWait = 10 * time.Second

// RateLimitTries is how many times Select sends a resolution or a pairing
// that the platform answers ErrRateLimited, in all, before it fails with
// that error: refused for the card's budget of EID resolutions, or, for
// a resolution that needs the phone to log in first, of logins.
const RateLimitTries = 3

// DefaultRateLimitPause is how long Select waits before it sends again a
// call answered ErrRateLimited without a retry time, unless
// PhoneOptions.RateLimitPause says otherwise: at the platform's default
// rate (DefaultResolveRate), the card's budget of EID resolutions refills
// by five meanwhile.
const DefaultRateLimitPause = time.Second

// DefaultMaxRateLimitPause bounds how long Select waits for the retry time
// of a refusal (RateLimitedError), unless PhoneOptions.MaxRateLimitPause
// says otherwise.
const DefaultMaxRateLimitPause = 5 * time.Second

// PhoneOptions configure a Shopper or a Seller. API and one of Verifier and
// PlatformKey are required (an API that is a nil pointer, such as a nil
// *Client, is none); the zero value of the others is the default, and so
// is a negative duration.
type PhoneOptions struct {
	// API is the platform: a *Client over HTTP or a *Platform in process.
	// A call of it that returns neither a reply nor an error (a nil
	// reply with a nil error, a fault of the API) is taken as one that
	// failed with ErrInternal, as the handler answers it over HTTP
	// (PROTOCOL.md §5.4): no answer of the platform.
	API API
	// Queue is the service queue that the phone's scanner feeds with
	// Observe; nil makes one with default options for the phone's role.
	// One made for the other role (queue.Queue.Role), which takes in
	// none of the counterparties' adverts, or not made by queue.New, is
	// ErrInvalid at NewShopper and NewSeller.
	Queue *queue.Queue
	// Verifier checks the certificate chain of the platform's receipt key
	// offline against its trust anchors (pki.Verifier.VerifyPlatform), and
	// the chain that a receipt carries, of the key that signed it
	// (pki.Verifier.ReceiptPlatform), so that a receipt signed before the
	// platform changed its key still verifies while its certificate is
	// valid and not revoked. The phone fetches the platform's chain with
	// Info when it first needs it and keeps it, and fetches it again when
	// the one kept no longer verifies (expired or revoked) or a receipt
	// that carries no chain does not verify under its key (the platform
	// renewed its certificate or its key), once per such check.
	Verifier *pki.Verifier
	// PlatformKey, used when Verifier is nil, is the receipt key the phone
	// trusts, pinned. It must be an ECDSA P-256 key whose point is on the
	// curve, also when a Verifier is given: NewShopper and NewSeller
	// refuse another with ErrInvalid, which no receipt verifies under. A
	// phone that pins it verifies every receipt with it alone, whatever
	// chain the receipt carries: a receipt of another key, signed before
	// or after the platform changed its key, is ErrSignature.
	PlatformKey *ecdsa.PublicKey
	// PollInterval is how often the phone asks the platform while it
	// waits for the peer (default DefaultPollInterval).
	PollInterval time.Duration
	// SettleWait is how long a Seller sends again, every PollInterval, a
	// cancellation that the platform answers ErrConflict, a settlement of
	// the request under way, before it fails with that error (default
	// DefaultSettleWait; see Seller.Cancel). A Shopper does not use it.
	SettleWait time.Duration
	// RateLimitPause is how long Select waits before it sends again a
	// call that the platform answered ErrRateLimited without a retry
	// time (default DefaultRateLimitPause). A *RateLimitedError's
	// RetryAfter is waited instead, up to MaxRateLimitPause (default
	// DefaultMaxRateLimitPause).
	RateLimitPause    time.Duration
	MaxRateLimitPause time.Duration
	// Now is the phone's clock (default time.Now): it picks the EID
	// epoch, tells when the login, the answers kept on EIDs (PeerNameTTL,
	// UnknownPeerTTL), the session (SessionView.ExpiresAt) and a hold
	// (PaymentView.HoldExpiresAt) expire, and is the clock of the queue
	// that the phone makes when Queue is nil. The pauses between polls
	// and sends (PollInterval, RateLimitPause) and SettleWait are of the
	// real clock (time.Now and its timers), whatever Now reads.
	Now func() time.Time
	// Codec reads the card's advert, from which the phone takes its
	// card's EID: the deployment's service UUID, that of its cards
	// (PROTOCOL.md §1.1); the zero Codec reads adverts under
	// adv.DefaultUUID, and a card that broadcasts under another UUID
	// then fails EID, Login and Select with adv.ErrForeign.
	Codec adv.Codec
	// Assets has the phone advertise assets (adv.FlagAssets, PROTOCOL.md
	// §1.1): its app can exchange e-tickets and other assets, not only
	// pay or be paid (Advert).
	Assets bool
}

// phoneCard is what both phones need of a CA-SIM; *simcard.Card has it.
type phoneCard interface {
	ICCID() (string, error)
	Advert(epoch uint32, role adv.Role, flags adv.Flags) ([]byte, error)
	SignAuthProof(p *record.AuthProof) ([]byte, error)
}

// QueueEntry is a line of the service queue screen: a counterparty heard
// nearby, named by the platform.
type QueueEntry struct {
	EID adv.EID
	// Name is the counterparty's display name: the merchant's for a
	// seller, the card holder's for a shopper.
	Name       string
	MerchantID string  // set for a seller
	RSSI       float64 // smoothed signal strength, dBm
	// Level is the strength the queue orders the entries by, dBm: RSSI
	// held in a dead band (queue.Peer.Level), so that a list of the
	// entries reads in order.
	Level float64
	// Selected is set for the peer of the session selected, or of a
	// Select under way (Select says which of them).
	Selected bool
}

// Confirmation is what the confirmation screen shows on both phones: the
// counterparty's name and the pairing code, which must be the same on the
// two screens.
type Confirmation struct {
	SessionID   ID
	Name        string // the counterparty's display name
	PairingCode string
	Paired      bool      // both cards confirmed
	ExpiresAt   time.Time // the session's (SessionView.ExpiresAt)
}

// Receipt is a platform-signed receipt that the phone verified offline
// against the platform certificate and checked against what it signed.
type Receipt struct {
	record.Receipt
	// Signed is the COSE_Sign1 receipt, to keep or show as proof.
	Signed []byte
}

// phone is what a Shopper and a Seller share: the card, the login, the
// queue with resolved names, the session and receipt verification.
type phone struct {
	role  adv.Role
	card  phoneCard
	api   API
	queue *queue.Queue
	opts  PhoneOptions
	// signatureChecked, when set, is called for each receipt signature
	// that the phone checks, whatever the outcome.
	signatureChecked func()
	// receiptDecoded, when set, is called for each receipt message that
	// the phone decodes, whatever the outcome.
	receiptDecoded func()
	// loginWaits, when set, is called as a call that needs to log in is
	// about to wait for its turn (logIn).
	loginWaits func()

	mu     sync.Mutex
	cardID string
	login  *LoginResponse
	// loginTurn is held while a call logs in, so that the phone runs one
	// login at a time (logIn); made by loginLock, nil until then.
	loginTurn ctxLock
	eidEpoch  uint32
	eid       adv.EID
	names     map[adv.EID]peerName
	asks      uint64 // the resolutions sent and answers forgotten, which order them (peerName.seq)
	session   *SessionView
	platform  [][]byte     // the platform's certificate chain, from Info
	next      uint32       // index of the session's next payment request
	payment   *PaymentView // the payment request on screen
	// sessionEpoch is the epoch of the EID of this card that the session
	// selected now names (the one its pairing proof named).
	sessionEpoch uint32
	// choosing are the choices of the Selects under way, and
	// sessionChoice the one of the Select that selected the session; the
	// queue shows selected the peer of the latest of them
	// (choiceEndedLocked). choiceSeq is the sequence number of the
	// latest choice (peerChoice.seq).
	choosing      []peerChoice
	sessionChoice peerChoice
	choiceSeq     uint64
	// left are, for a seller, the next request indexes of the sessions
	// selected before the one selected now, the one left last at the end:
	// at most keptRequestIndexes-1 of them while a session is selected
	// (keptRequestIndexes after Leave), none of an EID epoch more than one
	// before the one of the last selection's proof (keepIndexLocked).
	left []sessionIndex

	namesPruned time.Time // when pruneNamesLocked last scanned names; guarded by mu
	// forgotLast is the sequence number of the latest forgotten answer
	// of which the phone dropped what it kept (pruneNamesLocked): no
	// answer to a resolution sent before it is kept. Guarded by mu.
	forgotLast uint64
}

// init sets up a phone of role for card.
func (p *phone) init(role adv.Role, card phoneCard, opts PhoneOptions) error {
	if card == nil || opts.API == nil {
		return fmt.Errorf("%w: a phone needs a card and an API", ErrInvalid)
	}
	if nilptr.Is(card) {
		return fmt.Errorf("%w: the phone's card is a nil %T", ErrInvalid, card)
	}
	if nilptr.Is(opts.API) {
		return fmt.Errorf("%w: the phone's API is a nil %T", ErrInvalid, opts.API)
	}
	if opts.Verifier == nil && opts.PlatformKey == nil {
		return fmt.Errorf("%w: a phone needs a Verifier or a PlatformKey to check receipts", ErrInvalid)
	}
	if opts.PlatformKey != nil {
		if err := checkPlatformKey(opts.PlatformKey); err != nil {
			return err
		}
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.SettleWait <= 0 {
		opts.SettleWait = DefaultSettleWait
	}
	if opts.RateLimitPause <= 0 {
		opts.RateLimitPause = DefaultRateLimitPause
	}
	if opts.MaxRateLimitPause <= 0 {
		opts.MaxRateLimitPause = DefaultMaxRateLimitPause
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := opts.Queue
	if q != nil && q.Role() != role {
		if !q.Role().Valid() {
			return fmt.Errorf("%w: the phone's Queue was not made by queue.New", ErrInvalid)
		}
		return fmt.Errorf("%w: the phone's Queue is a %s's, not a %s's", ErrInvalid, q.Role(), role)
	}
	if q == nil {
		var err error
		if q, err = queue.New(role, queue.Options{Now: opts.Now}); err != nil {
			return err
		}
	}
	p.role, p.card, p.api, p.queue, p.opts = role, card, answeredAPI{opts.API}, q, opts
	p.names = make(map[adv.EID]peerName)
	return nil
}

// checkPlatformKey checks that k is a key that a receipt can verify
// under: an ECDSA P-256 key whose point is on the curve (ErrInvalid,
// naming what it lacks).
func checkPlatformKey(k *ecdsa.PublicKey) error {
	switch {
	case k.Curve == nil:
		return fmt.Errorf("%w: the phone's PlatformKey has no curve (a receipt key is ECDSA P-256)", ErrInvalid)
	case k.Curve != elliptic.P256():
		name := "another curve"
		if params := k.Curve.Params(); params != nil && params.Name != "" {
			name = params.Name
		}
		if name == elliptic.P256().Params().Name {
			// Its parameters, say, which package record does not take.
			name = "a P-256 curve other than elliptic.P256()"
		}
		return fmt.Errorf("%w: the phone's PlatformKey is on %s (a receipt key is ECDSA P-256)", ErrInvalid, name)
	case !record.HasPoint(k):
		return fmt.Errorf("%w: the phone's PlatformKey has no point", ErrInvalid)
	}
	if _, err := k.ECDH(); err != nil {
		return fmt.Errorf("%w: the phone's PlatformKey is no point of P-256", ErrInvalid)
	}
	return nil
}

func (p *phone) recordRole() record.Role {
	if p.role == adv.Seller {
		return record.RoleSeller
	}
	return record.RoleShopper
}

// Queue returns the service queue, for the scanner to feed with Observe and
// the UI to wait on with Changes.
func (p *phone) Queue() *queue.Queue { return p.queue }

// CardID returns the card's ICCID, read once.
func (p *phone) CardID() (string, error) {
	p.mu.Lock()
	id := p.cardID
	p.mu.Unlock()
	if id != "" {
		return id, nil
	}
	id, err := p.card.ICCID()
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.cardID = id
	p.mu.Unlock()
	return id, nil
}

// Advert returns the advert the card broadcasts now: its EID for the
// current epoch, the phone's role and the flags (PROTOCOL.md §1.1). It
// sets adv.FlagAssets when PhoneOptions.Assets says so, and adv.FlagBusy
// while the phone is in a payment session with another peer: the session
// it selected last is paired, as the phone last saw it (Select, or
// WaitPaired for the phone that selected first), and has not expired by
// the phone's clock (PhoneOptions.Now before SessionView.ExpiresAt). A
// session that waits for the peer to select this phone back is not busy,
// so that the peer's app does not grey out the phone that waits for it;
// a phone leaves a paired session as it expires, as another is selected,
// or at Leave. A card's error is returned as it is.
func (p *phone) Advert() ([]byte, error) {
	return p.AdvertAt(p.opts.Now())
}

// AdvertAt returns the advert the card broadcasts at now, as Advert does at
// the phone's clock: its EID for the epoch of now, the phone's role and
// the flags, adv.FlagBusy while the session selected last is paired, not
// left (Leave), and now is before its ExpiresAt, whatever
// PhoneOptions.Now reads. It is for a radio that keeps a clock of its own,
// as a simulation of one does. A card's error is returned as it is.
func (p *phone) AdvertAt(now time.Time) ([]byte, error) {
	var flags adv.Flags
	if p.opts.Assets {
		flags |= adv.FlagAssets
	}
	if s := p.currentSession(); s != nil && s.State == SessionPaired && !sessionLapsed(s, now) {
		flags |= adv.FlagBusy
	}
	return p.card.Advert(adv.Epoch(now), p.role, flags)
}

// EID returns the card's EID for the current epoch, as its advert carries
// it.
func (p *phone) EID() (adv.EID, error) {
	e, _, err := p.currentEID()
	return e, err
}

// currentEID returns the card's EID for the current epoch, and the epoch.
// It asks the card for an advert without flags: the EID does not depend
// on them.
func (p *phone) currentEID() (adv.EID, uint32, error) {
	epoch := adv.Epoch(p.opts.Now())
	p.mu.Lock()
	if p.eidEpoch == epoch && p.eid != (adv.EID{}) {
		e := p.eid
		p.mu.Unlock()
		return e, epoch, nil
	}
	p.mu.Unlock()
	raw, err := p.card.Advert(epoch, p.role, 0)
	if err != nil {
		return adv.EID{}, 0, err
	}
	pkt, err := p.opts.Codec.Parse(raw)
	if err != nil {
		return adv.EID{}, 0, fmt.Errorf("payflow: the card's advert: %w", err)
	}
	p.mu.Lock()
	p.eidEpoch, p.eid = epoch, pkt.EID
	p.mu.Unlock()
	return pkt.EID, epoch, nil
}

// proof has the card sign an auth proof over a fresh challenge, naming
// peer (the zero EID for a login), and returns it with the card's own EID
// that it names and that EID's epoch. Once ctx ended, as the challenge
// came, it fails with ctx's error and the card signs nothing.
func (p *phone) proof(ctx context.Context, peer adv.EID) (msg []byte, own adv.EID, epoch uint32, err error) {
	id, err := p.CardID()
	if err != nil {
		return nil, adv.EID{}, 0, err
	}
	own, epoch, err = p.currentEID()
	if err != nil {
		return nil, adv.EID{}, 0, err
	}
	ch, err := p.api.Challenge(ctx, &ChallengeRequest{CardID: id})
	if err != nil {
		return nil, adv.EID{}, 0, err
	}
	// A call whose ctx ended signs and sends nothing, also when the
	// challenge (an API in process) did not look at ctx.
	if err := context.Cause(ctx); err != nil {
		return nil, adv.EID{}, 0, err
	}
	msg, err = p.card.SignAuthProof(&record.AuthProof{Nonce: ch.Nonce, Role: p.recordRole(), EID: own[:], PeerEID: peer[:]})
	return msg, own, epoch, err
}

// LoginTries is how many auth proofs a phone's Login sends, each over a
// new challenge, while the platform answers that the proof is spent.
const LoginTries = 3

// Login proves the card's key to the platform and keeps the bearer token.
// The other methods log in by themselves when they need to, and again
// when the token expired. The phone runs one login at a time: a call that
// needs to log in while another logs in waits for that login, as long as
// its context lasts, and uses the token it got if that is unexpired by
// the phone's clock, logging in itself otherwise (also when that login
// failed); Login itself logs in anew, unless another call replaced the
// login that the phone held when Login was called while it waited, whose
// login it then returns. The auth proof, like every record the card
// signs, carries the card's counter: a login whose proof reaches the
// platform after a record that the card signed later, for a call of the
// phone that signs records (a selection, a payment or refund request, a
// consent) made at the same moment, fails with ErrClone (see the Seller
// and Shopper types).
//
// A login's reply carries the token, so the platform never stores it for
// an Idempotency-Key: when a reply was lost and the transport sent the
// proof again, the platform answers that the proof is spent (ErrReplay),
// and Login proves the card's key again over a new challenge, up to
// LoginTries times in all.
//
// A card that the platform does not hold (never enrolled there, or
// removed since) gets a challenge as an enrolled card does, and its
// proof is refused with ErrSignature, the error of a proof that the key
// of the card enrolled under its ICCID did not sign: the platform tells
// no one, the phone included, which of the two it is (PROTOCOL.md §6.1).
//
// The login it returns is the caller's own: the phone keeps the one it
// uses, which writing into the one returned leaves as it was.
//
// A login whose ctx ended before it fails with ctx's error, whether or
// not the API heeds ctx (a Platform in process): it sends nothing and the
// card signs no proof. So does one that another call makes for itself,
// and one whose ctx ends while it waits for another login.
// One whose ctx ends as the challenge comes fails so before the card
// signs: no proof is signed or sent.
//
// A reply that is no login of the card is the platform's contradiction
// (ErrMismatch), as for LoginWithRetry, and so is one for another card ID
// than the card's, and a seller's without a merchant ID of the form that
// the records carry: the phone keeps nothing of it, and its next call
// that needs a token logs in again. A login whose expiry is not after the
// phone's clock (PhoneOptions.Now), which a phone whose clock is ahead of
// the platform's gets, is taken: the call that logged in uses its token,
// and the next call that needs one logs in again.
func (p *phone) Login(ctx context.Context) (*LoginResponse, error) {
	p.mu.Lock()
	held := p.login
	p.mu.Unlock()
	resp, err := p.logIn(ctx, held)
	if err != nil {
		return nil, err
	}
	l := *resp
	return &l, nil
}

// loginLock returns the phone's loginTurn, making it first if need be.
func (p *phone) loginLock() ctxLock {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.loginTurn == nil {
		p.loginTurn = newCtxLock()
	}
	return p.loginTurn
}

// logIn is Login, returning the login that the phone keeps, for a call
// that found the login stale (expired, refused or nil): it waits for a
// login under way, as long as ctx lasts, and then uses the login that the
// phone holds if it is another than stale and unexpired by the phone's
// clock, logging in itself otherwise. The phone so runs one login at a
// time: a call that needs a token while another logs in waits for that
// login instead of having the card sign a proof that could reach the
// platform before the other's (ErrClone), and one that failed leaves the
// call waiting next to log in itself.
func (p *phone) logIn(ctx context.Context, stale *LoginResponse) (*LoginResponse, error) {
	turn := p.loginLock()
	if p.loginWaits != nil {
		p.loginWaits()
	}
	if err := turn.lock(ctx); err != nil {
		return nil, err
	}
	defer turn.unlock()
	p.mu.Lock()
	l := p.login
	p.mu.Unlock()
	if l != nil && l != stale && p.opts.Now().Before(l.ExpiresAt) {
		return l, nil
	}
	resp, err := LoginWithRetry(ctx, p.api, LoginTries, func() ([]byte, error) {
		msg, _, _, err := p.proof(ctx, adv.EID{})
		return msg, err
	})
	if errors.Is(err, ErrRateLimited) {
		return nil, &loginLimitedError{err}
	}
	if err != nil {
		return nil, err
	}
	if err := p.checkLogin(resp); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.login = resp
	p.mu.Unlock()
	return resp, nil
}

// loginLimitedError is the refusal of a phone's login for the card's
// budget of logins (ErrRateLimited, a *RateLimitedError within), as the
// call that needed the login returns it: Peers tells it from the refusal
// of a resolution, which leaves a peer out of the screen, and fails with
// it.
type loginLimitedError struct{ err error }

func (e *loginLimitedError) Error() string { return e.err.Error() }
func (e *loginLimitedError) Unwrap() error { return e.err }

// checkLogin checks that l, a reply that LoginWithRetry took, is a login
// of the phone's card and, for a seller, names a merchant ID of the form
// that the records carry (ErrMismatch otherwise).
func (p *phone) checkLogin(l *LoginResponse) error {
	id, err := p.CardID()
	if err != nil {
		return err
	}
	if l.CardID != id {
		return fmt.Errorf("%w: the login is of card %q, not this card's", ErrMismatch, l.CardID)
	}
	// The platform logs a seller in only with a seller card of a
	// merchant, whose ID the card signs in records.
	if p.role == adv.Seller {
		if err := record.CheckText("merchant ID", l.MerchantID); err != nil {
			return fmt.Errorf("%w: the seller card's login: %v", ErrMismatch, err)
		}
	}
	return nil
}

// LoginWithRetry logs in to api with the auth proofs that proof has a
// card sign, each over a new challenge: it sends one, and another while
// the platform answers that the proof is spent (ErrReplay, as when the
// reply of one sent before was lost and the transport sent it again), up
// to tries proofs in all. An error of proof ends it with that error. A
// login refused for the card's budget of logins (ErrRateLimited, with
// its retry time as a *RateLimitedError: PlatformOptions.LoginRate) is
// not sent again: LoginWithRetry fails with it at once, for the caller to
// show or wait. A phone's Login is LoginWithRetry with LoginTries.
//
// A reply that is no login, one without a token, a card ID or an expiry
// (the zero time), or whose token is no b64token (RFC 6750 §2.1: the
// form of the platform's tokens, and of those that Client sends), is the
// platform's contradiction: LoginWithRetry fails with ErrMismatch and
// returns nothing of it; a call of api that returns
// neither a reply nor an error fails with ErrInternal, as the handler
// answers it over HTTP. Neither is sent again. No api (nil, or a nil
// pointer such as a nil *Client), no proof or tries below 1 is
// ErrInvalid: proof is not called, and nothing is sent.
func LoginWithRetry(ctx context.Context, api API, tries int, proof func() ([]byte, error)) (*LoginResponse, error) {
	if api == nil || nilptr.Is(api) || proof == nil {
		return nil, fmt.Errorf("%w: a login needs an API and a proof", ErrInvalid)
	}
	if tries < 1 {
		return nil, fmt.Errorf("%w: a login needs 1 try or more, not %d", ErrInvalid, tries)
	}
	for try := 1; ; try++ {
		msg, err := proof()
		if err != nil {
			return nil, err
		}
		resp, err := api.Login(ctx, &LoginRequest{Proof: msg})
		if resp, err = answered("login", resp, err); err == nil {
			return checkLoginReply(resp)
		}
		if try >= tries || !errors.Is(err, ErrReplay) {
			return nil, err
		}
	}
}

// checkLoginReply returns l, or ErrMismatch when it lacks a token, a
// card ID or an expiry, or its token is no b64token, which no call over
// HTTP carries (Client refuses to send it).
func checkLoginReply(l *LoginResponse) (*LoginResponse, error) {
	switch {
	case l.Token == "":
		return nil, fmt.Errorf("%w: the login carries no token", ErrMismatch)
	case !validB64Token(l.Token):
		return nil, fmt.Errorf("%w: the login's token is not a %s", ErrMismatch, b64tokenForm)
	case l.CardID == "":
		return nil, fmt.Errorf("%w: the login names no card", ErrMismatch)
	case l.ExpiresAt.IsZero():
		return nil, fmt.Errorf("%w: the login carries no expiry", ErrMismatch)
	}
	return l, nil
}

// loginState returns the login, logging in when there is none or it has
// expired by the phone's clock. Over HTTP the login's expiry is rounded
// down to a whole second (PROTOCOL.md §5.1), so the phone logs in again up
// to a second early, never sending a token the platform no longer takes.
func (p *phone) loginState(ctx context.Context) (*LoginResponse, error) {
	p.mu.Lock()
	l := p.login
	p.mu.Unlock()
	if l != nil && p.opts.Now().Before(l.ExpiresAt) {
		return l, nil
	}
	return p.logIn(ctx, l)
}

// authed runs fn with a token, logging in again once if the platform no
// longer knows the token.
func authed[T any](ctx context.Context, p *phone, fn func(token string) (T, error)) (T, error) {
	l, err := p.loginState(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := fn(l.Token)
	if !errors.Is(err, ErrUnauthorized) {
		return v, err
	}
	if l, err = p.logIn(ctx, l); err != nil {
		var zero T
		return zero, err
	}
	return fn(l.Token)
}

// peerName is the platform's answer on an EID, kept by a phone, or what
// is left of one that the phone forgot.
type peerName struct {
	r     *ResolveResponse // nil: the platform could not name it
	asked time.Time        // when the phone sent the resolution that r answers, or forgot
	// seq orders the resolutions that the phone sent and the answers
	// that it forgot, by when it did (phone.asks): the clock cannot,
	// which may read the same for both.
	seq uint64
	// forgotten: the phone forgot its answer at asked (forget), and
	// keeps no answer; one to a resolution sent before is not kept.
	forgotten bool
}

// until is when the phone asks again: UnknownPeerTTL or PeerNameTTL after
// it sent the resolution, however long the answer took to arrive. A
// forgotten answer expires as a name would, PeerNameTTL after the phone
// forgot it: by then, an answer to a resolution sent before has expired
// too.
func (n peerName) until() time.Time {
	if n.r == nil && !n.forgotten {
		return n.asked.Add(UnknownPeerTTL)
	}
	return n.asked.Add(PeerNameTTL)
}

// replacedBy reports whether the answer to the resolution of sequence
// number seq replaces n: it does unless n answers a resolution sent
// later, or n was forgotten since that resolution was sent.
func (n peerName) replacedBy(seq uint64) bool {
	return n.seq < seq
}

// maxNames bounds how many answers on EIDs a phone keeps.
const maxNames = 4 * queue.DefaultCapacity

// kept returns the phone's answer on eid, if it has one, fresh or not;
// none when it forgot it.
func (p *phone) kept(eid adv.EID) (peerName, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.names[eid]
	return n, ok && !n.forgotten
}

// resolve returns what the platform knows of eid, nil when it knows
// nothing (a stale or foreign EID) or not as a counterparty; answers are
// kept per EID, the nil ones for UnknownPeerTTL, the names for
// PeerNameTTL, from when the phone asked.
func (p *phone) resolve(ctx context.Context, eid adv.EID) (*ResolveResponse, error) {
	if n, ok := p.kept(eid); ok && p.opts.Now().Before(n.until()) {
		return n.r, nil
	}
	return p.ask(ctx, eid)
}

// ask asks the platform about eid, as resolve, and keeps its answer and
// returns it, unless it keeps one to a resolution sent later (by another
// call that the platform answered first): it then returns that one, which
// is newer. When it forgot its answer on eid since it sent this one
// (forget), it keeps no answer and asks again, since the platform names
// eid otherwise now; it asks once more each time it forgot the answer
// again while it waited, and when it dropped what it kept of answers it
// forgot since (pruneNamesLocked), whichever EIDs they were on. Later is
// by the order of their sequence numbers (peerName.seq), whatever the
// clock read. It sends no resolution once ctx is done, and then fails
// with ctx's error, whether or not the API heeds ctx.
func (p *phone) ask(ctx context.Context, eid adv.EID) (*ResolveResponse, error) {
	for {
		if err := context.Cause(ctx); err != nil {
			return nil, err
		}
		r, forgotten, err := p.askOnce(ctx, eid)
		if err != nil || !forgotten {
			return r, err
		}
	}
}

// askOnce asks the platform about eid once, as ask; forgotten reports
// that the phone forgot its answer on eid since it sent the resolution,
// and r is then no answer. A call that gets no answer or a reply that is
// no verdict of the platform (refused), such as a 404 without the
// platform's error body, fails with its error and keeps nothing; so does
// a name of a form that the platform enrols none in (record.CheckName),
// with ErrMismatch.
func (p *phone) askOnce(ctx context.Context, eid adv.EID) (r *ResolveResponse, forgotten bool, err error) {
	seq, asked := p.sequence()
	r, err = authed(ctx, p, func(token string) (*ResolveResponse, error) {
		return p.api.Resolve(ctx, token, &ResolveRequest{EID: eid[:]})
	})
	switch {
	case (errors.Is(err, ErrNotFound) || errors.Is(err, ErrExpired)) && refused(err):
		r = nil // the platform's answer that it cannot name eid
	case err != nil:
		// No answer, or no verdict of the platform (a gateway's bare
		// 404, rate_limited: refused): nothing is kept.
		return nil, false, err
	case r.Role != uint8(p.role.Opposite()):
		r = nil // a card advertising a role it does not have
	case record.CheckName("display name", r.DisplayName) != nil:
		// A name that the platform enrols no card or merchant under
		// (checkName): no verdict of the platform, nothing kept.
		return nil, false, fmt.Errorf("%w: the platform names the EID %q, of a form that it enrols no name in", ErrMismatch, r.DisplayName)
	}
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneNamesLocked(now)
	switch old, ok := p.names[eid]; {
	case !ok && seq < p.forgotLast:
		return nil, true, nil
	case !ok || old.replacedBy(seq):
		p.names[eid] = peerName{r: r, asked: asked, seq: seq}
		return r, false, nil
	case old.forgotten:
		return nil, true, nil
	default:
		return old.r, false, nil
	}
}

// sequence returns the sequence number of a resolution sent now
// (phone.asks), and the time by the phone's clock.
func (p *phone) sequence() (uint64, time.Time) {
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nextSeqLocked(), now
}

// nextSeqLocked returns the sequence number of a resolution sent, or of
// an answer forgotten, now (phone.asks).
func (p *phone) nextSeqLocked() uint64 {
	p.asks++
	return p.asks
}

// pruneNamesLocked drops the answers that expired PeerNameTTL or more
// before now, which Peers no longer shows, and the forgotten ones as
// names (peerName.until): it scans them at most once per PeerNameTTL, or
// when the phone keeps maxNames of them; if it still keeps that many, it
// drops all the answers that it did not forget, keeping what is left of
// the others so that an answer to a resolution sent before is not kept.
// If that alone fills maxNames, it drops it too, and keeps no answer to a
// resolution sent before the last of them (phone.forgotLast).
func (p *phone) pruneNamesLocked(now time.Time) {
	if d := now.Sub(p.namesPruned); len(p.names) < maxNames && d >= 0 && d < PeerNameTTL {
		return
	}
	p.namesPruned = now
	maps.DeleteFunc(p.names, func(_ adv.EID, n peerName) bool { return !now.Before(n.until().Add(PeerNameTTL)) })
	if len(p.names) >= maxNames {
		maps.DeleteFunc(p.names, func(_ adv.EID, n peerName) bool { return !n.forgotten })
	}
	if len(p.names) >= maxNames {
		for _, n := range p.names {
			p.forgotLast = max(p.forgotLast, n.seq)
		}
		clear(p.names)
	}
}

// Peers returns the service queue screen: the counterparties heard
// nearby, nearest first, each named by the platform. Adverts whose EID the
// platform does not know (stale, foreign or forged) or whose card does
// not have the advertised role are left out; the phone asks the platform
// about them again after UnknownPeerTTL. A name is kept for PeerNameTTL,
// so that an advert heard again later (replayed) or of a card revoked
// since is left out once the platform no longer names it.
//
// The platform bounds how many EIDs a card resolves (PROTOCOL.md §6.1),
// and every peer starts advertising a new EID at the start of an epoch,
// while its old one stays in the queue for the queue's TTL. So Peers asks
// first about the peers that it cannot name otherwise, then about those
// whose name expired less than PeerNameTTL ago, which it shows under that
// name unless the platform, asked, answers otherwise. Once the platform
// refuses a resolution because of the card's rate (ErrRateLimited), Peers
// asks no more in this call: a peer that it cannot name so is left out of
// this snapshot. A login that the phone needs to ask, refused for the
// card's budget of logins (ErrRateLimited too), fails Peers with that
// refusal and its retry time, as any call that needs a token then. A
// resolution that gets no answer, or another reply that is no verdict of
// the platform (over HTTP one without its error body, such as a gateway's
// 404, or a name of a form that the platform enrols none in,
// record.CheckName's, which is ErrMismatch), fails Peers with its error,
// and the phone keeps nothing of it: the next call asks again.
//
// A Peers whose ctx ended asks nothing, whether or not the API heeds ctx
// (a Platform in process). It is a read of the screen: when the phone
// keeps an answer of the platform on every peer heard that has not
// expired (a name, or that it names none), it returns the snapshot
// without error; when it would ask about one, it fails with ctx's error
// and returns no snapshot.
func (p *phone) Peers(ctx context.Context) ([]QueueEntry, error) {
	snap := p.queue.Snapshot()
	now := p.opts.Now()
	names := make([]*ResolveResponse, len(snap))
	var renew []int  // peers shown under a name that expired
	limited := false // the platform refused a resolution of this call
	// name asks the platform about peer i.
	name := func(i int) error {
		r, err := p.ask(ctx, snap[i].Packet.EID)
		if errors.Is(err, ErrRateLimited) && !holdsError[*loginLimitedError](err) {
			limited = true
			return nil
		}
		if err == nil {
			names[i] = r
		}
		return err
	}
	for i, peer := range snap {
		n, ok := p.kept(peer.Packet.EID)
		switch {
		case ok && now.Before(n.until()):
			names[i] = n.r
		case ok && n.r != nil && now.Before(n.until().Add(PeerNameTTL)):
			names[i] = n.r
			renew = append(renew, i)
		case !limited:
			if err := name(i); err != nil {
				return nil, err
			}
		}
	}
	for _, i := range renew {
		if limited {
			break
		}
		if err := name(i); err != nil {
			return nil, err
		}
	}
	out := make([]QueueEntry, 0, len(snap))
	for i, peer := range snap {
		if r := names[i]; r != nil {
			out = append(out, QueueEntry{EID: peer.Packet.EID, Name: r.DisplayName, MerchantID: r.MerchantID, RSSI: peer.RSSI, Level: peer.Level, Selected: peer.Selected})
		}
	}
	return out, nil
}

// Select is the user's choice of a counterparty from the queue: the card
// proves itself to the platform naming the peer's EID, and the session
// goes to the confirmation screen. Paired is false until the other phone
// selects this one too (WaitPaired). The session is checked against what
// the user picked (ErrMismatch): its pairing code against the one computed
// here from both EIDs, this card's ID, and the peer against what the
// platform named its EID (Peers): for a shopper, the merchant's ID and
// name; for a seller, the shopper's name and this card's merchant. Its
// shopper card ID and merchant ID, which the cards sign in records, must
// be of the forms that the records carry. A paired session must show the
// peer's card ID, which a waiting one does not show (the platform shows it
// only once both cards confirmed). The session's ID, which the seller card
// signs in payment requests, must be the one that SessionID derives from
// the two EIDs that the pairing proof names, waiting or paired
// (ErrMismatch), so that a platform that answers with the ID of another
// session, such as one of the same cards under the EIDs of an epoch before
// or one of the seller with another shopper, has the seller card sign no
// request naming that session.
//
// Select fails with queue.ErrUnknownPeer when the queue holds no live peer
// with that EID, with ErrNotFound when the platform does not name it as a
// counterparty (an EID that it does not know, or of a card without the
// advertised role, which Peers leaves out), and with ErrMismatch when the
// platform names it with a name of a form that it enrols none in (as Peers
// says): the card signs no proof for either. Otherwise the queue shows that
// peer selected (QueueEntry.Selected, queue.Peer.Selected) and keeps it
// past its TTL while Select is under way, and then as the peer of the
// session selected. A Select that fails, whatever its error, selects no
// session: the phone stays on the session selected before, and the queue
// shows that session's peer selected again, or none when there is none or
// the TTL of that peer, no longer kept, passed meanwhile. Of Selects made
// at once, the queue shows the peer of the one that started last among
// those under way and the one that selected the session in force.
//
// The platform bounds how many EIDs a card resolves, pairings included,
// and how often it logs in (PROTOCOL.md §6.1). A resolution (with the
// login it needs first, when the phone's token has expired) or a pairing
// that it answers ErrRateLimited is sent again, the pairing with the
// same proof (which the platform left unspent), after the retry time the
// refusal gives (RateLimitedError, at most
// PhoneOptions.MaxRateLimitPause) or else PhoneOptions.RateLimitPause,
// up to RateLimitTries times in all; then Select fails with
// ErrRateLimited, and the user may select the peer again a few seconds
// later.
//
// The card signs the pairing proof with its counter, which the platform
// requires to increase (PROTOCOL.md §4.6): a proof that reaches the
// platform after a record that the card signed later, for another call of
// the phone made at the same moment (a payment request, a consent, a
// login), is refused with ErrClone, and Select selects nothing. The
// phone's records are sent in the order they are signed only if the app
// makes the calls that sign them one at a time.
//
// A Select of a peer that the queue holds live whose ctx ended before it
// fails with ctx's error, whether or not the API heeds ctx (a Platform in
// process): it sends nothing, the card signs no proof, and the queue shows
// selected what it showed before. One whose ctx ends after it began, up
// to the challenge of its proof, fails so before the card signs: no proof
// is signed, and no pairing sent. One of a peer that the queue does not
// hold live fails with queue.ErrUnknownPeer all the same.
func (p *phone) Select(ctx context.Context, eid adv.EID) (*Confirmation, error) {
	c, _, err := p.selectPeer(ctx, eid)
	return c, err
}

// selectPeer is Select; dropped is the payment request that it took off
// the screen as it selected the session, if any.
func (p *phone) selectPeer(ctx context.Context, eid adv.EID) (c *Confirmation, dropped *PaymentView, err error) {
	choice, err := p.choose(eid)
	if err != nil {
		return nil, nil, err
	}
	// Once ctx ended, nothing is sent, whether or not the API heeds ctx.
	var r *ResolveResponse
	if err = context.Cause(ctx); err == nil {
		r, err = p.resolvePeer(ctx, eid)
	}
	if err != nil {
		p.choiceEnded(choice)
		return nil, nil, err
	}
	return p.selectChosen(ctx, choice, r)
}

// selectChosen is selectPeer of choice, which choose made, whose EID
// resolvePeer resolved to r.
func (p *phone) selectChosen(ctx context.Context, choice peerChoice, r *ResolveResponse) (c *Confirmation, dropped *PaymentView, err error) {
	s, epoch, err := p.pairWith(ctx, choice.eid, r)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.keepIndexLocked(s.ID, epoch)
		dropped = p.payment
		p.session, p.payment, p.sessionChoice = s, nil, choice
	}
	p.choiceEndedLocked(choice)
	if err != nil {
		return nil, nil, err
	}
	return p.confirmation(s), dropped, nil
}

// peerChoice is the user's choice of a peer in the queue, made by a
// Select; seq orders the choices by when their Selects started
// (phone.choiceSeq).
type peerChoice struct {
	seq uint64
	eid adv.EID
}

// choose marks eid selected in the queue, which then keeps it past its
// TTL, as the choice of a Select that starts now, and returns that
// choice; it fails with queue.ErrUnknownPeer, the queue unchanged, when
// the queue holds no live peer with that EID.
func (p *phone) choose(eid adv.EID) (peerChoice, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := p.queue.Select(eid); err != nil {
		return peerChoice{}, err
	}
	p.choiceSeq++
	c := peerChoice{seq: p.choiceSeq, eid: eid}
	p.choosing = append(p.choosing, c)
	return c, nil
}

// choiceEnded is choiceEndedLocked, for a Select that fails before it
// pairs.
func (p *phone) choiceEnded(c peerChoice) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.choiceEndedLocked(c)
}

// choiceEndedLocked ends choice c once its Select selected its session
// or failed, with p.mu held: the queue then shows selected the peer of
// the latest choice left, of a Select under way or of the one that
// selected the session in force, or none when there is neither or that
// peer is no longer a live one of the queue (its TTL passed while another
// was selected). So a Select that fails leaves the queue showing the
// peer it showed before, that of the session selected, unless a Select
// that started later is under way, which the queue goes on showing.
func (p *phone) choiceEndedLocked(c peerChoice) {
	p.choosing = slices.DeleteFunc(p.choosing, func(o peerChoice) bool { return o.seq == c.seq })
	p.showChoiceLocked()
}

// showChoiceLocked has the queue show selected the peer of the latest
// choice, of a Select under way or of the one that selected the session
// in force, or none (choiceEndedLocked), with p.mu held.
func (p *phone) showChoiceLocked() {
	latest, ok := p.sessionChoice, p.session != nil
	for _, o := range p.choosing {
		if !ok || o.seq > latest.seq {
			latest, ok = o, true
		}
	}
	if sel, shown := p.queue.Selected(); shown == ok && (!ok || sel.Packet.EID == latest.eid) {
		return
	}
	if ok {
		if _, err := p.queue.Select(latest.eid); err == nil {
			return
		}
	}
	p.queue.Deselect()
}

// resolvePeer resolves eid, the EID of a peer to pair with: ErrNotFound
// when the platform does not know it.
func (p *phone) resolvePeer(ctx context.Context, eid adv.EID) (*ResolveResponse, error) {
	var r *ResolveResponse
	err := p.retryRateLimited(ctx, func() (err error) {
		r, err = p.resolve(ctx, eid)
		return err
	})
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%w: the platform does not know this peer", ErrNotFound)
	}
	return r, nil
}

// pairWith has the card prove itself naming eid, which resolvePeer
// resolved to r, and pairs, and returns the session that the platform
// answered, checked (checkSession), and the epoch of the card's EID that
// the proof named.
func (p *phone) pairWith(ctx context.Context, eid adv.EID, r *ResolveResponse) (*SessionView, uint32, error) {
	// The session is checked against the EID that the proof names, which
	// may no longer be the current one when the epoch ended meanwhile.
	msg, own, epoch, err := p.proof(ctx, eid)
	if err != nil {
		return nil, 0, err
	}
	var s *SessionView
	err = p.retryRateLimited(ctx, func() (err error) {
		s, err = p.api.Pair(ctx, &PairRequest{Proof: msg})
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if err := p.checkSession(ctx, s, own, eid, r); err != nil {
		return nil, 0, err
	}
	return s, epoch, nil
}

// keptRequestIndexes is how many sessions a seller keeps the next request
// index of: the one selected and those selected last before it
// (Seller.Select).
const keptRequestIndexes = 16

// sessionIndex is the next request index of a session, and the epoch of
// the seller's EID that the session names.
type sessionIndex struct {
	id    ID
	epoch uint32
	next  uint32
}

// keepIndexLocked sets p.next for selecting session id, whose pairing
// proof named this card's EID of epoch, with p.mu held: a seller's
// indexes of a session stay taken by the requests it made there, so it
// keeps the next index of the session selected now when it selects
// another, and restores a kept one when it selects that session again, or
// else starts at 0. It keeps keptRequestIndexes of them, the one left
// longest ago dropped first. A session names the EIDs of its cards, and a
// pairing proof names this card's EID of the epoch of the phone's clock
// when the card signs it, which the platform takes in the epoch before or
// after its own: the answers to proofs made on either side of an epoch's
// end may come in either order (Selects at once, a clock set back). So it
// drops the indexes of the sessions whose EID is of an epoch more than one
// before the one of this proof (epochEnded), and keeps those of the epoch
// before it, where a selection may still land. A shopper, whose next
// index is of the requests it reads, keeps none and starts at 0.
func (p *phone) keepIndexLocked(id ID, epoch uint32) {
	if p.role != adv.Seller {
		p.next = 0
		return
	}
	p.left = slices.DeleteFunc(p.left, func(k sessionIndex) bool { return epochEnded(k.epoch, epoch) })
	if p.session != nil {
		if p.session.ID == id {
			return
		}
		if !epochEnded(p.sessionEpoch, epoch) {
			p.left = append(p.left, sessionIndex{p.session.ID, p.sessionEpoch, p.next})
		}
	}
	p.sessionEpoch, p.next = epoch, 0
	if i := p.leftLocked(id); i >= 0 {
		p.next = p.left[i].next
		p.left = slices.Delete(p.left, i, i+1)
	}
	if over := len(p.left) - (keptRequestIndexes - 1); over > 0 {
		p.left = slices.Delete(p.left, 0, over)
	}
}

// epochEnded reports whether a seller's kept request index of a session
// naming its EID of epoch e is forgotten at a selection whose proof names
// its EID of epoch: when e is more than one epoch before it
// (keepIndexLocked).
func epochEnded(e, epoch uint32) bool {
	return e < epoch && epoch-e > 1
}

// moveOnLocked has the next request of session id, the one selected or
// one whose index is kept (keepIndexLocked), go on at index n at least,
// with p.mu held.
func (p *phone) moveOnLocked(id ID, n uint32) {
	if p.session != nil && p.session.ID == id {
		p.next = max(p.next, n)
		return
	}
	if i := p.leftLocked(id); i >= 0 {
		p.left[i].next = max(p.left[i].next, n)
	}
}

// leftLocked returns where p.left keeps the index of session id, or -1,
// with p.mu held.
func (p *phone) leftLocked(id ID) int {
	return slices.IndexFunc(p.left, func(k sessionIndex) bool { return k.id == id })
}

// retryRateLimited runs fn, and again after the pause of rateLimitPause
// while it fails with ErrRateLimited, up to RateLimitTries times in all.
func (p *phone) retryRateLimited(ctx context.Context, fn func() error) error {
	for try := 1; ; try++ {
		err := fn()
		if try >= RateLimitTries || !errors.Is(err, ErrRateLimited) {
			return err
		}
		if err := ctxsleep.Sleep(ctx, p.opts.rateLimitPause(err)); err != nil {
			return err
		}
	}
}

// rateLimitPause is how long to wait before sending again a call refused
// with err (ErrRateLimited): its retry time, at most MaxRateLimitPause,
// or RateLimitPause when it gives none.
func (o *PhoneOptions) rateLimitPause(err error) time.Duration {
	if rl, ok := errors.AsType[*RateLimitedError](err); ok && rl.RetryAfter > 0 {
		return min(rl.RetryAfter, o.MaxRateLimitPause)
	}
	return o.RateLimitPause
}

// checkSession checks a session view against this phone's card, the EIDs
// of the pair and r, what the platform named the peer's EID, its merchant
// ID for the form that the records carry, its ID against the one that the
// two EIDs derive (SessionID), which the seller card signs in its payment
// requests, and its card IDs as checkCardIDs does, own and peer being the
// EIDs that the pairing proof named.
func (p *phone) checkSession(ctx context.Context, s *SessionView, own, peer adv.EID, r *ResolveResponse) error {
	id, err := p.CardID()
	if err != nil {
		return err
	}
	mine := s.ShopperCardID
	if p.role == adv.Seller {
		mine = s.SellerCardID
	}
	if mine != id {
		return fmt.Errorf("%w: the session is not this card's", ErrMismatch)
	}
	if s.PairingCode != adv.PairingCode(own, peer) {
		return fmt.Errorf("%w: the pairing code is not the one of the two EIDs", ErrMismatch)
	}
	// The cards sign the merchant ID in records.
	if err := record.CheckText("merchant ID", s.MerchantID); err != nil {
		return fmt.Errorf("%w: the session: %v", ErrMismatch, err)
	}
	shopperEID, sellerEID := own, peer
	if p.role == adv.Seller {
		shopperEID, sellerEID = peer, own
	}
	if s.ID != SessionID(shopperEID[:], sellerEID[:]) {
		return fmt.Errorf("%w: the session's ID is not the one of the two EIDs", ErrMismatch)
	}
	if err := p.checkCardIDs(s); err != nil {
		return err
	}
	if p.role == adv.Shopper {
		if s.MerchantID != r.MerchantID || s.MerchantName != r.DisplayName {
			p.forget(peer)
			return fmt.Errorf("%w: the session is with merchant %q (%s), not %q (%s) as picked", ErrMismatch, s.MerchantName, s.MerchantID, r.DisplayName, r.MerchantID)
		}
		return nil
	}
	if s.ShopperName != r.DisplayName {
		p.forget(peer)
		return fmt.Errorf("%w: the session is with shopper %q, not %q as picked", ErrMismatch, s.ShopperName, r.DisplayName)
	}
	l, err := p.loginState(ctx)
	if err != nil {
		return err
	}
	if s.MerchantID != l.MerchantID {
		return fmt.Errorf("%w: the session is of merchant %s, not this card's", ErrMismatch, s.MerchantID)
	}
	return nil
}

// checkCardIDs checks the card IDs that a session view shows. The
// platform shows a card the other card's ID only once both have confirmed
// the session (PROTOCOL.md §6.1): a paired view must show it, a waiting
// one does not. A shopper card ID shown must be of the form that the
// records carry (the cards sign it).
func (p *phone) checkCardIDs(s *SessionView) error {
	peerID := s.SellerCardID
	if p.role == adv.Seller {
		peerID = s.ShopperCardID
	}
	if s.ShopperCardID != "" {
		if err := record.CheckCardID("shopper card ID", s.ShopperCardID); err != nil {
			return fmt.Errorf("%w: the session: %v", ErrMismatch, err)
		}
	}
	if peerID == "" && s.State == SessionPaired {
		return fmt.Errorf("%w: the paired session shows no card ID of the peer", ErrMismatch)
	}
	return nil
}

// forget drops what the platform said of eid, so that it is asked again,
// and keeps in its place when it forgot it, so that an answer to a
// resolution of eid sent before (by a call still waiting for it) is not
// kept when it arrives. It takes the mark's sequence number and keeps the
// mark under one hold of mu, so that no answer to a resolution sent after
// it is kept in between and then replaced by the older mark.
func (p *phone) forget(eid adv.EID) {
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.names[eid] = peerName{asked: now, seq: p.nextSeqLocked(), forgotten: true}
}

// sameSession reports whether view b shows the session that view a
// showed: its ID, pairing code and parties, which never change; b may show
// a card ID that a left empty (the peer's, which a waiting view does not
// show).
func sameSession(a, b *SessionView) bool {
	return a.ID == b.ID && a.PairingCode == b.PairingCode &&
		sameOrShown(a.ShopperCardID, b.ShopperCardID) && sameOrShown(a.SellerCardID, b.SellerCardID) &&
		a.MerchantID == b.MerchantID && a.ShopperName == b.ShopperName && a.MerchantName == b.MerchantName
}

// sameOrShown reports whether b is a, or a is empty.
func sameOrShown(a, b string) bool { return a == "" || a == b }

func (p *phone) confirmation(s *SessionView) *Confirmation {
	name := s.MerchantName
	if p.role == adv.Seller {
		name = s.ShopperName
	}
	return &Confirmation{SessionID: s.ID, Name: name, PairingCode: s.PairingCode, Paired: s.State == SessionPaired, ExpiresAt: s.ExpiresAt}
}

// currentSession returns the session selected last, if any.
func (p *phone) currentSession() *SessionView {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.session
}

// cloneView returns a copy of v that shares no memory with it: its byte
// strings (the signed request, its hash, the consent nonce, the receipt),
// lines and legs are copied; nil for a nil v. A phone keeps the views it
// checked and hands out such copies, so that an app that writes into a
// view it got leaves the one kept as the phone checked it.
func cloneView(v *PaymentView) *PaymentView {
	if v == nil {
		return nil
	}
	c := *v
	c.Lines, c.Legs = slices.Clone(v.Lines), slices.Clone(v.Legs)
	c.Request, c.RequestHash = bytes.Clone(v.Request), bytes.Clone(v.RequestHash)
	c.ConsentNonce, c.Receipt = bytes.Clone(v.ConsentNonce), bytes.Clone(v.Receipt)
	return &c
}

// currentPayment returns the payment request on screen (for a seller, the
// one made last), as kept, or ErrNoPayment.
func (p *phone) currentPayment() (*PaymentView, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.payment == nil {
		return nil, ErrNoPayment
	}
	return p.payment, nil
}

// finish takes the request of v off the screen and, when it is the
// session's request at the next index, moves on to the next request of the
// session: a shopper's, for a seller's Request has moved past the index of
// the request it shows already (moveOnLocked). The request on screen is
// that of v when it has v's ID and request hash: another request under
// that ID (a seller card may sign more than one), put on screen since,
// stays there.
func (p *phone) finish(v *PaymentView) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishLocked(v)
}

// finishLocked is finish with p.mu held.
func (p *phone) finishLocked(v *PaymentView) {
	if p.payment != nil && p.payment.ID == v.ID && bytes.Equal(p.payment.RequestHash, v.RequestHash) {
		p.payment = nil
		if p.session != nil && v.ID == SessionRequestID(p.session.ID, p.next) {
			p.next++
		}
	}
}

// WaitPaired waits until the other phone has selected this one, and
// returns the confirmation. It fails with ErrNotPaired when no peer was
// selected or another was selected (Select), or the session left
// (Leave), meanwhile, ErrExpired when the session expires first by the
// phone's clock, ErrMismatch when the platform shows the session with
// another pairing code or other parties (cards, merchant, names) or under
// another ID than Select did, or shows it paired without the peer's card
// ID (checkCardIDs), with the platform's refusal of its read of the
// session (ErrNotFound when the platform holds it no more, expired and
// deleted there, or shows it this card no more, the peer's card revoked),
// and the context's error when it ends.
func (p *phone) WaitPaired(ctx context.Context) (*Confirmation, error) {
	s := p.currentSession()
	if s == nil {
		return nil, ErrNotPaired
	}
	for s.State != SessionPaired {
		p.mu.Lock()
		current := p.selected(s)
		p.mu.Unlock()
		if !current {
			return nil, errReselected
		}
		if sessionLapsed(s, p.opts.Now()) {
			return nil, fmt.Errorf("%w: session", ErrExpired)
		}
		if err := p.sleep(ctx); err != nil {
			return nil, err
		}
		id := s.ID
		next, err := authed(ctx, p, func(token string) (*SessionView, error) { return p.api.Session(ctx, token, id) })
		if err != nil {
			return nil, err
		}
		// The ID (of the two EIDs, checked by Select) and the parties of
		// a session are fixed; the peer's card ID shows once it is
		// paired.
		if !sameSession(s, next) {
			return nil, fmt.Errorf("%w: the session changed", ErrMismatch)
		}
		if err := p.checkCardIDs(next); err != nil {
			return nil, err
		}
		s = next
	}
	p.mu.Lock()
	current := p.selected(s)
	if current {
		p.session = s
	}
	p.mu.Unlock()
	if !current {
		return nil, errReselected
	}
	return p.confirmation(s), nil
}

// errReselected ends a call in a session when another was selected, or
// the session left (Leave).
var errReselected = fmt.Errorf("%w: the session was left, or another selected, meanwhile", ErrNotPaired)

// selected reports whether s is the session selected last; p.mu is held.
func (p *phone) selected(s *SessionView) bool {
	return p.session != nil && p.session.ID == s.ID
}

// Leave is the app's "done" with the peer of the session selected, once
// the payment ends (its receipt shown, or declined, cancelled or
// expired): the phone leaves that session, as it does when another is
// selected, and is then as before any Select. It no longer advertises
// busy (Advert, AdvertAt), the queue no longer shows that peer selected
// (but the peer of a Select under way), and the payment request on
// screen, final, goes off it (ErrNoPayment); the calls that need a
// paired session (WaitPaired, Request, WaitPayment) fail with
// ErrNotPaired. A call that waits in the session left (WaitPaired,
// WaitPayment) fails with ErrNotPaired once it sees the session left,
// after the read it is making, and a seller's Request whose answer comes
// after it withdraws its request and fails so, as when another session
// is selected meanwhile; unless the same session was selected again by
// then, where it goes on. A Select under way goes on, and selects its
// session when it is answered.
//
// Leave is the phone's alone: it sends nothing, as the platform's
// session ends on its own (SessionView.ExpiresAt), and selecting the
// same peer again in the same EID epoch lands in the same session (its
// ID derives from the two EIDs), where a seller goes on at the
// session's next request index, kept as for any session left (Seller's
// Select), so that no request ID is used twice.
//
// While the payment request on screen is not final, pending or held as
// the phone last saw it (Status and Wait on a Seller, WaitPayment,
// ApproveShown and DeclineShown on a Shopper), Leave fails with
// ErrPaymentUnderWay and changes nothing, so that no payment that the
// peer may still make goes unseen: the app finishes it first (a seller
// has it captured, cancels it or waits for its end; a shopper approves
// or declines it, which shows a request that ended meanwhile so, as
// does a WaitPayment that reads it ended). Leave
// with no session selected takes a final request off the screen, as
// above, and is no error: done twice is done. A seller's requests kept
// without an answer to be withdrawn (Request) stay kept, and the next
// Select or Cancel withdraws them, as before, or the next Request once a
// session is selected (one without a session fails with ErrNotPaired,
// sending nothing); the held requests that it keeps (Held) stay
// capturable (CaptureHeld), and a shopper's consents kept stay kept
// (WaitPayment shows a receipt to collect in the next session paired).
func (p *phone) Leave() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := p.payment; v != nil && payable(v.State) {
		return fmt.Errorf("%w: payment %s", ErrPaymentUnderWay, v.State)
	}
	p.payment = nil
	if p.session == nil {
		return nil
	}
	if p.role == adv.Seller {
		// The index of the session left is kept as a Select of
		// another would keep it (keepIndexLocked), which keeps
		// keptRequestIndexes-1 besides the one selected.
		p.left = append(p.left, sessionIndex{p.session.ID, p.sessionEpoch, p.next})
	}
	// The session's index, epoch and choice go unused until a Select.
	p.session = nil
	p.showChoiceLocked()
	return nil
}

// pairedSession returns the session if both cards confirmed it.
func (p *phone) pairedSession() (*SessionView, error) {
	s := p.currentSession()
	if s == nil || s.State != SessionPaired {
		return nil, ErrNotPaired
	}
	return s, nil
}

// sleep waits one poll interval or until ctx ends.
func (p *phone) sleep(ctx context.Context) error { return ctxsleep.Sleep(ctx, p.opts.PollInterval) }

// ctxLock is a mutex that a call waits for only as long as its context
// lasts: a channel of one slot, which holds a token while the lock is
// held. Make it with newCtxLock; a nil ctxLock is never free.
type ctxLock chan struct{}

func newCtxLock() ctxLock { return make(ctxLock, 1) }

// lock takes l, or fails with ctx's error, l not taken, once ctx ended.
// A ctx that has ended fails even when l is free, so that a call whose
// context ended goes no further.
func (l ctxLock) lock(ctx context.Context) error {
	select {
	case l <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	// The select takes either case when both are ready.
	if err := context.Cause(ctx); err != nil {
		<-l
		return err
	}
	return nil
}

// unlock lets l go; it must be held.
func (l ctxLock) unlock() { <-l }

// verifyReceipt verifies a receipt's signature with the platform key that
// signed it: with the pinned key, that key; otherwise the key of the
// certificate chain that the receipt carries (x5chain, PROTOCOL.md §3.6),
// which the Verifier verifies as it verifies the chain of Info, or for a
// receipt that carries none (signed by a platform that put none in), the
// key of the chain from Info. The Verifier checks a chain again for every
// receipt (it caches the work) so that a platform certificate that
// expires or is revoked stops being trusted. A receipt without a chain
// that the kept chain of Info does not verify has the phone ask Info once
// more, as the platform may have renewed its certificate or its key. A
// chain carried that does not verify, or whose key did not sign the
// receipt, is ErrSignature.
func (p *phone) verifyReceipt(ctx context.Context, msg []byte) (*Receipt, error) {
	vr, err := p.verifyReceiptKnown(ctx, msg, nil)
	if err != nil {
		return nil, err
	}
	return vr.rc, nil
}

// verifiedReceipt is a receipt whose signature the phone verified: its
// bytes, as verified, the platform key that verified them and the chain
// that they carry (nil for none), so that the same bytes met again are
// not decoded again. The phone holds msg alone (rc.Signed is msg, chain
// slices of it) and keeps vr as it verified it: what it hands out is a
// copy of rc (receipt).
type verifiedReceipt struct {
	rc    *Receipt
	msg   []byte
	key   *ecdsa.PublicKey
	chain [][]byte
}

// same returns vr when msg is the receipt that vr verified, byte for
// byte; nil otherwise, and for a nil vr.
func (vr *verifiedReceipt) same(msg []byte) *verifiedReceipt {
	if vr == nil || !bytes.Equal(vr.msg, msg) {
		return nil
	}
	return vr
}

// of returns vr when msg is the receipt that vr verified, with key; nil
// otherwise, and for a nil vr.
func (vr *verifiedReceipt) of(msg []byte, key *ecdsa.PublicKey) *verifiedReceipt {
	if vr = vr.same(msg); vr == nil || !vr.key.Equal(key) {
		return nil
	}
	return vr
}

// receipt returns a copy of the receipt of vr that shares no memory with
// it: a caller that writes into its byte strings, transfer IDs, lines or
// legs leaves vr as verified.
func (vr *verifiedReceipt) receipt() *Receipt {
	rc := *vr.rc
	rc.Signed = bytes.Clone(rc.Signed)
	rc.RequestID, rc.RequestHash = bytes.Clone(rc.RequestID), bytes.Clone(rc.RequestHash)
	rc.ConsentHash = bytes.Clone(rc.ConsentHash)
	rc.RefundID, rc.RefundHash = bytes.Clone(rc.RefundID), bytes.Clone(rc.RefundHash)
	rc.TransferIDs = slices.Clone(rc.TransferIDs)
	for i, id := range rc.TransferIDs {
		rc.TransferIDs[i] = bytes.Clone(id)
	}
	rc.Lines, rc.Legs = slices.Clone(rc.Lines), slices.Clone(rc.Legs)
	return &rc
}

// verifyReceiptKnown is verifyReceipt given known, a receipt it verified
// before, or nil: a msg of the same bytes is not verified again when the
// key that verified known is the one the phone trusts now for msg, the
// pinned key, the key of the chain that msg carries, or the key of the
// chain from Info, each verified now by the Verifier, as for any receipt;
// nor decoded again, its chain the one known kept. It returns the receipt
// with that key: known itself when msg is not verified again, to be kept
// as it is (verifiedReceipt). A msg verified is decoded once.
func (p *phone) verifyReceiptKnown(ctx context.Context, msg []byte, known *verifiedReceipt) (*verifiedReceipt, error) {
	if len(msg) == 0 {
		return nil, fmt.Errorf("%w: no receipt", ErrSignature)
	}
	if p.opts.Verifier == nil {
		return p.verifyReceiptWith(msg, nil, p.opts.PlatformKey, known)
	}
	var (
		sr  *record.SignedReceipt
		vp  *pki.VerifiedPlatform
		err error
	)
	if kept := known.same(msg); kept != nil {
		// msg decodes as it did when known was verified: the chain that
		// the Verifier checks now is the one it carries.
		if kept.chain != nil {
			vp, err = p.opts.Verifier.VerifyPlatform(kept.chain)
		}
	} else {
		// The phone's own copy, of which the decoded receipt and its
		// chain are slices.
		msg = bytes.Clone(msg)
		p.countDecode()
		sr, vp, err = p.opts.Verifier.DecodeReceipt(msg)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: receipt: %w", ErrSignature, err)
	}
	if vp != nil {
		return p.verifyReceiptWith(msg, sr, vp.PublicKey, known)
	}
	var vr *verifiedReceipt
	err = p.withPlatform(ctx, func(vp *pki.VerifiedPlatform) error {
		var err error
		vr, err = p.verifyReceiptWith(msg, sr, vp.PublicKey, known)
		return err
	})
	if err != nil {
		return nil, err
	}
	return vr, nil
}

// verifyReceiptWith verifies msg, a receipt, with key, the key the phone
// trusts for it: known itself when known is msg verified with key. sr is
// msg decoded, or nil when it was not: a copy of msg is then decoded.
func (p *phone) verifyReceiptWith(msg []byte, sr *record.SignedReceipt, key *ecdsa.PublicKey, known *verifiedReceipt) (*verifiedReceipt, error) {
	if vr := known.of(msg, key); vr != nil {
		return vr, nil
	}
	p.countSignature()
	if sr == nil {
		msg = bytes.Clone(msg)
		p.countDecode()
		var err error
		if sr, err = record.DecodeReceipt(msg); err != nil {
			return nil, fmt.Errorf("%w: receipt: %w", ErrSignature, err)
		}
	}
	rc := &Receipt{Signed: msg}
	if err := sr.Verify(key, &rc.Receipt); err != nil {
		return nil, fmt.Errorf("%w: receipt: %w", ErrSignature, err)
	}
	return &verifiedReceipt{rc: rc, msg: msg, key: key, chain: sr.Chain()}, nil
}

// countDecode calls receiptDecoded, if set.
func (p *phone) countDecode() {
	if p.receiptDecoded != nil {
		p.receiptDecoded()
	}
}

// countSignature calls signatureChecked, if set.
func (p *phone) countSignature() {
	if p.signatureChecked != nil {
		p.signatureChecked()
	}
}

// trustPlatform checks, before the card signs a record that moves money,
// that the phone trusts the platform's certificate (as verifyReceipt
// will), so that money is not moved for a receipt the phone would refuse.
// It fails with ErrCard when the certificate expired or was revoked.
func (p *phone) trustPlatform(ctx context.Context) error {
	if p.opts.Verifier == nil { // the pinned key
		return nil
	}
	return p.withPlatform(ctx, func(*pki.VerifiedPlatform) error { return nil })
}

// withPlatform runs check with the platform's certificate chain verified:
// the chain kept, and when that does not verify or check fails with it,
// the chain Info gives now once more, which is then kept.
func (p *phone) withPlatform(ctx context.Context, check func(*pki.VerifiedPlatform) error) error {
	p.mu.Lock()
	chain := p.platform
	p.mu.Unlock()
	fresh := false
	for {
		if chain == nil {
			info, err := p.api.Info(ctx)
			if err != nil {
				return err
			}
			chain, fresh = info.Chain, true
			p.mu.Lock()
			p.platform = chain
			p.mu.Unlock()
		}
		vp, err := p.opts.Verifier.VerifyPlatform(chain)
		if err != nil {
			err = fmt.Errorf("%w: platform certificate: %w", ErrCard, err)
		} else if err = check(vp); err == nil {
			return nil
		}
		if fresh {
			return err
		}
		chain = nil
	}
}

// SessionRequestID is the ID of the n-th payment request (from 0) of a
// session. A seller phone names its requests so, and the shopper phone of
// the session finds them by it (PROTOCOL.md §5.6):
//
//	ID = SHA-256("CASIM-REQ" || session ID || n as uint32 big-endian)[0:16]
func SessionRequestID(session ID, n uint32) ID {
	h := sha256.New()
	h.Write([]byte("CASIM-REQ"))
	h.Write(session[:])
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	h.Write(b[:])
	var id ID
	copy(id[:], h.Sum(nil))
	return id
}

// callOn runs fn, logged in, on cur, a request on screen or kept, and
// returns the view fn got, checked to be of that request (sameRequest).
func (p *phone) callOn(ctx context.Context, cur *PaymentView, fn func(token string, cur *PaymentView) (*PaymentView, error)) (*PaymentView, error) {
	v, err := authed(ctx, p, func(token string) (*PaymentView, error) { return fn(token, cur) })
	if err == nil {
		err = sameRequest(cur, v)
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// reread returns the view of cur, a request on screen or kept, as the
// platform holds it now, checked to be of that request (sameRequest).
func (p *phone) reread(ctx context.Context, cur *PaymentView) (*PaymentView, error) {
	return p.callOn(ctx, cur, func(token string, cur *PaymentView) (*PaymentView, error) {
		return p.api.Payment(ctx, token, cur.ID)
	})
}

// sessionLapsed reports whether s has expired by now, the phone's clock.
// The platform's view never shows a session expiring before the platform
// expires it (over HTTP the expiry is rounded up to a whole second), so a
// phone gives up on a session only once the platform would refuse a
// pairing proof or a payment request in it, by the same clock.
func sessionLapsed(s *SessionView, now time.Time) bool {
	return !now.Before(s.ExpiresAt)
}

// knownState reports whether state is one that a request's view has
// (PROTOCOL.md §6.2).
func knownState(state string) bool {
	switch state {
	case StatePending, StateHeld, StateCaptured, StateDeclined, StateCancelled, StateExpired:
		return true
	}
	return false
}

// payable reports whether state is one of a request still payable:
// pending or held.
func payable(state string) bool {
	return state == StatePending || state == StateHeld
}

// holdLapsed reports whether v's hold has expired by now, the phone's
// clock. A view without a hold expiry (not held, or from a platform that
// sends none) has not. The platform's view never shows a hold expiring
// before the platform expires it (over HTTP the expiry is rounded up to
// a whole second), so a hold has lapsed here only once the platform
// would expire it, by the same clock.
func holdLapsed(v *PaymentView, now time.Time) bool {
	return !v.HoldExpiresAt.IsZero() && !now.Before(v.HoldExpiresAt)
}

// sameRequest checks that v, a view of the request on screen that the
// platform sent, is of that request: its signed request, byte for byte,
// its ID, request hash, parties, amount, currency, lines and legs. A
// network or platform that answers with another request (an earlier,
// captured one), or with a view that lacks the signed request or carries
// other bytes, is ErrMismatch: a phone checks that the request it puts on
// screen carries what the seller's card signed (checkRecorded,
// checkPaymentView), and every view taken as that request's then carries
// it too. A v of that request is given the merchant name of shown, which
// the card does not sign: a phone shows a request under the name that it
// showed it under first, which the shopper phone checked to be the
// session's (checkPaymentView), whatever name a later view carries (one
// that the merchant took since, or one that a network rewrote).
func sameRequest(shown, v *PaymentView) error {
	if !bytes.Equal(v.Request, shown.Request) || v.ID != shown.ID || !bytes.Equal(v.RequestHash, shown.RequestHash) ||
		v.Amount != shown.Amount || v.Currency != shown.Currency || v.MerchantID != shown.MerchantID ||
		v.PayerCardID != shown.PayerCardID || !slices.Equal(v.Lines, shown.Lines) || !slices.Equal(v.Legs, shown.Legs) {
		return fmt.Errorf("%w: the platform's view is of another request than the one on screen", ErrMismatch)
	}
	v.MerchantName = shown.MerchantName
	return nil
}

// checkCapturedAmount checks that v, a captured view of the request of
// shown, an earlier view of it, shows captured what a capture of it can
// have captured: the whole amount, or for a merchant that captures
// manually at most that (ErrMismatch). The receipt does not say how the
// merchant captures, and the views say it unsigned: a part is taken as
// captured only when both views say that the merchant captures manually,
// so that a view that claims it later does not make a payment captured
// automatically for part of its amount pass. Both phones check so.
func checkCapturedAmount(shown, v *PaymentView) error {
	manual := shown.ManualCapture && v.ManualCapture
	if v.Captured > shown.Amount || (!manual && v.Captured != shown.Amount) {
		return fmt.Errorf("%w: the platform shows %d of the payment of %d captured", ErrMismatch, v.Captured, shown.Amount)
	}
	return nil
}

// checkReceipt checks the fields of a payment or refund receipt that both
// phones know: its kind, the request ID and hash, parties and currency of
// v (checkReceiptFields), and for a payment receipt the lines and legs of
// the request that the seller's card signed, which v carries
// (checkReceiptLines).
func checkReceipt(rc *Receipt, kind record.ReceiptKind, v *PaymentView) error {
	if err := checkReceiptFields(rc, kind, v); err != nil || kind != record.ReceiptPayment {
		return err
	}
	r, err := openSigned(v)
	if err != nil {
		return err
	}
	return checkReceiptLines(rc, r)
}

// checkReceiptFields checks the kind of a receipt, and its request ID
// and hash, parties and currency against v's (ErrMismatch).
func checkReceiptFields(rc *Receipt, kind record.ReceiptKind, v *PaymentView) error {
	switch {
	case rc.Kind != kind:
		return fmt.Errorf("%w: receipt kind %d", ErrMismatch, rc.Kind)
	case !bytes.Equal(rc.RequestID, v.ID[:]):
		return fmt.Errorf("%w: receipt of another request", ErrMismatch)
	case !bytes.Equal(rc.RequestHash, v.RequestHash):
		return fmt.Errorf("%w: receipt of another request hash", ErrMismatch)
	case rc.MerchantID != v.MerchantID || rc.Currency != v.Currency || rc.PayerCardID != v.PayerCardID:
		return fmt.Errorf("%w: receipt parties or currency", ErrMismatch)
	}
	return nil
}

// openSigned opens the signed request that v carries (ErrMismatch when
// it does not open).
func openSigned(v *PaymentView) (*record.PaymentRequest, error) {
	var r record.PaymentRequest
	if err := record.Open(v.Request, &r); err != nil {
		return nil, fmt.Errorf("%w: the signed request: %w", ErrMismatch, err)
	}
	return &r, nil
}

// checkReceiptLines checks that a payment receipt has the lines and legs
// of r, the request that the seller's card signed (showsSignedLines: the
// names of the lines, which the card does not sign, are not compared;
// ErrMismatch), and one ledger transfer ID for each leg that the
// platform posts for r (legCount; ErrMismatch otherwise).
func checkReceiptLines(rc *Receipt, r *record.PaymentRequest) error {
	if n := legCount(r.Amount, len(r.Legs)); len(rc.TransferIDs) != n {
		return fmt.Errorf("%w: the receipt carries %d ledger transfer IDs, not the %d of the seller's signed request", ErrMismatch, len(rc.TransferIDs), n)
	}
	lines := make([]Line, len(rc.Lines))
	for i, l := range rc.Lines {
		// The amount is the product modulo 2^64: showsSignedLines refuses
		// a product that does not fit.
		lines[i] = Line{SKU: l.SKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Amount: l.UnitPrice * l.Quantity}
	}
	if !showsSignedLines(r, lines, assetLegs(rc.Legs)) {
		return fmt.Errorf("%w: the receipt's lines or legs differ from the seller's signed request", ErrMismatch)
	}
	return nil
}

// checkLineNames checks that the names of lines, which the card does not
// sign, are of the form that a payment receipt carries (record.CheckName:
// no control or bidirectional formatting characters, which could make a
// screen show a line otherwise than the platform holds it, no invisible
// ones, which could make two names look the same, at most record.MaxText
// bytes), as the platform sets no other in a catalog (ErrMismatch
// otherwise).
func checkLineNames(lines []Line) error {
	for i, l := range lines {
		if err := record.CheckName("item name", l.Name); err != nil {
			return fmt.Errorf("%w: line %d: %v", ErrMismatch, i+1, err)
		}
	}
	return nil
}

// showsSignedLines reports whether lines and legs are those of r, a
// request that a seller's card signed: a line for each of its items, in
// order, of its SKU and quantity, priced so that each line's amount is its
// unit price times its quantity and, when r has items, the amounts add up
// to r's amount; and r's legs, in order. Products and the sum are checked
// for overflow: prices and amounts that wrap around 2^64 would otherwise
// show any numbers that add up to the signed amount.
func showsSignedLines(r *record.PaymentRequest, lines []Line, legs []AssetLeg) bool {
	if len(r.Items) != len(lines) || len(r.Legs) != len(legs) {
		return false
	}
	bad := false
	var total, carry uint64
	for i, it := range r.Items {
		l := lines[i]
		hi, amount := bits.Mul64(l.UnitPrice, l.Quantity)
		var c uint64
		total, c = bits.Add64(total, l.Amount, 0)
		carry |= c
		bad = bad || it.SKU != l.SKU || it.Quantity != l.Quantity || hi != 0 || l.Amount != amount
	}
	bad = bad || carry != 0 || (len(r.Items) > 0 && total != r.Amount)
	for i, l := range r.Legs {
		bad = bad || l.Asset != legs[i].Asset || l.Amount != legs[i].Amount
	}
	return !bad
}

// answeredAPI is the API of a phone: each call of api that returns
// neither a reply nor an error fails with ErrInternal (answered), as the
// handler answers such a call over HTTP, so that the phone takes it as no
// answer of the platform rather than dereferencing a nil reply.
type answeredAPI struct{ api API }

// answered returns v and err, or ErrInternal, naming call, when v is nil
// and err is nil.
func answered[T any](call string, v *T, err error) (*T, error) {
	if v == nil && err == nil {
		return nil, fmt.Errorf("%w: the platform's %s gave neither a reply nor an error", ErrInternal, call)
	}
	return v, err
}

func (a answeredAPI) Challenge(ctx context.Context, req *ChallengeRequest) (*ChallengeResponse, error) {
	v, err := a.api.Challenge(ctx, req)
	return answered("challenge", v, err)
}

func (a answeredAPI) Login(ctx context.Context, req *LoginRequest) (*LoginResponse, error) {
	v, err := a.api.Login(ctx, req)
	return answered("login", v, err)
}

func (a answeredAPI) Resolve(ctx context.Context, token string, req *ResolveRequest) (*ResolveResponse, error) {
	v, err := a.api.Resolve(ctx, token, req)
	return answered("resolution", v, err)
}

func (a answeredAPI) Pair(ctx context.Context, req *PairRequest) (*SessionView, error) {
	v, err := a.api.Pair(ctx, req)
	return answered("pairing", v, err)
}

func (a answeredAPI) Session(ctx context.Context, token string, id ID) (*SessionView, error) {
	v, err := a.api.Session(ctx, token, id)
	return answered("session read", v, err)
}

func (a answeredAPI) Catalog(ctx context.Context, token string, merchantID string) (*Catalog, error) {
	v, err := a.api.Catalog(ctx, token, merchantID)
	return answered("catalog read", v, err)
}

func (a answeredAPI) CreateRequest(ctx context.Context, req *CreateRequest) (*PaymentView, error) {
	v, err := a.api.CreateRequest(ctx, req)
	return answered("payment request", v, err)
}

func (a answeredAPI) Payment(ctx context.Context, token string, id ID) (*PaymentView, error) {
	v, err := a.api.Payment(ctx, token, id)
	return answered("payment read", v, err)
}

func (a answeredAPI) Approve(ctx context.Context, req *ApproveRequest) (*PaymentView, error) {
	v, err := a.api.Approve(ctx, req)
	return answered("consent", v, err)
}

func (a answeredAPI) Decline(ctx context.Context, token string, id ID) (*PaymentView, error) {
	v, err := a.api.Decline(ctx, token, id)
	return answered("decline", v, err)
}

func (a answeredAPI) Cancel(ctx context.Context, token string, id ID) (*PaymentView, error) {
	v, err := a.api.Cancel(ctx, token, id)
	return answered("cancellation", v, err)
}

func (a answeredAPI) Capture(ctx context.Context, token string, req *CaptureRequest) (*PaymentView, error) {
	v, err := a.api.Capture(ctx, token, req)
	return answered("capture", v, err)
}

func (a answeredAPI) Refund(ctx context.Context, req *RefundRequest) (*RefundView, error) {
	v, err := a.api.Refund(ctx, req)
	return answered("refund", v, err)
}

func (a answeredAPI) Info(ctx context.Context) (*Info, error) {
	v, err := a.api.Info(ctx)
	return answered("info", v, err)
}
