package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// runGrocery runs the program with args and returns its output.
func runGrocery(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, &out)
	require.NoError(t, err, out.String())
	return out.String()
}

var codeRE = regexp.MustCompile(`(?m)^\[(shopper|seller|cloud)\] +.*pairing code (\d{6})`)

// checkPurchase asserts the screens of one purchase: both phones and the
// cloud show one pairing code, the cloud prices the basket, both phones
// verify the receipt.
func checkPurchase(t *testing.T, out string) {
	t.Helper()
	codes := codeRE.FindAllStringSubmatch(out, -1)
	screens := map[string]int{}
	for _, c := range codes {
		assert.Equal(t, codes[0][2], c[2], "every screen shows the same pairing code")
		screens[c[1]]++
	}
	assert.Equal(t, 2, screens["shopper"], "confirmation and paired screens of the shopper:\n%s", out)
	assert.Equal(t, 2, screens["seller"], "confirmation and paired screens of the seller")
	assert.GreaterOrEqual(t, screens["cloud"], 1, "the cloud's session line")
	for _, line := range []string{
		"[shopper] Service queue: 3 sellers nearby, nearest first",
		"[seller]  Service queue: 3 shoppers nearby, nearest first",
		"[shopper]   Total                              EUR 11.27",
		"[seller]    Total                     EUR 11.27",
		"[shopper] Enter PIN (3 of 3 tries left): ******",
		"[shopper] Receipt verified offline: platform signature, certificate chain up to the trusted root",
		"[seller]  Receipt verified offline: platform signature, certificate chain up to the trusted root",
	} {
		assert.Contains(t, out, line+"\n")
	}
	assert.Regexp(t, `(?m)^\[shopper\]   1\. Corner Grocer +-\d+ dBm`, out, "the grocer is nearest")
	assert.Regexp(t, `(?m)^\[seller\]    1\. Alice +-\d+ dBm`, out)
	assert.Regexp(t, `(?m)^\[cloud\]   Payment request [0-9a-f]{8} from Corner Grocer to Alice: EUR 11.27, priced from the catalog$`, out)
}

// TestGroceryTemporary: without -data the program keeps its state in a
// temporary folder, which it removes at exit.
func TestGroceryTemporary(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out := runGrocery(t, "-seed", "7")
	assert.Contains(t, out, "[cloud]   Platform on SQLite "+filepath.Join(tmp, "casimpay-grocery-"))
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, entries, "the temporary folder is removed at exit")
	checkPurchase(t, out)
	// The purchase ended, both phones are done with each other.
	assert.Contains(t, out, "[shopper] Done with Corner Grocer: the phone leaves the session, and its advert no longer says busy\n"+
		"[seller]  Done with Alice: the phone leaves the session, and its advert no longer says busy\n")
	assert.Contains(t, out, "[cloud]   Alice:         EUR 38.73 (was EUR 50.00)\n")
	assert.Contains(t, out, "[cloud]   Corner Grocer: EUR 11.27 (was EUR 0.00)\n")
}

func TestGroceryContinues(t *testing.T) {
	dir := t.TempDir()
	first := runGrocery(t, "-data", dir)
	checkPurchase(t, first)
	assert.Contains(t, first, "[cloud]   Alice:         EUR 38.73 (was EUR 50.00)\n")

	second := runGrocery(t, "-data", dir)
	checkPurchase(t, second)
	assert.Contains(t, second, "[cloud]   Alice:         EUR 27.46 (was EUR 38.73)\n", "the balances carry over")
	assert.Contains(t, second, "[cloud]   Corner Grocer: EUR 22.54 (was EUR 11.27)\n")
	cardRE := regexp.MustCompile(`Alice logged in with card (\d+)`)
	assert.Equal(t, cardRE.FindStringSubmatch(first)[1], cardRE.FindStringSubmatch(second)[1], "the same card")
}

func TestGroceryWrongPIN(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-pin", "999999"}, &out)
	require.Error(t, err)
	assert.ErrorIs(t, err, simcard.ErrWrongPIN)
	assert.Contains(t, out.String(), "[shopper] Wrong PIN: the card refused it (2 of 3 tries left)\n")
	assert.NotContains(t, out.String(), "Receipt verified")
}

// After a run that failed at the PIN, a run with the same data folder pays
// the request its till made: the failed run withdrew its own, which the
// shopper's phone would otherwise find first in the session that the same
// two cards meet in again until their EIDs rotate.
func TestGroceryWrongPINThenRight(t *testing.T) {
	dir := t.TempDir()
	var first bytes.Buffer
	require.ErrorIs(t, run(context.Background(), []string{"-data", dir, "-pin", "999999"}, &first), simcard.ErrWrongPIN)
	withdrawn := regexp.MustCompile(`(?m)^\[seller\]  Request ([0-9a-f]{8}) withdrawn: cancelled$`).FindStringSubmatch(first.String())
	require.NotNil(t, withdrawn, first.String())

	ctx, cancel := outwait.Context(t)
	defer cancel()
	var second bytes.Buffer
	require.NoError(t, run(ctx, []string{"-data", dir}, &second), second.String())
	paid := regexp.MustCompile(`(?m)^\[(?:shopper|seller)\] +ledger transfers: 1, request ([0-9a-f]{8})$`).FindAllStringSubmatch(second.String(), -1)
	require.Len(t, paid, 2, second.String())
	assert.Equal(t, paid[0][1], paid[1][1], "both phones show the receipt of one request")
	assert.NotEqual(t, withdrawn[1], paid[0][1])
	assert.Contains(t, second.String(), "[cloud]   Alice:         EUR 38.73 (was EUR 50.00)\n")
}

func TestGroceryPINBlocked(t *testing.T) {
	dir := t.TempDir()
	for left := 2; left >= 0; left-- {
		var out bytes.Buffer
		err := run(context.Background(), []string{"-data", dir, "-pin", "999999"}, &out)
		require.ErrorIs(t, err, simcard.ErrWrongPIN)
		require.Contains(t, out.String(), fmt.Sprintf("[shopper] Wrong PIN: the card refused it (%d of 3 tries left)\n", left))
	}
	// Blocked: even the right PIN is refused, and the screen says so.
	var out bytes.Buffer
	err := run(context.Background(), []string{"-data", dir}, &out)
	assert.ErrorIs(t, err, simcard.ErrPINBlocked)
	assert.Contains(t, err.Error(), "run again with -puk")
	assert.Contains(t, out.String(), "[shopper] The card's PIN is blocked: run again with -puk and the card's PUK (the demo cards' is 12345678), which unblocks it and makes -pin its PIN\n")
	assert.NotContains(t, out.String(), "Receipt verified")
}

// TestGroceryPINUnblocked: a card whose PIN is blocked is unblocked with
// -puk, the PUK, which sets -pin as its new PIN, and the purchase goes
// through; the next run pays with the new PIN, without the PUK.
func TestGroceryPINUnblocked(t *testing.T) {
	dir := t.TempDir()
	blockPIN(t, dir)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-data", dir, "-puk", simcardtest.PUK, "-pin", "654321"}, &out), out.String())
	for _, line := range []string{
		"[shopper] The card's PIN is blocked: the PUK unblocks it\n",
		"[shopper] Enter PUK (3 of 3 tries left): ********\n",
		"[shopper] PIN unblocked by the PUK; the card's PIN is now the new one\n",
		"[shopper] Enter PIN (3 of 3 tries left): ******\n",
		"[cloud]   Alice:         EUR 38.73 (was EUR 50.00)\n",
	} {
		assert.Contains(t, out.String(), line)
	}
	again := runGrocery(t, "-data", dir, "-pin", "654321")
	assert.Contains(t, again, "[cloud]   Alice:         EUR 27.46 (was EUR 38.73)\n", "paid with the new PIN")
	assert.NotContains(t, again, "PUK")
}

// TestGroceryWrongPUK: a wrong -puk is refused by the card, which says how
// many tries the PUK has left, the PIN staying blocked.
func TestGroceryWrongPUK(t *testing.T) {
	dir := t.TempDir()
	blockPIN(t, dir)
	var out bytes.Buffer
	err := run(context.Background(), []string{"-data", dir, "-puk", "87654321"}, &out)
	assert.ErrorIs(t, err, simcard.ErrWrongPUK)
	assert.EqualError(t, err, "demo: wrong PUK, 2 of 3 tries left: simcard: instruction 2C: status word 63C2")
	assert.Contains(t, out.String(), "[shopper] Wrong PUK: the card refused it (2 of 3 tries left)\n")
	assert.NotContains(t, out.String(), "Enter PIN")
	out.Reset()
	assert.ErrorIs(t, run(context.Background(), []string{"-data", dir}, &out), simcard.ErrPINBlocked, "still blocked")

	// Two more wrong PUKs block the PUK too: the right one no longer
	// unblocks the card, which does not ask for it.
	for range 2 {
		require.ErrorIs(t, run(context.Background(), []string{"-data", dir, "-puk", "87654321"}, &bytes.Buffer{}), simcard.ErrWrongPUK)
	}
	out.Reset()
	err = run(context.Background(), []string{"-data", dir, "-puk", simcardtest.PUK}, &out)
	assert.ErrorIs(t, err, simcard.ErrPUKBlocked)
	assert.Contains(t, out.String(), "[shopper] The card's PUK is blocked too: nothing unblocks the card\n")
	assert.NotContains(t, out.String(), "Enter PUK")
}

// blockPIN blocks the PIN of Alice's card in the data folder dir, with
// three runs that type a wrong PIN.
func blockPIN(t *testing.T, dir string) {
	t.Helper()
	for range 3 {
		require.ErrorIs(t, run(context.Background(), []string{"-data", dir, "-pin", "999999"}, &bytes.Buffer{}), simcard.ErrWrongPIN)
	}
}

func TestGroceryFlags(t *testing.T) {
	for _, args := range [][]string{{"-loss", "1"}, {"-loss", "NaN"}, {"-loss", "-0.1"}, {"-rounds", "0"}, {"-rounds", "-1"}, {"-rounds", "10001"}, {"-rounds", "9223372036854775807"}, {"./shop", "-seed", "2"}, {"-pin", "abc"}, {"-pin", "123"}, {"-puk", "1234567"}, {"-puk", "abcdefgh"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			assert.ErrorIs(t, run(context.Background(), args, &out), demo.ErrUsage)
			assert.Empty(t, out.String(), "refused before the cloud opens")
		})
	}
	// -rounds names the value refused and the bound, as -pick does.
	for _, rounds := range []string{"0", "-1", "10001"} {
		var out bytes.Buffer
		err := run(context.Background(), []string{"-rounds", rounds}, &out)
		assert.EqualError(t, err, "demo: invalid usage: -rounds "+rounds+" is not from 1 to 10000")
	}
	// The flag package's own refusal is a usage error too.
	var out bytes.Buffer
	assert.ErrorIs(t, run(context.Background(), []string{"-nope"}, &out), demo.ErrUsage)
	assert.Empty(t, out.String(), "refused before the cloud opens")
}

func TestGrocerySeedRepeats(t *testing.T) {
	// The EIDs change with every card and epoch; what the radio made of
	// them (order, signal strength) follows the seed.
	queueRE := regexp.MustCompile(`(?m)^(\[\w+\] +\d\. \S[^-]*-\d+ dBm)  \(EID [0-9a-f]{8}…\)$`)
	lines := func(out string) []string {
		var l []string
		for _, m := range queueRE.FindAllStringSubmatch(out, -1) {
			l = append(l, m[1])
		}
		return l
	}
	a := lines(runGrocery(t, "-seed", "42"))
	b := lines(runGrocery(t, "-seed", "42"))
	require.Len(t, a, 6)
	assert.Equal(t, a, b)
}

// TestExitStatus runs main in a child process, as `go run` does, and
// checks its exit status: 2 for a usage error (a flag refused, by the
// flag package or the program), whose error is printed once, as the flag
// package's programs do, and 1 for a purchase that fails.
func TestExitStatus(t *testing.T) {
	if args := os.Getenv("GROCERY_MAIN_ARGS"); args != "" {
		os.Args = append([]string{"grocery"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	tests := []struct {
		args    string
		code    int
		printed string // once
	}{
		{"-seed 2", 0, ""},
		{"-h", 0, `Usage of grocery:
  -data DIR
    	keep the state in DIR (default: a temporary folder, removed at exit)
  -loss P
    	share P of the adverts that the radio loses, at least 0 and less than 1 (default 0.2)
  -pin DIGITS
    	the PIN the shopper types, 4 to 12 DIGITS (default "123456")
  -puk DIGITS
    	the PUK the shopper types when the card's PIN is blocked, 8 DIGITS, which makes -pin the card's PIN
  -rounds N
    	N advertising rounds heard before the queues are shown, 1 to 10000 (default 8)
  -seed N
    	seed N of the simulated radio (default 1)
`},
		{"-pin 000000", 1, "grocery: demo: wrong PIN"},
		{"-rounds 0", 2, "grocery: demo: invalid usage: -rounds 0 is not from 1 to 10000\n"},
		{"-rounds 10001", 2, "grocery: demo: invalid usage: -rounds 10001 is not from 1 to 10000\n"},
		{"-loss 1", 2, "grocery: demo: invalid usage: -loss must be in [0, 1)\n"},
		{"-nope", 2, "flag provided but not defined: -nope\n"},
		{"-loss x", 2, `invalid value "x" for flag -loss`},
		{"-seed 2 extra", 2, `grocery: demo: invalid usage: unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestExitStatus$")
			cmd.Env = append(os.Environ(), "GROCERY_MAIN_ARGS="+tt.args)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.code, code, "%s", out)
			if tt.printed != "" {
				assert.Equal(t, 1, strings.Count(string(out), tt.printed), "printed once: %s", out)
			}
			if tt.code == 0 && tt.args != "-h" {
				assert.Contains(t, string(out), "[cloud]   Alice:         EUR 38.73 (was EUR 50.00)\n")
			}
		})
	}
}

// cancelAfter returns an output that calls cancel as the program writes
// the nth line that contains marker (outwait.Nth).
func cancelAfter(marker string, n int, cancel func()) *outwait.Output {
	return &outwait.Output{Line: outwait.Nth(n, func(line string) bool { return strings.Contains(line, marker) }, cancel)}
}

// TestGroceryInterruptedWhileAdvertising: an interrupt (ctx ending) while
// the radio broadcasts its rounds ends the program at once, even with the
// most rounds that -rounds takes: before it says it heard them.
func TestGroceryInterruptedWhileAdvertising(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := cancelAfter(" logged in with card ", 2, cancel) // both phones
	done := out.Go(func(stdout io.Writer) error { return run(ctx, []string{"-rounds", strconv.Itoa(maxRounds)}, stdout) })
	wait, stop := outwait.Context(t)
	defer stop()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotContains(t, out.String(), "advertising rounds")
	case <-wait.Done():
		t.Fatalf("the program went on after the interrupt: %v; it printed:\n%s", context.Cause(wait), out)
	}
}

// errInterrupt is the cause of the context of an interrupted program, as
// demo.NotifyContext's context has it on SIGINT.
var errInterrupt = errors.New("interrupt signal received")

// TestGroceryInterruptSaysSo: an interrupt ends the program with an error
// that names the signal, not "context canceled" alone, which says
// nothing of why the run stopped.
func TestGroceryInterruptSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	out := cancelAfter(" logged in with card ", 2, func() { cancel(errInterrupt) }) // both phones
	err := run(ctx, nil, out)
	assert.EqualError(t, err, "context canceled (interrupt signal received)")
	assert.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, errInterrupt)
}

// TestGroceryConcurrentFirstRuns: two runs started at once on one new data
// folder (two terminals) set it up once between them: each ends with the
// purchase, or fails saying a card is in use, and the folder stays usable,
// a third run buying again.
func TestGroceryConcurrentFirstRuns(t *testing.T) {
	for i := range 3 {
		dir := t.TempDir()
		var wg sync.WaitGroup
		var errs [2]error
		for j := range 2 {
			wg.Go(func() { errs[j] = run(context.Background(), []string{"-data", dir}, &bytes.Buffer{}) })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else {
				assert.ErrorIs(t, err, demo.ErrCardInUse, "round %d", i)
			}
		}
		assert.GreaterOrEqual(t, ok, 1, "round %d: %v / %v", i, errs[0], errs[1])
		checkPurchase(t, runGrocery(t, "-data", dir))
	}
}

// TestGroceryWithdrawalExpired: the till gives up on its payment request
// after a wrong PIN, and the request has expired by then (the cloud's
// clock moved on past its lifetime): the till says, on its screen and in
// its error, that the request expired and no one can pay it, as the
// seller program does, not that withdrawing it failed.
func TestGroceryWithdrawalExpired(t *testing.T) {
	var skew atomic.Int64
	now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	defer func() { now = time.Now }()
	out := cancelAfter("Wrong PIN", 1, func() { skew.Store(int64(payflow.DefaultRequestTTL + time.Minute)) })
	err := run(context.Background(), []string{"-pin", "999999"}, out)
	require.ErrorIs(t, err, simcard.ErrWrongPIN, out.String())
	require.ErrorIs(t, err, payflow.ErrExpired, out.String())
	signed := regexp.MustCompile(`The card signed payment request ([0-9a-f]{8});`).FindStringSubmatch(out.String())
	require.NotNil(t, signed, out.String())
	assert.Contains(t, out.String(), "[seller]  Request "+signed[1]+" expired: no one can pay it\n")
	assert.Contains(t, err.Error(), "demo: request "+signed[1]+" expired: no one can pay it")
	assert.NotContains(t, err.Error(), "withdrawing the request")
}

// TestGroceryInterruptedAfterPayment: the program is interrupted once the
// shopper's phone verified the receipt, before the till did: the till
// says, on its screen and in its error, that Alice paid the request but
// its receipt was not checked, as the seller program does, instead of
// ending with a bare context canceled.
func TestGroceryInterruptedAfterPayment(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := cancelAfter("[shopper] Receipt verified offline", 1, cancel)
	err := run(ctx, nil, out)
	require.ErrorIs(t, err, context.Canceled, out.String())
	signed := regexp.MustCompile(`The card signed payment request ([0-9a-f]{8});`).FindStringSubmatch(out.String())
	require.NotNil(t, signed, out.String())
	assert.Contains(t, out.String(), "[seller]  Alice paid request "+signed[1]+", but its receipt was not checked\n")
	assert.Contains(t, err.Error(), "demo: Alice paid request "+signed[1]+", but its receipt was not checked")
}

// TestGroceryAcrossEIDRotation: the EID epoch ends after the phones heard
// each other's adverts and before they select each other, so that each
// names its own new EID and the other's of the epoch before, in a session
// of its own (PROTOCOL.md §6.1): the phones hear each other's new adverts,
// select each other again, and the purchase goes through.
func TestGroceryAcrossEIDRotation(t *testing.T) {
	// One clock for the cloud and the phones: 2 minutes before the end of
	// the epoch at first, standing still just before it while the phones
	// log in and hear each other, and going on from its end then.
	end := adv.EpochStart(adv.Epoch(time.Now()) + 1)
	start := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { return end.Add(-2 * time.Minute).Add(time.Since(start)) }
	now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock()
	}
	demo.WallClock = now
	defer func() { now, demo.WallClock = time.Now, time.Now }()
	ctx, cancel := outwait.Context(t)
	defer cancel()
	out := &outwait.Output{Line: func(line string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case strings.Contains(line, "== 1–2. Both apps start"):
			clock = func() time.Time { return end.Add(-time.Millisecond) }
		case strings.Contains(line, " advertising rounds from "):
			at := time.Now()
			clock = func() time.Time { return end.Add(time.Since(at)) }
		}
	}}
	err := run(ctx, nil, out)
	require.NoError(t, err, out.String())
	for _, label := range []string{"[shopper] ", "[seller]  "} {
		assert.Contains(t, out.String(), label+"The other screen shows another pairing code: selecting again after the EIDs changed\n")
	}
	// The screens show the pairing code of the session they pair in last.
	codes := regexp.MustCompile(`(?m)^\[(shopper|seller)\] +(?:Confirmation|Paired).*pairing code (\d{6})`).FindAllStringSubmatch(out.String(), -1)
	require.Len(t, codes, 6, out.String())
	assert.NotEqual(t, codes[0][2], codes[1][2], "two sessions first")
	for _, c := range codes[2:] {
		assert.Equal(t, codes[2][2], c[2], "then one")
	}
}

// TestGroceryDataNotFolder: a -data naming a file is a usage error (exit
// status 2) that says so, reported before the cloud opens, rather than the
// error of making the folder.
func TestGroceryDataNotFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "shop")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	var out bytes.Buffer
	err := run(context.Background(), []string{"-data", file}, &out)
	require.ErrorIs(t, err, demo.ErrUsage)
	assert.EqualError(t, err, "demo: invalid usage: -data "+file+" is not a folder")
	assert.Empty(t, out.String(), "refused before the cloud opens")
}

// TestGroceryAuthorityMissing: a run on a -data folder whose pki/ was
// removed after an earlier run, its cards and database left, fails at the
// setup with demo.ErrAuthorityMissing, printing nothing but the step's
// heading, and makes no new demo CA, under which Alice's card could not
// log in.
func TestGroceryAuthorityMissing(t *testing.T) {
	dir := t.TempDir()
	runGrocery(t, "-data", dir)
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "pki")))
	var out bytes.Buffer
	err := run(context.Background(), []string{"-data", dir}, &out)
	require.ErrorIs(t, err, demo.ErrAuthorityMissing)
	assert.Contains(t, err.Error(), "remove the whole folder "+dir+" to start anew")
	assert.Equal(t, "\n== The cloud and the market ==\n", out.String())
	assert.NoDirExists(t, filepath.Join(dir, "pki"))
}

// TestGroceryREADME runs the program as the README's first command does
// and checks that every line of the README's excerpt of its output is a
// line of it, but for what changes from run to run: the EIDs, the
// session's ID and the pairing code.
func TestGroceryREADME(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, excerpt, ok := strings.Cut(string(readme), "## The grocery run\n")
	require.True(t, ok, "README.md has a section The grocery run")
	_, excerpt, ok = strings.Cut(excerpt, "```text\n")
	require.True(t, ok, "README.md shows the output in a text block")
	excerpt, _, ok = strings.Cut(excerpt, "```")
	require.True(t, ok)
	varying := regexp.MustCompile(`EID [0-9a-f]{8}…|Session [0-9a-f]{8}|pairing code [0-9]{6}`)
	hex := regexp.MustCompile(`[0-9a-f]{6,8}`)
	out := runGrocery(t)
	n := 0
	for l := range strings.SplitSeq(strings.TrimSpace(excerpt), "\n") {
		if l == "…" {
			continue
		}
		n++
		re := regexp.QuoteMeta(l) // leaves letters, digits, spaces and … as they are
		re = varying.ReplaceAllStringFunc(re, func(s string) string { return hex.ReplaceAllLiteralString(s, "[0-9a-f]+") })
		assert.Regexp(t, "(?m)^"+re+"$", out, "README.md: %q", l)
	}
	assert.Greater(t, n, 20, "lines of the excerpt")
}
