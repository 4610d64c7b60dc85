package pki

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/casimpay/casimpay/internal/nilptr"
	"github.com/casimpay/casimpay/pki/record"
)

// DefaultNonceTTL is how long a challenge nonce stays usable by default.
const DefaultNonceTTL = 2 * time.Minute

// VerifyRecord checks that msg is a record of r's type signed by the card
// of vc, and decodes it into r. The card ID of the record's header must be
// exactly vc.CardID. It does not check freshness (nonce, counter): a
// Challenger does. Errors match record.ErrSignature, record.ErrType or
// record.ErrMalformed from package record, or record.ErrKey for a vc whose
// PublicKey is not an ECDSA P-256 key (the zero VerifiedCard, say), or
// ErrCardID; a nil vc, which VerifyCard never returns with a nil error, is
// refused with ErrInvalid.
func (vc *VerifiedCard) VerifyRecord(msg []byte, r record.CardRecord) error {
	if vc == nil {
		return newError(ErrInvalid, -1, "no VerifiedCard (one is returned by VerifyCard)", nil)
	}
	if err := record.Verify(msg, vc.PublicKey, r); err != nil {
		return fmt.Errorf("pki: card record: %w", err)
	}
	if r.Header().CardID != vc.CardID {
		return newError(ErrCardID, -1, "record signed for card "+r.Header().CardID+" by card "+vc.CardID, nil)
	}
	return nil
}

// VerifyReceipt checks that msg is a receipt signed by the platform key of
// vp and decodes it into r. Errors come from record.Verify; a nil vp,
// which VerifyPlatform never returns with a nil error, is refused with
// ErrInvalid. The chain that a receipt may carry is not looked at: vp is
// the platform to verify with (see Verifier.ReceiptPlatform).
func (vp *VerifiedPlatform) VerifyReceipt(msg []byte, r *record.Receipt) error {
	if vp == nil {
		return newError(ErrInvalid, -1, "no VerifiedPlatform (one is returned by VerifyPlatform)", nil)
	}
	if err := record.Verify(msg, vp.PublicKey, r); err != nil {
		return fmt.Errorf("pki: receipt: %w", err)
	}
	return nil
}

// VerifySignedReceipt is VerifyReceipt for sr, a receipt that
// record.DecodeReceipt decoded, with the same errors, without decoding
// its message again (see Verifier.DecodeReceipt). A nil vp is refused
// with ErrInvalid.
func (vp *VerifiedPlatform) VerifySignedReceipt(sr *record.SignedReceipt, r *record.Receipt) error {
	if vp == nil {
		return newError(ErrInvalid, -1, "no VerifiedPlatform (one is returned by VerifyPlatform)", nil)
	}
	if err := sr.Verify(vp.PublicKey, r); err != nil {
		return fmt.Errorf("pki: receipt: %w", err)
	}
	return nil
}

// ReceiptPlatform returns the platform that signed msg, a receipt, as the
// certificate chain that it carries names it (its x5chain, PROTOCOL.md
// §3.6), verified as VerifyPlatform verifies the chain of Info (trusted
// root, receipt-signing usage, validity, CRLs; served from the cache of
// verified chains like any chain): its VerifyReceipt then checks msg's
// signature with that chain's key. For a receipt that carries no chain
// (signed by a platform that put none in) it returns nil and no error:
// such a receipt is verified with the platform's chain of now. Errors
// are those of record.ReceiptChain (a malformed envelope, or one whose
// algorithm is not ES256, record.ErrSignature) and of
// VerifyPlatform; a nil or zero Verifier refuses every msg with
// ErrInvalid. DecodeReceipt does the same and keeps the decoded
// receipt, so that its signature is checked without decoding msg again.
func (v *Verifier) ReceiptPlatform(msg []byte) (*VerifiedPlatform, error) {
	_, vp, err := v.DecodeReceipt(msg)
	return vp, err
}

// DecodeReceipt decodes msg, a receipt, once (record.DecodeReceipt) and
// returns it with the platform that signed it, as ReceiptPlatform returns
// it, with the same errors: the platform of the chain that msg carries,
// verified (cached as any chain), or nil for a receipt that carries none.
// The receipt's signature is not checked:
// VerifiedPlatform.VerifySignedReceipt, or record.SignedReceipt.Verify,
// checks it with the platform's key from this one decoding.
func (v *Verifier) DecodeReceipt(msg []byte) (*record.SignedReceipt, *VerifiedPlatform, error) {
	if !v.made() {
		return nil, nil, errNoVerifier()
	}
	sr, err := record.DecodeReceipt(msg)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: receipt: %w", err)
	}
	chain := sr.Chain()
	if chain == nil {
		return sr, nil, nil
	}
	vp, err := v.VerifyPlatform(chain)
	if err != nil {
		return nil, nil, err
	}
	return sr, vp, nil
}

// VerifyReceipt checks msg, a receipt, as a phone with v does offline,
// and decodes it into r: signed by the key of the chain it carries
// (ReceiptPlatform), or, when it carries none, of current, the
// platform's chain of now (Info), which VerifyPlatform verifies. It
// returns the platform that verified it; errors are those of
// ReceiptPlatform, VerifyPlatform and VerifiedPlatform.VerifyReceipt.
// It decodes msg once (DecodeReceipt).
func (v *Verifier) VerifyReceipt(msg []byte, current [][]byte, r *record.Receipt) (*VerifiedPlatform, error) {
	sr, vp, err := v.DecodeReceipt(msg)
	if err == nil && vp == nil {
		vp, err = v.VerifyPlatform(current)
	}
	if err != nil {
		return nil, err
	}
	if err := vp.VerifySignedReceipt(sr, r); err != nil {
		return nil, err
	}
	return vp, nil
}

// NonceStore holds the challenge nonces issued and not yet used. A platform
// running several processes backs it with its database, for example a table
// keyed by the nonce bytes where Consume is one DELETE … WHERE nonce = $1
// AND expires > $2 that must remove exactly one row. Implementations must be
// safe for concurrent use.
type NonceStore interface {
	// Add records a newly issued nonce as usable until expires.
	Add(ctx context.Context, nonce []byte, expires time.Time) error
	// Consume removes nonce and returns nil only if it was held and had not
	// expired at now. Of several calls with the same nonce, concurrent or
	// not, at most one returns nil; the others return an error matching
	// ErrNonce.
	Consume(ctx context.Context, nonce []byte, now time.Time) error
}

// CounterStore holds, per card, the highest signature counter accepted. A
// database implementation is one conditional write, such as INSERT …
// ON CONFLICT (card) DO UPDATE SET counter = $2 WHERE counter < $2, that
// reports whether a row changed. Implementations must be safe for
// concurrent use.
type CounterStore interface {
	// Advance raises the counter of cardID to counter, atomically, if
	// counter is greater than the one held (a card never seen holds 0).
	// Otherwise it changes nothing and returns an error matching
	// ErrCounterRegression, a *CounterError when the held value is known.
	Advance(ctx context.Context, cardID string, counter uint64) error
}

// MemoryNonces is a NonceStore in memory, bounded: when it holds its
// maximum of nonces issued and unused, issuing a nonce drops the one that
// expires first, so an expired nonce before any other, and of those that
// expire together the one issued first; nonces used do not count. So
// Challengers of different TTLs can share one: a nonce of a long TTL,
// still valid, is dropped only after every nonce expiring before it. A
// nonce dropped is refused with ErrNonce, as one expired. It takes memory
// for the nonces it holds, and as much again at most for the issues of
// those used (as soon as they are used: the issues of nonces used that
// outnumber those held are dropped by the call that uses or drops one),
// not for its maximum at once. Add and Consume take a time logarithmic in
// the issues kept for each issue they add or drop, and the rest of their
// work takes constant time averaged over the calls. The zero value holds
// at most 100000 nonces. It is safe for concurrent use. A nil
// *MemoryNonces holds none and takes none: Add and Consume fail with
// ErrInvalid, and Len is 0.
type MemoryNonces struct {
	mu     sync.Mutex
	max    int             // most nonces held; ≤ 0 means 100000
	seq    uint64          // nonces added so far, numbering them
	byKey  map[string]held // nonce bytes -> the issue held, unused
	issues []issued        // every issue not yet dropped, used or not: a min-heap by expiry, then number
}

// held is an issue of a nonce, numbered seq, usable until expires.
type held struct {
	expires time.Time
	seq     uint64
}

// issued is one of the issues that issues keeps: its nonce bytes, its
// expiry and its number, which tells it from a later issue of the same
// bytes and orders the issues of the same expiry.
type issued struct {
	key string
	held
}

// before reports whether a is dropped before b: it expires first, or at
// the same time and was issued first.
func (a *issued) before(b *issued) bool {
	if c := a.expires.Compare(b.expires); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

// ended returns the refusal of a call given ctx, or nil: an error
// matching ErrInvalid for a nil ctx, and ctx's error, wrapped, once ctx
// has ended.
func ended(ctx context.Context) error {
	if ctx == nil {
		return newError(ErrInvalid, -1, "nil context", nil)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

// noMemoryStore returns the error of a nil *MemoryNonces or
// *MemoryCounters, a new one each time, as an *Error is the caller's.
func noMemoryStore() error {
	return newError(ErrInvalid, -1, "no store (a nil *MemoryNonces or *MemoryCounters)", nil)
}

// NewMemoryNonces returns an empty store holding at most max nonces; max ≤
// 0 means 100000.
func NewMemoryNonces(max int) *MemoryNonces { return &MemoryNonces{max: max} }

// limit returns the most nonces s holds.
func (s *MemoryNonces) limit() int {
	if s.max <= 0 {
		return 100000
	}
	return s.max
}

// Add implements NonceStore. Adding a nonce already held is an error
// matching ErrNonce, an empty nonce one matching ErrInvalid. A ctx that
// has ended fails Add with its error, and a nil ctx with ErrInvalid: the
// nonce is not added.
func (s *MemoryNonces) Add(ctx context.Context, nonce []byte, expires time.Time) error {
	if s == nil {
		return noMemoryStore()
	}
	if err := ended(ctx); err != nil {
		return err
	}
	if len(nonce) == 0 {
		return newError(ErrInvalid, -1, "empty nonce", nil)
	}
	key := string(nonce)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKey == nil {
		s.byKey = make(map[string]held)
	}
	if _, ok := s.byKey[key]; ok {
		return newError(ErrNonce, -1, "nonce issued twice", nil)
	}
	// Only the nonces held count; the issues of those used are dropped
	// when they come first, or all at once when they outnumber the
	// nonces held (each held has one issue in issues).
	for len(s.byKey) >= s.limit() {
		s.popLocked()
	}
	s.trimLocked()
	s.seq++
	h := held{expires: expires, seq: s.seq}
	// append grows issues as it fills; trimLocked gives it an array of
	// the issues kept.
	s.issues = append(s.issues, issued{key: key, held: h})
	s.upLocked(len(s.issues) - 1)
	s.byKey[key] = h
	return nil
}

// popLocked drops the first issue, used or not, the one that expires
// first: its nonce too if it is still held, and not a later issue of the
// same bytes.
func (s *MemoryNonces) popLocked() {
	first := s.issues[0]
	if h, ok := s.byKey[first.key]; ok && h.seq == first.seq {
		delete(s.byKey, first.key)
	}
	last := len(s.issues) - 1
	s.issues[0] = s.issues[last]
	s.issues[last] = issued{}
	s.issues = s.issues[:last]
	if last == 0 {
		s.issues = nil // lets the array go after a burst
		return
	}
	s.downLocked(0)
}

// trimLocked drops the issues of nonces no longer held (used, or issued
// again since) once they outnumber the nonces held, keeping the others in
// a heap in an array of their size, so that the issues kept take at most
// twice the room of the nonces held (each held has one issue in issues).
// Add and Consume call it after they change what is held: each call that
// copies the issues halves them, at least, so that the copies and the
// heap rebuilt take constant time for each nonce used, averaged over the
// calls.
func (s *MemoryNonces) trimLocked() {
	if len(s.issues)-len(s.byKey) <= len(s.byKey) {
		return
	}
	var kept []issued // nil for none: lets the array go
	if len(s.byKey) > 0 {
		kept = make([]issued, 0, len(s.byKey))
	}
	for _, o := range s.issues {
		if h, ok := s.byKey[o.key]; ok && h.seq == o.seq {
			kept = append(kept, o)
		}
	}
	s.issues = kept
	for i := len(kept)/2 - 1; i >= 0; i-- {
		s.downLocked(i)
	}
}

// upLocked moves the issue at index i of issues up to its place in the
// heap.
func (s *MemoryNonces) upLocked(i int) {
	o := s.issues[i]
	for i > 0 {
		parent := (i - 1) / 2
		if !o.before(&s.issues[parent]) {
			break
		}
		s.issues[i] = s.issues[parent]
		i = parent
	}
	s.issues[i] = o
}

// downLocked moves the issue at index i of issues down to its place in
// the heap.
func (s *MemoryNonces) downLocked(i int) {
	o := s.issues[i]
	for {
		child := 2*i + 1
		if child >= len(s.issues) {
			break
		}
		if right := child + 1; right < len(s.issues) && s.issues[right].before(&s.issues[child]) {
			child = right
		}
		if !s.issues[child].before(&o) {
			break
		}
		s.issues[i] = s.issues[child]
		i = child
	}
	s.issues[i] = o
}

// Consume implements NonceStore. It drops besides the issues expired at
// now, used or not. A ctx that has ended fails Consume with its error, and
// a nil ctx with ErrInvalid: the nonce stays held, and nothing is dropped.
func (s *MemoryNonces) Consume(ctx context.Context, nonce []byte, now time.Time) error {
	if s == nil {
		return noMemoryStore()
	}
	if err := ended(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.issues) > 0 && !now.Before(s.issues[0].expires) {
		s.popLocked()
	}
	h, ok := s.byKey[string(nonce)]
	if ok {
		delete(s.byKey, string(nonce))
	}
	s.trimLocked()
	if !ok || !now.Before(h.expires) {
		return ErrNonce
	}
	return nil
}

// Len returns the number of nonces held (issued, unused, not yet dropped).
func (s *MemoryNonces) Len() int {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey)
}

// MemoryCounters is a CounterStore in memory. It keeps every card it has
// seen (dropping one would let a clone replay old counters), so it suits
// tests and single-process deployments. The zero value is an empty store.
// It is safe for concurrent use. A nil *MemoryCounters takes no counter:
// Advance fails with ErrInvalid.
type MemoryCounters struct {
	mu   sync.Mutex
	last map[string]uint64
}

// NewMemoryCounters returns an empty store.
func NewMemoryCounters() *MemoryCounters {
	return &MemoryCounters{last: make(map[string]uint64)}
}

// Advance implements CounterStore. A ctx that has ended fails Advance
// with its error, and a nil ctx with ErrInvalid: the counter stays as it
// was. An empty cardID, which no card has (a card ID is an ICCID), is
// refused with ErrInvalid, and no counter is kept for it.
func (s *MemoryCounters) Advance(ctx context.Context, cardID string, counter uint64) error {
	if s == nil {
		return noMemoryStore()
	}
	if err := ended(ctx); err != nil {
		return err
	}
	if cardID == "" {
		return newError(ErrInvalid, -1, "empty card ID", nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		s.last = make(map[string]uint64)
	}
	if last := s.last[cardID]; counter <= last {
		return &CounterError{CardID: cardID, Last: last, Got: counter}
	}
	s.last[cardID] = counter
	return nil
}

// ChallengerOptions configures a Challenger. The zero value holds the
// defaults.
type ChallengerOptions struct {
	// Nonces holds the nonces issued; nil means NewMemoryNonces(0), and a
	// nil pointer, func, map, channel or slice is out of range
	// (ErrInvalid).
	Nonces NonceStore
	// Counters holds the card counters; nil means NewMemoryCounters(),
	// and a nil pointer, func, map, channel or slice is out of range
	// (ErrInvalid).
	Counters CounterStore
	// TTL is how long a nonce stays usable; zero means DefaultNonceTTL.
	// Negative is out of range: the Challenger refuses every call
	// (NewNonce, Verify) with ErrInvalid.
	TTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the source of nonces; nil means crypto/rand.Reader, and a
	// nil pointer, func, map, channel or slice is out of range
	// (ErrInvalid). The Challenger reads it under a lock of its own, as a
	// CA reads its Rand, so it need not be safe for concurrent use unless
	// something else reads it too.
	Rand io.Reader
}

// Challenger proves that a card holds the key of its certificate: it issues
// one-time nonces and verifies the records the card signs over them, with
// the card's counter. It is safe for concurrent use if its stores are.
//
// Its nonces are bound to nothing but themselves: a nonce issued for one
// card, or for a login, answers a record of another card or another type
// just as well, once. A caller that needs a nonce bound to a card or to a
// payment request keeps that binding itself (payflow's platform MACs the
// request ID into its consent nonces instead of using a Challenger).
//
// NewChallenger makes one: a nil *Challenger, or the zero Challenger,
// refuses every call (NewNonce, Verify) with ErrInvalid.
type Challenger struct {
	v        *Verifier
	nonces   NonceStore
	counters CounterStore
	ttl      time.Duration
	now      func() time.Time
	rand     io.Reader
	bad      error // an option out of range, which every call returns
}

// NewChallenger returns a Challenger that verifies certificate chains with
// v. A Challenger made with an option out of range (a negative TTL, a
// store or a random source that is a nil pointer, func, map, channel or
// slice, which would be used and panic where nil means the default), or
// without a Verifier (v nil, or the zero Verifier, which refuses every
// chain), refuses every call (NewNonce, Verify) with ErrInvalid: it issues
// no nonce that no record could use.
func NewChallenger(v *Verifier, opts ChallengerOptions) *Challenger {
	c := &Challenger{v: v, nonces: opts.Nonces, counters: opts.Counters, ttl: opts.TTL, now: opts.Now, rand: opts.Rand}
	if c.nonces == nil {
		c.nonces = NewMemoryNonces(0)
	}
	if c.counters == nil {
		c.counters = NewMemoryCounters()
	}
	switch {
	case c.ttl == 0:
		c.ttl = DefaultNonceTTL
	case c.ttl < 0:
		c.bad = newError(ErrInvalid, -1, "negative nonce TTL", nil)
	}
	if c.bad == nil {
		c.bad = nilOption(option{"Nonces", opts.Nonces}, option{"Counters", opts.Counters}, option{"Rand", opts.Rand})
	}
	if c.bad == nil && !v.made() {
		c.bad = newError(ErrInvalid, -1, "no verifier", nil)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.rand == nil {
		c.rand = rand.Reader
	}
	c.rand = lockReader(c.rand)
	return c
}

// usable returns the refusal of every call of c, or nil: c nil or the
// zero Challenger (NewChallenger always sets its stores), or an option
// out of range.
func (c *Challenger) usable() error {
	if c == nil || c.nonces == nil {
		return newError(ErrInvalid, -1, "no Challenger (one is made by NewChallenger)", nil)
	}
	return c.bad
}

// option is an option of an interface type, by name, for nilOption.
type option struct {
	name  string
	value any
}

// nilOption returns an error matching ErrInvalid naming the first of opts
// that holds a nil pointer, func, map, channel or slice (not nil, which
// means the default: such a nil would be used, and its methods panic), or
// nil.
func nilOption(opts ...option) error {
	for _, o := range opts {
		if o.value != nil && nilptr.Is(o.value) {
			return newError(ErrInvalid, -1, fmt.Sprintf("%s is a nil %T", o.name, o.value), nil)
		}
	}
	return nil
}

// NewNonce issues a fresh random nonce of record.NonceSize bytes, usable
// once within the TTL. A Challenger without a Verifier or with a negative
// TTL issues none (ErrInvalid), nor does a nil or zero Challenger, nor one
// given a ctx that has ended (its error) or a nil ctx (ErrInvalid).
func (c *Challenger) NewNonce(ctx context.Context) ([]byte, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	if err := ended(ctx); err != nil {
		return nil, err
	}
	n := make([]byte, record.NonceSize)
	if _, err := io.ReadFull(c.rand, n); err != nil {
		return nil, fmt.Errorf("pki: nonce: %w", err)
	}
	if err := c.nonces.Add(ctx, n, c.now().Add(c.ttl)); err != nil {
		return nil, err
	}
	return n, nil
}

// Verify verifies the card's chain (as Verifier.VerifyCard), the record msg
// signed by the card into r (as VerifiedCard.VerifyRecord), consumes the
// record's nonce if it carries one, and advances the card's counter, in
// that order. It returns the verified card only if all passed. The nonce is
// spent before the counter advances, so that a record refused for its
// nonce (unknown, used or expired) leaves the counter as it was; a counter
// store that fails otherwise than with ErrCounterRegression therefore
// leaves the nonce used, and the card answers a new one. The two stores
// share no transaction, and neither step can be undone: a NonceStore
// takes a nonce only as newly issued, without the expiry it had, and a
// CounterStore lowers no counter. Errors match
// those of VerifyCard and VerifyRecord, ErrNonce for an unknown, used or
// expired nonce, and ErrCounterRegression for a counter that did not
// increase (a replayed record or a cloned card). A Challenger made without
// a Verifier, or with an option out of range, refuses everything with
// ErrInvalid, as does a nil or zero Challenger. A ctx that has ended when
// Verify starts fails it with its error, and a nil ctx with ErrInvalid,
// before it looks at anything: no nonce is spent and no counter advances.
func (c *Challenger) Verify(ctx context.Context, chain [][]byte, msg []byte, r record.CardRecord) (*VerifiedCard, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	if err := ended(ctx); err != nil {
		return nil, err
	}
	vc, err := c.v.VerifyCard(chain)
	if err != nil {
		return nil, err
	}
	if err := vc.VerifyRecord(msg, r); err != nil {
		return nil, err
	}
	if nonce := r.FreshNonce(); nonce != nil {
		if err := c.nonces.Consume(ctx, nonce, c.now()); err != nil {
			return nil, err
		}
	}
	h := r.Header()
	if err := c.counters.Advance(ctx, h.CardID, h.Counter); err != nil {
		return nil, err
	}
	return vc, nil
}
