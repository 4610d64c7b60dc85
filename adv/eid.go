package adv

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"time"
)

// SecretSize is the length of a card's advertising secret: 16 random octets
// the card generates at personalisation and shares only with the cloud.
const SecretSize = 16

// EpochSeconds is the length of an EID epoch: EIDs change every ten minutes.
const EpochSeconds = 600

// ErrSecret is returned for an advertising secret that is not SecretSize
// octets.
var ErrSecret = errors.New("adv: advertising secret must be 16 octets")

// eidkInfo and eidPrefix are the domain separators of the derivation.
const (
	eidkInfo  = "CASIM-EIDK"
	eidPrefix = "CASIM-EID"
	pairLabel = "CASIM-PAIR"
)

// Epoch returns the EID epoch of t: Unix seconds / 600, or 0 before 1970,
// and math.MaxUint32 from the start of that epoch (in the year 83,631) on
// rather than wrapping round to 0.
func Epoch(t time.Time) uint32 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	return uint32(min(s/EpochSeconds, math.MaxUint32))
}

// EpochStart returns the first instant of epoch e, in UTC.
func EpochStart(e uint32) time.Time {
	return time.Unix(int64(e)*EpochSeconds, 0).UTC()
}

// EIDKey is a card's EID key, EIDK = HKDF-SHA256(secret, salt nil,
// info "CASIM-EIDK", 16 octets), with its AES-128 key schedule expanded once
// so that each EID costs one block encryption. An EIDKey is safe for
// concurrent use; the zero EIDKey is not usable (use NewEIDKey): its EID
// panics.
type EIDKey struct {
	block cipher.Block
}

// NewEIDKey derives the EID key of an advertising secret. It returns
// ErrSecret when the secret is not SecretSize octets.
func NewEIDKey(secret []byte) (*EIDKey, error) {
	k, err := eidk(secret)
	if err != nil {
		return nil, err
	}
	return newEIDKey(k), nil
}

func newEIDKey(k [16]byte) *EIDKey {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic("adv: aes.NewCipher of a 16-octet key: " + err.Error()) // unreachable
	}
	return &EIDKey{block: b}
}

// eidk returns EIDK for an advertising secret.
func eidk(secret []byte) ([16]byte, error) {
	var k [16]byte
	if len(secret) != SecretSize {
		return k, ErrSecret
	}
	out, err := hkdf.Key(sha256.New, secret, nil, eidkInfo, len(k))
	if err != nil {
		return k, err // unreachable: 16 octets is far below the HKDF limit
	}
	copy(k[:], out)
	return k, nil
}

// EID returns the EID of the given epoch:
// AES-128(EIDK, "CASIM-EID" || 00 00 00 || epoch as uint32 little-endian).
// It does not allocate. A nil or zero EIDKey has no key: EID panics,
// saying so, as it is a program's error (NewEIDKey makes every EIDKey).
func (k *EIDKey) EID(epoch uint32) EID {
	if k == nil || k.block == nil {
		panic("adv: EID of a nil or zero EIDKey (make one with NewEIDKey)")
	}
	buf := scratch.Get().(*[16]byte)
	eid := eidWith(k.block, epoch, buf)
	scratch.Put(buf)
	return eid
}

// scratch holds 16-octet buffers for the block cipher: a slice handed to an
// interface method escapes to the heap, so EID reuses them.
var scratch = sync.Pool{New: func() any { return new([16]byte) }}

// eidWith computes an EID with the expanded key b, using buf as scratch.
func eidWith(b cipher.Block, epoch uint32, buf *[16]byte) EID {
	*buf = [16]byte{}
	copy(buf[:], eidPrefix)
	binary.LittleEndian.PutUint32(buf[12:], epoch)
	b.Encrypt(buf[:], buf[:])
	return *buf
}

// DeriveEID returns the EID of a card's advertising secret for an epoch
// (see Epoch). It returns ErrSecret when the secret is not SecretSize octets.
// To derive many EIDs of one card, NewEIDKey is cheaper.
func DeriveEID(secret []byte, epoch uint32) (EID, error) {
	k, err := NewEIDKey(secret)
	if err != nil {
		return EID{}, err
	}
	return k.EID(epoch), nil
}

// PairingCode returns the 6-digit code that both phones show for a pair of
// EIDs, the same whichever order they are given in:
//
//	h    = SHA-256("CASIM-PAIR" || min(a, b) || max(a, b))
//	code = uint32 big-endian of h[0:4] mod 1,000,000, as 6 decimal digits
//
// where min and max compare the EIDs as unsigned big-endian numbers (octet
// by octet). Two different pairs of EIDs give the same code with a chance of
// about one in a million: equal codes on two screens show that they heard
// the same two EIDs but for that chance. The reduction is slightly biased
// (codes below 967296 come from one more value of h[0:4] than the others,
// 4,295 against 4,294), which changes that chance by less than 1 in 4,000.
func PairingCode(a, b EID) string {
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	var in [len(pairLabel) + 32]byte
	copy(in[:], pairLabel)
	copy(in[len(pairLabel):], a[:])
	copy(in[len(pairLabel)+16:], b[:])
	h := sha256.Sum256(in[:])
	n := binary.BigEndian.Uint32(h[:4]) % 1_000_000
	var code [6]byte
	for i := len(code) - 1; i >= 0; i-- {
		code[i] = byte('0' + n%10)
		n /= 10
	}
	return string(code[:])
}
