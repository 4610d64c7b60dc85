package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ParseCertificate parses one DER certificate like x509.ParseCertificate,
// and also accepts the certificates of this profile, whose extended key
// usage carries an object identifier with an arc beyond 64 bits that
// crypto/x509 refuses. For such a certificate the extended key usage is
// missing from ExtKeyUsage and UnknownExtKeyUsage of the result but is kept
// in Extensions (read it with ExtKeyUsages); Raw and RawTBSCertificate are
// the bytes given, so signature checks, including x509.Verify, cover the
// whole certificate. A malformed certificate is an error matching
// ErrUntrusted, as is one that holds other bytes after its signature,
// inside its SEQUENCE, which crypto/x509 does not read and the signature
// does not cover, or whose signature BIT STRING has unused bits, which
// crypto/x509 shifts off, another encoding of the same signature that
// anyone can write, or whose version is written out as v1, the default
// that DER leaves out (crypto/x509 then reads none of its extensions), or
// that is longer than MaxCertificateSize (refused before it is parsed).
func ParseCertificate(der []byte) (*x509.Certificate, error) {
	c, err := parseCertificate(der)
	if err != nil {
		return nil, newError(ErrUntrusted, -1, "malformed certificate", err)
	}
	return c, nil
}

// errCertificateSize is the refusal of a certificate longer than
// MaxCertificateSize.
var errCertificateSize = fmt.Errorf("certificate longer than %d octets", MaxCertificateSize)

// errCRLSize is the refusal of a CRL longer than MaxCRLSize.
var errCRLSize = fmt.Errorf("CRL longer than %d octets", MaxCRLSize)

// certificateSize returns errCertificateSize, with the length, for der
// longer than MaxCertificateSize, or nil.
func certificateSize(der []byte) error {
	if len(der) > MaxCertificateSize {
		return fmt.Errorf("%w: %d octets", errCertificateSize, len(der))
	}
	return nil
}

// parseCertificate is ParseCertificate, returning crypto/x509's error
// about a malformed certificate, for the caller to say which one it is,
// or that of signatureEncoding or versionEncoding, or, before parsing,
// errCertificateSize.
func parseCertificate(der []byte) (*x509.Certificate, error) {
	if err := certificateSize(der); err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		var err2 error
		if c, err2 = parseWideEKU(der); err2 != nil {
			return nil, err
		}
	}
	if err := signatureEncoding(der); err != nil {
		return nil, err
	}
	if err := versionEncoding(c); err != nil {
		return nil, err
	}
	return c, nil
}

// errVersion1 is the refusal of versionEncoding.
var errVersion1 = errors.New("version v1 written out, the default that DER leaves out")

// versionEncoding returns errVersion1 for c, a certificate that
// crypto/x509 parsed, whose version is written out as v1 ([0] EXPLICIT
// INTEGER 0), the DEFAULT of the field, which DER leaves out (X.690
// §11.5): crypto/x509 parses it as a v1 certificate, without looking at
// the extensions that follow, where the certificate is another encoding
// of a certificate without them; or nil.
func versionEncoding(c *x509.Certificate) error {
	s := cryptobyte.String(c.RawTBSCertificate) // as crypto/x509 read it
	var tbs, version cryptobyte.String
	var present bool
	var v int64
	if s.ReadASN1(&tbs, cbasn1.SEQUENCE) &&
		tbs.ReadOptionalASN1(&version, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) &&
		present && version.ReadASN1Integer(&v) && v == 0 {
		return errVersion1
	}
	return nil
}

// parseWideEKU parses der once more without its extended key usage
// extension, provided that extension is well formed, and puts the original
// bytes and extension list back into the result.
func parseWideEKU(der []byte) (*x509.Certificate, error) {
	input := cryptobyte.String(der)
	var cert, tbs, sigAlg cryptobyte.String
	var sig asn1.BitString
	if !input.ReadASN1(&cert, cbasn1.SEQUENCE) || !input.Empty() ||
		!cert.ReadASN1Element(&tbs, cbasn1.SEQUENCE) ||
		!cert.ReadASN1Element(&sigAlg, cbasn1.SEQUENCE) {
		return nil, errMalformed
	}
	sigBits := cert // the signature BIT STRING element, left as is
	if !cert.ReadASN1BitString(&sig) || !cert.Empty() {
		return nil, errMalformed
	}
	rawTBS := []byte(tbs)
	var body cryptobyte.String
	if !tbs.ReadASN1(&body, cbasn1.SEQUENCE) || !tbs.Empty() {
		return nil, errMalformed
	}
	// Everything up to the extensions is copied; the extensions are
	// re-encoded without the extended key usage.
	var head []byte
	var exts cryptobyte.String
	found := false
	for !body.Empty() {
		var elem cryptobyte.String
		var tag cbasn1.Tag
		if !body.ReadAnyASN1Element(&elem, &tag) {
			return nil, errMalformed
		}
		if tag == cbasn1.Tag(3).Constructed().ContextSpecific() {
			if found || !body.Empty() {
				return nil, errMalformed
			}
			var inner cryptobyte.String
			if !elem.ReadASN1(&inner, tag) || !inner.ReadASN1(&exts, cbasn1.SEQUENCE) || !inner.Empty() {
				return nil, errMalformed
			}
			found = true
			continue
		}
		head = append(head, elem...)
	}
	if !found {
		return nil, errMalformed
	}
	var all []pkix.Extension
	var kept [][]byte
	var eku *pkix.Extension
	for !exts.Empty() {
		var elem cryptobyte.String
		if !exts.ReadASN1Element(&elem, cbasn1.SEQUENCE) {
			return nil, errMalformed
		}
		var e pkix.Extension
		if rest, err := asn1.Unmarshal(elem, &e); err != nil || len(rest) != 0 {
			return nil, errMalformed
		}
		all = append(all, e)
		if e.Id.Equal(oidExtKeyUsage) {
			if eku != nil {
				return nil, errMalformed
			}
			eku = &all[len(all)-1]
			continue
		}
		kept = append(kept, elem)
	}
	if eku == nil {
		return nil, errMalformed
	}
	if _, err := parseEKU(eku.Value); err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(head)
			if len(kept) > 0 {
				b.AddASN1(cbasn1.Tag(3).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						for _, k := range kept {
							b.AddBytes(k)
						}
					})
				})
			}
		})
		b.AddBytes(sigAlg)
		b.AddBytes(sigBits)
	})
	stripped, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(stripped)
	if err != nil {
		return nil, err
	}
	c.Raw = der
	c.RawTBSCertificate = rawTBS
	c.Extensions = all
	return c, nil
}

var errMalformed = newError(ErrUntrusted, -1, "malformed certificate", nil)

// The refusals of signatureEncoding.
var (
	errAfterSignature = errors.New("bytes after its signature, which it does not cover")
	errSignatureBits  = errors.New("a signature with unused bits, where the octets of its DER are whole")
)

// signatureEncoding returns why der, one DER element that crypto/x509
// parsed as a certificate or a CRL (a SEQUENCE of the signed content, the
// signature algorithm and the signature BIT STRING), is refused, or nil:
// other bytes after the signature inside that SEQUENCE (errAfterSignature),
// at which crypto/x509 does not look, or a signature BIT STRING with
// unused bits (errSignatureBits), which crypto/x509 shifts off (an ECDSA
// signature, a DER SEQUENCE, starts with two zero bits), where the
// octets of the signature are those of the BIT STRING, whole. The
// signature does not cover either: anyone may write them, to make other
// bytes of the same certificate or CRL.
func signatureEncoding(der []byte) error {
	s := cryptobyte.String(der)
	var signed cryptobyte.String
	var sig asn1.BitString
	if !s.ReadASN1(&signed, cbasn1.SEQUENCE) || !signed.SkipASN1(cbasn1.SEQUENCE) ||
		!signed.SkipASN1(cbasn1.SEQUENCE) || !signed.ReadASN1BitString(&sig) || !signed.Empty() {
		return errAfterSignature
	}
	if sig.BitLength%8 != 0 {
		return errSignatureBits
	}
	return nil
}
