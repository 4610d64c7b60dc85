package record

import (
	"errors"
	"fmt"
)

// Type names a record; its value appears on the wire only through ContentType.
type Type uint8

// The record types.
const (
	TypeAuthProof      Type = 1
	TypePaymentRequest Type = 2
	TypeConsent        Type = 3
	TypeRefundRequest  Type = 4
	TypeReceipt        Type = 5
)

var contentTypes = [...]string{
	TypeAuthProof:      "application/casim.auth-proof+cbor",
	TypePaymentRequest: "application/casim.payment-request+cbor",
	TypeConsent:        "application/casim.consent+cbor",
	TypeRefundRequest:  "application/casim.refund-request+cbor",
	TypeReceipt:        "application/casim.receipt+cbor",
}

// ContentType returns the COSE content type (protected header label 3) that
// marks a record of type t, or "" for an unknown type.
func (t Type) ContentType() string {
	if int(t) >= len(contentTypes) {
		return ""
	}
	return contentTypes[t]
}

// String returns the record's name without its media-type decoration.
func (t Type) String() string {
	switch t {
	case TypeAuthProof:
		return "auth-proof"
	case TypePaymentRequest:
		return "payment-request"
	case TypeConsent:
		return "consent"
	case TypeRefundRequest:
		return "refund-request"
	case TypeReceipt:
		return "receipt"
	}
	return fmt.Sprintf("record-type(%d)", uint8(t))
}

// Size limits of the protocol. Everything larger is malformed.
const (
	IDSize      = 16  // request, session, refund and ledger transfer IDs, never all zero
	NonceSize   = 32  // platform challenges
	HashSize    = 32  // SHA-256 of a signed record
	EIDSize     = 16  // ephemeral advertising IDs
	MaxItems    = 100 // line items of one request
	MaxLegs     = 8   // asset legs of one request
	MaxText     = 64  // SKU, asset, merchant ID and name lengths in bytes
	MaxAmount   = 1<<63 - 1
	MaxMessage  = 8192 // one COSE_Sign1 message in bytes, without a receipt's x5chain
	maxCardID   = 20
	minCardID   = 19
	maxTransfer = 16 // ledger transfer IDs in one receipt
)

// MaxChain is the most bytes that the x5chain header parameter of a
// receipt, its platform's certificate chain (PROTOCOL.md §3.6), adds to
// the receipt's message (ChainSize): a receipt's message is at most
// MaxMessage bytes without it (MessageSize) and MaxMessage + MaxChain with
// it.
const MaxChain = 4096

// Role is the party a card acts for; the values match the advertisement.
type Role uint8

// The roles.
const (
	RoleShopper Role = 1
	RoleSeller  Role = 2
)

// Record is implemented by the pointer types of every record of this package.
type Record interface {
	// Type is the record's type, which selects its content type.
	Type() Type
	// Validate checks every field except a CardHeader, which the card fills
	// in after the phone has built the rest.
	Validate() error
}

// CardRecord is a record that a card signs.
type CardRecord interface {
	Record
	// Header returns the card-filled fields of the record, for the card to
	// set and for verifiers to check.
	Header() *CardHeader
	// FreshNonce returns the platform nonce the record answers, or nil when
	// the record carries none.
	FreshNonce() []byte
}

// CardHeader holds the fields that a card adds to every record it signs: its
// ICCID, and its signature counter, incremented and persisted before each
// signature so that a counter that goes back reveals a cloned card. A phone
// leaves both zero; they are omitted from the encoding when zero.
type CardHeader struct {
	CardID  string `cbor:"1,keyasint,omitempty"`
	Counter uint64 `cbor:"2,keyasint,omitempty"`
}

// Header returns h itself.
func (h *CardHeader) Header() *CardHeader { return h }

// check verifies that the card filled the header in.
func (h *CardHeader) check() error {
	if err := CheckCardID("card ID", h.CardID); err != nil {
		return err
	}
	if h.Counter == 0 {
		return fieldError("counter", "must not be zero")
	}
	return nil
}

// AuthProof answers a platform challenge: the card proves possession of its
// key, bound to the nonce and to the EIDs of both phones.
type AuthProof struct {
	CardHeader
	Nonce   []byte `cbor:"3,keyasint"`
	Role    Role   `cbor:"4,keyasint"`
	EID     []byte `cbor:"5,keyasint"`
	PeerEID []byte `cbor:"6,keyasint"`
}

// Item is one line of a payment request: a catalog SKU and a quantity.
type Item struct {
	SKU      string `cbor:"1,keyasint"`
	Quantity uint64 `cbor:"2,keyasint"`
}

// Leg is an asset that moves from the seller to the shopper with the payment
// (delivery versus payment), such as an e-ticket.
type Leg struct {
	Asset  string `cbor:"1,keyasint"`
	Amount uint64 `cbor:"2,keyasint"`
}

// PaymentRequest is the seller's request for a payment within a session. When
// Items is set, Amount is their total at the prices of the platform catalog,
// and the platform refuses a request whose total differs.
type PaymentRequest struct {
	CardHeader
	RequestID   []byte `cbor:"3,keyasint"`
	SessionID   []byte `cbor:"4,keyasint"`
	PayerCardID string `cbor:"5,keyasint"`
	MerchantID  string `cbor:"6,keyasint"`
	Currency    string `cbor:"7,keyasint"`
	Amount      uint64 `cbor:"8,keyasint,omitempty"`
	Items       []Item `cbor:"9,keyasint,omitempty"`
	Legs        []Leg  `cbor:"10,keyasint,omitempty"`
	// TTL is the lifetime asked for, in seconds; zero means the platform
	// default.
	TTL uint32 `cbor:"11,keyasint,omitempty"`
}

// Consent is the shopper's approval of one payment request, bound to the
// request's hash and repeating what the shopper saw: amount, currency, payee.
type Consent struct {
	CardHeader
	RequestID   []byte `cbor:"3,keyasint"`
	RequestHash []byte `cbor:"4,keyasint"`
	Nonce       []byte `cbor:"5,keyasint"`
	Amount      uint64 `cbor:"6,keyasint,omitempty"`
	Currency    string `cbor:"7,keyasint"`
	MerchantID  string `cbor:"8,keyasint"`
}

// RefundRequest is the seller's request to return Amount of a captured
// payment. RefundID is chosen by the seller and makes retries safe.
type RefundRequest struct {
	CardHeader
	RefundID  []byte `cbor:"3,keyasint"`
	RequestID []byte `cbor:"4,keyasint"`
	Amount    uint64 `cbor:"5,keyasint"`
	Currency  string `cbor:"6,keyasint"`
}

// ReceiptKind says what a receipt confirms.
type ReceiptKind uint8

// The receipt kinds.
const (
	ReceiptPayment ReceiptKind = 1
	ReceiptRefund  ReceiptKind = 2
)

// Line is a priced line of a receipt, as the catalog named and priced it.
type Line struct {
	SKU  string `cbor:"1,keyasint"`
	Name string `cbor:"2,keyasint"`
	// Quantity is 1 to 2^63-1, as in the item of the request it prices.
	Quantity  uint64 `cbor:"3,keyasint"`
	UnitPrice uint64 `cbor:"4,keyasint"`
}

// Receipt is signed by the platform when a payment is captured or a refund is
// made. It names the signed records it settles by their hashes and the ledger
// transfers that moved the money.
type Receipt struct {
	Kind        ReceiptKind `cbor:"1,keyasint"`
	RequestID   []byte      `cbor:"2,keyasint"`
	RequestHash []byte      `cbor:"3,keyasint"`
	// ConsentHash is the hash of the consent (payment receipts).
	ConsentHash []byte `cbor:"4,keyasint,omitempty"`
	// RefundID and RefundHash name the refund request (refund receipts).
	RefundID   []byte `cbor:"5,keyasint,omitempty"`
	RefundHash []byte `cbor:"6,keyasint,omitempty"`
	// Amount is the amount captured, or refunded: 1 to 2^63-1 in a refund
	// receipt, as in the refund request.
	Amount      uint64   `cbor:"7,keyasint,omitempty"`
	Currency    string   `cbor:"8,keyasint"`
	PayerCardID string   `cbor:"9,keyasint"`
	MerchantID  string   `cbor:"10,keyasint"`
	TransferIDs [][]byte `cbor:"11,keyasint"`
	// Lines and Legs are the priced items and the asset legs (payment
	// receipts only: a refund receipt carries neither).
	Lines []Line `cbor:"12,keyasint,omitempty"`
	Legs  []Leg  `cbor:"13,keyasint,omitempty"`
	// Time is when the platform settled, in Unix milliseconds.
	Time uint64 `cbor:"14,keyasint"`
}

// Type implements Record.
func (*AuthProof) Type() Type { return TypeAuthProof }

// Type implements Record.
func (*PaymentRequest) Type() Type { return TypePaymentRequest }

// Type implements Record.
func (*Consent) Type() Type { return TypeConsent }

// Type implements Record.
func (*RefundRequest) Type() Type { return TypeRefundRequest }

// Type implements Record.
func (*Receipt) Type() Type { return TypeReceipt }

// FreshNonce implements CardRecord.
func (p *AuthProof) FreshNonce() []byte { return p.Nonce }

// FreshNonce implements CardRecord; a payment request carries no nonce.
func (*PaymentRequest) FreshNonce() []byte { return nil }

// FreshNonce implements CardRecord.
func (c *Consent) FreshNonce() []byte { return c.Nonce }

// FreshNonce implements CardRecord; a refund request carries no nonce.
func (*RefundRequest) FreshNonce() []byte { return nil }

// Validate implements Record.
func (p *AuthProof) Validate() error {
	if p.Role != RoleShopper && p.Role != RoleSeller {
		return fieldError("role", "must be 1 (shopper) or 2 (seller)")
	}
	return errors.Join(
		size("nonce", p.Nonce, NonceSize),
		size("EID", p.EID, EIDSize),
		size("peer EID", p.PeerEID, EIDSize),
	)
}

// Validate implements Record.
func (r *PaymentRequest) Validate() error {
	err := errors.Join(
		ident("request ID", r.RequestID),
		ident("session ID", r.SessionID),
		CheckCardID("payer card ID", r.PayerCardID),
		text("merchant ID", r.MerchantID),
		currency(r.Currency),
		amount("amount", r.Amount),
	)
	if err != nil {
		return err
	}
	if r.Amount == 0 && len(r.Legs) == 0 {
		return fieldError("amount", "must not be zero in a request without legs")
	}
	if len(r.Items) > MaxItems {
		return fieldError("items", fmt.Sprintf("more than %d", MaxItems))
	}
	for _, it := range r.Items {
		if err := errors.Join(text("SKU", it.SKU), positive("quantity", it.Quantity)); err != nil {
			return err
		}
	}
	return legs(r.Legs)
}

// Validate implements Record.
func (c *Consent) Validate() error {
	return errors.Join(
		ident("request ID", c.RequestID),
		size("request hash", c.RequestHash, HashSize),
		size("nonce", c.Nonce, NonceSize),
		amount("amount", c.Amount),
		currency(c.Currency),
		text("merchant ID", c.MerchantID),
	)
}

// Validate implements Record.
func (r *RefundRequest) Validate() error {
	err := errors.Join(
		ident("refund ID", r.RefundID),
		ident("request ID", r.RequestID),
		amount("amount", r.Amount),
		currency(r.Currency),
	)
	if err == nil {
		err = CheckRefundAmount(r.Amount)
	}
	return err
}

// CheckRefundAmount checks the amount of a refund request as Validate
// does: from 1 to MaxAmount (a *FieldError otherwise).
func CheckRefundAmount(v uint64) error { return positive("amount", v) }

// Validate implements Record.
func (r *Receipt) Validate() error {
	err := errors.Join(
		ident("request ID", r.RequestID),
		size("request hash", r.RequestHash, HashSize),
		amount("amount", r.Amount),
		currency(r.Currency),
		CheckCardID("payer card ID", r.PayerCardID),
		text("merchant ID", r.MerchantID),
		legs(r.Legs),
	)
	if err != nil {
		return err
	}
	switch r.Kind {
	case ReceiptPayment:
		if err := size("consent hash", r.ConsentHash, HashSize); err != nil {
			return err
		}
		if r.RefundID != nil {
			return fieldError("refund ID", "must be absent from a payment receipt")
		}
		if r.RefundHash != nil {
			return fieldError("refund hash", "must be absent from a payment receipt")
		}
	case ReceiptRefund:
		if err := errors.Join(ident("refund ID", r.RefundID), size("refund hash", r.RefundHash, HashSize), CheckRefundAmount(r.Amount)); err != nil {
			return err
		}
		if r.ConsentHash != nil {
			return fieldError("consent hash", "must be absent from a refund receipt")
		}
		if len(r.Lines) > 0 {
			return fieldError("lines", "must be absent from a refund receipt")
		}
		if len(r.Legs) > 0 {
			return fieldError("legs", "must be absent from a refund receipt")
		}
	default:
		return fieldError("kind", "must be 1 (payment) or 2 (refund)")
	}
	if len(r.TransferIDs) == 0 || len(r.TransferIDs) > maxTransfer {
		return fieldError("transfer IDs", fmt.Sprintf("must number 1 to %d", maxTransfer))
	}
	for _, id := range r.TransferIDs {
		if err := ident("transfer ID", id); err != nil {
			return err
		}
	}
	if len(r.Lines) > MaxItems {
		return fieldError("lines", fmt.Sprintf("more than %d", MaxItems))
	}
	for _, l := range r.Lines {
		if err := errors.Join(text("SKU", l.SKU), CheckName("name", l.Name), positive("quantity", l.Quantity), amount("unit price", l.UnitPrice)); err != nil {
			return err
		}
	}
	if r.Time == 0 {
		return fieldError("time", "must not be zero")
	}
	return nil
}

var (
	_ CardRecord = (*AuthProof)(nil)
	_ CardRecord = (*PaymentRequest)(nil)
	_ CardRecord = (*Consent)(nil)
	_ CardRecord = (*RefundRequest)(nil)
	_ Record     = (*Receipt)(nil)
)
