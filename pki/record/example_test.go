package record_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/casimpay/casimpay/pki/record"
)

func Example() {
	// In production the key lives on the card and the card calls Sign.
	cardKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	proof := &record.AuthProof{
		CardHeader: record.CardHeader{CardID: "8986001234567890120", Counter: 1},
		Nonce:      make([]byte, record.NonceSize),
		Role:       record.RoleShopper,
		EID:        make([]byte, record.EIDSize),
		PeerEID:    make([]byte, record.EIDSize),
	}
	msg, err := record.Sign(rand.Reader, cardKey, proof)
	if err != nil {
		panic(err)
	}

	var got record.AuthProof
	err = record.Verify(msg, &cardKey.PublicKey, &got)
	fmt.Println(err, got.CardID, got.Counter, got.Role == record.RoleShopper)

	// A consent verifier refuses an authentication proof.
	fmt.Println(record.Verify(msg, &cardKey.PublicKey, new(record.Consent)))
	// Output:
	// <nil> 8986001234567890120 1 true
	// record: wrong record type: "application/casim.auth-proof+cbor", want "application/casim.consent+cbor"
}
