// Package simcard is the phone's side of a CA-SIM: a SIM card that holds an
// X.509 certificate, an ECDSA P-256 key that never leaves it, a signature
// counter and an advertising secret, reachable only through ISO/IEC 7816-4
// APDUs (PROTOCOL.md §2).
//
// A Card wraps any Transmitter (a PC/SC reader, Android's Open Mobile API,
// or the in-process applet of package simcard/applet) into Go methods:
// Select, ICCID, Certificate, Chain, VerifyPIN, ChangePIN, Unblock, PINTries,
// Advert, Counter, and the signing instructions SignAuthProof,
// SignPaymentRequest, SignConsent and SignRefundRequest. The card builds
// each record itself from the fields the phone sends, adds its ICCID and its
// counter (incremented and stored first) and returns the COSE_Sign1 message
// of package record; it never signs a digest handed in by the phone, so the
// Card's crypto.Signer (Signer) signs only challenges, inside a
// domain-separated message (ChallengeMessage).
//
// Errors are structured: a status word other than 9000 is a *StatusError,
// which matches ErrWrongPIN, ErrPINBlocked, ErrPINRequired and the other
// sentinels with errors.Is and tells the tries left of a 63Cx:
//
//	err := card.VerifyPIN(pin)
//	var se *simcard.StatusError
//	switch {
//	case errors.Is(err, simcard.ErrPINBlocked):
//		// ask for the PUK: card.Unblock(puk, newPIN)
//	case errors.As(err, &se) && errors.Is(err, simcard.ErrWrongPIN):
//		n, _ := se.TriesLeft()
//		fmt.Printf("wrong PIN, %d tries left\n", n)
//	}
//
// Personalise turns a blank card into an operational one for an issuer
// (package pki) and returns the Enrolment the cloud platform needs,
// including the card's advertising secret, which can be read only before the
// card is activated.
//
// The wire constants (AID, instructions, data-object tags, status words) and
// the APDU codec (Command, ParseCommand, Response) are shared with the card
// side, package simcard/applet.
package simcard
