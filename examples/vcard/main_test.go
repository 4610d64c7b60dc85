package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// overVPCD plays vpcd on a local port: it accepts the virtual card, reads
// its ATR, selects the applet and returns the card's responses to apdus.
func overVPCD(t *testing.T, ln net.Listener, apdus ...[]byte) [][]byte {
	t.Helper()
	// A run that fails before it dials vpcd must fail the test, not hang it.
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(30*time.Second)))
	conn, err := ln.Accept()
	require.NoError(t, err)
	defer conn.Close()
	exchange := func(p []byte) []byte {
		_, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(p))), p...))
		require.NoError(t, err)
		var hdr [2]byte
		_, err = io.ReadFull(conn, hdr[:])
		require.NoError(t, err)
		b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		_, err = io.ReadFull(conn, b)
		require.NoError(t, err)
		return b
	}
	atr := exchange([]byte{4})
	require.Equal(t, byte(0x3B), atr[0])
	require.Equal(t, []byte{0x90, 0x00}, exchange([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01}))
	var rs [][]byte
	for _, apdu := range apdus {
		rs = append(rs, exchange(apdu))
	}
	return rs
}

// iccidOverVPCD reads the ICCID of the virtual card over vpcd (overVPCD).
func iccidOverVPCD(t *testing.T, ln net.Listener) string {
	t.Helper()
	r := overVPCD(t, ln, []byte{0x00, 0xCA, 0x01, 0x01, 0x00})[0]
	require.Equal(t, []byte{0x90, 0x00}, r[len(r)-2:])
	return string(r[:len(r)-2])
}

// serveOnce runs the card of state (run with pin, puk and unblock) for a
// vpcd on a local port, returns the card's responses to apdus (overVPCD),
// and ends the run, which must end without an error.
func serveOnce(t *testing.T, pin, puk, state string, unblock bool, apdus ...[]byte) [][]byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln.Addr().String(), pin, puk, state, unblock) }()
	rs := overVPCD(t, ln, apdus...)
	cancel()
	require.NoError(t, <-done)
	return rs
}

// The outcomes that -unblock logs for a PIN that was blocked and one that
// was not.
const (
	unblocked  = "PIN unblocked by the PUK; the card's PIN is now the new one"
	notBlocked = "PIN not blocked, set all the same with the PUK; the card's PIN is now the new one"
)

// pinTries is GET DATA of the PIN's tries left and total.
var pinTries = append(binary.BigEndian.AppendUint16([]byte{simcard.ClassISO, simcard.InsGetData}, simcard.TagPINStatus), 0x00)

// requireUnblocked serves the card of state with -unblock, the demo PUK
// and the new PIN 2468, and requires the PIN's tries restored, the demo
// PIN refused and 2468 accepted, and the log to show the PUK's tries
// and the outcome, outcome, and no other.
func requireUnblocked(t *testing.T, logged *bytes.Buffer, state string, pukTries int, outcome string) {
	t.Helper()
	logged.Reset()
	rs := serveOnce(t, "2468", simcardtest.PUK, state, true, pinTries, verifyAPDU(simcardtest.PIN), verifyAPDU("2468"))
	assert.Equal(t, []byte{0x03, 0x03, 0x90, 0x00}, rs[0], "the PIN's tries restored")
	assert.Equal(t, []byte{0x63, 0xC2}, rs[1], "the old PIN no longer the card's")
	assert.Equal(t, []byte{0x90, 0x00}, rs[2], "the new PIN the card's")
	assert.Contains(t, logged.String(), fmt.Sprintf("Enter PUK (%d of 3 tries left): ********\n", pukTries))
	for _, o := range []string{unblocked, notBlocked} {
		if o == outcome {
			assert.Contains(t, logged.String(), o+"\n")
		} else {
			assert.NotContains(t, logged.String(), o)
		}
	}
	assert.NotContains(t, logged.String(), "ignored")
}

func TestRunPersonalisesOnceAndServes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	state := filepath.Join(t.TempDir(), "card.state")

	var ids []string
	for range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, ln.Addr().String(), "2468", "87654321", state, false) }()
		ids = append(ids, iccidOverVPCD(t, ln))
		cancel()
		require.NoError(t, <-done)
	}
	require.NoError(t, pki.ValidICCID(ids[0]))
	assert.Equal(t, ids[0], ids[1], "the second run serves the stored card")
	pem, err := os.ReadFile(state + ".root.pem")
	require.NoError(t, err)
	roots, err := pki.ParseCertificatesPEM(pem)
	require.NoError(t, err)
	assert.Len(t, roots, 1)
}

// TestRunReplacesRootFile: the demo root's file is replaced whole (a new
// file renamed over it, synced first), not written into in place, so a
// crash or a reader at the same moment never finds it empty or in part:
// a second name of the old file keeps the old bytes.
func TestRunReplacesRootFile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	dir := t.TempDir()
	state := filepath.Join(dir, "card.state")
	require.NoError(t, os.WriteFile(state+".root.pem", []byte("old"), 0o644))
	require.NoError(t, os.Link(state+".root.pem", filepath.Join(dir, "old.pem")))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln.Addr().String(), "2468", "87654321", state, false) }()
	iccidOverVPCD(t, ln)
	cancel()
	require.NoError(t, <-done)

	old, err := os.ReadFile(filepath.Join(dir, "old.pem"))
	require.NoError(t, err)
	assert.Equal(t, "old", string(old))
	pem, err := os.ReadFile(state + ".root.pem")
	require.NoError(t, err)
	roots, err := pki.ParseCertificatesPEM(pem)
	require.NoError(t, err)
	assert.Len(t, roots, 1)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp", "no temporary file left")
	}
}

// TestRunRefusesHeldState: a state file that another run serves, or that
// another program holds as demo.OpenCard holds a card file (the lock of
// demo.LockCard), is refused at once with demo.ErrCardInUse, naming the
// file, before the card is powered up; once the holder lets go, a run
// takes it. The refused runs get a context that has ended: a run that
// took the file would stop at once and return no such error.
func TestRunRefusesHeldState(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	state := filepath.Join(t.TempDir(), "card.state")
	ended, cancelEnded := context.WithCancel(context.Background())
	cancelEnded()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln.Addr().String(), "2468", "87654321", state, false) }()
	served := iccidOverVPCD(t, ln) // the first run holds the file now
	err = run(ended, ln.Addr().String(), "2468", "87654321", state, false)
	require.ErrorIs(t, err, demo.ErrCardInUse)
	assert.Contains(t, err.Error(), state)
	cancel()
	require.NoError(t, <-done)

	unlock, err := demo.LockCard(state)
	require.NoError(t, err, "free once the first run ended")
	err = run(ended, ln.Addr().String(), "2468", "87654321", state, false)
	require.ErrorIs(t, err, demo.ErrCardInUse)
	assert.Contains(t, err.Error(), state)
	require.NoError(t, unlock())

	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- run(ctx, ln.Addr().String(), "2468", "87654321", state, false) }()
	assert.Equal(t, served, iccidOverVPCD(t, ln), "free once the other program let go")
	cancel()
	require.NoError(t, <-done)
}

// captureLog sends the log to the buffer it returns until the test ends.
func captureLog(t *testing.T) *bytes.Buffer {
	var logged bytes.Buffer
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	return &logged
}

// verifyAPDU is the VERIFY command presenting pin.
func verifyAPDU(pin string) []byte {
	return append([]byte{simcard.ClassISO, simcard.InsVerify, 0x00, simcard.RefPIN, byte(len(pin))}, pin...)
}

// TestRunSaysPINIgnored: a card personalised before keeps its PIN and
// PUK; a -pin or -puk given for it is not taken silently, the log says
// it is ignored. A card personalised without them has the demo PIN.
func TestRunSaysPINIgnored(t *testing.T) {
	logged := captureLog(t)
	state := filepath.Join(t.TempDir(), "card.state")

	for _, tt := range []struct{ pin, puk, ignored string }{
		{"", "", ""}, // personalised: the demo PIN and PUK
		{"", "", ""},
		{"2468", "", "-pin"},
		{"", "87654321", "-puk"},
		{"2468", "87654321", "-pin and -puk"},
	} {
		logged.Reset()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, ln.Addr().String(), tt.pin, tt.puk, state, false)
			ln.Close() // a run that failed never connects
		}()
		rs := overVPCD(t, ln, verifyAPDU(simcardtest.PIN))
		cancel()
		require.NoError(t, <-done)
		assert.Equal(t, []byte{0x90, 0x00}, rs[0], "the card's PIN is still the demo PIN")
		if tt.ignored == "" {
			assert.NotContains(t, logged.String(), "ignored")
		} else {
			assert.Contains(t, logged.String(), tt.ignored+" ignored: the card was personalised before and keeps its own")
		}
	}
}

// TestRunUnblocks: a run with unblock on a card whose PIN is blocked
// presents the PUK (RESET RETRY COUNTER) before serving the card: a wrong
// PUK fails the run, saying the PUK's tries left, and leaves the PIN
// blocked; the right one makes pin the card's PIN, with its tries
// restored, and the card is served. A state file of no card personalised
// is refused, and so is a card whose PUK is blocked, without the card
// being asked.
func TestRunUnblocks(t *testing.T) {
	logged := captureLog(t)
	state := filepath.Join(t.TempDir(), "card.state")

	err := run(context.Background(), "127.0.0.1:1", "2468", simcardtest.PUK, state, true)
	assert.EqualError(t, err, "vcard: -unblock: card state "+state+" holds no personalised card")
	assert.NoFileExists(t, state+".root.pem", "no card personalised")

	// Personalised with the demo PIN and PUK; three wrong PINs block it.
	rs := serveOnce(t, "", "", state, false, verifyAPDU("0000"), verifyAPDU("0000"), verifyAPDU("0000"), verifyAPDU(simcardtest.PIN))
	assert.Equal(t, []byte{0x69, 0x83}, rs[3], "the PIN blocked")

	logged.Reset()
	err = run(context.Background(), "127.0.0.1:1", "2468", "87654321", state, true)
	require.ErrorIs(t, err, simcard.ErrWrongPUK)
	assert.EqualError(t, err, "vcard: card state "+state+": demo: wrong PUK, 2 of 3 tries left: simcard: instruction 2C: status word 63C2")
	assert.Contains(t, logged.String(), "Enter PUK (3 of 3 tries left): ********\n")
	assert.Contains(t, logged.String(), "Wrong PUK: the card refused it (2 of 3 tries left)\n")

	requireUnblocked(t, logged, state, 2, unblocked)

	// Three wrong PUKs block the PUK: the card is then not asked.
	for _, left := range []int{2, 1, 0} {
		err = run(context.Background(), "127.0.0.1:1", "2468", "87654321", state, true)
		require.ErrorIs(t, err, simcard.ErrWrongPUK)
		assert.Contains(t, err.Error(), fmt.Sprintf("demo: wrong PUK, %d of 3 tries left", left))
	}
	logged.Reset()
	err = run(context.Background(), "127.0.0.1:1", "2468", simcardtest.PUK, state, true)
	require.ErrorIs(t, err, simcard.ErrPUKBlocked)
	assert.EqualError(t, err, "vcard: card state "+state+": demo: the card's PIN and PUK are blocked: "+simcard.ErrPUKBlocked.Error())
	assert.Contains(t, logged.String(), "The card's PUK is blocked too: nothing unblocks the card\n")
	assert.NotContains(t, logged.String(), "Enter PUK")
}

// TestRunUnblocksPINNotBlocked: -unblock on a card whose PIN is not
// blocked, one wrong try spent, sets the PIN all the same, as RESET RETRY
// COUNTER does: a PIN forgotten needs no tries spent to block it first.
// pin becomes the card's PIN with its tries restored, the old PIN is
// refused, and the log says that the PIN was not blocked.
func TestRunUnblocksPINNotBlocked(t *testing.T) {
	logged := captureLog(t)
	state := filepath.Join(t.TempDir(), "card.state")
	rs := serveOnce(t, "", "", state, false, verifyAPDU("0000"), pinTries)
	assert.Equal(t, []byte{0x02, 0x03, 0x90, 0x00}, rs[1], "one wrong try: the PIN not blocked")
	requireUnblocked(t, logged, state, 3, notBlocked)
}

func TestRunRefusesBadPIN(t *testing.T) {
	for _, tt := range []struct{ name, pin, puk string }{
		{"short PIN", "12", "87654321"},
		{"PIN not digits", "12ab", "87654321"},
		{"short PUK", "2468", "8765432"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "s")
			err := run(context.Background(), "127.0.0.1:1", tt.pin, tt.puk, state, false)
			assert.ErrorIs(t, err, simcard.ErrFormat)
			assert.NoFileExists(t, state+".root.pem", "refused before the demo CA is made")
		})
	}
}

// TestRunRefusesUnreadableState: a state file that is no card's state is
// refused with an error that names it and matches applet.ErrState, and is
// left as it was.
func TestRunRefusesUnreadableState(t *testing.T) {
	state := filepath.Join(t.TempDir(), "s")
	require.NoError(t, os.WriteFile(state, []byte("garbage"), 0o600))
	err := run(context.Background(), "127.0.0.1:1", "", "", state, false)
	require.ErrorIs(t, err, applet.ErrState)
	assert.EqualError(t, err, "vcard: card state "+state+": applet: unreadable card state: bad layout")
	b, err := os.ReadFile(state)
	require.NoError(t, err)
	assert.Equal(t, "garbage", string(b))
}

// TestExitStatus runs main in a child process, as `go run` does: an
// argument after the flags is refused (exit status 2, as a bad flag), not
// dropped with the flags after it, and so are a -vpcd address that is not
// host:port with a port from 1 to 65535, a -pin or -puk that no card
// takes and an -unblock without -pin and -puk or without a state file,
// before the card or vpcd is used: no state file or lock file is left
// behind.
func TestExitStatus(t *testing.T) {
	if args := os.Getenv("VCARD_MAIN_ARGS"); args != "" {
		os.Args = append([]string{"vcard"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	usage := map[string]string{
		"-vpcd 127.0.0.1:1 -unblock":                                     "-unblock needs -puk, the card's PUK, and -pin, its new PIN",
		"-vpcd 127.0.0.1:1 -unblock -pin 2468":                           "-unblock needs -puk, the card's PUK, and -pin, its new PIN",
		"-vpcd 127.0.0.1:1 -unblock -puk 12345678":                       "-unblock needs -puk, the card's PUK, and -pin, its new PIN",
		"-vpcd 127.0.0.1:1 -unblock -pin 2468 -puk 12345678 -state none": "-unblock needs the state file of a card personalised before: stat none: no such file or directory",
	}
	for _, args := range []string{"-nope", "card.state", "-vpcd 127.0.0.1:1 extra -state x",
		"-vpcd nonsense", "-vpcd 127.0.0.1:0", "-vpcd 127.0.0.1:65536", "-vpcd 127.0.0.1:vpcd", "-vpcd localhost:-1",
		"-pin 12", "-pin 12ab", "-pin 1234567890123", "-puk 1234567", "-puk 1234567a", "-vpcd 127.0.0.1:1 -state s -puk 123456789",
		"-vpcd 127.0.0.1:1 -state=", "-vpcd 127.0.0.1:1 -state .",
		"-vpcd 127.0.0.1:1 -unblock", "-vpcd 127.0.0.1:1 -unblock -pin 2468", "-vpcd 127.0.0.1:1 -unblock -puk 12345678",
		"-vpcd 127.0.0.1:1 -unblock -pin 2468 -puk 12345678 -state none"} {
		t.Run(args, func(t *testing.T) {
			dir := t.TempDir()
			// A child that took the arguments would run the bridge until
			// killed: the deadline ends it, and the test fails on its status.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestExitStatus$")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "VCARD_MAIN_ARGS="+args)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, "%s", out)
			assert.Equal(t, 2, ee.ExitCode(), "%s", out)
			if want, ok := usage[args]; ok {
				assert.Contains(t, string(out), "vcard: "+want+"\n")
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "no card state is written")
		})
	}
}

// TestUsage: -h prints the usage under the program's name (not the path
// of the binary that `go run` builds), with what -pin and -puk mean with
// -unblock as well as for a new card, and exits 0.
func TestUsage(t *testing.T) {
	if os.Getenv("VCARD_MAIN_USAGE") != "" {
		os.Args = []string{filepath.Join(t.TempDir(), "exe", "vcard"), "-h"}
		main()
		os.Exit(3) // -h ends main
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUsage$")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "VCARD_MAIN_USAGE=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s%s", &stdout, &stderr)
	assert.Equal(t, `Usage of vcard:
  -pin DIGITS
    	the PIN of a new card, 4 to 12 DIGITS; with -unblock, the card's new PIN (default "123456")
  -puk DIGITS
    	the PUK of a new card, 8 DIGITS; with -unblock, the card's PUK, which unblocks its PIN (default "12345678")
  -state file
    	card state file (default "vcard.state")
  -unblock
    	unblock the PIN of the card personalised before with -puk, making -pin its PIN
  -vpcd host:port
    	vpcd address host:port (default "127.0.0.1:35963")
`, stderr.String())
}

// TestDocSelectsApplet: the opensc-tool command of the package comment
// selects the applet by its AID and reads the ICCID.
func TestDocSelectsApplet(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	m := regexp.MustCompile(`opensc-tool -r 'Virtual PCD 00 00' -s ([0-9A-F]+) -s ([0-9A-F]+)\n`).FindSubmatch(src)
	require.NotNil(t, m, "the opensc-tool command of the package comment")
	sel, err := hex.DecodeString(string(m[1]))
	require.NoError(t, err)
	want := append([]byte{simcard.ClassISO, simcard.InsSelect, simcard.SelectByName, simcard.SelectFCI, byte(len(simcard.AID))}, simcard.AID...)
	assert.Equal(t, append(want, 0x00), sel, "SELECT by the applet's AID, FCI expected")
	get, err := hex.DecodeString(string(m[2]))
	require.NoError(t, err)
	assert.Equal(t, binary.BigEndian.AppendUint16([]byte{simcard.ClassISO, simcard.InsGetData}, simcard.TagICCID), get[:4], "GET DATA of the ICCID")
}

// lostAfterActivate is a Transmitter in front of a: ACTIVATE reaches the
// card but its answer is lost, and so is every command after it. It keeps
// the answer to GET DATA of the advertising secret in secret.
type lostAfterActivate struct {
	a         *applet.Applet
	activated bool
	secret    []byte
}

var errLink = errors.New("link lost")

func (l *lostAfterActivate) Transmit(cmd []byte) ([]byte, error) {
	if l.activated {
		return nil, errLink
	}
	r, err := l.a.Transmit(cmd)
	l.activated = cmd[1] == simcard.InsActivate
	if l.activated {
		return nil, errLink
	}
	if cmd[1] == simcard.InsGetData && binary.BigEndian.Uint16(cmd[2:4]) == simcard.TagAdvSecret {
		l.secret = bytes.Clone(r[:len(r)-2])
	}
	return r, err
}

// TestPersonaliseKeepsEnrolmentOfCardMaybeActivated: when ACTIVATE's
// answer and the SELECT after it are lost, Personalise returns the
// Enrolment with its error, the card perhaps activated and never to
// reveal its advertising secret again: personalise logs the ICCID and the
// secret before it returns the error.
func TestPersonaliseKeepsEnrolmentOfCardMaybeActivated(t *testing.T) {
	logged := captureLog(t)
	a, err := applet.New(new(applet.Memory), applet.Options{})
	require.NoError(t, err)
	tr := &lostAfterActivate{a: a}
	err = personalise(simcard.New(tr), simcardtest.PIN, simcardtest.PUK, filepath.Join(t.TempDir(), "root.pem"))
	require.ErrorIs(t, err, errLink)
	require.Len(t, tr.secret, 16)
	iccid, err := simcard.New(a).ICCID()
	require.NoError(t, err)
	assert.Contains(t, logged.String(), fmt.Sprintf("card %s may be activated", iccid))
	assert.Contains(t, logged.String(), fmt.Sprintf("advertising secret %x", tr.secret))
}
