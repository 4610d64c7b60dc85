package simcard

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki"
)

// Personalisation is what an issuer writes into a blank card.
type Personalisation struct {
	// ICCID is the card ID: 19 or 20 digits starting with 89, Luhn check
	// digit last (pki.ValidICCID; pki.CompleteICCID makes one).
	ICCID string
	// PIN (4 to 12 digits) and PUK (8 digits).
	PIN, PUK string
	// Issue configures the card certificate.
	Issue pki.IssueOptions
}

// Enrolment is what the issuer hands the cloud platform for a personalised
// card: its identity, its certificate chain and its advertising secret. The
// secret leaves the card only here, before activation; the platform keeps it
// to resolve the card's EIDs (adv.Resolver.Enrol) and nobody else may see it.
type Enrolment struct {
	ICCID string
	// Chain is the card certificate followed by the issuing CA's chain
	// (root excluded), DER.
	Chain [][]byte
	// PublicKey is the card's key, generated on the card.
	PublicKey *ecdsa.PublicKey
	// AdvertisingSecret is the card's 16-octet advertising secret.
	AdvertisingSecret []byte
}

// ErrNotStored is returned by Personalise when the card, read back before
// ACTIVATE, does not hold exactly the certificate and the issuer chain
// Personalise put: one is missing or differs, or a chain is stored where
// none was put. The card is left in personalisation, not activated.
var ErrNotStored = errors.New("simcard: card does not hold the certificate and chain put")

// Personalise turns a blank card (in LifePersonalisation) into an
// operational one: it writes the ICCID, has the card generate its key, has
// issuer certify the public key for the ICCID, stores the certificate and
// the issuer's chain (a root has none: the card's chain is deleted), sets
// the PIN and the PUK, reads the advertising secret, reads the certificate
// and the chain back and activates the card, after which the secret can no
// longer be read and nothing but the PIN can be changed. A card left in
// personalisation by an earlier attempt, under issuer or another CA, is
// personalised afresh: the new key drops the certificate it holds, the new
// certificate a chain that did not issue it, and a root issuer, which puts
// no chain, deletes one that did. An operational card is ErrConditions; no
// issuer (a nil *pki.CA, or the zero CA, which issues nothing:
// pki.ErrInvalid), an invalid ICCID (pki.ErrCardID), PIN or PUK
// (ErrFormat), or an issuer that cannot certify the card whatever its key
// (pki.CA.CheckIssueCard: its certificate expired, p.Issue out of range, a
// subject or CRL URL of issuer that can make the card's certificate longer
// than pki.MaxCertificateSize; the error of IssueCard) is an error before
// anything is sent to the card, and a card without a Transmitter is
// ErrNoTransmitter before any of these. A card that does not read back,
// octet for octet, the certificate and the chain put (none when issuer is a
// root) is ErrNotStored, and is not activated; one that answers either read
// back with 9000 and no data, where it answers 6A88 for an object it does
// not hold, is ErrResponse, and is not activated either; only 6A88
// answering GET DATA 0107 itself reads back as no chain stored: any other
// status word (6A82 included) ends Personalise with its *StatusError, the
// card not activated. ACTIVATE that fails may have been carried out all the
// same (its answer lost or unreadable), after which the card never reveals
// its advertising secret again: Personalise then selects the applet again
// and returns the Enrolment, without error, for a card found operational
// with the public key it generated, and the error for one found in
// personalisation, which another Personalise personalises afresh. When that
// SELECT fails too, Personalise returns the Enrolment together with the
// error, unless the card answered ACTIVATE itself with a status word; when
// the card found operational holds another public key (ErrResponse, as
// another card put in the reader since does) or its key cannot be read, it
// returns the Enrolment together with the error whatever answered ACTIVATE:
// the card may be operational, and the Enrolment is then the only record of
// its secret. Personalise has the card to itself from SELECT to ACTIVATE,
// the issuer's signature of the certificate included: the other methods of
// c wait for it, as long as the issuer's key takes to sign.
func (c *Card) Personalise(issuer *pki.CA, p Personalisation) (*Enrolment, error) {
	if err := c.ready(); err != nil {
		return nil, err
	}
	if issuer.Certificate() == nil { // a nil or zero CA, which issues nothing
		return nil, fmt.Errorf("simcard: no issuer: %w", pki.ErrInvalid)
	}
	if err := pki.ValidICCID(p.ICCID); err != nil {
		return nil, err
	}
	if !ValidPIN(p.PIN) || !ValidPUK(p.PUK) {
		return nil, ErrFormat
	}
	// What IssueCard would refuse whatever the card's key, before the
	// card writes its ICCID and generates a key for nothing.
	if err := issuer.CheckIssueCard(p.ICCID, p.Issue); err != nil {
		return nil, errCertify(err)
	}
	return hold(c, func() (*Enrolment, error) { return c.personaliseLocked(issuer, p) })
}

// errCertify is Personalise's error for err, the refusal of IssueCard or
// CheckIssueCard.
func errCertify(err error) error { return fmt.Errorf("simcard: certify card: %w", err) }

func (c *Card) personaliseLocked(issuer *pki.CA, p Personalisation) (*Enrolment, error) {
	life, err := c.selectLocked()
	if err != nil {
		return nil, err
	}
	if life != LifePersonalisation {
		return nil, &StatusError{SW: SWConditions, Ins: InsActivate}
	}
	if err := c.putDataLocked(TagICCID, []byte(p.ICCID)); err != nil {
		return nil, err
	}
	tmpl, err := c.exchangeLocked(Command{CLA: ClassISO, INS: InsGenerateKey, P1: GenerateKeyP1, Ne: 256})
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKeyTemplate(tmpl)
	if err != nil {
		return nil, err
	}
	cert, err := issuer.IssueCard(pub, p.ICCID, p.Issue)
	if err != nil {
		return nil, errCertify(err)
	}
	if err := c.putDataLocked(TagCertificate, cert); err != nil {
		return nil, err
	}
	// A root puts no chain: PUT DATA 0107 without data deletes one left
	// by an earlier attempt that still issues the certificate.
	issuers := issuer.Chain()
	chain := bytes.Join(issuers, nil)
	if err := c.putDataLocked(TagChain, chain); err != nil {
		return nil, err
	}
	if err := c.putDataLocked(TagPIN, []byte(p.PIN)); err != nil {
		return nil, err
	}
	if err := c.putDataLocked(TagPUK, []byte(p.PUK)); err != nil {
		return nil, err
	}
	secret, err := c.getDataLocked(TagAdvSecret)
	if err != nil {
		return nil, err
	}
	if len(secret) != adv.SecretSize {
		return nil, fmt.Errorf("%w: advertising secret of %d octets", ErrResponse, len(secret))
	}
	// ACTIVATE asks for no chain, so a chain lost or left over would
	// otherwise show only at enrolment.
	if err := c.checkStoredLocked(TagCertificate, "certificate", cert); err != nil {
		return nil, err
	}
	if err := c.checkStoredLocked(TagChain, "issuer chain", chain); err != nil {
		return nil, err
	}
	enr := &Enrolment{
		ICCID:             p.ICCID,
		Chain:             append([][]byte{cert}, issuers...),
		PublicKey:         pub,
		AdvertisingSecret: secret,
	}
	if _, err := c.exchangeLocked(Command{CLA: ClassISO, INS: InsActivate}); err != nil {
		return c.activateFailedLocked(enr, err)
	}
	return enr, nil
}

// activateFailedLocked returns what Personalise returns when ACTIVATE
// failed with err. The card may have carried it out all the same (its
// answer lost or unreadable, or a GET RESPONSE after its 61xx failing),
// after which it never reveals its advertising secret again: so it selects
// the applet again. A card found operational that holds enr's public key
// took ACTIVATE, and enr is returned without error; one found in
// personalisation did not, and err is returned. When that SELECT fails
// too, enr is returned with err, unless err is a status word answering
// ACTIVATE itself, with which the card refused it; when the card found
// operational holds another key (ErrResponse: another card put in the
// reader since) or its key cannot be read, enr is returned with err
// whatever err is.
func (c *Card) activateFailedLocked(enr *Enrolment, err error) (*Enrolment, error) {
	life, serr := c.selectLocked()
	switch {
	case serr == nil && life == LifeOperational:
		pub, perr := c.publicKeyLocked()
		if perr == nil && pub.Equal(enr.PublicKey) {
			return enr, nil
		}
		if perr == nil {
			perr = fmt.Errorf("%w: the operational card holds another public key than the card personalised", ErrResponse)
		}
		return enr, fmt.Errorf("%w (the card may be activated; its public key after ACTIVATE: %w)", err, perr)
	case serr == nil:
		return nil, err
	}
	var se *StatusError
	if errors.As(err, &se) && se.Ins == InsActivate {
		return nil, err
	}
	return enr, fmt.Errorf("%w (the card may be activated; SELECT after ACTIVATE: %w)", err, serr)
}

// checkStoredLocked reads the data object tag (called name in errors) back
// and returns ErrNotStored unless it holds want, octet for octet; an empty
// want asks for no object (6A88 answering GET DATA itself; answering the
// GET RESPONSE after its 61xx, it is the *StatusError it is elsewhere).
func (c *Card) checkStoredLocked(tag uint16, name string, want []byte) error {
	got, err := c.getHeldLocked(tag)
	if err != nil {
		return err
	}
	switch {
	case bytes.Equal(got, want):
		return nil
	case len(got) == 0:
		return fmt.Errorf("%w: no %s stored (GET DATA %04X)", ErrNotStored, name, tag)
	case len(want) == 0:
		return fmt.Errorf("%w: %s of %d octets stored where none was put (GET DATA %04X)", ErrNotStored, name, len(got), tag)
	}
	return fmt.Errorf("%w: %s stored (GET DATA %04X) differs from the one put", ErrNotStored, name, tag)
}

func (c *Card) putDataLocked(tag uint16, v []byte) error {
	_, err := c.exchangeLocked(Command{CLA: ClassISO, INS: InsPutData, P1: byte(tag >> 8), P2: byte(tag), Data: v})
	return err
}
