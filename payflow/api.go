package payflow

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// API is the platform as the phones see it. *Platform implements it in
// process and *Client implements it over HTTP, so Shopper and Seller work
// with either. Calls that change state are idempotent by the client-chosen
// IDs they carry (request and refund IDs) or, over HTTP, by the
// Idempotency-Key header. Methods that take a token need the bearer token
// of a card that logged in (Login); the token of a card whose certificate
// has been revoked since, or has expired since (once a login of the card
// is refused for it), is ErrCard on every one of them, the error a login
// of the card gets, and changes nothing; so is the token of a card that
// the platform's store no longer holds (whose login is ErrSignature, as
// that of any card the platform does not hold), or enrolled since with
// another certificate than the one its login was proved with.
//
// The calls that take no token tell no one which card IDs the platform
// holds: Challenge gives a nonce for any card ID of the form that records
// carry, and a record under a card ID that the platform does not hold is
// ErrSignature, with the reply of a record under an enrolled card's ID
// that its key did not sign, and spends nothing.
//
// Errors match the sentinel errors of this package with errors.Is, in
// process and over HTTP alike. A call given a nil request fails with an
// error matching ErrInvalid that names the request ("nil capture request"
// for Capture) and changes nothing; a Client sends nothing.
type API interface {
	// Challenge returns a fresh one-time nonce for the card to sign: for
	// any card ID of the form of record.CheckCardID, enrolled or not
	// (ErrInvalid for another).
	Challenge(ctx context.Context, req *ChallengeRequest) (*ChallengeResponse, error)
	// Login checks a card-signed AuthProof whose PeerEID is all zero and
	// returns a bearer token for the card. Over HTTP its reply is never
	// stored for an Idempotency-Key: a resent proof is ErrReplay.
	Login(ctx context.Context, req *LoginRequest) (*LoginResponse, error)
	// Resolve turns an EID seen over the air into the counterparty's
	// display name. Rate-limited per card, over all its tokens. An EID
	// that is unknown, stale, or of a card whose certificate is revoked
	// is ErrNotFound, the same answer for all three. A shopper card's EID
	// is named to seller cards only: to a shopper card (one of no
	// merchant) it is that ErrNotFound too, so that shoppers cannot name
	// one another.
	Resolve(ctx context.Context, token string, req *ResolveRequest) (*ResolveResponse, error)
	// Pair records a card-signed AuthProof naming the peer's EID. The
	// session is paired once both cards have named each other; until
	// then its view shows the signing card no card ID of the peer
	// (SessionView). A shopper card's proof naming another shopper
	// card's EID is ErrNotFound, as one naming an unknown EID, as
	// Resolve answers it. The seller card's proof cancels the session's
	// pending payment requests. A proof into a session that has expired
	// is ErrExpired, spent, and changes nothing else.
	Pair(ctx context.Context, req *PairRequest) (*SessionView, error)
	// Session returns the current state of a session one of whose cards
	// holds the token, as that card sees it (SessionView). A session one
	// of whose cards' certificates is revoked (listed in the platform's
	// CRLs, and refused by a login's chain verification) is ErrNotFound
	// to its other card, the same answer as for an unknown session, and
	// so is the view Pair answers for it. A session of two other cards
	// is ErrNotFound that way too.
	Session(ctx context.Context, token string, id ID) (*SessionView, error)
	// Catalog returns a merchant's catalog.
	Catalog(ctx context.Context, token string, merchantID string) (*Catalog, error)
	// CreateRequest records a seller-card-signed PaymentRequest.
	CreateRequest(ctx context.Context, req *CreateRequest) (*PaymentView, error)
	// Payment returns the payment screen of a request for its payer's
	// card or any seller card of its merchant (ErrForbidden for another
	// card); for the payer of a pending request it carries a fresh consent
	// nonce. A pending request whose seller card's or shopper card's
	// certificate is revoked is cancelled by the first call that reads it.
	Payment(ctx context.Context, token string, id ID) (*PaymentView, error)
	// Approve records the shopper-card-signed Consent, settles the payment
	// in the ledger and returns the view: captured with the signed
	// receipt, or held, without one, when the merchant captures manually. A
	// pending request whose seller card's certificate is revoked is
	// cancelled by the first call that reads it, and a consent to it is
	// ErrFinal.
	Approve(ctx context.Context, req *ApproveRequest) (*PaymentView, error)
	// Decline ends a pending request on the payer's word.
	Decline(ctx context.Context, token string, id ID) (*PaymentView, error)
	// Cancel ends a pending or held request on the seller's word; a hold is
	// voided.
	Cancel(ctx context.Context, token string, id ID) (*PaymentView, error)
	// Capture captures a held payment (manual capture), up to the held
	// amount.
	Capture(ctx context.Context, token string, req *CaptureRequest) (*PaymentView, error)
	// Refund records a seller-card-signed RefundRequest and returns the
	// refund with its signed receipt.
	Refund(ctx context.Context, req *RefundRequest) (*RefundView, error)
	// Info returns the platform's receipt-signing certificate chain, for
	// phones to verify receipts offline.
	Info(ctx context.Context) (*Info, error)
}

// ID is a 128-bit identifier chosen by the client (payment requests,
// refunds) or derived by the platform (sessions). Its text form is 32
// lower-case hexadecimal digits.
type ID [16]byte

// String returns the hexadecimal form of id.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is all zero, which no valid object has.
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses the form of an ID that String gives: 32 lower-case
// hexadecimal digits (one ID has one form, so that it names one path).
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 32 || strings.ContainsAny(s, "ABCDEF") {
		return id, fmt.Errorf("%w: ID must be 32 lower-case hexadecimal digits", ErrInvalid)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: ID must be 32 lower-case hexadecimal digits", ErrInvalid)
	}
	return id, nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ChallengeRequest asks for a nonce for a card.
type ChallengeRequest struct {
	CardID string `cbor:"1,keyasint"`
}

// ChallengeResponse carries a nonce valid once, until ExpiresAt. Over
// HTTP ExpiresAt is rounded down to a whole second (PROTOCOL.md §5.1): a
// phone that goes by it asks for a new challenge up to a second early.
type ChallengeResponse struct {
	Nonce     []byte    `cbor:"1,keyasint"`
	ExpiresAt time.Time `cbor:"2,keyasint"`
}

// LoginRequest carries a COSE_Sign1 AuthProof with an all-zero PeerEID.
type LoginRequest struct {
	Proof []byte `cbor:"1,keyasint"`
}

// LoginResponse carries the bearer token of the card and who it is. The
// token is valid until ExpiresAt, which over HTTP is rounded down to a
// whole second (PROTOCOL.md §5.1): a phone logs in again up to a second
// before the platform stops taking the token.
type LoginResponse struct {
	Token       string    `cbor:"1,keyasint"`
	CardID      string    `cbor:"2,keyasint"`
	DisplayName string    `cbor:"3,keyasint"`
	MerchantID  string    `cbor:"4,keyasint,omitempty"` // set for a seller card
	ExpiresAt   time.Time `cbor:"5,keyasint"`
}

// ResolveRequest names an EID seen over the air.
type ResolveRequest struct {
	EID []byte `cbor:"1,keyasint"`
}

// ResolveResponse is the counterparty behind an EID, as the cloud knows it.
type ResolveResponse struct {
	DisplayName string `cbor:"1,keyasint"`
	Role        uint8  `cbor:"2,keyasint"` // 1 shopper, 2 seller
	MerchantID  string `cbor:"3,keyasint,omitempty"`
}

// PairRequest carries a COSE_Sign1 AuthProof naming the peer's EID.
type PairRequest struct {
	Proof []byte `cbor:"1,keyasint"`
}

// Session states.
const (
	SessionWaiting = "waiting" // one card has named the other
	SessionPaired  = "paired"  // both cards have named each other
)

// SessionView is what both confirmation screens show, as the card that
// asks sees it. A waiting session shows that card's own card ID and
// leaves the other card's empty, so that a card learns the card ID behind
// an EID that it heard (which would link that card's EIDs across epochs)
// only once that card has named it too: a paired session shows both card
// IDs. The merchant ID and the names show in either state. ExpiresAt is
// when the session expires: a pairing proof into it or a payment request
// in it from then on is ErrExpired. Over HTTP ExpiresAt is rounded up to
// the next whole second (PROTOCOL.md §5.1), so that it is never before
// the platform's: the session then expires within the second before it.
type SessionView struct {
	ID            ID        `cbor:"1,keyasint"`
	State         string    `cbor:"2,keyasint"`
	PairingCode   string    `cbor:"3,keyasint"`
	ShopperCardID string    `cbor:"4,keyasint"`
	SellerCardID  string    `cbor:"5,keyasint"`
	MerchantID    string    `cbor:"6,keyasint"`
	ShopperName   string    `cbor:"7,keyasint"`
	MerchantName  string    `cbor:"8,keyasint"`
	ExpiresAt     time.Time `cbor:"9,keyasint"`
}

// CatalogItem is a SKU with its display name and unit price.
type CatalogItem struct {
	SKU       string `cbor:"1,keyasint"`
	Name      string `cbor:"2,keyasint"`
	UnitPrice uint64 `cbor:"3,keyasint"` // minor units of the catalog currency
}

// Catalog is a merchant's price list in one currency.
type Catalog struct {
	MerchantID string        `cbor:"1,keyasint"`
	Currency   string        `cbor:"2,keyasint"`
	Items      []CatalogItem `cbor:"3,keyasint"`
}

// CreateRequest carries a COSE_Sign1 PaymentRequest signed by a seller card.
type CreateRequest struct {
	Request []byte `cbor:"1,keyasint"`
}

// ApproveRequest carries a COSE_Sign1 Consent signed by the payer's card.
type ApproveRequest struct {
	Consent []byte `cbor:"1,keyasint"`
}

// CaptureRequest captures Amount of a held payment; zero captures it all.
type CaptureRequest struct {
	RequestID ID     `cbor:"1,keyasint"`
	Amount    uint64 `cbor:"2,keyasint,omitempty"`
}

// RefundRequest carries a COSE_Sign1 RefundRequest signed by the seller card.
type RefundRequest struct {
	Refund []byte `cbor:"1,keyasint"`
}

// Payment request states. Pending and Held change; the others are final.
const (
	StatePending   = "pending"   // waiting for the shopper
	StateHeld      = "held"      // consented, funds on hold (manual capture)
	StateCaptured  = "captured"  // settled; refunds may follow
	StateDeclined  = "declined"  // the shopper said no
	StateCancelled = "cancelled" // the seller withdrew it (a hold is voided), its seller card paired again, or its seller or shopper card was revoked
	StateExpired   = "expired"   // nobody acted in time (a hold is voided)
)

// Line is a priced line of a payment screen.
type Line struct {
	SKU       string `cbor:"1,keyasint"`
	Name      string `cbor:"2,keyasint"`
	Quantity  uint64 `cbor:"3,keyasint"`
	UnitPrice uint64 `cbor:"4,keyasint"`
	Amount    uint64 `cbor:"5,keyasint"`
}

// AssetLeg is an asset that moves from seller to shopper with the payment.
type AssetLeg struct {
	Asset  string `cbor:"1,keyasint"`
	Amount uint64 `cbor:"2,keyasint"`
}

// PaymentView is a payment request as the cloud holds it: the payment screen
// of the shopper and the status screen of the seller. ExpiresAt is when
// the request expires unless it was approved: a consent from then on is
// refused. Over HTTP it is rounded up to the next whole second, as
// HoldExpiresAt is.
type PaymentView struct {
	ID            ID         `cbor:"1,keyasint"`
	SessionID     ID         `cbor:"2,keyasint"`
	State         string     `cbor:"3,keyasint"`
	MerchantID    string     `cbor:"4,keyasint"`
	MerchantName  string     `cbor:"5,keyasint"`
	PayerCardID   string     `cbor:"6,keyasint"`
	Currency      string     `cbor:"7,keyasint"`
	Amount        uint64     `cbor:"8,keyasint"`
	Lines         []Line     `cbor:"9,keyasint,omitempty"`
	Legs          []AssetLeg `cbor:"10,keyasint,omitempty"`
	Request       []byte     `cbor:"11,keyasint"` // the seller-signed COSE_Sign1 request
	RequestHash   []byte     `cbor:"12,keyasint"` // record.Hash(Request): what the consent binds
	ConsentNonce  []byte     `cbor:"13,keyasint,omitempty"`
	ExpiresAt     time.Time  `cbor:"14,keyasint"`
	Captured      uint64     `cbor:"15,keyasint,omitempty"`
	Refunded      uint64     `cbor:"16,keyasint,omitempty"` // the refunds made or pending (reserved)
	Receipt       []byte     `cbor:"17,keyasint,omitempty"` // platform-signed COSE_Sign1 receipt
	ManualCapture bool       `cbor:"18,keyasint,omitempty"`
	// HoldExpiresAt is, for a held request, when its hold expires and the
	// request with it (zero otherwise): a capture or cancellation from
	// then on is ErrExpired. Over HTTP it is rounded up to the next whole
	// second (PROTOCOL.md §5.1), so that it is never before the platform's:
	// the hold then expires within the second before it.
	HoldExpiresAt time.Time `cbor:"19,keyasint,omitzero"`
}

// RefundView is a refund with its platform-signed receipt.
type RefundView struct {
	ID        ID     `cbor:"1,keyasint"`
	RequestID ID     `cbor:"2,keyasint"`
	Amount    uint64 `cbor:"3,keyasint"`
	Currency  string `cbor:"4,keyasint"`
	// Refunded is the total of the request's refunds made or pending when
	// this one was accepted, this one included; one failing later is not
	// taken off.
	Refunded uint64 `cbor:"5,keyasint"`
	Receipt  []byte `cbor:"6,keyasint"`
}

// Info names the platform's receipt-signing certificate chain (DER, leaf
// first, the root left out: phones verify it against the roots they
// trust).
type Info struct {
	Chain [][]byte `cbor:"1,keyasint"`
}

// Sentinel errors. Every error of the platform, in process or over HTTP,
// matches exactly one of them; *Error carries the code and a message. A
// call that the ledger fails returns ErrUnavailable wrapping the ledger's
// error, which errors.Is and errors.As find in process.
var (
	ErrInvalid      = errors.New("payflow: invalid request")
	ErrUnauthorized = errors.New("payflow: unauthorized")
	ErrForbidden    = errors.New("payflow: forbidden")
	ErrNotFound     = errors.New("payflow: not found")
	ErrSignature    = errors.New("payflow: bad signature")
	ErrCard         = errors.New("payflow: card not trusted")
	ErrClone        = errors.New("payflow: card counter regression")
	ErrReplay       = errors.New("payflow: nonce already used or unknown")
	ErrExpired      = errors.New("payflow: expired")
	ErrFinal        = errors.New("payflow: request already in a final state")
	ErrMismatch     = errors.New("payflow: does not match the request")
	ErrFunds        = errors.New("payflow: insufficient funds")
	ErrLimit        = errors.New("payflow: over limit")
	ErrRateLimited  = errors.New("payflow: rate limited")
	ErrConflict     = errors.New("payflow: conflicting request")
	ErrInFlight     = errors.New("payflow: request with this idempotency key in flight")
	ErrKeyReuse     = errors.New("payflow: idempotency key reused with another body")
	ErrUnavailable  = errors.New("payflow: unavailable")
	ErrInternal     = errors.New("payflow: internal error")
)

// errorCode is a sentinel error with its wire code and HTTP status.
type errorCode struct {
	err    error
	code   string
	status int
}

// errorCodes maps each sentinel error to its wire code and HTTP status.
var errorCodes = []errorCode{
	{ErrInvalid, "invalid", 400},
	{ErrUnauthorized, "unauthorized", 401},
	{ErrForbidden, "forbidden", 403},
	{ErrNotFound, "not_found", 404},
	{ErrSignature, "bad_signature", 400},
	{ErrCard, "card_not_trusted", 403},
	{ErrClone, "card_counter_regression", 403},
	{ErrReplay, "nonce_replayed", 409},
	{ErrExpired, "expired", 410},
	{ErrFinal, "final_state", 409},
	{ErrMismatch, "mismatch", 422},
	{ErrFunds, "insufficient_funds", 402},
	{ErrLimit, "over_limit", 422},
	{ErrRateLimited, "rate_limited", 429},
	{ErrConflict, "conflict", 409},
	{ErrInFlight, "idempotency_in_flight", 409},
	{ErrKeyReuse, "idempotency_key_reused", 422},
	{ErrUnavailable, "unavailable", 503},
	{ErrInternal, "internal", 500},
}

// Error is the error body of the HTTP API and the structured form of every
// platform error: a stable code, the HTTP status and a human message. It
// matches the sentinel of its code with errors.Is; an *Error of a code
// that is none of the sentinels' matches none, and AsError makes it
// internal, as it does a nil *Error (which matches none either).
type Error struct {
	Code    string `cbor:"1,keyasint"`
	Message string `cbor:"2,keyasint"`
	Status  int    `cbor:"-"`
	// RequestID, set by Client, is the X-Request-ID the call was sent
	// with (the same on every attempt), under which the platform logged it.
	RequestID string `cbor:"-"`
}

// Error returns "payflow: code: message", or "payflow: nil *Error" for a
// nil e.
func (e *Error) Error() string {
	if e == nil {
		return "payflow: nil *Error"
	}
	return "payflow: " + e.Code + ": " + e.Message
}

// Is reports whether target is the sentinel error of e's code; an
// unknown code has none, and neither has a nil e.
func (e *Error) Is(target error) bool {
	if e == nil {
		return false
	}
	c, ok := codeEntry(e.Code)
	return ok && c.err == target
}

// codeEntry returns the entry of errorCodes of a wire code; ok is false
// when the code is none of theirs.
func codeEntry(code string) (errorCode, bool) {
	for _, c := range errorCodes {
		if c.code == code {
			return c, true
		}
	}
	return errorCode{}, false
}

// AsError converts any error into an *Error by the first of its tree, in
// the order errors.Is and errors.As walk it (the error, then what it
// wraps, depth first), that is an *Error of a known code (or gives one
// through an As method, as errors.As takes it), returned as is, or that
// matches a sentinel, whose code and status it gets; so an error
// made with fmt.Errorf("%w: %w", ErrUnavailable, cause) is unavailable
// whatever its cause wraps. Anything else, an *Error of an unknown code
// or a nil *Error too, is internal (and its text is not exposed). A nil
// error, no failure, is nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	if e, c, ok := firstCode(err); ok {
		if e != nil {
			return e
		}
		return &Error{Code: c.code, Message: err.Error(), Status: c.status}
	}
	return &Error{Code: "internal", Message: serverMessages["internal"], Status: 500}
}

// firstCode finds the first error of err's tree, depth first, that is an
// *Error of a known code or has one for errors.As (e), or matches a
// sentinel itself, as errors.Is compares one error (c); ok is false when
// none does. A nil *Error is of no code and matches no sentinel.
func firstCode(err error) (e *Error, c errorCode, ok bool) {
	pe, is := err.(*Error)
	if as, asable := err.(interface{ As(any) bool }); !is && asable {
		is = as.As(&pe)
	}
	if is && pe != nil {
		if c, known := codeEntry(pe.Code); known {
			return pe, c, true
		}
	}
	matcher, _ := err.(interface{ Is(error) bool })
	for _, c := range errorCodes {
		if err == c.err || matcher != nil && matcher.Is(c.err) {
			return nil, c, true
		}
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if next := u.Unwrap(); next != nil {
			return firstCode(next)
		}
	case interface{ Unwrap() []error }:
		for _, next := range u.Unwrap() {
			if next == nil {
				continue
			}
			if e, c, ok := firstCode(next); ok {
				return e, c, true
			}
		}
	}
	return nil, errorCode{}, false
}

// isSentinel reports whether err is one of the sentinel errors of
// errorCodes.
func isSentinel(err error) bool {
	for _, c := range errorCodes {
		if err == c.err {
			return true
		}
	}
	return false
}

// serverMessages holds the codes of the platform's own failures, rather
// than verdicts on a call, with the fixed message that a client gets for
// each: their causes (a database's, the ledger's) are only logged.
var serverMessages = map[string]string{
	"internal":    "internal error",
	"unavailable": "temporarily unavailable",
}

// serverError reports whether err is the platform's failure rather than a
// verdict on the call: internal (which every error that wraps no sentinel
// is) or unavailable. A nil error is none.
func serverError(err error) bool {
	if err == nil {
		return false
	}
	_, ok := serverMessages[AsError(err).Code]
	return ok
}

// StatusOf returns the HTTP status of an error code, or 500 if unknown.
func StatusOf(code string) int {
	if c, ok := codeEntry(code); ok {
		return c.status
	}
	return 500
}

// errNilRequest is the error of a call of API given a nil request, name
// naming it ("capture" for a *CaptureRequest): it matches ErrInvalid, and
// the call changes nothing (a Client's sends nothing).
func errNilRequest(name string) error {
	return fmt.Errorf("%w: nil %s request", ErrInvalid, name)
}
