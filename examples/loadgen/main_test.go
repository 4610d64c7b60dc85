package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/payflow"
)

var (
	summaryRE  = regexp.MustCompile(`(?m)^purchases: (\d+) in [\d.]+s = [\d.]+/s$`)
	latencyRE  = regexp.MustCompile(`(?m)^latency: p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms$`)
	progressRE = regexp.MustCompile(`(?m)^loadgen: +[\d.]+s +\d+ purchases +[\d.]+/s  0 errors$`)
)

// checkRun asserts the report of a run without errors and returns how
// many purchases it made.
func checkRun(t *testing.T, out string) int {
	t.Helper()
	m := summaryRE.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	assert.Positive(t, n, out)
	assert.Regexp(t, latencyRE, out)
	assert.Contains(t, out, "\nerrors: 0\n")
	assert.GreaterOrEqual(t, len(progressRE.FindAllString(out, -1)), 2, "a progress line while it runs:\n%s", out)
	return n
}

func TestLoadgen(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		where string
	}{
		{"in process", nil, "against the platform in process on SQLite"},
		{"http", []string{"-http"}, "against the HTTP API at http://127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append([]string{"-pairs", "2", "-duration", "1500ms", "-progress", "500ms"}, tt.args...)
			require.NoError(t, run(context.Background(), args, &out))
			assert.Contains(t, out.String(), "loadgen: 2 pairs for 1.5s "+tt.where)
			checkRun(t, out.String())
		})
	}
}

func TestLoadgenAgainstCloud(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cloudOut := &outwait.Output{}
	done := cloudOut.Go(func(stdout io.Writer) error {
		return demo.RunCloud(ctx, []string{"-data", dir, "-listen", "127.0.0.1:0", "-pairs", "2"}, stdout)
	})
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	// The cloud writes its URL, then says where it serves.
	cloudOut.Require(t, `(?m)^\[cloud\] +Platform on .+, serving \S+$`)
	b, err := os.ReadFile(filepath.Join(dir, demo.URLFile))
	require.NoError(t, err, "the cloud writes its URL: %s", cloudOut)
	url := bytes.TrimSpace(b)
	require.NotEmpty(t, url, "the cloud writes its URL: %s", cloudOut)

	var out bytes.Buffer
	err = run(context.Background(), []string{"-pairs", "2", "-duration", "1500ms", "-progress", "500ms", "-data", dir, "-url", string(url)}, &out)
	require.NoError(t, err, out.String())
	checkRun(t, out.String())

	// More pairs than the cloud enrolled: their cards are missing.
	err = run(context.Background(), []string{"-pairs", "3", "-duration", "1s", "-data", dir, "-url", string(url)}, &bytes.Buffer{})
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "(start the cloud with -pairs 3)")
	assert.NotContains(t, err.Error(), "this data folder")

	// A data folder that no cloud set up.
	err = run(context.Background(), []string{"-pairs", "1", "-duration", "1s", "-data", t.TempDir(), "-url", string(url)}, &bytes.Buffer{})
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "(start the cloud with this data folder first)")
	assert.NotContains(t, err.Error(), "-pairs")
}

// TestLoadgenMalformedRoot: a data folder whose root certificate cannot
// be read is reported as it is, without telling to start the cloud.
func TestLoadgenMalformedRoot(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "pki"), 0o700))
	require.NoError(t, os.WriteFile(demo.RootPath(dir), []byte("junk"), 0o644))
	var out bytes.Buffer
	err := run(context.Background(), []string{"-pairs", "1", "-duration", "1s", "-data", dir, "-url", "http://127.0.0.1:1"}, &out)
	assert.EqualError(t, err, "demo: "+demo.RootPath(dir)+": want one certificate: pki: invalid argument: no PEM certificate found")
	assert.Empty(t, out.String())
}

// TestLoadgenInterruptedInSetup: an interrupt while the platform in
// process is set up ends the run with an error that names the signal, as
// one while it drives the pairs does, not "context canceled" alone.
func TestLoadgenInterruptedInSetup(t *testing.T) {
	errInterrupt := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errInterrupt)
	var out bytes.Buffer
	err := run(ctx, []string{"-pairs", "1", "-duration", "1s"}, &out)
	assert.ErrorIs(t, err, errInterrupt)
	require.Error(t, err)
	assert.True(t, strings.HasSuffix(err.Error(), "context canceled (interrupt signal received)"), err.Error())
	assert.Empty(t, out.String())
}

func TestLoadgenFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-pairs", "0"}, {"-duration", "0s"}, {"-progress", "-1s"}, {"-progress", "1ns"}, {"-progress", "99ms"},
		{"-url", "http://127.0.0.1:1", "-http"}, {"-url", "http://127.0.0.1:1", "-postgres", "postgres://x"},
		{"-pairs", "2", "10s", "-http"}, {"-pairs", strconv.Itoa(demo.MaxLoadPairs + 1)},
		// URLs that payflow.NewClient refuses.
		{"-url", "ftp://127.0.0.1:1"}, {"-url", "127.0.0.1:8080"}, {"-url", "http://[::1"},
		// A DSN that does not parse.
		{"-postgres", "not a DSN"}, {"-postgres", "postgres://x:y@[::1"},
		// White space alone, which parses as no setting.
		{"-postgres", " "}, {"-postgres", "\t\n"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			assert.ErrorIs(t, run(context.Background(), args, &out), demo.ErrUsage)
			assert.Empty(t, out.String(), "refused before the platform opens")
		})
	}
	// The flag package's own refusal is a usage error too.
	assert.ErrorIs(t, run(context.Background(), []string{"-nope"}, &bytes.Buffer{}), demo.ErrUsage)
}

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var sorted []time.Duration
	for i := 1; i <= 100; i++ {
		sorted = append(sorted, ms(i))
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, ms(50)}, {95, ms(95)}, {99, ms(99)}, {100, ms(100)}, {0, ms(1)}}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentile(sorted, tt.p), "p%v", tt.p)
	}
	assert.Equal(t, time.Duration(0), percentile(nil, 50))
	assert.Equal(t, ms(7), percentile([]time.Duration{ms(7)}, 99))
}

// lostApproveAPI loses the reply of the first consent that the platform
// settles, as a connection that drops after the consent went out.
type lostApproveAPI struct {
	payflow.API
	lost atomic.Bool
}

func (a *lostApproveAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Approve(ctx, req)
	if err == nil && a.lost.CompareAndSwap(false, true) {
		return nil, payflow.ErrUnavailable
	}
	return v, err
}

// TestLoadgenLostApproval: the reply to a pair's first consent is lost
// after the platform captured it. The shopper's phone sends its consent
// again and gets its receipt, and the till sees that payment captured and
// verifies its receipt, so it counts as a purchase, not an error, and the
// till's next request does not fail on it: every payment captured is
// counted once and none waits for a request that nobody approves: the run
// ends on time. Each consent takes step (driveOne): the first purchase
// takes two and the pause of demo.ThroughOutage (demo.OutagePause,
// 250 ms) between them, 450 ms, and the run of a second starts purchases
// at 0, 450, 550, …, 950 ms: seven, the last ending at 1050 ms.
func TestLoadgenLostApproval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, captured := driveOne(t, time.Second, payflow.PlatformOptions{RequestTTL: 4 * time.Second},
			func(api payflow.API) payflow.API { return &lostApproveAPI{API: api} })
		assert.Equal(t, 1050*time.Millisecond, res.elapsed)
		assert.Empty(t, res.errors)
		assert.Equal(t, 7, res.purchases)
		assert.Equal(t, 7, captured, "the purchases counted, the one whose reply was lost among them")
	})
}

// step is how long the platform takes to settle each consent in the runs
// of driveOne, in a synctest bubble: exactly, so that a run of d makes a
// number of purchases that the test counts out.
const step = 100 * time.Millisecond

// driveOne drives one pair for d against the platform in process, made
// with opts, the phones talking to it through wrap, which wraps a
// platform that answers each consent once step has passed
// (steadyApproveAPI), and returns the run's result and how many payments
// the platform captured, from what the pair's shopper paid. It is for a
// synctest bubble, in which step, and so the run, take fake time alone.
func driveOne(t *testing.T, d time.Duration, opts payflow.PlatformOptions, wrap func(payflow.API) payflow.API) (res *result, captured int) {
	t.Helper()
	ctx := t.Context()
	var platform *payflow.Platform
	c := config{pairs: 1, dir: t.TempDir(), platform: opts, wrap: func(api payflow.API) payflow.API {
		platform = api.(*payflow.Platform)
		return wrap(steadyApproveAPI{API: api, step: step})
	}}
	pairs, _, cleanup, err := setup(ctx, &c)
	require.NoError(t, err)
	defer cleanup()
	res, err = drive(ctx, pairs, d, time.Hour, io.Discard)
	require.NoError(t, err)
	b, err := platform.Balance(ctx, pairs[0].shopper.Card.ICCID, "EUR")
	require.NoError(t, err)
	return res, int((1_000_000*demo.LoadPrice - b.Posted) / demo.LoadPrice)
}

// outageAPI does not answer the first two calls of each kind of a
// purchase (the seller's payment request, the reads of a request, the
// shopper's consent): the first never reaches the platform
// (payflow.ErrUnavailable), and the second is made but answered in
// flight (payflow.ErrInFlight), as a platform that still works on a call
// it did not answer in time. faults counts the calls not answered.
type outageAPI struct {
	payflow.API
	mu     sync.Mutex
	calls  map[string]int
	faults int
}

// fault reports the error that the call of kind what gets, if any, and
// whether the platform makes it.
func (a *outageAPI) fault(what string) (err error, made bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[what]++
	switch a.calls[what] {
	case 1:
		a.faults++
		return payflow.ErrUnavailable, false
	case 2:
		a.faults++
		return payflow.ErrInFlight, true
	}
	return nil, true
}

// outageCall makes call, of kind what, as fault says.
func outageCall[T any](a *outageAPI, what string, call func() (T, error)) (T, error) {
	ferr, made := a.fault(what)
	var v T
	var err error
	if made {
		v, err = call()
	}
	if ferr != nil {
		var zero T
		return zero, ferr
	}
	return v, err
}

func (a *outageAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	return outageCall(a, "request", func() (*payflow.PaymentView, error) { return a.API.CreateRequest(ctx, req) })
}

func (a *outageAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return outageCall(a, "payment", func() (*payflow.PaymentView, error) { return a.API.Payment(ctx, token, id) })
}

func (a *outageAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return outageCall(a, "approve", func() (*payflow.PaymentView, error) { return a.API.Approve(ctx, req) })
}

// TestLoadgenRidesOutOutage: while the platform does not answer a call of
// a purchase, or still works on it, the pair asks again, as the phone
// programs do, and the purchase counts once its outcome is known: every
// payment captured is counted, none as an error. The first purchase
// waits out two calls not answered of each kind, the pause of
// demo.ThroughOutage (demo.OutagePause, 250 ms) after each, and takes two
// consents (step each: driveOne), 1700 ms; the next three take a consent
// each, and the run of two seconds ends as the fourth ends, at its end.
func TestLoadgenRidesOutOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &outageAPI{calls: map[string]int{}}
		res, captured := driveOne(t, 2*time.Second, payflow.PlatformOptions{}, func(inner payflow.API) payflow.API {
			api.API = inner
			return api
		})
		assert.Empty(t, res.errors)
		api.mu.Lock()
		assert.Equal(t, 6, api.faults, "two calls of each kind not answered")
		api.mu.Unlock()
		assert.Equal(t, 2*time.Second, res.elapsed)
		assert.Equal(t, 4, res.purchases)
		assert.Equal(t, 4, captured, "every payment captured counted once")
	})
}

// stuckApproveAPI never answers a consent: Approve returns when ctx ends.
type stuckApproveAPI struct{ payflow.API }

func (a stuckApproveAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// downApproveAPI is a platform that no consent reaches: Approve fails
// with payflow.ErrUnavailable at once, every time.
type downApproveAPI struct{ payflow.API }

func (a downApproveAPI) Approve(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return nil, payflow.ErrUnavailable
}

// TestLoadgenEndsOnTime: a purchase under way when the run is over fails
// once purchaseGrace has passed, so that the run ends on time however
// long the platform takes, also when the pair keeps asking a platform
// that does not answer: its outcome unknown, it counts as a timeout
// error, not as an error of the platform. The run, on the platform in
// process, is in a synctest bubble: it ends exactly purchaseGrace after
// d.
func TestLoadgenEndsOnTime(t *testing.T) {
	for name, wrap := range map[string]func(payflow.API) payflow.API{
		"stuck": func(api payflow.API) payflow.API { return stuckApproveAPI{api} },
		"down":  func(api payflow.API) payflow.API { return downApproveAPI{api} },
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := t.Context()
				c := config{pairs: 1, dir: t.TempDir(), wrap: wrap}
				pairs, _, cleanup, err := setup(ctx, &c)
				require.NoError(t, err)
				defer cleanup()
				const d = 300 * time.Millisecond
				start := time.Now()
				res, err := drive(ctx, pairs, d, time.Hour, io.Discard)
				require.NoError(t, err)
				assert.Equal(t, d+purchaseGrace, time.Since(start))
				assert.Equal(t, d+purchaseGrace, res.elapsed)
				assert.Zero(t, res.purchases)
				assert.Equal(t, map[string]int{"timeout": 1}, res.errors)
			})
		})
	}
}

// expiredAfterConsentAPI settles each consent, then shows the request
// expired to every later read of it, as a platform that answers the
// till's wait with a request that ended without a capture.
type expiredAfterConsentAPI struct {
	payflow.API
	mu       sync.Mutex
	approved map[payflow.ID]bool
}

func (a *expiredAfterConsentAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Approve(ctx, req)
	if err == nil {
		a.mu.Lock()
		a.approved[v.ID] = true
		a.mu.Unlock()
	}
	return v, err
}

func (a *expiredAfterConsentAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || !a.approved[id] {
		return v, err
	}
	expired := *v
	expired.State, expired.Captured, expired.Receipt = payflow.StateExpired, 0, nil
	return &expired, nil
}

// TestLoadgenCountsOnlyCaptured: a purchase whose request the till sees
// end without a capture fails with ErrFinal and is not counted, even when
// the shopper's phone had its consent settled. Each purchase takes a
// consent (step: driveOne), so a run of 500 ms makes five.
func TestLoadgenCountsOnlyCaptured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := &expiredAfterConsentAPI{approved: map[payflow.ID]bool{}}
		res, _ := driveOne(t, 500*time.Millisecond, payflow.PlatformOptions{}, func(inner payflow.API) payflow.API {
			api.API = inner
			return api
		})
		api.mu.Lock()
		n := len(api.approved)
		api.mu.Unlock()
		assert.Equal(t, 500*time.Millisecond, res.elapsed)
		assert.Equal(t, 5, n, "consents settled")
		assert.Zero(t, res.purchases)
		assert.Equal(t, map[string]int{"final_state": 5}, res.errors, "each consent settled, each request seen expired")
	})
}

// TestLoadgenInterrupted: an interrupt (ctx ending) mid-run ends it at
// once with the partial results printed, and the run fails (exit status
// 1), so that a script does not take the partial results for a whole run.
func TestLoadgenInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &outwait.Output{Line: outwait.Nth(2, progressRE.MatchString, cancel)}
	err := run(ctx, []string{"-pairs", "1", "-duration", "1h", "-progress", "200ms"}, out)
	require.ErrorIs(t, err, errInterrupted, out.String())
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, demo.ErrUsage, "exit status 1")
	assert.Regexp(t, summaryRE, out.String(), "the partial results are printed")
	assert.Regexp(t, latencyRE, out.String())
}

// rotateAPI steps the phones' clock (at) to end once the first Pair call
// returns: the shopper's selection names both EIDs of the epoch before
// end, the seller's its own of the epoch from end and the shopper's of
// the one before. pairs counts the Pair calls.
type rotateAPI struct {
	payflow.API
	at    *atomic.Int64
	end   time.Time
	pairs atomic.Int32
}

func (a *rotateAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	v, err := a.API.Pair(ctx, req)
	if a.pairs.Add(1) == 1 {
		a.at.Store(a.end.UnixNano())
	}
	return v, err
}

// TestLoadgenPairsAcrossEIDRotation: the EID epoch of the phones ends
// between the shopper's selection of the seller and the seller's of the
// shopper, which open two sessions (PROTOCOL.md §6.1): the pair selects
// each other again with the EIDs of the new epoch and pairs.
func TestLoadgenPairsAcrossEIDRotation(t *testing.T) {
	end := adv.EpochStart(adv.Epoch(time.Now()) + 1)
	var at atomic.Int64
	at.Store(end.Add(-time.Millisecond).UnixNano())
	demo.WallClock = func() time.Time { return time.Unix(0, at.Load()) }
	defer func() { demo.WallClock = time.Now }()
	ctx, cancel := outwait.Context(t)
	defer cancel()
	var api *rotateAPI
	c := config{pairs: 1, dir: t.TempDir(), wrap: func(inner payflow.API) payflow.API {
		api = &rotateAPI{API: inner, at: &at, end: end}
		return api
	}}
	pairs, _, cleanup, err := setup(ctx, &c)
	require.NoError(t, err)
	defer cleanup()
	require.Len(t, pairs, 1)
	assert.Equal(t, int32(4), api.pairs.Load(), "two selections of either epoch")
	sc, err := pairs[0].seller.Seller.WaitPaired(ctx)
	require.NoError(t, err)
	shc, err := pairs[0].shopper.Shopper.WaitPaired(ctx)
	require.NoError(t, err)
	assert.Equal(t, shc.SessionID, sc.SessionID)
}

// TestLoadgenDataNotFolder: a -data naming a file is a usage error (exit
// status 2) that says so, in process and with -url, reported before the
// platform opens, rather than the error of making or reading the folder.
func TestLoadgenDataNotFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for _, args := range [][]string{{"-data", file}, {"-data", file, "-url", "http://127.0.0.1:1"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), args, &out)
			require.ErrorIs(t, err, demo.ErrUsage)
			assert.EqualError(t, err, "demo: invalid usage: -data "+file+" is not a folder")
			assert.Empty(t, out.String(), "refused before the platform opens")
		})
	}
}

// steadyApproveAPI answers each consent after step has passed, so that
// each purchase takes step: in a synctest bubble, exactly.
type steadyApproveAPI struct {
	payflow.API
	step time.Duration
}

func (a steadyApproveAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	time.Sleep(a.step)
	return a.API.Approve(ctx, req)
}

// TestLoadgenStopsAtDeadline: a pair starts no purchase once the run is
// over: a run of d whose purchases each take a tenth of d makes ten and
// ends exactly at d, not at the end of the context bounding it, twice as
// long. The run, on the platform in process, is in a synctest bubble.
func TestLoadgenStopsAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const d = time.Second
		ctx, cancel := context.WithTimeout(t.Context(), 2*d)
		defer cancel()
		c := config{pairs: 1, dir: t.TempDir(), wrap: func(api payflow.API) payflow.API {
			return steadyApproveAPI{API: api, step: d / 10}
		}}
		pairs, _, cleanup, err := setup(ctx, &c)
		require.NoError(t, err)
		defer cleanup()
		start := time.Now()
		res, err := drive(ctx, pairs, d, time.Hour, io.Discard)
		require.NoError(t, err)
		assert.Equal(t, d, time.Since(start))
		assert.Equal(t, d, res.elapsed)
		assert.Equal(t, 10, res.purchases)
		assert.Empty(t, res.errors)
	})
}
