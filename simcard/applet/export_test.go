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

// BreakFile makes f's Store fail at a step with the error fault returns
// for it, nil for none: "create" (the temporary file, before anything is
// replaced), "link" (the link that keeps the previous state file, as on a
// file system without hard links) or "sync directory" (after the rename);
// a nil fault mends them.
func BreakFile(f *File, fault func(step string) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fault
}
