package payflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// The grocery purchase of the patent on a Platform in process: two virtual
// CA-SIMs log in, pair, the seller's card signs a request priced from the
// catalog, the shopper's card signs the consent after its PIN, and the
// platform settles and signs the receipt.
func ExamplePlatform() {
	ctx := context.Background()
	check := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	// The certificate hierarchy, with fresh CRLs, and the receipt key.
	root, issuer, err := simcardtest.NewCA()
	check(err)
	verifier, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Intermediates: [][]byte{issuer.DER()}})
	check(err)
	for _, ca := range []*pki.CA{root, issuer} {
		crl, err := ca.CRL(time.Now().Add(time.Hour))
		check(err)
		check(verifier.AddCRL(crl))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	cert, err := issuer.IssuePlatform(key.Public(), "casimpay example", pki.IssueOptions{})
	check(err)

	led, err := ledger.New(ledgermemory.New(), ledger.Options{})
	check(err)
	defer led.Close()
	p, err := payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: led, Store: memory.New(), Verifier: verifier, Key: key, Chain: append([][]byte{cert}, issuer.Chain()...),
	})
	check(err)

	// Enrolment: two personalised cards, a merchant with a catalog, a
	// funded wallet.
	shopper, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	check(err)
	seller, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	check(err)
	for _, c := range []struct {
		v    *simcardtest.Virtual
		name string
	}{{shopper, "Alice"}, {seller, "Till 1"}} {
		_, err := p.EnrollCard(ctx, c.v.Enrolment.Chain, c.v.Enrolment.AdvertisingSecret, c.name)
		check(err)
	}
	check(p.EnrollMerchant(ctx, payflow.Merchant{ID: "grocer-1", Name: "Corner Grocer", Currency: "EUR", SellerCardIDs: []string{seller.Enrolment.ICCID}}))
	check(p.SetCatalog(ctx, "grocer-1", []payflow.CatalogItem{{SKU: "apple", Name: "Apple", UnitPrice: 120}, {SKU: "bread", Name: "Sourdough bread", UnitPrice: 450}}))
	check(p.OpenAccount(ctx, shopper.Enrolment.ICCID, "EUR"))
	check(p.Fund(ctx, payflow.ID{1}, shopper.Enrolment.ICCID, "EUR", 5000))

	eid := func(v *simcardtest.Virtual) []byte {
		e, err := adv.DeriveEID(v.Enrolment.AdvertisingSecret, adv.Epoch(time.Now()))
		check(err)
		return e[:]
	}
	// proof answers a fresh challenge with the card's current EID and the
	// peer's (nil for a login).
	proof := func(v *simcardtest.Virtual, role record.Role, peer []byte) []byte {
		ch, err := p.Challenge(ctx, &payflow.ChallengeRequest{CardID: v.Enrolment.ICCID})
		check(err)
		if peer == nil {
			peer = make([]byte, 16)
		}
		msg, err := v.Card.SignAuthProof(&record.AuthProof{Nonce: ch.Nonce, Role: role, EID: eid(v), PeerEID: peer})
		check(err)
		return msg
	}
	alice, err := p.Login(ctx, &payflow.LoginRequest{Proof: proof(shopper, record.RoleShopper, nil)})
	check(err)
	who, err := p.Resolve(ctx, alice.Token, &payflow.ResolveRequest{EID: eid(seller)})
	check(err)
	fmt.Println("nearby:", who.DisplayName)

	_, err = p.Pair(ctx, &payflow.PairRequest{Proof: proof(shopper, record.RoleShopper, eid(seller))})
	check(err)
	session, err := p.Pair(ctx, &payflow.PairRequest{Proof: proof(seller, record.RoleSeller, eid(shopper))})
	check(err)
	fmt.Println("session:", session.State, "with", session.ShopperName)

	id := payflow.ID(ledger.NewID())
	req, err := seller.Card.SignPaymentRequest(&record.PaymentRequest{
		RequestID: id[:], SessionID: session.ID[:], PayerCardID: session.ShopperCardID, MerchantID: "grocer-1",
		Currency: "EUR", Amount: 690, Items: []record.Item{{SKU: "apple", Quantity: 2}, {SKU: "bread", Quantity: 1}},
	})
	check(err)
	_, err = p.CreateRequest(ctx, &payflow.CreateRequest{Request: req})
	check(err)

	screen, err := p.Payment(ctx, alice.Token, id)
	check(err)
	for _, l := range screen.Lines {
		fmt.Printf("%d × %s: %d\n", l.Quantity, l.Name, l.Amount)
	}
	check(shopper.Card.VerifyPIN(simcardtest.PIN))
	consent, err := shopper.Card.SignConsent(&record.Consent{
		RequestID: id[:], RequestHash: screen.RequestHash, Nonce: screen.ConsentNonce,
		Amount: screen.Amount, Currency: screen.Currency, MerchantID: screen.MerchantID,
	})
	check(err)
	done, err := p.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
	check(err)
	fmt.Println("payment:", done.State, done.Captured, done.Currency)

	// The phone checks the receipt offline with the platform's chain.
	info, err := p.Info(ctx)
	check(err)
	phone, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Revocation: pki.RevocationBestEffort})
	check(err)
	vp, err := phone.VerifyPlatform(info.Chain)
	check(err)
	var rc record.Receipt
	check(vp.VerifyReceipt(done.Receipt, &rc))
	fmt.Println("receipt:", rc.Amount, rc.Currency, len(rc.TransferIDs), "transfer")
	bal, err := p.Balance(ctx, shopper.Enrolment.ICCID, "EUR")
	check(err)
	fmt.Println("Alice has", bal.Posted)
	// Output:
	// nearby: Corner Grocer
	// session: paired with Alice
	// 2 × Apple: 240
	// 1 × Sourdough bread: 450
	// payment: captured 690 EUR
	// receipt: 690 EUR 1 transfer
	// Alice has 4310
}

// Ledger transfer IDs derive from the request, so that every retry names
// the same transfers.
func ExampleTransferID() {
	id := payflow.ID{0x01}
	hold := payflow.TransferID(id, 1, 0, 1)
	post := payflow.TransferID(id, 1, 0, 2)
	fmt.Println(hold == payflow.TransferID(id, 1, 0, 1), hold == post)
	// Output: true false
}
