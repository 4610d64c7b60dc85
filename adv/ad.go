package adv

// AD types of the Bluetooth Core Specification Supplement (CSS) Part A, §1,
// as assigned in the Bluetooth SIG's "Assigned Numbers" document.
const (
	TypeFlags             byte = 0x01 // Flags (CSS A §1.3)
	TypeIncompleteUUID16  byte = 0x02 // Incomplete List of 16-bit Service UUIDs (CSS A §1.1)
	TypeCompleteUUID16    byte = 0x03 // Complete List of 16-bit Service UUIDs
	TypeIncompleteUUID32  byte = 0x04 // Incomplete List of 32-bit Service UUIDs
	TypeCompleteUUID32    byte = 0x05 // Complete List of 32-bit Service UUIDs
	TypeIncompleteUUID128 byte = 0x06 // Incomplete List of 128-bit Service UUIDs
	TypeCompleteUUID128   byte = 0x07 // Complete List of 128-bit Service UUIDs
	TypeShortName         byte = 0x08 // Shortened Local Name (CSS A §1.2)
	TypeCompleteName      byte = 0x09 // Complete Local Name
	TypeTxPower           byte = 0x0A // Tx Power Level (CSS A §1.5)
	TypeSolicitUUID16     byte = 0x14 // List of 16-bit Service Solicitation UUIDs (CSS A §1.10)
	TypeServiceData16     byte = 0x16 // Service Data - 16-bit UUID (CSS A §1.11)
	TypeServiceData32     byte = 0x20 // Service Data - 32-bit UUID
	TypeServiceData128    byte = 0x21 // Service Data - 128-bit UUID
	TypeManufacturer      byte = 0xFF // Manufacturer Specific Data (CSS A §1.4)
)

// Bits of the Flags AD type (CSS Part A §1.3).
const (
	LELimitedDiscoverable byte = 0x01 // LE Limited Discoverable Mode
	LEGeneralDiscoverable byte = 0x02 // LE General Discoverable Mode
	BREDRNotSupported     byte = 0x04 // BR/EDR Not Supported
	DualModeController    byte = 0x08 // Simultaneous LE and BR/EDR, controller
	DualModeHost          byte = 0x10 // Simultaneous LE and BR/EDR, host (previously used)
)

// Structure is one AD structure of advertising or scan-response data: its AD
// type and its data, without the length and type octets. Data aliases the
// bytes given to the Walker; copy it to keep it beyond their lifetime.
type Structure struct {
	Type byte
	Data []byte
}

// Walker iterates over the AD structures of advertising data (Bluetooth Core
// Specification Vol 3 Part C §11): a sequence of Length || AD type || AD data,
// where Length counts the type octet and the data. A Length of zero ends the
// significant part early, as the specification allows; the bytes after it are
// padding and are not examined. A Length that runs past the end of the data
// stops the walk with an error matching ErrMalformed.
//
// The zero Walker walks nothing. A Walker neither allocates nor panics,
// whatever its input. It is a value to keep on the stack, not safe for
// concurrent use.
//
//	w := adv.NewWalker(data)
//	for w.Next() {
//		s := w.Structure()
//		…
//	}
//	if err := w.Err(); err != nil { … }
type Walker struct {
	b   []byte
	off int // offset of the next Length octet
	at  int // offset of the current structure's Length octet
	cur Structure
	err error
}

// NewWalker returns a Walker over b. It does not copy b.
func NewWalker(b []byte) Walker {
	return Walker{b: b}
}

// Next advances to the next AD structure and reports whether there is one.
// It returns false at the end of the data, at a zero Length octet, and on a
// malformed structure, after which Err says which it was.
func (w *Walker) Next() bool {
	if w.err != nil || w.off >= len(w.b) {
		w.cur = Structure{}
		return false
	}
	n := int(w.b[w.off])
	if n == 0 {
		// Early termination: the rest is non-significant padding.
		w.off = len(w.b)
		w.cur = Structure{}
		return false
	}
	if n > len(w.b)-w.off-1 {
		w.err = errTruncated
		w.cur = Structure{}
		return false
	}
	w.at = w.off
	w.cur = Structure{Type: w.b[w.off+1], Data: w.b[w.off+2 : w.off+1+n : w.off+1+n]}
	w.off += 1 + n
	return true
}

// Structure returns the current AD structure, valid after Next returned true.
func (w *Walker) Structure() Structure { return w.cur }

// Offset returns the offset in the data of the current structure's Length
// octet.
func (w *Walker) Offset() int { return w.at }

// Err returns the error that stopped the walk, matching ErrMalformed, or nil
// when the walk ended at the end of the data or at a zero Length octet.
func (w *Walker) Err() error { return w.err }

// Flags returns the flags octet of a Flags structure. It reports false for
// another AD type or for empty data. Octets after the first are reserved by
// the specification and ignored.
func (s Structure) Flags() (byte, bool) {
	if s.Type != TypeFlags || len(s.Data) < 1 {
		return 0, false
	}
	return s.Data[0], true
}

// UUID16Count returns the number of UUIDs in a list of 16-bit service UUIDs
// (complete, incomplete or solicitation). It reports false for another AD
// type or for data of odd length.
func (s Structure) UUID16Count() (int, bool) {
	switch s.Type {
	case TypeIncompleteUUID16, TypeCompleteUUID16, TypeSolicitUUID16:
	default:
		return 0, false
	}
	if len(s.Data)%2 != 0 {
		return 0, false
	}
	return len(s.Data) / 2, true
}

// UUID16 returns the i-th UUID of a list of 16-bit service UUIDs, which the
// air carries little-endian. It reports false when s is not such a list or i
// is out of range.
func (s Structure) UUID16(i int) (uint16, bool) {
	n, ok := s.UUID16Count()
	if !ok || i < 0 || i >= n {
		return 0, false
	}
	return le16(s.Data[2*i:]), true
}

// HasUUID16 reports whether s is a list of 16-bit service UUIDs that contains
// uuid.
func (s Structure) HasUUID16(uuid uint16) bool {
	n, ok := s.UUID16Count()
	if !ok {
		return false
	}
	for i := range n {
		if le16(s.Data[2*i:]) == uuid {
			return true
		}
	}
	return false
}

// ServiceData16 returns the service UUID and the service data of a
// "Service Data - 16-bit UUID" structure. It reports false for another AD
// type or for data shorter than the UUID.
func (s Structure) ServiceData16() (uuid uint16, data []byte, ok bool) {
	if s.Type != TypeServiceData16 || len(s.Data) < 2 {
		return 0, nil, false
	}
	return le16(s.Data), s.Data[2:], true
}

// Manufacturer returns the company identifier (little-endian on the air, as
// the Bluetooth SIG assigns them: 0x004C is Apple) and the data that follows
// it in a Manufacturer Specific Data structure. It reports false for another
// AD type or for data shorter than the company identifier.
func (s Structure) Manufacturer() (company uint16, data []byte, ok bool) {
	if s.Type != TypeManufacturer || len(s.Data) < 2 {
		return 0, nil, false
	}
	return le16(s.Data), s.Data[2:], true
}

// TxPower returns the transmit power level in dBm of a Tx Power Level
// structure. It reports false for another AD type or data that is not
// exactly one octet.
func (s Structure) TxPower() (int8, bool) {
	if s.Type != TypeTxPower || len(s.Data) != 1 {
		return 0, false
	}
	return int8(s.Data[0]), true
}

// LocalName returns the local name of a Shortened or Complete Local Name
// structure (UTF-8 on the air) and whether it is the complete one. It reports
// ok false for another AD type. The string is a copy.
func (s Structure) LocalName() (name string, complete, ok bool) {
	switch s.Type {
	case TypeShortName:
		return string(s.Data), false, true
	case TypeCompleteName:
		return string(s.Data), true, true
	}
	return "", false, false
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
