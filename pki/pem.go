package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"

	"github.com/casimpay/casimpay/internal/ecdsakey"
	"github.com/casimpay/casimpay/pki/record"
)

// PEM block types.
const (
	pemCertificate = "CERTIFICATE"
	pemCRL         = "X509 CRL"
)

// CertificatePEM returns der as a PEM "CERTIFICATE" block.
func CertificatePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCertificate, Bytes: der})
}

// CRLPEM returns der as a PEM "X509 CRL" block.
func CRLPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: pemCRL, Bytes: der})
}

// ParseCertificatesPEM returns the DER of every "CERTIFICATE" block of data,
// in order, such as a chain file written by openssl. Text between blocks is
// ignored; data without any certificate is an error matching ErrInvalid.
func ParseCertificatesPEM(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == pemCertificate {
			out = append(out, b.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, newError(ErrInvalid, -1, "no PEM certificate found", nil)
	}
	return out, nil
}

// ParseCRLPEM returns the DER of the first "X509 CRL" block of data, or an
// error matching ErrInvalid when there is none.
func ParseCRLPEM(data []byte) ([]byte, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, newError(ErrInvalid, -1, "no PEM CRL found", nil)
		}
		if b.Type == pemCRL {
			return b.Bytes, nil
		}
	}
}

// PrivateKeyPEM returns key as a PKCS #8 "PRIVATE KEY" block, the form
// openssl genpkey writes. A nil key, one without its private scalar (a
// public key alone), one without its public point (a private scalar
// alone, which crypto/x509 would encode through crypto/ecdsa, which
// panics on it) or one that cannot be encoded is an error matching
// ErrKey.
func PrivateKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	if key == nil {
		return nil, newError(ErrKey, -1, "no key", nil)
	}
	if ecdsakey.Scalarless(key) {
		return nil, newError(ErrKey, -1, "no private key", nil)
	}
	if !record.HasPoint(&key.PublicKey) {
		return nil, newError(ErrKey, -1, "no public key point", nil)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, newError(ErrKey, -1, "key cannot be encoded", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM returns the ECDSA key of the first "PRIVATE KEY"
// (PKCS #8) or "EC PRIVATE KEY" (SEC 1) block of data, as a CA signer. It
// returns an error matching ErrInvalid when data holds no such block and
// ErrKey when the key is malformed or not ECDSA.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, newError(ErrInvalid, -1, "no PEM private key found", nil)
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, newError(ErrKey, -1, "malformed PKCS #8 key", err)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, newError(ErrKey, -1, "not an ECDSA key", nil)
			}
			return ek, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return nil, newError(ErrKey, -1, "malformed SEC 1 key", err)
			}
			return k, nil
		}
	}
}
