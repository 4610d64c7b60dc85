package record

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/cborhead"
)

// TestEnvelopeLayout freezes the bytes around the payload that PROTOCOL.md
// §3.7 shows for the consent sample.
func TestEnvelopeLayout(t *testing.T) {
	msg, err := Sign(rand.Reader, newKey(t), samples()["consent"])
	require.NoError(t, err)
	payload, err := os.ReadFile("testdata/consent.cbor.hex")
	require.NoError(t, err)
	p := strings.TrimSpace(string(payload))
	ct := hex.EncodeToString([]byte(TypeConsent.ContentType()))
	want := "d2" + "84" + "5824" + "a2" + "0126" + "03781e" + ct + "a0" + "5883" + p + "5840"
	got := hex.EncodeToString(msg)
	require.Len(t, got, len(want)+128)
	assert.Equal(t, want, got[:len(want)])
}

// TestVerifyRejectsProtectedHeaderEncodings: the protected header has one
// encoding, A2 01 26 03 <content type>, as the envelope around it does; a
// message whose protected header says the same in other bytes (keys out of
// order, an integer or a length in a longer form) is refused even though
// its signature, which covers those bytes, verifies.
func TestVerifyRejectsProtectedHeaderEncodings(t *testing.T) {
	key, payload, ctText := consentParts(t)
	ct := TypeConsent.ContentType()
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	canonical := cat([]byte{0xa2, 0x01, 0x26, 0x03}, ctText)
	msg := signRaw(t, key, canonical, payload)
	require.NoError(t, Verify(msg, &key.PublicKey, new(Consent)), "the one encoding")

	cases := map[string][]byte{
		"content type first":           cat([]byte{0xa2, 0x03}, ctText, []byte{0x01, 0x26}),
		"algorithm in two octets":      cat([]byte{0xa2, 0x01, 0x38, 0x06, 0x03}, ctText),
		"label in two octets":          cat([]byte{0xa2, 0x18, 0x01, 0x26, 0x03}, ctText),
		"content type length too long": cat([]byte{0xa2, 0x01, 0x26, 0x03, 0x79, 0x00, byte(len(ct))}, []byte(ct)),
	}
	for name, prot := range cases {
		t.Run(name, func(t *testing.T) {
			msg := signRaw(t, key, prot, payload)
			require.True(t, VerifyES256(&key.PublicKey, sigStructure(t, msg), msg[len(msg)-64:]), "the signature itself is valid")
			assert.ErrorIs(t, Verify(msg, &key.PublicKey, new(Consent)), ErrMalformed)
			assert.ErrorIs(t, Open(msg, new(Consent)), ErrMalformed)
		})
	}
}

// signRaw returns the COSE_Sign1 message of the protected header bytes prot
// and payload, signed with ES256 by key (a low-S signature), with every head
// in its shortest form around them.
func signRaw(t *testing.T, key *ecdsa.PrivateKey, prot, payload []byte) []byte {
	t.Helper()
	bstr := func(b []byte) []byte { return append(cborhead.Append(nil, cborhead.Bytes, len(b)), b...) }
	tbs := bytes.Join([][]byte{{0x84, 0x6a}, []byte("Signature1"), bstr(prot), {0x40}, bstr(payload)}, nil)
	digest := sha256.Sum256(tbs)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	require.NoError(t, err)
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	LowS(sig[:])
	return bytes.Join([][]byte{{0xd2, 0x84}, bstr(prot), {0xa0}, bstr(payload), bstr(sig[:])}, nil)
}

// TestVerifyDecodesOnce: Verify does what Open does and checks the
// signature, nothing more: it allocates no more than Open and VerifyES256
// over the same message together, as it would not if it parsed or
// re-encoded the envelope's parts once more to build what the signature
// covers.
func TestVerifyDecodesOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts vary under the race detector")
	}
	msg, pub := signedConsent(t)
	prot := ProtectedHeader(TypeConsent)
	// d2 84 <bstr prot> a0 58 <1-octet length> <payload> 58 40 <r || s>
	sig := msg[len(msg)-64:]
	payload := msg[len(cborhead.Append([]byte{0xd2, 0x84}, cborhead.Bytes, len(prot)))+len(prot)+1+2 : len(msg)-66]
	content := append([]byte{0x84, 0x6A}, "Signature1"...)
	content = append(cborhead.Append(content, cborhead.Bytes, len(prot)), prot...)
	content = append(cborhead.Append(append(content, 0x40), cborhead.Bytes, len(payload)), payload...)
	require.True(t, VerifyES256(pub, content, sig), "the Sig_structure built here is the one signed")

	open := testing.AllocsPerRun(50, func() { require.NoError(t, Open(msg, new(Consent))) })
	check := testing.AllocsPerRun(50, func() { require.True(t, VerifyES256(pub, content, sig)) })
	verify := testing.AllocsPerRun(50, func() { require.NoError(t, Verify(msg, pub, new(Consent))) })
	assert.LessOrEqual(t, verify, open+check, "Open %v, VerifyES256 %v", open, check)
}

// TestCheckMessageSizeType: CheckMessageSize refuses a type that is none
// of the Type constants with ErrType, as Sign does, whatever the payload:
// no message of such a type is made.
func TestCheckMessageSizeType(t *testing.T) {
	for _, typ := range []Type{0, TypeReceipt + 1, 255} {
		for _, payload := range [][]byte{nil, {0xa0}, make([]byte, MaxMessage)} {
			err := CheckMessageSize(typ, payload)
			assert.ErrorIs(t, err, ErrType, "%v, %d bytes", typ, len(payload))
			assert.NotErrorIs(t, err, ErrMalformed, "%v, %d bytes", typ, len(payload))
		}
	}
	for _, typ := range []Type{TypeAuthProof, TypePaymentRequest, TypeConsent, TypeRefundRequest, TypeReceipt} {
		assert.NoError(t, CheckMessageSize(typ, []byte{0xa0}), "%v", typ)
	}
}

// TestSignRefusesOversizedMessages: Sign makes no message that Verify
// refuses for its length. A receipt of MaxItems lines of long SKUs and
// names is valid field by field but would be some 14 000 bytes signed; the
// receipts around the limit are signed exactly when their message, of
// MessageSize bytes, fits, as CheckMessageSize tells.
func TestSignRefusesOversizedMessages(t *testing.T) {
	key := newKey(t)
	receipt := func(lines, name int) *Receipt {
		r := samples()["receipt"].(*Receipt)
		r.Lines = nil
		for i := range lines {
			sku := fmt.Sprintf("%03d", i) + strings.Repeat("s", MaxText-3)
			r.Lines = append(r.Lines, Line{SKU: sku, Name: strings.Repeat("n", name), Quantity: 1, UnitPrice: 1})
		}
		return r
	}
	_, err := Sign(rand.Reader, key, receipt(MaxItems, MaxText))
	assert.ErrorIs(t, err, ErrMalformed)

	signed, refused := 0, 0
	for name := 1; name <= MaxText; name++ {
		r := receipt(58, name)
		payload, err := Marshal(r)
		require.NoError(t, err)
		n := MessageSize(TypeReceipt, payload)
		msg, err := Sign(rand.Reader, key, r)
		if n > MaxMessage {
			assert.ErrorIs(t, err, ErrMalformed, "%d bytes", n)
			assert.ErrorIs(t, CheckMessageSize(TypeReceipt, payload), ErrMalformed, "%d bytes", n)
			refused++
			continue
		}
		require.NoError(t, err, "%d bytes", n)
		assert.NoError(t, CheckMessageSize(TypeReceipt, payload), "%d bytes", n)
		assert.Equal(t, n, len(msg))
		require.NoError(t, Verify(msg, &key.PublicKey, new(Receipt)))
		signed++
	}
	assert.NotZero(t, signed)
	assert.NotZero(t, refused)
}

// TestOpenRefusesLargeHeadersUnread: a message whose protected header
// (a receipt's beyond its x5chain) or unprotected header is longer than
// any that a verifier takes (maxHeaderBytes) is refused as malformed
// before its header parameters are decoded, by Open, Verify and
// DecodeReceipt alike, so that some 8 KiB of them, a thousand or more
// entries, cost no more than a message of the layout: a few
// allocations, not one or more per entry. A protected header of
// maxHeaderBytes (a long content type) is still read, and refused for
// its type.
func TestOpenRefusesLargeHeadersUnread(t *testing.T) {
	key := newKey(t)
	payload, err := Marshal(samples()["consent"])
	require.NoError(t, err)
	bstr := func(b []byte) []byte { return append(cborhead.Append(nil, cborhead.Bytes, len(b)), b...) }
	// A map of n entries, each an integer label and an empty array.
	entries := func(n int) []byte {
		m := cborhead.Append(nil, 5, n) // major type 5: a map
		for i := range n {
			m = append(cborhead.Append(m, 0, 100+i), 0x80)
		}
		return m
	}
	message := func(prot, unprot []byte) []byte {
		return bytes.Join([][]byte{{0xd2, 0x84}, bstr(prot), unprot, bstr(payload), bstr(make([]byte, 64))}, nil)
	}
	withType := func(ct string) []byte {
		return append(cborhead.Append([]byte{0xa2, 0x01, 0x26, 0x03}, cborhead.Text, len(ct)), ct...)
	}
	for name, tc := range map[string]struct {
		msg  []byte
		want Type
	}{
		"protected header":                {message(entries(1500), []byte{0xa0}), TypeConsent},
		"unprotected header":              {message(ProtectedHeader(TypeConsent), entries(1500)), TypeConsent},
		"receipt's protected header":      {message(entries(2400), []byte{0xa0}), TypeReceipt},
		"a byte over the protected limit": {message(withType("x/"+strings.Repeat("a", 247)), []byte{0xa0}), TypeConsent},
	} {
		t.Run(name, func(t *testing.T) {
			require.LessOrEqual(t, len(tc.msg), messageLimit(tc.want), "within the message's limit")
			_, err := decode(tc.msg, tc.want)
			require.ErrorIs(t, err, ErrMalformed)
			assert.ErrorContains(t, err, "header of")
			if tc.want == TypeReceipt {
				_, err := DecodeReceipt(tc.msg)
				assert.ErrorIs(t, err, ErrMalformed)
			} else {
				assert.ErrorIs(t, Open(tc.msg, new(Consent)), ErrMalformed)
				assert.ErrorIs(t, Verify(tc.msg, &key.PublicKey, new(Consent)), ErrMalformed)
			}
			if raceEnabled {
				return
			}
			allocs := testing.AllocsPerRun(20, func() { _, _ = decode(tc.msg, tc.want) })
			assert.LessOrEqual(t, allocs, 16.0, "allocations to refuse %d bytes", len(tc.msg))
		})
	}
	// The longest protected header taken: its item maxHeaderBytes long.
	prot := withType("x/" + strings.Repeat("a", 246))
	require.Len(t, bstr(prot), maxHeaderBytes)
	msg := signRaw(t, key, prot, payload)
	assert.ErrorIs(t, Verify(msg, &key.PublicKey, new(Consent)), ErrType)
	assert.ErrorIs(t, Open(msg, new(Consent)), ErrType)
}

// TestVerifyRefusesCrit: a protected header with the crit parameter
// (label 2), even one that names a parameter the header has, is refused
// as malformed (PROTOCOL.md §3: any other header parameter), though its
// signature verifies.
func TestVerifyRefusesCrit(t *testing.T) {
	key, payload, ctText := consentParts(t)
	for name, crit := range map[string][]byte{
		"crit naming the content type": {0x81, 0x03},
		"crit naming the algorithm":    {0x81, 0x01},
	} {
		t.Run(name, func(t *testing.T) {
			// {1: -7, 2: crit, 3: content type}
			prot := bytes.Join([][]byte{{0xa3, 0x01, 0x26, 0x02}, crit, {0x03}, ctText}, nil)
			msg := signRaw(t, key, prot, payload)
			require.True(t, VerifyES256(&key.PublicKey, sigStructure(t, msg), msg[len(msg)-64:]), "the signature itself is valid")
			const want = "record: malformed: unexpected COSE header parameters"
			err := Verify(msg, &key.PublicKey, new(Consent))
			assert.ErrorIs(t, err, ErrMalformed)
			assert.EqualError(t, err, want)
			assert.EqualError(t, Open(msg, new(Consent)), want)
		})
	}
}

// consentParts returns a new key, the payload of the consent sample and
// the content type of a consent as a CBOR text string, to build messages
// of other protected headers with (signRaw).
func consentParts(t *testing.T) (key *ecdsa.PrivateKey, payload, ctText []byte) {
	t.Helper()
	payload, err := Marshal(samples()["consent"])
	require.NoError(t, err)
	ct := TypeConsent.ContentType()
	return newKey(t), payload, append(cborhead.Append(nil, cborhead.Text, len(ct)), ct...)
}

// TestVerifyRefusesDetachedPayload: a message whose payload is nil, the
// payload detached (RFC 9052 §2), is refused as such, its signature over
// the record valid: Verify, Open and DecodeReceipt say "detached payload".
func TestVerifyRefusesDetachedPayload(t *testing.T) {
	key := newKey(t)
	for name, r := range samples() {
		t.Run(name, func(t *testing.T) {
			payload, err := Marshal(r)
			require.NoError(t, err)
			prot := ProtectedHeader(r.Type())
			msg := signRaw(t, key, prot, payload)
			head := append(cborhead.Append([]byte{0xd2, 0x84}, cborhead.Bytes, len(prot)), prot...)
			head = append(head, 0xa0)
			body := append(cborhead.Append(bytes.Clone(head), cborhead.Bytes, len(payload)), payload...)
			require.True(t, bytes.HasPrefix(msg, body))
			detached := append(append(head, 0xf6), msg[len(body):]...)

			const want = "record: malformed: detached payload"
			err = Verify(detached, &key.PublicKey, fresh(r))
			assert.ErrorIs(t, err, ErrMalformed)
			assert.EqualError(t, err, want)
			assert.EqualError(t, Open(detached, fresh(r)), want)
			if r.Type() == TypeReceipt {
				_, err := DecodeReceipt(detached)
				assert.EqualError(t, err, want)
			}
		})
	}
}
