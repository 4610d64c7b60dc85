package record

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"unicode"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/casimpay/casimpay/internal/ascii"
	"github.com/casimpay/casimpay/internal/cborhead"
	"github.com/casimpay/casimpay/internal/ecdsakey"
	"github.com/casimpay/casimpay/internal/nilptr"
)

// Errors returned by this package. Errors of Validate, Unmarshal, Open and
// Verify wrap one of them; a *FieldError names the offending field.
var (
	// ErrMalformed: the bytes are not a well-formed, deterministic record
	// within the size limits, or a field is out of range.
	ErrMalformed = errors.New("record: malformed")
	// ErrType: the message holds another record type than the one asked
	// for, or no record (nil, or a nil pointer) was given, which names no
	// type, or a type is none of the Type constants (CheckMessageSize).
	ErrType = errors.New("record: wrong record type")
	// ErrSignature: the signature is not the 64 bytes of r || s, does not
	// verify under the given key, is not in its low-S form, or the
	// algorithm is not ES256.
	ErrSignature = errors.New("record: bad signature")
	// ErrKey: the key is not an ECDSA P-256 key.
	ErrKey = errors.New("record: key is not ECDSA P-256")
)

// FieldError reports a field that is missing, too long or out of range. It
// matches ErrMalformed with errors.Is.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return "record: " + e.Field + " " + e.Reason }

// Is reports whether target is ErrMalformed.
func (e *FieldError) Is(target error) bool { return target == ErrMalformed }

func fieldError(field, reason string) error { return &FieldError{Field: field, Reason: reason} }

func size(field string, b []byte, n int) error {
	if len(b) != n {
		return fieldError(field, fmt.Sprintf("must be %d bytes, not %d", n, len(b)))
	}
	return nil
}

// ident checks an ID: IDSize bytes, not all zero (PROTOCOL.md §3: the zero
// ID names nothing).
func ident(field string, b []byte) error {
	if err := size(field, b, IDSize); err != nil {
		return err
	}
	for _, c := range b {
		if c != 0 {
			return nil
		}
	}
	return fieldError(field, "must not be all zero")
}

func amount(field string, v uint64) error {
	if v > MaxAmount {
		return fieldError(field, "exceeds 2^63-1")
	}
	return nil
}

// positive checks a count or amount that must be 1 to 2^63-1: a quantity
// or a leg's amount.
func positive(field string, v uint64) error {
	if v == 0 {
		return fieldError(field, "must not be zero")
	}
	return amount(field, v)
}

// CheckCardID checks a card ID as the records carry it (PROTOCOL.md §3): an
// ICCID of 19 or 20 ASCII decimal digits that starts with the
// telecommunications industry identifier 89, its last digit the Luhn check
// digit of the others. It is the one ICCID rule of the protocol: package pki
// checks the ICCID of a card certificate with it too. The error is a
// *FieldError naming field.
func CheckCardID(field, s string) error {
	if n := len(s); n < minCardID || n > maxCardID || !ascii.Digits(s) {
		return fieldError(field, "must be 19 or 20 decimal digits")
	}
	if s[0] != '8' || s[1] != '9' {
		return fieldError(field, "must start with the industry identifier 89")
	}
	if LuhnDigit(s[:len(s)-1]) != s[len(s)-1] {
		return fieldError(field, "must end with the Luhn check digit of the others")
	}
	return nil
}

// LuhnDigit returns the Luhn check digit, '0' to '9', of the ASCII decimal
// digits s: the digit that, appended to s, makes a number whose Luhn sum is
// a multiple of 10. For other bytes the result means nothing.
func LuhnDigit(s string) byte {
	sum := 0
	double := true // the rightmost digit of s is doubled
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// text checks an identifier: 1 to MaxText printable ASCII bytes, no spaces
// at either end.
func text(field, s string) error {
	if len(s) == 0 || len(s) > MaxText {
		return fieldError(field, fmt.Sprintf("must be 1 to %d bytes", MaxText))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fieldError(field, "must be printable ASCII")
		}
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return fieldError(field, "must not start or end with a space")
	}
	return nil
}

// CheckCurrency checks a currency as the records carry it: an ISO 4217
// code of three capital letters. The error is a *FieldError.
func CheckCurrency(s string) error { return currency(s) }

// CheckText checks an identifier (a SKU, an asset, a merchant ID) as
// the records carry it: 1 to MaxText bytes of printable ASCII, no spaces at
// either end. The error is a *FieldError naming field.
func CheckText(field, s string) error { return text(field, s) }

// CheckName checks a display name (a catalog item's name on a receipt):
// 1 to MaxText bytes of valid UTF-8 with no control characters (C0, DEL,
// C1), no bidirectional formatting characters (which can make a screen
// show text in another order than the order signed), no unassigned or
// private-use code points, no line or paragraph separator, no byte-order
// mark, no format character (Unicode category Cf: zero-width space, word
// joiner, soft hyphen, tag characters...) nor other default-ignorable
// code point (variation selectors, Hangul fillers, the combining
// grapheme joiner...), but those that shape their neighbours visibly:
// U+200C and U+200D between two letters or marks of one script of
// Arabic, Syriac, N'Ko, Mongolian and the Brahmic scripts of India and
// Sri Lanka, U+200D between two emoji, U+FE0E and U+FE0F after a symbol
// and U+FE0F in a keycap (PROTOCOL.md §3); and no white space at either
// end. Format characters and default-ignorable code points show as
// nothing, or change only how their neighbours show, so that two names
// that differ by one elsewhere would look the same. The error is a
// *FieldError naming field and one rule that s breaks: its length, else
// its UTF-8, else the first character of s, in its order, that breaks a
// rule of the characters, else white space at either end.
func CheckName(field, s string) error {
	if len(s) == 0 || len(s) > MaxText {
		return fieldError(field, fmt.Sprintf("must be 1 to %d bytes", MaxText))
	}
	if !utf8.ValidString(s) {
		return fieldError(field, "must be valid UTF-8")
	}
	prev := rune(-1)
	for i, r := range s {
		switch {
		case r < 0x20, r >= 0x7f && r < 0xa0:
			return fieldError(field, "must not contain control characters")
		case unicode.Is(unicode.Bidi_Control, r), r == 0xfeff:
			return fieldError(field, "must not contain bidirectional formatting characters or a byte-order mark")
		case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs, unicode.Cf):
			return fieldError(field, "must contain only assigned, public characters and spaces")
		case unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector):
			next := rune(-1)
			if rest := s[i+utf8.RuneLen(r):]; rest != "" {
				next, _ = utf8.DecodeRuneInString(rest)
			}
			if !joinerAllowed(prev, r, next) {
				return fieldError(field, "must not contain format characters or other default-ignorable code points")
			}
		}
		prev = r
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return fieldError(field, "must not start or end with white space")
	}
	return nil
}

// Joiners and presentation selectors that CheckName takes where they
// shape the characters around them visibly.
const (
	zwnj   = '\u200c' // ZERO WIDTH NON-JOINER
	zwj    = '\u200d' // ZERO WIDTH JOINER
	vs15   = '\ufe0e' // VARIATION SELECTOR-15, text presentation
	vs16   = '\ufe0f' // VARIATION SELECTOR-16, emoji presentation
	keycap = '\u20e3' // COMBINING ENCLOSING KEYCAP
)

// joinedScripts are the scripts whose letters a joiner or non-joiner
// between them shapes otherwise: joined or not (Arabic, Syriac, N'Ko,
// Mongolian), or as a conjunct, a half form or apart (the Brahmic
// scripts of India and Sri Lanka), as names in them are spelt.
var joinedScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian,
	unicode.Devanagari, unicode.Bengali, unicode.Gurmukhi, unicode.Gujarati, unicode.Oriya,
	unicode.Tamil, unicode.Telugu, unicode.Kannada, unicode.Malayalam, unicode.Sinhala,
}

// joinerAllowed reports whether the format character or default-ignorable
// code point r, between prev and next (-1 at either end of the name),
// changes how they show, so that CheckName takes it:
//   - U+200C ZERO WIDTH NON-JOINER or U+200D ZERO WIDTH JOINER between two
//     letters or marks of one of joinedScripts (a Persian word, an Indic
//     half form or conjunct broken), and U+200D between two emoji (a
//     symbol, a skin-tone modifier or variation selector-16 before it, a
//     symbol after it: an emoji ZWJ sequence such as a family);
//   - U+FE0E and U+FE0F (variation selectors 15 and 16, text or emoji
//     presentation) after a symbol, and U+FE0F between a digit, # or *
//     and U+20E3 COMBINING ENCLOSING KEYCAP (a keycap emoji).
//
// Any other, and these elsewhere (between Latin letters, at either end,
// repeated), shows as nothing beside its neighbours.
func joinerAllowed(prev, r, next rune) bool {
	switch r {
	case zwnj, zwj:
		if unicode.In(prev, unicode.L, unicode.M) && unicode.In(next, unicode.L, unicode.M) {
			for _, t := range joinedScripts {
				if unicode.Is(t, prev) && unicode.Is(t, next) {
					return true
				}
			}
		}
		skinTone := prev >= 0x1f3fb && prev <= 0x1f3ff // EMOJI MODIFIER FITZPATRICK TYPE-1-2 to -6
		return r == zwj && (prev == vs16 || skinTone || unicode.Is(unicode.So, prev)) && unicode.Is(unicode.So, next)
	case vs15, vs16:
		return unicode.Is(unicode.So, prev) ||
			r == vs16 && next == keycap && (prev >= '0' && prev <= '9' || prev == '#' || prev == '*')
	}
	return false
}

func currency(s string) error {
	if len(s) != 3 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || s[2] < 'A' || s[2] > 'Z' {
		return fieldError("currency", "must be an ISO 4217 code of three capital letters")
	}
	return nil
}

func legs(ls []Leg) error {
	if len(ls) > MaxLegs {
		return fieldError("legs", fmt.Sprintf("more than %d", MaxLegs))
	}
	for _, l := range ls {
		if err := errors.Join(text("asset", l.Asset), positive("leg amount", l.Amount)); err != nil {
			return err
		}
	}
	return nil
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   4,
		MaxArrayElements:  MaxItems,
		MaxMapPairs:       32,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal returns the deterministic CBOR payload of r after validating every
// field but the card header. The payload does not name the record type: that
// is the envelope's content type.
func Marshal(r Record) ([]byte, error) {
	if noRecord(r) {
		return nil, errNoRecord
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return encMode.Marshal(r)
}

// Unmarshal decodes a payload into r strictly: the bytes must be exactly the
// deterministic encoding of a valid record of r's type (duplicate or unknown
// keys, indefinite lengths, tags, non-minimal integers and unsorted keys are
// all errors matching ErrMalformed). A card header is decoded but not
// checked, since a card decodes fields sent by the phone without one. The
// record r pointed to is zeroed first, so that r holds the payload's record
// alone, whatever it held before (Open and Verify decode so too).
func Unmarshal(data []byte, r Record) error {
	if noRecord(r) {
		return errNoRecord
	}
	if len(data) > MaxMessage {
		return fmt.Errorf("%w: %d bytes exceed %d", ErrMalformed, len(data), MaxMessage)
	}
	// The decoder leaves a field that the payload omits as it was, and
	// would write into the slices r holds.
	if v := reflect.ValueOf(r); v.Kind() == reflect.Pointer {
		v.Elem().SetZero()
	}
	if err := decMode.Unmarshal(data, r); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	again, err := encMode.Marshal(r)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("%w: not deterministic CBOR", ErrMalformed)
	}
	return r.Validate()
}

// Sign validates r (including the card header of a CardRecord) and returns
// it as a tagged COSE_Sign1 message signed with key, which must be an ECDSA
// P-256 key (ErrKey otherwise, for a nil key too, a nil of a signer type,
// such as a nil *ecdsa.PrivateKey, a nil ed25519.PrivateKey or a nil func
// of a signer type, or an *ecdsa.PrivateKey without its private scalar, a
// public key alone, or with a scalar that is zero or not below the order
// n); the signature is in its low-S form (LowS). A record whose message
// would exceed MaxMessage, which Verify refuses, is an error matching
// ErrMalformed (see MessageSize). A card's key never leaves the card: the
// card calls Sign itself.
func Sign(rand io.Reader, key crypto.Signer, r Record) ([]byte, error) {
	return sign(rand, key, r, nil)
}

// SignReceipt signs r as Sign does, with chain, the certificate chain of
// key (DER, the certificate of key first, then its issuers, nearest first),
// in the protected header parameter x5chain (label 33, RFC 9360), so that a
// verifier can check the receipt with the certificate that was trusted
// when it was signed (PROTOCOL.md §3.6): one certificate as a byte string,
// several as an array of byte strings. A chain that CheckChain refuses (no
// certificate, an empty one, or more than MaxChain bytes added) is an
// error matching ErrMalformed. The certificates are not parsed here: a
// verifier checks them (pki.Verifier.ReceiptPlatform).
func SignReceipt(rand io.Reader, key crypto.Signer, r *Receipt, chain [][]byte) ([]byte, error) {
	if err := CheckChain(chain); err != nil {
		return nil, err
	}
	return sign(rand, key, r, chain)
}

// sign is Sign with chain, not empty, in the x5chain of the protected
// header, or none when chain is nil.
func sign(rand io.Reader, key crypto.Signer, r Record, chain [][]byte) ([]byte, error) {
	if nilptr.Is(key) { // whose Public would panic or block
		return nil, ErrKey
	}
	// crypto/ecdsa signs with no key built without its private scalar: it
	// panics.
	if k, ok := key.(*ecdsa.PrivateKey); ok && ecdsakey.Scalarless(k) {
		return nil, ErrKey
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); !ok || !IsP256(pub) {
		return nil, ErrKey
	}
	// Nor with a scalar out of range (zero, or not below n) or a point off
	// the curve, which crypto/ecdsa checks (and keeps the key it makes of
	// them for the signature).
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		if _, err := k.Bytes(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
	}
	if noRecord(r) {
		return nil, errNoRecord
	}
	if cr, ok := r.(CardRecord); ok {
		if err := cr.Header().check(); err != nil {
			return nil, err
		}
	}
	payload, err := Marshal(r)
	if err != nil {
		return nil, err
	}
	// A type that is none of the Type constants fails here (ErrType).
	if err := CheckMessageSize(r.Type(), payload); err != nil {
		return nil, err
	}
	signer, err := cose.NewSigner(cose.AlgorithmES256, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	// go-cose signs the protected header as RawProtected holds it: the
	// one encoding that decode compares with.
	prot := protectedHeader(r.Type(), chain)
	msg := cose.Sign1Message{
		Headers: cose.Headers{
			RawProtected: append(cborhead.Append(nil, cborhead.Bytes, len(prot)), prot...),
			Protected: cose.ProtectedHeader{
				cose.HeaderLabelAlgorithm:   cose.AlgorithmES256,
				cose.HeaderLabelContentType: r.Type().ContentType(),
			},
		},
		Payload: payload,
	}
	if err := msg.Sign(rand, nil, signer); err != nil {
		return nil, fmt.Errorf("record: sign: %w", err)
	}
	LowS(msg.Signature)
	return msg.MarshalCBOR()
}

// Open decodes msg into r without checking its signature, so that a verifier
// can learn which card signed it and fetch that card's key. Never act on what
// Open returns before Verify succeeds. A message whose protected header's
// byte string (head included) is over 256 bytes (a receipt's, over 256 plus
// MaxChain) or whose unprotected header is over 256 bytes is refused as
// malformed before any header parameter is decoded, by Open, Verify and
// DecodeReceipt alike (PROTOCOL.md §3).
func Open(msg []byte, r Record) error {
	if noRecord(r) {
		return errNoRecord
	}
	m, err := decode(msg, r.Type())
	if err != nil {
		return err
	}
	return unmarshalSigned(m.payload, r)
}

// ReceiptChain returns the certificate chain that msg, a receipt, carries
// in its x5chain header parameter (SignReceipt), or nil for a receipt
// without one. It checks the envelope as Open does (ErrMalformed, ErrType,
// ErrSignature for an algorithm other than ES256), not the payload or the
// signature: never trust the chain before a verifier has checked it, and
// the receipt's signature with its key. The chain is the caller's: it
// shares no memory with msg. DecodeReceipt gives the chain too, and
// verifies the receipt without decoding msg again.
func ReceiptChain(msg []byte) ([][]byte, error) {
	sr, err := DecodeReceipt(msg)
	if err != nil {
		return nil, err
	}
	chain := sr.Chain()
	if chain == nil {
		return nil, nil
	}
	own := make([][]byte, len(chain))
	for i, c := range chain {
		own[i] = bytes.Clone(c)
	}
	return own, nil
}

// Verify checks that msg is a COSE_Sign1 record of r's type signed with ES256
// by the private key of pub, with a low-S signature (see LowS), then decodes
// it into r, checking the card header of a CardRecord too. It returns an
// error matching ErrSignature, ErrType, ErrMalformed or ErrKey. A receipt
// may carry a certificate chain (SignReceipt), which the signature covers
// and Verify does not check: pub is the key to verify with, whatever
// certificate the chain holds (see ReceiptChain and DecodeReceipt).
func Verify(msg []byte, pub *ecdsa.PublicKey, r Record) error {
	if !IsP256(pub) {
		return ErrKey
	}
	if noRecord(r) {
		return errNoRecord
	}
	m, err := decode(msg, r.Type())
	if err != nil {
		return err
	}
	return m.verify(pub, r)
}

// SignedReceipt is the message of a receipt decoded once (DecodeReceipt):
// its envelope checked as Open and Verify check it, its signature and its
// payload not yet. It holds slices of the message, which must not change
// while it is used.
type SignedReceipt struct {
	m envelope
}

var errNoReceipt = fmt.Errorf("%w: no receipt decoded (DecodeReceipt returns one)", ErrMalformed)

// DecodeReceipt decodes msg, a receipt, once: its envelope, with the
// certificate chain that it carries (Chain), which a verifier checks
// before it verifies the receipt with that chain's key (Verify). Its
// errors are those of ReceiptChain (ErrMalformed, ErrType, ErrSignature
// for an algorithm other than ES256): the ones that Open and Verify
// return for msg before they look at the signature or the payload.
func DecodeReceipt(msg []byte) (*SignedReceipt, error) {
	m, err := decode(msg, TypeReceipt)
	if err != nil {
		return nil, err
	}
	return &SignedReceipt{m: m}, nil
}

// Chain returns the certificate chain that the receipt carries in its
// x5chain, as ReceiptChain returns it, or nil for a receipt without one.
// Never trust it before a verifier has checked it. Its certificates may
// be slices of the message: callers must not modify them.
func (sr *SignedReceipt) Chain() [][]byte {
	if sr == nil {
		return nil
	}
	return sr.m.chain
}

// Verify checks the receipt's signature with pub and decodes it into r,
// as Verify(msg, pub, r) does for the msg that DecodeReceipt decoded,
// with the same errors, without decoding msg again. A nil sr, which
// DecodeReceipt never returns with a nil error, is an error matching
// ErrMalformed.
func (sr *SignedReceipt) Verify(pub *ecdsa.PublicKey, r *Receipt) error {
	if !IsP256(pub) {
		return ErrKey
	}
	if noRecord(r) {
		return errNoRecord
	}
	if sr == nil {
		return errNoReceipt
	}
	return sr.m.verify(pub, r)
}

// verify checks the signature of m, a message of r's type that decode
// checked, with pub, a P-256 key, and decodes its payload into r.
func (m *envelope) verify(pub *ecdsa.PublicKey, r Record) error {
	// decode made sure that the protected header is the one of r's type
	// and its chain, so the Sig_structure is built from its bytes, not
	// parsed again.
	if len(m.signature) != 64 {
		return fmt.Errorf("%w: signature of %d bytes, not the 64 bytes of r || s", ErrSignature, len(m.signature))
	}
	if !lowS(m.signature) {
		return fmt.Errorf("%w: s above n/2 (the signature is not in its low-S form)", ErrSignature)
	}
	digest := SigStructureDigest(m.protected, m.payload)
	if !verifyDigest(pub, digest[:], m.signature) {
		return ErrSignature
	}
	return unmarshalSigned(m.payload, r)
}

// noRecord reports whether r is nil or a nil pointer: no record, and no
// record type.
func noRecord(r Record) bool { return nilptr.Is(r) }

var errNoRecord = fmt.Errorf("%w: no record given", ErrType)

// Hash returns the SHA-256 of a whole signed message: what a consent and a
// receipt bind to.
func Hash(msg []byte) [32]byte { return sha256.Sum256(msg) }

func unmarshalSigned(payload []byte, r Record) error {
	if err := Unmarshal(payload, r); err != nil {
		return err
	}
	if cr, ok := r.(CardRecord); ok {
		return cr.Header().check()
	}
	return nil
}

// envelope is a message that decode checked: its protected header (the
// encoded map), the x5chain that header carries (nil for none), the
// payload and the signature.
type envelope struct {
	protected []byte
	chain     [][]byte
	payload   []byte
	signature []byte
}

// decode parses the envelope and checks its protected header: exactly the
// algorithm ES256 and the content type of want, and for a receipt an
// x5chain too or none, nothing else, nothing unprotected. A message in
// the encoding that Sign and SignReceipt write is read in place
// (decodeSigned); any other goes through go-cose (decodeCOSE), which
// accepts or refuses it: both accept the messages that decodeSigned reads,
// with the same parts.
func decode(msg []byte, want Type) (envelope, error) {
	if m, ok := decodeSigned(msg, want); ok {
		return m, nil
	}
	return decodeCOSE(msg, want)
}

// messageLimit returns the most bytes of a message of type want: MaxMessage,
// and MaxChain more for a receipt.
func messageLimit(want Type) int {
	if want == TypeReceipt {
		return MaxMessage + MaxChain
	}
	return MaxMessage
}

// decodeSigned returns the envelope of msg, its parts slices of msg, when
// msg is exactly what Sign or SignReceipt writes for a record of type
// want (the payload not checked), and passes every check of decodeCOSE:
//
//	D2 84 <bstr protected> A0 <bstr payload, not empty> 58 40 <r || s>
//
// with shortest heads, the protected header ProtectedHeader(want), or for
// a receipt protectedHeader(want, chain) with a chain that CheckChain
// takes, the whole no longer than messageLimit(want) and the payload
// within CheckMessageSize. For any other msg it returns false, for
// decodeCOSE to accept or refuse.
func decodeSigned(msg []byte, want Type) (envelope, bool) {
	base := ProtectedHeader(want)
	if base == nil || len(msg) > messageLimit(want) {
		return envelope{}, false
	}
	prot, payload, sig, ok := cutEnvelope(msg)
	if !ok || len(payload) == 0 || len(sig) != 64 {
		return envelope{}, false
	}
	chain, ok := signedChain(prot, base, want)
	if !ok || CheckMessageSize(want, payload) != nil {
		return envelope{}, false
	}
	return envelope{protected: prot, chain: chain, payload: payload, signature: sig}, true
}

// cutEnvelope returns the parts of msg when it is exactly D2 84 <bstr
// prot> A0 <bstr payload> <bstr sig> with shortest heads, slices of msg;
// false for any other msg.
func cutEnvelope(msg []byte) (prot, payload, sig []byte, ok bool) {
	rest, ok := bytes.CutPrefix(msg, []byte{0xd2, 0x84})
	if ok {
		prot, rest, ok = cutBstr(rest)
	}
	if ok {
		rest, ok = bytes.CutPrefix(rest, []byte{0xa0})
	}
	if ok {
		payload, rest, ok = cutBstr(rest)
	}
	if ok {
		sig, rest, ok = cutBstr(rest)
	}
	if !ok || len(rest) != 0 {
		return nil, nil, nil, false
	}
	return prot, payload, sig, true
}

// signedChain returns the chain of prot, a protected header as
// protectedHeader(want, chain) writes it for a chain that CheckChain
// takes, base being ProtectedHeader(want): nil for base itself, false for
// any other header.
func signedChain(prot, base []byte, want Type) ([][]byte, bool) {
	if bytes.Equal(prot, base) {
		return nil, true
	}
	if want != TypeReceipt || len(prot) < len(base) || prot[0] != 0xa3 || !bytes.Equal(prot[1:len(base)], base[1:]) {
		return nil, false
	}
	rest, ok := bytes.CutPrefix(prot[len(base):], []byte{0x18, byte(cose.HeaderLabelX5Chain)})
	if !ok {
		return nil, false
	}
	var chain [][]byte
	if c, tail, ok := cutBstr(rest); ok {
		if len(tail) != 0 {
			return nil, false
		}
		chain = [][]byte{c}
	} else {
		n, k, ok := cutHead(rest, cborhead.Array)
		// Every certificate takes at least one byte of rest.
		if !ok || n < 2 || n > uint64(len(rest)) {
			return nil, false
		}
		rest = rest[k:]
		chain = make([][]byte, n)
		for i := range chain {
			if chain[i], rest, ok = cutBstr(rest); !ok {
				return nil, false
			}
		}
		if len(rest) != 0 {
			return nil, false
		}
	}
	if CheckChain(chain) != nil {
		return nil, false
	}
	return chain, true
}

// cutBstr cuts the definite-length byte string with the shortest head
// that b starts with off b, returning its content and the rest of b.
func cutBstr(b []byte) (content, rest []byte, ok bool) {
	n, k, ok := cutHead(b, cborhead.Bytes)
	if !ok || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}

// cutHead reads the head of major type major that b starts with: its
// argument n and its length k, false when b starts with no such head or
// with a head longer than the shortest for n (or of indefinite length).
func cutHead(b []byte, major byte) (n uint64, k int, ok bool) {
	n, k, ok = readHead(b, major)
	// The shortest head of n: one octet more than the shortest for an
	// argument below 24, 2^8, 2^16 or 2^32.
	if !ok || n < [...]uint64{1: 0, 2: 24, 3: 1 << 8, 5: 1 << 16, 9: 1 << 32}[k] {
		return 0, 0, false
	}
	return n, k, true
}

// readHead reads the definite-length head of major type major that b
// starts with, shortest or not: its argument n and its length k.
func readHead(b []byte, major byte) (n uint64, k int, ok bool) {
	if len(b) == 0 || b[0]>>5 != major {
		return 0, 0, false
	}
	ai := b[0] & 0x1f
	switch {
	case ai < 24:
		return uint64(ai), 1, true
	case ai > 27:
		return 0, 0, false
	}
	k = 1 + 1<<(ai-24)
	if len(b) < k {
		return 0, 0, false
	}
	for _, c := range b[1:k] {
		n = n<<8 | uint64(c)
	}
	return n, k, true
}

// maxHeaderBytes is the most bytes of the protected header's item (its
// byte string, head included; a receipt's, its x5chain aside: MaxChain
// more) and of the unprotected header's item that decodeCOSE hands to
// go-cose. Every header of the layout is far shorter (ProtectedHeader:
// some 40 bytes; the unprotected header: one), and go-cose decodes a
// header's parameters into a map of interfaces, checking each, at a cost
// of an allocation or more per item: some 8 KiB of them cost a
// verifier more than a signature check, and many times the memory.
const maxHeaderBytes = 256

// coseParts is the array of a COSE_Sign1 message after its tag, as go-cose
// reads it before it decodes the headers: each part's item, unread.
type coseParts struct {
	_           struct{} `cbor:",toarray"`
	Protected   cbor.RawMessage
	Unprotected cbor.RawMessage
	Payload     cbor.RawMessage
	Signature   cbor.RawMessage
}

// partsMode reads coseParts as go-cose reads its parts: definite lengths
// only, no tags, the library's bounds on nesting and sizes.
var partsMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{IndefLength: cbor.IndefLengthForbidden, TagsMd: cbor.TagsForbidden}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// checkHeaderSizes refuses (ErrMalformed) msg, a message that go-cose
// would read as a COSE_Sign1 message (its tag and array head, then four
// well-formed items), whose protected or unprotected header is longer
// than maxHeaderBytes (a receipt's protected header, MaxChain more),
// before go-cose decodes its parameters. Every such msg is one that
// go-cose's path refuses as malformed too: a header of the layout is
// shorter. Any other msg is left to go-cose, which refuses it as
// malformed before it decodes a header, or reads headers within the
// limit.
func checkHeaderSizes(msg []byte, want Type) error {
	var p coseParts
	if !bytes.HasPrefix(msg, []byte{0xd2, 0x84}) || partsMode.Unmarshal(msg[1:], &p) != nil {
		return nil
	}
	limit := maxHeaderBytes
	if want == TypeReceipt {
		limit += MaxChain
	}
	if len(p.Protected) > limit {
		return fmt.Errorf("%w: protected header of %d bytes, over %d", ErrMalformed, len(p.Protected), limit)
	}
	if len(p.Unprotected) > maxHeaderBytes {
		return fmt.Errorf("%w: unprotected header of %d bytes, over %d", ErrMalformed, len(p.Unprotected), maxHeaderBytes)
	}
	return nil
}

// decodeCOSE is decode through go-cose: it accepts or refuses every msg,
// with the error of the first check that msg fails.
func decodeCOSE(msg []byte, want Type) (envelope, error) {
	if limit := messageLimit(want); len(msg) > limit {
		return envelope{}, fmt.Errorf("%w: %d bytes exceed %d", ErrMalformed, len(msg), limit)
	}
	if err := checkHeaderSizes(msg, want); err != nil {
		return envelope{}, err
	}
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(msg); err != nil {
		return envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// A detached payload is null where the payload goes, which the one
	// encoding below has no place for: refused as what it is first.
	if m.Payload == nil {
		return envelope{}, fmt.Errorf("%w: detached payload", ErrMalformed)
	}
	// The envelope too must be in its one encoding, so that nobody holding
	// a message can make another byte string of it, with another Hash, that
	// still verifies: rebuilt from its parts with shortest heads, it must
	// be the bytes received (go-cose keeps the protected and unprotected
	// headers as they came, so re-encoding the decoded message would not
	// tell).
	prot, ok := bstrContent(m.Headers.RawProtected)
	if !ok {
		return envelope{}, fmt.Errorf("%w: protected header is not a definite-length byte string", ErrMalformed)
	}
	if !oneEncoding(msg, prot, m.Payload, m.Signature) {
		return envelope{}, fmt.Errorf("%w: the envelope is not in its deterministic encoding", ErrMalformed)
	}
	chain, err := x5chain(m.Headers.Protected, want)
	if err != nil {
		return envelope{}, err
	}
	params := 2
	if chain != nil {
		params++
	}
	if len(m.Headers.Unprotected) != 0 || len(m.Headers.Protected) != params {
		return envelope{}, fmt.Errorf("%w: unexpected COSE header parameters", ErrMalformed)
	}
	if alg, err := m.Headers.Protected.Algorithm(); err != nil || alg != cose.AlgorithmES256 {
		return envelope{}, fmt.Errorf("%w: algorithm is not ES256", ErrSignature)
	}
	ct, ok := m.Headers.Protected[cose.HeaderLabelContentType].(string)
	if !ok {
		return envelope{}, fmt.Errorf("%w: no content type", ErrMalformed)
	}
	if ct != want.ContentType() {
		return envelope{}, fmt.Errorf("%w: %q, want %q", ErrType, ct, want.ContentType())
	}
	// Those entries have one encoding too, and the signature covers the
	// bytes as they came: keys out of order, a longer head or a chain of
	// one certificate in an array would make another message, with
	// another Hash, of the same record.
	if !bytes.Equal(prot, protectedHeader(want, chain)) {
		return envelope{}, fmt.Errorf("%w: the protected header is not in its deterministic encoding", ErrMalformed)
	}
	// A chain has room of its own: the rest of the message is held to
	// MaxMessage, as a message without one is (a receipt's limit above
	// leaves room for a chain).
	if err := CheckMessageSize(want, m.Payload); err != nil {
		return envelope{}, err
	}
	return envelope{protected: prot, chain: chain, payload: m.Payload, signature: m.Signature}, nil
}

// x5chain returns the certificates of the x5chain parameter of h, the
// protected header of a message of type want: nil when h has none, an
// error matching ErrMalformed when want is not a receipt or the value is
// neither a byte string nor an array of two or more byte strings (RFC
// 9360), or CheckChain refuses it.
func x5chain(h cose.ProtectedHeader, want Type) ([][]byte, error) {
	v, ok := h[cose.HeaderLabelX5Chain]
	if !ok {
		return nil, nil
	}
	if want != TypeReceipt {
		return nil, fmt.Errorf("%w: x5chain in a record of type %v", ErrMalformed, want)
	}
	var chain [][]byte
	switch v := v.(type) {
	case []byte:
		chain = [][]byte{v}
	case []any:
		if len(v) < 2 {
			return nil, fmt.Errorf("%w: x5chain: an array of %d certificates, not 2 or more", ErrMalformed, len(v))
		}
		for _, c := range v {
			b, ok := c.([]byte)
			if !ok {
				return nil, fmt.Errorf("%w: x5chain: a certificate that is not a byte string", ErrMalformed)
			}
			chain = append(chain, b)
		}
	default:
		return nil, fmt.Errorf("%w: x5chain is neither a byte string nor an array", ErrMalformed)
	}
	if err := CheckChain(chain); err != nil {
		return nil, err
	}
	return chain, nil
}

// ProtectedHeader returns the one encoding of the protected header of a
// record of type t, A2 01 26 03 <tstr content type> ({1: -7, 3: ct}), or
// nil for a type that is none of the Type constants. The slice is shared:
// callers must not modify it.
func ProtectedHeader(t Type) []byte { return protectedHeaders[t] }

// protectedHeader returns the one encoding of the protected header of a
// record of type t with chain in its x5chain (label 33), the header of
// ProtectedHeader when chain is nil:
//
//	A3 01 26 03 <tstr content type> 18 21 <bstr certificate>
//	A3 01 26 03 <tstr content type> 18 21 <array head> <bstr certificate>...
//
// one certificate as a byte string, several as an array (RFC 9360).
func protectedHeader(t Type, chain [][]byte) []byte {
	base := ProtectedHeader(t)
	if chain == nil || base == nil {
		return base
	}
	b := make([]byte, 0, len(base)+chainBytes(chain))
	b = append(append(b, 0xa3), base[1:]...)
	b = append(b, 0x18, byte(cose.HeaderLabelX5Chain))
	if len(chain) > 1 {
		b = cborhead.Append(b, cborhead.Array, len(chain))
	}
	for _, c := range chain {
		b = append(cborhead.Append(b, cborhead.Bytes, len(c)), c...)
	}
	return b
}

// chainBytes returns the length of the x5chain entry of chain in a
// protected header: its label and its value.
func chainBytes(chain [][]byte) int {
	n := 2 // 18 21
	if len(chain) > 1 {
		n += headSize(len(chain))
	}
	for _, c := range chain {
		n += headSize(len(c)) + len(c)
	}
	return n
}

// headSize returns the length of the shortest CBOR head of argument n.
func headSize(n int) int {
	var h [9]byte
	return len(cborhead.Append(h[:0], cborhead.Bytes, n))
}

// ChainSize returns how many bytes chain, not empty, adds to the message
// of a receipt in its x5chain (SignReceipt): its entry in the protected
// header, and the longer head of that header's byte string. It is the
// same for every payload.
func ChainSize(chain [][]byte) int {
	prot := len(ProtectedHeader(TypeReceipt))
	with := prot + chainBytes(chain)
	return headSize(with) + with - headSize(prot) - prot
}

// CheckChain returns an error matching ErrMalformed when chain cannot be
// the x5chain of a receipt: it holds no certificate, an empty one, or adds
// more than MaxChain bytes to the message (ChainSize); nil otherwise.
func CheckChain(chain [][]byte) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: x5chain of no certificate", ErrMalformed)
	}
	for i, c := range chain {
		if len(c) == 0 {
			return fmt.Errorf("%w: x5chain: certificate %d is empty", ErrMalformed, i)
		}
	}
	if n := ChainSize(chain); n > MaxChain {
		return fmt.Errorf("%w: x5chain adds %d bytes to the message, over %d", ErrMalformed, n, MaxChain)
	}
	return nil
}

var protectedHeaders = func() map[Type][]byte {
	m := make(map[Type][]byte)
	for _, t := range []Type{TypeAuthProof, TypePaymentRequest, TypeConsent, TypeRefundRequest, TypeReceipt} {
		ct := t.ContentType()
		b := append(make([]byte, 0, 6+len(ct)), 0xa2, 0x01, 0x26, 0x03)
		b = cborhead.Append(b, cborhead.Text, len(ct))
		m[t] = append(b, ct...)
	}
	return m
}()

// MessageSize returns the length in bytes of the COSE_Sign1 message of a
// record of type t (one of the Type constants) with payload, as Sign and a
// card write it:
//
//	D2 84 <bstr protected> A0 <bstr payload> 58 40 <r || s>
//
// A message longer than MaxMessage is malformed: Sign does not make it,
// and Verify refuses it. A receipt that SignReceipt signs with a chain is
// ChainSize bytes longer, and may be so much over MaxMessage.
func MessageSize(t Type, payload []byte) int {
	var h [9]byte
	prot, n := len(ProtectedHeader(t)), len(payload)
	return 2 + len(cborhead.Append(h[:0], cborhead.Bytes, prot)) + prot +
		1 + len(cborhead.Append(h[:0], cborhead.Bytes, n)) + n + 2 + 64
}

// CheckMessageSize returns an error matching ErrMalformed when the
// COSE_Sign1 message of a record of type t with payload would be longer than
// MaxMessage (MessageSize), nil otherwise: Sign refuses to make such a
// message, and so does a card. A t that is none of the Type constants,
// which no message has, is refused with an error matching ErrType, as
// Sign refuses it.
func CheckMessageSize(t Type, payload []byte) error {
	if ProtectedHeader(t) == nil {
		return fmt.Errorf("%w: %v is no record type of the protocol", ErrType, t)
	}
	if n := MessageSize(t, payload); n > MaxMessage {
		return fmt.Errorf("%w: the signed message would be %d bytes, over %d", ErrMalformed, n, MaxMessage)
	}
	return nil
}

// bstrContent returns the content of raw, which must be exactly one
// definite-length CBOR byte string (go-cose has decoded it as one); the
// length of its head is left for oneEncoding to check.
func bstrContent(raw []byte) ([]byte, bool) {
	n, k, ok := readHead(raw, cborhead.Bytes)
	if !ok || uint64(len(raw)-k) != n {
		return nil, false
	}
	return raw[k:], true
}

// SigStructureDigest returns the SHA-256 of the COSE Sig_structure of a
// COSE_Sign1 message with the protected header protected (its encoded map)
// and payload, no external data, with shortest heads:
//
//	84 6A "Signature1" <bstr protected> 40 <bstr payload>
//
// It is what the ES256 signature of a record signs.
func SigStructureDigest(protected, payload []byte) [sha256.Size]byte {
	h := sha256.New()
	var scratch [16]byte
	head := append(scratch[:0], 0x84, 0x6A)
	h.Write(append(head, "Signature1"...))
	h.Write(cborhead.Append(scratch[:0], cborhead.Bytes, len(protected)))
	h.Write(protected)
	h.Write(cborhead.Append(append(scratch[:0], 0x40), cborhead.Bytes, len(payload)))
	h.Write(payload)
	var digest [sha256.Size]byte
	h.Sum(digest[:0])
	return digest
}

// oneEncoding reports whether msg is exactly D2 84 <bstr prot> A0
// <bstr payload> <bstr sig> with shortest heads (cutEnvelope): the one
// encoding of a COSE_Sign1 message of these parts. It compares in place,
// allocating nothing.
func oneEncoding(msg, prot, payload, sig []byte) bool {
	p, pl, sg, ok := cutEnvelope(msg)
	return ok && bytes.Equal(p, prot) && bytes.Equal(pl, payload) && bytes.Equal(sg, sig)
}

// VerifyES256 reports whether sig, the 64-byte IEEE P1363 form (r || s) that
// COSE uses, is a valid ECDSA P-256 signature of SHA-256(content) by pub. A
// pub that is not an ECDSA P-256 key with its point (nil, without a point,
// without a curve, or on another curve) verifies nothing. Verify checks
// signatures with the same ECDSA check, over the SigStructureDigest of the
// message, and refuses besides a signature whose s is above n/2 (see LowS),
// which VerifyES256 accepts.
func VerifyES256(pub *ecdsa.PublicKey, content, sig []byte) bool {
	digest := sha256.Sum256(content)
	return verifyDigest(pub, digest[:], sig)
}

// verifyDigest reports whether sig (r || s, 64 bytes) is a valid ECDSA
// P-256 signature of digest by pub, false for a pub that is not a P-256
// key with its point (crypto/ecdsa panics on one without its curve).
func verifyDigest(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	if !IsP256(pub) || len(sig) != 64 {
		return false
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, digest, r, s)
}

// halfOrderBytes is n/2, rounded down, for the order n of P-256, as 32
// big-endian bytes.
var halfOrderBytes = new(big.Int).Rsh(elliptic.P256().Params().N, 1).FillBytes(make([]byte, 32))

// LowS rewrites sig, an ES256 signature r || s of 64 bytes, into its low-S
// form: when s > n/2 it becomes n − s, the other valid signature of the same
// digest under the same r. Records carry only low-S signatures (Sign and a
// card's applet write them, Verify refuses the others), so that a signed
// message has exactly one form. A slice of another length is left alone.
func LowS(sig []byte) {
	if len(sig) != 64 {
		return
	}
	if !lowS(sig) {
		s := new(big.Int).SetBytes(sig[32:])
		s.Sub(elliptic.P256().Params().N, s).FillBytes(sig[32:])
	}
}

// lowS reports whether the s of sig (r || s, 64 bytes) is at most n/2,
// comparing bytes, so that Verify allocates nothing for it.
func lowS(sig []byte) bool {
	return len(sig) == 64 && bytes.Compare(sig[32:], halfOrderBytes) <= 0
}

// IsP256 reports whether pub is an ECDSA P-256 key with its point, the
// only key that Sign and Verify take (ES256).
func IsP256(pub *ecdsa.PublicKey) bool { return HasPoint(pub) && pub.Curve == elliptic.P256() }

// HasPoint reports whether k is a key with both coordinates set, which
// crypto/ecdsa needs before it can check that the point is on the curve:
// its Verify, Bytes, ECDH and Equal panic on a key without them.
func HasPoint(k *ecdsa.PublicKey) bool {
	//lint:ignore SA1019 only the coordinates tell a key built without them, which no other method survives
	return k != nil && k.X != nil && k.Y != nil
}
