package applet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
)

// ErrState is returned by New when the stored state cannot be read or does
// not hold together (an invalid ICCID, PIN or PUK reference data of the
// wrong size, a certificate that does not certify the card's key for its
// ICCID, an issuer chain that is not certificates each issued by the next,
// the first of them the issuer of the card's certificate, a signature counter
// above 0 on a card still being personalised): the storage is corrupt or
// was written by something else.
var ErrState = errors.New("applet: unreadable card state")

// ErrOptions is returned by New for tries out of range, no storage (the
// error then matches ErrNoStorage too) or a Rand that is a nil pointer.
var ErrOptions = errors.New("applet: invalid options")

// ErrNoCard is returned by Transmit of a nil *Applet, or of an Applet not
// made by New.
var ErrNoCard = errors.New("applet: no card")

// ErrNoStorage is returned by New for a nil Storage or one holding a nil
// pointer, and by Load and Store of a nil *Memory or *File, or of a File
// without a Path.
var ErrNoStorage = errors.New("applet: no storage")

const stateVersion = 1

// state is everything the card keeps in non-volatile memory.
type state struct {
	Version   uint8
	Life      byte
	ICCID     string
	Key       []byte // P-256 private scalar
	Cert      []byte
	Chain     []byte
	AdvSecret []byte
	Salt      []byte
	PINHash   []byte
	PINTries  uint8
	PUKHash   []byte
	PUKTries  uint8
	Counter   uint64
	PINMax    uint8
	PUKMax    uint8
}

// The state is stored in a small binary layout, cheap enough to write on
// every PIN try and every signature:
//
//	version life PINTries PINMax PUKTries PUKMax (one octet each)
//	counter (uint64 big-endian)
//	then ICCID, key, certificate, chain, advertising secret, salt, PIN hash,
//	PUK hash, each as a uint16 big-endian length and its octets.
func (s *state) marshal() ([]byte, error) { return s.appendBinary(nil) }

// appendBinary appends the stored form of s to b.
func (s *state) appendBinary(b []byte) ([]byte, error) {
	fields := [...][]byte{[]byte(s.ICCID), s.Key, s.Cert, s.Chain, s.AdvSecret, s.Salt, s.PINHash, s.PUKHash}
	n := 14
	for _, f := range fields {
		if len(f) > 0xFFFF {
			return nil, fmt.Errorf("applet: state field of %d octets", len(f))
		}
		n += 2 + len(f)
	}
	b = slices.Grow(b, n)
	b = append(b, s.Version, s.Life, s.PINTries, s.PINMax, s.PUKTries, s.PUKMax)
	b = binary.BigEndian.AppendUint64(b, s.Counter)
	for _, f := range fields {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b, nil
}

func unmarshalState(b []byte) (state, bool) {
	var s state
	if len(b) < 14 {
		return s, false
	}
	s.Version, s.Life, s.PINTries, s.PINMax, s.PUKTries, s.PUKMax = b[0], b[1], b[2], b[3], b[4], b[5]
	s.Counter = binary.BigEndian.Uint64(b[6:14])
	b = b[14:]
	var iccid []byte
	for _, f := range [...]*[]byte{&iccid, &s.Key, &s.Cert, &s.Chain, &s.AdvSecret, &s.Salt, &s.PINHash, &s.PUKHash} {
		if len(b) < 2 {
			return s, false
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return s, false
		}
		if n > 0 {
			*f = bytes.Clone(b[2 : 2+n])
		}
		b = b[2+n:]
	}
	s.ICCID = string(iccid)
	return s, len(b) == 0
}

func parseState(b []byte) (state, *ecdsa.PrivateKey, error) {
	s, ok := unmarshalState(b)
	if !ok {
		return state{}, nil, fmt.Errorf("%w: bad layout", ErrState)
	}
	if s.Version != stateVersion {
		return state{}, nil, fmt.Errorf("%w: version %d", ErrState, s.Version)
	}
	if len(s.AdvSecret) != adv.SecretSize || len(s.Salt) != saltSize ||
		s.PINMax == 0 || s.PINMax > simcard.MaxTries || s.PUKMax == 0 || s.PUKMax > simcard.MaxTries ||
		s.PINTries > s.PINMax || s.PUKTries > s.PUKMax ||
		(s.Life != simcard.LifePersonalisation && s.Life != simcard.LifeOperational) {
		return state{}, nil, fmt.Errorf("%w: secret, salt, tries or life-cycle state out of range", ErrState)
	}
	if s.ICCID != "" && pki.ValidICCID(s.ICCID) != nil {
		return state{}, nil, fmt.Errorf("%w: ICCID %q", ErrState, s.ICCID)
	}
	if (s.PINHash != nil && len(s.PINHash) != sha256.Size) || (s.PUKHash != nil && len(s.PUKHash) != sha256.Size) {
		return state{}, nil, fmt.Errorf("%w: PIN or PUK reference of the wrong size", ErrState)
	}
	var key *ecdsa.PrivateKey
	if s.Key != nil {
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), s.Key)
		if err != nil {
			return state{}, nil, fmt.Errorf("%w: key: %v", ErrState, err)
		}
		key = k
	}
	if s.Life == simcard.LifeOperational && (key == nil || s.ICCID == "" || s.Cert == nil ||
		s.PINHash == nil || s.PUKHash == nil) {
		return state{}, nil, fmt.Errorf("%w: operational card without key, ICCID, certificate, PIN or PUK", ErrState)
	}
	// A card signs nothing before activation: its counter is still 0.
	if s.Life == simcard.LifePersonalisation && s.Counter != 0 {
		return state{}, nil, fmt.Errorf("%w: counter %d before activation", ErrState, s.Counter)
	}
	// PUT DATA takes only a certificate of the card's key for its ICCID,
	// and only a chain that links, in itself and to the certificate; a
	// certificate the chain did not issue drops it. So in either
	// life-cycle state the chain, when stored, issued the certificate.
	var cert *x509.Certificate
	if s.Cert != nil {
		if key != nil {
			cert = cardCertificate(s.Cert, &key.PublicKey, s.ICCID)
		}
		if cert == nil {
			return state{}, nil, fmt.Errorf("%w: the certificate does not certify the card's key for its ICCID", ErrState)
		}
	}
	// A chain that holds the root (holdsRoot), which PUT DATA 0107
	// refuses but earlier versions of the applet took, is loaded all the
	// same: verifiers take it, and refusing it would leave the card
	// unable to start.
	if s.Chain != nil && !chainLinks(cert, s.Chain) {
		return state{}, nil, fmt.Errorf("%w: the issuer chain is not certificates in DER that issued the card's certificate and each other", ErrState)
	}
	return s, key, nil
}

const saltSize = 16

// secretHash returns the reference data stored for a PIN or PUK: a
// domain-separated SHA-256 of the card's salt and the digits, so that the
// state holds no PIN in clear.
func secretHash(label string, salt, digits []byte) []byte {
	h := sha256.New()
	h.Write([]byte(label))
	h.Write(salt)
	h.Write(digits)
	return h.Sum(nil)
}

const (
	labelPIN = "CASIM-PIN\x00"
	labelPUK = "CASIM-PUK\x00"
)
