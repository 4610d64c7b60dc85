// Package ecdsakey tells an *ecdsa.PrivateKey built without its private
// scalar, such as one holding a public key alone, on which every method of
// crypto/ecdsa panics, and a signer that does not sign with the private key
// of the public key it names.
package ecdsakey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
)

// Scalarless reports whether k, not nil, is a private key built without its
// private scalar. It reads the deprecated field D: no method of crypto/ecdsa
// survives such a key (Bytes, Sign and ECDH all panic on it), so only the
// field itself tells it.
func Scalarless(k *ecdsa.PrivateKey) bool {
	//lint:ignore SA1019 only the scalar tells a key built without it
	return k.D == nil
}

// Holds reports whether key, whose public key is pub, signs with the
// private key of pub. A private key in memory has its public key computed
// from it (one without its private scalar, on which crypto/ecdsa panics,
// holds none); another signer, such as an HSM's, signs checkDigest, with
// crypto/rand.Reader (the signature is seen by no one), for pub to verify.
// The error is the signer's.
func Holds(key crypto.Signer, pub *ecdsa.PublicKey) (bool, error) {
	if k, ok := key.(*ecdsa.PrivateKey); ok {
		if Scalarless(k) {
			return false, nil
		}
		d, err := k.Bytes()
		if err != nil {
			return false, nil
		}
		computed, err := ecdsa.ParseRawPrivateKey(k.Curve, d)
		return err == nil && computed.PublicKey.Equal(pub), nil
	}
	sig, err := key.Sign(rand.Reader, checkDigest[:], crypto.SHA256)
	if err != nil {
		return false, err
	}
	return ecdsa.VerifyASN1(pub, checkDigest[:], sig), nil
}

// checkDigest is the SHA-256 digest that Holds has a signer sign.
var checkDigest = sha256.Sum256([]byte("casimpay: key check"))
