package applet_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// BenchmarkConsent is one consent as a phone gets it: VERIFY PIN, then SIGN
// RECORD of the consent fields, through the APDU boundary (Card → applet,
// in memory), with the counter stored before the signature. Compare with
// BenchmarkECDSASign, the bare signature of the same digest.
func BenchmarkConsent(b *testing.B) {
	benchConsent(b, nil)
}

// BenchmarkConsentFile is BenchmarkConsent with the card state in a File:
// every PIN try and counter is synced to disk, three writes per consent.
func BenchmarkConsentFile(b *testing.B) {
	benchConsent(b, &applet.File{Path: filepath.Join(b.TempDir(), "card.state")})
}

func benchConsent(b *testing.B, st applet.Storage) {
	v := newCard(b, simcardtest.Options{Storage: st})
	c := sampleConsent()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Card.VerifyPIN(simcardtest.PIN); err != nil {
			b.Fatal(err)
		}
		if _, err := v.Card.SignConsent(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDSASign is the floor: SHA-256 and ecdsa.Sign over the
// Sig_structure of the same consent, with no card around it.
func BenchmarkECDSASign(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	c := sampleConsent()
	c.CardHeader = record.CardHeader{CardID: testICCID, Counter: 1}
	msg, err := record.Sign(rand.Reader, key, c)
	if err != nil {
		b.Fatal(err)
	}
	// The signed content is about as long as the message without its
	// signature.
	content := msg[:len(msg)-64]
	b.ReportAllocs()
	for b.Loop() {
		digest := sha256.Sum256(content)
		if _, _, err := ecdsa.Sign(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}
