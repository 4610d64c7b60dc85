package record

import (
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// signedConsent returns the sample consent signed by a new key, and that
// key's public half.
func signedConsent(t testing.TB) ([]byte, *ecdsa.PublicKey) {
	t.Helper()
	key := newKey(t)
	msg, err := Sign(rand.Reader, key, samples()["consent"])
	require.NoError(t, err)
	return msg, &key.PublicKey
}

// BenchmarkVerify is the verification of a signed consent: the envelope,
// the signature and the payload.
func BenchmarkVerify(b *testing.B) {
	msg, pub := signedConsent(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(msg, pub, new(Consent)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen is the decoding of a signed consent without its signature.
func BenchmarkOpen(b *testing.B) {
	msg, _ := signedConsent(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := Open(msg, new(Consent)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeReceiptVerify is what a phone does for a receipt: the
// message decoded once (DecodeReceipt), for its chain and for the
// receipt verified (SignedReceipt.Verify).
func BenchmarkDecodeReceiptVerify(b *testing.B) {
	msg, pub := signedReceipt(b)
	b.ReportAllocs()
	for b.Loop() {
		sr, err := DecodeReceipt(msg)
		if err != nil {
			b.Fatal(err)
		}
		_ = sr.Chain()
		if err := sr.Verify(pub, new(Receipt)); err != nil {
			b.Fatal(err)
		}
	}
}
