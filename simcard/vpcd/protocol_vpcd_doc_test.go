package vpcd_test

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/vpcd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolATRLayout pins what PROTOCOL.md §2.11 says the ATR holds:
// "T=0 (TD1 `80`, the first protocol offered ...) and T=1 (TD2 `01`), and
// historical octets in COMPACT-TLV giving the AID and the card
// capabilities (selection by full DF name, command chaining, extended Lc
// and Le)", read as ISO/IEC 7816-3 and 7816-4 lay them out.
func TestProtocolATRLayout(t *testing.T) {
	atr := vpcd.DefaultATR
	require.Equal(t, byte(0x3B), atr[0], "TS: direct convention")
	t0 := atr[1]
	require.Equal(t, byte(0x80), t0&0xF0, "T0: TD1 alone follows")
	historical := int(t0 & 0x0F)
	td1, td2 := atr[2], atr[3]
	assert.Equal(t, byte(0x80), td1, "TD1: TD2 alone follows")
	assert.Zero(t, td1&0x0F, "TD1: T=0, the first protocol offered")
	assert.Zero(t, td2&0xF0, "TD2: no interface octet follows")
	assert.Equal(t, byte(0x01), td2&0x0F, "TD2: T=1")
	require.Len(t, atr, 4+historical+1, "TS T0 TD1 TD2, the historical octets, TCK")

	hist := atr[4 : 4+historical]
	require.Equal(t, byte(0x80), hist[0], "category 80: COMPACT-TLV objects, no status indicator")
	objects := map[byte][]byte{}
	var tags []byte
	for b := hist[1:]; len(b) > 0; {
		tag, n := b[0]>>4, int(b[0]&0x0F)
		require.LessOrEqual(t, 1+n, len(b), "COMPACT-TLV object %X cut short", tag)
		objects[tag] = b[1 : 1+n]
		tags = append(tags, tag)
		b = b[1+n:]
	}
	assert.Equal(t, []byte{0xF, 0x7}, tags, "the application identifier (F) and the card capabilities (7)")
	assert.Equal(t, simcard.AID, objects[0xF], "the AID")
	caps := objects[0x7]
	require.Len(t, caps, 3, "the three octets of the card capabilities")
	assert.Equal(t, byte(0x80), caps[0], "first software function table: DF selection by full DF name alone")
	assert.Equal(t, byte(0xC0), caps[2], "third octet: command chaining (b8) and extended Lc and Le (b7)")

	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	assert.Zero(t, x, "TCK: the XOR of T0 to TCK is zero")
}

// longestATR returns an ATR of 33 octets, the longest that PROTOCOL.md
// §2.11 allows: TS, T0 announcing TA1 to TD1 and 14 historical octets, 16
// interface octets (TA TB TC TD of levels 1 to 3, TD4 alone, then TA5 TB5
// TC5, offering T=1), the historical octets and TCK.
func longestATR() []byte {
	iface := []byte{0x11, 0x11, 0x11, 0xF1, 0x11, 0x11, 0x11, 0xF1, 0x11, 0x11, 0x11, 0x81, 0x71, 0x11, 0x11, 0x11}
	hist := []byte{0x80, 0xF7, 0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01, 0x73, 0x80, 0x01, 0xC0, 0x00}
	atr := slices.Concat([]byte{0x3B, 0xF0 | byte(len(hist))}, iface, hist)
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	return append(atr, x)
}

// TestProtocolBridgeGivenATR pins PROTOCOL.md §2.11: "Another ATR may be
// given (`vpcd.Bridge.ATR`)": the bridge answers vpcd's get-ATR control
// (`04`) with it.
func TestProtocolBridgeGivenATR(t *testing.T) {
	atr := longestATR()
	require.Len(t, atr, 33)
	require.NoError(t, vpcd.Serve(context.Background(), &streamConn{r: bytes.NewReader(nil)}, newCard(t), atr), "an ATR that Serve takes")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	b := &vpcd.Bridge{Addr: ln.Addr().String(), Card: newCard(t), ATR: atr, Retry: time.Millisecond}
	go func() { done <- b.Run(ctx) }()
	conn, err := ln.Accept()
	require.NoError(t, err)
	defer conn.Close()
	writeFrame(t, conn, []byte{vpcd.GetATR})
	assert.Equal(t, atr, readFrame(t, conn), "the ATR given")
	cancel()
	assert.NoError(t, <-done)
}

// TestProtocolPCSCLongestATR pins PROTOCOL.md §2.11 through pcscd: an ATR
// "of at most 33 octets, the most pcscd takes": a card bridged with one of
// 33 octets is powered, shows that ATR and answers SELECT. It runs only
// with CASIMPAY_PCSC=1, as TestPCSC does.
func TestProtocolPCSCLongestATR(t *testing.T) {
	testenv.PCSC(t)
	_, err := exec.LookPath("opensc-tool")
	require.NoError(t, err, "opensc-tool is needed with %s=1", testenv.PCSCEnv)

	atr := longestATR()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reader := bridged(ctx, t, newCard(t), atr)
	// opensc-tool -a -v prints "Card ATR:" and the ATR in opensc's hex
	// dump, for a card of no driver of opensc's too.
	out, err := exec.CommandContext(ctx, "opensc-tool", "-r", reader, "-a", "-v").CombinedOutput()
	require.NoError(t, err, "%s", out)
	_, dump, ok := strings.Cut(string(out), "Card ATR:\n")
	require.True(t, ok, "opensc-tool -a -v said:\n%s", out)
	var got []byte
	for line := range strings.SplitSeq(strings.TrimRight(dump, "\n"), "\n") {
		b, ok := dumpLine(line)
		require.True(t, ok, "hex dump line %q", line)
		got = append(got, b...)
	}
	assert.Equal(t, atr, got, "pcscd shows the ATR of 33 octets")
}
