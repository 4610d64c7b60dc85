package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/casimpay/casimpay/pki/record"
)

// The extended key usages of the profile. Both are UUID-based object
// identifiers (ITU-T X.667) whose last arc is larger than 64 bits, which
// crypto/x509 cannot represent: use ParseCertificate and ExtKeyUsages of
// this package to read certificates that carry them.
var (
	// OIDCardAuth, 2.25.14867726572143155195053814763898743270, is "CA-SIM
	// card authentication": the key signs records built by a CA-SIM card.
	OIDCardAuth = mustOID("2.25.14867726572143155195053814763898743270")
	// OIDReceiptSigning, 2.25.301615000118526535778703475157413647009, is
	// "CA-SIM platform receipt signing": the key signs the receipts of the
	// cloud platform.
	OIDReceiptSigning = mustOID("2.25.301615000118526535778703475157413647009")
)

// Validity defaults of the profile, used when an options field is zero.
const (
	DefaultRootValidity     = 20 * 365 * 24 * time.Hour
	DefaultCAValidity       = 10 * 365 * 24 * time.Hour
	DefaultCardValidity     = 5 * 365 * 24 * time.Hour
	DefaultPlatformValidity = 2 * 365 * 24 * time.Hour
	// DefaultSkew is the clock difference a Verifier tolerates by default.
	DefaultSkew = 5 * time.Minute
	// DefaultMaxDepth is the longest chain a Verifier accepts by default,
	// root included: root, card-issuing CA, card.
	DefaultMaxDepth = 3
	// MaxChainDepth is the largest MaxDepth a Verifier takes, root
	// included: the profile's chains have three certificates, and eight
	// leave room for six CAs between the root and the card. A verifier
	// parses and checks every certificate of a chain presented within its
	// MaxDepth, each of up to MaxCertificateSize octets, before it finds a
	// path: the bound keeps that work, for any chain presented, to eight
	// certificates (32 KiB) at the most.
	MaxChainDepth = 8
	// MaxCertificateSize is the longest certificate, in octets of DER,
	// that this package reads or issues: about seven times a card
	// certificate of the profile (some 560 octets), room for long names
	// and CRL URLs and for the extensions of another issuer, such as
	// OpenSSL's. Longer, a certificate is refused as malformed before it
	// is parsed (ErrUntrusted), and a CA refuses to issue one (ErrInvalid).
	MaxCertificateSize = 4096
	// MaxCRLSize is the longest CRL, in octets of DER, that a Verifier
	// reads: room for some 170,000 entries of the profile (about 50
	// octets each: serial number, revocation date and reason code), far
	// more revoked certificates than a CA's list holds until they expire.
	// Longer, a CRL is refused as malformed before it is parsed (ErrCRL),
	// so that the work AddCRL does for a CRL that it refuses, which grows
	// with its length, stays bounded.
	MaxCRLSize = 8 << 20
)

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

func mustOID(s string) x509.OID {
	oid, err := x509.ParseOID(s)
	if err != nil {
		panic(err)
	}
	return oid
}

// ekuExtension encodes a non-critical extended key usage extension listing
// oids, which may have arcs of any size.
func ekuExtension(oids ...x509.OID) (pkix.Extension, error) {
	var b cryptobyte.Builder
	var err error
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, oid := range oids {
			der, e := oid.MarshalBinary()
			if e != nil {
				err = e
				return
			}
			b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(der) })
		}
	})
	if err != nil {
		return pkix.Extension{}, newError(ErrInvalid, -1, "extended key usage", err)
	}
	v, err := b.Bytes()
	if err != nil {
		return pkix.Extension{}, newError(ErrInvalid, -1, "extended key usage", err)
	}
	return pkix.Extension{Id: oidExtKeyUsage, Value: v}, nil
}

// ExtKeyUsages returns every object identifier of the extended key usage
// extension of c, known to crypto/x509 or not, with arcs of any size; nil
// when c has no such extension. c should come from ParseCertificate, which
// keeps the extension in c.Extensions even when crypto/x509 cannot. A nil
// c is an error matching ErrInvalid; a malformed extension, ErrUsage.
func ExtKeyUsages(c *x509.Certificate) ([]x509.OID, error) {
	if c == nil {
		return nil, newError(ErrInvalid, -1, "no certificate", nil)
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidExtKeyUsage) {
			return parseEKU(e.Value)
		}
	}
	return nil, nil
}

func parseEKU(v []byte) ([]x509.OID, error) {
	s := cryptobyte.String(v)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, newError(ErrUsage, -1, "malformed extended key usage extension", nil)
	}
	var oids []x509.OID
	for !seq.Empty() {
		var raw cryptobyte.String
		if !seq.ReadASN1(&raw, cbasn1.OBJECT_IDENTIFIER) {
			return nil, newError(ErrUsage, -1, "malformed extended key usage extension", nil)
		}
		var oid x509.OID
		if err := oid.UnmarshalBinary(raw); err != nil {
			return nil, newError(ErrUsage, -1, "malformed extended key usage", err)
		}
		oids = append(oids, oid)
	}
	if len(oids) == 0 {
		return nil, newError(ErrUsage, -1, "empty extended key usage extension", nil)
	}
	return oids, nil
}

// leafKey returns pub as an ECDSA P-256 key, the only kind the profile
// allows for cards and the platform.
func leafKey(pub crypto.PublicKey) (*ecdsa.PublicKey, bool) {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || !record.IsP256(k) {
		return nil, false
	}
	return k, true
}

// caKey reports whether pub is a key a CA may have: ECDSA P-256 or P-384.
func caKey(pub crypto.PublicKey) bool {
	k, ok := pub.(*ecdsa.PublicKey)
	return ok && record.HasPoint(k) && (k.Curve == elliptic.P256() || k.Curve == elliptic.P384())
}

// keyID returns the subject key identifier of pub: the leftmost 160 bits of
// the SHA-256 of the subjectPublicKey bit string (RFC 7093 §2 method 1).
func keyID(pub *ecdsa.PublicKey) ([]byte, error) {
	k, err := pub.ECDH()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(k.Bytes())
	return sum[:20], nil
}

var oidAnyEKU = mustOID("2.5.29.37.0")

func hasOID(list []x509.OID, oid x509.OID) bool {
	for _, o := range list {
		if o.Equal(oid) {
			return true
		}
	}
	return false
}
