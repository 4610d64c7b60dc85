package record

import (
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// signedSample returns the sample record name signed by a new key (a
// receipt with chain, when chain is not nil), and that key's public half.
func signedSample(t testing.TB, name string, chain [][]byte) ([]byte, *ecdsa.PublicKey) {
	t.Helper()
	key := newKey(t)
	var msg []byte
	var err error
	if chain == nil {
		msg, err = Sign(rand.Reader, key, samples()[name])
	} else {
		msg, err = SignReceipt(rand.Reader, key, samples()[name].(*Receipt), chain)
	}
	require.NoError(t, err)
	return msg, &key.PublicKey
}

// signedConsent returns the sample consent signed by a new key, and that
// key's public half.
func signedConsent(t testing.TB) ([]byte, *ecdsa.PublicKey) {
	return signedSample(t, "consent", nil)
}

// signedReceipt returns the sample receipt signed by a new key with a
// chain of two stand-in certificates of 500 bytes, and that key's public
// half.
func signedReceipt(t testing.TB) ([]byte, *ecdsa.PublicKey) {
	return signedSample(t, "receipt", certs(2, 500))
}

// benchLoop reports allocations and runs step, which checks msg with
// pub, at every iteration, failing b on its error.
func benchLoop(b *testing.B, msg []byte, pub *ecdsa.PublicKey, step func(msg []byte, pub *ecdsa.PublicKey) error) {
	b.ReportAllocs()
	for b.Loop() {
		if err := step(msg, pub); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the verification of a signed consent: the envelope,
// the signature and the payload.
func BenchmarkVerify(b *testing.B) {
	msg, pub := signedConsent(b)
	benchLoop(b, msg, pub, func(msg []byte, pub *ecdsa.PublicKey) error { return Verify(msg, pub, new(Consent)) })
}

// BenchmarkOpen is the decoding of a signed consent without its signature.
func BenchmarkOpen(b *testing.B) {
	msg, pub := signedConsent(b)
	benchLoop(b, msg, pub, func(msg []byte, _ *ecdsa.PublicKey) error { return Open(msg, new(Consent)) })
}

// BenchmarkVerifyReceipt is the verification of a receipt that carries a
// chain: the envelope, the signature and the payload.
func BenchmarkVerifyReceipt(b *testing.B) {
	msg, pub := signedReceipt(b)
	benchLoop(b, msg, pub, func(msg []byte, pub *ecdsa.PublicKey) error { return Verify(msg, pub, new(Receipt)) })
}

// BenchmarkReceiptChainThenVerify is what a phone did for a receipt
// before it decoded it once: the chain it carries (ReceiptChain), then
// the receipt verified (Verify), the message decoded twice.
func BenchmarkReceiptChainThenVerify(b *testing.B) {
	msg, pub := signedReceipt(b)
	benchLoop(b, msg, pub, func(msg []byte, pub *ecdsa.PublicKey) error {
		if _, err := ReceiptChain(msg); err != nil {
			return err
		}
		return Verify(msg, pub, new(Receipt))
	})
}

// BenchmarkDecodeReceiptVerify is what a phone does for a receipt: the
// message decoded once (DecodeReceipt), for its chain and for the
// receipt verified (SignedReceipt.Verify).
func BenchmarkDecodeReceiptVerify(b *testing.B) {
	msg, pub := signedReceipt(b)
	benchLoop(b, msg, pub, func(msg []byte, pub *ecdsa.PublicKey) error {
		sr, err := DecodeReceipt(msg)
		if err != nil {
			return err
		}
		_ = sr.Chain()
		return sr.Verify(pub, new(Receipt))
	})
}
