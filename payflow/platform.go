package payflow

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/internal/ecdsakey"
	"github.com/casimpay/casimpay/internal/nilptr"
	"github.com/casimpay/casimpay/ledger"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// Defaults of PlatformOptions.
const (
	DefaultRequestTTL    = 120 * time.Second
	DefaultMaxRequestTTL = 15 * time.Minute
	DefaultSessionTTL    = 10 * time.Minute
	DefaultTokenTTL      = time.Hour
	DefaultHoldTTL       = 7 * 24 * time.Hour
	DefaultRecoverAfter  = 30 * time.Second
	DefaultResolveRate   = 5 // per second and card
	DefaultResolveBurst  = 20
	DefaultCatalogRate   = 1 // per second and card
	DefaultCatalogBurst  = 10
	DefaultLoginRate     = 0.1 // per second and card: one every 10 s
	DefaultLoginBurst    = 10
	DefaultCacheTTL      = 5 * time.Second
)

// CardReloadInterval is the least time between two reloads of the cards
// that the unresolved EIDs of one card start in a platform process (those
// it asks through Resolve, and the peer's EID of its Pair), counted from
// the start of the last such reload that ended without being cut short
// (see Platform.Reload), besides the second between any two: within it,
// such an EID of the card is answered ErrNotFound at once, as an EID that
// no card has, unless a reload of the cards is under way, which it waits
// for, or has ended since it was looked up. It is UnknownPeerTTL, the
// time for which a phone keeps such an answer before it asks again for
// that advert, so that one card's EIDs reload the cards no more than once
// every 30 s however many of them it asks within its budget.
const CardReloadInterval = UnknownPeerTTL

// Bounds of the lifetimes of PlatformOptions.
const (
	// MaxHoldTTL, (1<<32-1) s or about 136 years, is the longest HoldTTL:
	// the ledger's longest timeout, which times the hold. Above it the
	// ledger would release the funds before the platform's hold expiry.
	// A hold's expiry is then within the range of time.Time.UnixNano
	// (until 2262), in which stores keep times, for a clock before 2126.
	MaxHoldTTL = (1<<32 - 1) * time.Second
	// MaxLifetime, 50 years of 365 days, is the longest RequestTTL,
	// MaxRequestTTL, ChallengeTTL, SessionTTL, TokenTTL, RecoverAfter
	// and CacheTTL. A stored expiry is at most now plus two of them (a
	// payment's consent nonce expires ChallengeTTL after the request), so
	// it is within the range of time.Time.UnixNano for a clock before
	// 2162; the oldest time that RecoverSweep looks up, now less
	// RecoverAfter, is within it for a clock after 1728.
	MaxLifetime = 50 * 365 * 24 * time.Hour
)

// PlatformOptions configure NewPlatform. Ledger, Store, Verifier, Key and
// Chain are required; every other zero field takes its default. A negative
// duration (but CacheTTL), rate (ResolveRate, CatalogRate, LoginRate) or
// burst (ResolveBurst, CatalogBurst, LoginBurst), a rate that is NaN or
// infinite, a HoldTTL above MaxHoldTTL, a RequestTTL,
// MaxRequestTTL, ChallengeTTL, SessionTTL, TokenTTL, RecoverAfter or
// CacheTTL above MaxLifetime, or a RequestTTL above MaxRequestTTL (its
// default when zero), is refused with ErrInvalid.
type PlatformOptions struct {
	// Ledger holds the money and the assets; its store should live in the
	// same database as Store.
	Ledger *ledger.Ledger
	// Store holds the platform's state.
	Store Store
	// Verifier verifies the chains of cards, with fresh CRLs, and, in
	// NewPlatform, Chain as the phones verify it.
	Verifier *pki.Verifier
	// Key signs receipts (ECDSA P-256: ES256); Chain is its certificate
	// chain (DER, platform certificate first, root excluded) issued with
	// pki's platform profile, which the phones verify (see NewPlatform).
	// Every receipt carries Chain (x5chain, PROTOCOL.md §3.6), so that the
	// phones verify a receipt with the certificate of the key that signed
	// it after the platform changed Key and Chain.
	Key   crypto.Signer
	Chain [][]byte

	// Now is the clock (default time.Now); Rand the source of nonces,
	// tokens, signatures, the IDs of a capture's probe of its holds and
	// the nonce key that NewPlatform offers the store, which keeps it when
	// it holds none yet (Store.NonceKey) (default crypto/rand.Reader, also
	// in place of a nil pointer).
	Now  func() time.Time
	Rand io.Reader

	// RequestTTL is the lifetime of a payment request that asks for none
	// (default 120 s, or MaxRequestTTL if shorter); MaxRequestTTL caps
	// what a request may ask (15 min). RequestTTL is at most
	// MaxRequestTTL; both are at most MaxLifetime, as are ChallengeTTL,
	// SessionTTL and TokenTTL.
	RequestTTL    time.Duration
	MaxRequestTTL time.Duration
	// ChallengeTTL is how long a challenge nonce is usable (default
	// pki.DefaultNonceTTL).
	ChallengeTTL time.Duration
	// SessionTTL is the lifetime of a session (default 10 min), TokenTTL
	// that of a login token (default 1 h).
	SessionTTL time.Duration
	TokenTTL   time.Duration
	// HoldTTL is how long funds stay held for a manual capture before the
	// hold is voided (default 7 days; at most MaxHoldTTL).
	HoldTTL time.Duration
	// RecoverAfter is how long a settlement may stay half done before
	// RecoverSweep completes it (default 30 s; at most MaxLifetime).
	RecoverAfter time.Duration
	// ResolveRate and ResolveBurst bound EID resolutions per card (over
	// all its login tokens) and platform process: a token bucket of
	// ResolveBurst refilled at ResolveRate per second (defaults 5 and 20).
	// The process keeps a card's bucket while it is in debt (at most
	// ResolveBurst/ResolveRate seconds after its last resolution), and
	// each resolution drops two at most of the refilled ones, those
	// untouched longest first: it holds the buckets of the cards that
	// resolved within that time and, after a burst of cards, refilled
	// ones fewer by at least one with each card new to it, whatever
	// their number; it neither refuses nor forgets a card for the number
	// of others.
	ResolveRate  float64
	ResolveBurst int
	// CatalogRate and CatalogBurst bound catalog reads (Catalog) per card
	// and platform process, as ResolveRate and ResolveBurst bound EID
	// resolutions, with a bucket of the card's own (defaults 1 and 10):
	// a seller phone reads its catalog once, and again after a charge it
	// could not price, while a card that reads a store as fast as it can
	// send is refused ErrRateLimited with the time of its next read.
	CatalogRate  float64
	CatalogBurst int
	// LoginRate and LoginBurst bound logins (Login) per card and platform
	// process in the same way, with a bucket of the card's own (defaults
	// one every 10 s and 10), which a phone, logging in once an hour
	// (TokenTTL), never meets, while each login stores a token for
	// TokenTTL. A login draws on it once its proof's card and signature
	// are verified, so that no forged proof spends a card's budget, and
	// before it writes anything: one refused ErrRateLimited spends neither
	// its nonce nor its counter, and one that fails for the platform (a
	// store error) or whose proof a copy spent first gives its draw back.
	LoginRate  float64
	LoginBurst int
	// CacheTTL is how long a platform process keeps enrolled cards and
	// merchants in memory (default 5 s; negative: not at all; at most
	// MaxLifetime), and the card IDs that the store did not hold as long
	// (so that the records of a card ID that is not enrolled read the
	// store no more often than an enrolled card's). Changes made through
	// another process show here within CacheTTL (a card enrolled there
	// at once after a Reload); revocation never waits for it (chains are
	// verified on every record). The cache holds at most 100 000 cards,
	// as many absent card IDs and as many merchants: one read while
	// 100 000 of its kind are kept drops first, from the one kept
	// earliest on, those of its kind expired by then, or else the one
	// kept earliest, and keeps the others (an entry kept later that
	// expires earlier, its read of the store begun first, stays until
	// those kept before it are dropped). CacheTTL does not apply to the
	// IDs of the ledger accounts found to be the platform's own (at most
	// 100 000 of them, see Platform), which a negative CacheTTL leaves
	// kept: the ledger changes no field of an account but its balances
	// and its closed flag, and deletes none, so no other client of the
	// ledger can make such an account another's; one that it closed is
	// refused by the ledger at the hold (insufficient_funds), as it is
	// after a look-up.
	CacheTTL time.Duration
	// Logger receives the platform's warnings (default slog.Default(),
	// as it is when each is logged): NewPlatform's about stored cards it
	// could not load into the EID resolver, and one for each record
	// refused card_counter_regression (ErrClone), with the card ID
	// ("card"), the record's kind ("record": auth-proof, payment-request,
	// consent or refund-request), the counter the platform held for the
	// card ("held") and the one the record carried ("given"), and, for a
	// call with a request ID (RequestID: one that the handler of
	// NewHandler serves, or a context of WithRequestID), that ID
	// ("request_id"); for a counter above 2^63-1, which no card reaches
	// and no store holds, held is 2^63-1, as the store's
	// *pki.CounterError gives it. It logs nothing secret. Such a refusal
	// is either a resend of a record whose counter was spent already (a
	// copy that lost the race to another copy sent at the same moment
	// included) or a cloned card, as PROTOCOL.md §4.6 describes.
	Logger *slog.Logger
}

// MaxConflictRetries is how many times, in all, one loop of a Platform
// call reads a payment request or refund again and writes it again
// after its compare-and-set was lost (the store's ErrConflict: another
// process wrote the record first). Each lost compare-and-set is a write of
// the same record that another call committed between this call's read
// and its write: the settlement of a payment takes a handful of writes
// (approving, held, capturing, captured; voiding, cancelled or expired),
// a pairing's mark one, a recovery sweep's deferral one, and each refund
// of a captured payment one or two (its reservation, and its release when
// it fails), so that honest contention, from however many platform
// processes, makes a call lose a few times, and a hundred refunds of one
// payment sent at the same moment at most 99 times. One more loss after
// MaxConflictRetries tells a store whose conflict does not resolve (a
// faulty one): the call fails with ErrContended.
const MaxConflictRetries = 100

// ErrContended is the error of a Platform call one of whose loops lost the
// compare-and-set of a payment request or refund MaxConflictRetries + 1
// times. It matches ErrUnavailable, not ErrConflict, so that the HTTP API
// answers 503 unavailable and the client sends the request again later;
// the call has written nothing but the steps it completed before (each
// leaves the record in a state from which a retry or RecoverSweep goes
// on).
var ErrContended = fmt.Errorf("%w: a payment request or refund changed again and again while being written", ErrUnavailable)

// conflictRetries counts the compare-and-sets of payment requests and
// refunds that one loop of a call lost, and bounds them
// (MaxConflictRetries). The zero value has counted none.
type conflictRetries int

// again answers lost, the store's ErrConflict of a compare-and-set that
// the loop lost: nil when the loop may read the record again and try
// again; ctx's error when ctx has ended, whether or not the store looks
// at it (a call whose caller has gone does not go round again, as a
// resolution that waits for a reload of the cards does not wait on); and
// ErrContended, with lost's text, when the loop has gone round again
// MaxConflictRetries times already.
func (n *conflictRetries) again(ctx context.Context, lost error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if *n >= MaxConflictRetries {
		return fmt.Errorf("%w (%d compare-and-sets lost, the last: %v)", ErrContended, *n+1, lost)
	}
	*n++
	return nil
}

// Platform is the cloud side of casimpay: enrolment, EID resolution,
// challenges, sessions, catalogs, payment requests, settlement in the
// ledger and receipts. It implements API in process.
//
// A Platform keeps no state of its own beyond caches (the EID resolver, the
// rate limiters, the cards and merchants read within CacheTTL, and the IDs
// of the ledger accounts found to be the platform's own, which the
// ledger never changes otherwise: at most 100 000 of them, about 4 MB,
// the first kept dropped first, so that a purchase whose accounts were
// seen before does not look them up again, and the tokens that it issued or
// read until they expire, which the store never changes either: at most 100
// 000 of them, the oldest dropped first, so that a phone's calls with one
// token read it from the store once per process): everything lives in its
// Store and Ledger, so several Platforms, in one process or several, may
// serve one database. Every transition of a payment request is a
// compare-and-set in the store and every ledger transfer has an ID derived
// from the request or refund, so concurrent and repeated calls settle each
// payment once. A call that loses a compare-and-set of a payment request or
// refund reads it again and goes on from what the other process wrote, at
// most MaxConflictRetries times in each of its loops (an approval's, and
// the read within it that settles an expiry, each count their own); one
// more loss fails it with ErrContended, and a call whose ctx has ended does
// not go round again but fails with ctx's error, whether or not the Store
// looks at ctx. Either way the call has written only the steps it
// completed, each of which leaves the record in a state from which the
// call sent again or RecoverSweep goes on. A Platform is safe for
// concurrent use.
type Platform struct {
	ledger   *ledger.Ledger
	store    Store
	verifier *pki.Verifier
	nonceKey *nonceMAC // authenticates challenge nonces, see platform_nonce.go
	key      crypto.Signer
	chain    [][]byte
	now      func() time.Time
	rand     io.Reader
	ttl      lifetimes
	log      *slog.Logger // nil: slog.Default() at the time of each record

	resolver     eidResolver
	enrolling    sync.Mutex // held over an enrolment's read of the card it stored and its update of resolver, or a merchant's of its cards' roles
	resolves     limiter    // EID resolutions, of Resolve and Pair
	catalogReads limiter    // reads of Catalog
	logins       limiter    // logins of Login
	cache        cache
	own          ownAccounts
	tokens       tokenCache

	mu          sync.Mutex                // guards lastReload, reloading, cardReloads and end's changes
	lastReload  time.Time                 // start of the reload that last ended without being cut short
	reloading   int                       // the reloads under way
	cardReloads map[string]time.Time      // card ID → start of the last reload its miss started, within CardReloadInterval
	end         atomic.Pointer[reloadEnd] // the end of the next reload to end; nil until needed
}

// reloadEnd is the end of a reload of the cards, started by Reload or by
// an EID that did not resolve: of the next reload to end after the
// previous end, whichever started first. The misses wait for it.
type reloadEnd struct {
	done chan struct{} // closed, with mu held, once err, cut and next are set
	err  error
	cut  bool       // ended by its caller's ctx: no reload for the misses
	next *reloadEnd // the end of the reload that ends after this one
}

// ended reports whether the reload of e has ended.
func (e *reloadEnd) ended() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

var _ API = (*Platform)(nil)

// lifetimes are the durations of PlatformOptions, defaults applied, that
// the platform reads after NewPlatform: the other options live in the
// fields of Platform, its limiter and its cache.
type lifetimes struct {
	request, maxRequest, challenge, session, token, hold, recoverAfter time.Duration
}

// check returns an error matching ErrInvalid for a negative lifetime
// (but CacheTTL's), burst or rate, a rate that is not a finite number, a
// HoldTTL above MaxHoldTTL, another lifetime above MaxLifetime, or a
// RequestTTL above MaxRequestTTL or, when that is zero, its default.
func (o *PlatformOptions) check() error {
	for _, d := range []struct {
		name     string
		v, limit time.Duration
	}{
		{"RequestTTL", o.RequestTTL, MaxLifetime}, {"MaxRequestTTL", o.MaxRequestTTL, MaxLifetime},
		{"ChallengeTTL", o.ChallengeTTL, MaxLifetime}, {"SessionTTL", o.SessionTTL, MaxLifetime},
		{"TokenTTL", o.TokenTTL, MaxLifetime}, {"HoldTTL", o.HoldTTL, MaxHoldTTL},
		{"RecoverAfter", o.RecoverAfter, MaxLifetime},
		{"CacheTTL", max(o.CacheTTL, 0), MaxLifetime}, // negative: no cache
	} {
		if d.v < 0 {
			return fmt.Errorf("%w: payflow: negative %s %v", ErrInvalid, d.name, d.v)
		}
		if d.v > d.limit {
			return fmt.Errorf("%w: payflow: %s %v above its longest, %v", ErrInvalid, d.name, d.v, d.limit)
		}
	}
	for _, l := range []struct {
		name  string
		rate  float64
		burst int
	}{
		{"Resolve", o.ResolveRate, o.ResolveBurst},
		{"Catalog", o.CatalogRate, o.CatalogBurst},
		{"Login", o.LoginRate, o.LoginBurst},
	} {
		if l.burst < 0 {
			return fmt.Errorf("%w: payflow: negative %sBurst %d", ErrInvalid, l.name, l.burst)
		}
		if !(l.rate >= 0) || math.IsInf(l.rate, 0) {
			return fmt.Errorf("%w: payflow: %sRate %v is not a finite number of at least 0", ErrInvalid, l.name, l.rate)
		}
	}
	if maxRequest := cmp.Or(o.MaxRequestTTL, DefaultMaxRequestTTL); o.RequestTTL > maxRequest {
		return fmt.Errorf("%w: payflow: RequestTTL %v above MaxRequestTTL, %v", ErrInvalid, o.RequestTTL, maxRequest)
	}
	return nil
}

// NewPlatform returns a Platform over opts, loading the enrolled cards into
// its EID resolver and the nonce key from the store (storing one at first
// use). It fails when a required option is missing (nil, or an interface
// holding a nil pointer), an option is out of range (ErrInvalid: see
// PlatformOptions), the key is not ECDSA P-256, is an *ecdsa.PrivateKey
// without its private scalar (which cannot sign), does not sign with the
// private key of its public key (an *ecdsa.PrivateKey whose scalar is not
// its point's; another crypto.Signer, such as an HSM's, signs a digest at
// start for its public key to verify, and its failure to sign is
// returned wrapped), Chain does not verify as
// the phones verify it before a card signs a consent and before they take
// a receipt (Verifier's VerifyPlatform: the receipt-signing extended key
// usage on the first certificate, each certificate signed by the next,
// the last by a root of Verifier, the intermediates in Chain, fresh CRLs
// of Verifier that revoke none of them), which is refused with the
// *pki.Error of VerifyPlatform, the key does not match the first
// certificate of Chain, Chain is too long to go in every receipt
// (record.CheckChain: more than record.MaxChain bytes), or Rand fails to
// give the nonce key it offers the store (read at every start, whether or
// not the store holds one already), or the store fails. Of several faults
// it reports the one named first here (of missing options, the first of
// Ledger, Store, Verifier, and Key and Chain). Stored cards that the
// resolver refuses do not keep it from starting: it loads the others and
// logs the *UnresolvableCardsError of Reload as a warning through
// opts.Logger.
func NewPlatform(opts PlatformOptions) (*Platform, error) {
	// An interface that holds a nil pointer is none: its methods panic.
	switch {
	case opts.Ledger == nil:
		return nil, errors.New("payflow: no ledger")
	case nilptr.Is(opts.Store):
		return nil, errors.New("payflow: no store")
	case opts.Verifier == nil:
		return nil, errors.New("payflow: no verifier")
	case nilptr.Is(opts.Key) || len(opts.Chain) == 0:
		return nil, errors.New("payflow: no receipt key and chain")
	}
	// Out-of-range options are refused before the key signs (an HSM's
	// signer signs a digest below) and the chain is verified.
	if err := opts.check(); err != nil {
		return nil, err
	}
	// Receipts are signed ES256 (PROTOCOL.md §3), which record.Sign
	// refuses with any other key: taken, such a key would fail every
	// receipt once the ledger had settled its payment.
	pub, ok := opts.Key.Public().(*ecdsa.PublicKey)
	if !ok || !record.IsP256(pub) {
		return nil, errors.New("payflow: receipt key is not ECDSA P-256")
	}
	if k, ok := opts.Key.(*ecdsa.PrivateKey); ok && ecdsakey.Scalarless(k) {
		return nil, errors.New("payflow: receipt key has no private scalar")
	}
	// A key whose private scalar is not that of its public key (or an
	// HSM's signer that signs with another key than the one it names)
	// would sign receipts that verify under no certificate of it.
	if held, err := ecdsakey.Holds(opts.Key, pub); err != nil {
		return nil, fmt.Errorf("payflow: checking the receipt key: %w", err)
	} else if !held {
		return nil, errors.New("payflow: receipt key does not sign with its public key's private key")
	}
	// The phones verify Chain (Info) so before a card signs a consent
	// and before they take a receipt (phone.withPlatform): started with a
	// chain they refuse, the platform would settle every payment and
	// every phone would refuse its receipts.
	vp, err := opts.Verifier.VerifyPlatform(opts.Chain)
	if err != nil {
		return nil, fmt.Errorf("payflow: receipt certificate chain: %w", err)
	}
	if !vp.PublicKey.Equal(pub) {
		return nil, errors.New("payflow: receipt key does not match its certificate")
	}
	// Every receipt carries Chain (x5chain), which must fit in it.
	if err := record.CheckChain(opts.Chain); err != nil {
		return nil, fmt.Errorf("payflow: receipt certificate chain: %w", err)
	}
	maxRequest := cmp.Or(opts.MaxRequestTTL, DefaultMaxRequestTTL)
	ttl := lifetimes{
		request:      cmp.Or(opts.RequestTTL, min(DefaultRequestTTL, maxRequest)),
		maxRequest:   maxRequest,
		challenge:    cmp.Or(opts.ChallengeTTL, pki.DefaultNonceTTL),
		session:      cmp.Or(opts.SessionTTL, DefaultSessionTTL),
		token:        cmp.Or(opts.TokenTTL, DefaultTokenTTL),
		hold:         cmp.Or(opts.HoldTTL, DefaultHoldTTL),
		recoverAfter: cmp.Or(opts.RecoverAfter, DefaultRecoverAfter),
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if nilptr.Is(opts.Rand) {
		opts.Rand = rand.Reader
	}
	p := &Platform{
		ledger:   opts.Ledger,
		store:    opts.Store,
		verifier: opts.Verifier,
		key:      opts.Key,
		chain:    cloneChain(opts.Chain),
		now:      opts.Now,
		rand:     opts.Rand,
		ttl:      ttl,
		log:      opts.Logger,
	}
	p.resolves.init(cmp.Or(opts.ResolveRate, DefaultResolveRate), cmp.Or(opts.ResolveBurst, DefaultResolveBurst), "EID resolutions")
	p.catalogReads.init(cmp.Or(opts.CatalogRate, DefaultCatalogRate), cmp.Or(opts.CatalogBurst, DefaultCatalogBurst), "catalog reads")
	p.logins.init(cmp.Or(opts.LoginRate, DefaultLoginRate), cmp.Or(opts.LoginBurst, DefaultLoginBurst), "logins")
	p.cache.init(opts.CacheTTL)
	if p.nonceKey, err = newNonceKey(context.Background(), opts.Store, opts.Rand); err != nil {
		return nil, err
	}
	if err := p.Reload(context.Background()); errors.Is(err, ErrUnresolvableCard) {
		p.logger().Warn("payflow: stored cards left out of the EID resolver", "error", err)
	} else if err != nil {
		return nil, err
	}
	return p, nil
}

// ErrUnresolvableCard is matched by the *UnresolvableCardsError of Reload.
var ErrUnresolvableCard = errors.New("payflow: stored card cannot resolve")

// UnresolvableCardsError is the error of a Reload that loaded every
// stored card into the EID resolver but those of CardIDs, whose
// advertising secret the resolver refuses (Errs says why, in the same
// order): rows that the stores no longer write, which an older database
// may hold. It matches ErrUnresolvableCard and each of Errs.
type UnresolvableCardsError struct {
	CardIDs []string // in card ID order
	Errs    []error
}

// Error names each card of CardIDs with its error of Errs ("no cause
// given" for one that Errs does not hold); a nil e, as its zero value,
// names none.
func (e *UnresolvableCardsError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUnresolvableCard.Error())
	if e == nil {
		return b.String()
	}
	for i, id := range e.CardIDs {
		var cause any = "no cause given"
		if i < len(e.Errs) && e.Errs[i] != nil {
			cause = e.Errs[i]
		}
		fmt.Fprintf(&b, "; card %q: %v", id, cause)
	}
	return b.String()
}

// Unwrap returns ErrUnresolvableCard and Errs (for a nil e,
// ErrUnresolvableCard alone).
func (e *UnresolvableCardsError) Unwrap() []error {
	if e == nil {
		return []error{ErrUnresolvableCard}
	}
	return append([]error{ErrUnresolvableCard}, e.Errs...)
}

// Reload loads every enrolled card of the store into the EID resolver, so
// that cards enrolled by another platform process resolve here too, with
// their secret as stored; a card that this process enrols while the scan
// is under way keeps the secret it was enrolled with here. A card that
// the resolver holds with the secret found (compared in constant time) is
// left as it is: no derivation of its EID key, no change of the tables.
// A Platform calls it by itself, when an EID does not resolve, at most once a
// second: not before a second after the start of the reload that last
// ended without being cut short; and, for the EIDs that one card asks
// (Resolve, or the peer's EID of its Pair), at most once every
// CardReloadInterval, counted from the start of the last reload that
// the card's miss started and that ended without being cut short: within
// it, such an EID is ErrNotFound at once unless a reload is under way.
// The resolutions that miss while reloads are under way, this one or
// ones that misses started, wait for the first of them to end and look
// again rather than start another; a reload cut short because ctx ended
// does not count, and those resolutions go on as if it had not started:
// they wait for the next to end of the reloads still under way, if any.
// A card that the resolver held and the scan no longer finds, deleted
// from the store, leaves the resolver and the card cache: its EIDs no
// longer resolve, although its entry in the cache had not expired. A
// scan that fails takes no card out. It returns the store's error, or else an
// *UnresolvableCardsError naming the cards whose advertising secret the
// resolver refuses, after loading all the others; those it takes out of the
// resolver, should an earlier Reload have loaded them with another secret.
func (p *Platform) Reload(ctx context.Context) error {
	start := p.now()
	p.mu.Lock()
	p.reloading++
	p.mu.Unlock()
	return p.runReload(ctx, "", start)
}

// loadCards is Reload without the record of its start and end. The cards
// that the resolver held before the scan and the scan did not find have
// been deleted from the store: they leave the resolver and the cache
// (dropCard), after a scan that ended without an error only, which also
// empties the cache's absent card IDs.
func (p *Platform) loadCards(ctx context.Context) error {
	var bad UnresolvableCardsError
	gen := p.resolver.begin()
	defer p.resolver.end()
	held := p.resolver.CardIDs()
	found := make([]bool, len(held))
	err := p.store.Cards(ctx, func(c *CardRecord) error {
		if i, ok := slices.BinarySearch(held, c.ID); ok {
			found[i] = true
		}
		if err := p.resolver.load(c.ID, c.AdvSecret, c.MerchantID != "", gen); err != nil {
			bad.CardIDs, bad.Errs = append(bad.CardIDs, c.ID), append(bad.Errs, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// The scan may have found cards enrolled through another process
	// whose IDs the cache holds as absent.
	p.cache.forgetAbsent()
	for i, id := range held {
		if !found[i] {
			p.dropCard(id, gen)
		}
	}
	if len(bad.CardIDs) > 0 {
		return &bad
	}
	return nil
}

// eidResolver is a platform process's EID resolver. A read of the store
// that began before this process enrolled a card must not undo that
// enrolment (put the card's former secret back, or take out a card that
// was missing then): such a read calls begin first, passes the generation
// it returns to load or drop, and calls end last.
//
// It keeps the advertising secret that each card holds in the resolver
// was enrolled with (16 octets and a map entry a card, about 60 MB for
// 1,000,000 cards), so that a load that finds the same secret again
// leaves the card as it is: a reload costs a comparison, not a
// derivation of the EID key and a move in every epoch table, for each
// card unchanged since the last. With each secret it keeps the card's
// role (an octet more): whether it is a seller card (CardRecord.MerchantID
// set) as this process last stored or read it: at its enrolment or load,
// at an enrolment of a merchant here that listed it or took it away
// (setSeller), or at any read of the card from the store here (readRole:
// Platform.cardEntry, for a login, a record of the card, a resolution of
// its EID), so that resolve keeps a shopper card's EID from another
// shopper card (hidden) without reading the card: a lookup in that map, no
// read of the store or of the card cache. A read that began before this
// process set the card's role (an enrolment of the card or of a merchant)
// does not set the role it read (generation, as for secrets). The role
// may be stale, changed since through another process: a card held as a
// shopper card that is now a seller card is hidden from shopper cards
// until a read of the card here (a reload, or a call of the card's own)
// loads its role (see Platform.resolve for the bound), and one held as a
// seller card that no longer is one is read once, as every card that is
// not hidden, and hidden then by the card read, which sets its role. So
// the role kept here hides more than the card read would, never less.
type eidResolver struct {
	adv.Resolver
	gen     atomic.Uint64 // counts the enrolments of cards and of merchants of this process
	readers atomic.Int64  // reads under way

	mu     sync.RWMutex        // held over every change of the enrolled cards, and read over a look at cards
	setAt  map[string]uint64   // card ID → generation of its last enrolment here, while reads are under way
	roleAt map[string]uint64   // card ID → generation of the last setting of its role here, while reads are under way
	cards  map[string]heldCard // card ID → the secret it is enrolled with in Resolver, and its role

	// hookRoleLocks, when set by a test, runs in readRole between its
	// read lock and its write lock.
	hookRoleLocks func()
}

// heldCard is what eidResolver keeps of a card it holds.
type heldCard struct {
	secret [adv.SecretSize]byte // the secret it is enrolled with in Resolver
	seller bool                 // a seller card, as last stored or read here
}

// begin starts a read of the store and returns its generation.
func (r *eidResolver) begin() uint64 {
	r.readers.Add(1)
	return r.gen.Load()
}

// end ends a read of the store.
func (r *eidResolver) end() {
	if r.readers.Add(-1) != 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.readers.Load() == 0 {
		clear(r.setAt)
		clear(r.roleAt)
	}
}

// enrol enrols a card with the secret this process has just stored, and
// the role (seller: a seller card) the store holds it with.
func (r *eidResolver) enrol(id string, secret []byte, seller bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.gen.Add(1)
	if r.readers.Load() > 0 {
		r.setAt = setGen(r.setAt, id, g)
		r.roleAt = setGen(r.roleAt, id, g)
	}
	return r.enrolLocked(id, secret, seller)
}

// setGen records in m (made if nil), which it returns, that card id was
// set at generation g.
func setGen(m map[string]uint64, id string, g uint64) map[string]uint64 {
	if m == nil {
		m = make(map[string]uint64)
	}
	m[id] = g
	return m
}

// enrolLocked enrols a card with secret and role seller, unless the
// resolver holds it with that secret already, which it tells in time that
// does not depend on the secrets' bytes: it then takes the role alone.
// r.mu must be held.
func (r *eidResolver) enrolLocked(id string, secret []byte, seller bool) error {
	if held, ok := r.cards[id]; ok && subtle.ConstantTimeCompare(held.secret[:], secret) == 1 {
		r.setRoleLocked(id, seller)
		return nil
	}
	if err := r.Enrol(id, secret); err != nil {
		return err
	}
	if r.cards == nil {
		r.cards = make(map[string]heldCard)
	}
	r.cards[id] = heldCard{secret: [adv.SecretSize]byte(secret), seller: seller} // Enrol took SecretSize octets
	return nil
}

// removeLocked takes a card out of the resolver and reports whether it
// held it. r.mu must be held.
func (r *eidResolver) removeLocked(id string) bool {
	delete(r.cards, id)
	return r.Remove(id)
}

// load enrols a card with the secret and role (seller: a seller card)
// that a read of generation gen found, unless this process enrolled it
// since; of a card whose role this process set since, it keeps that role.
// A secret that the resolver refuses takes the card out, and is returned.
func (r *eidResolver) load(id string, secret []byte, seller bool, gen uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.setAt[id] > gen {
		return nil
	}
	if held, ok := r.cards[id]; ok && r.roleAt[id] > gen {
		seller = held.seller
	}
	if err := r.enrolLocked(id, secret, seller); err != nil {
		r.removeLocked(id)
		return err
	}
	return nil
}

// drop takes out a card that a read of generation gen did not find,
// unless this process enrolled it since, and reports whether it did.
func (r *eidResolver) drop(id string, gen uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.setAt[id] <= gen && r.removeLocked(id)
}

// setSeller sets the role (seller: seller cards) of the cards ids that
// the resolver holds, as an enrolment of their merchant in this process
// has just stored it; it holds no other card for it.
func (r *eidResolver) setSeller(seller bool, ids ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.gen.Add(1)
	for _, id := range ids {
		if r.readers.Load() > 0 {
			r.roleAt = setGen(r.roleAt, id, g)
		}
		r.setRoleLocked(id, seller)
	}
}

// readRole sets the role (seller: a seller card) of card id, if the
// resolver holds it, as a read of the store of generation gen found it,
// unless this process set its role since. It is called at every read of a
// card, whose role seldom changes: it looks under the read lock first, and
// takes the write lock only for a role to change, looking again under it.
func (r *eidResolver) readRole(id string, seller bool, gen uint64) {
	r.mu.RLock()
	change := r.roleChangesLocked(id, seller, gen)
	r.mu.RUnlock()
	if !change {
		return
	}
	if r.hookRoleLocks != nil {
		r.hookRoleLocks()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.roleChangesLocked(id, seller, gen) {
		r.setRoleLocked(id, seller)
	}
}

// roleChangesLocked reports whether readRole(id, seller, gen) changes the
// role that the resolver holds card id with: it holds the card with the
// other role, and this process did not set its role since the read of
// generation gen. r.mu must be held, for reading at least.
func (r *eidResolver) roleChangesLocked(id string, seller bool, gen uint64) bool {
	held, ok := r.cards[id]
	return ok && held.seller != seller && r.roleAt[id] <= gen
}

// setRoleLocked sets the role of card id, if the resolver holds it. r.mu
// must be held.
func (r *eidResolver) setRoleLocked(id string, seller bool) {
	if held, ok := r.cards[id]; ok {
		held.seller = seller
		r.cards[id] = held
	}
}

// hides reports whether hide hides card id by the role the resolver holds
// it with (hide given the card's ID and whether it is a seller card):
// false for a card that it does not hold, or a nil hide.
func (r *eidResolver) hides(id string, hide func(id string, seller bool) bool) bool {
	if hide == nil {
		return false
	}
	r.mu.RLock()
	held, ok := r.cards[id]
	r.mu.RUnlock()
	return ok && hide(id, held.seller)
}

// dropCard takes out of the resolver a card that a read of the store of
// generation gen did not find (see eidResolver.drop) and, if it did, the
// card's entry in the cache too, expired or not, so that neither keeps
// the memory of a deleted card.
func (p *Platform) dropCard(id string, gen uint64) {
	if p.resolver.drop(id, gen) {
		p.cache.forgetCard(id)
	}
}

// Info implements API. The chain it returns is a copy, the caller's to
// change.
func (p *Platform) Info(context.Context) (*Info, error) {
	return &Info{Chain: cloneChain(p.chain)}, nil
}

// Store returns the platform's state store.
func (p *Platform) Store() Store { return p.store }

// Now implements Clocked: it returns the time of the platform's clock
// (PlatformOptions.Now), by which ExpireDue deletes the expired keys of
// the handler's stored replies.
func (p *Platform) Now() time.Time { return p.now() }

// verifyError maps an error of pki or record to the error of this package.
func verifyError(err error) error {
	switch {
	case errors.Is(err, pki.ErrCounterRegression):
		return fmt.Errorf("%w: %v", ErrClone, err)
	case errors.Is(err, pki.ErrNonce):
		return fmt.Errorf("%w: %v", ErrReplay, err)
	case errors.Is(err, record.ErrSignature):
		return fmt.Errorf("%w: %v", ErrSignature, err)
	case errors.Is(err, record.ErrMalformed), errors.Is(err, record.ErrType):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	case errors.Is(err, pki.ErrUntrusted), errors.Is(err, pki.ErrExpired), errors.Is(err, pki.ErrRevoked),
		errors.Is(err, pki.ErrUsage), errors.Is(err, pki.ErrCardID), errors.Is(err, pki.ErrCRL), errors.Is(err, pki.ErrKey):
		return fmt.Errorf("%w: %v", ErrCard, err)
	}
	return fmt.Errorf("%w: %v", ErrInternal, err)
}

// openCard decodes a card-signed record without trusting it and returns the
// enrolled card that claims to have signed it.
func (p *Platform) openCard(ctx context.Context, msg []byte, r record.CardRecord) (*CardRecord, error) {
	e, err := p.openCardEntry(ctx, msg, r)
	if err != nil {
		return nil, err
	}
	return e.rec, nil
}

// openCardEntry is openCard returning the card as cardEntry does, with
// the EID key of its secret that checkEID takes.
// Its refusals are unverified. A card ID that the store does not hold
// gives a card of that ID without a chain, whose records no key verifies
// (verifySignature): a record under it is ErrSignature, as a record under
// an enrolled card's ID that its card's key did not sign is, at the same
// step, with the same message, spending nothing, so that no one learns
// from a record which card IDs are enrolled.
func (p *Platform) openCardEntry(ctx context.Context, msg []byte, r record.CardRecord) (*cachedCard, error) {
	if len(msg) == 0 {
		return nil, unverified(fmt.Errorf("%w: no signed record", ErrInvalid))
	}
	if err := record.Open(msg, r); err != nil {
		return nil, unverified(fmt.Errorf("%w: %v", ErrInvalid, err))
	}
	id := r.Header().CardID
	e, err := p.cardEntry(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return &cachedCard{rec: &CardRecord{ID: id}}, nil
	}
	if err != nil {
		return nil, unverified(err)
	}
	return e, nil
}

// errUnverified marks the refusal of a card-signed record given before
// its card and signature were verified (unverified): such a refusal
// spends nothing and writes nothing, so that the handler of NewHandler
// does not store it under an Idempotency-Key (PROTOCOL.md §5.5).
var errUnverified = errors.New("payflow: record refused before its signature was verified")

// unverifiedError is an error marked with errUnverified, its text and
// its chain otherwise those of err.
type unverifiedError struct{ err error }

func (e *unverifiedError) Error() string        { return e.err.Error() }
func (e *unverifiedError) Unwrap() error        { return e.err }
func (e *unverifiedError) Is(target error) bool { return target == errUnverified }

// unverified marks err, the refusal of a card-signed record given before
// its card and signature were verified, with errUnverified.
func unverified(err error) error {
	return &unverifiedError{err: err}
}

// check verifies a card-signed record as far as it can without the store,
// with the refusals of pki.Challenger's order: chain and revocation,
// signature and card ID (a refused chain told only for a record that its
// card's key signed, whose signature is verified first: verifySignature),
// then the MAC, binding (to the record's card ID and, for a consent, its
// request ID) and expiry of its nonce. It returns the acceptance that
// uses the nonce and advances the counter, to which the caller adds the
// write of its call (accept), or none when a later check refuses the
// record (refuse). A refusal of the chain, revocation or signature is
// unverified. The chain, revocation and signature of a record that
// CheckRecord verified for the call (ctx) are not verified again
// (verifyRecord).
func (p *Platform) check(ctx context.Context, c *CardRecord, msg []byte, r record.CardRecord) (*Acceptance, error) {
	if err := p.verifyRecord(ctx, c, msg, r); err != nil {
		return nil, unverified(err)
	}
	h := r.Header()
	a := &Acceptance{CardID: h.CardID, Counter: h.Counter, kind: r.Type()}
	if n := r.FreshNonce(); n != nil {
		var requestID []byte // the request a consent nonce is bound to
		if cs, ok := r.(*record.Consent); ok {
			requestID = cs.RequestID
		}
		exp, err := openNonce(p.nonceKey, n, p.now(), h.CardID, requestID)
		if err != nil {
			return nil, verifyError(err)
		}
		a.Nonce, a.NonceExpires = n, exp.Add(usedNonceGrace)
	}
	return a, nil
}

// verifiedKey is the context key of the verifiedRecord that CheckRecord
// gives the call that follows it.
type verifiedKey struct{}

// verifiedRecord is a card-signed record whose card's chain, revocation
// and signature CheckRecord verified: its bytes and the card, as the
// platform held it then.
type verifiedRecord struct {
	card *CardRecord
	msg  []byte
	// payment is, for a consent, the request it names as CheckRecord
	// read it before the verification, which Approve takes as its own
	// first read of the request (checkedPayment) rather than read it
	// again.
	payment *PaymentRecord
}

// checkedPayment returns the request that CheckRecord read for consent
// msg, verified for the call of ctx, and nil when it read none for it.
// The request may have changed since, as it may after any read: Approve
// takes its state again through current and moves it by compare-and-set.
func checkedPayment(ctx context.Context, msg []byte) *PaymentRecord {
	if v := checkedRecord(ctx, msg); v != nil {
		return v.payment
	}
	return nil
}

// checkedRecord returns the verification that CheckRecord gave the call
// of ctx when it is of record msg, and nil otherwise.
func checkedRecord(ctx context.Context, msg []byte) *verifiedRecord {
	if v, ok := ctx.Value(verifiedKey{}).(*verifiedRecord); ok && bytes.Equal(v.msg, msg) {
		return v
	}
	return nil
}

// verifyRecord is verifySignature, but for the record that CheckRecord
// verified before the call of ctx (verifiedKey): the same bytes, of the
// same card with the same chain, are not verified again, so that a
// record sent under an Idempotency-Key is verified once for its call.
// The verification holds for the call that follows it, as one made by
// the call itself holds until the call writes.
func (p *Platform) verifyRecord(ctx context.Context, c *CardRecord, msg []byte, r record.CardRecord) error {
	if v := checkedRecord(ctx, msg); v != nil && v.card.ID == c.ID && sameChain(v.card, c) {
		return nil
	}
	return p.verifySignature(c, msg, r)
}

// CheckRecord implements RecordChecker: it takes the card-signed record
// of req (a *PairRequest, *CreateRequest, *ApproveRequest or
// *RefundRequest; any other, and a nil one, is left to its call) through
// the steps that its call takes before it writes anything, up to the
// verification of its card's chain, revocation and signature, and
// writes nothing. When they pass, it returns ctx carrying the
// verification, which the call under it does not make again
// (verifyRecord), and for a consent the request it read, which Approve
// takes as its own first read of it (checkedPayment). Otherwise it
// returns the refusal that the call answers, with the call's status and
// message: the record's, when it does not open, names no peer (a pairing
// proof), or its card or signature is refused, a consent's to a request
// that does not exist (whether or not its signature verifies, as the
// call reads the request first), and a payment request's or refund's
// whose ID another record holds (ErrConflict); and a failure of the
// store on the way. A payment request or refund of the same bytes as one
// accepted before is no refusal here: its call answers it as a retry,
// which checks its card then as a new record of it, but for its counter
// (see Platform.CreateRequest and Platform.Refund).
func (p *Platform) CheckRecord(ctx context.Context, req any) (context.Context, error) {
	if nilptr.Is(req) {
		return ctx, nil // the call refuses it
	}
	switch req := req.(type) {
	case *PairRequest:
		var proof record.AuthProof
		e, err := p.openPairProof(ctx, req.Proof, &proof)
		if err != nil {
			return ctx, err
		}
		return p.verified(ctx, e.rec, req.Proof, &proof, nil, nil)
	case *CreateRequest:
		var r record.PaymentRequest
		c, err := p.openCard(ctx, req.Request, &r)
		if err != nil {
			return ctx, err
		}
		return p.verified(ctx, c, req.Request, &r, nil, func() (bool, error) {
			_, decided, err := p.storedRequest(ctx, ID(r.RequestID), req.Request)
			return decided, err
		})
	case *ApproveRequest:
		var cs record.Consent
		c, r, err := p.openConsent(ctx, req.Consent, &cs, nil)
		if err != nil {
			return ctx, err
		}
		return p.verified(ctx, c, req.Consent, &cs, r, nil)
	case *RefundRequest:
		var rr record.RefundRequest
		c, err := p.openCard(ctx, req.Refund, &rr)
		if err != nil {
			return ctx, err
		}
		return p.verified(ctx, c, req.Refund, &rr, nil, func() (bool, error) {
			_, decided, err := p.storedRefund(ctx, ID(rr.RefundID), req.Refund)
			return decided, err
		})
	}
	return ctx, nil
}

// verified verifies msg, record r of card c, and returns ctx carrying
// the verification when it holds, with payment, the request that a
// consent names as the check read it (nil for another record).
// Otherwise, first, it returns what before decides: the steps that the
// call takes before it verifies the signature, and which answer it
// otherwise (decided) with err (nil: the call is to run); the refusal
// of the chain, revocation or signature when they decide nothing.
func (p *Platform) verified(ctx context.Context, c *CardRecord, msg []byte, r record.CardRecord, payment *PaymentRecord, before func() (decided bool, err error)) (context.Context, error) {
	err := p.verifySignature(c, msg, r)
	if err == nil {
		return context.WithValue(ctx, verifiedKey{}, &verifiedRecord{card: c, msg: msg, payment: payment}), nil
	}
	if before != nil {
		if decided, err := before(); decided {
			return ctx, err
		}
	}
	return ctx, unverified(err)
}

// takenID decides what the call of a record with an ID of its own
// answers before it verifies the signature, given the error of the
// store's read of the ID and whether the record stored under it has
// other bytes: nothing when the ID is free, the store's failure, the
// refusal of taken for other bytes, and the run of the call for the same
// bytes (a retry of an accepted record).
func takenID(err error, other bool, taken func() error) (bool, error) {
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return true, err
	case other:
		return true, taken()
	}
	return true, nil
}

// accept commits a and its write in one store transaction. A nonce used
// before is ErrReplay, a counter that does not increase ErrClone (logged,
// see spentError); an error of the write is returned as it is.
func (p *Platform) accept(ctx context.Context, a *Acceptance) error {
	return p.spentError(ctx, a, p.store.Accept(ctx, a))
}

// logger returns PlatformOptions.Logger or, without one, slog.Default().
func (p *Platform) logger() *slog.Logger {
	if p.log != nil {
		return p.log
	}
	return slog.Default()
}

// counterRefused is the message of the warning that spentError logs.
const counterRefused = "payflow: record refused: card counter did not increase (a resend of a record already accepted or refused, or a cloned card)"

// spentError maps the store's refusal of record a for its nonce or its
// counter (Store.Accept, Store.Spent) to ErrReplay or ErrClone; any other
// error is returned as it is. Every card counter refusal of the platform
// comes through here, and each is logged as a warning with the values of
// the store's *pki.CounterError and the request ID of ctx, if any (see
// PlatformOptions.Logger).
func (p *Platform) spentError(ctx context.Context, a *Acceptance, err error) error {
	if ce, ok := errors.AsType[*pki.CounterError](err); ok {
		attrs := []slog.Attr{
			slog.String("card", ce.CardID), slog.String("record", a.kind.String()),
			slog.Uint64("held", ce.Last), slog.Uint64("given", ce.Got),
		}
		if id := RequestID(ctx); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
		p.logger().LogAttrs(ctx, slog.LevelWarn, counterRefused, attrs...)
	}
	if errors.Is(err, pki.ErrNonce) || errors.Is(err, pki.ErrCounterRegression) {
		return verifyError(err)
	}
	return err
}

// refuse commits a with no write and returns why: a record that a check
// after its signature refuses still spends its nonce and counter, and an
// error of the nonce or the counter comes first, as if they had been
// checked before the rest. A why that is no verdict on the record (a
// store or ledger error, internal or unavailable) spends nothing, so that
// the same record may be sent again; nor does ErrRateLimited, which asks
// to send it again later, nor ErrConflict (a payment request into a
// session not paired yet, a refund of a payment not captured yet, a
// consent to a request whose settlement is under way or an account of
// whose legs is taken), whose conflict may be over later: the same
// record sent again gets the same refusal while the conflict lasts, and
// is taken once it is over (PROTOCOL.md §4.6). A record refused with
// ErrConflict has its nonce and counter read first (Store.Spent), so that
// one whose nonce another record spent, or whose counter another passed,
// is refused for them, ErrReplay or ErrClone, as a spent one is.
func (p *Platform) refuse(ctx context.Context, a *Acceptance, why error) error {
	if serverError(why) || errors.Is(why, ErrRateLimited) {
		return why
	}
	if errors.Is(why, ErrConflict) {
		if err := p.store.Spent(ctx, a.Nonce, a.CardID, a.Counter); err != nil {
			return p.spentError(ctx, a, err)
		}
		return why
	}
	a.Token, a.Session, a.Insert, a.Update, a.Refund = nil, nil, nil, nil, nil
	if err := p.accept(ctx, a); err != nil {
		return err
	}
	return why
}

// verifySignature checks signature, chain and revocation only, consuming
// nothing. The record is verified first with the key of the card's
// certificate, the first of its chain, unverified (cardKey): a record that
// it did not sign is ErrSignature, whether the chain verifies or not, and
// without a verification of the chain, so that a record forged under
// another card's ID tells nothing of that card's certificate or its
// revocation, nor, by the time of its refusal, of its enrolment (the
// verifier's cache need not hold the chain, whose verification costs
// several times a signature's). A chain that the verifier then refuses
// (revoked, expired) is told, for a record that the key of the card's
// certificate signed. A card without a chain (one that the store does not
// hold: openCardEntry) has its record verified with noKey, which verifies
// none: ErrSignature, with the message of a record that an enrolled
// card's key did not sign.
func (p *Platform) verifySignature(c *CardRecord, msg []byte, r record.CardRecord) error {
	if len(c.Chain) == 0 {
		pub, err := noKey()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInternal, err)
		}
		return verifyError((&pki.VerifiedCard{CardID: c.ID, PublicKey: pub}).VerifyRecord(msg, r))
	}
	pub := p.cardKey(c)
	if pub != nil {
		if err := (&pki.VerifiedCard{CardID: c.ID, PublicKey: pub}).VerifyRecord(msg, r); err != nil {
			return verifyError(err)
		}
	}
	vc, err := p.verifier.VerifyCard(c.Chain)
	if err != nil {
		return verifyError(err)
	}
	// The key verified is that of the certificate the record was verified
	// with, c.Chain[0], which both read (compared, it would cost two
	// allocations per coordinate). Not the card ID or no key that the
	// record was verified with (a store holding another card's chain
	// under this ID, a certificate that gives no ECDSA key): the verified
	// chain decides.
	if pub == nil || vc.CardID != c.ID {
		if err := vc.VerifyRecord(msg, r); err != nil {
			return verifyError(err)
		}
	}
	return nil
}

// noKey returns the key that verifySignature verifies the records of a
// card without a chain with: a P-256 key made at random once a process,
// its private key dropped at once, so that it verifies no record.
var noKey = sync.OnceValues(func() (*ecdsa.PublicKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &k.PublicKey, nil
})

// cardKey returns the public key of card c's certificate, the first of
// its chain, unverified, or nil for one that does not parse or gives no
// ECDSA key: the key kept with c in the cache (cachedCard.leafKey), read
// from the certificate once for the card and its chain, so that a record
// is checked against it at no more cost than one of a card that the store
// does not hold; a card that the cache does not hold (CacheTTL negative)
// has its certificate read at every call.
func (p *Platform) cardKey(c *CardRecord) *ecdsa.PublicKey {
	if e := p.cache.entry(c.ID); e != nil && e.rec == c {
		return e.leafKey()
	}
	return certKey(c)
}

// certKey returns the public key of card c's certificate, the first of
// its chain, unverified, or nil for a chain that is empty or whose first
// certificate does not parse or gives no ECDSA key.
func certKey(c *CardRecord) *ecdsa.PublicKey {
	if len(c.Chain) == 0 {
		return nil
	}
	leaf, err := pki.ParseCertificate(c.Chain[0])
	if err != nil {
		return nil
	}
	pub, _ := leaf.PublicKey.(*ecdsa.PublicKey)
	return pub
}

// cloneChain returns a deep copy of a certificate chain.
func cloneChain(chain [][]byte) [][]byte {
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = bytes.Clone(c)
	}
	return out
}
