package applet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// ErrState is returned by New when the stored state cannot be read: the
// storage is corrupt or was written by something else.
var ErrState = errors.New("applet: unreadable card state")

const stateVersion = 1

// state is everything the card keeps in non-volatile memory.
type state struct {
	Version   uint8  `cbor:"1,keyasint"`
	Life      byte   `cbor:"2,keyasint"`
	ICCID     string `cbor:"3,keyasint,omitempty"`
	Key       []byte `cbor:"4,keyasint,omitempty"` // P-256 private scalar
	Cert      []byte `cbor:"5,keyasint,omitempty"`
	Chain     []byte `cbor:"6,keyasint,omitempty"`
	AdvSecret []byte `cbor:"7,keyasint"`
	Salt      []byte `cbor:"8,keyasint"`
	PINHash   []byte `cbor:"9,keyasint,omitempty"`
	PINTries  uint8  `cbor:"10,keyasint"`
	PUKHash   []byte `cbor:"11,keyasint,omitempty"`
	PUKTries  uint8  `cbor:"12,keyasint"`
	Counter   uint64 `cbor:"13,keyasint"`
	PINMax    uint8  `cbor:"14,keyasint"`
	PUKMax    uint8  `cbor:"15,keyasint"`
}

var (
	stateEnc cbor.EncMode
	stateDec cbor.DecMode
)

func init() {
	var err error
	if stateEnc, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	if stateDec, err = (cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxArrayElements:  16,
		MaxMapPairs:       32,
	}).DecMode(); err != nil {
		panic(err)
	}
}

func (s *state) marshal() ([]byte, error) { return stateEnc.Marshal(s) }

func parseState(b []byte) (state, *ecdsa.PrivateKey, error) {
	var s state
	if err := stateDec.Unmarshal(b, &s); err != nil {
		return state{}, nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	if s.Version != stateVersion || len(s.AdvSecret) != 16 || len(s.Salt) != saltSize ||
		s.PINMax == 0 || s.PINMax > 15 || s.PUKMax == 0 || s.PUKMax > 15 {
		return state{}, nil, fmt.Errorf("%w: version %d", ErrState, s.Version)
	}
	var key *ecdsa.PrivateKey
	if s.Key != nil {
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), s.Key)
		if err != nil {
			return state{}, nil, fmt.Errorf("%w: key: %v", ErrState, err)
		}
		key = k
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
