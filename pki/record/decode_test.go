package record

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verifyDecoded verifies msg as a phone does since it decodes a receipt
// once: DecodeReceipt, then Verify of the decoded receipt.
func verifyDecoded(msg []byte, pub *ecdsa.PublicKey, r *Receipt) error {
	sr, err := DecodeReceipt(msg)
	if err != nil {
		return err
	}
	return sr.Verify(pub, r)
}

// requireSameError checks that got is nil where want is, and otherwise
// an error of the same sentinels and text as want, but for what go-cose
// says of the header label or parameter it found invalid: it checks a
// header's labels in a map's order, so that of a header with two invalid
// ones either is named, from one call to the next.
func requireSameError(t *testing.T, want, got error, msgAndArgs ...any) {
	t.Helper()
	if want == nil {
		require.NoError(t, got, msgAndArgs...)
		return
	}
	require.Error(t, got, msgAndArgs...)
	require.Equal(t, withoutHeaderDetail(want.Error()), withoutHeaderDetail(got.Error()), msgAndArgs...)
	for _, sentinel := range []error{ErrMalformed, ErrType, ErrSignature, ErrKey} {
		require.Equal(t, errorsIs(want, sentinel), errorsIs(got, sentinel), "%v: %v", sentinel, got)
	}
}

// withoutHeaderDetail cuts an error's text where go-cose names the header
// label or parameter that it found invalid first.
func withoutHeaderDetail(s string) string {
	for _, mark := range []string{"header label: ", "header parameter: "} {
		if i := strings.Index(s, mark); i >= 0 {
			s = s[:i]
		}
	}
	return s
}

// requireSameRefusal checks that DecodeReceipt and SignedReceipt.Verify
// accept or refuse msg under pub exactly as Verify does, with an error of
// the same text and the same sentinels (requireSameError), and decode the
// same receipt; and that DecodeReceipt gives the chain that ReceiptChain
// gives.
func requireSameRefusal(t *testing.T, msg []byte, pub *ecdsa.PublicKey) {
	t.Helper()
	want, got := new(Receipt), new(Receipt)
	wantErr := Verify(msg, pub, want)
	gotErr := verifyDecoded(msg, pub, got)
	requireSameError(t, wantErr, gotErr, "Verify: %v", wantErr)
	require.Equal(t, want, got)

	chain, chainErr := ReceiptChain(msg)
	sr, err := DecodeReceipt(msg)
	requireSameError(t, chainErr, err, "ReceiptChain: %v", chainErr)
	if err == nil {
		require.Equal(t, chain, sr.Chain())
	} else {
		require.Nil(t, sr)
	}
}

// TestDecodeReceiptRefusesAsVerify: a receipt decoded once and verified
// (DecodeReceipt, SignedReceipt.Verify) is accepted or refused exactly as
// Verify accepts or refuses its message, with the same error: signed
// with a chain or without one, every byte flipped in turn, cut short at
// every length, with a byte appended, with the high-S form of its
// signature, under a key that did not sign it, under no key, and a
// consent given as a receipt (ErrType).
func TestDecodeReceiptRefusesAsVerify(t *testing.T) {
	key, stranger := newKey(t), newKey(t)
	r := samples()["receipt"].(*Receipt)
	chained, err := SignReceipt(rand.Reader, key, r, certs(2, 40))
	require.NoError(t, err)
	plain, err := Sign(rand.Reader, key, r)
	require.NoError(t, err)
	consent, err := Sign(rand.Reader, key, samples()["consent"])
	require.NoError(t, err)

	for name, msg := range map[string][]byte{"with a chain": chained, "without one": plain} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, verifyDecoded(msg, &key.PublicKey, new(Receipt)))
			requireSameRefusal(t, msg, &key.PublicKey)
			requireSameRefusal(t, msg, &stranger.PublicKey)
			requireSameRefusal(t, msg, nil)
			for i := range msg {
				flipped := append([]byte(nil), msg...)
				flipped[i] ^= 0x01
				requireSameRefusal(t, flipped, &key.PublicKey)
				requireSameRefusal(t, msg[:i], &key.PublicKey)
			}
			requireSameRefusal(t, append(append([]byte(nil), msg...), 0x00), &key.PublicKey)

			// The other signature of the same digest: n − s, above n/2.
			high := append([]byte(nil), msg...)
			s := high[len(high)-32:]
			new(big.Int).Sub(elliptic.P256().Params().N, new(big.Int).SetBytes(s)).FillBytes(s)
			assert.ErrorIs(t, Verify(high, &key.PublicKey, new(Receipt)), ErrSignature)
			requireSameRefusal(t, high, &key.PublicKey)
		})
	}
	requireSameRefusal(t, consent, &key.PublicKey)
	assert.ErrorIs(t, verifyDecoded(consent, &key.PublicKey, new(Receipt)), ErrType)
	requireSameRefusal(t, nil, &key.PublicKey)

	// No record to decode into, and no decoded receipt.
	sr, err := DecodeReceipt(chained)
	require.NoError(t, err)
	assert.Equal(t, Verify(chained, &key.PublicKey, (*Receipt)(nil)), sr.Verify(&key.PublicKey, nil))
	var none *SignedReceipt
	assert.ErrorIs(t, none.Verify(&key.PublicKey, new(Receipt)), ErrMalformed)
	assert.Nil(t, none.Chain())
}

// types are the record types, and one that is none (its protected
// header nil).
var types = []Type{TypeAuthProof, TypePaymentRequest, TypeConsent, TypeRefundRequest, TypeReceipt, 0, 6}

// requireSameDecode checks that decode accepts or refuses msg, as a record
// of every type, exactly as decodeCOSE does, with the same error
// (requireSameError) or the same parts, and that a msg that decodeSigned
// reads is one that decodeCOSE accepts, with the same parts.
func requireSameDecode(t *testing.T, msg []byte) {
	t.Helper()
	for _, ty := range types {
		want, wantErr := decodeCOSE(msg, ty)
		got, gotErr := decode(msg, ty)
		requireSameError(t, wantErr, gotErr, "%v", ty)
		require.Equal(t, want, got, "%v", ty)
		if fast, ok := decodeSigned(msg, ty); ok {
			require.NoError(t, wantErr, "%v: read in place, refused by go-cose", ty)
			require.Equal(t, want, fast, "%v", ty)
		}
	}
}

// TestDecodeSigned: what Sign writes for a record of each type, and
// SignReceipt for a receipt with a chain of one to three certificates,
// or of the most bytes a chain may add, is read in place (decodeSigned),
// its parts slices of the message, those that go-cose's path gives; for
// every other type, and for a message one byte of whose heads or fixed
// bytes is changed, or that is cut short or has a byte added, decode
// gives what go-cose's path gives, accepted or refused.
func TestDecodeSigned(t *testing.T) {
	key := newKey(t)
	var msgs [][]byte
	for name, r := range samples() {
		msg, err := Sign(rand.Reader, key, r)
		require.NoError(t, err, name)
		msgs = append(msgs, msg)
	}
	r := samples()["receipt"].(*Receipt)
	for _, chain := range [][][]byte{certs(1, 1), certs(1, 300), certs(2, 24), certs(3, 256), certs(1, MaxChain-6), certs(MaxChain/2-4, 1)} {
		require.NoError(t, CheckChain(chain))
		msg, err := SignReceipt(rand.Reader, key, r, chain)
		require.NoError(t, err)
		msgs = append(msgs, msg)
	}
	for _, msg := range msgs {
		read := 0
		for _, ty := range types {
			if m, ok := decodeSigned(msg, ty); ok {
				read++
				require.Equal(t, msg[len(msg)-64:], m.signature)
				assert.Same(t, &msg[len(msg)-1], &m.signature[63], "a slice of the message")
			}
		}
		require.Equal(t, 1, read, "read in place as a record of its type alone")
		requireSameDecode(t, msg)
		requireSameDecode(t, append(bytes.Clone(msg), 0))
		for i := range msg {
			requireSameDecode(t, msg[:i])
			if i > 120 && i < len(msg)-80 {
				continue // inside a certificate or the payload: requireSameDecode sees both paths agree on the rest
			}
			for _, x := range []byte{0x01, 0x20, 0xff} {
				changed := bytes.Clone(msg)
				changed[i] ^= x
				requireSameDecode(t, changed)
			}
		}
	}
}
