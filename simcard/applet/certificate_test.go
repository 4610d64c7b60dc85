package applet_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestPutCertificateCardURI: PUT DATA 0102 takes a certificate only if it
// names the card as verifiers do (PROTOCOL.md §2.4, §4.3): one subject
// alternative name, the URI urn:casim:card:<ICCID> in exactly those bytes.
// A certificate that every verifier would refuse is refused by the card at
// personalisation, not accepted and activated.
func TestPutCertificateCardURI(t *testing.T) {
	ca := testIssuer(t)
	uri := func(s string) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(s)}
	}
	dns := func(s string) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(s)}
	}
	tests := []struct {
		name  string
		names []asn1.RawValue // the GeneralNames of the subject alternative name
		sw    uint16
	}{
		{"the card URI", []asn1.RawValue{uri(pki.CardURIPrefix + testICCID)}, 0x9000},
		{"upper-case scheme", []asn1.RawValue{uri("URN:casim:card:" + testICCID)}, 0x6A80},
		{"a DNS name besides the URI", []asn1.RawValue{uri(pki.CardURIPrefix + testICCID), dns("card.example")}, 0x6A80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, pub := keyedBlank(t)

			san, err := asn1.Marshal(tt.names)
			require.NoError(t, err)
			cert, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
				SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: testICCID},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
				ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}},
			}, ca.Certificate(), pub, ca.Signer())
			require.NoError(t, err)
			_, sw := tx(t, a, putExt("0102", cert))
			assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
		})
	}
}

// TestPutICCIDDropsCertificate: writing another ICCID at personalisation
// drops the certificate issued for the one before (as GENERATE KEY drops
// the certificate of the key it replaces), so that no state holds a
// certificate naming another card; writing the same ICCID again keeps it.
func TestPutICCIDDropsCertificate(t *testing.T) {
	const otherICCID = "8986009876543210989"
	a, cert := certifiedBlank(t)
	_, sw := tx(t, a, apdu("00DA0101", []byte(testICCID), ""))
	require.Equal(t, uint16(0x9000), sw)
	assertStored(t, a, "0102", cert) // the same ICCID keeps the certificate

	_, sw = tx(t, a, apdu("00DA0101", []byte(otherICCID), ""))
	require.Equal(t, uint16(0x9000), sw)
	assertStored(t, a, "0102", nil) // the certificate of the other ICCID is gone
}

// putExt builds an extended PUT DATA of v under tag (four hexadecimal
// digits), which takes a certificate or a chain in one command.
func putExt(tag string, v []byte) string {
	return "00DA" + tag + "00" + hexFour(len(v)) + hexOf(v)
}

// getData sends GET DATA of tag (four hexadecimal digits) with an
// extended Le, which asks for the whole object.
func getData(t *testing.T, a *applet.Applet, tag string) ([]byte, uint16) {
	t.Helper()
	return tx(t, a, "00CA"+tag+"000000")
}

// assertStored checks that GET DATA of tag (four hexadecimal digits)
// answers want, or 6A88 when want is nil.
func assertStored(t *testing.T, a *applet.Applet, tag string, want []byte) {
	t.Helper()
	got, sw := getData(t, a, tag)
	if want == nil {
		assert.Equalf(t, uint16(0x6A88), sw, "%s not stored: status word %04X", tag, sw)
		return
	}
	if assert.Equalf(t, uint16(0x9000), sw, "%s stored: status word %04X", tag, sw) {
		assert.Equal(t, want, got, tag)
	}
}

// caCertificate returns a CA certificate (basic constraints CA,
// keyCertSign) of the subject name rawSubject, in DER, and the key pub,
// naming as its issuer the CA of common name issuer and signed by signer.
func caCertificate(t testing.TB, rawSubject []byte, pub crypto.PublicKey, issuer string, signer crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(9), RawSubject: rawSubject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}, &x509.Certificate{Subject: pkix.Name{CommonName: issuer}}, pub, signer)
	require.NoError(t, err)
	return der
}

// rawName returns the DER of the distinguished name of common name cn.
func rawName(t testing.TB, cn string) []byte {
	t.Helper()
	b, err := asn1.Marshal(pkix.Name{CommonName: cn}.ToRDNSequence())
	require.NoError(t, err)
	return b
}

// renamedCA returns a CA certificate for ca's key under another name,
// signed by that key and naming another CA as its issuer (so that it is no
// root): every certificate ca issued verifies under its key, but none
// names it as issuer.
func renamedCA(t *testing.T, ca *pki.CA) []byte {
	t.Helper()
	return caCertificate(t, rawName(t, "Another Card CA"), ca.Signer().Public(), "Another Root CA", ca.Signer())
}

// crossCertificate returns simcardtest.CrossCertificate of ca: every
// certificate ca issued links to it, which is no root.
func crossCertificate(t testing.TB, ca *pki.CA) []byte {
	t.Helper()
	der, err := simcardtest.CrossCertificate(ca)
	require.NoError(t, err)
	return der
}

// versionOne returns a version 1 certificate (no version field, no
// extensions: no basic constraints) of ca's subject name and key, signed
// by that key and naming another CA as its issuer (so that it is no
// root): it names and keys the issuer of every certificate ca issued, but
// it is no CA certificate.
func versionOne(t *testing.T, ca *pki.CA) []byte {
	t.Helper()
	v3, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(10), RawSubject: ca.Certificate().RawSubject,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}, &x509.Certificate{RawSubject: rawName(t, "Another Root CA")}, ca.Signer().Public(), ca.Signer())
	require.NoError(t, err)
	in := cryptobyte.String(v3)
	var cert, tbs, sigAlg cryptobyte.String
	require.True(t, in.ReadASN1(&cert, cbasn1.SEQUENCE) && cert.ReadASN1(&tbs, cbasn1.SEQUENCE) &&
		cert.ReadASN1Element(&sigAlg, cbasn1.SEQUENCE))
	var fields []byte
	for !tbs.Empty() {
		var f cryptobyte.String
		var tag cbasn1.Tag
		require.True(t, tbs.ReadAnyASN1Element(&f, &tag))
		if tag == cbasn1.Tag(0).Constructed().ContextSpecific() || tag == cbasn1.Tag(3).Constructed().ContextSpecific() {
			continue // the version and the extensions
		}
		fields = append(fields, f...)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(fields) })
	rawTBS, err := b.Bytes()
	require.NoError(t, err)
	digest := sha256.Sum256(rawTBS)
	sig, err := ca.Signer().Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	b = cryptobyte.Builder{}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(rawTBS)
		b.AddBytes(sigAlg)
		b.AddASN1BitString(sig)
	})
	der, err := b.Bytes()
	require.NoError(t, err)
	parsed, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	require.Equal(t, 1, parsed.Version)
	require.False(t, parsed.BasicConstraintsValid)
	return der
}

// TestPutChainLinks: PUT DATA 0107 takes an issuer chain only if it links
// (PROTOCOL.md §2.4): the card certificate, once stored, is issued by the
// chain's first certificate, and each certificate of the chain by the next
// one, the issuer name matching the subject and the signature checking.
// The chain may come before the certificate; a certificate the stored
// chain did not issue is taken (when it certifies the card) and drops that
// chain, which must be put again. A refused chain or certificate answers
// 6A80 and leaves nothing changed.
func TestPutChainLinks(t *testing.T) {
	ca := testIssuer(t)
	issuerCert := ca.Chain()[0]
	// Another hierarchy whose CAs have the same names as testIssuer's but
	// other keys: names match, signatures do not.
	otherRoot, otherIssuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	join := func(certs ...[]byte) []byte { return bytes.Join(certs, nil) }
	require.Equal(t, ca.Certificate().RawSubject, otherIssuer.Certificate().RawSubject, "the same name")
	renamed, err := x509.ParseCertificate(renamedCA(t, ca))
	require.NoError(t, err)
	_, certDER := certifiedBlank(t)
	cardCert, err := pki.ParseCertificate(certDER)
	require.NoError(t, err)
	require.NoError(t, cardCert.CheckSignatureFrom(renamed), "the renamed CA's key checks the signature")

	t.Run("certificate first", func(t *testing.T) {
		tests := []struct {
			name  string
			chain []byte
			sw    uint16
		}{
			{"the issuer", issuerCert, 0x9000},
			{"the issuer and a certificate it does not name", join(issuerCert, issuerCert), 0x6A80},
			{"an issuer of the same name and another key", otherIssuer.Certificate().Raw, 0x6A80},
			{"the issuer's key under another name", renamedCA(t, ca), 0x6A80},
			{"the issuer's name and key in a version 1 certificate, not a CA's", versionOne(t, ca), 0x6A80},
			{"the issuer, then a CA of its issuer's name and another key", join(issuerCert, crossCertificate(t, otherRoot)), 0x6A80},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a, _ := certifiedBlank(t)
				_, sw := tx(t, a, putExt("0107", tt.chain))
				assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
				if tt.sw == 0x9000 {
					assertStored(t, a, "0107", tt.chain)
				} else {
					assertStored(t, a, "0107", nil) // a refused chain is not stored
				}
			})
		}
	})

	t.Run("chain first", func(t *testing.T) {
		a, pub := keyedBlank(t)
		_, sw := tx(t, a, putExt("0107", otherIssuer.Certificate().Raw))
		require.Equal(t, uint16(0x9000), sw, "a chain that links in itself, before any certificate")
		cert, err := ca.IssueCard(pub, testICCID, pki.IssueOptions{})
		require.NoError(t, err)
		_, sw = tx(t, a, putExt("0102", cert))
		require.Equalf(t, uint16(0x9000), sw, "a certificate the chain did not issue: status word %04X", sw)
		assertStored(t, a, "0102", cert)
		assertStored(t, a, "0107", nil) // the chain that did not issue the certificate is dropped

		_, sw = tx(t, a, putExt("0107", otherIssuer.Certificate().Raw))
		assert.Equalf(t, uint16(0x6A80), sw, "status word %04X", sw)
		_, sw = tx(t, a, putExt("0107", issuerCert))
		require.Equal(t, uint16(0x9000), sw)
		_, sw = tx(t, a, putExt("0102", cert))
		assert.Equalf(t, uint16(0x9000), sw, "the same certificate again: status word %04X", sw)
		assertStored(t, a, "0107", issuerCert) // a certificate the chain issued keeps it
	})

	t.Run("chain first, certificate refused for another reason", func(t *testing.T) {
		a, pub := keyedBlank(t)
		_, sw := tx(t, a, putExt("0107", otherIssuer.Certificate().Raw))
		require.Equal(t, uint16(0x9000), sw)
		cert, err := ca.IssueCard(pub, "8986009876543210989", pki.IssueOptions{})
		require.NoError(t, err)
		_, sw = tx(t, a, putExt("0102", cert))
		assert.Equalf(t, uint16(0x6A80), sw, "a certificate of another ICCID: status word %04X", sw)
		assertStored(t, a, "0102", nil)
		assertStored(t, a, "0107", otherIssuer.Certificate().Raw) // a refused certificate leaves the chain
	})

	t.Run("chain first, not linking in itself", func(t *testing.T) {
		a := newBlank(t)
		_, sw := tx(t, a, putExt("0107", join(issuerCert, crossCertificate(t, otherRoot))))
		assert.Equalf(t, uint16(0x6A80), sw, "status word %04X", sw)
	})
}

// TestPutChainRoot: PUT DATA 0107 refuses with 6A80 a chain that holds a
// root anywhere in it, first, last or between two others, even where it
// links (PROTOCOL.md §2.4: the root is excluded): a certificate whose
// issuer name is, octet for octet, its subject name and whose own key
// verifies its signature. The refused chain is not stored; a chain stored
// before stays. A certificate of a root's name and key that another CA
// issued, or of a CA that bears the name of the root that issued it under
// another key, is no root and is taken where it links.
func TestPutChainRoot(t *testing.T) {
	root, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	rootCert, issuerCert := root.DER(), issuer.DER()
	require.Empty(t, issuer.Chain()[1:], "the issuer's chain is its own certificate")
	rootCross := crossCertificate(t, root)
	// A CA that bears its root's name under its own key: its issuer name
	// is its subject name, and the root's key, not its own, signed it.
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sameName, err := root.NewIntermediate(k, pki.CAOptions{Subject: root.Certificate().Subject, CRLURL: "https://pki.invalid/same.crl"})
	require.NoError(t, err)
	sameNameCert := sameName.DER()
	parsed, err := pki.ParseCertificate(sameNameCert)
	require.NoError(t, err)
	require.Equal(t, parsed.RawSubject, parsed.RawIssuer, "its issuer name is its subject name")
	require.NoError(t, parsed.CheckSignatureFrom(root.Certificate()))
	join := func(certs ...[]byte) []byte { return bytes.Join(certs, nil) }

	tests := []struct {
		name   string
		by     *pki.CA // the CA that certified the card, nil for no certificate stored
		before []byte  // the chain stored before, nil for none
		chain  []byte
		sw     uint16
	}{
		{"the issuer, then the root", issuer, nil, join(issuerCert, rootCert), 0x6A80},
		{"the issuer, then the root, over the issuer", issuer, issuerCert, join(issuerCert, rootCert), 0x6A80},
		{"the root alone, which certified the card", root, nil, rootCert, 0x6A80},
		{"the root alone, over a cross-certificate of it", root, rootCross, rootCert, 0x6A80},
		{"the root alone, before any certificate", nil, nil, rootCert, 0x6A80},
		{"the root between the issuer and a cross-certificate of it", issuer, issuerCert, join(issuerCert, rootCert, rootCross), 0x6A80},
		{"a CA of its root's name, then the root", sameName, nil, join(sameNameCert, rootCert), 0x6A80},
		{"the issuer", issuer, nil, issuerCert, 0x9000},
		{"the issuer, then a cross-certificate of the root", issuer, nil, join(issuerCert, rootCross), 0x9000},
		{"a cross-certificate of the root, which certified the card", root, nil, rootCross, 0x9000},
		{"a CA of its root's name", sameName, nil, sameNameCert, 0x9000},
		{"the root's name and key, signed by that key, naming another issuer", issuer, nil,
			join(issuerCert, caCertificate(t, root.Certificate().RawSubject, root.Signer().Public(), "CA-SIM Cross Root", root.Signer())), 0x9000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, pub := keyedBlank(t)
			if tt.by != nil {
				cert, err := tt.by.IssueCard(pub, testICCID, pki.IssueOptions{})
				require.NoError(t, err)
				_, sw := tx(t, a, putExt("0102", cert))
				require.Equal(t, uint16(0x9000), sw)
			}
			if tt.before != nil {
				_, sw := tx(t, a, putExt("0107", tt.before))
				require.Equalf(t, uint16(0x9000), sw, "the chain before: status word %04X", sw)
			}
			_, sw := tx(t, a, putExt("0107", tt.chain))
			assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
			if tt.sw == 0x9000 {
				assertStored(t, a, "0107", tt.chain)
				return
			}
			assertStored(t, a, "0107", tt.before) // 6A88 when none was stored
		})
	}
}

// TestReissueUnderAnotherCA: during personalisation a card holding a
// certificate and the chain of one issuing CA takes the certificate of
// another CA for the same key (PROTOCOL.md §2.4), which drops the chain
// of the first; the chain of the first is then refused, the chain of the
// second taken, and the card, activated, signs records that verify under
// the second CA's root. Its state holds together after a power cycle.
func TestReissueUnderAnotherCA(t *testing.T) {
	m := new(applet.Memory)
	a, err := applet.New(m, applet.Options{})
	require.NoError(t, err)
	_, sw := tx(t, a, selectAID)
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tx(t, a, apdu("00DA0101", []byte(testICCID), ""))
	require.Equal(t, uint16(0x9000), sw)
	tmpl, sw := tx(t, a, "0047800000")
	require.Equal(t, uint16(0x9000), sw)
	pub, err := simcard.ParsePublicKeyTemplate(tmpl)
	require.NoError(t, err)

	oldCA := testIssuer(t)
	oldCert, err := oldCA.IssueCard(pub, testICCID, pki.IssueOptions{})
	require.NoError(t, err)
	oldChain := bytes.Join(oldCA.Chain(), nil)
	_, sw = tx(t, a, putExt("0102", oldCert))
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tx(t, a, putExt("0107", oldChain))
	require.Equal(t, uint16(0x9000), sw)

	newRoot, newCA, err := simcardtest.NewCA()
	require.NoError(t, err)
	newCert, err := newCA.IssueCard(pub, testICCID, pki.IssueOptions{})
	require.NoError(t, err)
	newChain := bytes.Join(newCA.Chain(), nil)
	require.NotEqual(t, oldChain, newChain)

	_, sw = tx(t, a, putExt("0102", newCert))
	require.Equalf(t, uint16(0x9000), sw, "the certificate of another CA: status word %04X", sw)
	assertStored(t, a, "0102", newCert)
	assertStored(t, a, "0107", nil) // the chain of the first CA is dropped

	_, sw = tx(t, a, putExt("0107", oldChain))
	assert.Equalf(t, uint16(0x6A80), sw, "the chain of the first CA after the new certificate: status word %04X", sw)
	assertStored(t, a, "0107", nil) // a refused chain is not stored
	_, sw = tx(t, a, putExt("0107", newChain))
	require.Equalf(t, uint16(0x9000), sw, "the chain of the second CA: status word %04X", sw)
	assertStored(t, a, "0107", newChain)

	_, sw = tx(t, a, apdu("00DA0120", []byte(simcardtest.PIN), ""))
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tx(t, a, apdu("00DA0121", []byte(simcardtest.PUK), ""))
	require.Equal(t, uint16(0x9000), sw)
	_, sw = tx(t, a, "00440000")
	require.Equalf(t, uint16(0x9000), sw, "ACTIVATE: status word %04X", sw)

	c := powerOn(t, m)
	chain, err := c.Chain()
	require.NoError(t, err)
	assert.Equal(t, append([][]byte{newCert}, newCA.Chain()...), chain)
	vf, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{newRoot.DER()}, Revocation: pki.RevocationBestEffort})
	require.NoError(t, err)
	vc, err := vf.VerifyCard(chain)
	require.NoError(t, err)
	assert.Equal(t, testICCID, vc.CardID)
	msg, err := c.SignAuthProof(sampleAuthProof())
	require.NoError(t, err)
	var ap record.AuthProof
	require.NoError(t, record.Verify(msg, vc.PublicKey, &ap))
	assert.Equal(t, record.CardHeader{CardID: testICCID, Counter: 1}, ap.CardHeader)
}

// TestDeleteChain: PUT DATA 0107 without data deletes the stored chain
// during personalisation (PROTOCOL.md §2.4), so that a chain left by an
// earlier attempt, which still issues the certificate, does not stay on a
// card certified by a root; the certificate stays, and a chain may be put
// again. With no chain stored it answers 9000 too. A failed store answers
// 6581 and keeps the chain; after activation it answers 6985 and keeps it.
func TestDeleteChain(t *testing.T) {
	chain := bytes.Join(testIssuer(t).Chain(), nil)
	putChain := putExt("0107", chain)

	t.Run("personalisation", func(t *testing.T) {
		m := new(applet.Memory)
		a, err := applet.New(m, applet.Options{})
		require.NoError(t, err)
		_, sw := tx(t, a, selectAID)
		require.Equal(t, uint16(0x9000), sw)
		_, sw = tx(t, a, "00DA0107")
		assert.Equalf(t, uint16(0x9000), sw, "no chain stored: status word %04X", sw)
		assertStored(t, a, "0107", nil)

		a, cert := certifiedBlank(t)
		_, sw = tx(t, a, putChain)
		require.Equal(t, uint16(0x9000), sw)
		_, sw = tx(t, a, "00DA0107")
		assert.Equalf(t, uint16(0x9000), sw, "status word %04X", sw)
		assertStored(t, a, "0107", nil)
		assertStored(t, a, "0102", cert)
		_, sw = tx(t, a, putChain)
		assert.Equalf(t, uint16(0x9000), sw, "the chain again: status word %04X", sw)
		assertStored(t, a, "0107", chain)
	})

	t.Run("state stored", func(t *testing.T) {
		m := new(applet.Memory)
		fs := &faultyStorage{Storage: m}
		a, err := applet.New(fs, applet.Options{})
		require.NoError(t, err)
		_, sw := tx(t, a, selectAID)
		require.Equal(t, uint16(0x9000), sw)
		_, sw = tx(t, a, putChain)
		require.Equal(t, uint16(0x9000), sw)

		fs.armed = true
		_, sw = tx(t, a, "00DA0107")
		assert.Equalf(t, uint16(0x6581), sw, "status word %04X", sw)
		assertStored(t, a, "0107", chain)
		fs.armed = false
		_, sw = tx(t, a, "00DA0107")
		require.Equal(t, uint16(0x9000), sw)

		a, err = applet.New(m, applet.Options{}) // a power cycle
		require.NoError(t, err)
		_, sw = tx(t, a, selectAID)
		require.Equal(t, uint16(0x9000), sw)
		assertStored(t, a, "0107", nil)
	})

	t.Run("operational", func(t *testing.T) {
		v := newCard(t, simcardtest.Options{})
		_, sw := tx(t, v.Applet, "00DA0107")
		assert.Equalf(t, uint16(0x6985), sw, "status word %04X", sw)
		assertStored(t, v.Applet, "0107", chain)
	})
}

// TestPutCertificateSize: PUT DATA 0102 takes a card certificate of
// pki.MaxCertificateSize octets and refuses one an octet longer, signed by
// the same issuer for the same key, with 6A80 (PROTOCOL.md §2.4, §4.3).
func TestPutCertificateSize(t *testing.T) {
	ca := testIssuer(t)
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(pki.CardURIPrefix + testICCID)}})
	require.NoError(t, err)
	padded := func(pub crypto.PublicKey, size int) []byte {
		pad := 0
		for range 100 {
			value, err := asn1.Marshal(make([]byte, pad))
			require.NoError(t, err)
			cert, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
				SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: testICCID},
				NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
				ExtraExtensions: []pkix.Extension{
					{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san},
					{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 2}, Value: value},
				},
			}, ca.Certificate(), pub, ca.Signer())
			require.NoError(t, err)
			if len(cert) == size {
				return cert
			}
			// The signature's length varies by an octet or two, and so
			// do the length octets around the padding.
			pad = max(0, pad+size-len(cert))
		}
		t.Fatalf("no card certificate of %d octets", size)
		return nil
	}
	for _, tt := range []struct {
		size int
		sw   uint16
	}{
		{pki.MaxCertificateSize, 0x9000},
		{pki.MaxCertificateSize + 1, 0x6A80},
	} {
		a, pub := keyedBlank(t)
		cert := padded(pub, tt.size)
		_, sw := tx(t, a, putExt("0102", cert))
		assert.Equalf(t, tt.sw, sw, "%d octets: status word %04X", tt.size, sw)
		if tt.sw == 0x9000 {
			assertStored(t, a, "0102", cert)
		} else {
			assertStored(t, a, "0102", nil) // no certificate held
		}
	}
}

// The elements of a TBSCertificate that tbsFieldEnd finds, by position
// (RFC 5280 §4.1): the version comes first.
const (
	tbsSerial    = 1
	tbsIssuer    = 3
	tbsSubject   = 5
	tbsPublicKey = 6
)

// tbsFieldEnd returns the offset in the certificate der of the last octet
// of the TBSCertificate element at position i: the last octet of the
// serial number, of the last attribute value of a name, or of the public
// key.
func tbsFieldEnd(t testing.TB, der []byte, i int) int {
	t.Helper()
	in := cryptobyte.String(der)
	var cert, tbs, field cryptobyte.String
	var tag cbasn1.Tag
	require.True(t, in.ReadASN1(&cert, cbasn1.SEQUENCE) && cert.ReadASN1(&tbs, cbasn1.SEQUENCE))
	for range i + 1 {
		require.True(t, tbs.ReadAnyASN1Element(&field, &tag))
	}
	return len(der) - len(in) - len(cert) - len(tbs) - 1
}

// flipped returns a copy of der with one bit of the octet at off flipped:
// 0x02, which keeps a digit or a capital letter printable, so that a
// flipped name still parses.
func flipped(der []byte, off int) []byte {
	b := bytes.Clone(der)
	b[off] ^= 0x02
	return b
}

// tamperedCertificates returns der tampered in one octet each: the last
// octet of its signature, of its serial number, of its issuer and subject
// names (each of which still parses: its issuer no longer checks the
// first three but by the signature, and no longer has the issuer name of
// the fourth) and of its public key (which then is no point of the curve
// and does not parse).
func tamperedCertificates(t testing.TB, der []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{
		"signature":     flipped(der, len(der)-1),
		"serial number": flipped(der, tbsFieldEnd(t, der, tbsSerial)),
		"issuer name":   flipped(der, tbsFieldEnd(t, der, tbsIssuer)),
		"subject name":  flipped(der, tbsFieldEnd(t, der, tbsSubject)),
		"public key":    flipped(der, tbsFieldEnd(t, der, tbsPublicKey)),
	}
	for name, b := range out {
		_, err := pki.ParseCertificate(b)
		if name == "public key" {
			require.Error(t, err, name)
			continue
		}
		require.NoError(t, err, name)
	}
	return out
}

// belowIntermediate returns an issuing CA certified by an intermediate CA
// that a root certifies: its chain, the root excluded, is two
// certificates, the first of which the card checks by the second.
func belowIntermediate(t testing.TB) *pki.CA {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	root, err := pki.NewRoot(key(), pki.CAOptions{CRLURL: "https://pki.invalid/root.crl", MaxPathLen: 2})
	require.NoError(t, err)
	mid, err := root.NewIntermediate(key(), pki.CAOptions{CRLURL: "https://pki.invalid/mid.crl", MaxPathLen: 1})
	require.NoError(t, err)
	ca, err := mid.NewIntermediate(key(), pki.CAOptions{CRLURL: "https://pki.invalid/card.crl"})
	require.NoError(t, err)
	require.Len(t, ca.Chain(), 2)
	return ca
}

// tamperedChains returns chain (the issuing CA's certificate, then the
// intermediate CA's that issued it) with the issuing CA's certificate
// tampered as tamperedCertificates does, cut short or followed by
// garbage. None of them links.
func tamperedChains(t testing.TB, chain [][]byte) map[string][]byte {
	t.Helper()
	require.Len(t, chain, 2, "the issuing CA's certificate and the intermediate CA's")
	out := make(map[string][]byte)
	for name, b := range tamperedCertificates(t, chain[0]) {
		out["the issuer's "+name] = bytes.Join([][]byte{b, chain[1]}, nil)
	}
	whole := bytes.Join(chain, nil)
	out["cut short by an octet"] = whole[:len(whole)-1]
	out["cut inside the issuer's certificate"] = whole[:len(chain[0])/2]
	out["the issuer's certificate alone, cut short by an octet"] = chain[0][:len(chain[0])-1]
	out["an octet after the last certificate"] = append(bytes.Clone(whole), 0x00)
	out["a certificate's first octets after the last"] = append(bytes.Clone(whole), chain[0][:4]...)
	out["an empty sequence after the last certificate"] = append(bytes.Clone(whole), 0x30, 0x00)
	return out
}

// TestPutChainTampered: PUT DATA 0107 refuses with 6A80, storing nothing,
// a chain one octet of which was changed (in a signature, a serial
// number, a name or a public key), a chain cut short and a chain followed
// by anything (PROTOCOL.md §2.4); and a card certificate one octet of
// which was changed, taken before a chain (the card cannot check its
// signature without its issuer's certificate), makes the chain of its
// issuer refused, or, taken after it, drops that chain.
func TestPutChainTampered(t *testing.T) {
	// A chain of two, so that the issuing CA's certificate is checked
	// too: the last one's issuer, the root, is not in the chain.
	ca := belowIntermediate(t)
	issuers := ca.Chain()
	chain := bytes.Join(issuers, nil)
	// certified returns a card that holds a key and its ICCID, and the
	// certificate ca issued for them.
	certified := func(t *testing.T) (*applet.Applet, []byte) {
		a, pub := keyedBlank(t)
		cert, err := ca.IssueCard(pub, testICCID, pki.IssueOptions{})
		require.NoError(t, err)
		return a, cert
	}

	t.Run("chain", func(t *testing.T) {
		for name, tampered := range tamperedChains(t, issuers) {
			t.Run(name, func(t *testing.T) {
				a, cert := certified(t)
				_, sw := tx(t, a, putExt("0102", cert))
				require.Equal(t, uint16(0x9000), sw)
				_, sw = tx(t, a, putExt("0107", tampered))
				assert.Equalf(t, uint16(0x6A80), sw, "status word %04X", sw)
				assertStored(t, a, "0107", nil)
				assertStored(t, a, "0102", cert)

				_, sw = tx(t, a, putExt("0107", chain))
				assert.Equalf(t, uint16(0x9000), sw, "the chain untampered: status word %04X", sw)
				_, sw = tx(t, a, putExt("0107", tampered))
				assert.Equalf(t, uint16(0x6A80), sw, "over a stored chain: status word %04X", sw)
				assertStored(t, a, "0107", chain) // the chain stored before stays
			})
		}
	})

	t.Run("chain before any certificate", func(t *testing.T) {
		for name, tampered := range tamperedChains(t, issuers) {
			t.Run(name, func(t *testing.T) {
				a := newBlank(t)
				_, sw := tx(t, a, putExt("0107", tampered))
				assert.Equalf(t, uint16(0x6A80), sw, "status word %04X", sw)
				assertStored(t, a, "0107", nil)
			})
		}
	})

	t.Run("card certificate", func(t *testing.T) {
		// A certificate not of the card's key (its public key tampered)
		// is refused by PUT DATA 0102 itself.
		for _, name := range []string{"signature", "serial number", "issuer name", "subject name"} {
			// tampered returns a card that holds a key and its ICCID,
			// and the certificate of that key tampered in name.
			tampered := func(t *testing.T) (*applet.Applet, []byte) {
				a, cert := certified(t)
				return a, tamperedCertificates(t, cert)[name]
			}
			// Put before the chain, the certificate makes the chain
			// refused; put after it, it drops the chain, as one of
			// another CA would (TestPutChainLinks).
			for _, tt := range []struct {
				order         string
				first, second string // the tags put, in that order
				sw            uint16 // the second PUT DATA's
			}{
				{"before the chain", "0102", "0107", 0x6A80},
				{"after the chain", "0107", "0102", 0x9000},
			} {
				t.Run(name+", "+tt.order, func(t *testing.T) {
					a, cert := tampered(t)
					value := map[string][]byte{"0102": cert, "0107": chain}
					_, sw := tx(t, a, putExt(tt.first, value[tt.first]))
					require.Equalf(t, uint16(0x9000), sw, "status word %04X", sw)
					_, sw = tx(t, a, putExt(tt.second, value[tt.second]))
					assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
					assertStored(t, a, "0107", nil)
					assertStored(t, a, "0102", cert)
				})
			}
		}
	})
}

// reissuedState returns the stored state of an operational card whose
// certificate ca issued, with chain as its issuer chain, and that
// certificate.
func reissuedState(t *testing.T, ca *pki.CA, chain []byte) ([]byte, []byte) {
	t.Helper()
	v := newCard(t, simcardtest.Options{})
	stored, err := v.Storage.Load()
	require.NoError(t, err)
	old, err := pki.ParseCertificate(v.Enrolment.Chain[0])
	require.NoError(t, err)
	cert, err := ca.IssueCard(old.PublicKey, testICCID, pki.IssueOptions{})
	require.NoError(t, err)
	return withField(withField(stored, fieldCert, cert), fieldChain, chain), cert
}

// TestStateRootInChain: a stored state whose chain holds the root, as an
// earlier version of the applet took with PUT DATA 0107, is loaded, in
// either life-cycle state (PROTOCOL.md §2.4): verifiers take such a chain,
// and a card refusing it would no longer start. The card answers the
// chain to GET DATA and, operational, presents it; being personalised,
// it keeps it when the certificate it issued is put again, refuses it put
// again (6A80, the chain kept) and takes a chain without the root.
func TestStateRootInChain(t *testing.T) {
	root, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	withRoot := bytes.Join([][]byte{issuer.DER(), root.DER()}, nil)
	good, cert := reissuedState(t, issuer, withRoot)

	t.Run("operational", func(t *testing.T) {
		m := new(applet.Memory)
		require.NoError(t, m.Store(good))
		c := powerOn(t, m)
		chain, err := c.Chain()
		require.NoError(t, err)
		require.Equal(t, [][]byte{cert, issuer.DER(), root.DER()}, chain)
		vf, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Revocation: pki.RevocationBestEffort})
		require.NoError(t, err)
		vc, err := vf.VerifyCard(chain)
		require.NoError(t, err, "a verifier takes the chain with its root")
		assert.Equal(t, testICCID, vc.CardID)
	})

	t.Run("personalising", func(t *testing.T) {
		a := selectedOn(t, personalising(good))
		assertStored(t, a, "0107", withRoot)
		_, sw := tx(t, a, putExt("0102", cert))
		require.Equalf(t, uint16(0x9000), sw, "status word %04X", sw)
		assertStored(t, a, "0107", withRoot) // it issued the certificate
		_, sw = tx(t, a, putExt("0107", withRoot))
		assert.Equalf(t, uint16(0x6A80), sw, "the chain with its root put again: status word %04X", sw)
		assertStored(t, a, "0107", withRoot)
		_, sw = tx(t, a, putExt("0107", issuer.DER()))
		require.Equalf(t, uint16(0x9000), sw, "status word %04X", sw)
		assertStored(t, a, "0107", issuer.DER())
	})
}

// TestStateChainTampered: a stored state whose chain or card certificate
// was changed in one octet (in a signature, a serial number, a name or a
// public key), or whose chain is cut short or followed by anything, is
// refused with ErrState, in either life-cycle state: PUT DATA would not
// have stored it.
func TestStateChainTampered(t *testing.T) {
	ca := belowIntermediate(t)
	issuers := ca.Chain()
	good, cert := reissuedState(t, ca, bytes.Join(issuers, nil))
	for _, b := range [][]byte{good, personalising(good)} {
		m := new(applet.Memory)
		require.NoError(t, m.Store(b))
		_, err := applet.New(m, applet.Options{})
		require.NoError(t, err, "the state untampered holds together")
	}

	tests := make(map[string][]byte)
	for name, chain := range tamperedChains(t, issuers) {
		tests["chain: "+name] = withField(good, fieldChain, chain)
	}
	// A certificate not of the card's key (its public key tampered) is
	// refused before the chain is looked at.
	for name, c := range tamperedCertificates(t, cert) {
		if name != "public key" {
			tests["certificate: "+name] = withField(good, fieldCert, c)
		}
	}
	for name, b := range tests {
		for life, b := range map[string][]byte{"operational": b, "personalising": personalising(b)} {
			t.Run(life+", "+name, func(t *testing.T) {
				m := new(applet.Memory)
				require.NoError(t, m.Store(b))
				a, err := applet.New(m, applet.Options{})
				require.ErrorIs(t, err, applet.ErrState)
				assert.EqualError(t, err, "applet: unreadable card state: the issuer chain is not certificates in DER that issued the card's certificate and each other")
				assert.Nil(t, a)
			})
		}
	}
}
