package applet_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

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

// BenchmarkConsentVsECDSA alternates, in every iteration, one consent
// through the APDUs (VERIFY PIN, then SIGN RECORD) and one bare SHA-256 and
// ecdsa.Sign of the same consent's signed content, timing each part, so
// that both see the same machine load. It reports the mean time of each
// and their ratios: sign/ecdsa (SIGN RECORD alone) and consent/ecdsa
// (VERIFY and SIGN RECORD).
func BenchmarkConsentVsECDSA(b *testing.B) {
	v := newCard(b, simcardtest.Options{})
	c := sampleConsent()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	content := signedContent(b, key)
	var verify, sign, bare time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if err := v.Card.VerifyPIN(simcardtest.PIN); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := v.Card.SignConsent(c); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		digest := sha256.Sum256(content)
		if _, _, err := ecdsa.Sign(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		verify += t1.Sub(t0)
		sign += t2.Sub(t1)
		bare += t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(sign.Nanoseconds())/n, "sign-ns/op")
	b.ReportMetric(float64((verify+sign).Nanoseconds())/n, "consent-ns/op")
	b.ReportMetric(float64(bare.Nanoseconds())/n, "ecdsa-ns/op")
	b.ReportMetric(float64(sign)/float64(bare), "sign/ecdsa")
	b.ReportMetric(float64(verify+sign)/float64(bare), "consent/ecdsa")
}

// signedContent returns about what the card hashes for a consent: the
// message without its signature.
func signedContent(b *testing.B, key *ecdsa.PrivateKey) []byte {
	c := sampleConsent()
	c.CardHeader = record.CardHeader{CardID: testICCID, Counter: 1}
	msg, err := record.Sign(rand.Reader, key, c)
	if err != nil {
		b.Fatal(err)
	}
	return msg[:len(msg)-64]
}

// BenchmarkECDSASign is the floor: SHA-256 and ecdsa.Sign over the
// Sig_structure of the same consent, with no card around it.
func BenchmarkECDSASign(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	content := signedContent(b, key)
	b.ReportAllocs()
	for b.Loop() {
		digest := sha256.Sum256(content)
		if _, _, err := ecdsa.Sign(rand.Reader, key, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}
