package pki_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
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

// The cloud verifies a card's chain fail-closed: nothing passes until it
// holds a fresh CRL of every CA, and a revoked card fails with ErrRevoked.
func ExampleVerifier_VerifyCard() {
	root, _ := pki.NewRoot(mustKey(), pki.CAOptions{CRLURL: "https://pki.example/root.crl"})
	ca, _ := root.NewIntermediate(mustKey(), pki.CAOptions{CRLURL: "https://pki.example/card.crl"})
	cardKey := mustKey()
	cert, _ := ca.IssueCard(cardKey.Public(), "89014103211118510720", pki.IssueOptions{})
	chain := append([][]byte{cert}, ca.Chain()...)

	v, err := pki.NewVerifier(pki.VerifierOptions{
		Roots:         [][]byte{root.DER()},
		Intermediates: [][]byte{ca.DER()},
	})
	if err != nil {
		panic(err)
	}
	_, err = v.VerifyCard(chain)
	fmt.Println("without CRLs:", errors.Is(err, pki.ErrCRL))

	for _, issuer := range []*pki.CA{root, ca} {
		crl, _ := issuer.CRL(time.Now().Add(24 * time.Hour))
		if err := v.AddCRL(crl); err != nil {
			panic(err)
		}
	}
	card, err := v.VerifyCard(chain)
	fmt.Println("with CRLs:", err, card.CardID)

	parsed, _ := pki.ParseCertificate(cert)
	_ = ca.Revoke(parsed.SerialNumber, pki.ReasonKeyCompromise)
	crl, _ := ca.CRL(time.Now().Add(24 * time.Hour))
	_ = v.AddCRL(crl)
	_, err = v.VerifyCard(chain)
	fmt.Println("revoked:", errors.Is(err, pki.ErrRevoked))
	// Output:
	// without CRLs: true
	// with CRLs: <nil> 89014103211118510720
	// revoked: true
}

// A server that keeps a card's chain reads its names once and then asks,
// as often as it needs, whether the CRLs held now list the card or a CA
// above it: a map lookup per certificate, no signature checked again.
func ExampleVerifier_Revoked() {
	root, _ := pki.NewRoot(mustKey(), pki.CAOptions{CRLURL: "https://pki.example/root.crl"})
	ca, _ := root.NewIntermediate(mustKey(), pki.CAOptions{CRLURL: "https://pki.example/card.crl"})
	cert, _ := ca.IssueCard(mustKey().Public(), "89014103211118510720", pki.IssueOptions{})
	chain := append([][]byte{cert}, ca.Chain()...)
	v, _ := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Intermediates: [][]byte{ca.DER()}})

	ids, err := v.CertIDs(chain)
	if err != nil {
		panic(err)
	}
	fmt.Println("no CRL:", v.Revoked(ids))
	parsed, _ := pki.ParseCertificate(cert)
	_ = ca.Revoke(parsed.SerialNumber, pki.ReasonKeyCompromise)
	crl, _ := ca.CRL(time.Now().Add(24 * time.Hour))
	_ = v.AddCRL(crl)
	fmt.Println("listed:", v.Revoked(ids))
	// Output:
	// no CRL: false
	// listed: true
}

// A card proves possession of its key by signing the platform's nonce; the
// same record a second time is refused.
func ExampleChallenger() {
	ctx := context.Background()
	root, _ := pki.NewRoot(mustKey(), pki.CAOptions{CRLURL: "https://pki.example/root.crl"})
	ca, _ := root.NewIntermediate(mustKey(), pki.CAOptions{CRLURL: "https://pki.example/card.crl"})
	cardKey := mustKey()
	cert, _ := ca.IssueCard(cardKey.Public(), "89014103211118510720", pki.IssueOptions{})
	chain := append([][]byte{cert}, ca.Chain()...)
	v, _ := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Intermediates: [][]byte{ca.DER()}})
	for _, issuer := range []*pki.CA{root, ca} {
		crl, _ := issuer.CRL(time.Now().Add(24 * time.Hour))
		_ = v.AddCRL(crl)
	}
	ch := pki.NewChallenger(v, pki.ChallengerOptions{})

	nonce, _ := ch.NewNonce(ctx)
	// On the card: its ICCID, its incremented counter, the nonce, both EIDs.
	msg, _ := record.Sign(rand.Reader, cardKey, &record.AuthProof{
		CardHeader: record.CardHeader{CardID: "89014103211118510720", Counter: 1},
		Nonce:      nonce,
		Role:       record.RoleShopper,
		EID:        make([]byte, record.EIDSize),
		PeerEID:    make([]byte, record.EIDSize),
	})

	var proof record.AuthProof
	card, err := ch.Verify(ctx, chain, msg, &proof)
	fmt.Println(err, card.CardID, proof.Counter)
	_, err = ch.Verify(ctx, chain, msg, &proof)
	fmt.Println("replay:", errors.Is(err, pki.ErrNonce))
	// Output:
	// <nil> 89014103211118510720 1
	// replay: true
}
