package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"iter"

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

// pemBegin starts the first line of a PEM block.
var pemBegin = []byte("-----BEGIN ")

// pemBlocks yields the PEM blocks of data in order, as pem.Decode finds
// them, each with its type, and, for each line beginning a block that
// pem.Decode cannot decode (its base64, headers or END line damaged, or no
// END line) and passes over, a nil block with the type that line names.
// A line begins a block when it starts with "-----BEGIN " at the start of
// data or after a newline, as pem.Decode takes it; its type is the rest of
// the line without the "-----" that ends it. It reads data in one pass
// and calls pem.Decode once per block and once more at most.
func pemBlocks(data []byte) iter.Seq2[*pem.Block, string] {
	return func(yield func(*pem.Block, string) bool) {
		for at := pemBeginAt(data, 0); at >= 0; at = pemBeginAt(data, 0) {
			data = data[at:]
			b, rest := pem.Decode(data)
			read := data // what pem.Decode read of data: all of it when it found no block
			if b != nil {
				read = data[:len(data)-len(rest)]
			}
			// pem.Decode takes the last beginning before an END line
			// that ends a block it can decode: every beginning it read
			// but that one begins none.
			for i := 0; ; {
				next := pemBeginAt(read, i+1)
				if b != nil && next < 0 {
					break
				}
				line, _, _ := bytes.Cut(read[i+len(pemBegin):], []byte("\n"))
				line = bytes.TrimRight(bytes.TrimSuffix(bytes.TrimRight(line, " \t\r"), []byte("-----")), " \t")
				if !yield(nil, string(line)) || next < 0 {
					return
				}
				i = next
			}
			if !yield(b, b.Type) {
				return
			}
			data = rest
		}
	}
}

// pemBeginAt returns the index of the first line of data at or after from
// that begins a PEM block, or -1.
func pemBeginAt(data []byte, from int) int {
	for from <= len(data) {
		i := bytes.Index(data[from:], pemBegin)
		if i < 0 {
			return -1
		}
		if i += from; i == 0 || data[i-1] == '\n' {
			return i
		}
		from = i + 1
	}
	return -1
}

// ParseCertificatesPEM returns the DER of every "CERTIFICATE" block of data,
// in order, such as a chain file written by openssl. Text between blocks,
// blocks of other types among it, is ignored; data without any certificate
// or with a "CERTIFICATE" block that cannot be decoded (pemBlocks) is an
// error matching ErrInvalid: a chain is never read without one of its
// certificates.
func ParseCertificatesPEM(data []byte) ([][]byte, error) {
	var out [][]byte
	for b, typ := range pemBlocks(data) {
		switch {
		case typ != pemCertificate:
		case b == nil:
			return nil, newError(ErrInvalid, -1, "malformed PEM certificate block", nil)
		default:
			out = append(out, b.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, newError(ErrInvalid, -1, "no PEM certificate found", nil)
	}
	return out, nil
}

// ParseCRLPEM returns the DER of the first "X509 CRL" block of data. It
// returns an error matching ErrInvalid when there is none, or when an
// "X509 CRL" block before it cannot be decoded (pemBlocks).
func ParseCRLPEM(data []byte) ([]byte, error) {
	for b, typ := range pemBlocks(data) {
		switch {
		case typ != pemCRL:
		case b == nil:
			return nil, newError(ErrInvalid, -1, "malformed PEM CRL block", nil)
		default:
			return b.Bytes, nil
		}
	}
	return nil, newError(ErrInvalid, -1, "no PEM CRL found", nil)
}

// PrivateKeyPEM returns key as a PKCS #8 "PRIVATE KEY" block, the form
// openssl genpkey writes. A nil key, one without its private scalar (a
// public key alone), one without its public point (a private scalar
// alone, which crypto/x509 would encode through crypto/ecdsa, which
// panics on it), one of a curve other than P-256 and P-384 (which
// ParsePrivateKeyPEM would not read back: P-224, P-521, or a curve with
// P-256's parameters that is not elliptic.P256() itself) or one that
// cannot be encoded (a scalar too wide for its curve) is an error
// matching ErrKey.
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
	if !caKey(&key.PublicKey) {
		return nil, newError(ErrKey, -1, "a key written must be ECDSA P-256 or P-384", nil)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, newError(ErrKey, -1, "key cannot be encoded", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM returns the ECDSA key of the first "PRIVATE KEY"
// (PKCS #8) or "EC PRIVATE KEY" (SEC 1) block of data, as a CA signer: a
// key of a curve the profile allows a CA, P-256 or P-384. It returns an
// error matching ErrInvalid when data holds no such block and ErrKey when
// the key is malformed, not ECDSA or of another curve (P-224 or P-521,
// which NewRoot, NewIntermediate and LoadCA refuse), or when such a block
// before it cannot be decoded (pemBlocks).
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for b, typ := range pemBlocks(data) {
		if b == nil {
			if typ == "PRIVATE KEY" || typ == "EC PRIVATE KEY" {
				return nil, newError(ErrKey, -1, "malformed PEM private key block", nil)
			}
			continue
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
			return parsedCAKey(ek)
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(b.Bytes)
			if err != nil {
				return nil, newError(ErrKey, -1, "malformed SEC 1 key", err)
			}
			return parsedCAKey(k)
		}
	}
	return nil, newError(ErrInvalid, -1, "no PEM private key found", nil)
}

// parsedCAKey returns k, parsed from PEM, when its curve is one a CA may
// have (caKey), or an error matching ErrKey with the reason caSigner gives.
func parsedCAKey(k *ecdsa.PrivateKey) (crypto.Signer, error) {
	if !caKey(&k.PublicKey) {
		return nil, errCAKeyCurve()
	}
	return k, nil
}
