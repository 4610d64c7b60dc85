package simcardtest_test

import (
	"fmt"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// NewCard makes a personalised virtual card whose chain verifies under the
// demo root.
func ExampleNewCard() {
	root, issuer, err := simcardtest.NewCA()
	if err != nil {
		panic(err)
	}
	v, err := simcardtest.NewCard(issuer, simcardtest.Options{ICCID: "89014103211118510720"})
	if err != nil {
		panic(err)
	}
	vf, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Revocation: pki.RevocationBestEffort})
	if err != nil {
		panic(err)
	}
	card, err := vf.VerifyCard(v.Enrolment.Chain)
	if err != nil {
		panic(err)
	}
	fmt.Println(card.CardID, len(v.Enrolment.AdvertisingSecret))
	// Output:
	// 89014103211118510720 16
}
