package simcard

import (
	"errors"
	"fmt"
)

// ErrAPDU is returned by ParseCommand for bytes that are not a well-formed
// command APDU, by ParseResponse for a response without a status word, by
// AppendBinary and MarshalBinary for a Command that cannot be encoded, and
// by Card.Exchange for a command it does not send (see Exchange).
var ErrAPDU = errors.New("simcard: malformed APDU")

// Command is a command APDU of ISO/IEC 7816-4 §5.1: a header, optional data
// (Nc = len(Data)) and the maximum length of the expected response Ne.
//
// Ne is 0 when no response data is expected (cases 1 and 3); 256 stands for a
// short Le of 00 and 65536 for an extended Le of 0000. Extended selects the
// extended length fields (three-octet Lc, two- or three-octet Le); it is
// required when len(Data) > 255 or Ne > 256.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Ne               int
	Extended         bool
}

// ParseCommand reads one command APDU strictly. The four cases and their
// short and extended forms are told apart by length alone:
//
//	case 1   CLA INS P1 P2
//	case 2S  … Le                       (Le 00 means 256)
//	case 3S  … Lc Data                  (Lc 01–FF)
//	case 4S  … Lc Data Le
//	case 2E  … 00 Le1 Le2               (Le 0000 means 65536)
//	case 3E  … 00 Lc1 Lc2 Data          (Lc 0001–FFFF)
//	case 4E  … 00 Lc1 Lc2 Data Le1 Le2
//
// Any other length is an error matching ErrAPDU (the card answers 6700).
// Data aliases b.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("%w: %d octets, need at least 4", ErrAPDU, len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil
	case len(body) == 1: // case 2S
		c.Ne = shortLe(body[0])
		return c, nil
	case body[0] != 0: // case 3S or 4S
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
			c.Data = body[1:]
		case 2 + lc:
			c.Data = body[1 : 1+lc]
			c.Ne = shortLe(body[1+lc])
		default:
			return Command{}, fmt.Errorf("%w: Lc %d does not match %d octets of body", ErrAPDU, lc, len(body))
		}
		return c, nil
	}
	// Extended: body[0] == 0 and at least one more octet.
	c.Extended = true
	if len(body) == 3 { // case 2E
		c.Ne = extendedLe(body[1], body[2])
		return c, nil
	}
	if len(body) < 3 {
		return Command{}, fmt.Errorf("%w: truncated extended length", ErrAPDU)
	}
	lc := int(body[1])<<8 | int(body[2])
	if lc == 0 {
		return Command{}, fmt.Errorf("%w: extended Lc of zero", ErrAPDU)
	}
	switch len(body) {
	case 3 + lc:
		c.Data = body[3:]
	case 5 + lc:
		c.Data = body[3 : 3+lc]
		c.Ne = extendedLe(body[3+lc], body[4+lc])
	default:
		return Command{}, fmt.Errorf("%w: extended Lc %d does not match %d octets of body", ErrAPDU, lc, len(body))
	}
	return c, nil
}

func shortLe(b byte) int {
	if b == 0 {
		return 256
	}
	return int(b)
}

func extendedLe(hi, lo byte) int {
	n := int(hi)<<8 | int(lo)
	if n == 0 {
		return 65536
	}
	return n
}

// AppendBinary appends the encoding of c to b. It returns ErrAPDU when the
// data or Ne do not fit the chosen form (short: Nc ≤ 255, Ne ≤ 256;
// extended: Nc ≤ 65535, Ne ≤ 65536).
func (c Command) AppendBinary(b []byte) ([]byte, error) {
	if err := c.fits(); err != nil {
		return b, err
	}
	nc := len(c.Data)
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if !c.Extended {
		if nc > 0 {
			b = append(b, byte(nc))
			b = append(b, c.Data...)
		}
		if c.Ne > 0 {
			b = append(b, byte(c.Ne)) // 256 wraps to 00
		}
		return b, nil
	}
	if nc == 0 && c.Ne == 0 {
		return b, nil // case 1 has no extended form
	}
	b = append(b, 0)
	if nc > 0 {
		b = append(b, byte(nc>>8), byte(nc))
		b = append(b, c.Data...)
	}
	if c.Ne > 0 {
		b = append(b, byte(c.Ne>>8), byte(c.Ne)) // 65536 wraps to 0000
	}
	return b, nil
}

// fits returns ErrAPDU when the data or Ne of c do not fit its form (see
// AppendBinary).
func (c Command) fits() error {
	nc := len(c.Data)
	if c.Ne < 0 || (!c.Extended && (nc > 255 || c.Ne > 256)) || nc > 65535 || c.Ne > 65536 {
		return fmt.Errorf("%w: Nc %d, Ne %d do not fit (extended %v)", ErrAPDU, nc, c.Ne, c.Extended)
	}
	return nil
}

// MarshalBinary returns the encoding of c (see AppendBinary).
func (c Command) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// Response is a response APDU: data and the status word SW1 SW2.
type Response struct {
	Data []byte
	SW   uint16
}

// ParseResponse splits a response APDU into its data and status word.
// A response shorter than two octets is an error matching ErrAPDU. Data
// aliases b.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w: response of %d octets has no status word", ErrAPDU, len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n:n], SW: uint16(b[n])<<8 | uint16(b[n+1])}, nil
}

// AppendBinary appends data || SW1 || SW2 to b. It never fails.
func (r Response) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, r.Data...)
	return append(b, byte(r.SW>>8), byte(r.SW)), nil
}
