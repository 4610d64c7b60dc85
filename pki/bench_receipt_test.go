package pki

import (
	"testing"

	"github.com/casimpay/casimpay/pki/record"
)

// BenchmarkVerifyReceipt is a phone's offline check of a receipt that
// carries its platform's chain (Verifier.VerifyReceipt): the chain, served
// from the cache of verified chains, and the receipt's signature with its
// key.
func BenchmarkVerifyReceipt(b *testing.B) {
	h := newHierarchy(b)
	v := benchVerifier(b, h, 0)
	key, chain := issuePlatform(b, h, 0)
	msg := signReceipt(b, key, sampleReceipt(), chain)
	if _, err := v.VerifyReceipt(msg, chain, new(record.Receipt)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyReceipt(msg, chain, new(record.Receipt)); err != nil {
			b.Fatal(err)
		}
	}
}
