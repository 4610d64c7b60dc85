package ledger

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ID is a 128-bit identifier of an account or a transfer, chosen by the
// client. It is stored big-endian, so the order of the bytes is the numeric
// order: bytes.Compare, SQL BLOB/bytea ordering and Compare agree.
//
// The zero ID and the all-ones ID (IDMax) are reserved and never name an
// account or a transfer. The zero value of ID is the zero ID.
type ID [16]byte

// IDMax is 2^128 - 1, a reserved ID.
var IDMax = ID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// ErrBadID reports text or bytes that are not an ID.
var ErrBadID = errors.New("ledger: malformed id")

// IDFromUint64s returns the ID whose high 64 bits are hi and low 64 bits lo.
func IDFromUint64s(hi, lo uint64) ID {
	var id ID
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return id
}

// IDFromUint64 returns the ID with numeric value v.
func IDFromUint64(v uint64) ID { return IDFromUint64s(0, v) }

// IDFromBytes returns the ID held in b, which must be exactly 16 bytes,
// big-endian. It fails with ErrBadID otherwise.
func IDFromBytes(b []byte) (ID, error) {
	var id ID
	if len(b) != len(id) {
		return ID{}, fmt.Errorf("%w: %d bytes, want 16", ErrBadID, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// ParseID parses the 32 hexadecimal digits that String returns (either
// case). It fails with ErrBadID on anything else.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return ID{}, fmt.Errorf("%w: %d characters, want 32 hex digits", ErrBadID, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("%w: %v", ErrBadID, err)
	}
	return id, nil
}

// Uint64s returns the high and low 64 bits of id.
func (id ID) Uint64s() (hi, lo uint64) {
	return binary.BigEndian.Uint64(id[:8]), binary.BigEndian.Uint64(id[8:])
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// Valid reports whether id may name an account or a transfer: it is neither
// zero nor IDMax.
func (id ID) Valid() bool { return id != ID{} && id != IDMax }

// Compare returns -1, 0 or +1 as id is numerically less than, equal to or
// greater than other.
func (id ID) Compare(other ID) int {
	ah, al := id.Uint64s()
	bh, bl := other.Uint64s()
	switch {
	case ah < bh:
		return -1
	case ah > bh:
		return 1
	case al < bl:
		return -1
	case al > bl:
		return 1
	}
	return 0
}

// String returns id as 32 lowercase hexadecimal digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// AppendText implements encoding.TextAppender.
func (id ID) AppendText(b []byte) ([]byte, error) { return hex.AppendEncode(b, id[:]), nil }

// MarshalText implements encoding.TextMarshaler: the String form.
func (id ID) MarshalText() ([]byte, error) { return id.AppendText(nil) }

// UnmarshalText implements encoding.TextUnmarshaler: the ParseID form.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// MarshalBinary implements encoding.BinaryMarshaler: the 16 bytes.
func (id ID) MarshalBinary() ([]byte, error) { return id[:], nil }

// UnmarshalBinary implements encoding.BinaryUnmarshaler: exactly 16 bytes.
func (id *ID) UnmarshalBinary(b []byte) error {
	v, err := IDFromBytes(b)
	if err != nil {
		return err
	}
	*id = v
	return nil
}

var idGen struct {
	mu     sync.Mutex
	lastMS uint64
	last   ID
}

// NewID returns a fresh, time-ordered ID, as TigerBeetle recommends: the
// high 48 bits are the Unix time in milliseconds and the low 80 bits come
// from crypto/rand. IDs made by one process are strictly increasing, even
// within one millisecond or when the wall clock steps back, so they make
// good B-tree keys. NewID is safe for concurrent use.
func NewID() ID {
	ms := uint64(time.Now().UnixMilli())
	idGen.mu.Lock()
	defer idGen.mu.Unlock()
	if ms <= idGen.lastMS {
		// Same millisecond (or the clock went back): count up from the
		// previous ID. The 80 random bits practically never run out.
		id := idGen.last
		for i := len(id) - 1; i >= 0; i-- {
			id[i]++
			if id[i] != 0 {
				break
			}
		}
		idGen.last = id
		return id
	}
	var id ID
	binary.BigEndian.PutUint64(id[:8], ms<<16)
	_, _ = rand.Read(id[6:]) // crypto/rand.Read never fails
	idGen.lastMS = ms
	idGen.last = id
	return id
}
