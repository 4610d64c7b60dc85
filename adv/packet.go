package adv

import (
	"encoding"
	"encoding/hex"
	"errors"
	"strconv"
)

// Size is the length of a casimpay advert: the whole 31-octet payload of a
// legacy advertising PDU.
const Size = 31

// ServiceDataSize is the length of the casimpay service data, after the
// 16-bit service UUID.
const ServiceDataSize = 20

// Version is the protocol version this package writes and reads, carried in
// the high nibble of the first service-data octet.
const Version = 1

// DefaultUUID is the 16-bit service UUID used when a Codec has none.
//
// It is a placeholder, not a UUID registered for casimpay: a deployment
// replaces it with the 16-bit service UUID the Bluetooth SIG assigned to it
// (Codec.UUID), and both its cards and its phones use that one.
const DefaultUUID uint16 = 0xFFFF

// advFlags is the Flags octet of a casimpay advert: LE General Discoverable
// Mode, BR/EDR not supported (the card's radio is LE only).
const advFlags = LEGeneralDiscoverable | BREDRNotSupported

// Errors returned by Parse and AppendBinary. Parse returns them unwrapped or
// wrapped by an error value that matches with errors.Is; it never allocates
// one.
var (
	// ErrForeign: the advertising data is well formed but carries no
	// casimpay service data (an iBeacon, Eddystone, Exposure Notification or
	// any other advert).
	ErrForeign = errors.New("adv: not a casimpay advert")
	// ErrMalformed: an AD structure runs past the end of the data, or the
	// casimpay service data is empty, has this Version and a length other
	// than ServiceDataSize, or appears twice.
	ErrMalformed = errors.New("adv: malformed advertising data")
	// ErrVersion: casimpay service data of a protocol version this package
	// does not know.
	ErrVersion = errors.New("adv: unknown protocol version")
	// ErrRole: a role other than Shopper or Seller.
	ErrRole = errors.New("adv: unknown role")
	// ErrReserved: the reserved octet of the service data is not zero.
	ErrReserved = errors.New("adv: reserved octet is not zero")
	// ErrFlags: AppendBinary was given flags this version does not define.
	ErrFlags = errors.New("adv: undefined flags")
)

// malformed is an error that matches ErrMalformed and says why.
type malformed string

func (e malformed) Error() string        { return ErrMalformed.Error() + ": " + string(e) }
func (e malformed) Is(target error) bool { return target == ErrMalformed }

// The reasons for ErrMalformed, allocated once.
var (
	errTruncated   error = malformed("an AD structure runs past the end")
	errDataLength  error = malformed("casimpay service data is not 20 octets")
	errDuplicate   error = malformed("casimpay service data appears twice")
	errShortHeader error = malformed("casimpay service data has no version octet")
)

// Role is the service-request flag of an advert: what its sender wants.
type Role uint8

// The roles. The zero Role is no role and is never valid on the air.
const (
	Shopper Role = 1 // a phone running the shopper app: wants to pay
	Seller  Role = 2 // a phone running the seller POS app: wants to be paid
)

// Valid reports whether r is Shopper or Seller.
func (r Role) Valid() bool { return r == Shopper || r == Seller }

// Opposite returns Seller for Shopper, Shopper for Seller, and 0 otherwise:
// the role a phone keeps in its service queue.
func (r Role) Opposite() Role {
	switch r {
	case Shopper:
		return Seller
	case Seller:
		return Shopper
	}
	return 0
}

// String returns "shopper", "seller" or "role(N)".
func (r Role) String() string {
	switch r {
	case Shopper:
		return "shopper"
	case Seller:
		return "seller"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Flags is the flags octet of the service data (octet 18).
//
// Undefined bits are reserved for flags of later revisions of version 1:
// a sender sets them to zero (AppendBinary returns ErrFlags otherwise) and a
// receiver ignores them (Parse keeps them, so Packet.Flags may hold them).
type Flags uint8

const (
	// FlagBusy: the sender is already in a payment session with another
	// peer. A service queue still lists it; an app may grey it out.
	FlagBusy Flags = 0x01
	// FlagAssets: the sender can exchange e-tickets and other assets as well
	// as money (asset legs), not only pay or be paid.
	FlagAssets Flags = 0x02

	// DefinedFlags holds every flag this version defines.
	DefinedFlags = FlagBusy | FlagAssets
)

// EID is an ephemeral ID: the 16 octets an advert carries instead of the
// card ID, changing every epoch (see DeriveEID).
type EID [16]byte

// String returns the EID in lowercase hexadecimal.
func (e EID) String() string { return hex.EncodeToString(e[:]) }

// Packet is the content of a casimpay advert. The zero Packet is invalid
// (it has no role).
type Packet struct {
	Role    Role  // Shopper or Seller
	EID     EID   // the sender's ephemeral ID for the current epoch
	TxPower int8  // calibrated transmit power: radiated power at 0 m, dBm
	Flags   Flags // FlagBusy, FlagAssets
}

var (
	_ encoding.BinaryAppender    = Packet{}
	_ encoding.BinaryMarshaler   = Packet{}
	_ encoding.BinaryUnmarshaler = (*Packet)(nil)
)

// Codec reads and writes casimpay adverts under a service UUID. The zero
// Codec uses DefaultUUID. A Codec is a small value, safe for concurrent use.
type Codec struct {
	// UUID is the 16-bit service UUID of the deployment; zero means
	// DefaultUUID.
	UUID uint16
}

func (c Codec) uuid() uint16 {
	if c.UUID == 0 {
		return DefaultUUID
	}
	return c.UUID
}

// Parse is Codec{}.Parse: it reads an advert under DefaultUUID.
func Parse(b []byte) (Packet, error) { return Codec{}.Parse(b) }

// AppendBinary appends the 31-octet advert of p under DefaultUUID to b.
// It returns ErrRole for an invalid role and ErrFlags for undefined flags.
func (p Packet) AppendBinary(b []byte) ([]byte, error) { return Codec{}.AppendBinary(b, p) }

// MarshalBinary returns the 31-octet advert of p under DefaultUUID.
// It returns ErrRole for an invalid role and ErrFlags for undefined flags.
func (p Packet) MarshalBinary() ([]byte, error) {
	return Codec{}.AppendBinary(make([]byte, 0, Size), p)
}

// UnmarshalBinary sets p from advertising data under DefaultUUID, as Parse
// reads it, and returns Parse's errors; p is unchanged on error.
func (p *Packet) UnmarshalBinary(b []byte) error {
	q, err := Parse(b)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// AppendBinary appends the 31-octet advert of p under the codec's UUID to b:
//
//	02 01 06                      Flags
//	03 03 UU UU                   Complete List of 16-bit Service UUIDs
//	17 16 UU UU VR EID×16 TX FL 00  Service Data - 16-bit UUID
//
// with the UUID little-endian, VR = version<<4 | role, TX the transmit power
// and FL the flags. It returns ErrRole for an invalid role and ErrFlags for
// undefined flags, and then b unchanged.
func (c Codec) AppendBinary(b []byte, p Packet) ([]byte, error) {
	if !p.Role.Valid() {
		return b, ErrRole
	}
	if p.Flags&^DefinedFlags != 0 {
		return b, ErrFlags
	}
	u := c.uuid()
	lo, hi := byte(u), byte(u>>8)
	b = append(b,
		0x02, TypeFlags, advFlags,
		0x03, TypeCompleteUUID16, lo, hi,
		3+ServiceDataSize, TypeServiceData16, lo, hi,
		Version<<4|byte(p.Role))
	b = append(b, p.EID[:]...)
	return append(b, byte(p.TxPower), byte(p.Flags), 0), nil
}

// Parse reads a casimpay advert from advertising or scan-response data as it
// came off the air, under the codec's UUID.
//
// Parse identifies the advert by its service data alone: the Flags and the
// UUID list may be absent or in any order, and any other AD structures
// (names, manufacturer data, other services) are allowed. It returns
//
//   - ErrMalformed when an AD structure runs past the end of the data, or
//     the casimpay service data appears twice, is empty, or has this
//     Version but is not 20 octets;
//   - ErrForeign when the data is well formed but has no casimpay service
//     data;
//   - ErrVersion, ErrRole or ErrReserved when the service data has an
//     unknown version (whatever its length), an unknown role or a non-zero
//     reserved octet, checked in that order.
//
// Parse never panics and does not allocate. The returned Packet shares no
// memory with b.
func (c Codec) Parse(b []byte) (Packet, error) {
	u := c.uuid()
	lo, hi := byte(u), byte(u>>8)
	if len(b) == Size &&
		b[0] == 0x02 && b[1] == TypeFlags &&
		b[3] == 0x03 && b[4] == TypeCompleteUUID16 && b[5] == lo && b[6] == hi &&
		b[7] == 3+ServiceDataSize && b[8] == TypeServiceData16 && b[9] == lo && b[10] == hi {
		// The layout AppendBinary writes: walking it finds exactly these
		// three structures, so skip the walk.
		return ParseServiceData(b[11:])
	}
	return c.parseWalk(b)
}

// parseWalk is Parse for any layout.
func (c Codec) parseWalk(b []byte) (Packet, error) {
	u := c.uuid()
	var sd []byte
	found := false
	w := NewWalker(b)
	for w.Next() {
		uuid, data, ok := w.Structure().ServiceData16()
		if !ok || uuid != u {
			continue
		}
		if found {
			return Packet{}, errDuplicate
		}
		sd, found = data, true
	}
	if err := w.Err(); err != nil {
		return Packet{}, err
	}
	if !found {
		return Packet{}, ErrForeign
	}
	return ParseServiceData(sd)
}

// ParseServiceData reads the 20 octets of casimpay service data (what
// follows the service UUID), as a phone's operating system hands them out
// per service UUID. It returns the errors of Parse except ErrForeign, and
// neither panics nor allocates.
func ParseServiceData(sd []byte) (Packet, error) {
	if len(sd) < 1 {
		return Packet{}, errShortHeader
	}
	if sd[0]>>4 != Version {
		return Packet{}, ErrVersion
	}
	if len(sd) != ServiceDataSize {
		return Packet{}, errDataLength
	}
	p := Packet{
		Role:    Role(sd[0] & 0x0f),
		TxPower: int8(sd[17]),
		Flags:   Flags(sd[18]),
	}
	if !p.Role.Valid() {
		return Packet{}, ErrRole
	}
	if sd[19] != 0 {
		return Packet{}, ErrReserved
	}
	copy(p.EID[:], sd[1:17])
	return p, nil
}
