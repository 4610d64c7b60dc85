package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/casimpay/casimpay/pki/record"
)

func FuzzValidICCID(f *testing.F) {
	for _, s := range []string{testICCID, testICCID2, "89014103211118510721", "", "89", "8901410321111851072A", "٨٩٠١٤١٠٣٢١١١١٨٥١٠٧٢٠"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidICCID(s)
		if err != nil && !errors.Is(err, ErrCardID) {
			t.Fatalf("error %v does not match ErrCardID", err)
		}
		uri, uerr := CardURI(s)
		if (err == nil) != (uerr == nil) {
			t.Fatalf("ValidICCID %v but CardURI %v", err, uerr)
		}
		if err != nil {
			return
		}
		if len(s) < 19 || len(s) > 20 || s[:2] != "89" {
			t.Fatalf("accepted %q", s)
		}
		back, err := ParseCardURI(uri)
		if err != nil || back != s {
			t.Fatalf("round trip of %q: %q, %v", s, back, err)
		}
		if full, err := CompleteICCID(s[:len(s)-1]); err != nil || full != s {
			t.Fatalf("CompleteICCID(%q) = %q, %v", s[:len(s)-1], full, err)
		}
	})
}

func FuzzParseCardURI(f *testing.F) {
	for _, s := range []string{"urn:casim:card:" + testICCID, "urn:casim:card:", "URN:casim:card:" + testICCID, "urn:casim:card:" + testICCID + "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseCardURI(s)
		if err != nil {
			if !errors.Is(err, ErrCardID) {
				t.Fatalf("error %v does not match ErrCardID", err)
			}
			return
		}
		if CardURIPrefix+id != s || ValidICCID(id) != nil {
			t.Fatalf("accepted %q as %q", s, id)
		}
	})
}

// FuzzParseCertificate checks that ParseCertificate never panics, keeps the
// bytes it was given, and agrees with crypto/x509 wherever that parses: the
// same signed part, extensions, extended key usages and public key.
func FuzzParseCertificate(f *testing.F) {
	h := newHierarchy(f)
	f.Add(h.card)
	f.Add(h.ca.DER())
	f.Add(readFrozen(f, "card.pem"))
	// Refused: its version written out as v1.
	f.Add(withVersion1(f, h.ca.Signer(), h.card))
	f.Add(issueRaw(f, h.ca, &x509.Certificate{ // an extended key usage crypto/x509 reads
		Subject:     pkix.Name{CommonName: "client"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, newKey(f).Public()))
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := ParseCertificate(der)
		if err != nil {
			if !errors.Is(err, ErrUntrusted) {
				t.Fatalf("error %v does not match ErrUntrusted", err)
			}
			return
		}
		if !bytes.Equal(c.Raw, der) {
			t.Fatal("Raw differs from the input")
		}
		if !bytes.Contains(der, c.RawTBSCertificate) {
			t.Fatal("RawTBSCertificate is not part of the input")
		}
		if std, err := x509.ParseCertificate(der); err == nil {
			sameAsStd(t, std, c)
		}
		_, _ = ExtKeyUsages(c)
	})
}

// sameAsStd fails t unless c, parsed by ParseCertificate, holds what std,
// parsed by crypto/x509 from the same bytes, does: the signed part, the
// extensions, the extended key usages and the public key.
func sameAsStd(t *testing.T, std, c *x509.Certificate) {
	t.Helper()
	if !bytes.Equal(std.RawTBSCertificate, c.RawTBSCertificate) {
		t.Fatal("RawTBSCertificate differs from crypto/x509's")
	}
	if !slices.EqualFunc(std.Extensions, c.Extensions, func(a, b pkix.Extension) bool {
		return a.Id.Equal(b.Id) && a.Critical == b.Critical && bytes.Equal(a.Value, b.Value)
	}) {
		t.Fatal("Extensions differ from crypto/x509's")
	}
	if !slices.Equal(std.ExtKeyUsage, c.ExtKeyUsage) {
		t.Fatalf("ExtKeyUsage %v, crypto/x509 %v", c.ExtKeyUsage, std.ExtKeyUsage)
	}
	if !slices.EqualFunc(std.UnknownExtKeyUsage, c.UnknownExtKeyUsage, asn1.ObjectIdentifier.Equal) {
		t.Fatalf("UnknownExtKeyUsage %v, crypto/x509 %v", c.UnknownExtKeyUsage, std.UnknownExtKeyUsage)
	}
	if k, ok := std.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok {
		if !k.Equal(c.PublicKey) {
			t.Fatal("PublicKey differs from crypto/x509's")
		}
	} else if !reflect.DeepEqual(std.PublicKey, c.PublicKey) { // *dsa.PublicKey has no Equal
		t.Fatalf("PublicKey %T differs from crypto/x509's %T", c.PublicKey, std.PublicKey)
	}
}

// frozenSet is the frozen OpenSSL hierarchy in DER.
type frozenSet struct{ root, ca, card, rootCRL, cardCRL []byte }

func loadFrozen(tb testing.TB) frozenSet {
	return frozenSet{
		root: readFrozen(tb, "root.pem"), ca: readFrozen(tb, "ca.pem"), card: readFrozen(tb, "card.pem"),
		rootCRL: readFrozen(tb, "root-crl.pem"), cardCRL: readFrozen(tb, "card-crl.pem"),
	}
}

// fuzzVerifier trusts the frozen OpenSSL hierarchy with its fresh CRLs.
func fuzzVerifier(tb testing.TB, fs frozenSet) *Verifier {
	crl, err := x509.ParseRevocationList(fs.cardCRL)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := NewVerifier(VerifierOptions{
		Roots:         [][]byte{fs.root},
		Intermediates: [][]byte{fs.ca},
		Now:           fixed(crl.ThisUpdate.Add(time.Minute)),
		CacheSize:     -1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, der := range [][]byte{fs.rootCRL, fs.cardCRL} {
		if err := v.AddCRL(der); err != nil {
			tb.Fatal(err)
		}
	}
	return v
}

var verifyErrors = []error{ErrUntrusted, ErrExpired, ErrRevoked, ErrUsage, ErrCardID, ErrCRL}

func matchesOne(err error) bool {
	for _, e := range verifyErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzVerifyCard feeds a two-certificate chain to VerifyCard: it must never
// panic, must fail with one of the package's errors, and may succeed only
// for a card of the profile. CertIDs reads every chain that VerifyCard
// accepts or finds revoked, and Revoked agrees with it on those; no
// certificate of the path of a chain accepted ends before CertIDs's
// NotAfter.
func FuzzVerifyCard(f *testing.F) {
	fs := loadFrozen(f)
	v := fuzzVerifier(f, fs)
	card, ca := fs.card, fs.ca
	f.Add(card, ca)
	f.Add(ca, card)
	f.Add(card[:len(card)/2], ca)
	f.Fuzz(func(t *testing.T, leaf, inter []byte) {
		vc, err := v.VerifyCard([][]byte{leaf, inter})
		checkCertIDs(t, v, [][]byte{leaf, inter}, err)
		if err != nil {
			if !matchesOne(err) || vc != nil {
				t.Fatalf("unexpected result %v, %v", vc, err)
			}
			return
		}
		if ValidICCID(vc.CardID) != nil || vc.PublicKey == nil || len(vc.Chain) != 3 {
			t.Fatalf("accepted a card outside the profile: %+v", vc)
		}
		ids, err := v.CertIDs([][]byte{leaf, inter})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range vc.Chain {
			if c.NotAfter.Before(ids.NotAfter()) {
				t.Fatalf("a certificate of the path ends at %v, before NotAfter %v", c.NotAfter, ids.NotAfter())
			}
		}
	})
}

// FuzzAddCRL feeds CRLs to AddCRL: it must never panic, must fail with
// ErrCRL, and a CRL it accepts is one DER element with nothing after it and
// leaves the card verifiable or revoked.
func FuzzAddCRL(f *testing.F) {
	for _, name := range []string{"card-crl.pem", "card-crl-revoked.pem", "root-crl.pem"} {
		f.Add(readFrozen(f, name))
	}
	fs := loadFrozen(f)
	f.Fuzz(func(t *testing.T, der []byte) {
		v := fuzzVerifier(t, fs)
		if err := v.AddCRL(der); err != nil {
			if !errors.Is(err, ErrCRL) {
				t.Fatalf("error %v does not match ErrCRL", err)
			}
			return
		}
		if crl, err := x509.ParseRevocationList(der); err != nil || len(crl.Raw) != len(der) {
			t.Fatalf("accepted a CRL that is not one DER element: %v", err)
		}
		_, err := v.VerifyCard([][]byte{fs.card, fs.ca})
		if err != nil && !errors.Is(err, ErrRevoked) {
			t.Fatalf("after an accepted CRL: %v", err)
		}
		checkCertIDs(t, v, [][]byte{fs.card, fs.ca}, err)
	})
}

// checkCertIDs checks CertIDs and Revoked on a chain that VerifyCard
// answered verr: CertIDs fails only with ErrUntrusted, and not for a chain
// that VerifyCard found revoked or accepted; Revoked is true for a chain
// that VerifyCard found revoked. It may be true for a chain VerifyCard
// accepted too: a certificate presented off the path VerifyCard took may
// be revoked.
func checkCertIDs(t *testing.T, v *Verifier, chain [][]byte, verr error) {
	t.Helper()
	ids, err := v.CertIDs(chain)
	if err != nil {
		if !errors.Is(err, ErrUntrusted) || ids != nil {
			t.Fatalf("CertIDs: unexpected result %v, %v", ids, err)
		}
		if verr == nil || errors.Is(verr, ErrRevoked) {
			t.Fatalf("CertIDs refused a chain that VerifyCard answered %v: %v", verr, err)
		}
		return
	}
	if got := v.Revoked(ids); errors.Is(verr, ErrRevoked) && !got {
		t.Fatalf("Revoked %v, VerifyCard %v", got, verr)
	}
}

// readFrozen returns the DER of a PEM file of testdata/openssl.
func readFrozen(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "openssl", name))
	if err != nil {
		tb.Fatal(err)
	}
	if ders, err := ParseCertificatesPEM(data); err == nil {
		return ders[0]
	}
	der, err := ParseCRLPEM(data)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// FuzzCardSAN feeds subject alternative name extension values to the card
// ID rule: it must never panic, must refuse with ErrCardID, and may accept
// only the one card URI of a valid ICCID, which it returns.
func FuzzCardSAN(f *testing.F) {
	h := newHierarchy(f)
	for _, e := range mustParse(f, h.card).Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			f.Add(e.Value)
		}
	}
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x04, 0x86, 0x02, 'h', 'i'})
	f.Fuzz(func(t *testing.T, san []byte) {
		c := &x509.Certificate{Extensions: []pkix.Extension{{Id: oidSubjectAltName, Value: san}}}
		id, err := CardID(c)
		if err != nil {
			if !errors.Is(err, ErrCardID) {
				t.Fatalf("error %v does not match ErrCardID", err)
			}
			return
		}
		if ValidICCID(id) != nil || !bytes.Contains(san, []byte(CardURIPrefix+id)) {
			t.Fatalf("accepted %x as %q", san, id)
		}
	})
}

// FuzzExtKeyUsages feeds extended key usage extension values to the parser
// of wide OIDs: it must never panic, and what it accepts must encode back
// to the same bytes.
func FuzzExtKeyUsages(f *testing.F) {
	for _, oids := range [][]x509.OID{{OIDCardAuth}, {OIDReceiptSigning, oidAnyEKU}, {mustOID("1.3.6.1.5.5.7.3.2")}} {
		ext, err := ekuExtension(oids...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ext.Value)
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, v []byte) {
		oids, err := parseEKU(v)
		if err != nil {
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("error %v does not match ErrUsage", err)
			}
			return
		}
		ext, err := ekuExtension(oids...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ext.Value, v) {
			t.Fatalf("round trip of %x gave %x", v, ext.Value)
		}
	})
}

// FuzzParsePEM feeds arbitrary text to the PEM readers: they never panic,
// fail only with their sentinels, and what they return is what the PEM
// writers turn back into the same blocks.
func FuzzParsePEM(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("no PEM here"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if ders, err := ParseCertificatesPEM(data); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("certificates: %v", err)
			}
		} else {
			// Every line that begins a certificate block begins one
			// read: none is passed over.
			begun := 0
			for _, line := range bytes.Split(data, []byte("\n")) {
				if string(bytes.TrimRight(line, " \t\r")) == "-----BEGIN CERTIFICATE-----" {
					begun++
				}
			}
			if begun > len(ders) {
				t.Fatalf("%d certificates read of %d begun", len(ders), begun)
			}
			var again []byte
			for _, der := range ders {
				again = append(again, CertificatePEM(der)...)
			}
			back, err := ParseCertificatesPEM(again)
			if err != nil || len(back) != len(ders) {
				t.Fatalf("certificates again: %d, %v", len(back), err)
			}
		}
		if der, err := ParseCRLPEM(data); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("CRL: %v", err)
			}
		} else if back, err := ParseCRLPEM(CRLPEM(der)); err != nil || !bytes.Equal(back, der) {
			t.Fatalf("CRL again: %v", err)
		}
		if key, err := ParsePrivateKeyPEM(data); err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrKey) {
				t.Fatalf("key: %v", err)
			}
		} else {
			ek, ok := key.(*ecdsa.PrivateKey)
			if !ok {
				t.Fatalf("key of type %T", key)
			}
			p, err := PrivateKeyPEM(ek)
			if err != nil {
				t.Fatalf("key again: %v", err)
			}
			if back, err := ParsePrivateKeyPEM(p); err != nil || !ek.Equal(back) {
				t.Fatalf("key again: %v", err)
			}
		}
	})
}

// frozenCAKey returns the key of the card CA of the frozen OpenSSL
// hierarchy.
func frozenCAKey(tb testing.TB) crypto.Signer {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "openssl", "ca.key"))
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// frozenPlatform returns the chain of a platform certificate issued by the
// card CA of the frozen OpenSSL hierarchy (its key is testdata's), valid
// at the time of fuzzVerifier: the platform's certificate, then the card
// CA's.
func frozenPlatform(tb testing.TB, fs frozenSet) [][]byte {
	tb.Helper()
	_, chain := frozenPlatformKey(tb, fs)
	return chain
}

// frozenPlatformKey is frozenPlatform with the platform certificate's
// key.
func frozenPlatformKey(tb testing.TB, fs frozenSet) (*ecdsa.PrivateKey, [][]byte) {
	tb.Helper()
	key := frozenCAKey(tb)
	crl, err := x509.ParseRevocationList(fs.cardCRL)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := LoadCA(key, fs.ca, nil, CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(crl.ThisUpdate)})
	if err != nil {
		tb.Fatal(err)
	}
	pk := newKey(tb)
	platform, err := ca.IssuePlatform(pk.Public(), "casimpay platform", IssueOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return pk, [][]byte{platform, fs.ca}
}

// FuzzVerifyReceipt feeds a receipt to DecodeReceipt, ReceiptPlatform
// and VerifyReceipt, as a phone reads it from the platform's reply: they
// must never panic and must agree: DecodeReceipt fails with a record error
// of the envelope (malformed, wrong type, an algorithm other than ES256:
// record.ErrSignature) or one of the chain's, and returns nothing then;
// ReceiptPlatform returns its platform and error; VerifyReceipt accepts a
// receipt only when DecodeReceipt does, with the platform of the chain it
// carries, or of the current chain when it carries none, whose key
// verifies the decoded receipt's signature, and a receipt that
// record.Receipt's checks take.
func FuzzVerifyReceipt(f *testing.F) {
	fs := loadFrozen(f)
	v := fuzzVerifier(f, fs)
	key, chain := frozenPlatformKey(f, fs)
	rc := sampleReceipt()
	withChain, err := record.SignReceipt(rand.Reader, key, rc, chain)
	if err != nil {
		f.Fatal(err)
	}
	bare, err := record.Sign(rand.Reader, key, rc)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := v.VerifyReceipt(withChain, nil, new(record.Receipt)); err != nil {
		f.Fatalf("the receipt seed: %v", err)
	}
	f.Add(withChain)
	f.Add(bare)
	f.Add(withChain[:len(withChain)/2])
	f.Fuzz(func(t *testing.T, msg []byte) {
		sr, vp, err := v.DecodeReceipt(msg)
		vp2, err2 := v.ReceiptPlatform(msg)
		if (err == nil) != (err2 == nil) || (vp == nil) != (vp2 == nil) {
			t.Fatalf("DecodeReceipt %v, %v; ReceiptPlatform %v, %v", vp, err, vp2, err2)
		}
		var r record.Receipt
		got, verr := v.VerifyReceipt(msg, chain, &r)
		if err != nil {
			if sr != nil || vp != nil || !(matchesOne(err) || errors.Is(err, record.ErrMalformed) || errors.Is(err, record.ErrType) || errors.Is(err, record.ErrSignature)) {
				t.Fatalf("DecodeReceipt: unexpected result %v, %v, %v", sr, vp, err)
			}
			if verr == nil {
				t.Fatalf("VerifyReceipt accepted a receipt that DecodeReceipt refuses (%v)", err)
			}
			return
		}
		if verr != nil {
			return
		}
		if vp == nil {
			if vp, err = v.VerifyPlatform(chain); err != nil {
				t.Fatalf("the current chain: %v", err)
			}
		}
		if !got.PublicKey.Equal(vp.PublicKey) {
			t.Fatal("VerifyReceipt accepted a receipt with another platform than the one it carries")
		}
		var again record.Receipt
		if err := vp.VerifySignedReceipt(sr, &again); err != nil {
			t.Fatalf("VerifyReceipt accepted a receipt whose signature its platform refuses: %v", err)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("two decodings of one receipt differ: %+v, %+v", r, again)
		}
	})
}

// FuzzVerifyPlatform feeds a two-certificate chain to VerifyPlatform, as a
// phone reads it from GET /v1/info: it must never panic, must fail with
// one of the package's errors other than ErrCardID (a platform has no card
// ID), and may succeed only for a platform certificate of the profile: a
// leaf with the receipt-signing extended key usage and not the card's,
// without a subject alternative name, whose one common name is the name
// returned, and a chain that VerifyCard refuses. CertIDs and Revoked agree
// with it as with VerifyCard.
func FuzzVerifyPlatform(f *testing.F) {
	fs := loadFrozen(f)
	v := fuzzVerifier(f, fs)
	chain := frozenPlatform(f, fs)
	if _, err := v.VerifyPlatform(chain); err != nil {
		f.Fatalf("the platform seed: %v", err)
	}
	f.Add(chain[0], chain[1])
	f.Add(fs.card, fs.ca)
	f.Add(chain[1], chain[0])
	f.Add(chain[0][:len(chain[0])/2], chain[1])
	f.Fuzz(func(t *testing.T, leaf, inter []byte) {
		presented := [][]byte{leaf, inter}
		vp, err := v.VerifyPlatform(presented)
		checkCertIDs(t, v, presented, err)
		if err != nil {
			if !matchesOne(err) || errors.Is(err, ErrCardID) || vp != nil {
				t.Fatalf("unexpected result %v, %v", vp, err)
			}
			return
		}
		if vp.PublicKey == nil || len(vp.Chain) != 3 {
			t.Fatalf("accepted a platform outside the profile: %+v", vp)
		}
		c := vp.Chain[0]
		ekus, err := ExtKeyUsages(c)
		if err != nil || !hasOID(ekus, OIDReceiptSigning) || hasOID(ekus, OIDCardAuth) {
			t.Fatalf("accepted a platform certificate of extended key usages %v: %v", ekus, err)
		}
		if _, ok := extensionOf(c, oidSubjectAltName); ok {
			t.Fatal("accepted a platform certificate with a subject alternative name")
		}
		if vp.Name == "" || vp.Name != c.Subject.CommonName || len(c.Subject.Names) != 1 {
			t.Fatalf("accepted the platform name %q of the subject %v", vp.Name, c.Subject)
		}
		if _, err := v.VerifyCard(presented); err == nil {
			t.Fatal("a chain verified both as a platform and as a card")
		}
	})
}

// FuzzNewVerifier feeds NewVerifier a root and an intermediate, as a
// platform or a phone reads them from its configuration: it must never
// panic, must fail with ErrUntrusted, ErrUsage or ErrInvalid, and may
// succeed only for a self-signed root and an intermediate that are CAs of
// the profile, the intermediate issued by the root (by name, key
// identifier and signature).
func FuzzNewVerifier(f *testing.F) {
	fs := loadFrozen(f)
	h := newHierarchy(f)
	for _, pair := range [][2][]byte{{fs.root, fs.ca}, {h.root.DER(), h.ca.DER()}} {
		if _, err := NewVerifier(VerifierOptions{Roots: [][]byte{pair[0]}, Intermediates: [][]byte{pair[1]}}); err != nil {
			f.Fatalf("a seed: %v", err)
		}
		f.Add(pair[0], pair[1])
	}
	f.Add(fs.ca, fs.root)
	f.Add(fs.root, fs.card)
	f.Add(fs.root, fs.ca[:len(fs.ca)-1])
	f.Fuzz(func(t *testing.T, root, inter []byte) {
		v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root}, Intermediates: [][]byte{inter}, Now: fixed(t0), CacheSize: -1})
		if err != nil {
			if v != nil || !(errors.Is(err, ErrUntrusted) || errors.Is(err, ErrUsage) || errors.Is(err, ErrInvalid)) {
				t.Fatalf("unexpected result %v, %v", v, err)
			}
			return
		}
		r, err := ParseCertificate(root)
		if err != nil {
			t.Fatalf("accepted a root that does not parse: %v", err)
		}
		c, err := ParseCertificate(inter)
		if err != nil {
			t.Fatalf("accepted an intermediate that does not parse: %v", err)
		}
		if caProfile(r) != "" || !selfSigned(r) {
			t.Fatal("accepted a root that is not a self-signed CA of the profile")
		}
		if caProfile(c) != "" || selfSigned(c) || !signs(r, c, true) {
			t.Fatal("accepted an intermediate that is not a CA of the profile issued by the root")
		}
	})
}

// FuzzLoadCA feeds LoadCA a CA certificate and an issuer above it (none
// when empty), as a CA reads them back from storage, with the key of the
// frozen OpenSSL card CA: it must never panic, must fail with ErrKey,
// ErrUsage, ErrUntrusted or ErrInvalid, and may succeed only for a CA
// certificate of the profile that holds that key, issued by the issuer
// given (by name, key identifier and signature).
func FuzzLoadCA(f *testing.F) {
	fs := loadFrozen(f)
	key := frozenCAKey(f)
	opts := CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)}
	if _, err := LoadCA(key, fs.ca, nil, opts); err != nil {
		f.Fatalf("the seed: %v", err)
	}
	f.Add(fs.ca, []byte{})
	f.Add(fs.ca, fs.root)
	f.Add(fs.root, []byte{})
	f.Add(fs.card, fs.ca)
	f.Fuzz(func(t *testing.T, cert, issuer []byte) {
		var issuers [][]byte
		if len(issuer) > 0 {
			issuers = [][]byte{issuer}
		}
		ca, err := LoadCA(key, cert, issuers, opts)
		if err != nil {
			if ca != nil || !(errors.Is(err, ErrKey) || errors.Is(err, ErrUsage) || errors.Is(err, ErrUntrusted) || errors.Is(err, ErrInvalid)) {
				t.Fatalf("unexpected result %v, %v", ca, err)
			}
			return
		}
		c := ca.Certificate()
		if !bytes.Equal(c.Raw, cert) || caProfile(c) != "" || !key.Public().(*ecdsa.PublicKey).Equal(c.PublicKey) {
			t.Fatal("loaded a CA certificate outside the profile or of another key")
		}
		if issuers != nil {
			p, err := ParseCertificate(issuer)
			if err != nil || !signs(p, c, true) {
				t.Fatalf("loaded a CA certificate that the issuer given did not issue: %v", err)
			}
		}
	})
}
