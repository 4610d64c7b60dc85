package demo

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/payflow"
)

// cloudStarted returns the lines that the cloud program p prints as it
// starts on the data folder dir, up to the one that says who is in range,
// lines first: the lines of its wallets and balances.
func cloudStarted(p *cloudProgram, dir string, lines ...string) string {
	lines = append(lines,
		"Platform on SQLite "+filepath.Join(dir, DatabaseFile)+", serving "+p.url,
		"Bob, Chen, Coffee Cart and Flower Stall are in range; start the seller and the shopper with -data "+dir)
	return "[cloud]   " + strings.Join(lines, "\n[cloud]   ") + "\n"
}

// cloudProgram is the cloud program running on a loopback port
// (startCloudProgram).
type cloudProgram struct {
	out   *outwait.Output
	url   string        // the URL it wrote into the data folder, once it says where it serves
	ended chan struct{} // closed once the program returned
	stop  func() error  // interrupts the program and returns its error once it ended
}

// startCloudProgram runs the cloud program on the data folder dir, on a
// loopback port, until it is stopped (stop) or the test ends; it prints
// into an outwait.Output that calls seen, if not nil, with each line as
// the program writes it (Line), and with the function that interrupts the
// program.
func startCloudProgram(t *testing.T, dir string, seen func(line string, interrupt func())) *cloudProgram {
	t.Helper()
	ctx, interrupt := context.WithCancel(context.Background())
	p := &cloudProgram{ended: make(chan struct{})}
	p.out = &outwait.Output{Line: func(line string) {
		if strings.Contains(line, ", serving ") {
			b, err := os.ReadFile(filepath.Join(dir, URLFile))
			assert.NoError(t, err, "written before the line")
			p.url = strings.TrimSpace(string(b))
		}
		if seen != nil {
			seen(line, interrupt)
		}
	}}
	done := p.out.Go(func(stdout io.Writer) error {
		defer close(p.ended)
		return RunCloud(ctx, []string{"-data", dir, "-listen", "127.0.0.1:0"}, stdout)
	})
	p.stop = sync.OnceValue(func() error {
		interrupt()
		return <-done
	})
	t.Cleanup(func() { p.stop() })
	return p
}

// testTicks are the ticks of the air and of the sweep of the cloud
// program's work that a test sends (useTestTicks), each received as the
// program takes it.
type testTicks struct{ air, sweep chan time.Time }

// useTestTicks has the cloud programs that the test runs take the ticks
// of their work (newCloudTicks) from the test alone, until it ends: the
// program writes the air or sweeps only as the test sends it a tick
// (tick), and never refreshes its CRLs.
func useTestTicks(t *testing.T) *testTicks {
	ticks := &testTicks{air: make(chan time.Time), sweep: make(chan time.Time)}
	old := newCloudTicks
	newCloudTicks = func() (cloudTicks, func()) {
		return cloudTicks{air: ticks.air, sweep: ticks.sweep}, func() {}
	}
	t.Cleanup(func() { newCloudTicks = old })
	return ticks
}

// tick sends a tick on c, a channel of testTicks, and returns once the
// cloud program p took it; it fails t, with what p printed, when p ends
// first, or the test's context (outwait.Context) does.
func tick(t *testing.T, p *cloudProgram, c chan<- time.Time) {
	t.Helper()
	ctx, cancel := outwait.Context(t)
	defer cancel()
	select {
	case c <- time.Now():
	case <-p.ended:
		t.Fatalf("the cloud program ended before it took the tick; it printed:\n%s", p.out)
	case <-ctx.Done():
		t.Fatalf("the cloud program took no tick: %v; it printed:\n%s", context.Cause(ctx), p.out)
	}
}

// folderCards returns the cards of Alice and the till of the data folder
// dir, by name, closed when the test ends.
func folderCards(t *testing.T, dir string) map[string]*Card {
	t.Helper()
	cards := map[string]*Card{}
	for _, name := range []string{"alice", "till"} {
		card, err := OpenCard(dir, name)
		require.NoError(t, err)
		t.Cleanup(func() { card.Close() })
		cards[name] = card
	}
	return cards
}

// aliceBuys has a new phone of Alice's, with her card among cards, pair
// with a new phone of the till's on the cloud c and approve the till's
// payment request of basket; with cut, her approval's call is cut once
// the platform recorded her consent, the settlement left under way and
// due for the recovery sweep (leaveApproving).
func aliceBuys(ctx context.Context, t *testing.T, c *Cloud, cards map[string]*Card, basket []Item, cut bool) {
	t.Helper()
	kept := &keptConsentAPI{}
	keep := func(api payflow.API) payflow.API { kept.API = api; return kept }
	if !cut {
		keep = nil
	}
	w := phonesOn(t, c, cards, keep, nil)
	pairPhones(ctx, t, w)
	_, err := w.till.Charge(ctx, "Alice", basket, nil)
	require.NoError(t, err)
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = w.alice.Approve(ctx, v, PIN)
	if !cut {
		require.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	leaveApproving(ctx, t, w, kept.kept)
}

// toppedUp is the line of the cloud program that tops Alice's wallet up,
// and swept the line of its sweep that completed a settlement.
const (
	toppedUp = "Alice's wallet was short: topped up with EUR 50.00"
	swept    = "Recovery sweep: 1 settlement(s) that cut calls left under way completed"
)

// TestCloudTopsUpShortWallet: the cloud program started on a data folder
// in which Alice has less than half her funds (EUR 25.00) left tops her
// wallet up with her funds (EUR 50.00) and says so before it shows the
// balances.
func TestCloudTopsUpShortWallet(t *testing.T) {
	ctx := t.Context()
	dir := setUpFolder(t)
	aliceBuys(ctx, t, openCloud(t, dir), folderCards(t, dir), []Item{{"coffee", 5}}, false) // EUR 27.45 of 50.00
	p := startCloudProgram(t, dir, func(line string, interrupt func()) {
		if strings.Contains(line, "are in range") {
			interrupt() // nothing printed after
		}
	})
	p.out.Require(t, "are in range")
	require.NoError(t, p.stop(), p.out.String())
	assert.Equal(t, cloudStarted(p, dir, toppedUp, "Balance of Alice: EUR 72.55", "Balance of Corner Grocer: EUR 27.45"), p.out.String())
}

// TestCloudSweepTopsUp: the cloud program's sweep, once it completed a
// settlement that left Alice with less than half her funds (EUR 25.00),
// tops her wallet up with her funds (EUR 50.00) and says so, after the
// sweep's line. The settlement is Alice's payment of EUR 27.45, left under
// way by a call cut after the platform recorded her consent; another one,
// of EUR 1.19, left so once the first sweep said what it completed, shows
// the first sweep over as the next sweep says what it completed. The test
// sends the program the ticks of its sweeps (useTestTicks).
func TestCloudSweepTopsUp(t *testing.T) {
	ctx := t.Context()
	dir := setUpFolder(t)
	second, cards := openCloud(t, dir), folderCards(t, dir)
	aliceBuys(ctx, t, second, cards, []Item{{"coffee", 5}}, true)
	ticks := useTestTicks(t)
	p := startCloudProgram(t, dir, nil)
	p.out.Require(t, "are in range")
	tick(t, p, ticks.sweep)
	p.out.Require(t, regexp.QuoteMeta(toppedUp))
	aliceBuys(ctx, t, second, cards, []Item{{"milk", 1}}, true)
	tick(t, p, ticks.sweep)
	p.out.Require(t, "(?s)"+regexp.QuoteMeta(toppedUp)+".*"+regexp.QuoteMeta(swept))
	require.NoError(t, p.stop(), p.out.String())
	assert.Equal(t, cloudStarted(p, dir, "Balance of Alice: EUR 50.00", "Balance of Corner Grocer: EUR 0.00")+
		"[cloud]   "+swept+"\n"+
		"[cloud]   "+toppedUp+"\n"+
		"[cloud]   "+swept+"\n", p.out.String())
}

// TestCloudSaysError: an error of the cloud program's work while it runs,
// here of the air into which it writes the bystanders' adverts, made a
// file, is shown as an error line, and the program goes on, its next
// sweep saying what it completed, until it is interrupted, which it then
// ends as it does (nil: exit status 0). The test sends the program the
// ticks of the air and then of the sweep (useTestTicks).
func TestCloudSaysError(t *testing.T) {
	dir := setUpFolder(t)
	aliceBuys(t.Context(), t, openCloud(t, dir), folderCards(t, dir), []Item{{"milk", 1}}, true)
	air := filepath.Join(dir, airFolder)
	ticks := useTestTicks(t)
	p := startCloudProgram(t, dir, nil)
	p.out.Require(t, "are in range")
	require.NoError(t, os.RemoveAll(air))
	require.NoError(t, os.WriteFile(air, nil, 0o600))
	tick(t, p, ticks.air)
	p.out.Require(t, "error: ")
	tick(t, p, ticks.sweep)
	p.out.Require(t, regexp.QuoteMeta(swept))
	require.NoError(t, p.stop(), p.out.String())
	assert.Equal(t, cloudStarted(p, dir, "Balance of Alice: EUR 50.00", "Balance of Corner Grocer: EUR 0.00")+
		"[cloud]   error: demo: mkdir "+air+": not a directory\n"+
		"[cloud]   "+swept+"\n", p.out.String())
}

// TestCloudPairsBounds: -pairs takes MaxLoadPairs, the most load generator
// pairs, and refuses one more as a usage error (exit status 2) that says
// the range, before the cloud opens its platform. The cloud given
// MaxLoadPairs, interrupted before it starts, goes on to open its
// platform, which fails with the interrupt.
func TestCloudPairsBounds(t *testing.T) {
	dir := t.TempDir()
	out := &outwait.Output{}
	err := RunCloud(t.Context(), []string{"-data", dir, "-listen", "127.0.0.1:0", "-pairs", strconv.Itoa(MaxLoadPairs + 1)}, out)
	require.ErrorIs(t, err, ErrUsage)
	assert.EqualError(t, err, "demo: invalid usage: -pairs must be from 0 to "+strconv.Itoa(MaxLoadPairs))
	assert.NoFileExists(t, filepath.Join(dir, DatabaseFile), "refused before the platform opens")

	interrupted, interrupt := context.WithCancel(t.Context())
	interrupt()
	err = RunCloud(interrupted, []string{"-data", dir, "-listen", "127.0.0.1:0", "-pairs", strconv.Itoa(MaxLoadPairs)}, out)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrUsage)
	assert.EqualError(t, err, "sqlite: open "+filepath.Join(dir, DatabaseFile)+": context canceled")
	assert.Empty(t, out.String())
}

// TestCloudCleansUpAtExit: the cloud program, interrupted, removes the URL
// file that it wrote into the data folder, so that a phone program started
// then says that no cloud runs rather than dial the URL, and the adverts of
// the bystanders that it wrote into the air, so that no phone hears them.
// The test sends the program the ticks of the air (useTestTicks): the
// second is taken once the adverts of the first are written.
func TestCloudCleansUpAtExit(t *testing.T) {
	dir := setUpFolder(t)
	ticks := useTestTicks(t)
	p := startCloudProgram(t, dir, nil)
	p.out.Require(t, "are in range")
	require.FileExists(t, filepath.Join(dir, URLFile))
	tick(t, p, ticks.air)
	tick(t, p, ticks.air)
	adverts, err := filepath.Glob(filepath.Join(dir, airFolder, "*.adv"))
	require.NoError(t, err)
	require.Len(t, adverts, len(Bystanders), "the bystanders' adverts in the air")
	require.NoError(t, p.stop(), p.out.String())
	assert.NoFileExists(t, filepath.Join(dir, URLFile))
	adverts, err = filepath.Glob(filepath.Join(dir, airFolder, "*.adv"))
	require.NoError(t, err)
	assert.Empty(t, adverts, "the bystanders' adverts removed")
}
