package applet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"io"
	"math/big"
)

// BreakCrypto makes a's key generation and signatures fail with err, as
// those of a card whose random number generator broke down; nil mends them.
func BreakCrypto(a *Applet, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		a.ops = stdECDSA
		return
	}
	a.ops = ecdsaOps{
		generateKey: func(elliptic.Curve, io.Reader) (*ecdsa.PrivateKey, error) { return nil, err },
		sign:        func(io.Reader, *ecdsa.PrivateKey, []byte) (*big.Int, *big.Int, error) { return nil, nil, err },
		signASN1:    func(io.Reader, *ecdsa.PrivateKey, []byte) ([]byte, error) { return nil, err },
	}
}
