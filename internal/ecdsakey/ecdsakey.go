// Package ecdsakey tells an *ecdsa.PrivateKey built without its private
// scalar, such as one holding a public key alone, on which every method of
// crypto/ecdsa panics.
package ecdsakey

import "crypto/ecdsa"

// Scalarless reports whether k, not nil, is a private key built without its
// private scalar. It reads the deprecated field D: no method of crypto/ecdsa
// survives such a key (Bytes, Sign and ECDH all panic on it), so only the
// field itself tells it.
func Scalarless(k *ecdsa.PrivateKey) bool {
	//lint:ignore SA1019 only the scalar tells a key built without it
	return k.D == nil
}
