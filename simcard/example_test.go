package simcard_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// An issuer personalises a blank card; the phone then verifies the PIN and
// has the card sign a consent, which the cloud verifies with the card's key.
func ExampleCard_SignConsent() {
	_, issuer, err := simcardtest.NewCA()
	if err != nil {
		panic(err)
	}
	a, err := applet.New(new(applet.Memory), applet.Options{}) // a blank card
	if err != nil {
		panic(err)
	}
	card := simcard.New(a)
	enr, err := card.Personalise(issuer, simcard.Personalisation{
		ICCID: "89014103211118510720", PIN: "123456", PUK: "12345678",
	})
	if err != nil {
		panic(err)
	}

	if _, err := card.Select(); err != nil {
		panic(err)
	}
	consent := &record.Consent{
		RequestID:   bytes.Repeat([]byte{1}, 16),
		RequestHash: bytes.Repeat([]byte{2}, 32),
		Nonce:       bytes.Repeat([]byte{3}, 32),
		Amount:      1234, Currency: "EUR", MerchantID: "grocer-1",
	}
	_, err = card.SignConsent(consent)
	fmt.Println(errors.Is(err, simcard.ErrPINRequired))

	if err := card.VerifyPIN("123456"); err != nil {
		panic(err)
	}
	msg, err := card.SignConsent(consent)
	if err != nil {
		panic(err)
	}
	var got record.Consent
	if err := record.Verify(msg, enr.PublicKey, &got); err != nil {
		panic(err)
	}
	fmt.Println(got.CardID, got.Counter, got.Amount, got.Currency)
	// Output:
	// true
	// 89014103211118510720 1 1234 EUR
}

// A wrong PIN reports the tries left; after the last one the PIN is
// blocked, even the right one, until the PUK restores it.
func ExampleCard_VerifyPIN() {
	_, issuer, _ := simcardtest.NewCA()
	v, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	if err != nil {
		panic(err)
	}
	for range 3 {
		err := v.Card.VerifyPIN("000000")
		var se *simcard.StatusError
		if errors.As(err, &se) && errors.Is(err, simcard.ErrWrongPIN) {
			n, _ := se.TriesLeft()
			fmt.Printf("status %04X, %d tries left\n", se.SW, n)
		}
	}
	fmt.Println(errors.Is(v.Card.VerifyPIN(simcardtest.PIN), simcard.ErrPINBlocked))
	fmt.Println(v.Card.Unblock(simcardtest.PUK, "2468"), v.Card.VerifyPIN("2468"))
	// Output:
	// status 63C2, 2 tries left
	// status 63C1, 1 tries left
	// status 63C0, 0 tries left
	// true
	// <nil> <nil>
}

// The card computes its advert for an epoch from its advertising secret;
// the cloud, which received the secret at enrolment, derives the same EID.
func ExampleCard_Advert() {
	_, issuer, _ := simcardtest.NewCA()
	v, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	if err != nil {
		panic(err)
	}
	const epoch = 2945376 // adv.Epoch(2026-01-01T00:00:00Z)
	b, err := v.Card.Advert(epoch, adv.Seller, 0)
	if err != nil {
		panic(err)
	}
	p, err := adv.Parse(b)
	if err != nil {
		panic(err)
	}
	eid, _ := adv.DeriveEID(v.Enrolment.AdvertisingSecret, epoch)
	fmt.Println(len(b), p.Role, p.EID == eid)
	// Output:
	// 31 seller true
}

// The card's crypto.Signer signs challenges only, inside a domain-separated
// message; a raw digest is refused.
func ExampleSigner() {
	_, issuer, _ := simcardtest.NewCA()
	v, _ := simcardtest.NewCard(issuer, simcardtest.Options{})
	s, err := v.Card.Signer()
	if err != nil {
		panic(err)
	}
	challenge := bytes.Repeat([]byte{0x5A}, 32)
	_, err = s.Sign(nil, challenge, nil)
	fmt.Println(err)
	sig, err := s.Sign(nil, challenge, simcard.ChallengeOpts{})
	if err != nil {
		panic(err)
	}
	fmt.Println(simcard.VerifyChallenge(v.Enrolment.PublicKey, s.ICCID(), challenge, sig))
	// Output:
	// simcard: the card signs no raw digest (use ChallengeOpts)
	// true
}

func ExampleParseCommand() {
	c, err := simcard.ParseCommand([]byte{0x00, 0xCA, 0x01, 0x01, 0x00})
	if err != nil {
		panic(err)
	}
	fmt.Printf("INS %02X P1P2 %02X%02X Nc %d Ne %d\n", c.INS, c.P1, c.P2, len(c.Data), c.Ne)
	// Output:
	// INS CA P1P2 0101 Nc 0 Ne 256
}
