package record

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireRefused checks that Marshal refuses r with want, an error
// matching ErrMalformed.
func requireRefused(t *testing.T, r Record, want FieldError) {
	t.Helper()
	_, err := Marshal(r)
	requireFieldError(t, err, want)
}

// requireFieldError checks that err is the FieldError want, an error
// matching ErrMalformed; msgAndArgs name the case.
func requireFieldError(t *testing.T, err error, want FieldError, msgAndArgs ...any) {
	t.Helper()
	var fe *FieldError
	require.ErrorAs(t, err, &fe, msgAndArgs...)
	assert.Equal(t, want, *fe, msgAndArgs...)
	assert.ErrorIs(t, err, ErrMalformed, msgAndArgs...)
}

// requireRoundTrip checks that r is valid and decodes back from its
// payload as it was.
func requireRoundTrip(t *testing.T, r Record) {
	t.Helper()
	payload := mustMarshal(t, r)
	got := fresh(r)
	require.NoError(t, Unmarshal(payload, got))
	assert.Equal(t, r, got)
}

// TestAmountsUpToTheLimit pins PROTOCOL.md §3 "amounts are unsigned minor
// units at most 2^63−1" and "each quantity 1 to 2^63−1": 2^63−1 itself
// is taken in every amount, quantity and unit price.
func TestAmountsUpToTheLimit(t *testing.T) {
	for name, m := range map[string]func(map[string]Record) Record{
		"request amount": func(s map[string]Record) Record {
			r := s["payment-request"].(*PaymentRequest)
			r.Amount = MaxAmount
			return r
		},
		"item quantity": func(s map[string]Record) Record {
			r := s["payment-request"].(*PaymentRequest)
			r.Items[0].Quantity = MaxAmount
			return r
		},
		"leg amount": func(s map[string]Record) Record {
			r := s["payment-request"].(*PaymentRequest)
			r.Legs = []Leg{{Asset: "TICKET", Amount: MaxAmount}}
			return r
		},
		"consent amount": func(s map[string]Record) Record { r := s["consent"].(*Consent); r.Amount = MaxAmount; return r },
		"refund amount": func(s map[string]Record) Record {
			r := s["refund-request"].(*RefundRequest)
			r.Amount = MaxAmount
			return r
		},
		"receipt amount": func(s map[string]Record) Record { r := s["receipt"].(*Receipt); r.Amount = MaxAmount; return r },
		"line quantity and unit price": func(s map[string]Record) Record {
			r := s["receipt"].(*Receipt)
			r.Lines[0].Quantity, r.Lines[0].UnitPrice = MaxAmount, MaxAmount
			return r
		},
	} {
		t.Run(name, func(t *testing.T) { requireRoundTrip(t, m(samples())) })
	}
}

// TestCountLimitsTaken pins the counts of PROTOCOL.md §3.3 and §3.6 at
// their limits: "at most 100" items and lines, "at most 8" legs, "1 to
// 16" transfer IDs are taken, encoded and decoded.
func TestCountLimitsTaken(t *testing.T) {
	req := samples()["payment-request"].(*PaymentRequest)
	req.Items = slices.Repeat(req.Items[:1], MaxItems)
	req.Legs = slices.Repeat([]Leg{{Asset: "TICKET", Amount: 1}}, MaxLegs)
	requireRoundTrip(t, req)

	rc := samples()["receipt"].(*Receipt)
	rc.Lines = slices.Repeat(rc.Lines[:1], MaxItems)
	rc.Legs = slices.Repeat([]Leg{{Asset: "TICKET", Amount: 1}}, MaxLegs)
	rc.TransferIDs = nil
	for i := range maxTransfer {
		rc.TransferIDs = append(rc.TransferIDs, id(byte(i+1)))
	}
	requireRoundTrip(t, rc)
}

// TestUnmarshalTakesPayloadOfMaxMessage: Unmarshal refuses a payload
// longer than MaxMessage unread (TestUnmarshalRefusesPayloadAboveMaxMessage),
// and decodes a valid one of MaxMessage bytes exactly.
func TestUnmarshalTakesPayloadOfMaxMessage(t *testing.T) {
	r := samples()["receipt"].(*Receipt)
	r.Lines = nil
	// A name of 24 to 64 bytes takes one byte more of the payload for each
	// byte it grows.
	for i := 0; len(mustMarshal(t, r)) < MaxMessage-300; i++ {
		r.Lines = append(r.Lines, Line{SKU: fmt.Sprintf("%03d", i) + strings.Repeat("s", MaxText-3), Name: strings.Repeat("n", 24), Quantity: 1, UnitPrice: 1})
	}
	for i := 0; len(mustMarshal(t, r)) < MaxMessage; i = (i + 1) % len(r.Lines) {
		if len(r.Lines[i].Name) < MaxText {
			r.Lines[i].Name += "n"
		}
	}
	payload := mustMarshal(t, r)
	require.Len(t, payload, MaxMessage)
	var got Receipt
	require.NoError(t, Unmarshal(payload, &got))
	assert.Equal(t, r, &got)
}

// TestCheckTextPrintableASCII pins PROTOCOL.md §3 "SKUs, asset names and
// merchant IDs are 1 to 64 bytes of printable ASCII": 0x20 to 0x7E, not
// 0x1F below it nor DEL above it.
func TestCheckTextPrintableASCII(t *testing.T) {
	for _, ok := range []string{"a b", "~", "a~b", "!", "sku-1/2"} {
		assert.NoError(t, CheckText("SKU", ok), "%q", ok)
	}
	for _, bad := range []string{"a\x1fb", "a\x7fb", "\x1f", "a\x80b"} {
		requireFieldError(t, CheckText("SKU", bad), FieldError{"SKU", "must be printable ASCII"}, "%q", bad)
	}
}

// TestCheckCurrencyLetters pins PROTOCOL.md §3 "currencies are ISO 4217
// alphabetic codes (three capital letters)": A and Z in every place are
// taken; the byte before A or after Z in any place, and a fourth letter,
// are not.
func TestCheckCurrencyLetters(t *testing.T) {
	for _, ok := range []string{"AAA", "ZZZ", "EUR"} {
		assert.NoError(t, CheckCurrency(ok), ok)
	}
	for _, bad := range []string{"@UR", "[UR", "E@R", "E[R", "EU@", "EU[", "EURO", "EU", ""} {
		requireFieldError(t, CheckCurrency(bad), FieldError{"currency", "must be an ISO 4217 code of three capital letters"}, "%q", bad)
	}
}

// TestReceiptChainIsTheCallers: ReceiptChain's chain "shares no memory
// with msg": changing it leaves the message as it was.
func TestReceiptChainIsTheCallers(t *testing.T) {
	key := newKey(t)
	chain := certs(2, 40)
	msg, err := SignReceipt(rand.Reader, key, samples()["receipt"].(*Receipt), chain)
	require.NoError(t, err)
	kept := bytes.Clone(msg)
	got, err := ReceiptChain(msg)
	require.NoError(t, err)
	require.Equal(t, chain, got)
	for _, c := range got {
		c[0] ^= 0xff
	}
	assert.Equal(t, kept, msg)
	require.NoError(t, Verify(msg, &key.PublicKey, new(Receipt)))
}

// TestSignedReceiptVerifyNoRecord: SignedReceipt.Verify without a receipt
// to decode into fails as Verify does, with ErrType before the signature
// is checked: under a key that did not sign the receipt too.
func TestSignedReceiptVerifyNoRecord(t *testing.T) {
	key, stranger := newKey(t), newKey(t)
	msg, err := Sign(rand.Reader, key, samples()["receipt"])
	require.NoError(t, err)
	sr, err := DecodeReceipt(msg)
	require.NoError(t, err)
	err = sr.Verify(&stranger.PublicKey, nil)
	assert.ErrorIs(t, err, ErrType)
	assert.NotErrorIs(t, err, ErrSignature)
	assert.Equal(t, Verify(msg, &stranger.PublicKey, (*Receipt)(nil)), err)
}

// TestAuthProofRoles pins PROTOCOL.md §3.2 key 4 "1 shopper, 2 seller":
// both are taken.
func TestAuthProofRoles(t *testing.T) {
	for _, role := range []Role{RoleShopper, RoleSeller} {
		p := samples()["auth-proof"].(*AuthProof)
		p.Role = role
		requireRoundTrip(t, p)
	}
}

// TestReceiptChainHeadsShortest pins PROTOCOL.md §3 "an envelope that is
// not in its one encoding (... shortest lengths ...)" for the x5chain: a
// certificate of 23 bytes under a head of two octets, or of 255 under one
// of three, is refused though the signature covers it, as is an array
// head that counts more certificates than the message holds bytes.
func TestReceiptChainHeadsShortest(t *testing.T) {
	key := newKey(t)
	payload := mustMarshal(t, samples()["receipt"])
	for name, entry := range map[string][]byte{
		"23 bytes, head 58 17":      cat([]byte{0x18, 0x21, 0x58, 23}, bytes.Repeat([]byte{0x30}, 23)),
		"255 bytes, head 59 00 ff":  cat([]byte{0x18, 0x21, 0x59, 0x00, 0xff}, bytes.Repeat([]byte{0x30}, 255)),
		"in an array, head 58 17":   cat([]byte{0x18, 0x21, 0x82, 0x41, 0x30, 0x58, 23}, bytes.Repeat([]byte{0x30}, 23)),
		"an array of 2^62 elements": cat([]byte{0x18, 0x21, 0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0}, bstrOf([]byte{0x30}), bstrOf([]byte{0x31})),
	} {
		t.Run(name, func(t *testing.T) {
			msg := signRaw(t, key, cat(receiptHeader(3), entry), payload)
			assert.ErrorIs(t, Verify(msg, &key.PublicKey, new(Receipt)), ErrMalformed)
			assert.ErrorIs(t, Open(msg, new(Receipt)), ErrMalformed)
			_, err := ReceiptChain(msg)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
}

// TestUnprotectedHeaderLimit pins PROTOCOL.md §3 "an unprotected header
// over 256 bytes, as malformed before any parameter of it is decoded":
// one of 257 bytes is refused for its length, one of 256 is read, and
// refused for not being the empty map.
func TestUnprotectedHeaderLimit(t *testing.T) {
	key, payload, _ := consentParts(t)
	signed := signRaw(t, key, ProtectedHeader(TypeConsent), payload)
	at := 2 + len(bstrOf(ProtectedHeader(TypeConsent)))
	require.Equal(t, byte(0xa0), signed[at])
	for n, want := range map[int]string{
		256: "record: malformed: the envelope is not in its deterministic encoding",
		257: "record: malformed: unprotected header of 257 bytes, over 256",
	} {
		// {100: h'3030...'}: a1 18 64 58 <length> <bytes>, n bytes in all.
		unprot := cat([]byte{0xa1, 0x18, 0x64, 0x58, byte(n - 5)}, bytes.Repeat([]byte{0x30}, n-5))
		require.Len(t, unprot, n)
		msg := cat(signed[:at], unprot, signed[at+1:])
		assert.EqualError(t, Verify(msg, &key.PublicKey, new(Consent)), want, "%d bytes", n)
		assert.EqualError(t, Open(msg, new(Consent)), want, "%d bytes", n)
	}
}

// TestMessageLimitExact pins PROTOCOL.md §3 "a message over 8192 bytes"
// as malformed: a message of 8192 bytes is read (and here refused for its
// content type, that of a receipt given as a consent), one of 8193 is
// refused for its length before its content type is looked at.
func TestMessageLimitExact(t *testing.T) {
	key := newKey(t)
	prot := ProtectedHeader(TypeReceipt)
	for n, want := range map[int]error{MaxMessage: ErrType, MaxMessage + 1: ErrMalformed} {
		// d2 84 <bstr prot> a0 59 <2-octet length> <payload> 58 40 <r || s>
		payload := bytes.Repeat([]byte{0xa0}, n-2-len(bstrOf(prot))-1-3-66)
		msg := signRaw(t, key, prot, payload)
		require.Len(t, msg, n)
		err := Verify(msg, &key.PublicKey, new(Consent))
		assert.ErrorIs(t, err, want, "%d bytes: %v", n, err)
		assert.ErrorIs(t, Open(msg, new(Consent)), want, "%d bytes", n)
		if n > MaxMessage {
			assert.EqualError(t, err, "record: malformed: 8193 bytes exceed 8192")
			assert.NotErrorIs(t, err, ErrType)
		}
	}
}

// TestVerifyES256SignatureLength pins PROTOCOL.md §3 "Verifiers refuse
// ... a signature of another length than 64 bytes" for VerifyES256: a
// valid signature with a zero byte added before s, or taken off s, or one
// of 31 bytes, verifies nothing.
func TestVerifyES256SignatureLength(t *testing.T) {
	key := newKey(t)
	content := []byte("content")
	digest := sha256.Sum256(content)
	var sig []byte
	for {
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		require.NoError(t, err)
		if s.BitLen() <= 248 { // s of 31 bytes: r || s one byte short is still r, s
			sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
			break
		}
	}
	require.True(t, VerifyES256(&key.PublicKey, content, sig))
	for _, tc := range []struct {
		name string
		sig  []byte
	}{
		{"65 bytes, s after a zero byte", cat(sig[:32], []byte{0}, sig[32:])},
		{"63 bytes, s without its zero", cat(sig[:32], sig[33:])},
		{"31 bytes", sig[:31]},
	} {
		assert.False(t, VerifyES256(&key.PublicKey, content, tc.sig), tc.name)
	}
}

// TestKeyWithoutACoordinate: a P-256 public key with one coordinate
// missing has no point (HasPoint), and Verify refuses it with ErrKey.
func TestKeyWithoutACoordinate(t *testing.T) {
	key := newKey(t)
	msg, err := Sign(rand.Reader, key, samples()["consent"])
	require.NoError(t, err)
	for name, pub := range map[string]*ecdsa.PublicKey{
		"no Y": {Curve: elliptic.P256(), X: key.X},
		"no X": {Curve: elliptic.P256(), Y: key.Y},
	} {
		assert.False(t, HasPoint(pub), name)
		assert.False(t, IsP256(pub), name)
		assert.ErrorIs(t, Verify(msg, pub, new(Consent)), ErrKey, name)
		assert.False(t, VerifyES256(pub, msg, msg[len(msg)-64:]), name)
	}
}
