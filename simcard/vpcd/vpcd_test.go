package vpcd_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/vpcd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingCard wraps an applet and counts resets.
type countingCard struct {
	*applet.Applet
	mu     sync.Mutex
	resets int
}

func (c *countingCard) Reset() {
	c.mu.Lock()
	c.resets++
	c.mu.Unlock()
	c.Applet.Reset()
}

func (c *countingCard) Resets() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resets
}

func newCard(t *testing.T) *countingCard {
	a, err := applet.New(new(applet.Memory), applet.Options{})
	require.NoError(t, err)
	return &countingCard{Applet: a}
}

func writeFrame(t *testing.T, w io.Writer, b []byte) {
	t.Helper()
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(b)))
	_, err := w.Write(append(hdr[:], b...))
	require.NoError(t, err)
}

func readFrame(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var hdr [2]byte
	_, err := io.ReadFull(r, hdr[:])
	require.NoError(t, err)
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err = io.ReadFull(r, b)
	require.NoError(t, err)
	return b
}

func TestDefaultATR(t *testing.T) {
	atr := vpcd.DefaultATR
	assert.Equal(t, byte(0x3B), atr[0])
	assert.Equal(t, 4+13+1, len(atr), "TS T0 TD1 TD2, 13 historical octets, TCK")
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	assert.Zero(t, x, "TCK makes the XOR of T0..TCK zero")
	assert.Equal(t, []byte{0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01}, atr[6:13], "the AID in the historical octets")
}

func TestServe(t *testing.T) {
	card := newCard(t)
	vpcdSide, cardSide := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- vpcd.Serve(context.Background(), cardSide, card, nil) }()

	writeFrame(t, vpcdSide, []byte{vpcd.PowerOn})
	writeFrame(t, vpcdSide, []byte{vpcd.GetATR})
	assert.Equal(t, vpcd.DefaultATR, readFrame(t, vpcdSide))
	writeFrame(t, vpcdSide, []byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01, 0x00})
	fci := readFrame(t, vpcdSide)
	require.Len(t, fci, 21)
	assert.Equal(t, []byte{0x90, 0x00}, fci[19:])
	writeFrame(t, vpcdSide, []byte{vpcd.Reset})
	writeFrame(t, vpcdSide, []byte{0x00, 0xCA, 0x01, 0x08, 0x00})
	assert.Equal(t, []byte{0x69, 0x85}, readFrame(t, vpcdSide), "the reset deselected the applet")
	writeFrame(t, vpcdSide, []byte{vpcd.PowerOff})
	writeFrame(t, vpcdSide, []byte{0x00, 0xA4})
	assert.Equal(t, []byte{0x67, 0x00}, readFrame(t, vpcdSide))
	require.NoError(t, vpcdSide.Close())
	require.NoError(t, <-done)
	assert.Equal(t, 3, card.Resets())
}

func TestServeBadFrames(t *testing.T) {
	for name, frame := range map[string][]byte{
		"unknown control": {0x03},
		"empty frame":     {},
	} {
		t.Run(name, func(t *testing.T) {
			vpcdSide, cardSide := net.Pipe()
			done := make(chan error, 1)
			go func() { done <- vpcd.Serve(context.Background(), cardSide, newCard(t), nil) }()
			writeFrame(t, vpcdSide, frame)
			assert.ErrorIs(t, <-done, vpcd.ErrFrame)
			vpcdSide.Close()
		})
	}
}

func TestServeCancel(t *testing.T) {
	vpcdSide, cardSide := net.Pipe()
	defer vpcdSide.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- vpcd.Serve(ctx, cardSide, newCard(t), []byte{0x3B, 0x00}) }()
	writeFrame(t, vpcdSide, []byte{vpcd.GetATR})
	assert.Equal(t, []byte{0x3B, 0x00}, readFrame(t, vpcdSide))
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
}

// TestServeRefusesUnframableATR: an ATR that is no ATR (ISO/IEC 7816-3),
// empty, longer than 33 octets or of another structure, is refused with
// ErrATR before any frame is answered: pcscd (its vpcd driver) takes no
// ATR over 33 octets, nor a malformed one, and showed the card in its
// reader but never powered it; one over 65535 octets had its length cut
// to 16 bits and broke the stream.
func TestServeRefusesUnframableATR(t *testing.T) {
	def := vpcd.DefaultATR
	withTCK := func(b ...byte) []byte {
		var x byte
		for _, c := range b[1:] {
			x ^= c
		}
		return append(b, x)
	}
	// 16 interface octets: TA TB TC TD of levels 1 to 3, TD4 alone, then
	// TA5 TB5 TC5, offering T=1.
	iface := []byte{0x11, 0x11, 0x11, 0xF1, 0x11, 0x11, 0x11, 0xF1, 0x11, 0x11, 0x11, 0x81, 0x71, 0x11, 0x11, 0x11}
	for name, atr := range map[string][]byte{
		"empty":                {},
		"TS alone":             {0x3B},
		"TS not 3B or 3F":      {0x3C, 0x00},
		"historical cut short": def[:len(def)-2],
		"no TCK though T=1":    def[:len(def)-1],
		"wrong TCK":            append(bytes.Clone(def[:len(def)-1]), def[len(def)-1]^1),
		"an octet after TCK":   append(bytes.Clone(def), 0),
		"TD cut short":         {0x3B, 0x80},
		"TCK though T=0 alone": withTCK(0x3B, 0x00),
		"no TCK though T=15":   {0x3B, 0x80, 0x0F},
		"34 octets":            withTCK(slices.Concat([]byte{0x3B, 0xFF}, iface, make([]byte, 15))...),
		"65536 octets":         make([]byte, 0x10000),
	} {
		t.Run(name, func(t *testing.T) {
			conn := &streamConn{r: bytes.NewReader([]byte{0, 1, vpcd.GetATR})}
			err := vpcd.Serve(context.Background(), conn, newCard(t), atr)
			assert.ErrorIs(t, err, vpcd.ErrATR)
			assert.Empty(t, conn.w.Bytes(), "nothing answered")
		})
	}
	for name, atr := range map[string][]byte{
		"the default":                  def,
		"T=0 alone, no TCK":            {0x3B, 0x00},
		"T=0 alone, historical octets": {0x3F, 0x02, 0x80, 0x00},
		"T=15, with TCK":               withTCK(0x3B, 0x80, 0x0F),
		"33 octets":                    withTCK(slices.Concat([]byte{0x3B, 0xFE}, iface, make([]byte, 14))...),
	} {
		t.Run(name, func(t *testing.T) {
			conn := &streamConn{r: bytes.NewReader([]byte{0, 1, vpcd.GetATR})}
			require.NoError(t, vpcd.Serve(context.Background(), conn, newCard(t), atr))
			assert.Equal(t, append([]byte{0, byte(len(atr))}, atr...), conn.w.Bytes())
		})
	}

	// A Bridge refuses it at once rather than connecting again and again.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := &vpcd.Bridge{Addr: "127.0.0.1:1", Card: newCard(t), ATR: append(bytes.Clone(def), 0)}
	assert.ErrorIs(t, b.Run(ctx), vpcd.ErrATR)
}

// TestBridgeRefusesMalformedAddr: an address that is not host:port with a
// port number from 1 to 65535 is refused with ErrAddr before connecting,
// where the bridge tried to connect to it again and again until ctx ended.
func TestBridgeRefusesMalformedAddr(t *testing.T) {
	// Only a bridge that retries waits for the deadline, and then returns nil.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, addr := range []string{"nonsense", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:vpcd", "localhost:-1", "[::1:35963"} {
		t.Run(addr, func(t *testing.T) {
			assert.ErrorIs(t, vpcd.CheckAddr(addr), vpcd.ErrAddr)
			b := &vpcd.Bridge{Addr: addr, Card: newCard(t), Retry: time.Millisecond}
			assert.ErrorIs(t, b.Run(ctx), vpcd.ErrAddr)
		})
	}
	for _, addr := range []string{vpcd.DefaultAddr, "localhost:1", "[::1]:65535", ":35963"} {
		assert.NoError(t, vpcd.CheckAddr(addr), addr)
	}
}

// TestNoCard: Serve and Bridge.Run without a card refuse with ErrNoCard
// before anything is read, where the first control from vpcd panicked: no
// card at all, an interface holding a nil *applet.Applet, and a nil Bridge.
func TestNoCard(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, card := range map[string]vpcd.Card{
		"nil":            nil,
		"nil applet":     (*applet.Applet)(nil),
		"nil other card": (*countingCard)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			conn := &streamConn{r: bytes.NewReader([]byte{0, 1, vpcd.PowerOn})}
			assert.ErrorIs(t, vpcd.Serve(context.Background(), conn, card, nil), vpcd.ErrNoCard)
			b := &vpcd.Bridge{Addr: "127.0.0.1:1", Card: card}
			assert.ErrorIs(t, b.Run(ctx), vpcd.ErrNoCard)
		})
	}
	var b *vpcd.Bridge
	assert.ErrorIs(t, b.Run(ctx), vpcd.ErrNoCard)
}

// TestServeNilArguments: Serve without a context or a connection refuses
// with ErrArgument before anything is read, and so does Bridge.Run without
// a context.
func TestServeNilArguments(t *testing.T) {
	conn := &streamConn{r: bytes.NewReader([]byte{0, 1, vpcd.GetATR})}
	//lint:ignore SA1012 a nil context is the input under test
	assert.ErrorIs(t, vpcd.Serve(nil, conn, newCard(t), nil), vpcd.ErrArgument)
	assert.ErrorIs(t, vpcd.Serve(context.Background(), nil, newCard(t), nil), vpcd.ErrArgument)
	assert.ErrorIs(t, vpcd.Serve(context.Background(), (*streamConn)(nil), newCard(t), nil), vpcd.ErrArgument)
	b := &vpcd.Bridge{Addr: "127.0.0.1:1", Card: newCard(t)}
	//lint:ignore SA1012 a nil context is the input under test
	assert.ErrorIs(t, b.Run(nil), vpcd.ErrArgument)
}

// TestBridgeReconnects plays vpcd on a local port: the bridge connects,
// answers, is dropped, connects again, and stops when cancelled.
func TestBridgeReconnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	card := newCard(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b := &vpcd.Bridge{Addr: ln.Addr().String(), Card: card, Retry: 10 * time.Millisecond}
	go func() { done <- b.Run(ctx) }()
	getLife := []byte{0x00, 0xCA, 0x01, 0x08, 0x00}
	selectAID := []byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01}
	for i := range 2 {
		conn, err := ln.Accept()
		require.NoError(t, err)
		writeFrame(t, conn, []byte{vpcd.GetATR})
		assert.Equal(t, vpcd.DefaultATR, readFrame(t, conn))
		// The card removed with the connection before, and inserted
		// again, is selected no more, though vpcd sent no power control.
		writeFrame(t, conn, getLife)
		assert.Equal(t, []byte{0x69, 0x85}, readFrame(t, conn), "connection %d, before SELECT", i)
		writeFrame(t, conn, selectAID)
		assert.Equal(t, []byte{0x90, 0x00}, readFrame(t, conn))
		writeFrame(t, conn, getLife)
		assert.Equal(t, []byte{0x01, 0x90, 0x00}, readFrame(t, conn), "connection %d, after SELECT", i)
		conn.Close()
	}
	conn, err := ln.Accept()
	require.NoError(t, err)
	defer conn.Close()
	cancel()
	assert.NoError(t, <-done)
}

// TestBridgeStopsAtBadFrame: a frame that breaks vpcd's protocol (an empty
// one, an unknown control octet) ends Run with ErrFrame, where a lost
// connection has it connect again.
func TestBridgeStopsAtBadFrame(t *testing.T) {
	for name, frame := range map[string][]byte{"empty frame": {0, 0}, "control 03": {0, 1, 0x03}} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			b := &vpcd.Bridge{Addr: ln.Addr().String(), Card: newCard(t), Retry: time.Millisecond}
			go func() { done <- b.Run(ctx) }()
			conn, err := ln.Accept()
			require.NoError(t, err)
			defer conn.Close()
			again := make(chan net.Conn, 1)
			go func() {
				if c, err := ln.Accept(); err == nil {
					again <- c
				}
			}()
			_, err = conn.Write(frame)
			require.NoError(t, err)
			select {
			case err := <-done:
				assert.ErrorIs(t, err, vpcd.ErrFrame)
			case c := <-again:
				c.Close()
				cancel()
				<-done
				t.Fatal("Run connected again after a frame that breaks the protocol")
			}
		})
	}
}

// TestBridgeNegativeRetry: a negative Retry pauses one second between
// connections, as zero does, instead of connecting again at once.
func TestBridgeNegativeRetry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b := &vpcd.Bridge{Addr: ln.Addr().String(), Card: newCard(t), Retry: -time.Millisecond}
	go func() { done <- b.Run(ctx) }()
	conn, err := ln.Accept()
	require.NoError(t, err)
	conn.Close() // vpcd drops the card
	accepted := make(chan struct{})
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			close(accepted)
		}
	}()
	select {
	case <-accepted:
		t.Fatal("connected again at once")
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	assert.NoError(t, <-done)
}

// TestBridgeRetryDefault: a Retry of zero or less means one second
// between attempts to connect, as the Bridge logs when vpcd cannot be
// reached; Run returns nil once its context is cancelled.
func TestBridgeRetryDefault(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	for _, retry := range []time.Duration{0, -time.Millisecond} {
		ctx, cancel := context.WithCancel(context.Background())
		var logs []string
		b := &vpcd.Bridge{Addr: addr, Card: newCard(t), Retry: retry, Logf: func(format string, args ...any) {
			logs = append(logs, fmt.Sprintf(format, args...))
			cancel()
		}}
		require.NoError(t, b.Run(ctx), "Retry %v", retry)
		require.Len(t, logs, 1, "Retry %v", retry)
		assert.True(t, strings.HasSuffix(logs[0], "; retrying in 1s"), "Retry %v: %q", retry, logs[0])
	}
}

// streamConn is a net.Conn that reads a fixed stream and discards writes.
type streamConn struct {
	net.Conn
	r      io.Reader
	w      bytes.Buffer // what Serve answered
	closed int          // calls of Close
}

func (c *streamConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *streamConn) Write(b []byte) (int, error) { return c.w.Write(b) }
func (c *streamConn) Close() error                { c.closed++; return nil }

// TestServeLeavesConnOpen: Serve closes conn only when its context is
// cancelled (TestServeCancel); when vpcd closes the connection, breaks
// the protocol or cuts a frame short, Serve returns with conn not closed,
// for its caller to close.
func TestServeLeavesConnOpen(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"end of stream": {in: []byte{0, 1, vpcd.GetATR}},
		"bad control":   {in: []byte{0, 1, 3}, want: vpcd.ErrFrame},
		"cut short":     {in: []byte{0, 5, 0, 0xCA}, want: io.ErrUnexpectedEOF},
	} {
		conn := &streamConn{r: bytes.NewReader(tc.in)}
		err := vpcd.Serve(context.Background(), conn, newCard(t), nil)
		if tc.want == nil {
			assert.NoError(t, err, name)
		} else {
			assert.ErrorIs(t, err, tc.want, name)
		}
		assert.Zero(t, conn.closed, name)
	}
}

// FuzzServe feeds Serve an arbitrary byte stream from vpcd: it never
// panics, and ends with nil (end of stream), ErrFrame, or a read error for
// a truncated frame.
func FuzzServe(f *testing.F) {
	f.Add([]byte{0, 1, 4})
	f.Add([]byte{0, 1, 1, 0, 1, 4, 0, 13, 0x00, 0xA4, 0x04, 0x00, 0x07, 0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01, 0x00})
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 1, 3})
	f.Add([]byte{0, 5, 0, 0xCA})
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := applet.New(new(applet.Memory), applet.Options{})
		require.NoError(t, err)
		conn := &streamConn{r: bytes.NewReader(in)}
		err = vpcd.Serve(context.Background(), conn, a, nil)
		if err != nil && !errors.Is(err, vpcd.ErrFrame) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzATR has Serve answer vpcd's get-ATR control with an arbitrary ATR: it
// never panics, and either refuses the ATR (ErrATR) before answering
// anything or answers it whole, in one frame, when it has 2 to 33 octets
// and TS 3B or 3F.
func FuzzATR(f *testing.F) {
	f.Add(vpcd.DefaultATR)
	f.Add([]byte{0x3B, 0x00})
	f.Add([]byte{0x3B, 0x80})
	f.Fuzz(func(t *testing.T, atr []byte) {
		conn := &streamConn{r: bytes.NewReader([]byte{0, 1, vpcd.GetATR})}
		err := vpcd.Serve(context.Background(), conn, newCard(t), atr)
		if atr == nil {
			atr = vpcd.DefaultATR
		}
		if err != nil {
			require.ErrorIs(t, err, vpcd.ErrATR)
			require.Empty(t, conn.w.Bytes())
			return
		}
		require.True(t, len(atr) >= 2 && len(atr) <= 33 && (atr[0] == 0x3B || atr[0] == 0x3F), "% X", atr)
		require.Equal(t, append([]byte{0, byte(len(atr))}, atr...), conn.w.Bytes())
	})
}

// answerCard is a Card whose Transmit answers r and err, whatever the
// command.
type answerCard struct {
	r   []byte
	err error
}

func (c answerCard) Transmit([]byte) ([]byte, error) { return c.r, c.err }
func (answerCard) Reset()                            {}

// TestServeCardFailure: a card whose Transmit fails, or answers something
// that is no response APDU (fewer than two octets) or that no frame carries
// (over 65535 octets), is answered to vpcd as 6F00; a response of 65535
// octets is carried whole.
func TestServeCardFailure(t *testing.T) {
	apdu := []byte{0, 2, 0x00, 0xA4}
	long := bytes.Repeat([]byte{0x5A}, 0xFFFF)
	for name, tc := range map[string]struct {
		card answerCard
		want []byte
	}{
		"Transmit fails": {answerCard{r: []byte{0x90, 0x00}, err: errors.New("card broken")}, []byte{0, 2, 0x6F, 0x00}},
		"no response":    {answerCard{}, []byte{0, 2, 0x6F, 0x00}},
		"one octet":      {answerCard{r: []byte{0x90}}, []byte{0, 2, 0x6F, 0x00}},
		"65536 octets":   {answerCard{r: append(bytes.Clone(long), 0)}, []byte{0, 2, 0x6F, 0x00}},
		"65535 octets":   {answerCard{r: long}, append([]byte{0xFF, 0xFF}, long...)},
		"a status word":  {answerCard{r: []byte{0x90, 0x00}}, []byte{0, 2, 0x90, 0x00}},
	} {
		t.Run(name, func(t *testing.T) {
			conn := &streamConn{r: bytes.NewReader(apdu)}
			require.NoError(t, vpcd.Serve(context.Background(), conn, tc.card, nil))
			assert.Equal(t, tc.want, conn.w.Bytes())
		})
	}
}
