package record

import (
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

// signedReceipt returns the sample receipt signed by a new key with a
// chain of two stand-in certificates of 500 bytes, and that key's public
// half.
func signedReceipt(t testing.TB) ([]byte, *ecdsa.PublicKey) {
	t.Helper()
	key := newKey(t)
	msg, err := SignReceipt(rand.Reader, key, samples()["receipt"].(*Receipt), certs(2, 500))
	require.NoError(t, err)
	return msg, &key.PublicKey
}

// BenchmarkVerifyReceipt is the verification of a receipt that carries a
// chain: the envelope, the signature and the payload.
func BenchmarkVerifyReceipt(b *testing.B) {
	msg, pub := signedReceipt(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify(msg, pub, new(Receipt)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiptChainThenVerify is what a phone did for a receipt
// before it decoded it once: the chain it carries (ReceiptChain), then
// the receipt verified (Verify), the message decoded twice.
func BenchmarkReceiptChainThenVerify(b *testing.B) {
	msg, pub := signedReceipt(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReceiptChain(msg); err != nil {
			b.Fatal(err)
		}
		if err := Verify(msg, pub, new(Receipt)); err != nil {
			b.Fatal(err)
		}
	}
}
