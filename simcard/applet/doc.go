// Package applet is the card side of a CA-SIM: the applet that a SIM card
// runs, here in Go, behind a real APDU boundary. Its only interface is
// Transmit (command APDU in, response APDU out) and Reset (power cycle), as on
// a card; PROTOCOL.md §2 is its contract and package simcard its client.
//
// The applet keeps its persistent state (ICCID, private key, certificate and
// issuer chain, advertising secret, PIN and PUK reference data with their
// tries, signature counter) in a Storage: Memory for tests, File for a
// virtual card that survives restarts. It acknowledges a command only after
// the state it changed is stored, so a power cut never loses an
// acknowledged change and never gives a free PIN try: the tries are
// decremented and stored before the PIN is compared, in constant time.
//
// A blank card starts in the personalisation state (simcard.Card.Personalise
// drives it); ACTIVATE moves it to the operational state, where it signs the
// records of package record that it builds itself, answers challenges with
// INTERNAL AUTHENTICATE and computes its advert for any epoch from its
// advertising secret. There is no instruction and no exported method that
// returns the private key.
//
//	a, err := applet.New(&applet.File{Path: "card.state"}, applet.Options{})
//	card := simcard.New(a) // the phone's view
package applet
