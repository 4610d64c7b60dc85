package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/casimpay/casimpay/pki"
)

func mustKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// A root CA certifies a card-issuing CA, which certifies a card's key for
// its ICCID during personalisation.
func ExampleCA_IssueCard() {
	root, err := pki.NewRoot(mustKey(), pki.CAOptions{CRLURL: "https://pki.example/root.crl"})
	if err != nil {
		panic(err)
	}
	ca, err := root.NewIntermediate(mustKey(), pki.CAOptions{CRLURL: "https://pki.example/card.crl"})
	if err != nil {
		panic(err)
	}
	cardKey := mustKey() // generated on the card; only the public key leaves it
	der, err := ca.IssueCard(cardKey.Public(), "89014103211118510720", pki.IssueOptions{})
	if err != nil {
		panic(err)
	}
	cert, err := pki.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	ekus, _ := pki.ExtKeyUsages(cert)
	fmt.Println(cert.URIs[0])
	fmt.Println(ekus[0])
	fmt.Println(len(ca.Chain()), "intermediate to present with it")
	// Output:
	// urn:casim:card:89014103211118510720
	// 2.25.14867726572143155195053814763898743270
	// 1 intermediate to present with it
}

func ExampleValidICCID() {
	fmt.Println(pki.ValidICCID("89014103211118510720"))
	err := pki.ValidICCID("89014103211118510721") // wrong check digit
	fmt.Println(errors.Is(err, pki.ErrCardID))
	iccid, _ := pki.CompleteICCID("8901410321111851072")
	fmt.Println(iccid)
	// Output:
	// <nil>
	// true
	// 89014103211118510720
}
