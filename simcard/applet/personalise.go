package applet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/binary"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func tag(cmd simcard.Command) uint16 { return uint16(cmd.P1)<<8 | uint16(cmd.P2) }

func (a *Applet) getDataLocked(cmd simcard.Command) ([]byte, uint16) {
	if len(cmd.Data) != 0 {
		return nil, simcard.SWWrongLength
	}
	st := &a.st
	var v []byte
	switch tag(cmd) {
	case simcard.TagICCID:
		v = []byte(st.ICCID)
	case simcard.TagCertificate:
		v = st.Cert
	case simcard.TagChain:
		v = st.Chain
	case simcard.TagPublicKey:
		if a.key != nil {
			v = publicPoint(&a.key.PublicKey)
		}
	case simcard.TagCounter:
		v = binary.BigEndian.AppendUint64(nil, st.Counter)
	case simcard.TagPINStatus:
		if st.PINHash != nil {
			v = []byte{st.PINTries, a.st.PINMax}
		}
	case simcard.TagPUKStatus:
		if st.PUKHash != nil {
			v = []byte{st.PUKTries, a.st.PUKMax}
		}
	case simcard.TagLifeCycle:
		v = []byte{st.Life}
	case simcard.TagAdvSecret:
		if st.Life != simcard.LifePersonalisation {
			return nil, simcard.SWSecurityStatus
		}
		v = st.AdvSecret
	default:
		return nil, simcard.SWDataNotFound
	}
	if len(v) == 0 {
		return nil, simcard.SWDataNotFound
	}
	return append([]byte(nil), v...), simcard.SWSuccess
}

func publicPoint(pub *ecdsa.PublicKey) []byte {
	b, err := pub.Bytes()
	if err != nil {
		return nil
	}
	return b
}

func (a *Applet) putDataLocked(cmd simcard.Command) ([]byte, uint16) {
	if a.st.Life != simcard.LifePersonalisation {
		return nil, simcard.SWConditions
	}
	if len(cmd.Data) == 0 && tag(cmd) != simcard.TagChain {
		return nil, simcard.SWWrongLength
	}
	next := a.st
	switch tag(cmd) {
	case simcard.TagICCID:
		if pki.ValidICCID(string(cmd.Data)) != nil {
			return nil, simcard.SWWrongData
		}
		if next.ICCID != string(cmd.Data) {
			next.Cert = nil // certified the card under the ICCID it replaces
		}
		next.ICCID = string(cmd.Data)
	case simcard.TagCertificate:
		if a.key == nil || next.ICCID == "" {
			return nil, simcard.SWConditions
		}
		cert := cardCertificate(cmd.Data, &a.key.PublicKey, next.ICCID)
		if cert == nil {
			return nil, simcard.SWWrongData
		}
		if next.Chain != nil && !chainLinks(cert, next.Chain) {
			// Another CA issued it: the chain stored before is not its
			// issuers' and goes; PUT DATA 0107 must put theirs.
			next.Chain = nil
		}
		next.Cert = bytes.Clone(cmd.Data)
	case simcard.TagChain:
		if len(cmd.Data) == 0 {
			// No chain: the one stored, if any, goes, as for a card a
			// root certifies, which has none.
			next.Chain = nil
			break
		}
		var cert *x509.Certificate
		if next.Cert != nil {
			c, err := pki.ParseCertificate(next.Cert)
			if err != nil {
				return nil, simcard.SWWrongData
			}
			cert = c
		}
		certs, ok := parseChain(cmd.Data)
		if !ok || !linked(cert, certs) || holdsRoot(certs) {
			return nil, simcard.SWWrongData
		}
		next.Chain = bytes.Clone(cmd.Data)
	case simcard.TagPIN:
		if !simcard.ValidPIN(cmd.Data) {
			return nil, simcard.SWWrongData
		}
		next.PINHash = secretHash(labelPIN, next.Salt, cmd.Data)
		next.PINTries = a.st.PINMax
	case simcard.TagPUK:
		if !simcard.ValidPUK(cmd.Data) {
			return nil, simcard.SWWrongData
		}
		next.PUKHash = secretHash(labelPUK, next.Salt, cmd.Data)
		next.PUKTries = a.st.PUKMax
	default:
		return nil, simcard.SWDataNotFound
	}
	if a.persistLocked(next) != nil {
		return nil, simcard.SWMemoryFailure
	}
	return nil, simcard.SWSuccess
}

// cardCertificate returns der parsed when it is a certificate of pub naming
// the card iccid as verifiers read it (pki.CardID), and nil otherwise.
func cardCertificate(der []byte, pub *ecdsa.PublicKey, iccid string) *x509.Certificate {
	c, err := pki.ParseCertificate(der)
	if err != nil {
		return nil
	}
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || !k.Equal(pub) {
		return nil
	}
	if id, err := pki.CardID(c); err != nil || id != iccid {
		return nil
	}
	return c
}

// chainLinks reports whether chain is one or more certificates in DER, back
// to back (parseChain), each issued by the next one, and whether cert,
// unless nil, is issued by the first one (linked).
func chainLinks(cert *x509.Certificate, chain []byte) bool {
	certs, ok := parseChain(chain)
	return ok && linked(cert, certs)
}

// parseChain returns the certificates of chain, in DER, back to back, and
// false when chain is empty or anything else.
func parseChain(chain []byte) ([]*x509.Certificate, bool) {
	var certs []*x509.Certificate
	s := cryptobyte.String(chain)
	for !s.Empty() {
		var der cryptobyte.String
		if !s.ReadASN1Element(&der, cbasn1.SEQUENCE) {
			return nil, false
		}
		c, err := pki.ParseCertificate(der)
		if err != nil {
			return nil, false
		}
		certs = append(certs, c)
	}
	return certs, len(certs) > 0
}

// linked reports whether each of certs is issued by the next one, and
// cert, unless nil, by the first one. A certificate is issued by another
// when its issuer name is the other's subject name and the other, a CA
// certificate (basic constraints CA, and keyCertSign if it has a key
// usage), has the key that checks its signature. A certificate without
// basic constraints (of version 1, which x509 would take as a CA's)
// issues nothing. The last certificate's issuer, the root, is not in the
// chain and not checked.
func linked(cert *x509.Certificate, certs []*x509.Certificate) bool {
	child := cert
	for _, parent := range certs {
		if child != nil && (!parent.BasicConstraintsValid || !bytes.Equal(child.RawIssuer, parent.RawSubject) ||
			child.CheckSignatureFrom(parent) != nil) {
			return false
		}
		child = parent
	}
	return true
}

// holdsRoot reports whether certs hold a root: a certificate whose issuer
// name is, octet for octet, its subject name and whose own key verifies
// its signature (with no regard to its basic constraints or key usage). A
// certificate that names itself as its issuer but that its own key does
// not verify (a CA bearing the name of the CA that certified it, under
// another key) is no root. The chain the card holds leaves the root out
// (PROTOCOL.md §2.4): PUT DATA 0107 refuses one that holds it, while a
// state that an earlier version of the applet stored with one is loaded
// all the same (parseState).
func holdsRoot(certs []*x509.Certificate) bool {
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return true
		}
	}
	return false
}

func (a *Applet) generateKeyLocked(cmd simcard.Command) ([]byte, uint16) {
	if cmd.P1 != simcard.GenerateKeyP1 || cmd.P2 != 0 {
		return nil, simcard.SWWrongP1P2
	}
	if len(cmd.Data) != 0 {
		return nil, simcard.SWWrongLength
	}
	if a.st.Life != simcard.LifePersonalisation {
		return nil, simcard.SWConditions
	}
	key, err := a.ops.generateKey(elliptic.P256(), a.opts.Rand)
	if err != nil {
		return nil, simcard.SWNoDiagnosis
	}
	raw, err := key.Bytes()
	if err != nil {
		return nil, simcard.SWNoDiagnosis
	}
	next := a.st
	next.Key = raw
	next.Cert = nil // certified a key that is gone
	if a.persistLocked(next) != nil {
		return nil, simcard.SWMemoryFailure
	}
	a.key = key
	return simcard.AppendPublicKeyTemplate(nil, &key.PublicKey), simcard.SWSuccess
}

func (a *Applet) activateLocked(cmd simcard.Command) ([]byte, uint16) {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return nil, simcard.SWWrongP1P2
	}
	if len(cmd.Data) != 0 {
		return nil, simcard.SWWrongLength
	}
	st := &a.st
	if st.Life != simcard.LifePersonalisation || st.ICCID == "" || a.key == nil ||
		st.Cert == nil || st.PINHash == nil || st.PUKHash == nil ||
		cardCertificate(st.Cert, &a.key.PublicKey, st.ICCID) == nil {
		return nil, simcard.SWConditions
	}
	next := a.st
	next.Life = simcard.LifeOperational
	if a.persistLocked(next) != nil {
		return nil, simcard.SWMemoryFailure
	}
	return nil, simcard.SWSuccess
}
