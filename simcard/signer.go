package simcard

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

var elliptic256 = elliptic.P256()

// challengeLabel starts every message INTERNAL AUTHENTICATE signs. A COSE
// Sig_structure, what the card signs for a record, starts with the CBOR
// array header 84, never with this label, so the two can never be confused.
const challengeLabel = "CASIM-INTERNAL-AUTHENTICATE\x00"

// ChallengeMessage returns what a card with the given ICCID signs (ECDSA
// P-256 over its SHA-256) when INTERNAL AUTHENTICATE gives it challenge:
//
//	"CASIM-INTERNAL-AUTHENTICATE" 00 || len(iccid) (one octet) || iccid || challenge
//
// iccid must be a valid ICCID (pki.ValidICCID), as every card's is: that
// keeps its length within the one octet that carries it, so that no two
// pairs of ICCID and challenge share a message. Another iccid is an error
// matching pki.ErrCardID.
func ChallengeMessage(iccid string, challenge []byte) ([]byte, error) {
	if err := pki.ValidICCID(iccid); err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(challengeLabel)+1+len(iccid)+len(challenge))
	b = append(b, challengeLabel...)
	b = append(b, byte(len(iccid)))
	b = append(b, iccid...)
	return append(b, challenge...), nil
}

// VerifyChallenge reports whether sig (ASN.1 DER) is the card's answer to
// challenge: a signature by pub of ChallengeMessage(iccid, challenge). A
// card signs with ECDSA P-256 alone: a nil pub, one without a point, one
// on another curve or on none, or an iccid that is not a valid ICCID
// verifies nothing.
func VerifyChallenge(pub *ecdsa.PublicKey, iccid string, challenge, sig []byte) bool {
	if !record.IsP256(pub) {
		return false
	}
	msg, err := ChallengeMessage(iccid, challenge)
	if err != nil {
		return false
	}
	digest := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(pub, digest[:], sig)
}

// ErrRawDigest is returned by Signer.Sign unless its options are
// ChallengeOpts: a CA-SIM never signs a digest handed in by the phone.
var ErrRawDigest = errors.New("simcard: the card signs no raw digest (use ChallengeOpts)")

// ChallengeOpts are the only crypto.SignerOpts that Signer.Sign accepts: they
// say that the caller knows that the "digest" is a challenge, which the card
// signs inside ChallengeMessage. HashFunc returns 0: the challenge is not
// pre-hashed by the caller.
type ChallengeOpts struct{}

// HashFunc implements crypto.SignerOpts.
func (ChallengeOpts) HashFunc() crypto.Hash { return 0 }

// Signer is the crypto.Signer of a card's key. It is not a raw-digest
// oracle: Sign refuses every option but ChallengeOpts (ErrRawDigest), so
// generic users (crypto/x509, crypto/tls, record.Sign) get a clear error,
// never a signature over bytes the phone chose. With ChallengeOpts, Sign
// runs INTERNAL AUTHENTICATE: the signature verifies with VerifyChallenge,
// not over digest itself. Records are signed by the card itself through
// Card.SignAuthProof and its siblings.
//
// A Signer is safe for concurrent use.
type Signer struct {
	card  *Card
	pub   *ecdsa.PublicKey
	iccid string
}

var _ crypto.Signer = (*Signer)(nil)

// Signer returns the crypto.Signer of the card's key, reading the public key
// and the ICCID once.
func (c *Card) Signer() (*Signer, error) { return hold(c, c.signerLocked) }

func (c *Card) signerLocked() (*Signer, error) {
	pub, err := c.publicKeyLocked()
	if err != nil {
		return nil, err
	}
	iccid, err := c.iccidLocked()
	if err != nil {
		return nil, err
	}
	return &Signer{card: c, pub: pub, iccid: iccid}, nil
}

// Public returns the card's *ecdsa.PublicKey; nil for a nil Signer.
func (s *Signer) Public() crypto.PublicKey {
	if s == nil {
		return nil
	}
	return s.pub
}

// ICCID returns the card ID that ChallengeMessage binds; empty for a nil
// Signer.
func (s *Signer) ICCID() string {
	if s == nil {
		return ""
	}
	return s.iccid
}

// Sign has the card sign challenge (8 to 64 octets) as Card.Authenticate
// does, when opts is ChallengeOpts (or *ChallengeOpts); rand is not used,
// the card has its own. A challenge of the wrong length is ErrRefused,
// before anything is sent. A signature that does not verify with Public
// and ICCID (VerifyChallenge), as another card put in the reader since
// Signer answers, or a faulty one, is ErrResponse. Any other opts is
// ErrRawDigest; a nil Signer, which has no card, fails with
// ErrNoTransmitter.
func (s *Signer) Sign(_ io.Reader, challenge []byte, opts crypto.SignerOpts) ([]byte, error) {
	switch opts.(type) {
	case ChallengeOpts, *ChallengeOpts:
		if s == nil {
			return nil, ErrNoTransmitter
		}
		sig, err := s.card.Authenticate(challenge)
		if err != nil {
			return nil, err
		}
		if !VerifyChallenge(s.pub, s.iccid, challenge, sig) {
			return nil, fmt.Errorf("%w: the signature of the challenge does not verify with the key and ICCID of the card the Signer was made for", ErrResponse)
		}
		return sig, nil
	}
	return nil, ErrRawDigest
}

// AppendPublicKeyTemplate appends the answer of GENERATE KEY for pub, a
// P-256 key: 7F49 43 | 86 41 04 || X || Y. A key that is nil, has no
// point, is on another curve or on none, or cannot be encoded appends
// nothing.
func AppendPublicKeyTemplate(b []byte, pub *ecdsa.PublicKey) []byte {
	if !record.IsP256(pub) {
		return b
	}
	pt, err := pub.Bytes()
	if err != nil {
		return b
	}
	b = append(b, byte(PublicKeyTag>>8), byte(PublicKeyTag&0xFF), byte(2+len(pt)), PublicKeyPointTag, byte(len(pt)))
	return append(b, pt...)
}

// ParsePublicKeyTemplate reads the answer of GENERATE KEY, the template
// that AppendPublicKeyTemplate writes. One of another length or head, or
// whose point is not an uncompressed point of P-256, is ErrResponse, with
// what was wrong.
func ParsePublicKeyTemplate(b []byte) (*ecdsa.PublicKey, error) {
	if len(b) != 5+65 || b[0] != byte(PublicKeyTag>>8) || b[1] != byte(PublicKeyTag&0xFF) || b[2] != 67 ||
		b[3] != PublicKeyPointTag || b[4] != 65 {
		return nil, fmt.Errorf("%w: public key template of %d octets, not %04X 43 %02X 41 and a point of 65 octets", ErrResponse, len(b), PublicKeyTag, PublicKeyPointTag)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic256, b[5:])
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrResponse, err)
	}
	return pub, nil
}
