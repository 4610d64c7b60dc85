package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func TestAddCRL(t *testing.T) {
	h := newHierarchy(t)
	other := newHierarchy(t)
	// impostor has the card CA's name but another key.
	impostor, err := other.root.NewIntermediate(newKey(t), CAOptions{
		Subject: h.ca.Certificate().Subject, CRLURL: "http://pki.example/card.crl", Now: fixed(t0),
	})
	require.NoError(t, err)

	tests := []struct {
		name string
		crl  func(t *testing.T) []byte
		at   time.Time
	}{
		{"garbage", func(t *testing.T) []byte { return []byte{0x30, 0x03, 0x02, 0x01, 0x01} }, time.Time{}},
		{"certificate", func(t *testing.T) []byte { return h.card }, time.Time{}},
		{"unknown CA", func(t *testing.T) []byte {
			der, err := other.ca.IssueCRL(nil, 1, t0.Add(time.Hour))
			require.NoError(t, err)
			return der
		}, time.Time{}},
		{"same name, other key", func(t *testing.T) []byte {
			der, err := impostor.IssueCRL(nil, 1, t0.Add(24*time.Hour))
			require.NoError(t, err)
			return der
		}, time.Time{}},
		{"stale", func(t *testing.T) []byte {
			der, err := h.ca.IssueCRL(nil, 1, t0.Add(time.Minute))
			require.NoError(t, err)
			return der
		}, t0.Add(time.Minute + DefaultSkew + time.Second)},
		{"not yet valid", func(t *testing.T) []byte {
			der, err := h.ca.IssueCRL(nil, 1, t0.Add(time.Hour))
			require.NoError(t, err)
			return der
		}, t0.Add(-DefaultSkew - time.Second)},
		{"algorithm not allowed", func(t *testing.T) []byte {
			return createCRL(t, h.ca, &x509.RevocationList{SignatureAlgorithm: x509.ECDSAWithSHA512})
		}, time.Time{}},
		{"signed with SHA-1", func(t *testing.T) []byte {
			return createCRL(t, h.ca, &x509.RevocationList{SignatureAlgorithm: x509.ECDSAWithSHA1})
		}, time.Time{}},
		{"critical entry extension", func(t *testing.T) []byte {
			// certificateIssuer (RFC 5280 §5.3.3): an indirect CRL entry.
			return createCRL(t, h.ca, &x509.RevocationList{RevokedCertificateEntries: []x509.RevocationListEntry{{
				SerialNumber: big.NewInt(7), RevocationTime: t0,
				ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 29}, Critical: true, Value: []byte{0x30, 0x00}}},
			}}})
		}, time.Time{}},
		{"authority key identifier of another key", func(t *testing.T) []byte {
			// Signed by the card CA's key, but naming another key as
			// its signer.
			issuer := *h.ca.Certificate()
			issuer.SubjectKeyId = bytes.Repeat([]byte{0x5a}, len(issuer.SubjectKeyId))
			der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
				Number: big.NewInt(1), ThisUpdate: t0, NextUpdate: t0.Add(time.Hour),
			}, &issuer, h.ca.Signer())
			require.NoError(t, err)
			crl, err := x509.ParseRevocationList(der)
			require.NoError(t, err)
			require.NoError(t, crl.CheckSignatureFrom(h.ca.Certificate()), "the signature holds")
			return der
		}, time.Time{}},
		{"next update not after this update", func(t *testing.T) []byte {
			return createCRL(t, h.ca, &x509.RevocationList{ThisUpdate: t0, NextUpdate: t0})
		}, time.Time{}},
		{"no next update", func(t *testing.T) []byte {
			return withoutNextUpdate(t, h.ca, createCRL(t, h.ca, &x509.RevocationList{}))
		}, time.Time{}},
		{"tampered", func(t *testing.T) []byte {
			der, err := h.ca.IssueCRL(nil, 1, t0.Add(time.Hour))
			require.NoError(t, err)
			der[len(der)-1] ^= 1
			return der
		}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0)
			v := newVerifier(t, h, clk, VerifierOptions{})
			der := tt.crl(t)
			if !tt.at.IsZero() {
				clk.set(tt.at)
			}
			err := v.AddCRL(der)
			require.ErrorIs(t, err, ErrCRL)
			var pe *Error
			assert.ErrorAs(t, err, &pe)
		})
	}
}

// TestAddCRLRefusesChangedSignedPart: a CRL whose signed part was changed
// after it was signed, here its next update moved an hour later, so that
// it still parses and is still fresh, is refused as signed by no known CA
// (the tampered case of TestAddCRL changes the signature instead), and
// leaves the CRL as signed to be accepted.
func TestAddCRLRefusesChangedSignedPart(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	signed, err := h.ca.IssueCRL(nil, 1, t0.Add(time.Hour))
	require.NoError(t, err)
	crl, err := x509.ParseRevocationList(signed)
	require.NoError(t, err)
	tbs := bytes.Index(signed, crl.RawTBSRevocationList)
	require.Positive(t, tbs)
	// The next update as a UTCTime (RFC 5280 §5.1.2.5), YYMMDDHHMMSSZ.
	next := []byte(t0.Add(time.Hour).Format("060102150405Z"))
	require.Equal(t, 1, bytes.Count(crl.RawTBSRevocationList, next), "the next update %s, once", next)
	hour := tbs + bytes.Index(crl.RawTBSRevocationList, next) + 7 // the hour's second digit
	require.Equal(t, byte('3'), signed[hour], "13:00")

	changed := bytes.Clone(signed)
	changed[hour] = '4'
	got, err := x509.ParseRevocationList(changed)
	require.NoError(t, err, "the changed CRL parses")
	require.Equal(t, t0.Add(2*time.Hour), got.NextUpdate, "fresh until 14:00")
	require.Equal(t, crl.Signature, got.Signature, "the signature is unchanged")

	assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "CRL not signed by a known CA"}, v.AddCRL(changed))
	assert.NoError(t, v.AddCRL(signed), "the CRL as signed")
}

// TestAddCRLRefusesIncompleteCRLs: a CRL that is not the complete list of
// what its issuer revoked, a delta CRL or one whose issuing distribution
// point scopes it, or an indirect one, is refused whether the extension
// that says so is critical or not (RFC 5280 has them critical, a CA may
// mark them otherwise by mistake), and the complete CRL held stays in
// force: the card it lists stays revoked.
func TestAddCRLRefusesIncompleteCRLs(t *testing.T) {
	var (
		oidDelta = asn1.ObjectIdentifier{2, 5, 29, 27}
		oidIDP   = asn1.ObjectIdentifier{2, 5, 29, 28}
		baseOne  = []byte{0x02, 0x01, 0x01}                   // BaseCRLNumber 1
		userOnly = []byte{0x30, 0x03, 0x81, 0x01, 0xff}       // onlyContainsUserCerts
		caOnly   = []byte{0x30, 0x03, 0x82, 0x01, 0xff}       // onlyContainsCACerts
		reasons  = []byte{0x30, 0x04, 0x83, 0x02, 0x07, 0x80} // onlySomeReasons: unused
		indirect = []byte{0x30, 0x03, 0x84, 0x01, 0xff}       // indirectCRL
	)
	const (
		delta  = "delta CRL (delta CRL indicator): only complete CRLs are accepted"
		scoped = "CRL with an issuing distribution point: only complete CRLs are accepted"
	)
	tests := []struct {
		name   string
		ext    pkix.Extension
		entry  bool // ext is an extension of the CRL's one entry, not of the CRL
		reason string
	}{
		{"delta CRL indicator, non-critical", pkix.Extension{Id: oidDelta, Value: baseOne}, false, delta},
		{"delta CRL indicator, critical", pkix.Extension{Id: oidDelta, Critical: true, Value: baseOne}, false, delta},
		{"only user certificates, non-critical", pkix.Extension{Id: oidIDP, Value: userOnly}, false, scoped},
		{"only CA certificates, non-critical", pkix.Extension{Id: oidIDP, Value: caOnly}, false, scoped},
		{"only CA certificates, critical", pkix.Extension{Id: oidIDP, Critical: true, Value: caOnly}, false, scoped},
		{"only some reasons, non-critical", pkix.Extension{Id: oidIDP, Value: reasons}, false, scoped},
		{"indirect, non-critical", pkix.Extension{Id: oidIDP, Value: indirect}, false, scoped},
		{"unknown, critical", pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{0x05, 0x00}},
			false, "unsupported critical CRL extension 1.2.3.4"},
		{"entry's certificate issuer, non-critical", pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 29}, Value: []byte{0x30, 0x00}},
			true, "indirect CRL: an entry names a certificate issuer"},
		{"entry's certificate issuer, critical", pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 29}, Critical: true, Value: []byte{0x30, 0x00}},
			true, "indirect CRL: an entry names a certificate issuer"},
		{"entry's unknown extension, critical", pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{0x05, 0x00}},
			true, "unsupported critical CRL entry extension 1.2.3.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, v := cardRevoked(t)
			_, err := v.VerifyCard(h.chain())
			requireRefusal(t, err, ErrRevoked, 0)

			// CRL 2 of the card CA, fresh and signed, listing another serial.
			tmpl := &x509.RevocationList{
				Number:                    big.NewInt(2),
				RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(7), RevocationTime: t0}},
			}
			if tt.entry {
				tmpl.RevokedCertificateEntries[0].ExtraExtensions = []pkix.Extension{tt.ext}
			} else {
				tmpl.ExtraExtensions = []pkix.Extension{tt.ext}
			}
			err = v.AddCRL(createCRL(t, h.ca, tmpl))
			assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: tt.reason}, err)

			_, err = v.VerifyCard(h.chain())
			requireRefusal(t, err, ErrRevoked, 0)
		})
	}
}

// TestAddCRLRefusesRemoveFromCRL: a CRL with an entry whose reason is
// removeFromCRL, which RFC 5280 §5.3.1 gives only to delta CRLs, is not a
// complete CRL of the profile and is refused, whatever serial the entry
// names: the CRL held stays in force (the card it lists stays revoked), and
// a verifier that held none still holds none.
func TestAddCRLRefusesRemoveFromCRL(t *testing.T) {
	h := newHierarchy(t)
	serial := mustParse(t, h.card).SerialNumber
	want := &Error{Err: ErrCRL, Cert: -1, Reason: "an entry's reason is removeFromCRL, which only delta CRLs carry"}
	removing := func(number int64, serial *big.Int) []byte {
		return createCRL(t, h.ca, &x509.RevocationList{
			Number: big.NewInt(number),
			RevokedCertificateEntries: []x509.RevocationListEntry{
				{SerialNumber: big.NewInt(7), RevocationTime: t0, ReasonCode: ReasonKeyCompromise},
				{SerialNumber: serial, RevocationTime: t0, ReasonCode: reasonRemoveFromCRL},
			},
		})
	}

	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	require.NoError(t, h.ca.Revoke(serial, ReasonKeyCompromise))
	addCRLs(t, h, v) // the card CA's CRL 1, listing the card
	assert.Equal(t, want, v.AddCRL(removing(2, serial)))
	_, err := v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrRevoked, 0)

	v = newVerifier(t, h, newClock(t0), VerifierOptions{})
	root, err := h.root.CRL(t0.Add(time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(root))
	assert.Equal(t, want, v.AddCRL(removing(3, big.NewInt(8))))
	_, err = v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrCRL, 0)
}

// TestAddCRLRefusesUndefinedReason: a CRL with an entry whose reason code
// RFC 5280 §5.3.1 does not define (7, which it leaves unused, one above
// 10, a negative one), which IssueCRL refuses to write, is refused, and
// the CRL held stays in force: the card it lists stays revoked.
func TestAddCRLRefusesUndefinedReason(t *testing.T) {
	for _, reason := range []int{7, 11, 255, -1} {
		t.Run(fmt.Sprint(reason), func(t *testing.T) {
			h, v := cardRevoked(t)
			err := v.AddCRL(createCRL(t, h.ca, &x509.RevocationList{
				Number:                    big.NewInt(2),
				RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(7), RevocationTime: t0, ReasonCode: reason}},
			}))
			assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "an entry's reason code is not one RFC 5280 defines"}, err)
			_, err = v.VerifyCard(h.chain())
			requireRefusal(t, err, ErrRevoked, 0)
		})
	}
}

// TestAddCRLSerialsAndNumberWithin20Octets: a CRL with an entry whose
// serial number is not positive or longer than the 20 octets of RFC 5280
// §4.1.2.2, or whose CRL number is longer than the 20 octets of §5.2.3 or
// negative, none of which IssueCRL writes, is refused, and the CRL held
// stays in force: the card it lists stays revoked. The largest serial and
// number of 20 octets are accepted.
func TestAddCRLSerialsAndNumberWithin20Octets(t *testing.T) {
	top, over := maxSerial, overSerial
	const (
		serial = "an entry's serial number is not positive or longer than 20 octets"
		number = "CRL number longer than 20 octets"
	)
	entry := func(n *big.Int) func(t *testing.T, ca *CA) []byte {
		return func(t *testing.T, ca *CA) []byte {
			return createCRL(t, ca, &x509.RevocationList{
				Number:                    big.NewInt(2),
				RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: n, RevocationTime: t0}},
			})
		}
	}
	tests := []struct {
		name   string
		crl    func(t *testing.T, ca *CA) []byte
		reason string // empty: accepted
	}{
		{"serial of 20 octets", entry(top), ""},
		{"serial of 21 octets", entry(over), serial},
		{"serial zero", entry(big.NewInt(0)), serial},
		{"negative serial", entry(big.NewInt(-5)), serial},
		{"number of 20 octets", func(t *testing.T, ca *CA) []byte {
			return createCRL(t, ca, &x509.RevocationList{Number: top})
		}, ""},
		{"number of 21 octets", func(t *testing.T, ca *CA) []byte {
			return withCRLNumber(t, ca, createCRL(t, ca, &x509.RevocationList{Number: big.NewInt(2)}), over)
		}, number},
		{"negative number", func(t *testing.T, ca *CA) []byte {
			return withCRLNumber(t, ca, createCRL(t, ca, &x509.RevocationList{Number: big.NewInt(2)}), big.NewInt(-2))
		}, "negative CRL number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, v := cardRevoked(t)
			err := v.AddCRL(tt.crl(t, h.ca))
			if tt.reason == "" {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: tt.reason}, err)
			_, err = v.VerifyCard(h.chain())
			requireRefusal(t, err, ErrRevoked, 0)
		})
	}
}

// TestCANeedsCRLSign: a CRL is accepted only from a CA whose key usage
// has cRLSign (RFC 5280 §6.3.3 (f)), so that a card CA with keyCertSign
// alone may certify cards but no CRL of it could ever be taken and its
// cards never be checked for revocation: NewVerifier refuses such a CA as
// an intermediate, and VerifyCard refuses a chain through it, both with
// ErrUsage, rather than the chain failing for want of a CRL (ErrCRL).
func TestCANeedsCRLSign(t *testing.T) {
	h := newHierarchy(t)
	chain := h.subCAChain(t, newKey(t), &x509.Certificate{
		Subject:               pkix.Name{CommonName: "CA-SIM Card CA without cRLSign"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}, cardTemplate(t, testICCID))

	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{chain[1]}})
	assert.Equal(t, &Error{Err: ErrUsage, Cert: -1, Reason: "intermediate 0 without a critical keyUsage with keyCertSign and cRLSign"}, err)
	assert.Nil(t, v)

	v = newVerifier(t, h, newClock(t0), VerifierOptions{})
	addCRLs(t, h, v) // the root's, which does not list the CA
	_, err = v.VerifyCard(chain)
	requireRefusal(t, err, ErrUsage, 1)
}

// cardRevoked returns a new hierarchy whose card CA has revoked the card,
// and a verifier clocked at t0 holding fresh CRLs of both CAs: the card
// CA's CRL 1 lists the card.
func cardRevoked(t *testing.T) (*hierarchy, *Verifier) {
	t.Helper()
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
	addCRLs(t, h, v)
	return h, v
}

// createCRL signs tmpl with ca's key, filling in number 1 and a validity
// from t0 for an hour where tmpl leaves them zero.
func createCRL(t testing.TB, ca *CA, tmpl *x509.RevocationList) []byte {
	t.Helper()
	if tmpl.Number == nil {
		tmpl.Number = big.NewInt(1)
	}
	if tmpl.ThisUpdate.IsZero() {
		tmpl.ThisUpdate = t0
	}
	if tmpl.NextUpdate.IsZero() {
		tmpl.NextUpdate = t0.Add(time.Hour)
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Certificate(), ca.Signer())
	require.NoError(t, err)
	return der
}

// withoutNextUpdate returns der, a CRL of ca, without its next update (the
// field is optional in RFC 5280 but x509.CreateRevocationList always writes
// it), signed again by ca.
func withoutNextUpdate(t *testing.T, ca *CA, der []byte) []byte {
	t.Helper()
	times := 0
	crl := resignedCRL(t, ca, der, func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		if tag == cbasn1.UTCTime || tag == cbasn1.GeneralizedTime {
			if times++; times == 2 {
				return // nextUpdate, after thisUpdate
			}
		}
		b.AddBytes(elem)
	})
	require.Equal(t, 2, times)
	parsed, err := x509.ParseRevocationList(crl)
	require.NoError(t, err)
	require.True(t, parsed.NextUpdate.IsZero())
	return crl
}

// withCRLNumber returns der, a CRL of ca, with the CRL number n, which
// x509.CreateRevocationList refuses beyond 20 octets, signed again by ca.
func withCRLNumber(t *testing.T, ca *CA, der []byte, n *big.Int) []byte {
	t.Helper()
	crl := resignedCRL(t, ca, der, extensionsEdit(t, cbasn1.Tag(0).Constructed().ContextSpecific(),
		func(b *cryptobyte.Builder, id asn1.ObjectIdentifier, ext cryptobyte.String) {
			if !id.Equal(oidCRLNumber) {
				b.AddBytes(ext)
				return
			}
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(id)
				b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) { b.AddASN1BigInt(n) })
			})
		}))
	parsed, err := x509.ParseRevocationList(crl)
	require.NoError(t, err)
	require.Zero(t, parsed.Number.Cmp(n))
	return crl
}

// resignedCRL returns der, a CRL of ca, with each element of its signed
// content (the tbsCertList) replaced by what edit adds to b for it, signed
// again by ca.
func resignedCRL(t *testing.T, ca *CA, der []byte, edit func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String)) []byte {
	t.Helper()
	return parsedCRL(t, ca, resigned(t, ca.Signer(), der, edit))
}

// parsedCRL returns crl after checking that crypto/x509 parses it and
// that ca signed it.
func parsedCRL(t *testing.T, ca *CA, crl []byte) []byte {
	t.Helper()
	parsed, err := x509.ParseRevocationList(crl)
	require.NoError(t, err)
	require.NoError(t, parsed.CheckSignatureFrom(ca.Certificate()), "signed by the CA")
	return crl
}

// TestAddCRLRefusesTrailingData: a CRL followed by other bytes is refused
// as malformed and not held, so that the same CRL sent without them is
// then accepted, and accepted again as the same CRL; certificates followed
// by other bytes are refused as malformed wherever they are handed in.
func TestAddCRLRefusesTrailingData(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	crls := h.crls(t)
	junk := []byte{0xde, 0xad, 0xbe, 0xef}
	require.NoError(t, v.AddCRL(crls[0]))
	assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "malformed CRL: trailing data"},
		v.AddCRL(append(bytes.Clone(crls[1]), junk...)))
	_, err := v.VerifyCard(h.chain())
	assert.Equal(t, &Error{Err: ErrCRL, Cert: 0, Reason: "no CRL of the issuer"}, err, "the card CA's CRL is not held")
	require.NoError(t, v.AddCRL(crls[1]), "the same CRL without the bytes after it")
	assert.NoError(t, v.AddCRL(crls[1]), "the same CRL again")
	_, err = v.VerifyCard(h.chain())
	assert.NoError(t, err)

	padded := func(der []byte) []byte { return append(bytes.Clone(der), junk...) }
	_, err = ParseCertificate(padded(h.card))
	assert.ErrorIs(t, err, ErrUntrusted, "a card, whose extended key usage crypto/x509 refuses")
	_, err = ParseCertificate(padded(h.ca.DER()))
	assert.ErrorIs(t, err, ErrUntrusted, "a CA certificate, which crypto/x509 parses")
	for i := range 2 {
		chain := h.chain()
		chain[i] = padded(chain[i])
		_, err = v.VerifyCard(chain)
		requireRefusal(t, err, ErrUntrusted, i)
	}
	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{padded(h.root.DER())}})
	assert.ErrorIs(t, err, ErrUntrusted, "a root")
	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{padded(h.ca.DER())}})
	assert.ErrorIs(t, err, ErrUntrusted, "an intermediate")
	_, err = LoadCA(h.ca.Signer(), padded(h.ca.DER()), nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
	assert.ErrorIs(t, err, ErrUntrusted, "a CA loaded")
}

// withinAfterSignature returns der, a certificate or a CRL, with extra
// inside its outer SEQUENCE after its signature, where its signature does
// not reach: a change that anyone can make, the signature still verifying.
func withinAfterSignature(t testing.TB, der, extra []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var body cryptobyte.String
	require.True(t, in.ReadASN1(&body, cbasn1.SEQUENCE) && in.Empty())
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(body)
		b.AddBytes(extra)
	})
	return b.BytesOrPanic()
}

// withCRLs returns a hierarchy and a verifier of its chains at t0,
// holding fresh CRLs of its CAs.
func withCRLs(t *testing.T) (*hierarchy, *Verifier) {
	t.Helper()
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	addCRLs(t, h, v)
	return h, v
}

// caRefusals returns what v says of ca, h's card CA's certificate
// changed, presented in a chain, what NewVerifier says of it as an
// intermediate and LoadCA as the CA's, and what NewVerifier says of
// root, h's root's certificate changed, as a root.
func caRefusals(t testing.TB, h *hierarchy, v *Verifier, ca, root []byte) (presented, asRoot, intermediate, loaded error) {
	t.Helper()
	_, presented = v.VerifyCard([][]byte{h.card, ca})
	_, asRoot = NewVerifier(VerifierOptions{Roots: [][]byte{root}})
	_, intermediate = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
	_, loaded = LoadCA(h.ca.Signer(), ca, nil, CAOptions{CRLURL: "http://pki.example/card.crl"})
	return presented, asRoot, intermediate, loaded
}

// assertMalformedCA asserts that ca and root, h's card CA's and root's
// certificates changed, are each refused as malformed (ErrUntrusted) for
// why, presented, as a root and an intermediate of NewVerifier and by
// LoadCA (caRefusals).
func assertMalformedCA(t *testing.T, h *hierarchy, v *Verifier, ca, root []byte, why string) {
	t.Helper()
	presented, asRoot, intermediate, loaded := caRefusals(t, h, v, ca, root)
	assert.EqualError(t, presented, "pki: untrusted certificate chain: certificate 1: malformed certificate: "+why)
	assert.EqualError(t, asRoot, "pki: untrusted certificate chain: root 0 is malformed: "+why)
	assert.EqualError(t, intermediate, "pki: untrusted certificate chain: intermediate 0 is malformed: "+why)
	assert.EqualError(t, loaded, "pki: untrusted certificate chain: CA certificate is malformed: "+why)
}

// TestBytesAfterSignature: a CRL or a certificate holding other bytes
// after its signature, inside its outer SEQUENCE, which crypto/x509 parses
// without looking at them and which anyone can add (the signature does not
// cover them), is refused as malformed wherever it is handed in, as one
// followed by other bytes is: a CRL by AddCRL (ErrCRL), the CRL held
// staying in force; a CA certificate by ParseCertificate, presented in a
// chain, as a root or an intermediate of NewVerifier and by LoadCA
// (ErrUntrusted), as a card is, whose extended key usage crypto/x509 does
// not parse.
func TestBytesAfterSignature(t *testing.T) {
	h, v := withCRLs(t)
	extra := []byte{0x05, 0x00}
	crl, err := h.ca.CRL(t0.Add(48 * time.Hour))
	require.NoError(t, err)
	assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "malformed CRL: bytes after its signature, which it does not cover"},
		v.AddCRL(withinAfterSignature(t, crl, extra)))
	_, err = v.VerifyCard(h.chain())
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(crl), "the CRL without the bytes, a CRL number the verifier has not taken")

	const why = "bytes after its signature, which it does not cover"
	card, ca, root := withinAfterSignature(t, h.card, extra), withinAfterSignature(t, h.ca.DER(), extra), withinAfterSignature(t, h.root.DER(), extra)
	_, err = ParseCertificate(card)
	requireRefusal(t, err, ErrUntrusted, -1)
	_, err = ParseCertificate(ca)
	assert.EqualError(t, err, "pki: untrusted certificate chain: malformed certificate: "+why)
	assertMalformedCA(t, h, v, ca, root, why)
	// A CA below a CA below a root, loaded with the one above it so
	// changed.
	top, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", MaxPathLen: -1, Now: fixed(t0)})
	require.NoError(t, err)
	mid, err := top.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/mid.crl", MaxPathLen: -1, Now: fixed(t0)})
	require.NoError(t, err)
	subKey := newKey(t)
	sub, err := mid.NewIntermediate(subKey, CAOptions{CRLURL: "http://pki.example/sub.crl", Now: fixed(t0)})
	require.NoError(t, err)
	_, err = LoadCA(subKey, sub.DER(), [][]byte{mid.DER()}, CAOptions{CRLURL: "http://pki.example/sub.crl"})
	require.NoError(t, err, "the issuer unchanged")
	_, err = LoadCA(subKey, sub.DER(), [][]byte{withinAfterSignature(t, mid.DER(), extra)}, CAOptions{CRLURL: "http://pki.example/sub.crl"})
	assert.EqualError(t, err, "pki: untrusted certificate chain: issuer 0 is malformed: "+why)
}

// signatureWithUnusedBits returns der, a certificate or a CRL, with its
// signature BIT STRING written with 2 unused bits (withUnusedBits), which
// crypto/x509 reads as the same signature: an ECDSA signature, a DER
// SEQUENCE, starts with 30, 2 zero bits. Anyone can write it: the
// signature does not cover itself.
func signatureWithUnusedBits(t testing.TB, der []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var signed, tbs, alg cryptobyte.String
	var sig asn1.BitString
	require.True(t, in.ReadASN1(&signed, cbasn1.SEQUENCE) && in.Empty() && signed.ReadASN1Element(&tbs, cbasn1.SEQUENCE) &&
		signed.ReadASN1Element(&alg, cbasn1.SEQUENCE) && signed.ReadASN1BitString(&sig) && signed.Empty())
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(alg)
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(withUnusedBits(sig.Bytes, 2)) })
	})
	return b.BytesOrPanic()
}

// TestSignatureUnusedBits: a CRL or a certificate whose signature BIT
// STRING has unused bits, its octets shifted, which crypto/x509 reads as
// the same signature (and RFC 5480 §2.2 and RFC 5758 §3.2 do not have:
// the octets of the DER signature are those of the BIT STRING, whole),
// another encoding that anyone can write of it, is refused as malformed
// wherever it is handed in, as one with bytes after its signature is: a
// CRL by AddCRL (ErrCRL), the CRL held staying in force; a certificate by
// ParseCertificate, presented in a chain, as a root or an intermediate of
// NewVerifier and by LoadCA (ErrUntrusted).
func TestSignatureUnusedBits(t *testing.T) {
	h, v := withCRLs(t)
	const why = "a signature with unused bits, where the octets of its DER are whole"
	crl, err := h.ca.CRL(t0.Add(48 * time.Hour))
	require.NoError(t, err)
	padded := signatureWithUnusedBits(t, crl)
	parsed, err := x509.ParseRevocationList(padded)
	require.NoError(t, err, "crypto/x509 parses it")
	require.NoError(t, parsed.CheckSignatureFrom(h.ca.Certificate()), "with the CA's signature")
	assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "malformed CRL: " + why}, v.AddCRL(padded))
	require.NoError(t, v.AddCRL(crl), "the CRL as issued, a number not taken before")

	card, ca, root := signatureWithUnusedBits(t, h.card), signatureWithUnusedBits(t, h.ca.DER()), signatureWithUnusedBits(t, h.root.DER())
	_, err = ParseCertificate(card)
	assert.EqualError(t, err, "pki: untrusted certificate chain: malformed certificate: "+why)
	_, err = v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
	assert.EqualError(t, err, "pki: untrusted certificate chain: certificate 0: malformed certificate: "+why)
	assertMalformedCA(t, h, v, ca, root, why)
}

// withVersion1 returns der, a certificate, with its version written out as
// v1 ([0] EXPLICIT INTEGER 0, where it is v3), signed again by signer.
func withVersion1(t testing.TB, signer crypto.Signer, der []byte) []byte {
	t.Helper()
	return resigned(t, signer, der, func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		if tag != cbasn1.Tag(0).Constructed().ContextSpecific() {
			b.AddBytes(elem)
			return
		}
		b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddASN1Int64(0) })
	})
}

// TestVersion1WrittenOut: a certificate whose version is written out as
// v1, the DEFAULT of its version field that DER leaves out (X.690 §11.5),
// which crypto/x509 parses as a v1 certificate without looking at its
// extensions, is refused as malformed wherever it is handed in, before
// anything is said of the extensions that crypto/x509 does not read: a
// card by ParseCertificate and presented in a chain, a CA certificate
// presented, as a root or an intermediate of NewVerifier and by LoadCA
// (ErrUntrusted).
func TestVersion1WrittenOut(t *testing.T) {
	h, v := withCRLs(t)
	const why = "version v1 written out, the default that DER leaves out"
	card := withVersion1(t, h.ca.Signer(), h.card)
	parsed, err := x509.ParseCertificate(card)
	require.NoError(t, err, "crypto/x509 parses it")
	require.Equal(t, 1, parsed.Version)
	_, err = ParseCertificate(card)
	assert.EqualError(t, err, "pki: untrusted certificate chain: malformed certificate: "+why)
	_, err = v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
	assert.EqualError(t, err, "pki: untrusted certificate chain: certificate 0: malformed certificate: "+why)
	ca, root := withVersion1(t, h.root.Signer(), h.ca.DER()), withVersion1(t, h.root.Signer(), h.root.DER())
	assertMalformedCA(t, h, v, ca, root, why)
}

// afterExtensions returns an edit for resigned that writes extra after the
// extensions, tagged extsTag ([3] in a certificate, [0] in a CRL), inside
// that tag (within) or after it, as the last bytes of the signed content.
func afterExtensions(t testing.TB, extsTag cbasn1.Tag, within bool, extra []byte) func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
	return func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		switch {
		case tag != extsTag:
			b.AddBytes(elem)
		case within:
			var inner cryptobyte.String
			require.True(t, elem.ReadASN1(&inner, extsTag))
			b.AddASN1(extsTag, func(b *cryptobyte.Builder) {
				b.AddBytes(inner)
				b.AddBytes(extra)
			})
		default:
			b.AddBytes(elem)
			b.AddBytes(extra)
		}
	}
}

// TestBytesAfterExtensions: a certificate or a CRL whose signed content
// holds other bytes after its extensions, the last of its fields, inside
// their [3] or [0] or after it, which crypto/x509 parses without looking
// at them, is refused as another encoding of it: a CA certificate
// presented, a root or an intermediate of NewVerifier and a CA of LoadCA
// with ErrUsage naming it, as a card is refused as malformed
// (ErrUntrusted); a CRL by AddCRL as malformed (ErrCRL), the CRL held
// staying in force.
func TestBytesAfterExtensions(t *testing.T) {
	h, v := withCRLs(t)
	crl, err := h.ca.CRL(t0.Add(48 * time.Hour))
	require.NoError(t, err)
	const why = "bytes after its extensions"
	for _, within := range []bool{true, false} {
		name := map[bool]string{true: "inside their tag", false: "after their tag"}[within]
		t.Run(name, func(t *testing.T) {
			extra := []byte{0x05, 0x00}
			certEdit := afterExtensions(t, cbasn1.Tag(3).Constructed().ContextSpecific(), within, extra)
			ca := resigned(t, h.root.Signer(), h.ca.DER(), certEdit)
			root := resigned(t, h.root.Signer(), h.root.DER(), certEdit)
			card := resigned(t, h.ca.Signer(), h.card, certEdit)
			presented, asRoot, intermediate, loaded := caRefusals(t, h, v, ca, root)
			assert.EqualError(t, presented, "pki: certificate not valid for this usage: certificate 1: "+why)
			assert.EqualError(t, asRoot, "pki: certificate not valid for this usage: root 0 "+why)
			assert.EqualError(t, intermediate, "pki: certificate not valid for this usage: intermediate 0 "+why)
			assert.EqualError(t, loaded, "pki: certificate not valid for this usage: CA certificate "+why)
			_, err := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
			requireRefusal(t, err, ErrUntrusted, 0)

			bad := resigned(t, h.ca.Signer(), crl, afterExtensions(t, cbasn1.Tag(0).Constructed().ContextSpecific(), within, extra))
			assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "malformed CRL: " + why}, v.AddCRL(bad))
		})
	}
	require.NoError(t, v.AddCRL(crl), "the CRL as issued, a number not taken before")
}

// appendedTo returns an edit for resigned that keeps every element of the
// signed content, writing extra inside the first SEQUENCE for which is
// reports true, after what it holds.
func appendedTo(is func(content cryptobyte.String) bool, extra []byte) func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
	done := false
	return func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		var content cryptobyte.String
		if in := elem; done || tag != cbasn1.SEQUENCE || !in.ReadASN1(&content, cbasn1.SEQUENCE) || !is(content) {
			b.AddBytes(elem)
			return
		}
		done = true
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(content)
			b.AddBytes(extra)
		})
	}
}

// TestBytesAfterLastField: a certificate whose validity holds other bytes
// after its notAfter, a certificate or a CRL with an extension that holds
// other bytes after its value, and a CRL with an entry that holds other
// bytes after its fields, each of which crypto/x509 parses without
// looking at those bytes, is refused as another encoding of it: a CA
// certificate presented, a root or an intermediate of NewVerifier and a
// CA of LoadCA with ErrUsage naming it; a CRL by AddCRL as malformed
// (ErrCRL), the CRL held staying in force.
func TestBytesAfterLastField(t *testing.T) {
	h, v := withCRLs(t)
	extra := []byte{0x05, 0x00}
	oidSKI := asn1.ObjectIdentifier{2, 5, 29, 14}
	moreValue := func(b *cryptobyte.Builder, critical, value cryptobyte.String, present bool) {
		if present {
			b.AddASN1(cbasn1.BOOLEAN, func(b *cryptobyte.Builder) { b.AddBytes(critical) })
		}
		b.AddASN1OctetString(value)
		b.AddBytes(extra)
	}
	validity := func(c cryptobyte.String) bool {
		return c.PeekASN1Tag(cbasn1.UTCTime) || c.PeekASN1Tag(cbasn1.GeneralizedTime)
	}
	for name, tt := range map[string]struct {
		ca, root []byte
		why      string
	}{
		"validity": {
			resigned(t, h.root.Signer(), h.ca.DER(), appendedTo(validity, extra)),
			resigned(t, h.root.Signer(), h.root.DER(), appendedTo(validity, extra)),
			"validity with bytes after its notAfter",
		},
		"extension": {
			withExtension(t, h.root.Signer(), h.ca.DER(), oidSKI, moreValue),
			withExtension(t, h.root.Signer(), h.root.DER(), oidSKI, moreValue),
			"extension 2.5.29.14 with bytes after its value",
		},
	} {
		t.Run("certificate "+name, func(t *testing.T) {
			presented, asRoot, intermediate, loaded := caRefusals(t, h, v, tt.ca, tt.root)
			assert.EqualError(t, presented, "pki: certificate not valid for this usage: certificate 1: "+tt.why)
			assert.EqualError(t, asRoot, "pki: certificate not valid for this usage: root 0 "+tt.why)
			assert.EqualError(t, intermediate, "pki: certificate not valid for this usage: intermediate 0 "+tt.why)
			assert.EqualError(t, loaded, "pki: certificate not valid for this usage: CA certificate "+tt.why)
		})
	}

	require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
	crl, err := h.ca.CRL(t0.Add(48 * time.Hour)) // lists the card
	require.NoError(t, err)
	entries := func(c cryptobyte.String) bool {
		var entry cryptobyte.String
		return c.ReadASN1(&entry, cbasn1.SEQUENCE) && entry.PeekASN1Tag(cbasn1.INTEGER)
	}
	for name, tt := range map[string]struct {
		der []byte
		why string
	}{
		"entry": {
			resignedCRL(t, h.ca, crl, func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
				list := elem
				if tag != cbasn1.SEQUENCE || !list.ReadASN1(&list, cbasn1.SEQUENCE) || !entries(list) {
					b.AddBytes(elem)
					return
				}
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					var entry cryptobyte.String
					require.True(t, list.ReadASN1(&entry, cbasn1.SEQUENCE))
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(entry)
						b.AddBytes(extra)
					})
					b.AddBytes(list)
				})
			}), "an entry with bytes after its fields",
		},
		"extension": {
			resignedCRL(t, h.ca, crl, extensionsEdit(t, cbasn1.Tag(0).Constructed().ContextSpecific(),
				func(b *cryptobyte.Builder, id asn1.ObjectIdentifier, ext cryptobyte.String) {
					var body cryptobyte.String
					require.True(t, ext.ReadASN1(&body, cbasn1.SEQUENCE))
					if !id.Equal(oidCRLNumber) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(body) })
						return
					}
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(body)
						b.AddBytes(extra)
					})
				})), "CRL extension 2.5.29.20 with bytes after its value",
		},
	} {
		t.Run("CRL "+name, func(t *testing.T) {
			assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "malformed CRL: " + tt.why}, v.AddCRL(tt.der))
		})
	}
	require.NoError(t, v.AddCRL(crl), "the CRL as issued, a number not taken before")
}

// inKeyInfo returns an edit for resigned that writes extra after the
// namedCurve of the algorithm of the subjectPublicKeyInfo (inAlgorithm)
// or after its subjectPublicKey.
func inKeyInfo(inAlgorithm bool, extra []byte) func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
	return func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		in := elem
		var info, alg cryptobyte.String
		if tag != cbasn1.SEQUENCE || !in.ReadASN1(&info, cbasn1.SEQUENCE) || !info.PeekASN1Tag(cbasn1.SEQUENCE) {
			b.AddBytes(elem)
			return
		}
		rest := info
		if !rest.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) || !rest.PeekASN1Tag(cbasn1.BIT_STRING) {
			b.AddBytes(elem)
			return
		}
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(alg)
				if inAlgorithm {
					b.AddBytes(extra)
				}
			})
			b.AddBytes(rest)
			if !inAlgorithm {
				b.AddBytes(extra)
			}
		})
	}
}

// TestKeyInfoEncoding: a certificate whose subjectPublicKeyInfo holds
// other bytes after the namedCurve of its ECDSA algorithm or after its
// subjectPublicKey, which crypto/x509 parses without looking at them
// (another encoding of the same key, under which CRLs held are not found:
// a verifier finds the CRL of an issuer by its name and
// subjectPublicKeyInfo), is refused as another encoding of it: a CA
// certificate presented, a root or an intermediate of NewVerifier and a
// CA of LoadCA with ErrUsage naming what is after what. So is a card's
// whose key is not ECDSA with bytes after its subjectPublicKey, named as
// such (its algorithm is refused only after).
func TestKeyInfoEncoding(t *testing.T) {
	h, v := withCRLs(t)
	for _, tt := range []struct {
		name, why   string
		inAlgorithm bool
	}{
		{"after the namedCurve", "ECDSA key algorithm with more than a namedCurve, which RFC 5480 has alone", true},
		{"after the subjectPublicKey", "subjectPublicKeyInfo with bytes after its subjectPublicKey", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			edit := inKeyInfo(tt.inAlgorithm, []byte{0x05, 0x00})
			ca, root := resigned(t, h.root.Signer(), h.ca.DER(), edit), resigned(t, h.root.Signer(), h.root.DER(), edit)
			presented, asRoot, intermediate, loaded := caRefusals(t, h, v, ca, root)
			assert.ErrorIs(t, presented, ErrUsage)
			assert.EqualError(t, presented, "pki: certificate not valid for this usage: certificate 1: "+tt.why)
			assert.EqualError(t, asRoot, "pki: certificate not valid for this usage: root 0 "+tt.why)
			assert.EqualError(t, intermediate, "pki: certificate not valid for this usage: intermediate 0 "+tt.why)
			assert.EqualError(t, loaded, "pki: certificate not valid for this usage: CA certificate "+tt.why)
		})
	}
	t.Run("Ed25519 card key, after the subjectPublicKey", func(t *testing.T) {
		edPub, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		card := issueRaw(t, h.ca, cardTemplate(t, testICCID), edPub)
		_, err = v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
		var plain *Error
		require.ErrorAs(t, err, &plain)
		require.NotContains(t, plain.Reason, "subjectPublicKeyInfo", "the key as issued refused for something else")

		card = resigned(t, h.ca.Signer(), card, inKeyInfo(false, []byte{0x05, 0x00}))
		_, err = v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
		assert.Equal(t, &Error{Err: ErrUsage, Cert: 0, Reason: "subjectPublicKeyInfo with bytes after its subjectPublicKey"}, err)
	})
}

// withUnusedBits returns the content of a BIT STRING of the same value as
// bits, a whole number of octets, under crypto/x509, which reads a BIT
// STRING's octets shifted right by its unused bits (RightAlign): bits
// shifted left by n, n of 1 to 7, with n unused bits. It holds the
// value of bits only when bits starts with n zero bits.
func withUnusedBits(bits []byte, n uint) []byte {
	out := []byte{byte(n)}
	for i := range bits {
		b := bits[i] << n
		if i+1 < len(bits) {
			b |= bits[i+1] >> (8 - n)
		}
		out = append(out, b)
	}
	return out
}

// keyWithUnusedBits is an edit for resigned that writes the
// subjectPublicKey of the subjectPublicKeyInfo with 3 unused bits
// (withUnusedBits), which crypto/x509 reads as the same ECDSA key: the
// first octet of an uncompressed point, 04, starts with 5 zero bits.
func keyWithUnusedBits(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
	in := elem
	var info, alg cryptobyte.String
	var key asn1.BitString
	if tag != cbasn1.SEQUENCE || !in.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1Element(&alg, cbasn1.SEQUENCE) ||
		!info.ReadASN1BitString(&key) || !info.Empty() {
		b.AddBytes(elem)
		return
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(alg)
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(withUnusedBits(key.Bytes, 3)) })
	})
}

// TestKeyUnusedBits: a certificate whose subjectPublicKey has unused bits,
// its octets shifted, which crypto/x509 reads as the same key and RFC
// 5480 §2.2 does not have (the octets of the point are those of the BIT
// STRING, whole), another encoding of the same key, under which the CRLs
// held of its issuer name are not found, is refused: a CA certificate
// presented, a root or an intermediate of NewVerifier and a CA of LoadCA
// with ErrUsage naming it, a card's by VerifyCard with ErrUsage for
// certificate 0.
func TestKeyUnusedBits(t *testing.T) {
	h, v := withCRLs(t)
	const why = "subjectPublicKey with unused bits, where RFC 5480 has the octets of the point whole"
	ca, root := resigned(t, h.root.Signer(), h.ca.DER(), keyWithUnusedBits), resigned(t, h.root.Signer(), h.root.DER(), keyWithUnusedBits)
	c, err := x509.ParseCertificate(ca)
	require.NoError(t, err, "crypto/x509 parses it")
	require.True(t, h.ca.Certificate().PublicKey.(*ecdsa.PublicKey).Equal(c.PublicKey), "as the same key")
	presented, asRoot, intermediate, loaded := caRefusals(t, h, v, ca, root)
	assert.EqualError(t, presented, "pki: certificate not valid for this usage: certificate 1: "+why)
	assert.EqualError(t, asRoot, "pki: certificate not valid for this usage: root 0 "+why)
	assert.EqualError(t, intermediate, "pki: certificate not valid for this usage: intermediate 0 "+why)
	assert.EqualError(t, loaded, "pki: certificate not valid for this usage: CA certificate "+why)

	card := resigned(t, h.ca.Signer(), h.card, keyWithUnusedBits)
	_, err = v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
	assert.Equal(t, &Error{Err: ErrUsage, Cert: 0, Reason: why}, err)
}

// withUniqueID returns an edit for resigned that writes a unique
// identifier, issuerUniqueID ([1]) or subjectUniqueID ([2]), of one octet,
// before the extensions of a certificate.
func withUniqueID(tag cbasn1.Tag) func(b *cryptobyte.Builder, t cbasn1.Tag, elem cryptobyte.String) {
	return func(b *cryptobyte.Builder, t cbasn1.Tag, elem cryptobyte.String) {
		if t == cbasn1.Tag(3).Constructed().ContextSpecific() {
			b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte{0x00, 0x2a}) })
		}
		b.AddBytes(elem)
	}
}

// TestUniqueIDs: a certificate with an issuerUniqueID or a
// subjectUniqueID, which RFC 5280 §4.1.2.8 has a CA not write and
// crypto/x509 skips without reading them, another certificate that it
// parses the same, is refused: a CA certificate presented, a root or an
// intermediate of NewVerifier and a CA of LoadCA with ErrUsage naming it,
// a card's by VerifyCard with ErrUsage for certificate 0.
func TestUniqueIDs(t *testing.T) {
	h, v := withCRLs(t)
	const why = ", which RFC 5280 has a CA not write"
	for name, tag := range map[string]cbasn1.Tag{"issuerUniqueID": cbasn1.Tag(1).ContextSpecific(), "subjectUniqueID": cbasn1.Tag(2).ContextSpecific()} {
		t.Run(name, func(t *testing.T) {
			ca, root := resigned(t, h.root.Signer(), h.ca.DER(), withUniqueID(tag)), resigned(t, h.root.Signer(), h.root.DER(), withUniqueID(tag))
			c, err := x509.ParseCertificate(ca)
			require.NoError(t, err, "crypto/x509 parses it")
			require.Equal(t, h.ca.Certificate().Extensions, c.Extensions)
			presented, asRoot, intermediate, loaded := caRefusals(t, h, v, ca, root)
			assert.EqualError(t, presented, "pki: certificate not valid for this usage: certificate 1: "+name+why)
			assert.EqualError(t, asRoot, "pki: certificate not valid for this usage: root 0 "+name+why)
			assert.EqualError(t, intermediate, "pki: certificate not valid for this usage: intermediate 0 "+name+why)
			assert.EqualError(t, loaded, "pki: certificate not valid for this usage: CA certificate "+name+why)

			card := resigned(t, h.ca.Signer(), h.card, withUniqueID(tag))
			_, err = v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
			assert.Equal(t, &Error{Err: ErrUsage, Cert: 0, Reason: name + why}, err)
		})
	}
}

// inName returns an edit for resigned, for one use, that writes, in place
// of the Name at position field of the signed content of a certificate (3
// the issuer, 5 the subject, after the version, the serial number, the
// signature algorithm and, for the subject, the validity), what edit adds
// for the content of its SEQUENCE.
func inName(t testing.TB, field int, edit func(b *cryptobyte.Builder, rdns cryptobyte.String)) func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
	i := -1
	return func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		i++
		if i != field {
			b.AddBytes(elem)
			return
		}
		var rdns cryptobyte.String
		require.True(t, elem.ReadASN1(&rdns, cbasn1.SEQUENCE))
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { edit(b, rdns) })
	}
}

// attribute adds an AttributeTypeAndValue of type id and value, a
// UTF8String.
func attribute(b *cryptobyte.Builder, id asn1.ObjectIdentifier, value string) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(id)
		b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(value)) })
	})
}

// misencodedNames are edits of a Name for inName that crypto/x509 parses
// and DER or RFC 5280 §4.1.2.4 do not have, by name, with the words of
// the refusal: other bytes after the value of an attribute, which
// crypto/x509 does not look at; an empty RelativeDistinguishedName, which
// crypto/x509 drops; a RelativeDistinguishedName of two attributes out of
// the order of their encodings that DER has in a SET OF (X.690 §11.6).
var misencodedNames = map[string]struct {
	edit func(t testing.TB) func(b *cryptobyte.Builder, rdns cryptobyte.String)
	why  string
}{
	"bytes after an attribute's value": {
		func(t testing.TB) func(b *cryptobyte.Builder, rdns cryptobyte.String) {
			return func(b *cryptobyte.Builder, rdns cryptobyte.String) {
				var set, atav cryptobyte.String
				require.True(t, rdns.ReadASN1(&set, cbasn1.SET) && set.ReadASN1(&atav, cbasn1.SEQUENCE))
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddBytes(atav)
						b.AddASN1NULL()
					})
					b.AddBytes(set)
				})
				b.AddBytes(rdns)
			}
		},
		"with bytes after the value of an attribute",
	},
	"an empty RDN": {
		func(t testing.TB) func(b *cryptobyte.Builder, rdns cryptobyte.String) {
			return func(b *cryptobyte.Builder, rdns cryptobyte.String) {
				b.AddBytes(rdns)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
			}
		},
		"with an empty RelativeDistinguishedName, which RFC 5280 has of one attribute or more",
	},
	"an RDN out of order": {
		func(t testing.TB) func(b *cryptobyte.Builder, rdns cryptobyte.String) {
			return func(b *cryptobyte.Builder, rdns cryptobyte.String) {
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					attribute(b, asn1.ObjectIdentifier{2, 5, 4, 11}, "cards") // OU
					attribute(b, asn1.ObjectIdentifier{2, 5, 4, 10}, "casim") // O
				})
				b.AddBytes(rdns)
			}
		},
		"with the attributes of a RelativeDistinguishedName out of the order of their encodings that DER has",
	},
}

// TestNameEncoding: a certificate whose issuer or subject crypto/x509
// parses and DER or RFC 5280 do not have (misencodedNames), another
// encoding of the same name, which a certificate below a CA must name as
// the CA's subject byte for byte and under which a verifier finds the CRL
// of an issuer (issuerKey), is refused: a CA certificate presented, a root
// or an intermediate of NewVerifier and a CA of LoadCA with ErrUsage naming
// it and the name, a card's by VerifyCard with ErrUsage for certificate 0.
// A RelativeDistinguishedName of the same two attributes in the order of
// their encodings is taken.
func TestNameEncoding(t *testing.T) {
	h, v := withCRLs(t)
	for name, tt := range misencodedNames {
		t.Run(name, func(t *testing.T) {
			ca := resigned(t, h.root.Signer(), h.ca.DER(), inName(t, 5, tt.edit(t)))
			root := resigned(t, h.root.Signer(), h.root.DER(), inName(t, 5, tt.edit(t)))
			why := "subject " + tt.why
			presented, asRoot, intermediate, loaded := caRefusals(t, h, v, ca, root)
			assert.EqualError(t, presented, "pki: certificate not valid for this usage: certificate 1: "+why)
			assert.EqualError(t, asRoot, "pki: certificate not valid for this usage: root 0 "+why)
			assert.EqualError(t, intermediate, "pki: certificate not valid for this usage: intermediate 0 "+why)
			assert.EqualError(t, loaded, "pki: certificate not valid for this usage: CA certificate "+why)

			for field, what := range map[int]string{3: "issuer ", 5: "subject "} {
				card := resigned(t, h.ca.Signer(), h.card, inName(t, field, tt.edit(t)))
				_, err := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
				assert.Equal(t, &Error{Err: ErrUsage, Cert: 0, Reason: what + tt.why}, err)
			}
		})
	}

	sorted := func(b *cryptobyte.Builder, rdns cryptobyte.String) {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			attribute(b, asn1.ObjectIdentifier{2, 5, 4, 10}, "casim") // O
			attribute(b, asn1.ObjectIdentifier{2, 5, 4, 11}, "cards") // OU
		})
		b.AddBytes(rdns)
	}
	card := resigned(t, h.ca.Signer(), h.card, inName(t, 5, sorted))
	_, err := v.VerifyCard(append([][]byte{card}, h.ca.Chain()...))
	assert.NoError(t, err)
	ca := resigned(t, h.root.Signer(), h.ca.DER(), inName(t, 5, sorted))
	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
	assert.NoError(t, err)
}

// withSignatureParameters returns der, a certificate or a CRL signed with
// ECDSA with SHA-256, with a NULL written after the OBJECT IDENTIFIER of
// its signature algorithm, in its signed content and after it alike (as
// crypto/x509 requires them the same), signed again by signer.
func withSignatureParameters(t testing.TB, signer crypto.Signer, der []byte) []byte {
	t.Helper()
	var alg []byte
	edit := func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		in := elem
		var content cryptobyte.String
		if alg != nil || tag != cbasn1.SEQUENCE || !in.ReadASN1(&content, cbasn1.SEQUENCE) || !content.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
			b.AddBytes(elem)
			return
		}
		var a cryptobyte.Builder
		a.AddASN1(cbasn1.SEQUENCE, func(a *cryptobyte.Builder) {
			a.AddBytes(content)
			a.AddASN1NULL()
		})
		alg = a.BytesOrPanic()
		b.AddBytes(alg)
	}
	in := cryptobyte.String(resigned(t, signer, der, edit))
	var signed, tbs cryptobyte.String
	var sig asn1.BitString
	require.True(t, in.ReadASN1(&signed, cbasn1.SEQUENCE) && signed.ReadASN1Element(&tbs, cbasn1.SEQUENCE) &&
		signed.SkipASN1(cbasn1.SEQUENCE) && signed.ReadASN1BitString(&sig))
	return signedDER(t, tbs, alg, sig.Bytes)
}

// TestSignatureAlgorithmParameters: a certificate or a CRL whose ECDSA
// signature algorithm carries parameters (a NULL), which RFC 5758 §3.2
// has absent and crypto/x509 takes, is refused as another encoding of it:
// a CA certificate presented, a root or an intermediate of NewVerifier
// and a CA of LoadCA with ErrUsage naming it, a CRL by AddCRL as
// malformed (ErrCRL), the CRL held staying in force.
func TestSignatureAlgorithmParameters(t *testing.T) {
	h, v := withCRLs(t)
	const why = "signature algorithm ecdsa-with-SHA256 with parameters, which RFC 5758 has absent"
	ca, root := withSignatureParameters(t, h.root.Signer(), h.ca.DER()), withSignatureParameters(t, h.root.Signer(), h.root.DER())
	c, err := x509.ParseCertificate(ca)
	require.NoError(t, err, "crypto/x509 parses it")
	require.NoError(t, c.CheckSignatureFrom(h.root.Certificate()))
	presented, asRoot, intermediate, loaded := caRefusals(t, h, v, ca, root)
	assert.EqualError(t, presented, "pki: certificate not valid for this usage: certificate 1: "+why)
	assert.EqualError(t, asRoot, "pki: certificate not valid for this usage: root 0 "+why)
	assert.EqualError(t, intermediate, "pki: certificate not valid for this usage: intermediate 0 "+why)
	assert.EqualError(t, loaded, "pki: certificate not valid for this usage: CA certificate "+why)

	crl, err := h.ca.CRL(t0.Add(48 * time.Hour))
	require.NoError(t, err)
	bad := parsedCRL(t, h.ca, withSignatureParameters(t, h.ca.Signer(), crl))
	assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "malformed CRL: " + why}, v.AddCRL(bad))
	require.NoError(t, v.AddCRL(crl), "the CRL as issued, a number not taken before")
}

// TestAddCRLNumbers: a CRL numbered below the one held is refused; one
// of the same number is the CRL held, and changes nothing (the cache is
// kept), when its signed content is the same, whatever its signature: the
// same bytes again, the CA's signature of the same content again, or the
// other valid ECDSA signature that anyone can make of the CA's (s turned
// into n-s), whichever comes first; one of the same number whose content
// differs is refused.
func TestAddCRLNumbers(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{Revocation: RevocationBestEffort})
	crl := func(n uint64, revoked ...Revocation) []byte {
		der, err := h.ca.IssueCRL(revoked, n, t0.Add(time.Hour))
		require.NoError(t, err)
		return der
	}
	five := crl(5)
	twin := malleated(t, five, h.ca.Signer().Public().(*ecdsa.PublicKey))
	require.NoError(t, v.AddCRL(twin), "the twin first")
	_, err := v.VerifyCard(h.chain())
	require.NoError(t, err)
	require.Equal(t, 1, v.cache.len())
	assert.NoError(t, v.AddCRL(five), "the CA's own bytes after their twin")
	assert.NoError(t, v.AddCRL(twin), "the same CRL again")
	assert.NoError(t, v.AddCRL(crl(5)), "the same content signed again")
	assert.Equal(t, 1, v.cache.len(), "nothing changed")
	another := &Error{Err: ErrCRL, Cert: -1, Reason: "another CRL with the number held"}
	assert.Equal(t, another, v.AddCRL(crl(5, Revocation{Serial: mustParse(t, h.card).SerialNumber})), "another CRL with the same number")
	assert.ErrorIs(t, v.AddCRL(crl(4)), ErrCRL, "an older CRL")
	assert.NoError(t, v.AddCRL(crl(6)))
	assert.ErrorIs(t, v.AddCRL(five), ErrCRL, "rolled back")
	assert.ErrorIs(t, v.AddCRL(twin), ErrCRL, "rolled back by the twin")
}

// malleated returns crl with its ECDSA signature (r, s) turned into
// (r, n-s), the other valid signature of the same content under pub, and
// re-encoded.
func malleated(t *testing.T, crl []byte, pub *ecdsa.PublicKey) []byte {
	t.Helper()
	in := cryptobyte.String(crl)
	var outer, tbs, alg cryptobyte.String
	var sigBits asn1.BitString
	require.True(t, in.ReadASN1(&outer, cbasn1.SEQUENCE) && in.Empty())
	require.True(t, outer.ReadASN1Element(&tbs, cbasn1.SEQUENCE) && outer.ReadASN1Element(&alg, cbasn1.SEQUENCE))
	require.True(t, outer.ReadASN1BitString(&sigBits) && outer.Empty())
	sig := cryptobyte.String(sigBits.Bytes)
	var inner cryptobyte.String
	r, s := new(big.Int), new(big.Int)
	require.True(t, sig.ReadASN1(&inner, cbasn1.SEQUENCE) && sig.Empty())
	require.True(t, inner.ReadASN1Integer(r) && inner.ReadASN1Integer(s) && inner.Empty())
	s.Sub(pub.Curve.Params().N, s)
	var sb cryptobyte.Builder
	sb.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	sigDER, err := sb.Bytes()
	require.NoError(t, err)
	twin := signedDER(t, tbs, alg, sigDER)
	require.NotEqual(t, crl, twin)
	digest := sha256.Sum256(tbs)
	require.True(t, ecdsa.Verify(pub, digest[:], r, s), "the twin signature is a valid ECDSA signature")
	return twin
}

func TestRevocationPolicies(t *testing.T) {
	h := newHierarchy(t)
	crls := h.crls(t)
	rootCRL, caCRL := crls[0], crls[1]
	tests := []struct {
		name   string
		policy RevocationPolicy
		crls   [][]byte
		at     time.Time
		want   error
	}{
		{"chain, both", RevocationChain, [][]byte{rootCRL, caCRL}, t0, nil},
		{"chain, card CA only", RevocationChain, [][]byte{caCRL}, t0, ErrCRL},
		{"chain, root only", RevocationChain, [][]byte{rootCRL}, t0, ErrCRL},
		{"leaf, card CA only", RevocationLeaf, [][]byte{caCRL}, t0, nil},
		{"leaf, root only", RevocationLeaf, [][]byte{rootCRL}, t0, ErrCRL},
		{"leaf, stale", RevocationLeaf, [][]byte{caCRL}, t0.Add(25 * time.Hour), ErrCRL},
		{"best effort, none", RevocationBestEffort, nil, t0, nil},
		{"best effort, stale", RevocationBestEffort, [][]byte{rootCRL, caCRL}, t0.Add(25 * time.Hour), nil},
		{"chain, within skew of next update", RevocationChain, [][]byte{rootCRL, caCRL}, t0.Add(24*time.Hour + DefaultSkew), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(t0)
			v := newVerifier(t, h, clk, VerifierOptions{Revocation: tt.policy})
			for _, crl := range tt.crls {
				require.NoError(t, v.AddCRL(crl))
			}
			clk.set(tt.at)
			_, err := v.VerifyCard(h.chain())
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

// TestCRLNotYetValidReason: a CRL held whose this update is later than the
// verifier's time, the skew allowed (a clock set back after the CRL was
// added), refuses a chain as ErrCRL with a reason that says so, naming the
// this update and the time checked, distinct from that of a stale CRL,
// which names the next update and the time checked.
func TestCRLNotYetValidReason(t *testing.T) {
	caClock := newClock(t0)
	h := newHierarchyAt(t, caClock.now)
	caClock.set(t0.Add(2 * time.Hour))
	crls := h.crls(t) // this update t0 + 2h, next update t0 + 24h

	clk := newClock(t0.Add(3 * time.Hour))
	v := newVerifier(t, h, clk, VerifierOptions{CacheSize: -1})
	for _, crl := range crls {
		require.NoError(t, v.AddCRL(crl))
	}
	for _, tc := range []struct {
		name   string
		at     time.Time
		reason string
	}{
		{"set back before this update less the skew", t0.Add(time.Hour),
			"CRL of the issuer not yet valid: its this update 2026-06-01T14:00:00Z is later than 2026-06-01T13:00:00Z plus the clock skew of 5m0s"},
		{"set back a nanosecond before this update less the skew", t0.Add(2*time.Hour - DefaultSkew - 1),
			"CRL of the issuer not yet valid: its this update 2026-06-01T14:00:00Z is later than 2026-06-01T13:54:59.999999999Z plus the clock skew of 5m0s"},
		{"set back to this update less the skew", t0.Add(2*time.Hour - DefaultSkew), ""},
		{"past the next update plus the skew", t0.Add(24*time.Hour + DefaultSkew + 1),
			"stale CRL of the issuer: its next update 2026-06-02T12:00:00Z is earlier than 2026-06-02T12:05:00.000000001Z less the clock skew of 5m0s"},
		{"at the next update plus the skew", t0.Add(24*time.Hour + DefaultSkew), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.set(tc.at)
			_, err := v.VerifyCard(h.chain())
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			requireRefusal(t, err, ErrCRL, 0)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.reason, pe.Reason)
			assert.Equal(t, "pki: CRL unavailable or invalid: certificate 0: "+tc.reason, err.Error())
		})
	}
}

// TestRevocationBeforeCRLUnavailable: a certificate listed in the CRL
// held of its issuer is ErrRevoked whatever the CRLs held, that one not
// yet valid (a clock set back after it was added) or another certificate's
// missing, before any CRL missing, stale or not yet valid is ErrCRL; the
// revocation of the card CA, listed by the root, comes before the card's
// CRL missing. Revoked finds the same.
func TestRevocationBeforeCRLUnavailable(t *testing.T) {
	t.Run("listed in a CRL not yet valid", func(t *testing.T) {
		caClock := newClock(t0)
		h := newHierarchyAt(t, caClock.now)
		caClock.set(t0.Add(2 * time.Hour))
		require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
		clk := newClock(t0.Add(3 * time.Hour))
		v := newVerifier(t, h, clk, VerifierOptions{CacheSize: -1})
		addCRLs(t, h, v) // this update t0 + 2h
		ids, err := v.CertIDs(h.chain())
		require.NoError(t, err)
		clk.set(t0.Add(time.Hour))
		_, err = v.VerifyCard(h.chain())
		requireRefusal(t, err, ErrRevoked, 0)
		assert.True(t, v.Revoked(ids))
	})
	t.Run("card CA listed by the root, the card's CRL missing", func(t *testing.T) {
		h := newHierarchy(t)
		require.NoError(t, h.root.Revoke(mustParse(t, h.ca.DER()).SerialNumber, ReasonCACompromise))
		v := newVerifier(t, h, newClock(t0), VerifierOptions{CacheSize: -1})
		require.NoError(t, v.AddCRL(h.crls(t)[0]))
		_, err := v.VerifyCard(h.chain())
		requireRefusal(t, err, ErrRevoked, 1)
	})
}

// TestAddCRLOutOfTimeReason: AddCRL refuses a CRL whose this update is
// later than the verifier's time plus the skew, or whose next update is
// earlier than that time less the skew, as ErrCRL with a reason that names
// that update, the time checked and the skew, worded as a chain's refusal
// for such a CRL held is, and takes it from this update less the skew up
// to next update plus the skew.
func TestAddCRLOutOfTimeReason(t *testing.T) {
	h := newHierarchy(t)
	crl, err := h.ca.IssueCRL(nil, 1, t0.Add(time.Hour)) // this update t0, next update t0 + 1h
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		at     time.Time
		reason string
	}{
		{"an hour before this update", t0.Add(-time.Hour),
			"CRL not yet valid: its this update 2026-06-01T12:00:00Z is later than 2026-06-01T11:00:00Z plus the clock skew of 5m0s"},
		{"a nanosecond before this update less the skew", t0.Add(-DefaultSkew - 1),
			"CRL not yet valid: its this update 2026-06-01T12:00:00Z is later than 2026-06-01T11:54:59.999999999Z plus the clock skew of 5m0s"},
		{"at this update less the skew", t0.Add(-DefaultSkew), ""},
		{"an hour after next update", t0.Add(2 * time.Hour),
			"stale CRL: its next update 2026-06-01T13:00:00Z is earlier than 2026-06-01T14:00:00Z less the clock skew of 5m0s"},
		{"a nanosecond after next update plus the skew", t0.Add(time.Hour + DefaultSkew + 1),
			"stale CRL: its next update 2026-06-01T13:00:00Z is earlier than 2026-06-01T13:05:00.000000001Z less the clock skew of 5m0s"},
		{"at next update plus the skew", t0.Add(time.Hour + DefaultSkew), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, h, newClock(tc.at), VerifierOptions{})
			err := v.AddCRL(crl)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrCRL)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.reason, pe.Reason)
			assert.Equal(t, "pki: CRL unavailable or invalid: "+tc.reason, err.Error())
		})
	}
}

func TestSkew(t *testing.T) {
	h := newHierarchy(t)
	notAfter := t0.Add(DefaultCardValidity)
	tests := []struct {
		name string
		skew time.Duration
		at   time.Time
		want error
	}{
		{"before start within skew", 0, t0.Add(-DefaultSkew), nil},
		{"before start beyond skew", 0, t0.Add(-DefaultSkew - time.Second), ErrExpired},
		{"after end within skew", 0, notAfter.Add(DefaultSkew), nil},
		{"after end beyond skew", 0, notAfter.Add(DefaultSkew + time.Second), ErrExpired},
		{"no skew, before start", -1, t0.Add(-time.Second), ErrExpired},
		{"no skew, at start", -1, t0, nil},
		{"one hour", time.Hour, t0.Add(-59 * time.Minute), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock(tt.at)
			v := newVerifier(t, h, clk, VerifierOptions{Skew: tt.skew, Revocation: RevocationBestEffort})
			_, err := v.VerifyCard(h.chain())
			if tt.want == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestVerifyPlatform(t *testing.T) {
	h := newHierarchy(t)
	k := newKey(t)
	der, err := h.ca.IssuePlatform(k.Public(), "casimpay platform", IssueOptions{})
	require.NoError(t, err)
	chain := append([][]byte{der}, h.ca.Chain()...)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	addCRLs(t, h, v)

	vp, err := v.VerifyPlatform(chain)
	require.NoError(t, err)
	assert.Equal(t, "casimpay platform", vp.Name)
	assert.True(t, k.PublicKey.Equal(vp.PublicKey))
	assert.Len(t, vp.Chain, 3)

	_, err = v.VerifyCard(chain)
	assert.ErrorIs(t, err, ErrUsage, "a platform certificate is not a card")
	_, err = v.VerifyPlatform(h.chain())
	assert.ErrorIs(t, err, ErrUsage, "a card certificate does not sign receipts")

	require.NoError(t, h.ca.Revoke(mustParse(t, der).SerialNumber, ReasonKeyCompromise))
	crl, err := h.ca.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(crl))
	_, err = v.VerifyPlatform(chain)
	assert.ErrorIs(t, err, ErrRevoked)
}

// TestVerifyPlatformProfile: a platform certificate is refused (ErrUsage)
// unless, as IssuePlatform writes it (PROTOCOL.md §4.3), its subject is
// one common name, not empty, it has no subject alternative name, and it
// has a subject key identifier, a CRL distribution point and a
// non-critical extended key usage.
func TestVerifyPlatformProfile(t *testing.T) {
	platform := func(change func(c *x509.Certificate)) *x509.Certificate {
		c := &x509.Certificate{
			Subject:               pkix.Name{CommonName: "casimpay platform"},
			KeyUsage:              x509.KeyUsageDigitalSignature,
			BasicConstraintsValid: true,
			ExtraExtensions:       ekuOf(t, OIDReceiptSigning),
		}
		change(c)
		return c
	}
	tests := []struct {
		name string
		tmpl *x509.Certificate
		want error
	}{
		{"as issued", platform(func(c *x509.Certificate) {}), nil},
		{"empty common name", platform(func(c *x509.Certificate) { c.Subject.CommonName = "" }), ErrUsage},
		{"no subject", platform(func(c *x509.Certificate) { c.Subject = pkix.Name{} }), ErrUsage},
		{"organization and common name", platform(func(c *x509.Certificate) { c.Subject.Organization = []string{"casimpay"} }), ErrUsage},
		{"two common names", platform(func(c *x509.Certificate) {
			cn := asn1.ObjectIdentifier{2, 5, 4, 3}
			raw, err := asn1.Marshal(pkix.RDNSequence{
				{{Type: cn, Value: "casimpay platform"}},
				{{Type: cn, Value: "other platform"}},
			})
			require.NoError(t, err)
			c.RawSubject = raw
		}), ErrUsage},
		{"no subject key identifier", platform(func(c *x509.Certificate) { c.SubjectKeyId = []byte{} }), ErrUsage},
		{"no CRL distribution point", platform(func(c *x509.Certificate) { c.CRLDistributionPoints = []string{} }), ErrUsage},
		{"critical EKU", platform(func(c *x509.Certificate) { c.ExtraExtensions[0].Critical = true }), ErrUsage},
		{"DNS SAN", platform(func(c *x509.Certificate) { c.DNSNames = []string{"platform.example"} }), ErrUsage},
		{"URI SAN", platform(func(c *x509.Certificate) {
			c.URIs = []*url.URL{{Scheme: "urn", Opaque: "casim:card:" + testICCID}}
		}), ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHierarchy(t)
			v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
			addCRLs(t, h, v)
			chain := append([][]byte{issueRaw(t, h.ca, tt.tmpl, newKey(t).Public())}, h.ca.Chain()...)
			vp, err := v.VerifyPlatform(chain)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "casimpay platform", vp.Name)
				return
			}
			assert.Nil(t, vp)
			require.ErrorIs(t, err, tt.want)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, 0, pe.Cert)
		})
	}
}

func TestNewVerifierErrors(t *testing.T) {
	h := newHierarchy(t)
	other := newHierarchy(t)
	tests := []struct {
		name string
		opts VerifierOptions
		want error
	}{
		{"no roots", VerifierOptions{}, ErrInvalid},
		{"garbage root", VerifierOptions{Roots: [][]byte{{1, 2, 3}}}, ErrUntrusted},
		{"leaf as root", VerifierOptions{Roots: [][]byte{h.card}}, ErrUsage},
		{"foreign intermediate", VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{other.ca.DER()}}, ErrUntrusted},
		{"leaf as intermediate", VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{h.card}}, ErrUsage},
		{"depth 1", VerifierOptions{Roots: [][]byte{h.root.DER()}, MaxDepth: 1}, ErrInvalid},
		{"unknown policy", VerifierOptions{Roots: [][]byte{h.root.DER()}, Revocation: 7}, ErrInvalid},
		{"policy after the last", VerifierOptions{Roots: [][]byte{h.root.DER()}, Revocation: RevocationBestEffort + 1}, ErrInvalid},
		{"negative policy", VerifierOptions{Roots: [][]byte{h.root.DER()}, Revocation: RevocationChain - 1}, ErrInvalid},
		// crypto/x509 verifies CRLs signed with SHA-1 but no certificate.
		{"SHA-1 allowed", VerifierOptions{Roots: [][]byte{h.root.DER()}, Algorithms: []x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA1}}, ErrInvalid},
		{"RSA allowed", VerifierOptions{Roots: [][]byte{h.root.DER()}, Algorithms: []x509.SignatureAlgorithm{x509.SHA256WithRSA}}, ErrInvalid},
		{"MD5 allowed", VerifierOptions{Roots: [][]byte{h.root.DER()}, Algorithms: []x509.SignatureAlgorithm{x509.MD5WithRSA}}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.opts)
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, v)
		})
	}

	t.Run("root key outside the profile", func(t *testing.T) {
		p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		require.NoError(t, err)
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		for _, tt := range []struct {
			name string
			key  crypto.Signer
			want error
		}{
			{"P-256", newKey(t), nil},
			{"P-384", p384, nil},
			{"P-521", p521, &Error{Err: ErrUsage, Cert: -1, Reason: "root 1 key is not ECDSA P-256 or P-384"}},
			{"Ed25519", ed, &Error{Err: ErrUsage, Cert: -1, Reason: "root 1 key is not ECDSA P-256 or P-384"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tmpl := &x509.Certificate{
					SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root " + tt.name},
					NotBefore: t0, NotAfter: t0.Add(time.Hour),
					IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
				}
				root, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tt.key.Public(), tt.key)
				require.NoError(t, err)
				v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER(), root}})
				if tt.want == nil {
					assert.NoError(t, err)
					return
				}
				assert.Equal(t, tt.want, err)
				assert.Nil(t, v)
			})
		}
	})

	t.Run("intermediate key outside the profile", func(t *testing.T) {
		p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		require.NoError(t, err)
		p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		require.NoError(t, err)
		edPub, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		refused := &Error{Err: ErrUsage, Cert: -1, Reason: "intermediate 0 key is not ECDSA P-256 or P-384"}
		for _, tt := range []struct {
			name string
			pub  any
			want error
		}{
			{"P-256", newKey(t).Public(), nil},
			{"P-384", p384.Public(), nil},
			{"P-521", p521.Public(), refused},
			{"Ed25519", edPub, refused},
		} {
			t.Run(tt.name, func(t *testing.T) {
				ca := issueRaw(t, h.root, &x509.Certificate{
					Subject: pkix.Name{CommonName: "CA " + tt.name}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
				}, tt.pub)
				v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}})
				if tt.want == nil {
					assert.NoError(t, err)
					return
				}
				assert.Equal(t, tt.want, err)
				assert.Nil(t, v)
			})
		}
	})

	t.Run("root-issued leaf as intermediate", func(t *testing.T) {
		// It chains to the root, so only the CA check refuses it.
		leaf := issueRaw(t, h.root, cardTemplate(t, testICCID), newKey(t).Public())
		_, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{leaf}})
		assert.ErrorIs(t, err, ErrUsage)
	})
}

// TestNewVerifierRefusalNamesPosition: every refusal by NewVerifier of a
// root or an intermediate names it by its position in Roots or
// Intermediates, from 0 (here the second of each, after one it takes),
// whatever the check it fails, and the first intermediate that chains to
// no root, or only without key identifiers.
func TestNewVerifierRefusalNamesPosition(t *testing.T) {
	h, other := newHierarchy(t), newHierarchy(t)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	selfSigned := func(key crypto.Signer, change func(c *x509.Certificate)) []byte {
		tmpl := caTemplateOf(func(c *x509.Certificate) {
			c.Subject.CommonName = "other root"
			c.SerialNumber, c.NotBefore, c.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
			change(c)
		})
		return createCert(t, tmpl, tmpl, key.Public(), key)
	}
	below := func(change func(c *x509.Certificate)) []byte {
		return issueRaw(t, h.root, caTemplateOf(change), newKey(t).Public())
	}
	altered := other.root.DER()
	altered[len(altered)-1] ^= 1
	noCRLSign := func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCertSign }
	unknown := func(c *x509.Certificate) { c.ExtraExtensions = []pkix.Extension{unknownCritical} }
	enc := misencodedTimes["GeneralizedTime"]
	misencoded := fmt.Sprintf("%s in %d, where RFC 5280 has a UTCTime", enc.why, t0.Year())
	const alteredWhy = " names itself as its issuer, as a root, but its signature does not verify under its own key"
	const unknownWhy = " with critical extension 1.3.6.1.4.1.99999.1, which crypto/x509 does not handle"
	// A CA of other's root's name and a new key, certified by other's
	// root: its issuer's name is its own, not its key.
	rekeyed := issueRaw(t, other.root, caTemplateOf(func(c *x509.Certificate) { c.Subject = other.root.Certificate().Subject }), newKey(t).Public())
	require.Equal(t, mustParse(t, rekeyed).RawSubject, mustParse(t, rekeyed).RawIssuer)
	const notRootWhy = " is not self-signed: not a root"

	for _, tt := range []struct {
		name   string
		roots  [][]byte // after h's root
		inters [][]byte // after h's card CA
		want   error
		reason string
	}{
		{"root malformed", [][]byte{{1, 2, 3}}, nil, ErrUntrusted, "root 1 is malformed"},
		{"root not a CA of the profile", [][]byte{selfSigned(newKey(t), noCRLSign)}, nil, ErrUsage, "root 1 without a critical keyUsage with keyCertSign and cRLSign"},
		{"root key P-521", [][]byte{selfSigned(p521, func(*x509.Certificate) {})}, nil, ErrUsage, "root 1 key is not ECDSA P-256 or P-384"},
		{"root with nameConstraints", [][]byte{selfSigned(newKey(t), func(c *x509.Certificate) { c.PermittedDNSDomains = []string{"example.com"} })}, nil,
			ErrUsage, "root 1 with extension nameConstraints (2.5.29.30)"},
		{"root with unhandled critical extension", [][]byte{selfSigned(newKey(t), unknown)}, nil, ErrUsage, "root 1" + unknownWhy},
		{"root time misencoded", [][]byte{validityTime(t, other.root.Signer(), other.root.DER(), 0, enc.encode)}, nil, ErrUsage, "root 1 notBefore " + misencoded},
		{"root altered", [][]byte{altered}, nil, ErrUntrusted, "root 1" + alteredWhy},
		{"root not self-signed", [][]byte{other.ca.DER()}, nil, ErrUsage, "root 1" + notRootWhy},
		{"root self-issued under another key", [][]byte{rekeyed}, nil, ErrUsage, "root 1" + notRootWhy},

		{"intermediate malformed", nil, [][]byte{{1, 2, 3}}, ErrUntrusted, "intermediate 1 is malformed"},
		{"intermediate not a CA of the profile", nil, [][]byte{below(noCRLSign)}, ErrUsage, "intermediate 1 without a critical keyUsage with keyCertSign and cRLSign"},
		{"intermediate key P-521", nil, [][]byte{issueRaw(t, h.root, caTemplateOf(func(*x509.Certificate) {}), p521.Public())}, ErrUsage, "intermediate 1 key is not ECDSA P-256 or P-384"},
		{"intermediate self-signed", nil, [][]byte{other.root.DER()}, ErrUsage, "intermediate 1 is self-signed: a root, not an intermediate"},
		{"intermediate altered root", nil, [][]byte{altered}, ErrUntrusted, "intermediate 1" + alteredWhy},
		{"intermediate with unhandled critical extension", nil, [][]byte{below(unknown)}, ErrUsage, "intermediate 1" + unknownWhy},
		{"intermediate time misencoded", nil, [][]byte{validityTime(t, h.root.Signer(), below(func(*x509.Certificate) {}), 0, enc.encode)}, ErrUsage, "intermediate 1 notBefore " + misencoded},
		{"intermediate serial zero", nil, [][]byte{below(func(c *x509.Certificate) { c.SerialNumber = big.NewInt(0) })}, ErrUsage, "intermediate 1 serial number not positive or longer than 20 octets"},
		{"intermediate algorithm not allowed", nil, [][]byte{below(func(c *x509.Certificate) { c.SignatureAlgorithm = x509.ECDSAWithSHA512 })}, ErrUsage, "intermediate 1 signature algorithm ECDSA-SHA512 not allowed"},
		{"intermediate with inhibitAnyPolicy", nil, [][]byte{below(func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 54}, Value: []byte{0x02, 0x01, 0x00}}}
		})}, ErrUntrusted, "intermediate 1 with extension inhibitAnyPolicy (2.5.29.54)"},
		{"intermediate not chained", nil, [][]byte{other.ca.DER()}, ErrUntrusted, "intermediate 1 does not chain to a root"},
		{"intermediate chained without key identifiers", nil, [][]byte{below(func(c *x509.Certificate) { c.AuthorityKeyId = []byte{1, 2, 3} })}, ErrUsage,
			"intermediate 1 chains to a root only through an issuer whose subject key identifier is not its authority key identifier"},
		// The first of those that chain to no root, before one that chains
		// only without key identifiers.
		{"intermediates not chained", nil, [][]byte{below(func(c *x509.Certificate) { c.AuthorityKeyId = []byte{1, 2, 3} }), other.ca.DER(), other.ca.DER()}, ErrUntrusted,
			"intermediate 2 does not chain to a root"},
		// Every intermediate is checked as a CA before any is chained.
		{"intermediate refused after one not chained", nil, [][]byte{other.ca.DER(), below(noCRLSign)}, ErrUsage,
			"intermediate 2 without a critical keyUsage with keyCertSign and cRLSign"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(VerifierOptions{
				Roots:         append([][]byte{h.root.DER()}, tt.roots...),
				Intermediates: append([][]byte{h.ca.DER()}, tt.inters...),
			})
			assert.Nil(t, v)
			requireRefusal(t, err, tt.want, -1)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.reason, pe.Reason)
		})
	}
}

// TestRevoked: Revoked finds a chain's certificate listed in the CRL held
// of its issuer, the card's or a CA's above it, with the CRLs held at the
// call, fresh, stale or not yet valid, as VerifyCard finds it revoked (and
// more: TestRevokedPathNotTaken); it ignores certificates of other CAs and
// CRLs missing or stale, and reads the CertIDs made before the revocation.
func TestRevoked(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0)
	v := newVerifier(t, h, clk, VerifierOptions{})
	ids, err := v.CertIDs(h.chain())
	require.NoError(t, err)
	assert.False(t, v.Revoked(ids), "no CRL held")
	addCRLs(t, h, v)
	assert.False(t, v.Revoked(ids), "fresh CRLs listing nothing")

	// Another card of the same CA, with another hierarchy's CA in its
	// chain and its own presented and known to the verifier.
	other := newHierarchy(t)
	card2, err := h.ca.IssueCard(newKey(t).Public(), testICCID2, IssueOptions{})
	require.NoError(t, err)
	ids2, err := v.CertIDs([][]byte{card2, other.ca.DER(), h.ca.DER()})
	require.NoError(t, err)
	// Both hierarchies give their CAs the same names: only the CA whose key
	// signed a certificate names it.
	assert.Len(t, ids2.ids, 2, "the card under the card CA, the card CA under the root")
	foreign, err := v.CertIDs(other.chain())
	require.NoError(t, err)
	assert.Len(t, foreign.ids, 1, "the card under the CA presented, whose CRLs the verifier does not take, and no more")

	require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
	addCRLs(t, h, v)
	_, err = v.VerifyCard(h.chain())
	require.ErrorIs(t, err, ErrRevoked)
	assert.True(t, v.Revoked(ids), "the card, listed by its CA")
	assert.False(t, v.Revoked(ids2), "another card of the CA")
	assert.False(t, v.Revoked(foreign))
	assert.False(t, v.Revoked(nil))
	assert.Zero(t, testing.AllocsPerRun(100, func() { v.Revoked(ids) }), "allocations of a listed card")
	assert.Zero(t, testing.AllocsPerRun(100, func() { v.Revoked(ids2) }), "allocations of a card not listed")

	clk.set(t0.Add(48 * time.Hour))
	_, err = v.VerifyCard(h.chain())
	require.ErrorIs(t, err, ErrRevoked, "stale CRLs")
	assert.True(t, v.Revoked(ids), "listed in a stale CRL")
	assert.False(t, v.Revoked(ids2), "a stale CRL is not a revocation")
	clk.set(t0.Add(-time.Hour))
	assert.True(t, v.Revoked(ids), "listed in a CRL not yet valid (the clock set back)")

	// A later CRL of the card CA that no longer lists the card (a hold
	// released), and the root's revoking the card CA.
	clk.set(t0)
	der, err := h.ca.IssueCRL(nil, h.ca.LastCRLNumber()+1, t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(der))
	assert.False(t, v.Revoked(ids), "no longer listed")
	require.NoError(t, h.root.Revoke(mustParse(t, h.ca.DER()).SerialNumber, ReasonCACompromise))
	der, err = h.root.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(der))
	_, err = v.VerifyCard(h.chain())
	require.ErrorIs(t, err, ErrRevoked)
	assert.True(t, v.Revoked(ids), "its CA, listed by the root")
	assert.True(t, v.Revoked(ids2), "every card under the CA")
}

// TestCertIDsRootPresentedNotUnderItself: a root presented with the chain
// is not named as issued by itself, whose key verifies its signature: its
// own CRL listing it, Revoked is false, as VerifyCard accepts the chain.
func TestCertIDsRootPresentedNotUnderItself(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	chain := append(h.chain(), h.root.DER())
	ids, err := v.CertIDs(chain)
	require.NoError(t, err)
	assert.Len(t, ids.ids, 2, "the card under the card CA, the card CA under the root")

	require.NoError(t, h.root.Revoke(mustParse(t, h.root.DER()).SerialNumber, ReasonKeyCompromise))
	addCRLs(t, h, v)
	_, err = v.VerifyCard(chain)
	require.NoError(t, err)
	assert.False(t, v.Revoked(ids))
}

// TestCertIDsErrors: CertIDs refuses the chains VerifyCard refuses
// before it looks at a certificate: empty, too long, or unparsable.
func TestCertIDsErrors(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	for name, chain := range map[string][][]byte{
		"empty":     nil,
		"too long":  {h.card, h.ca.DER(), h.root.DER(), h.root.DER()},
		"malformed": {h.card, h.ca.DER()[:40]},
	} {
		ids, err := v.CertIDs(chain)
		assert.ErrorIs(t, err, ErrUntrusted, name)
		assert.Nil(t, ids, name)
	}
}

// TestCertIDsNotAfter: NotAfter is the earliest NotAfter of the
// certificates presented and of the roots that may have issued one of
// them: the card's when it ends first; that of a root not presented when
// it ends first (another certificate of the hierarchy's root, of its name
// and key), from which on VerifyCard refuses the chain as ErrExpired for
// that root; never that of a root that issued none of them.
func TestCertIDsNotAfter(t *testing.T) {
	h := newHierarchy(t)
	short, shortChain := h.shortCard(t)
	unrelated, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/other.crl", Validity: time.Hour, Now: fixed(t0)})
	require.NoError(t, err)
	clk := newClock(t0)
	verifier := func(roots ...[]byte) *Verifier {
		v, err := NewVerifier(VerifierOptions{Roots: roots, Intermediates: [][]byte{h.ca.DER()}, Now: clk.now})
		require.NoError(t, err)
		addCRLs(t, h, v) // from t0 to t0 + 24h
		return v
	}
	notAfter := func(v *Verifier, chain [][]byte) time.Time {
		ids, err := v.CertIDs(chain)
		require.NoError(t, err)
		return ids.NotAfter()
	}

	v := verifier(unrelated.DER(), h.root.DER())
	assert.Equal(t, mustParse(t, short).NotAfter, notAfter(v, shortChain), "the card's")
	assert.Equal(t, mustParse(t, h.card).NotAfter, notAfter(v, h.chain()), "the card's, not the unrelated root's")

	end := t0.Add(3 * time.Hour)
	v = verifier(h.reissuedRoot(t, end))
	assert.Equal(t, end, notAfter(v, h.chain()), "the root's, not presented")
	clk.set(end)
	_, err = v.VerifyCard(h.chain())
	require.NoError(t, err, "at the root's end")
	clk.set(end.Add(time.Nanosecond))
	_, err = v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrExpired, -1)

	// A configured intermediate is on no path that VerifyCard builds (the
	// chain presented carries its own): one of the card CA's name and key
	// that ends first bounds nothing.
	tmpl := *h.ca.cert
	tmpl.SerialNumber = big.NewInt(5)
	tmpl.NotAfter = t0.Add(2 * time.Hour)
	early, err := x509.CreateCertificate(rand.Reader, &tmpl, h.root.cert, h.ca.key.Public(), h.root.key)
	require.NoError(t, err)
	v, err = NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{early}, Now: clk.now})
	require.NoError(t, err)
	assert.Equal(t, mustParse(t, h.card).NotAfter, notAfter(v, h.chain()), "the card's, not the configured intermediate's")

	var none *CertIDs
	assert.True(t, none.NotAfter().IsZero(), "a nil CertIDs")
}

// TestCertIDsNotAfterRootWithinSkew: a chain that a root issued as the
// profile has it, each certificate ending no later than its issuer, so
// that the card and its CA end with a root that ends first, is accepted
// within the skew after the root's NotAfter, as after the NotAfter of
// the certificates presented: the path is checked at the time moved into
// the validity of the certificates presented, which ends with the root.
// It is refused as expired past the skew.
func TestCertIDsNotAfterRootWithinSkew(t *testing.T) {
	end := t0.Add(3 * time.Hour)
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Validity: 3 * time.Hour, Now: fixed(t0)})
	require.NoError(t, err)
	ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
	require.NoError(t, err)
	card, err := ca.IssueCard(newKey(t).Public(), testICCID, IssueOptions{})
	require.NoError(t, err)
	chain := append([][]byte{card}, ca.Chain()...)
	require.Equal(t, end, mustParse(t, card).NotAfter, "cut to the root's end")

	clk := newClock(end.Add(DefaultSkew / 2))
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root.DER()}, Intermediates: [][]byte{ca.DER()},
		Now: clk.now, Revocation: RevocationBestEffort})
	require.NoError(t, err)
	ids, err := v.CertIDs(chain)
	require.NoError(t, err)
	require.Equal(t, end, ids.NotAfter())

	_, err = v.VerifyCard(chain)
	require.NoError(t, err, "within the skew after the root's NotAfter")
	clk.set(end.Add(DefaultSkew + time.Nanosecond))
	_, err = v.VerifyCard(chain)
	requireRefusal(t, err, ErrExpired, 0)
}

// TestRevokedAuthorityKeyIDMismatch: a card whose authority key
// identifier is not its CA's subject key identifier, though the CA signed
// it, is refused (ErrUsage) by VerifyCard, revoked or not, although the
// chain builder tries such a parent too; CertIDs does not name it under
// that CA, so that Revoked does not find it listed once the CA's CRL
// lists it: VerifyCard never finds such a chain ErrRevoked.
func TestRevokedAuthorityKeyIDMismatch(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	c, pub := card(func(c *x509.Certificate) {
		c.SerialNumber, c.AuthorityKeyId = big.NewInt(777), []byte{1, 2, 3, 4}
	})(t, h)
	crt := issueRaw(t, h.ca, c, pub)
	require.Equal(t, []byte{1, 2, 3, 4}, mustParse(t, crt).AuthorityKeyId)

	chain := append([][]byte{crt}, h.ca.Chain()...)
	addCRLs(t, h, v)
	_, err := v.VerifyCard(chain)
	requireRefusal(t, err, ErrUsage, 0)
	ids, err := v.CertIDs(chain)
	require.NoError(t, err)
	assert.False(t, v.Revoked(ids))

	require.NoError(t, h.ca.Revoke(big.NewInt(777), ReasonKeyCompromise))
	addCRLs(t, h, v)
	_, err = v.VerifyCard(chain)
	requireRefusal(t, err, ErrUsage, 0)
	assert.False(t, v.Revoked(ids), "listed by a CA that signed it but that it does not name by key identifier")
}

// TestRevokedTwoCAsOfOneName: two card CAs of one name under one root (a
// second issuer, or a card CA re-keyed and kept during the change). The
// CRL of the one that did not issue a card does not revoke it, even when
// it lists the card's serial number.
func TestRevokedTwoCAsOfOneName(t *testing.T) {
	h := newHierarchy(t)
	ca2, err := h.root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card2.crl", Now: fixed(t0)})
	require.NoError(t, err)
	require.Equal(t, h.ca.cert.RawSubject, ca2.cert.RawSubject)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{Intermediates: [][]byte{ca2.DER()}})
	addCRLs(t, h, v)
	card := mustParse(t, h.card)
	require.NoError(t, ca2.Revoke(card.SerialNumber, ReasonKeyCompromise))
	crl, err := ca2.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(crl))

	_, err = v.VerifyCard(h.chain())
	require.NoError(t, err, "listed by a CA that did not issue it")
	ids, err := v.CertIDs(h.chain())
	require.NoError(t, err)
	assert.False(t, v.Revoked(ids))
	checkCertIDs(t, v, h.chain(), nil)

	require.NoError(t, h.ca.Revoke(card.SerialNumber, ReasonKeyCompromise))
	addCRLs(t, h, v)
	_, err = v.VerifyCard(h.chain())
	require.ErrorIs(t, err, ErrRevoked)
	assert.True(t, v.Revoked(ids), "listed by its own CA")
}

// TestRevokedTwoNamesOfOneKey: two card CAs of one key under two names (a
// CA renamed, its key kept) have a CRL each: the CRL that the renamed CA
// signs under its new name is that CA's, not the CRL of the CA of the old
// name, whose key and key identifier it shares. It lists the certificates
// of the new name only, and neither CA's CRL replaces, nor is refused for,
// the other's.
func TestRevokedTwoNamesOfOneKey(t *testing.T) {
	h := newHierarchy(t)
	renamed, err := h.root.NewIntermediate(h.ca.Signer(), CAOptions{
		Subject: pkix.Name{CommonName: "CA-SIM Card CA 2"}, CRLURL: "http://pki.example/card2.crl", Now: fixed(t0),
	})
	require.NoError(t, err)
	require.Equal(t, h.ca.cert.SubjectKeyId, renamed.cert.SubjectKeyId)
	require.NotEqual(t, h.ca.cert.RawSubject, renamed.cert.RawSubject)
	v := newVerifier(t, h, newClock(t0), VerifierOptions{Intermediates: [][]byte{renamed.DER()}})
	addCRLs(t, h, v)

	key := newKey(t)
	der, err := renamed.IssueCard(key.Public(), testICCID2, IssueOptions{})
	require.NoError(t, err)
	chain2 := append([][]byte{der}, renamed.Chain()...)
	card, card2 := mustParse(t, h.card), mustParse(t, der)
	require.NoError(t, renamed.Revoke(card.SerialNumber, ReasonKeyCompromise))
	require.NoError(t, renamed.Revoke(card2.SerialNumber, ReasonKeyCompromise))
	crl, err := renamed.CRL(t0.Add(24 * time.Hour))
	require.NoError(t, err)
	require.NoError(t, v.AddCRL(crl), "the CRL of the new name, of the number of the old name's held")

	_, err = v.VerifyCard(h.chain())
	require.NoError(t, err, "listed under the name that did not issue it")
	_, err = v.VerifyCard(chain2)
	require.ErrorIs(t, err, ErrRevoked, "listed under the name that issued it")
}

// TestCacheServesNoResultOfReplacedCRLs: a chain verified and cached
// before a CRL that lists it was accepted is not served from the cache
// once that CRL is held, even in the instant between AddCRL's publishing
// of the CRLs and its clearing of the cache (here the publishing alone,
// taken from another verifier).
func TestCacheServesNoResultOfReplacedCRLs(t *testing.T) {
	h := newHierarchy(t)
	clk := newClock(t0)
	v := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, v)
	_, err := v.VerifyCard(h.chain())
	require.NoError(t, err)
	require.Equal(t, 1, v.cache.len(), "cached")

	card := mustParse(t, h.card)
	require.NoError(t, h.ca.Revoke(card.SerialNumber, ReasonKeyCompromise))
	other := newVerifier(t, h, clk, VerifierOptions{})
	addCRLs(t, h, other)
	v.crls.Store(other.crls.Load())
	ids, err := v.CertIDs(h.chain())
	require.NoError(t, err)
	require.True(t, v.Revoked(ids))
	_, err = v.VerifyCard(h.chain())
	require.ErrorIs(t, err, ErrRevoked, "not the result cached under the CRLs held before")
}

// TestNewVerifierRenewedRoot: a card CA issued under a root that was
// renewed later (the same name and key, a later notBefore) chains to the
// renewed root, for NewVerifier as for VerifyCard.
func TestNewVerifierRenewedRoot(t *testing.T) {
	h := newHierarchy(t) // root and card CA issued at t0
	old := h.root.Certificate()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(77), RawSubject: old.RawSubject, SubjectKeyId: old.SubjectKeyId,
		AuthorityKeyId: old.SubjectKeyId, NotBefore: t0.Add(24 * time.Hour), NotAfter: t0.Add(30 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLen: 1,
	}
	renewed, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, old.PublicKey, h.root.Signer())
	require.NoError(t, err)
	clk := newClock(t0.Add(48 * time.Hour))
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{renewed}, Now: clk.now, Revocation: RevocationBestEffort})
	require.NoError(t, err)
	_, err = v.VerifyCard(h.chain())
	require.NoError(t, err, "the card CA chains to the renewed root")
	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{renewed}, Intermediates: [][]byte{h.ca.DER()}, Now: clk.now})
	assert.NoError(t, err, "the card CA chains to the renewed root")
}

// TestNewVerifierIntermediateStartsBeforeRoot: an intermediate whose
// validity starts before its root's chains to it.
func TestNewVerifierIntermediateStartsBeforeRoot(t *testing.T) {
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0.Add(time.Minute))})
	require.NoError(t, err)
	ca, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/card.crl", Now: fixed(t0)})
	require.NoError(t, err)
	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{root.DER()}, Intermediates: [][]byte{ca.DER()}, Now: fixed(t0.Add(time.Hour))})
	assert.NoError(t, err)

	// One issued so by another tool.
	early := issueRaw(t, root, &x509.Certificate{
		Subject: pkix.Name{CommonName: "early CA"}, NotBefore: t0.Add(-time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, newKey(t).Public())
	_, err = NewVerifier(VerifierOptions{Roots: [][]byte{root.DER()}, Intermediates: [][]byte{early}, Now: fixed(t0.Add(time.Hour))})
	assert.NoError(t, err)
}

// TestNewVerifierIntermediatesOrder: intermediates chain to a root
// through each other in any order.
func TestNewVerifierIntermediatesOrder(t *testing.T) {
	root, err := NewRoot(newKey(t), CAOptions{CRLURL: "http://pki.example/root.crl", Now: fixed(t0), MaxPathLen: -1})
	require.NoError(t, err)
	ca1, err := root.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/ca1.crl", Now: fixed(t0), MaxPathLen: 1})
	require.NoError(t, err)
	ca2, err := ca1.NewIntermediate(newKey(t), CAOptions{CRLURL: "http://pki.example/ca2.crl", Now: fixed(t0)})
	require.NoError(t, err)
	opts := VerifierOptions{Roots: [][]byte{root.DER()}, Now: fixed(t0.Add(time.Hour)), MaxDepth: 4}
	opts.Intermediates = [][]byte{ca1.DER(), ca2.DER()}
	_, err = NewVerifier(opts)
	require.NoError(t, err)
	opts.Intermediates = [][]byte{ca2.DER(), ca1.DER()}
	_, err = NewVerifier(opts)
	assert.NoError(t, err, "the same intermediates in another order")
}

// TestNewVerifierIntermediateUntrusted: an intermediate that no path of
// signatures, CAs and path lengths leads from a root is refused, in any
// order of the intermediates.
func TestNewVerifierIntermediateUntrusted(t *testing.T) {
	h := newHierarchy(t)
	other := newHierarchy(t)
	caTmpl := func(name string) *x509.Certificate {
		return &x509.Certificate{
			Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			CRLDistributionPoints: []string{"http://pki.example/" + name + ".crl"},
		}
	}
	// sub and below sit under the card CA, whose path length is 0: sub
	// may end a path (it is the last certificate), below may not.
	subKey := newKey(t)
	sub := issueRaw(t, h.ca, caTmpl("sub"), subKey.Public())
	// LoadCA refuses sub, which may certify nothing.
	subCA := &CA{cert: mustParse(t, sub), key: subKey, issuers: h.ca.Chain(), crlURL: "http://pki.example/sub.crl"}
	below := issueRaw(t, subCA, caTmpl("below"), newKey(t).Public())
	// x and y certify each other and nothing leads to them from a root.
	xKey, yKey := newKey(t), newKey(t)
	xTmpl, yTmpl := caTmpl("x"), caTmpl("y")
	xTmpl.SerialNumber, xTmpl.NotBefore, xTmpl.NotAfter = big.NewInt(1), t0, t0.Add(time.Hour)
	yTmpl.SerialNumber, yTmpl.NotBefore, yTmpl.NotAfter = big.NewInt(2), t0, t0.Add(time.Hour)
	x, err := x509.CreateCertificate(rand.Reader, xTmpl, yTmpl, xKey.Public(), yKey)
	require.NoError(t, err)
	y, err := x509.CreateCertificate(rand.Reader, yTmpl, xTmpl, yKey.Public(), xKey)
	require.NoError(t, err)
	// critical carries a critical extension crypto/x509 does not know.
	critTmpl := caTmpl("critical")
	critTmpl.ExtraExtensions = []pkix.Extension{unknownCritical}
	critical := issueRaw(t, h.root, critTmpl, newKey(t).Public())
	// notCA is a CA whose issuer (a CA certificate without keyCertSign)
	// may not sign certificates.
	signOnlyKey := newKey(t)
	signOnlyTmpl := caTmpl("sign only")
	signOnlyTmpl.KeyUsage = x509.KeyUsageCRLSign
	signOnly := issueRaw(t, h.root, signOnlyTmpl, signOnlyKey.Public())
	signOnlyCert := mustParse(t, signOnly)
	notCATmpl := caTmpl("not signed by a CA")
	notCATmpl.SerialNumber, notCATmpl.NotBefore, notCATmpl.NotAfter = big.NewInt(3), t0, t0.Add(time.Hour)
	notCA, err := x509.CreateCertificate(rand.Reader, notCATmpl, signOnlyCert, newKey(t).Public(), signOnlyKey)
	require.NoError(t, err)

	// refused is the refusal of the intermediate at position i of those
	// given and at j of them reversed, for reason.
	refused := func(sentinel error, i, j int, reason string) []error {
		return []error{
			&Error{Err: sentinel, Cert: -1, Reason: fmt.Sprintf("intermediate %d %s", i, reason)},
			&Error{Err: sentinel, Cert: -1, Reason: fmt.Sprintf("intermediate %d %s", j, reason)},
		}
	}
	const unchained = "does not chain to a root"
	for _, tt := range []struct {
		name  string
		inter [][]byte
		want  []error // given, reversed
	}{
		{"the card CA and sub", [][]byte{h.ca.DER(), sub}, []error{nil, nil}},
		{"signed by another root's CA", [][]byte{other.ca.DER()}, refused(ErrUntrusted, 0, 0, unchained)},
		{"another hierarchy's CA and its issuer's name", [][]byte{h.ca.DER(), other.ca.DER()}, refused(ErrUntrusted, 1, 0, unchained)},
		{"issuer not configured", [][]byte{sub}, refused(ErrUntrusted, 0, 0, unchained)},
		{"beyond the card CA's path length", [][]byte{h.ca.DER(), sub, below}, refused(ErrUntrusted, 2, 0, unchained)},
		{"certifying each other", [][]byte{x, y}, refused(ErrUntrusted, 0, 0, unchained)},
		// NewVerifier refuses critical and signOnly before it chains any.
		{"unhandled critical extension", [][]byte{critical}, refused(ErrUsage, 0, 0, "with critical extension "+unknownCritical.Id.String()+", which crypto/x509 does not handle")},
		{"issuer without keyCertSign", [][]byte{signOnly, notCA}, refused(ErrUsage, 0, 1, "without a critical keyUsage with keyCertSign and cRLSign")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, inter := range [][][]byte{tt.inter, reversed(tt.inter)} {
				v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: inter})
				if tt.want[k] == nil {
					assert.NoError(t, err)
					continue
				}
				assert.Equal(t, tt.want[k], err)
				assert.Nil(t, v)
			}
		})
	}
}

// TestNewVerifierIntermediateBelowRoot: NewVerifier refuses (ErrUsage) an
// intermediate that the check of a path refuses below the root whatever
// the path: one whose serial number is not positive or is longer than 20
// octets, or signed with an algorithm not in the allow-list, where it
// took such an intermediate, and its CRLs, while VerifyCard accepted no
// chain through it.
func TestNewVerifierIntermediateBelowRoot(t *testing.T) {
	for name, change := range map[string]func(c *x509.Certificate){
		"serial of 21 octets":   func(c *x509.Certificate) { c.SerialNumber = overSerial },
		"serial zero":           func(c *x509.Certificate) { c.SerialNumber = big.NewInt(0) },
		"algorithm not allowed": func(c *x509.Certificate) { c.SignatureAlgorithm = x509.ECDSAWithSHA512 },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHierarchy(t)
			requireIntermediateRefused(t, h, issueRaw(t, h.root, caTemplateOf(change), newKey(t).Public()))
		})
	}
	t.Run("algorithm allowed", func(t *testing.T) {
		h := newHierarchy(t)
		ca := issueRaw(t, h.root, caTemplateOf(func(c *x509.Certificate) { c.SignatureAlgorithm = x509.ECDSAWithSHA512 }), newKey(t).Public())
		_, err := NewVerifier(VerifierOptions{
			Roots: [][]byte{h.root.DER()}, Intermediates: [][]byte{ca}, Algorithms: []x509.SignatureAlgorithm{x509.ECDSAWithSHA512},
		})
		assert.NoError(t, err)
	})
}

// TestNewVerifierIntermediatePolicyOrNameExtension: NewVerifier refuses,
// as ErrUntrusted, an intermediate carrying policyConstraints,
// policyMappings, inhibitAnyPolicy or nameConstraints, critical or not,
// which the profile's CAs never carry: crypto/x509 applies them when
// VerifyCard verifies a chain, so that a CA below such an intermediate may
// have no card that VerifyCard accepts, while its CRLs would be taken. Under
// a CA requiring an explicit policy, crypto/x509 finds no path to a CA that
// asserts none.
func TestNewVerifierIntermediatePolicyOrNameExtension(t *testing.T) {
	h := newHierarchy(t)
	for _, tt := range []struct {
		name, reason string
		id           asn1.ObjectIdentifier
		value        []byte
	}{
		// requireExplicitPolicy [0] 0
		{"policyConstraints", "with extension policyConstraints (2.5.29.36)", asn1.ObjectIdentifier{2, 5, 29, 36}, []byte{0x30, 0x03, 0x80, 0x01, 0x00}},
		// { issuerDomainPolicy 1.2.3, subjectDomainPolicy 1.2.4 }
		{"policyMappings", "with extension policyMappings (2.5.29.33)", asn1.ObjectIdentifier{2, 5, 29, 33}, []byte{0x30, 0x0a, 0x30, 0x08, 0x06, 0x02, 0x2a, 0x03, 0x06, 0x02, 0x2a, 0x04}},
		// SkipCerts 0
		{"inhibitAnyPolicy", "with extension inhibitAnyPolicy (2.5.29.54)", asn1.ObjectIdentifier{2, 5, 29, 54}, []byte{0x02, 0x01, 0x00}},
		// permittedSubtrees [0] { dNSName example.com }
		{"nameConstraints", "with extension nameConstraints (2.5.29.30)", asn1.ObjectIdentifier{2, 5, 29, 30}, append([]byte{0x30, 0x11, 0xa0, 0x0f, 0x30, 0x0d, 0x82, 0x0b}, "example.com"...)},
	} {
		for _, critical := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s critical %t", tt.name, critical), func(t *testing.T) {
				midKey := newKey(t)
				midTmpl := &x509.Certificate{
					Subject: pkix.Name{CommonName: "CA with " + tt.name}, IsCA: true, BasicConstraintsValid: true,
					KeyUsage:        x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
					ExtraExtensions: []pkix.Extension{{Id: tt.id, Critical: critical, Value: tt.value}},
				}
				mid := mustParse(t, issueRaw(t, h.root, midTmpl, midKey.Public()))
				ext := slices.IndexFunc(mid.Extensions, func(e pkix.Extension) bool { return e.Id.Equal(tt.id) })
				require.GreaterOrEqual(t, ext, 0)
				require.Equal(t, critical, mid.Extensions[ext].Critical)
				require.Empty(t, mid.UnhandledCriticalExtensions, "crypto/x509 handles the extension")
				caTmpl := &x509.Certificate{
					SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Card CA"},
					NotBefore: t0, NotAfter: t0.Add(time.Hour),
					IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
					CRLDistributionPoints: []string{"http://pki.example/mid.crl"},
				}
				cardCA, err := x509.CreateCertificate(rand.Reader, caTmpl, mid, newKey(t).Public(), midKey)
				require.NoError(t, err)
				if tt.name == "policyConstraints" {
					roots, inters := x509.NewCertPool(), x509.NewCertPool()
					roots.AddCert(h.root.Certificate())
					inters.AddCert(mid)
					_, err := mustParse(t, cardCA).Verify(x509.VerifyOptions{
						Roots: roots, Intermediates: inters, CurrentTime: t0,
						KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
					})
					require.Error(t, err, "crypto/x509 finds no path to the card CA")
				}
				for _, inter := range [][][]byte{{mid.Raw}, {mid.Raw, cardCA}, {cardCA, mid.Raw}} {
					v, err := NewVerifier(VerifierOptions{Roots: [][]byte{h.root.DER()}, Intermediates: inter})
					at := slices.IndexFunc(inter, func(der []byte) bool { return bytes.Equal(der, mid.Raw) })
					assert.Equal(t, &Error{Err: ErrUntrusted, Cert: -1, Reason: fmt.Sprintf("intermediate %d %s", at, tt.reason)}, err)
					assert.ErrorIs(t, err, ErrUntrusted)
					assert.Nil(t, v)
				}
			})
		}
	}
}

// TestNewVerifierRootNameConstraints: a root carrying a nameConstraints
// extension, critical or not, is refused ErrUsage, as every card under it
// would be (crypto/x509 applies a root's name constraints to the chains it
// verifies, and a card's URI has no host to match them: VerifyCard's
// ErrUsage, §4.5), where NewVerifier accepted it. The root's other
// extensions that NewVerifier refuses on an intermediate (the policy
// ones) crypto/x509 does not apply to a root, which they leave usable.
func TestNewVerifierRootNameConstraints(t *testing.T) {
	// permittedSubtrees [0] { dNSName example.com }
	constraints := append([]byte{0x30, 0x11, 0xa0, 0x0f, 0x30, 0x0d, 0x82, 0x0b}, "example.com"...)
	policy := []byte{0x30, 0x03, 0x80, 0x01, 0x00} // requireExplicitPolicy [0] 0
	for _, tt := range []struct {
		name string
		ext  pkix.Extension
		want error
	}{
		{"nameConstraints critical", pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 30}, Critical: true, Value: constraints},
			&Error{Err: ErrUsage, Cert: -1, Reason: "root 0 with extension nameConstraints (2.5.29.30)"}},
		{"nameConstraints", pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 30}, Value: constraints},
			&Error{Err: ErrUsage, Cert: -1, Reason: "root 0 with extension nameConstraints (2.5.29.30)"}},
		{"policyConstraints", pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 36}, Critical: true, Value: policy}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rootKey, caKey := newKey(t), newKey(t)
			rootTmpl := &x509.Certificate{
				SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Root with " + tt.name},
				NotBefore: t0, NotAfter: t0.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, ExtraExtensions: []pkix.Extension{tt.ext},
			}
			rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
			require.NoError(t, err)
			root := mustParse(t, rootDER)
			caTmpl := &x509.Certificate{
				SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Card CA"},
				NotBefore: t0, NotAfter: t0.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
				KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
				CRLDistributionPoints: []string{"http://pki.example/root.crl"},
			}
			caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, root, caKey.Public(), rootKey)
			require.NoError(t, err)
			uri, err := CardURI(testICCID)
			require.NoError(t, err)
			u, err := url.Parse(uri)
			require.NoError(t, err)
			cardTmpl := &x509.Certificate{
				SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: testICCID}, URIs: []*url.URL{u},
				NotBefore: t0, NotAfter: t0.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			}
			cardDER, err := x509.CreateCertificate(rand.Reader, cardTmpl, mustParse(t, caDER), newKey(t).Public(), caKey)
			require.NoError(t, err)
			roots, inters := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(root)
			inters.AddCert(mustParse(t, caDER))
			_, verr := mustParse(t, cardDER).Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
				CurrentTime: t0.Add(time.Minute), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			if tt.want != nil {
				require.Error(t, verr, "crypto/x509 refuses a card under the root")
			} else {
				require.NoError(t, verr, "crypto/x509 takes a card under the root")
			}
			v, err := NewVerifier(VerifierOptions{Roots: [][]byte{rootDER}, Intermediates: [][]byte{caDER}})
			if tt.want == nil {
				require.NoError(t, err)
				require.NotNil(t, v)
				return
			}
			assert.Equal(t, tt.want, err)
			assert.ErrorIs(t, err, ErrUsage)
			assert.Nil(t, v)
		})
	}
}

// reversed returns a reversed copy of list.
func reversed(list [][]byte) [][]byte {
	out := slices.Clone(list)
	slices.Reverse(out)
	return out
}

// TestRevokedPathNotTaken: Revoked is true for a chain that VerifyCard
// accepts when a certificate presented off the path VerifyCard takes is
// revoked: the card CA revoked as superseded and issued again with the
// same name and key, the card presenting both.
func TestRevokedPathNotTaken(t *testing.T) {
	h := newHierarchy(t)
	v := newVerifier(t, h, newClock(t0.Add(time.Hour)), VerifierOptions{})
	old := h.ca.Certificate()
	reissued := issueRaw(t, h.root, &x509.Certificate{
		RawSubject: old.RawSubject, SubjectKeyId: old.SubjectKeyId,
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, old.PublicKey)
	require.NoError(t, h.root.Revoke(old.SerialNumber, ReasonSuperseded))
	addCRLs(t, h, v)
	chain := [][]byte{h.card, h.ca.DER(), reissued}
	vc, verr := v.VerifyCard(chain)
	require.NoError(t, verr)
	require.Equal(t, reissued, vc.Chain[1].Raw)
	ids, err := v.CertIDs(chain)
	require.NoError(t, err)
	assert.True(t, v.Revoked(ids), "Revoked is a superset: a presented certificate off the path is listed")
	checkCertIDs(t, v, chain, verr)
}

// signedDER encodes a signed object of X.509, a certificate or a CRL:
// the signed content tbs and the algorithm identifier alg, both as DER
// elements, and the signature sig.
func signedDER(t testing.TB, tbs, alg, sig []byte) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddBytes(alg)
		b.AddASN1BitString(sig)
	})
	der, err := b.Bytes()
	require.NoError(t, err)
	return der
}

// withCRLExtension returns der, a CRL of ca, with the value of its
// extension of OID want (not critical) replaced by value, or the
// extension left out for a nil value, signed again by ca.
func withCRLExtension(t *testing.T, ca *CA, der []byte, want asn1.ObjectIdentifier, value []byte) []byte {
	t.Helper()
	return parsedCRL(t, ca, withUnparsedCRLExtension(t, ca, der, want, value))
}

// withUnparsedCRLExtension is withCRLExtension for a value that
// crypto/x509 may refuse to parse.
func withUnparsedCRLExtension(t *testing.T, ca *CA, der []byte, want asn1.ObjectIdentifier, value []byte) []byte {
	t.Helper()
	seen := false
	crl := resigned(t, ca.Signer(), der, extensionsEdit(t, cbasn1.Tag(0).Constructed().ContextSpecific(),
		func(b *cryptobyte.Builder, id asn1.ObjectIdentifier, ext cryptobyte.String) {
			if !id.Equal(want) {
				b.AddBytes(ext)
				return
			}
			seen = true
			if value != nil {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(id)
					b.AddASN1OctetString(value)
				})
			}
		}))
	require.True(t, seen, "the CRL had the extension %s", want)
	return crl
}

// TestAddCRLRequiresAuthorityKeyID: PROTOCOL.md §4.4 has every CRL carry
// the authority key identifier of its CA; one without it, or whose
// extension holds no key identifier (only the issuer's name and serial
// number, say), is refused (ErrCRL) though its CA signed it, and leaves
// the CRL held in force.
func TestAddCRLRequiresAuthorityKeyID(t *testing.T) {
	h := newHierarchy(t)
	for name, value := range map[string][]byte{
		"without the extension":                       nil,
		"empty extension":                             {0x30, 0x00},
		"with the issuer's serial, no key identifier": {0x30, 0x03, 0x82, 0x01, 0x01},
	} {
		t.Run(name, func(t *testing.T) {
			v := newVerifier(t, h, newClock(t0), VerifierOptions{})
			held := createCRL(t, h.ca, &x509.RevocationList{Number: big.NewInt(1)})
			require.NoError(t, v.AddCRL(held))
			der := withCRLExtension(t, h.ca, createCRL(t, h.ca, &x509.RevocationList{
				Number: big.NewInt(2),
				RevokedCertificateEntries: []x509.RevocationListEntry{
					{SerialNumber: mustParse(t, h.card).SerialNumber, RevocationTime: t0},
				},
			}), oidAuthorityKeyID, value)
			crl, err := x509.ParseRevocationList(der)
			require.NoError(t, err)
			require.Empty(t, crl.AuthorityKeyId)

			err = v.AddCRL(der)
			requireRefusal(t, err, ErrCRL, -1)
			assert.Contains(t, err.Error(), "authority key identifier")
			require.NoError(t, v.AddCRL(createCRL(t, h.root, &x509.RevocationList{})))
			_, err = v.VerifyCard(h.chain())
			assert.NoError(t, err, "the CRL held, which does not list the card, stays in force")
		})
	}
}

// placeholderReason is an OID of the length of the reason code's,
// 2.5.29.99, for an entry extension that crypto/x509 refuses to write as
// a reason code (a second one, or one of another value than the
// ReasonCode field's): withReasonCodes renames it.
var placeholderReason = asn1.ObjectIdentifier{2, 5, 29, 99}

// withReasonCodes returns der, a CRL of ca, with its one entry extension
// of OID placeholderReason, if any, turned into a reason code, signed
// again by ca.
func withReasonCodes(t *testing.T, ca *CA, der []byte) []byte {
	t.Helper()
	return parsedCRL(t, ca, withUnparsedReasonCodes(t, ca, der))
}

// withUnparsedReasonCodes is withReasonCodes for a reason code that
// crypto/x509 may refuse to parse.
func withUnparsedReasonCodes(t *testing.T, ca *CA, der []byte) []byte {
	t.Helper()
	from, to := []byte{0x06, 0x03, 0x55, 0x1d, 0x63}, []byte{0x06, 0x03, 0x55, 0x1d, 0x15}
	if !bytes.Contains(der, from) {
		return der
	}
	require.Equal(t, 1, bytes.Count(der, from))
	keep := func(b *cryptobyte.Builder, _ cbasn1.Tag, elem cryptobyte.String) { b.AddBytes(elem) }
	return resigned(t, ca.Signer(), bytes.Replace(der, from, to, 1), keep)
}

// TestAddCRLRefusesRepeatedExtension: a CRL that carries an extension
// twice, or an entry that does, is refused (ErrCRL): crypto/x509 reads
// the last of two CRL numbers, authority key identifiers or reason
// codes, so that an entry whose first reason is removeFromCRL, say,
// would be taken as revoked by the second.
func TestAddCRLRefusesRepeatedExtension(t *testing.T) {
	h := newHierarchy(t)
	serial := mustParse(t, h.card).SerialNumber
	reason := func(code byte) pkix.Extension {
		return pkix.Extension{Id: placeholderReason, Value: []byte{0x0a, 0x01, code}}
	}
	number := func(n byte) pkix.Extension {
		return pkix.Extension{Id: oidCRLNumber, Value: []byte{0x02, 0x01, n}}
	}
	for name, tmpl := range map[string]*x509.RevocationList{
		"entry with two reason codes": {RevokedCertificateEntries: []x509.RevocationListEntry{{
			SerialNumber: serial, RevocationTime: t0, ReasonCode: ReasonKeyCompromise,
			ExtraExtensions: []pkix.Extension{reason(reasonRemoveFromCRL)},
		}}},
		"entry with the same reason code twice": {RevokedCertificateEntries: []x509.RevocationListEntry{{
			SerialNumber: serial, RevocationTime: t0, ReasonCode: ReasonKeyCompromise,
			ExtraExtensions: []pkix.Extension{reason(ReasonKeyCompromise)},
		}}},
		"two CRL numbers": {Number: big.NewInt(1), ExtraExtensions: []pkix.Extension{number(9)}},
	} {
		t.Run(name, func(t *testing.T) {
			v := newVerifier(t, h, newClock(t0), VerifierOptions{})
			der := withReasonCodes(t, h.ca, createCRL(t, h.ca, tmpl))
			crl, err := x509.ParseRevocationList(der)
			require.NoError(t, err, "crypto/x509 parses it")
			require.NoError(t, crl.CheckSignatureFrom(h.ca.Certificate()))
			err = v.AddCRL(der)
			requireRefusal(t, err, ErrCRL, -1)
			assert.Contains(t, err.Error(), "twice")
		})
	}
}

// TestAddCRLRefusesBytesAfterExtensionValue: a CRL whose CRL number,
// authority key identifier or entry reason code has bytes after its
// value, or whose authority key identifier has a field after
// keyIdentifier, authorityCertIssuer and authorityCertSerialNumber (as a
// certificate's is refused), which crypto/x509 reads and ignores, is
// refused (ErrCRL): each has one encoding, and the CRL held stays in
// force. So is, crypto/x509 refusing to parse it, one whose CRL number or
// reason code is not in its shortest form (a leading zero octet) or whose
// authority key identifier has a length in the long form.
func TestAddCRLRefusesBytesAfterExtensionValue(t *testing.T) {
	h := newHierarchy(t)
	serial := mustParse(t, h.card).SerialNumber
	aki := h.ca.Certificate().SubjectKeyId
	const moreAKI = "CRL extension 2.5.29.35 (authorityKeyIdentifier) with more than its SEQUENCE of keyIdentifier, authorityCertIssuer and authorityCertSerialNumber"
	number := func(value ...byte) func() []byte {
		return func() []byte {
			return withUnparsedCRLExtension(t, h.ca, createCRL(t, h.ca, &x509.RevocationList{Number: big.NewInt(2)}), oidCRLNumber, value)
		}
	}
	authorityKeyID := func(value ...byte) func() []byte {
		return func() []byte {
			return withUnparsedCRLExtension(t, h.ca, createCRL(t, h.ca, &x509.RevocationList{Number: big.NewInt(2)}), oidAuthorityKeyID, value)
		}
	}
	reason := func(value ...byte) func() []byte {
		return func() []byte {
			return withUnparsedReasonCodes(t, h.ca, createCRL(t, h.ca, &x509.RevocationList{
				Number: big.NewInt(2),
				RevokedCertificateEntries: []x509.RevocationListEntry{{
					SerialNumber: serial, RevocationTime: t0,
					ExtraExtensions: []pkix.Extension{{Id: placeholderReason, Value: value}},
				}},
			}))
		}
	}
	for name, tt := range map[string]struct {
		der func() []byte
		why string // after "malformed CRL: "
	}{
		"CRL number":               {number(0x02, 0x01, 0x02, 0x00), "CRL extension 2.5.29.20 (cRLNumber) with more than its INTEGER"},
		"authority key identifier": {authorityKeyID(append(append([]byte{0x30, byte(2 + len(aki)), 0x80, byte(len(aki))}, aki...), 0x00)...), moreAKI},
		"authority key identifier with a field after keyIdentifier": {
			authorityKeyID(append(append([]byte{0x30, byte(4 + len(aki)), 0x80, byte(len(aki))}, aki...), 0x05, 0x00)...), moreAKI,
		},
		"reason code": {reason(0x0a, 0x01, ReasonKeyCompromise, 0x00), "an entry's extension 2.5.29.21 (reasonCode) with more than its ENUMERATED"},
		// Refused by crypto/x509.
		"CRL number with a leading zero octet": {number(0x02, 0x02, 0x00, 0x02), "x509: malformed crl number"},
		"authority key identifier of a long-form length": {
			authorityKeyID(append([]byte{0x30, 0x81, byte(2 + len(aki)), 0x80, byte(len(aki))}, aki...)...), "x509: invalid authority key identifier",
		},
		"reason code with a leading zero octet": {reason(0x0a, 0x02, 0x00, ReasonKeyCompromise), "x509: malformed reasonCode extension"},
	} {
		t.Run(name, func(t *testing.T) {
			v := newVerifier(t, h, newClock(t0), VerifierOptions{})
			held := createCRL(t, h.ca, &x509.RevocationList{Number: big.NewInt(1)})
			require.NoError(t, v.AddCRL(held))
			bad := tt.der()
			_, err := x509.ParseRevocationList(bad)
			if strings.HasPrefix(tt.why, "x509: ") {
				require.EqualError(t, err, tt.why)
			} else {
				require.NoError(t, err, "crypto/x509 parses it")
			}
			err = v.AddCRL(bad)
			assert.EqualError(t, err, fmt.Sprintf("%v: malformed CRL: %s", ErrCRL, tt.why))
			assert.NoError(t, v.AddCRL(held), "the CRL held, numbered 1, stays in force")
		})
	}
}

// TestAddCRLRefusesEmptyRevokedList: a CRL whose list of revoked
// certificates is present but empty, which RFC 5280 §5.1.2.6 has absent
// (IssueCRL and OpenSSL leave it out), is refused (ErrCRL) as another
// encoding of the CRL without it, and the CRL held stays in force.
func TestAddCRLRefusesEmptyRevokedList(t *testing.T) {
	h, v := cardRevoked(t)
	der, err := h.ca.IssueCRL(nil, 100, t0.Add(time.Hour))
	require.NoError(t, err)
	times := 0
	empty := resignedCRL(t, h.ca, der, func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		b.AddBytes(elem)
		if tag == cbasn1.UTCTime || tag == cbasn1.GeneralizedTime {
			if times++; times == 2 { // after nextUpdate
				b.AddBytes([]byte{0x30, 0x00})
			}
		}
	})
	crl, err := x509.ParseRevocationList(empty)
	require.NoError(t, err, "crypto/x509 parses it")
	require.Empty(t, crl.RevokedCertificateEntries)

	err = v.AddCRL(empty)
	requireRefusal(t, err, ErrCRL, -1)
	assert.Contains(t, err.Error(), "empty list of revoked certificates")
	_, err = v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrRevoked, 0)
}

// crlTime returns der, a CRL of ca with one entry or more, with one of its
// times, a UTCTime, written by encode instead, signed again by ca: which
// is 0 for thisUpdate, 1 for nextUpdate, 2 for the first entry's
// revocationDate.
func crlTime(t *testing.T, ca *CA, der []byte, which int, encode func(b *cryptobyte.Builder, at time.Time)) []byte {
	t.Helper()
	reencode := func(b *cryptobyte.Builder, elem cryptobyte.String) {
		var at time.Time
		require.True(t, elem.ReadASN1UTCTime(&at), "a UTCTime")
		encode(b, at)
	}
	times := 0
	crl := resignedCRL(t, ca, der, func(b *cryptobyte.Builder, tag cbasn1.Tag, elem cryptobyte.String) {
		switch {
		case tag == cbasn1.UTCTime && times == which:
			reencode(b, elem)
			times++
		case tag == cbasn1.UTCTime:
			b.AddBytes(elem)
			times++
		case tag == cbasn1.SEQUENCE && times == 2 && which == 2: // the revoked certificates
			var list, entry, serial cryptobyte.String
			require.True(t, elem.ReadASN1(&list, cbasn1.SEQUENCE) && list.ReadASN1(&entry, cbasn1.SEQUENCE) &&
				entry.ReadASN1Element(&serial, cbasn1.INTEGER))
			var date cryptobyte.String
			require.True(t, entry.ReadASN1Element(&date, cbasn1.UTCTime))
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddBytes(serial)
					reencode(b, date)
					b.AddBytes(entry) // the entry's extensions
				})
				b.AddBytes(list) // the other entries
			})
		default:
			b.AddBytes(elem)
		}
	})
	require.Equal(t, 2, times)
	return crl
}

// TestAddCRLRefusesTimesOutsideRFC5280: a CRL whose thisUpdate,
// nextUpdate or an entry's revocationDate, of a year through 2049 (from
// 1950, the years a UTCTime holds), is encoded otherwise than as a
// UTCTime in UTC with seconds (misencodedTimes), which crypto/x509 takes,
// is refused (ErrCRL): RFC 5280 §5.1.2.4 to §5.1.2.6 have that form, and
// IssueCRL writes it. The CRL held stays in force. A GeneralizedTime of
// 2050 on, or before 1950, which no UTCTime holds, is taken.
func TestAddCRLRefusesTimesOutsideRFC5280(t *testing.T) {
	for which, field := range []string{"thisUpdate", "nextUpdate", "revocationDate"} {
		for name, enc := range misencodedTimes {
			t.Run(field+", "+name, func(t *testing.T) {
				h, v := cardRevoked(t)
				der, err := h.ca.IssueCRL([]Revocation{{Serial: big.NewInt(7), Time: time.Date(2049, 12, 31, 23, 59, 0, 0, time.UTC)}}, 100, t0.Add(time.Hour))
				require.NoError(t, err)
				crl := crlTime(t, h.ca, der, which, enc.encode)
				parsed, err := x509.ParseRevocationList(crl)
				require.NoError(t, err, "crypto/x509 takes it")
				require.Len(t, parsed.RevokedCertificateEntries, 1)
				require.Equal(t, time.Date(2049, 12, 31, 23, 59, 0, 0, time.UTC), parsed.RevokedCertificateEntries[0].RevocationTime.UTC(), "the same time")
				err = v.AddCRL(crl)
				requireRefusal(t, err, ErrCRL, -1)
				assert.Contains(t, err.Error(), field+" "+enc.why)
				_, err = v.VerifyCard(h.chain())
				requireRefusal(t, err, ErrRevoked, 0)
			})
		}
	}
	t.Run("years no UTCTime holds", func(t *testing.T) {
		h, v := cardRevoked(t)
		crl, err := h.ca.IssueCRL([]Revocation{
			{Serial: big.NewInt(7), Time: time.Date(1949, 12, 31, 23, 59, 59, 0, time.UTC)},
			{Serial: big.NewInt(8), Time: time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)},
		}, 100, time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		require.True(t, bytes.Contains(crl, []byte("19491231235959Z")) && bytes.Contains(crl, []byte("20500101000000Z")), "GeneralizedTimes")
		require.NoError(t, v.AddCRL(crl))
		_, err = v.VerifyCard(h.chain())
		assert.NoError(t, err, "the CRL taken, which does not list the card")
	})
}

// TestAddCRLRefusesEmptyEntryExtensions: a CRL with an entry whose list of
// extensions is present but empty, which RFC 5280 §5.1 does not allow
// (Extensions has one or more), is refused (ErrCRL) as another encoding
// of the CRL without it, which crypto/x509 parses the same, as a CRL with
// an empty list of revoked certificates is; the CRL held stays in force.
func TestAddCRLRefusesEmptyEntryExtensions(t *testing.T) {
	h, v := cardRevoked(t)
	der, err := h.ca.IssueCRL([]Revocation{{Serial: big.NewInt(7)}}, 100, t0.Add(time.Hour))
	require.NoError(t, err)
	crl := crlTime(t, h.ca, der, 2, func(b *cryptobyte.Builder, at time.Time) {
		b.AddASN1UTCTime(at)
		b.AddBytes([]byte{0x30, 0x00}) // after the revocationDate, an empty crlEntryExtensions
	})
	parsed, err := x509.ParseRevocationList(crl)
	require.NoError(t, err, "crypto/x509 parses it")
	require.Len(t, parsed.RevokedCertificateEntries, 1)
	require.Empty(t, parsed.RevokedCertificateEntries[0].Extensions)

	err = v.AddCRL(crl)
	requireRefusal(t, err, ErrCRL, -1)
	assert.Contains(t, err.Error(), "empty list of entry extensions")
	_, err = v.VerifyCard(h.chain())
	requireRefusal(t, err, ErrRevoked, 0)
}

// TestAddCRLRefusesExplicitNonCritical: a CRL with a CRL extension or an
// entry extension whose critical BOOLEAN is written out as FALSE, its
// DEFAULT, which DER leaves out (X.690 §11.5), is refused (ErrCRL) as
// another encoding of the CRL without it, which crypto/x509 parses the
// same; the CRL held stays in force.
func TestAddCRLRefusesExplicitNonCritical(t *testing.T) {
	explicitFalse := func(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, value []byte) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1Boolean(false)
			b.AddASN1OctetString(value)
		})
	}
	for name, edit := range map[string]func(t *testing.T, ca *CA, der []byte) []byte{
		"CRL number": func(t *testing.T, ca *CA, der []byte) []byte {
			return resignedCRL(t, ca, der, extensionsEdit(t, cbasn1.Tag(0).Constructed().ContextSpecific(),
				func(b *cryptobyte.Builder, id asn1.ObjectIdentifier, ext cryptobyte.String) {
					if !id.Equal(oidCRLNumber) {
						b.AddBytes(ext)
						return
					}
					explicitFalse(b, id, []byte{0x02, 0x01, 0x64}) // 100
				}))
		},
		"entry reason code": func(t *testing.T, ca *CA, der []byte) []byte {
			return crlTime(t, ca, der, 2, func(b *cryptobyte.Builder, at time.Time) {
				b.AddASN1UTCTime(at)
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					explicitFalse(b, oidReasonCode, []byte{0x0a, 0x01, ReasonKeyCompromise})
				})
			})
		},
	} {
		t.Run(name, func(t *testing.T) {
			h, v := cardRevoked(t)
			der, err := h.ca.IssueCRL([]Revocation{{Serial: big.NewInt(7)}}, 100, t0.Add(time.Hour))
			require.NoError(t, err)
			crl := edit(t, h.ca, der)
			parsed, err := x509.ParseRevocationList(crl)
			require.NoError(t, err, "crypto/x509 parses it")
			require.Zero(t, parsed.Number.Cmp(big.NewInt(100)))
			require.Len(t, parsed.RevokedCertificateEntries, 1)

			err = v.AddCRL(crl)
			requireRefusal(t, err, ErrCRL, -1)
			assert.Contains(t, err.Error(), "critical written out as FALSE")
			_, err = v.VerifyCard(h.chain())
			requireRefusal(t, err, ErrRevoked, 0)
		})
	}
}

// TestAddCRLManyExtensions: a CRL of 100,000 distinct extensions, signed
// by a CA the verifier does not know, as anyone can make one, is refused
// as not signed by a known CA before its extensions are checked (the
// check that none is repeated, made once the signature holds, takes a
// time linear in their number); parsing them takes a time linear in
// their number (BenchmarkAddCRLExtensions).
func TestAddCRLManyExtensions(t *testing.T) {
	const n = 100_000
	h, stranger := newHierarchy(t), newHierarchy(t)
	der := createCRL(t, stranger.ca, &x509.RevocationList{ExtraExtensions: distinctExtensions(n)})
	v := newVerifier(t, h, newClock(t0), VerifierOptions{})
	err := v.AddCRL(der)
	requireRefusal(t, err, ErrCRL, -1)
	assert.Contains(t, err.Error(), "not signed by a known CA")
}

// distinctExtensions returns n extensions of distinct private OIDs.
func distinctExtensions(n int) []pkix.Extension {
	exts := make([]pkix.Extension, n)
	for i := range exts {
		exts[i] = pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 55555, i/1000 + 1, i%1000 + 1}, Value: []byte{0x05, 0x00}}
	}
	return exts
}

// BenchmarkAddCRLExtensions: AddCRL of a CRL of n distinct extensions
// signed by an unknown CA; the time per extension stays flat as n grows.
func BenchmarkAddCRLExtensions(b *testing.B) {
	h, stranger := newHierarchy(b), newHierarchy(b)
	v := newVerifier(b, h, newClock(t0), VerifierOptions{})
	for _, n := range []int{1_000, 10_000, 100_000} {
		der := createCRL(b, stranger.ca, &x509.RevocationList{ExtraExtensions: distinctExtensions(n)})
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.AddCRL(der); !errors.Is(err, ErrCRL) {
					b.Fatalf("AddCRL: %v, want %v", err, ErrCRL)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/extension")
		})
	}
}

// paddedCRL returns a CRL of ca numbered number, listing nothing, of
// exactly size octets: a non-critical extension, which a verifier does
// not read, fills it.
func paddedCRL(t testing.TB, ca *CA, number int64, size int) []byte {
	t.Helper()
	return padded(t, size, func(pad pkix.Extension) []byte {
		return createCRL(t, ca, &x509.RevocationList{Number: big.NewInt(number), ExtraExtensions: []pkix.Extension{pad}})
	})
}

// TestAddCRLSize: AddCRL takes a CRL of MaxCRLSize octets and refuses
// one an octet longer, signed by the card CA or bytes that are no CRL
// alike, as malformed (errCRLSize) before it is parsed, the CRL held
// staying in force.
func TestAddCRLSize(t *testing.T) {
	h, v := cardRevoked(t)
	over := fmt.Sprintf("pki: CRL unavailable or invalid: malformed CRL: CRL longer than %d octets: %d octets",
		MaxCRLSize, MaxCRLSize+1)
	for name, crl := range map[string][]byte{
		"CRL":     paddedCRL(t, h.ca, 2, MaxCRLSize+1),
		"garbage": bytes.Repeat([]byte{0x30}, MaxCRLSize+1),
	} {
		err := v.AddCRL(crl)
		requireRefusal(t, err, ErrCRL, -1)
		assert.ErrorIs(t, err, errCRLSize, name)
		assert.EqualError(t, err, over, name)
		_, err = v.VerifyCard(h.chain())
		requireRefusal(t, err, ErrRevoked, 0)
	}
	require.NoError(t, v.AddCRL(paddedCRL(t, h.ca, 2, MaxCRLSize)), "at the limit")
	_, err := v.VerifyCard(h.chain())
	assert.NoError(t, err, "the CRL at the limit, which does not list the card, is held")
}

// TestAddCRLSignatureBeforeEntries: a CRL whose signature does not hold
// is refused for its signature whatever else is wrong with its entries
// or extensions, which AddCRL reads only once the signature holds; the
// same CRL signed by the CA is refused for that defect. The CRL held
// stays in force.
func TestAddCRLSignatureBeforeEntries(t *testing.T) {
	h := newHierarchy(t)
	serial := mustParse(t, h.card).SerialNumber
	entry := func(e x509.RevocationListEntry) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			e.RevocationTime = t0
			return withReasonCodes(t, h.ca, createCRL(t, h.ca, &x509.RevocationList{
				Number: big.NewInt(2), RevokedCertificateEntries: []x509.RevocationListEntry{e},
			}))
		}
	}
	for _, tt := range []struct {
		name   string
		crl    func(t *testing.T) []byte // signed by the CA
		reason string                    // its refusal
	}{
		{"entry with two reason codes", entry(x509.RevocationListEntry{
			SerialNumber: serial, ReasonCode: ReasonKeyCompromise,
			ExtraExtensions: []pkix.Extension{{Id: placeholderReason, Value: []byte{0x0a, 0x01, ReasonKeyCompromise}}},
		}), "CRL entry extension 2.5.29.21 twice"},
		{"entry removed from the CRL", entry(x509.RevocationListEntry{SerialNumber: serial, ReasonCode: reasonRemoveFromCRL}),
			"an entry's reason is removeFromCRL, which only delta CRLs carry"},
		{"entry of serial zero", entry(x509.RevocationListEntry{SerialNumber: big.NewInt(0)}),
			"an entry's serial number is not positive or longer than 20 octets"},
		{"critical entry extension", entry(x509.RevocationListEntry{
			SerialNumber:    serial,
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 4}, Critical: true, Value: []byte{0x05, 0x00}}},
		}), "unsupported critical CRL entry extension 1.3.6.1.4.1.99999.4"},
		{"entry with an empty list of extensions", func(t *testing.T) []byte {
			der, err := h.ca.IssueCRL([]Revocation{{Serial: serial}}, 2, t0.Add(time.Hour))
			require.NoError(t, err)
			return crlTime(t, h.ca, der, 2, func(b *cryptobyte.Builder, at time.Time) {
				b.AddASN1UTCTime(at)
				b.AddBytes([]byte{0x30, 0x00})
			})
		}, "malformed CRL: an empty list of entry extensions, which RFC 5280 has absent"},
		{"two CRL numbers", func(t *testing.T) []byte {
			return createCRL(t, h.ca, &x509.RevocationList{Number: big.NewInt(2), ExtraExtensions: []pkix.Extension{
				{Id: oidCRLNumber, Value: []byte{0x02, 0x01, 0x09}},
			}})
		}, "CRL extension 2.5.29.20 twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, h, newClock(t0), VerifierOptions{})
			addCRLs(t, h, v)
			signed := tt.crl(t)
			assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: tt.reason}, v.AddCRL(signed), "signed by the CA")
			tampered := bytes.Clone(signed)
			tampered[len(tampered)-1] ^= 1
			assert.Equal(t, &Error{Err: ErrCRL, Cert: -1, Reason: "CRL not signed by a known CA"}, v.AddCRL(tampered))
			_, err := v.VerifyCard(h.chain())
			assert.NoError(t, err, "the CRL held, which does not list the card, stays in force")
		})
	}
}

// TestRevokedUnderEveryPolicy: a certificate listed in the CRL held of its
// issuer is ErrRevoked under every revocation policy (PROTOCOL.md §4.5),
// about its position: the card listed by the card CA, and the card CA
// listed by the root also where the policy requires the card's CRL alone
// or none, the CRLs held fresh or stale.
func TestRevokedUnderEveryPolicy(t *testing.T) {
	for _, policy := range []struct {
		name string
		p    RevocationPolicy
	}{{"chain", RevocationChain}, {"leaf", RevocationLeaf}, {"best effort", RevocationBestEffort}} {
		for _, tc := range []struct {
			name string
			at   time.Time
			cert int
		}{
			{"card, fresh", t0.Add(time.Hour), 0},
			{"card, stale", t0.Add(48 * time.Hour), 0},
			{"card CA, fresh", t0.Add(time.Hour), 1},
			{"card CA, stale", t0.Add(48 * time.Hour), 1},
		} {
			t.Run(policy.name+"/"+tc.name, func(t *testing.T) {
				h := newHierarchy(t)
				if tc.cert == 0 {
					require.NoError(t, h.ca.Revoke(mustParse(t, h.card).SerialNumber, ReasonKeyCompromise))
				} else {
					require.NoError(t, h.root.Revoke(mustParse(t, h.ca.DER()).SerialNumber, ReasonCACompromise))
				}
				clk := newClock(t0)
				v := newVerifier(t, h, clk, VerifierOptions{Revocation: policy.p, CacheSize: -1})
				addCRLs(t, h, v)
				clk.set(tc.at)
				_, err := v.VerifyCard(h.chain())
				requireRefusal(t, err, ErrRevoked, tc.cert)
			})
		}
	}
}

// TestNewVerifierRootPathLength: NewVerifier counts the path length of the
// root above the intermediates: below a root of path length 0, a CA
// certified by a CA of the root ends no path that crypto/x509 builds, and
// is refused (ErrUntrusted); the CA of the root, the last certificate of
// its path, is not counted.
func TestNewVerifierRootPathLength(t *testing.T) {
	rootKey := newKey(t)
	rootTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "root of path length 0"},
		NotBefore: t0, NotAfter: t0.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	root := createCert(t, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	rootCA := &CA{cert: mustParse(t, root), key: rootKey, crlURL: "http://pki.example/root.crl"}
	firstKey := newKey(t)
	first := issueRaw(t, rootCA, caTemplateOf(func(*x509.Certificate) {}), firstKey.Public())
	firstCA := &CA{cert: mustParse(t, first), key: firstKey, crlURL: "http://pki.example/card.crl"}
	second := issueRaw(t, firstCA, caTemplateOf(func(c *x509.Certificate) { c.Subject.CommonName = "second CA" }), newKey(t).Public())

	_, err := NewVerifier(VerifierOptions{Roots: [][]byte{root}, Intermediates: [][]byte{first}})
	assert.NoError(t, err)
	v, err := NewVerifier(VerifierOptions{Roots: [][]byte{root}, Intermediates: [][]byte{first, second}})
	assert.Equal(t, &Error{Err: ErrUntrusted, Cert: -1, Reason: "intermediate 1 does not chain to a root"}, err)
	assert.Nil(t, v)
}
