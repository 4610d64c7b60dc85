// Package vpcd connects a card to a PC/SC virtual reader of vsmartcard's
// vpcd driver, so that pcscd and every PC/SC tool (opensc-tool, pcsc_scan,
// a browser's smart-card stack) talk to an in-process CA-SIM applet as to a
// card in a reader.
//
// The vpcd driver, loaded by pcscd, listens on TCP (127.0.0.1:35963 by
// default); the virtual card connects to it, which inserts the card. Every
// message in either direction is a frame: a two-octet big-endian length and
// that many octets. A one-octet frame from vpcd is a control: 00 power off,
// 01 power on, 02 reset (the card answers nothing) and 04 get ATR (the card
// answers its ATR). A longer frame is a command APDU, answered by the
// response APDU. Closing the connection removes the card.
//
//	b := &vpcd.Bridge{Card: a} // a *applet.Applet
//	err := b.Run(ctx)           // until ctx is cancelled
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net"
	"strconv"
	"time"

	"github.com/casimpay/casimpay/internal/nilptr"
)

// DefaultAddr is where vpcd listens unless configured otherwise.
const DefaultAddr = "127.0.0.1:35963"

// Control octets of vpcd.
const (
	PowerOff byte = 0x00
	PowerOn  byte = 0x01
	Reset    byte = 0x02
	GetATR   byte = 0x04
)

// DefaultATR is the answer to reset of the CA-SIM: direct convention, T=0
// (TD1 80, the first protocol offered, used without PPS) and T=1 (TD2 01),
// and 13 historical octets in COMPACT-TLV (category 80):
// the application identifier F7 F0 43 41 53 49 4D 01 and the card
// capabilities 73 80 01 C0 (selection by full DF name; command chaining and
// extended Lc and Le), then the check octet TCK.
var DefaultATR = withTCK([]byte{
	0x3B, 0x8D, 0x80, 0x01,
	0x80,
	0xF7, 0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01,
	0x73, 0x80, 0x01, 0xC0,
})

// withTCK appends the check octet: the XOR of every octet from T0 on.
func withTCK(atr []byte) []byte {
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	return append(atr, x)
}

// Card is what the bridge drives: an applet such as *applet.Applet.
type Card interface {
	// Transmit answers one command APDU with its response APDU.
	Transmit(command []byte) ([]byte, error)
	// Reset drops the card's volatile state (power off, power on, reset).
	Reset()
}

// ErrFrame is returned by Serve for a frame that breaks the protocol (an
// empty frame or an unknown control octet).
var ErrFrame = errors.New("vpcd: bad frame")

// ErrNoCard is returned by Serve and Bridge.Run when there is no card to
// serve: a nil Card, one holding a nil pointer (a nil *applet.Applet), or a
// nil Bridge.
var ErrNoCard = errors.New("vpcd: no card")

// ErrArgument is returned by Serve for a nil context or connection, and by
// Bridge.Run for a nil context.
var ErrArgument = errors.New("vpcd: nil context or connection")

// ErrATR is returned by Serve and Bridge.Run for an ATR that is not one
// (ISO/IEC 7816-3): TS 3B or 3F, T0, the interface octets that T0 and
// each TDi announce, the historical octets that T0 counts, and TCK, present
// unless T=0 alone is offered, making the XOR of T0 to TCK zero; 33 octets
// at most. pcscd, through the vpcd driver, takes none longer (its
// MAX_ATR_SIZE) nor a malformed one: it would show the card in the reader
// and never power it.
var ErrATR = errors.New("vpcd: malformed ATR")

// ErrAddr is returned by CheckAddr and Bridge.Run for an address that is
// not host:port with a port number from 1 to 65535.
var ErrAddr = errors.New("vpcd: malformed address")

// CheckAddr returns nil for an address that a Bridge can connect to:
// host:port with a port number from 1 to 65535 (the host is not looked
// up); otherwise an error matching ErrAddr.
func CheckAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAddr, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("%w %q: the port must be a number from 1 to 65535", ErrAddr, addr)
	}
	return nil
}

// Serve answers vpcd's frames on conn with card and atr (nil means
// DefaultATR) until conn is closed by vpcd (it then returns nil), ctx is
// cancelled (it closes conn and returns ctx.Err()), or an error occurs.
// A card whose Transmit fails answers 6F00, as does one whose answer is no
// response APDU (fewer than two octets) or longer than a frame carries
// (65535 octets). A nil ctx or conn (ErrArgument), no card (ErrNoCard) or
// an atr that is not an ATR (ErrATR) is refused before anything is read.
// Serve closes conn only when ctx is cancelled; otherwise the caller
// closes it.
func Serve(ctx context.Context, conn net.Conn, card Card, atr []byte) error {
	if ctx == nil || nilptr.Is(conn) {
		return ErrArgument
	}
	atr, err := check(card, atr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var hdr [2]byte
	buf := make([]byte, 0, 512)
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("vpcd: read: %w", err)
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if n == 0 {
			return fmt.Errorf("%w: empty frame", ErrFrame)
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(conn, buf); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the frame was cut short
			}
			return fmt.Errorf("vpcd: read: %w", err)
		}
		var reply []byte
		if n == 1 {
			switch buf[0] {
			case PowerOff, PowerOn, Reset:
				card.Reset()
				continue
			case GetATR:
				reply = atr
			default:
				return fmt.Errorf("%w: control %02X", ErrFrame, buf[0])
			}
		} else {
			r, err := card.Transmit(buf)
			if err != nil || len(r) < 2 || len(r) > 0xFFFF {
				r = []byte{0x6F, 0x00}
			}
			reply = r
		}
		out := make([]byte, 2, 2+len(reply))
		binary.BigEndian.PutUint16(out, uint16(len(reply)))
		if _, err := conn.Write(append(out, reply...)); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("vpcd: write: %w", err)
		}
	}
}

// check returns the ATR to answer, atr or DefaultATR when atr is nil. It
// refuses no card (nil, or a nil pointer whose methods would panic), and an
// ATR that is not one (see ErrATR).
func check(card Card, atr []byte) ([]byte, error) {
	if nilptr.Is(card) {
		return nil, ErrNoCard
	}
	if atr == nil {
		atr = DefaultATR
	}
	if err := checkATR(atr); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrATR, err)
	}
	return atr, nil
}

// maxATR is the longest ATR: TS and 32 octets more (ISO/IEC 7816-3),
// pcsc-lite's MAX_ATR_SIZE.
const maxATR = 33

// checkATR reads atr as ISO/IEC 7816-3 lays an ATR out and says what
// breaks the layout, if anything (see ErrATR).
func checkATR(atr []byte) error {
	if len(atr) < 2 || len(atr) > maxATR {
		return fmt.Errorf("%d octets, not 2 to %d", len(atr), maxATR)
	}
	if atr[0] != 0x3B && atr[0] != 0x3F {
		return fmt.Errorf("TS %02X, not 3B or 3F", atr[0])
	}
	// y: the interface octets present at this level (bits 5 to 8 of T0 or
	// TDi: TA, TB, TC, TD); tck: a protocol other than T=0 is offered.
	y, historical, i, tck := atr[1]>>4, int(atr[1]&0x0F), 2, false
	for y != 0 {
		n := bits.OnesCount8(y)
		if len(atr) < i+n {
			return errors.New("interface octets cut short")
		}
		i += n
		if y&0x8 == 0 {
			break
		}
		td := atr[i-1]
		tck = tck || td&0x0F != 0
		y = td >> 4
	}
	want := i + historical
	if tck {
		want++
	}
	if len(atr) != want {
		return fmt.Errorf("%d octets where T0 and TD announce %d", len(atr), want)
	}
	if tck {
		var x byte
		for _, b := range atr[1:] {
			x ^= b
		}
		if x != 0 {
			return errors.New("TCK does not check")
		}
	}
	return nil
}

// Bridge keeps a card inserted in a vpcd reader: it connects to vpcd,
// serves it, and connects again whenever the connection is lost (pcscd
// restarted), until its context is cancelled. The zero Bridge is not usable:
// Card is required.
type Bridge struct {
	// Addr is vpcd's address, host:port (CheckAddr); empty means
	// DefaultAddr.
	Addr string
	// Card is the card to insert.
	Card Card
	// ATR is the card's answer to reset, an ATR of ISO/IEC 7816-3 of at
	// most 33 octets (see ErrATR); nil means DefaultATR.
	ATR []byte
	// Retry is the pause before connecting again; zero or less means one
	// second.
	Retry time.Duration
	// Logf, if not nil, receives connection events.
	Logf func(format string, args ...any)
}

// Run connects and serves until ctx is cancelled, then returns nil. It
// returns an error only for a protocol violation by vpcd (ErrFrame) and,
// before connecting, for a nil ctx (ErrArgument), a nil Bridge or no Card
// (ErrNoCard), an ATR that is not one (ErrATR) or a malformed Addr
// (ErrAddr, see CheckAddr). A well-formed address that cannot be reached,
// as while pcscd has not started vpcd yet or restarts, or whose host does
// not resolve, is tried again every Retry until ctx is cancelled.
func (b *Bridge) Run(ctx context.Context) error {
	if b == nil {
		return ErrNoCard
	}
	if ctx == nil {
		return ErrArgument
	}
	atr, err := check(b.Card, b.ATR)
	if err != nil {
		return err
	}
	addr, retry := b.Addr, b.Retry
	if addr == "" {
		addr = DefaultAddr
	}
	if err := CheckAddr(addr); err != nil {
		return err
	}
	if retry <= 0 {
		retry = time.Second
	}
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			b.logf("vpcd: card inserted at %s", addr)
			err = Serve(ctx, conn, b.Card, atr)
			conn.Close()
			b.Card.Reset()
			b.logf("vpcd: card removed: %v", err)
			if errors.Is(err, ErrFrame) {
				return err
			}
		} else if ctx.Err() == nil {
			b.logf("vpcd: %v; retrying in %v", err, retry)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

func (b *Bridge) logf(format string, args ...any) {
	if b.Logf != nil {
		b.Logf(format, args...)
	}
}
