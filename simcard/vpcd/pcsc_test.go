package vpcd_test

// The PC/SC integration test drives the virtual card through the real
// smart-card stack: opensc-tool → libpcsclite → pcscd → the vpcd driver →
// TCP → Bridge → applet. It runs only with CASIMPAY_PCSC=1 (see
// internal/testenv), after the stack has been started like this:
//
//	apt-get install -y pcscd vsmartcard-vpcd opensc   # Debian/Ubuntu packages
//	pcscd                                             # daemonises; loads the vpcd driver
//	# wait until vpcd listens on port 35963 (look, do not connect: a
//	# connection is a card insertion):
//	for i in $(seq 30); do ss -ltnH | grep -q ':35963 ' && break; sleep 1; done
//	CASIMPAY_PCSC=1 go test -run TestPCSC ./simcard/vpcd/
//
// The test inserts its card at 127.0.0.1:35963 (vpcd's first reader,
// "Virtual PCD 00 00"), so no other virtual card may be connected there.

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/casimpay/casimpay/simcard/vpcd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reply is one response as opensc-tool printed it.
type reply struct {
	SW   uint16
	Data []byte
}

var receivedRE = regexp.MustCompile(`^Received \(SW1=0x([0-9A-Fa-f]{2}), SW2=0x([0-9A-Fa-f]{2})\)`)

// parseOpensc reads the "Received (SW1=…, SW2=…)" lines of opensc-tool and
// the hex dump that follows each (16 octets a line in the first 48 columns,
// then their ASCII).
func parseOpensc(t *testing.T, out string) []reply {
	t.Helper()
	var replies []reply
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		if m := receivedRE.FindStringSubmatch(line); m != nil {
			sw1, _ := strconv.ParseUint(m[1], 16, 8)
			sw2, _ := strconv.ParseUint(m[2], 16, 8)
			replies = append(replies, reply{SW: uint16(sw1)<<8 | uint16(sw2)})
			in = strings.HasSuffix(line, ":")
			continue
		}
		if strings.HasPrefix(line, "Sending:") {
			in = false
			continue
		}
		if !in || len(replies) == 0 {
			continue
		}
		b, ok := dumpLine(line)
		require.True(t, ok, "hex dump line %q", line)
		r := &replies[len(replies)-1]
		r.Data = append(r.Data, b...)
	}
	return replies
}

// dumpLine reads one line of opensc's hex dump: n octets as "XX " each,
// padding spaces, then the n octets as ASCII (which may hold spaces).
func dumpLine(line string) ([]byte, bool) {
	for n := 16; n >= 1; n-- {
		if len(line) < 4*n || strings.Trim(line[3*n:len(line)-n], " ") != "" {
			continue
		}
		b := make([]byte, n)
		ok := true
		for k := range n {
			v, err := hex.DecodeString(line[3*k : 3*k+2])
			if err != nil || line[3*k+2] != ' ' {
				ok = false
				break
			}
			b[k] = v[0]
		}
		if ok {
			return b, true
		}
	}
	return nil, false
}

// readerWithCard returns the number opensc-tool -l gives the vpcd reader
// once it holds our card and answers SELECT (pcscd may still show the card
// of a previous run for a moment).
func readerWithCard(ctx context.Context, t *testing.T) string {
	t.Helper()
	for {
		out, _ := exec.CommandContext(ctx, "opensc-tool", "-l").CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[1] == "Yes" && strings.Contains(line, "Virtual PCD 00 00") {
				sel, _ := exec.CommandContext(ctx, "opensc-tool", "-r", f[0], "-c", "default", "-s", selectAID).CombinedOutput()
				if strings.Contains(string(sel), "Received (SW1=0x90, SW2=0x00)") {
					return f[0]
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no card in the vpcd reader; opensc-tool -l said:\n%s", out)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// bridged inserts card under atr (nil: DefaultATR) into pcscd's vpcd
// reader until ctx ends or the test does, and returns the reader, which
// holds the card and answers SELECT. When the test ends the bridge stops
// and pcscd no longer shows the card.
func bridged(ctx context.Context, t *testing.T, card vpcd.Card, atr []byte) string {
	t.Helper()
	bridgeCtx, stopBridge := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- (&vpcd.Bridge{Card: card, ATR: atr, Retry: 100 * time.Millisecond, Logf: t.Logf}).Run(bridgeCtx)
	}()
	t.Cleanup(func() {
		stopBridge()
		assert.NoError(t, <-done)
		waitCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		waitRemoved(waitCtx)
	})
	return readerWithCard(ctx, t)
}

// waitRemoved waits until pcscd no longer shows a card in the vpcd reader,
// so that the next run does not find this one's.
func waitRemoved(ctx context.Context) {
	for ctx.Err() == nil {
		out, _ := exec.CommandContext(ctx, "opensc-tool", "-l").CombinedOutput()
		present := false
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[1] == "Yes" && strings.Contains(line, "Virtual PCD 00 00") {
				present = true
			}
		}
		if !present {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

const selectAID = "00A4040007F0434153494D0100"

// send runs one opensc-tool session with the given APDUs (hexadecimal) and
// returns one reply per APDU.
func send(ctx context.Context, t *testing.T, reader string, apdus ...string) []reply {
	t.Helper()
	args := []string{"-r", reader, "-c", "default"}
	for _, a := range apdus {
		args = append(args, "-s", a)
	}
	out, err := exec.CommandContext(ctx, "opensc-tool", args...).CombinedOutput()
	require.NoError(t, err, "opensc-tool %s:\n%s", strings.Join(args, " "), out)
	replies := parseOpensc(t, string(out))
	require.Len(t, replies, len(apdus), "opensc-tool output:\n%s", out)
	return replies
}

func sws(rs []reply) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%04X", r.SW)
	}
	return out
}

func TestPCSC(t *testing.T) {
	testenv.PCSC(t)
	_, err := exec.LookPath("opensc-tool")
	require.NoError(t, err, "opensc-tool is needed with %s=1", testenv.PCSCEnv)

	root, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	v, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reader := bridged(ctx, t, v.Applet, nil)

	const sel = selectAID
	t.Run("ATR", func(t *testing.T) {
		out, err := exec.CommandContext(ctx, "opensc-tool", "-r", reader, "-a").CombinedOutput()
		require.NoError(t, err, "%s", out)
		got := strings.ReplaceAll(strings.TrimSpace(string(out)), ":", "")
		require.GreaterOrEqual(t, len(got), 2*len(vpcd.DefaultATR), "%s", out)
		assert.Equal(t, hex.EncodeToString(vpcd.DefaultATR), strings.ToLower(got[len(got)-2*len(vpcd.DefaultATR):]))
	})
	t.Run("select and get data", func(t *testing.T) {
		rs := send(ctx, t, reader, sel, "00CA010100", "00CA010500", "00CA010800", "00CA0F0F00")
		assert.Equal(t, []string{"9000", "9000", "9000", "9000", "6A88"}, sws(rs))
		assert.Equal(t, "6F118407F0434153494D01A506800101810107", strings.ToUpper(hex.EncodeToString(rs[0].Data)))
		assert.Equal(t, v.Enrolment.ICCID, string(rs[1].Data))
		assert.Equal(t, []byte{3, 3}, rs[2].Data)
		assert.Equal(t, []byte{simcard.LifeOperational}, rs[3].Data)
	})

	t.Run("signature verified with the certificate read back", func(t *testing.T) {
		consent := &record.Consent{
			RequestID: bytesOf(16, 1), RequestHash: bytesOf(32, 2), Nonce: bytesOf(32, 3),
			Amount: 1234, Currency: "EUR", MerchantID: "grocer-1",
		}
		p, err := record.Marshal(consent)
		require.NoError(t, err)
		sign := fmt.Sprintf("80500300%02X%X00", len(p), p)
		challenge := bytesOf(32, 0x5A)
		rs := send(ctx, t, reader, sel, "00CA010200", "00CA010700",
			sign,                           // without VERIFY: refused
			"0020008006313233343536", sign, // PIN 123456
			fmt.Sprintf("0088000020%X00", challenge))
		require.Equal(t, []string{"9000", "9000", "9000", "6982", "9000", "9000", "9000"}, sws(rs))

		cert, err := pki.ParseCertificate(rs[1].Data)
		require.NoError(t, err)
		chain := [][]byte{rs[1].Data, rs[2].Data} // the demo hierarchy has one issuing CA
		vf, err := pki.NewVerifier(pki.VerifierOptions{Roots: [][]byte{root.DER()}, Revocation: pki.RevocationBestEffort})
		require.NoError(t, err)
		vc, err := vf.VerifyCard(chain)
		require.NoError(t, err)
		assert.Equal(t, v.Enrolment.ICCID, vc.CardID)
		assert.True(t, vc.PublicKey.Equal(cert.PublicKey))

		var got record.Consent
		require.NoError(t, record.Verify(rs[5].Data, vc.PublicKey, &got))
		assert.Equal(t, v.Enrolment.ICCID, got.CardID)
		assert.Equal(t, uint64(1), got.Counter)
		assert.Equal(t, uint64(1234), got.Amount)
		tampered := append([]byte(nil), rs[5].Data...)
		tampered[len(tampered)-1] ^= 1
		assert.ErrorIs(t, record.Verify(tampered, vc.PublicKey, &got), record.ErrSignature)

		assert.True(t, simcard.VerifyChallenge(vc.PublicKey, vc.CardID, challenge, rs[6].Data))
		assert.False(t, simcard.VerifyChallenge(vc.PublicKey, vc.CardID, bytesOf(32, 0x5B), rs[6].Data))
	})

	t.Run("PIN lockout", func(t *testing.T) {
		rs := send(ctx, t, reader, sel,
			"0020008006313131313131", "0020008006313131313131", "0020008006313131313131",
			"0020008006313233343536",                 // the right PIN, blocked
			"0020008000",                             // status
			"002C00800E3132333435363738393939393939", // PUK 12345678, new PIN 999999
			"0020008006393939393939")
		assert.Equal(t, []string{"9000", "63C2", "63C1", "63C0", "6983", "6983", "9000", "9000"}, sws(rs))
	})
}

func bytesOf(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}
