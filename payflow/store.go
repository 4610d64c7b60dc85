package payflow

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki/record"
)

// Store is the platform's state: enrolled cards, merchants and catalogs,
// nonces, counters, tokens, sessions, payment requests, refunds and stored
// idempotent replies. It lives in the same database as the ledger, so that
// several platform processes share one database: payflow/memory,
// payflow/sqlite and payflow/postgres implement it and payflow/paytest is
// the conformance suite they all pass.
//
// Every method is safe for concurrent use, from one process or several
// sharing the database. Methods that change a payment request or a refund
// are compare-and-set: they apply only when the stored row is still in the
// state (and version) the caller read, so that of two platform processes
// racing on one request exactly one wins; the loser gets ErrConflict and
// reads again.
//
// Amounts (of payment requests, refunds and catalog items) are kept
// exactly up to 2^63-1, the ledger's AmountLimit; a write with an amount
// above it, which no SQL integer column holds and the platform never
// makes, is refused with an error matching ErrInvalid and writes nothing.
//
// Texts (IDs, names, currencies, states, idempotency keys, and the SKUs and
// names of a payment request's lines and the assets of its legs) are kept
// when they are UTF-8 without a NUL byte, the only text PostgreSQL takes,
// and at most MaxKeySize bytes long, what its indexes take: all the
// platform writes. A write with any other text (StorableText) is refused
// with an error matching ErrInvalid and writes nothing, an Accept's nonce
// and counter included; so is such a card ID given to Spent, which tells
// what Accept would do. Such a text given only to name a row (to read,
// find or change it: a card, merchant, asset or seller card ID, a state
// looked for, an idempotency key to finish or abandon) names none, as any
// unknown one: ErrNotFound, or none found. Nonces and tokens' hashes, also
// keys, are kept up to MaxKeySize bytes alike (CheckNonce,
// Acceptance.Check). The empty card ID, which no card has, is refused
// alike (StorableCardID) as the ID of a card written (PutCard), of the
// card whose counter Advance or Accept advances (and that Spent tells
// of), of a token's or a session's card, and of a payment request's
// seller card or payer card, which every request names from its
// insertion (Accept's Insert) on, in every state: the platform records a
// request only with both, its payer the shopper of its session
// (PROTOCOL.md §6.3), and no later write changes either (UpdatePayment).
// A refund names no card: its request's are the parties.
//
// Times are kept to the nanosecond from the start of the year 1678 (UTC) to
// April 2262, the last time whose nanoseconds since the Unix epoch an int64
// holds, the zero time standing for none; a write of another time, or of
// the Unix epoch itself (which the SQL stores would read back as the zero
// time), is refused with an error matching ErrInvalid and writes nothing
// (StorableTimes), and so is a nonce nil or empty given to Add, or empty to
// Accept (CheckNonce), which Consume never finds held. A time that a call
// only compares with those stored (the now of DuePayments, DueRefunds,
// Consume, BeginIdempotent and DeleteExpired) may be any but the zero time,
// which is refused with an error matching ErrInvalid (CheckNow), reading
// and changing nothing. The zero time kept as an expiry (of a nonce, a
// token, a session, a reply or a payment request), a lease or a due time
// (PaymentRecord.Due, RefundRecord.Due) is before every such now and every
// Acceptance's Now, one before the Unix epoch included: expired, or due
// before every other time.
//
// Errors: ErrNotFound for a missing row, ErrConflict for a lost
// compare-and-set or a clash of unique keys, ErrInvalid for an amount
// above 2^63-1, a text or a time that is not kept, a negative limit, a
// card's advertising secret that is not adv.SecretSize bytes or a record
// without a byte string it must have (see CheckCard, CheckMerchant,
// CheckCatalog, CheckPaymentUpdate, CheckRefundUpdate, CheckNonce,
// CheckBodyHash, CheckNonceKey and Acceptance.Check, which every Store
// calls before it writes), ErrKeyContended from BeginIdempotent as it
// says; anything else is the engine's error. The store also implements
// pki.NonceStore (Add, Consume) and pki.CounterStore (Advance) with the
// semantics pki documents, but for counters above 2^63-1, which Advance
// refuses (so payflow/paytest, not pki/pkitest, is the suite the stores
// pass).
type Store interface {
	// PutCard inserts or updates an enrolled card: chain, advertising
	// secret and display name are replaced; the merchant is kept when
	// c.MerchantID is empty. An advertising secret that another card has
	// is refused with ErrConflict, one that is not adv.SecretSize bytes
	// with ErrInvalid (CheckCard), and nothing is written. A card stored
	// with another certificate (a new key under the same ICCID) or another
	// advertising secret (Reenrolled) has what it confirmed or signed as
	// enrolled before withdrawn in the same write: the sessions of which
	// it is the shopper or the seller card are deleted, and the payment
	// requests that it signed or would pay that are StatePending and
	// unexpired at c.EnrolledAt (their ExpiresAt after it) are cancelled,
	// as UpdatePayment would write them: State StateCancelled, UpdatedAt
	// c.EnrolledAt, Version incremented. Its requests in any other state
	// are left as they are.
	PutCard(ctx context.Context, c *CardRecord) error
	// Card returns the card with the given ID.
	Card(ctx context.Context, id string) (*CardRecord, error)
	// Cards calls fn for every enrolled card, in card ID order (byte by
	// byte, whatever the database's collation). An error of fn ends the
	// walk: Cards calls fn no more and returns that error.
	Cards(ctx context.Context, fn func(*CardRecord) error) error

	// PutMerchant inserts or updates a merchant and makes its seller cards
	// exactly m.SellerCardIDs (which must be enrolled: ErrNotFound): a card
	// of the merchant left out is no merchant's any more, a card of
	// another merchant listed moves to this one.
	// A merchant's currency never changes: an update in another currency
	// is refused with ErrConflict, and nothing is written. The empty ID,
	// which stands for no merchant in a card's MerchantID, is refused
	// with ErrInvalid (CheckMerchant).
	PutMerchant(ctx context.Context, m *Merchant) error
	// Merchant returns a merchant with its seller cards, in card ID order,
	// as one PutMerchant left them: never the fields of one version with
	// the cards of another, whatever PutMerchant runs meanwhile.
	Merchant(ctx context.Context, id string) (*Merchant, error)
	// SetCatalog replaces a merchant's catalog: ErrNotFound for an
	// unknown merchant, and ErrConflict for items that repeat a SKU, which
	// write nothing (the catalog stays as it was).
	SetCatalog(ctx context.Context, merchantID string, items []CatalogItem) error
	// Catalog returns a merchant's catalog items in SKU order, byte by byte
	// ("B" before "a", whatever the database's collation), empty when it has
	// none; ErrNotFound for an unknown merchant.
	Catalog(ctx context.Context, merchantID string) ([]CatalogItem, error)
	// PutAsset registers an asset under its ledger code. Registering the
	// same pair again is a no-op; a name or a code already registered
	// with another partner is ErrConflict.
	PutAsset(ctx context.Context, a Asset) error
	// Asset returns the registered asset with the given name.
	Asset(ctx context.Context, name string) (Asset, error)

	// Add records a newly issued nonce as usable until expires
	// (pki.NonceStore). A nonce nil or empty, or an expiry that no Store
	// keeps, is refused with ErrInvalid (CheckNonce); a nonce that the
	// store holds already (issued, not yet consumed or deleted) with
	// ErrConflict, the one held kept with its expiry.
	Add(ctx context.Context, nonce []byte, expires time.Time) error
	// Consume removes a nonce, returning nil only if it was held and
	// unexpired at now; of several calls with one nonce at most one
	// succeeds, the others return an error matching pki.ErrNonce
	// (pki.NonceStore).
	Consume(ctx context.Context, nonce []byte, now time.Time) error
	// Advance raises a card's counter to counter if it is greater than the
	// one held, atomically; otherwise it returns a *pki.CounterError
	// (pki.CounterStore). Counters above 2^63-1, which fit no SQL integer
	// and no card reaches, are refused the same way; a card ID that no
	// Store keeps (StorableCardID: empty, or a text StorableText refuses)
	// with ErrInvalid.
	Advance(ctx context.Context, cardID string, counter uint64) error

	// NonceKey returns the key that authenticates the platform's challenge
	// nonces: the stored one or, when none is stored yet, candidate, which
	// it stores. Every process sharing the database gets the same key. An
	// empty candidate is refused with ErrInvalid (CheckNonceKey).
	NonceKey(ctx context.Context, candidate []byte) ([]byte, error)

	// Spent reads, writing nothing, whether Accept would now refuse a
	// record for its nonce or its counter: an error matching pki.ErrNonce
	// when nonce (when not nil) is marked used, else a *pki.CounterError
	// when counter is not above the card's (or above 2^63-1), else nil;
	// ErrInvalid first for a card ID that no Store keeps (StorableCardID),
	// as Accept refuses it. Accept remains the check that decides: a
	// concurrent acceptance may spend either after Spent has read them.
	Spent(ctx context.Context, nonce []byte, cardID string, counter uint64) error

	// Accept commits a card-signed record and the write of the call that
	// accepted it, in one transaction: all or nothing. It marks a.Nonce
	// (when not nil) used until a.NonceExpires, refusing a nonce already
	// marked with an error matching pki.ErrNonce; advances the card's
	// counter as Advance does; then does the write of a, if any. It
	// returns the error of the first that fails: a session stored,
	// unexpired, for other cards or with another merchant than
	// a.Session's is refused with an error matching ErrConflict (see
	// Acceptance.Session).
	Accept(ctx context.Context, a *Acceptance) error

	// Token returns the token whose hash is hash.
	Token(ctx context.Context, hash []byte) (*TokenRecord, error)

	// Session returns the session with the given ID.
	Session(ctx context.Context, id ID) (*SessionRecord, error)

	// Payment returns the payment request with the given ID.
	Payment(ctx context.Context, id ID) (*PaymentRecord, error)
	// UpdatePayment writes the mutable fields of p if the stored row still
	// has state from and version p.Version, and then increments both the
	// stored and p's Version. Otherwise it changes nothing and returns
	// ErrConflict. p's immutable fields (those Accept's Insert sets alone,
	// ExpiresAt among them) are not written and count for nothing: a
	// request written back to pending is due at its stored ExpiresAt. A
	// write that changes the state (p.State is not from) clears
	// DeferredTo, in the store and in p: a deferral is of the settlement
	// step it was made in.
	UpdatePayment(ctx context.Context, p *PaymentRecord, from string) error
	// DuePayments returns up to limit payment requests in state whose
	// due time (PaymentRecord.Due) is at or before t, oldest first:
	// ExpiresAt for pending requests, HoldExpiresAt for held ones,
	// UpdatedAt or, when later, DeferredTo for any other state. A limit
	// of zero returns none; a negative one is refused with an error
	// matching ErrInvalid (CheckDueLimit).
	DuePayments(ctx context.Context, state string, t time.Time, limit int) ([]*PaymentRecord, error)

	// UpdateRefund writes r's State, Receipt, Refunded, Failure and
	// DeferredTo if the stored refund is in state from with version
	// r.Version, and, when p is not nil, updates p as UpdatePayment(p,
	// pFrom) does, all or nothing (ErrConflict); it then increments both
	// the stored and r's Version (and p's). r's other fields must be the
	// stored ones: the SQL stores derive the refund's due time from
	// r.CreatedAt and the DeferredTo written.
	UpdateRefund(ctx context.Context, r *RefundRecord, from string, p *PaymentRecord, pFrom string) error
	// Refund returns the refund with the given ID.
	Refund(ctx context.Context, id ID) (*RefundRecord, error)
	// DueRefunds returns up to limit refunds in state RefundPending whose
	// due time (RefundRecord.Due), CreatedAt or, when later, DeferredTo,
	// is at or before t, oldest first; limit is as DuePayments's.
	DueRefunds(ctx context.Context, t time.Time, limit int) ([]*RefundRecord, error)

	// BeginIdempotent claims an idempotency key, see ReplyStore. A row
	// whose deadline (its lease while in flight, its expiry once finished)
	// is at or before now is treated as absent and replaced. A new row is
	// in flight until lease. Besides the errors of ReplyStore, it may
	// fail with ErrKeyContended (which matches ErrUnavailable) when the
	// key is released again and again while it claims it, and with
	// ErrInvalid for a key or a lease that no Store keeps (StorableText,
	// StorableTimes).
	BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*IdempotentReply, error)
	// FinishIdempotent stores the reply of a key in flight under lease
	// (the lease it was claimed with), kept until expires. A key not in
	// flight, or claimed again under another lease, is ErrNotFound; an
	// expiry that no Store keeps (StorableTimes) is ErrInvalid.
	FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error
	// AbandonIdempotent deletes a key in flight under lease (a finished
	// one, or one claimed again under another lease, is kept).
	AbandonIdempotent(ctx context.Context, key string, lease time.Time) error

	// DeleteExpired deletes nonces (issued or marked used), tokens,
	// sessions and idempotent replies that expired at or before now and
	// returns how many rows went. A store may delete them in batches,
	// each committed on its own (the SQL stores, 256 rows at a time): when
	// it fails, ctx's end included, it returns how many rows the batches
	// before deleted, with the error, and those stay deleted. It ends:
	// rows written meanwhile already expired at now (by a process whose
	// clock is behind the sweeper's) may go too but do not keep it going.
	// The SQL stores delete, of each kind, at most as many rows as had
	// expired at now when they came to it, those that expired first; the
	// memory store walks each kind once (its replies: at most as many as
	// it held, those that expired first). A row that a concurrent write
	// keeps from expiring (a key claimed again) is spared. The rows it
	// left are a later call's.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// Acceptance is what Store.Accept commits at once: the nonce and counter
// of a card-signed record and the write of the call that accepted it, if
// any: Token, Session, Insert, Update, or Refund with Update.
type Acceptance struct {
	Nonce        []byte    // the record's challenge nonce; nil when it carries none
	NonceExpires time.Time // the nonce stays marked used until then
	CardID       string
	Counter      uint64

	// Token is a login token to store by the SHA-256 of its value; a hash
	// already stored is ErrConflict.
	Token *TokenRecord
	// Session is inserted if no session has its ID, or else its
	// confirmation flags that are true are set on the stored one (never
	// clearing any), unless the stored one has expired at Now (its
	// ExpiresAt not after Now): that one is left as it is, and nothing is
	// cancelled (nonce and counter are still committed). A stored session
	// unexpired at Now whose shopper card, seller card or merchant is not
	// Session's (CheckSessionParties) is refused with an error matching
	// ErrConflict, and nothing is written, nonce and counter neither: its
	// ID names the two cards' EIDs, which a process that still holds a
	// card's former advertising secret in its card cache resolves to that
	// card, so that two pairs of cards may meet under one ID; and a
	// process that still holds a seller card's former merchant in its
	// card cache showed the shopper that merchant, whose confirmation is
	// not one of the merchant the card has moved to. The stored merchant
	// is never changed. On success Session is replaced by the stored
	// session, whose ExpiresAt tells the caller which it was.
	Session *SessionRecord
	// Now is the time of the acceptance of a Session: a stored session
	// that has expired at Now is not written, and CancelPending cancels
	// the requests unexpired at Now. The zero Now expires no session
	// (but one whose ExpiresAt is zero).
	Now time.Time
	// CancelPending goes with Session and Now (without either the
	// Acceptance is ErrInvalid): with the session's write, every payment
	// request of the session's ID that is unexpired at Now (its ExpiresAt
	// after it) and StatePending is cancelled, as UpdatePayment would
	// write it: State StateCancelled, UpdatedAt Now, Version incremented;
	// and every such one whose approval is under way (StateApproving)
	// is marked: VoidTo StateCancelled, Version incremented, nothing else
	// changed, so that a compare-and-set made on the version read before
	// (a refused hold's, which would put it back to pending) fails with
	// ErrConflict. Both are one write, so that of it and such a
	// compare-and-set on one request the second always finds the first's
	// outcome. Requests in any other state, and those due to expire, are
	// left as they are. The platform sets it for a seller card's pairing
	// proof (PROTOCOL.md §6.1).
	CancelPending bool
	// Insert is a new payment request, stored with Version 1, and then
	// replaced by the stored request. If a request with its ID exists, it
	// is left as it is (nonce and counter are still committed) and Insert
	// is replaced by it: its Request bytes tell a retry from a conflict.
	Insert *PaymentRecord
	// Update is written as UpdatePayment(Update, From) does, its Version
	// incremented when it is written.
	Update *PaymentRecord
	From   string
	// Refund is a new refund, stored together with Update (the payment's
	// reservation of the refund), both or neither, with Version 1, which
	// is then set in Refund. If a refund with its ID exists, neither is
	// written (nonce and counter are still committed) and Refund is
	// replaced by the stored one: its Request bytes tell a retry from a
	// conflict.
	Refund *RefundRecord

	// kind is the type of the record, which no store reads: the platform
	// names it when it logs a refused counter (Platform.spentError).
	kind record.Type
}

// Check returns an error matching ErrInvalid for an Acceptance that no
// Store may commit: a Refund without the Update that reserves it, a
// CancelPending without the Session and the Now it goes with, more than
// one write, an amount above 2^63-1, a text or a time that no Store keeps
// (StorableText, StorableTimes: the card ID, From, Now, the nonce's
// expiry, or a text or time of a record it writes, a payment request's
// lines and legs included) in it, an empty card ID (StorableCardID: the
// acceptance's, a token's or a session's card, a payment request's
// seller or payer card), a Nonce empty but not nil or longer
// than MaxKeySize bytes (CheckNonce), a token's hash or certificate hash
// longer than that, or a record without a byte string it must have (a
// token's hash and certificate hash, a session's EIDs, a payment
// request's or a refund's signed request and hash), nil or empty. Stores
// call it first in Accept.
func (a *Acceptance) Check() error {
	if a.Refund != nil && a.Update == nil {
		return fmt.Errorf("%w: a refund is accepted with its payment's update", ErrInvalid)
	}
	if a.CancelPending && (a.Session == nil || a.Now.IsZero()) {
		return fmt.Errorf("%w: pending requests are cancelled with their session's write, at its time", ErrInvalid)
	}
	writes := 0
	for _, w := range []bool{a.Token != nil, a.Session != nil, a.Insert != nil, a.Update != nil} {
		if w {
			writes++
		}
	}
	if writes > 1 {
		return fmt.Errorf("%w: an acceptance carries at most one write", ErrInvalid)
	}
	if err := StorableCardID(a.CardID); err != nil {
		return err
	}
	if err := StorableTimes(a.Now); err != nil { // a cancelled request's UpdatedAt
		return err
	}
	if a.Nonce != nil {
		if err := CheckNonce(a.Nonce, a.NonceExpires); err != nil {
			return err
		}
	}
	if t := a.Token; t != nil {
		if err := presentKey("token hash", t.Hash); err != nil {
			return err
		}
		if err := presentKey("token certificate hash", t.CertHash); err != nil {
			return err
		}
		if err := StorableCardID(t.CardID); err != nil {
			return err
		}
		if err := StorableTimes(t.ExpiresAt); err != nil {
			return err
		}
	}
	if r := a.Session; r != nil {
		if err := present("shopper EID", r.ShopperEID); err != nil {
			return err
		}
		if err := present("seller EID", r.SellerEID); err != nil {
			return err
		}
		if err := StorableCardID(r.ShopperCardID, r.SellerCardID); err != nil {
			return err
		}
		if err := StorableText(r.MerchantID); err != nil {
			return err
		}
		if err := StorableTimes(r.ExpiresAt); err != nil {
			return err
		}
	}
	if p := a.Insert; p != nil {
		if err := present("payment request", p.Request); err != nil {
			return err
		}
		if err := present("payment request hash", p.RequestHash); err != nil {
			return err
		}
		if err := StorableAmounts(p.Amount, p.CaptureAmount, p.Captured, p.Refunded); err != nil {
			return err
		}
		if err := StorableCardID(p.SellerCardID, p.PayerCardID); err != nil {
			return err
		}
		if err := StorableText(p.State, p.MerchantID, p.Currency, p.VoidTo); err != nil {
			return err
		}
		for _, l := range p.Lines {
			if err := StorableText(l.SKU, l.Name); err != nil {
				return err
			}
		}
		for _, l := range p.Legs {
			if err := StorableText(l.Asset); err != nil {
				return err
			}
		}
		if err := StorableTimes(p.ExpiresAt, p.CreatedAt, p.UpdatedAt, p.HoldExpiresAt, p.SettledAt, p.DeferredTo); err != nil {
			return err
		}
	}
	if p := a.Update; p != nil {
		if err := CheckPaymentUpdate(p, a.From); err != nil {
			return err
		}
	}
	if r := a.Refund; r != nil {
		if err := present("refund request", r.Request); err != nil {
			return err
		}
		if err := present("refund hash", r.Hash); err != nil {
			return err
		}
		if err := StorableAmounts(r.Amount, r.Refunded); err != nil {
			return err
		}
		if err := StorableText(r.State, r.Currency, r.Failure); err != nil {
			return err
		}
		return StorableTimes(r.CreatedAt, r.DeferredTo)
	}
	return nil
}

// CheckPaymentUpdate returns an error matching ErrInvalid for a write of
// p from state from that no Store makes: an amount above 2^63-1, a text
// or a time that no Store keeps (StorableText, StorableTimes) in p's
// mutable fields, or a text from. p's card IDs, immutable, are neither
// written nor checked: the stored ones, checked at insertion
// (Acceptance.Check), stay. Stores call it first in UpdatePayment,
// through CheckRefundUpdate in UpdateRefund for its payment and, through
// Acceptance.Check, in Accept.
func CheckPaymentUpdate(p *PaymentRecord, from string) error {
	if err := StorableAmounts(p.CaptureAmount, p.Captured, p.Refunded); err != nil {
		return err
	}
	if err := StorableText(p.State, p.VoidTo, from); err != nil {
		return err
	}
	return StorableTimes(p.UpdatedAt, p.HoldExpiresAt, p.SettledAt, p.DeferredTo)
}

// CheckRefundUpdate returns an error matching ErrInvalid for a write of r
// from state from, with p from state pFrom when p is not nil, that no
// Store makes: an amount above 2^63-1, a text or a time that no Store
// keeps (StorableText, StorableTimes) in r's fields that UpdateRefund
// writes, or a text from, or a write of p that CheckPaymentUpdate
// refuses. Stores call it first in UpdateRefund.
func CheckRefundUpdate(r *RefundRecord, from string, p *PaymentRecord, pFrom string) error {
	if err := StorableAmounts(r.Refunded); err != nil {
		return err
	}
	if err := StorableText(r.State, r.Failure, from); err != nil {
		return err
	}
	if err := StorableTimes(r.DeferredTo); err != nil {
		return err
	}
	if p != nil {
		return CheckPaymentUpdate(p, pFrom)
	}
	return nil
}

// CheckNonce returns an error matching ErrInvalid for a nonce that no
// Store keeps: nil or empty (one key in a map, NULL and an empty string
// in SQL), longer than MaxKeySize bytes, or expiring at a time that no
// Store keeps (StorableTimes). Stores call it first in Add and, through
// Acceptance.Check, for the nonce of Accept (nil there says the record
// carries none).
func CheckNonce(nonce []byte, expires time.Time) error {
	if err := presentKey("nonce", nonce); err != nil {
		return err
	}
	return StorableTimes(expires)
}

// StorableTimes returns an error matching ErrInvalid when one of ts, not
// the zero time (which stands for none), is a time that a SQL Store would
// not read back as it is, or not tell from a time that it only compares
// with those kept: the Unix epoch itself, kept as the zero time; one after
// 2262, whose nanoseconds since the epoch no int64 holds; or one before
// 1678 (UTC), among them the first whose nanoseconds an int64 holds
// (math.MinInt64, in September 1677), which stands in the SQL stores for
// every now before it, and so is before every time kept. A Store checks
// the times of its writes with it.
func StorableTimes(ts ...time.Time) error {
	for _, t := range ts {
		if t.IsZero() {
			continue
		}
		if n := t.UnixNano(); n == 0 || t.Before(firstStorable) || !time.Unix(0, n).Equal(t) {
			return fmt.Errorf("%w: time %v not kept", ErrInvalid, t)
		}
	}
	return nil
}

// firstStorable is the first time that StorableTimes takes.
var firstStorable = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)

// CheckCard returns an error matching ErrInvalid for a card that no Store
// may keep: one whose advertising secret is not adv.SecretSize bytes (an
// error that also matches adv.ErrSecret), which the EID resolver would
// refuse, or whose ID, display name or merchant ID is a text that no
// Store keeps (StorableText), or whose enrolment time is a time that no
// Store keeps (StorableTimes). Stores call it first in PutCard.
func CheckCard(c *CardRecord) error {
	if len(c.AdvSecret) != adv.SecretSize {
		return fmt.Errorf("%w: %w", ErrInvalid, adv.ErrSecret)
	}
	if err := StorableCardID(c.ID); err != nil {
		return err
	}
	if err := StorableText(c.DisplayName, c.MerchantID); err != nil {
		return err
	}
	return StorableTimes(c.EnrolledAt)
}

// Reenrolled reports whether card c, written over the stored card old,
// has another card certificate (the first of the chain; none when the
// chain is empty) or another advertising secret: what PutCard withdraws
// the card's sessions and pending requests for. A session is named by
// the EIDs of its cards (SessionID), which the secret derives, so that a
// card given a new secret, and another card given its former one, must
// not find its sessions again. The secrets are compared in constant time.
func Reenrolled(old, c *CardRecord) bool {
	var a, b []byte
	if len(old.Chain) > 0 {
		a = old.Chain[0]
	}
	if len(c.Chain) > 0 {
		b = c.Chain[0]
	}
	return !bytes.Equal(a, b) || subtle.ConstantTimeCompare(old.AdvSecret, c.AdvSecret) != 1
}

// CheckSessionParties returns an error matching ErrConflict when stored,
// a stored session of the ID of a.Session, is unexpired at a.Now (its
// ExpiresAt after it) and names another shopper card, another seller
// card or another merchant than a.Session, and nil when its cards and
// merchant are a.Session's or stored has expired, which an acceptance
// leaves as it is. The error's text names no card ID and no merchant.
// Stores call it in Accept for the stored session that an acceptance of a
// Session meets.
func CheckSessionParties(stored *SessionRecord, a *Acceptance) error {
	r := a.Session
	switch {
	case !stored.ExpiresAt.After(a.Now):
		return nil
	case stored.ShopperCardID != r.ShopperCardID || stored.SellerCardID != r.SellerCardID:
		// The error reaches the pairing card (its message is the
		// reply's): it names no card, which would tell one card
		// another's ID.
		return fmt.Errorf("%w: session %x is stored for another pair of cards", ErrConflict, stored.ID[:])
	case stored.MerchantID != r.MerchantID:
		return fmt.Errorf("%w: session %x is stored with another merchant", ErrConflict, stored.ID[:])
	}
	return nil
}

// CheckMerchant returns an error matching ErrInvalid for a merchant whose
// ID is empty (which stands for no merchant in CardRecord.MerchantID), or
// whose ID, name or currency is a text that no Store keeps
// (StorableText); its seller card IDs are only looked up (such an ID
// names no card: ErrNotFound). Stores call it first in PutMerchant.
func CheckMerchant(m *Merchant) error {
	if m.ID == "" {
		return fmt.Errorf("%w: empty merchant ID, which stands for no merchant", ErrInvalid)
	}
	return StorableText(m.ID, m.Name, m.Currency)
}

// CheckCatalog returns an error matching ErrInvalid for catalog items that
// no Store keeps: a price above 2^63-1, or a SKU or name that is a text
// no Store keeps (StorableText). Stores call it first in SetCatalog.
func CheckCatalog(items []CatalogItem) error {
	for _, it := range items {
		if err := StorableAmounts(it.UnitPrice); err != nil {
			return err
		}
		if err := StorableText(it.SKU, it.Name); err != nil {
			return err
		}
	}
	return nil
}

// MaxKeySize is the most bytes of a text (StorableText), a nonce
// (CheckNonce) or a token's hash (Acceptance.Check) that a Store keeps:
// any of them may be the key of an index, and PostgreSQL refuses an index
// entry of more than about 2.7 KB (a third of a B-tree page), some of its
// indexes holding two texts (a merchant ID with a card ID or a SKU). The
// platform's own are far shorter: record.MaxText bytes, or a SHA-256.
const MaxKeySize = 1024

// StorableText returns an error matching ErrInvalid when one of texts is
// not UTF-8, holds a NUL byte or is longer than MaxKeySize bytes: text
// that no Store keeps, since PostgreSQL refuses it (see Store). A Store
// checks the texts of its writes with it.
func StorableText(texts ...string) error {
	for _, t := range texts {
		if len(t) > MaxKeySize {
			return fmt.Errorf("%w: text of %d bytes, more than %d", ErrInvalid, len(t), MaxKeySize)
		}
		if !utf8.ValidString(t) || strings.IndexByte(t, 0) >= 0 {
			return fmt.Errorf("%w: text %q not UTF-8 or holding a NUL byte", ErrInvalid, t)
		}
	}
	return nil
}

// StorableCardID returns an error matching ErrInvalid when one of ids is
// empty, which no card is (a card ID is an ICCID), or not a text a Store
// keeps (StorableText). A Store checks with it the IDs of the cards that
// its writes are of: PutCard's card, the card whose counter Advance and
// Accept advance and Spent tells of, a token's card, a session's two and
// an inserted payment request's two (its seller card and its payer card).
func StorableCardID(ids ...string) error {
	for _, id := range ids {
		if id == "" {
			return fmt.Errorf("%w: empty card ID", ErrInvalid)
		}
	}
	return StorableText(ids...)
}

// CheckBodyHash returns an error matching ErrInvalid for an empty body
// hash, which no ReplyStore may keep. Stores call it first in
// BeginIdempotent.
func CheckBodyHash(bodyHash []byte) error {
	return present("body hash", bodyHash)
}

// CheckNonceKey returns an error matching ErrInvalid for an empty nonce
// key candidate, which no Store may keep. Stores call it first in
// NonceKey.
func CheckNonceKey(candidate []byte) error {
	return present("nonce key", candidate)
}

// present returns an error matching ErrInvalid when b, a byte string that
// a record must have, is nil or empty: SQL stores keep it in a NOT NULL
// column, and the memory store refuses it alike.
func present(field string, b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: no %s", ErrInvalid, field)
	}
	return nil
}

// presentKey returns an error matching ErrInvalid when b, a byte string
// that a record must have and that a Store keeps as a key, is nil, empty
// (present) or longer than MaxKeySize bytes.
func presentKey(field string, b []byte) error {
	if len(b) > MaxKeySize {
		return fmt.Errorf("%w: %s of %d bytes, more than %d", ErrInvalid, field, len(b), MaxKeySize)
	}
	return present(field, b)
}

// CheckDueLimit returns an error matching ErrInvalid for a negative limit of
// Store.DuePayments or Store.DueRefunds, which every Store refuses with
// it: SQL engines read LIMIT -1 differently, none of them as an error of
// the caller. Stores call it first in both, and Platform.ExpireDue and
// Platform.RecoverSweep before they sweep.
func CheckDueLimit(limit int) error {
	if limit < 0 {
		return fmt.Errorf("%w: negative limit %d", ErrInvalid, limit)
	}
	return nil
}

// CheckNow returns an error matching ErrInvalid for the zero time given as
// the now of Store.DuePayments, Store.DueRefunds, Store.Consume,
// Store.BeginIdempotent or Store.DeleteExpired, which every Store refuses
// with it: the zero time stands for none in a stored time, and is before
// every time stored in one Store, the Unix epoch in the others. Stores
// call it in those before they read or write anything.
func CheckNow(now time.Time) error {
	if now.IsZero() {
		return fmt.Errorf("%w: the zero time as now", ErrInvalid)
	}
	return nil
}

// ErrKeyContended is the error of BeginIdempotent when the key it found
// held was gone by the time it read it (released by its holder, or
// deleted as expired), three times running: others claim and release the
// key faster than the store can tell the caller what holds it. It matches
// ErrUnavailable, so that the HTTP API answers 503 unavailable and the
// client sends the request again later.
var ErrKeyContended = fmt.Errorf("%w: idempotency key released again and again while being claimed", ErrUnavailable)

// StorableAmounts returns an error matching ErrInvalid when one of vs is
// above 2^63-1, which a Store does not keep (see Store); a Store checks
// the amounts of its writes with it.
func StorableAmounts(vs ...uint64) error {
	for _, v := range vs {
		if v > math.MaxInt64 {
			return fmt.Errorf("%w: amount %d above 2^63-1", ErrInvalid, v)
		}
	}
	return nil
}

// CardRecord is an enrolled card as the store keeps it.
type CardRecord struct {
	ID          string   // ICCID
	Chain       [][]byte // DER certificates, card first, root excluded
	AdvSecret   []byte   // the advertising secret, adv.SecretSize bytes
	DisplayName string
	MerchantID  string // set for a seller card
	EnrolledAt  time.Time
}

// Merchant is a payee: its ledger accounts are in Currency, its seller
// cards sign its payment requests and refunds.
type Merchant struct {
	ID       string
	Name     string
	Currency string // ISO 4217 alphabetic code
	// ManualCapture keeps approved payments held until Capture; by default
	// they are captured at once.
	ManualCapture bool
	SellerCardIDs []string
}

// Asset is a registered asset, such as a kind of e-ticket: legs of payment
// requests name it, and its units live in the ledger numbered Ledger,
// which is above 999 so that it never clashes with an ISO 4217 currency.
type Asset struct {
	Name   string
	Ledger uint32
}

// TokenRecord is a login token, stored by the SHA-256 of its value. It
// is bound to the certificate that its login was proved with: CertHash is
// the SHA-256 of that card certificate (DER, the first of the card's
// chain), and the token serves only while the card is enrolled with that
// certificate (Platform.Login).
type TokenRecord struct {
	Hash      []byte
	CardID    string
	CertHash  []byte
	ExpiresAt time.Time
}

// SessionRecord is a session between a shopper card and a seller card.
type SessionRecord struct {
	ID               ID
	ShopperCardID    string
	SellerCardID     string
	MerchantID       string
	ShopperEID       []byte
	SellerEID        []byte
	ShopperConfirmed bool
	SellerConfirmed  bool
	ExpiresAt        time.Time
}

// Internal states of a payment request, besides the public ones
// (StatePending, StateHeld, StateCaptured, StateDeclined, StateCancelled,
// StateExpired). They mark a settlement under way in the ledger, which
// RecoverSweep completes after a crash. No view shows them.
// StateApproving is exported for the stores, which keep the requests
// approving of a session for its pairing's cancellation
// (Acceptance.CancelPending), and for readers of PaymentRecord.State.
const (
	StateApproving = "approving" // consent recorded, hold being placed
	stateCapturing = "capturing" // hold being posted
	stateVoiding   = "voiding"   // hold being voided (towards VoidTo)
)

// PaymentRecord is a payment request as the store keeps it. Its optional
// fields (Lines, Legs, Consent, ConsentHash, Receipt) read back as nil
// when they were written empty; so does a RefundRecord's Receipt.
type PaymentRecord struct {
	ID            ID
	SessionID     ID
	State         string
	Version       uint64
	MerchantID    string
	SellerCardID  string
	PayerCardID   string
	Currency      string
	Amount        uint64
	Lines         []Line
	Legs          []AssetLeg
	Request       []byte // the seller-signed COSE_Sign1
	RequestHash   []byte
	ManualCapture bool
	ExpiresAt     time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// Attempt numbers the holds placed: the ledger IDs of a hold derive
	// from it, and a hold refused for lack of funds is retried under the
	// next number.
	Attempt       uint32
	Consent       []byte
	ConsentHash   []byte
	HoldExpiresAt time.Time
	CaptureAmount uint64 // asked for while capturing
	Captured      uint64
	Refunded      uint64 // reserved or made
	// VoidTo is the final state after voiding; while approving, it is
	// StateCancelled once the session's seller card paired again
	// (Acceptance.CancelPending): a hold then refused ends the request
	// cancelled rather than pending. The platform clears it when it moves
	// a request from pending to approving.
	VoidTo    string
	Receipt   []byte
	SettledAt time.Time
	// DeferredTo, when later than UpdatedAt, stands for it as the due
	// time of a settlement under way (approving, capturing or voiding,
	// see DuePayments): RecoverSweep sets it after a try that failed, so
	// that the request waits longer before the next one and the sweep
	// reaches the others meanwhile. A write that changes the state
	// clears it (UpdatePayment).
	DeferredTo time.Time
}

// Due returns the time at which Store.DuePayments finds p in its state:
// ExpiresAt for a pending request, HoldExpiresAt for a held one, UpdatedAt
// or, when later, DeferredTo for any other state.
func (p *PaymentRecord) Due() time.Time {
	switch p.State {
	case StatePending:
		return p.ExpiresAt
	case StateHeld:
		return p.HoldExpiresAt
	}
	return later(p.UpdatedAt, p.DeferredTo)
}

// expired reports whether t, kept as an expiry, a lease or a due time,
// has come at now: at now or before it, and the zero time (none) at every
// now, one before the zero time itself included (see Store).
func expired(t, now time.Time) bool { return t.IsZero() || !now.Before(t) }

// later returns the later of a and b: a when b, the zero time (none), is
// before every time a holds.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Refund states.
const (
	RefundPending = "pending" // amount reserved, ledger transfer under way
	RefundDone    = "done"
	RefundFailed  = "failed" // the ledger refused it, or holds its ID as another transfer (Failure says which)
)

// RefundRecord is a refund as the store keeps it.
type RefundRecord struct {
	ID        ID
	RequestID ID
	State     string
	// Version is 1 when the refund is stored and incremented by every
	// UpdateRefund, whose compare-and-set checks it: a pending refund
	// changes while it stays pending (DeferredTo).
	Version  uint64
	Amount   uint64
	Currency string
	Request  []byte // the seller-signed COSE_Sign1 refund request
	Hash     []byte
	// Refunded is the total of the request's refunds made or pending when
	// this one was accepted, this one included; one failing later is not
	// taken off.
	Refunded uint64
	Receipt  []byte
	// Failure is, for a failed refund, the error code of the ledger's
	// refusal, "insufficient_funds" or "over_limit", or "conflict" when
	// the ledger holds its transfer ID as a transfer with other fields.
	Failure   string
	CreatedAt time.Time
	// DeferredTo, when later than CreatedAt, stands for it as the due
	// time of a pending refund (DueRefunds): RecoverSweep sets it after a
	// try that failed, as PaymentRecord.DeferredTo.
	DeferredTo time.Time
}

// Due returns the time at which Store.DueRefunds finds r, pending:
// CreatedAt or, when later, DeferredTo.
func (r *RefundRecord) Due() time.Time { return later(r.CreatedAt, r.DeferredTo) }

// IdempotentReply is what BeginIdempotent found under a key: nil when the
// caller holds the key now and must run the request, or the stored reply
// of the first request with the same key and body.
type IdempotentReply struct {
	Status int
	Reply  []byte // empty, not nil, for a reply stored without a body
}
