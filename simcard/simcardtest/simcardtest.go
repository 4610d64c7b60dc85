// Package simcardtest makes personalised virtual CA-SIM cards for tests,
// examples and demonstrations: an applet in memory (or on a Storage), a
// simcard.Card talking to it, and a self-contained demo certificate
// hierarchy to certify it. Nothing here is meant for production issuance.
package simcardtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/casimpay/casimpay/internal/nilptr"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
)

// Default PIN and PUK of the cards NewCard makes.
const (
	PIN = "123456"
	PUK = "12345678"
)

// NewCA returns a demo hierarchy: a root CA and the card-issuing CA under
// it, both with fresh P-256 keys, CRL URLs under https://pki.invalid/.
func NewCA() (root, issuer *pki.CA, err error) { return NewCAAt(nil) }

// NewCAAt is NewCA with both CAs on the clock now (nil means time.Now):
// their certificates, the certificates they issue and their CRLs start at
// its time.
func NewCAAt(now func() time.Time) (root, issuer *pki.CA, err error) {
	rk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	ik, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	root, err = pki.NewRoot(rk, pki.CAOptions{CRLURL: "https://pki.invalid/root.crl", Now: now})
	if err != nil {
		return nil, nil, err
	}
	issuer, err = root.NewIntermediate(ik, pki.CAOptions{CRLURL: "https://pki.invalid/card.crl", Now: now})
	if err != nil {
		return nil, nil, err
	}
	return root, issuer, nil
}

// RandomICCID returns a valid random ICCID of 19 digits starting with 89,
// drawn from r; nil means crypto/rand.Reader. A nil pointer (a nil
// *bytes.Reader, say) is no source: it is an error.
func RandomICCID(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	if nilptr.Is(r) {
		return "", errors.New("simcardtest: the source of randomness is a nil pointer")
	}
	n, err := rand.Int(r, new(big.Int).Exp(big.NewInt(10), big.NewInt(16), nil))
	if err != nil {
		return "", err
	}
	return pki.CompleteICCID(fmt.Sprintf("89%016d", n))
}

// Options configures NewCard. The zero Options holds the defaults.
type Options struct {
	// Storage holds the card state; nil means a new applet.Memory.
	Storage applet.Storage
	// Applet configures the applet.
	Applet applet.Options
	// ICCID is the card ID; empty means RandomICCID.
	ICCID string
	// PIN and PUK; empty means the constants PIN and PUK.
	PIN, PUK string
}

// Virtual is a personalised virtual card.
type Virtual struct {
	Applet    *applet.Applet
	Card      *simcard.Card
	Enrolment *simcard.Enrolment
	// Storage is the card's storage, for "power cycles" (applet.New on it).
	Storage applet.Storage
}

// NewCard makes a blank applet on opts.Storage, personalises it with issuer
// and leaves it selected. An error comes with a nil Virtual, but for one:
// when simcard.Card.Personalise returns its Enrolment together with its
// error (the card may be activated, after which it never reveals its
// advertising secret again), NewCard returns the Virtual holding that
// Enrolment with the error, the card not selected again.
func NewCard(issuer *pki.CA, opts Options) (*Virtual, error) {
	return newCard(issuer, opts, func(a *applet.Applet) simcard.Transmitter { return a })
}

// newCard is NewCard with the card talking to the applet through the
// Transmitter link returns for it.
func newCard(issuer *pki.CA, opts Options, link func(*applet.Applet) simcard.Transmitter) (*Virtual, error) {
	if opts.Storage == nil {
		opts.Storage = new(applet.Memory)
	}
	if opts.ICCID == "" {
		id, err := RandomICCID(nil)
		if err != nil {
			return nil, err
		}
		opts.ICCID = id
	}
	if opts.PIN == "" {
		opts.PIN = PIN
	}
	if opts.PUK == "" {
		opts.PUK = PUK
	}
	a, err := applet.New(opts.Storage, opts.Applet)
	if err != nil {
		return nil, err
	}
	card := simcard.New(link(a))
	enr, err := card.Personalise(issuer, simcard.Personalisation{ICCID: opts.ICCID, PIN: opts.PIN, PUK: opts.PUK})
	v := &Virtual{Applet: a, Card: card, Enrolment: enr, Storage: opts.Storage}
	if err != nil && enr != nil {
		return v, err // the card may be activated: enr is the only record of its secret
	}
	if err != nil {
		return nil, err
	}
	if _, err := card.Select(); err != nil {
		return nil, err
	}
	return v, nil
}
