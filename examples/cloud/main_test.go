package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// servingRE is the line that the cloud program prints once it serves,
// after it wrote its URL into the URLFile of its data folder; its
// submatch is the URL.
const servingRE = `(?m)^\[cloud\] +Platform on .+, serving (\S+)$`

// goCloud runs the cloud program in a goroutine, with its output to out
// (outwait.Output.Go), and returns the channel of its error.
func goCloud(ctx context.Context, args []string, out *outwait.Output) <-chan error {
	return out.Go(func(stdout io.Writer) error { return demo.RunCloud(ctx, args, stdout) })
}

// startCloud runs the cloud program on a loopback port until the test
// ends, waits until it serves, and returns its output.
func startCloud(t *testing.T, args ...string) *outwait.Output {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &outwait.Output{}
	done := goCloud(ctx, append([]string{"-listen", "127.0.0.1:0"}, args...), out)
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	out.Require(t, servingRE)
	return out
}

// phoneClock is the phones' clock (demo.WallClock) in these tests, which
// TestMain sets: the wall clock, or, while a test has stopped it
// (stopPhoneClock), the UnixNano time at which it stands still but for
// the steps the test takes (advancePhoneClock).
var phoneClock atomic.Int64

func TestMain(m *testing.M) {
	// The phones scan as often as they poll the cloud, and ask a cloud
	// that does not answer again at once: a test waits for what a scan
	// finds or for the cloud's answer, never for a pause.
	demo.ScanPause = demo.PollInterval
	demo.OutagePause, demo.RetryBackoff = time.Millisecond, time.Millisecond
	demo.WallClock = func() time.Time {
		if at := phoneClock.Load(); at != 0 {
			return time.Unix(0, at)
		}
		return time.Now()
	}
	os.Exit(m.Run())
}

// stopPhoneClock has the phones' clock (phoneClock) stand still at the
// time of the call until the test ends. The phone programs advertise, and
// sign their pairing proofs, with the EIDs of their clock's epoch: phones
// that paired as an epoch ends, one naming the other's EID of the epoch
// before and the other naming its own EID of the new one, would each be
// in a session of its own, and each wait for the other's confirmation
// until -wait ends. With the clock stopped they pair within one epoch,
// which the cloud, on the wall clock, takes for ten minutes at least
// (adv.Resolver). Adverts heard then fade only as the test advances the
// clock (advancePhoneClock).
func stopPhoneClock(t *testing.T) {
	t.Helper()
	phoneClock.Store(time.Now().UnixNano())
	t.Cleanup(func() { phoneClock.Store(0) })
}

// advancePhoneClock moves the phones' clock, stopped (stopPhoneClock),
// on by d.
func advancePhoneClock(d time.Duration) {
	phoneClock.Add(int64(d))
}

// phonesContext stops the phones' clock (stopPhoneClock) and returns the
// context that bounds a run of the phones: it ends with the test, or
// shortly before the test binary's deadline (outwait.Context).
func phonesContext(t *testing.T) context.Context {
	t.Helper()
	stopPhoneClock(t)
	ctx, cancel := outwait.Context(t)
	t.Cleanup(cancel)
	return ctx
}

// purchase runs the seller and the shopper programs at once against the
// cloud of dir, the shopper with shopperArgs too, and returns their
// outputs, within phonesContext.
func purchase(t *testing.T, dir string, shopperArgs ...string) (seller, shopper string) {
	t.Helper()
	var sOut, pOut outwait.Output
	var wg sync.WaitGroup
	var sErr, pErr error
	ctx := phonesContext(t)
	wg.Go(func() { sErr = demo.RunSeller(ctx, []string{"-data", dir, "-seed", "5"}, &sOut) })
	wg.Go(func() {
		pErr = demo.RunShopper(ctx, append([]string{"-data", dir, "-seed", "6"}, shopperArgs...), &pOut)
	})
	wg.Wait()
	require.NoError(t, sErr, sOut.String())
	require.NoError(t, pErr, pOut.String())
	return sOut.String(), pOut.String()
}

var codeRE = regexp.MustCompile(`(?m)pairing code (\d{6})`)

func checkPurchase(t *testing.T, seller, shopper string) {
	t.Helper()
	sc, pc := codeRE.FindAllStringSubmatch(seller, -1), codeRE.FindAllStringSubmatch(shopper, -1)
	require.Len(t, sc, 2, seller)
	require.Len(t, pc, 2, shopper)
	assert.Equal(t, sc[0][1], pc[0][1], "both screens show one pairing code")
	assert.Equal(t, sc[0][1], sc[1][1], "and the cloud confirms it")
	assert.Equal(t, pc[0][1], pc[1][1])
	assert.Contains(t, seller, "[seller]    Total                     EUR 11.27\n")
	assert.Contains(t, shopper, "[shopper]   Total                              EUR 11.27\n")
	assert.Regexp(t, `(?m)^\[seller\]  Corner Grocer till 1 taps \d\. Alice$`, seller)
	assert.Contains(t, shopper, "[shopper] Alice taps 1. Corner Grocer\n")
	for label, out := range map[string]string{"[shopper] ": shopper, "[seller]  ": seller} {
		assert.Contains(t, out, label+`Receipt verified offline: platform signature, certificate chain up to the trusted root`+"\n")
	}
}

// awaitBalances waits until the cloud has printed the balances of Alice
// and Corner Grocer after a purchase.
func awaitBalances(t *testing.T, cloud *outwait.Output, alice, grocer string) {
	t.Helper()
	cloud.Require(t, `Balances now: Alice EUR `+regexp.QuoteMeta(alice)+`, Corner Grocer EUR `+regexp.QuoteMeta(grocer)+`\n`)
}

func TestThreeProcesses(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	seller, shopper := purchase(t, dir)
	checkPurchase(t, seller, shopper)
	awaitBalances(t, cloud, "38.73", "11.27")

	// The same phones buy again: the accounts carry on.
	again, shopper := purchase(t, dir)
	checkPurchase(t, again, shopper)
	awaitBalances(t, cloud, "27.46", "22.54")
	// Within the EID epoch the till's second run lands in the same
	// session, where the first run's paid request holds the first index:
	// the till shows that payment, which it did not see, before it asks.
	session := regexp.MustCompile(`\(session ([0-9a-f]{8})\)`)
	signed := regexp.MustCompile(`The card signed payment request ([0-9a-f]{8});`)
	s1, s2 := session.FindStringSubmatch(seller), session.FindStringSubmatch(again)
	r1, r2 := signed.FindStringSubmatch(seller), signed.FindStringSubmatch(again)
	require.NotNil(t, s1, seller)
	require.NotNil(t, s2, again)
	require.NotNil(t, r1, seller)
	require.NotNil(t, r2, again)
	assert.NotEqual(t, r1[1], r2[1], "a new request")
	if s1[1] == s2[1] {
		assert.Contains(t, again, "[seller]  Request "+r1[1]+", of an earlier sale, was already paid (EUR 11.27); the card signs a new request for this basket\n")
	}
	assert.Contains(t, cloud.String(), "[cloud]   Balance of Alice: EUR 50.00\n")
}

// A seller that stops waiting withdraws its payment request: the shopper's
// phone pays the first payable request of the session, which the same two
// phones meet again within the EID epoch, so a request left pending could
// be paid in the next purchase instead of the one the till waits for: the
// till's pairing there cancels it (PROTOCOL.md §6.1), but the shopper's
// phone may pair first.
//
// The till stops waiting when the shopper has tried the wrong PIN, not
// after a fixed time: on a slow machine a fixed wait could end before the
// shopper saw the request, which the shopper would then wait for in vain.
func TestSellerWithdrawsUnpaidRequest(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	var sOut, pOut outwait.Output
	ctx := phonesContext(t)
	sctx, stopSeller := context.WithCancel(ctx)
	defer stopSeller()
	sDone := sOut.Go(func(stdout io.Writer) error {
		return demo.RunSeller(sctx, []string{"-data", dir, "-seed", "5"}, stdout)
	})
	pErr := demo.RunShopper(ctx, []string{"-data", dir, "-seed", "6", "-pin", "000000"}, &pOut)
	// The shopper saw the request; the till knows it was recorded once
	// it says it waits. Stopping it sooner would leave nothing to withdraw.
	_, waited := sOut.Await(ctx, regexp.MustCompile(`; waiting for Alice to approve`))
	stopSeller()
	sErr := <-sDone
	require.ErrorIs(t, pErr, simcard.ErrWrongPIN, pOut.String())
	require.NoError(t, waited)
	require.ErrorIs(t, sErr, context.Canceled, sOut.String())
	withdrawn := regexp.MustCompile(`(?m)^\[seller\]  Request ([0-9a-f]{8}) withdrawn: cancelled$`).FindStringSubmatch(sOut.String())
	require.NotNil(t, withdrawn, sOut.String())
	assert.Contains(t, sOut.String(), "The card signed payment request "+withdrawn[1]+";")

	seller, shopper := purchase(t, dir)
	checkPurchase(t, seller, shopper)
	paid := regexp.MustCompile(`(?m)ledger transfers: 1, request ([0-9a-f]{8})$`)
	sPaid, pPaid := paid.FindStringSubmatch(seller), paid.FindStringSubmatch(shopper)
	require.NotNil(t, sPaid, seller)
	require.NotNil(t, pPaid, shopper)
	assert.Equal(t, sPaid[1], pPaid[1], "the shopper paid the request the till waited for")
	assert.NotEqual(t, withdrawn[1], pPaid[1])
	awaitBalances(t, cloud, "38.73", "11.27")
}

// TestShopperUnblocksPIN: Alice's card, whose PIN three wrong PINs
// blocked, is unblocked by the shopper program with -puk, which makes
// -pin the card's PIN, and the purchase goes through.
func TestShopperUnblocksPIN(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	card, err := demo.OpenCard(dir, "alice")
	require.NoError(t, err)
	for range 3 {
		require.ErrorIs(t, card.VerifyPIN("999999"), simcard.ErrWrongPIN)
	}
	require.NoError(t, card.Close())
	seller, shopper := purchase(t, dir, "-puk", simcardtest.PUK, "-pin", "654321")
	checkPurchase(t, seller, shopper)
	awaitBalances(t, cloud, "38.73", "11.27")
	for _, line := range []string{
		"[shopper] The card's PIN is blocked: the PUK unblocks it\n",
		"[shopper] Enter PUK (3 of 3 tries left): ********\n",
		"[shopper] PIN unblocked by the PUK; the card's PIN is now the new one\n",
		"[shopper] Enter PIN (3 of 3 tries left): ******\n",
	} {
		assert.Contains(t, shopper, line)
	}
}

func TestThreeProcessesPostgres(t *testing.T) {
	dsn := testenv.PostgresSchema(t)
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir, "-postgres", dsn)
	seller, shopper := purchase(t, dir)
	checkPurchase(t, seller, shopper)
	awaitBalances(t, cloud, "38.73", "11.27")
	assert.Contains(t, cloud.String(), "Platform on PostgreSQL")
}

func TestPhonesNeedACloud(t *testing.T) {
	dir := t.TempDir()
	for name, run := range map[string]func(context.Context, []string, *outwait.Output) error{
		"seller":  func(ctx context.Context, a []string, b *outwait.Output) error { return demo.RunSeller(ctx, a, b) },
		"shopper": func(ctx context.Context, a []string, b *outwait.Output) error { return demo.RunShopper(ctx, a, b) },
	} {
		t.Run(name, func(t *testing.T) {
			err := run(context.Background(), []string{"-data", dir}, &outwait.Output{})
			assert.ErrorIs(t, err, os.ErrNotExist, "no cloud.url in the data folder")
		})
	}
	// An empty cloud.url is an error at once, not a cloud at "" to retry.
	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, demo.URLFile), []byte("\n"), 0o600))
	err := demo.RunSeller(context.Background(), []string{"-data", empty}, &outwait.Output{})
	assert.ErrorIs(t, err, demo.ErrEmptyURLFile)
}

// TestInterruptedSaySo: a phone program interrupted while it logs in to a
// cloud that does not answer, and a cloud program interrupted while it
// sets up its data folder, end with an error that names the signal, not
// only the cloud's last failure or "context canceled": the phone's is the
// cause of its context's end itself (payflow's calls fail with
// context.Cause), the cloud's names it after the store's error.
func TestInterruptedSaySo(t *testing.T) {
	errInterrupt := errors.New("interrupt signal received")
	interrupted, cancel := context.WithCancelCause(context.Background())
	cancel(errInterrupt)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + closed.Addr().String()
	require.NoError(t, closed.Close())
	dir := t.TempDir()
	startCloud(t, "-data", dir)
	for name, run := range map[string]func(context.Context, []string, *outwait.Output) error{
		"seller":  func(ctx context.Context, a []string, b *outwait.Output) error { return demo.RunSeller(ctx, a, b) },
		"shopper": func(ctx context.Context, a []string, b *outwait.Output) error { return demo.RunShopper(ctx, a, b) },
		"cloud": func(ctx context.Context, _ []string, b *outwait.Output) error {
			return demo.RunCloud(ctx, []string{"-data", filepath.Join(t.TempDir(), "new"), "-listen", "127.0.0.1:0"}, b)
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(interrupted, []string{"-data", dir, "-url", url}, &outwait.Output{})
			assert.ErrorIs(t, err, errInterrupt)
			require.Error(t, err)
			if name == "cloud" {
				assert.True(t, strings.HasSuffix(err.Error(), " (interrupt signal received)"), err.Error())
			} else {
				assert.Equal(t, errInterrupt, err, "the phone's error is the cause of its context's end")
			}
		})
	}
}

// TestCloudFlags: a -pairs out of range, an argument after the flags, an
// empty -data and an empty -listen (which would serve every interface at
// a random port) are usage errors, refused before the platform opens.
func TestCloudFlags(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a cloud that started would stop at once and return nil
	dir := t.TempDir()
	for _, args := range [][]string{{"-pairs", "-1"}, {"-pairs", strconv.Itoa(demo.MaxLoadPairs + 1)}, {"-pairs", "1000000000"}, {"127.0.0.1:9090"}, {"-data", ""}, {"-listen", ""}} {
		err := demo.RunCloud(ctx, append([]string{"-data", dir, "-listen", "127.0.0.1:0"}, args...), &outwait.Output{})
		assert.ErrorIs(t, err, demo.ErrUsage, "%q", args)
		assert.NoFileExists(t, filepath.Join(dir, demo.DatabaseFile), "refused before the platform opens")
	}
}

// purchaseThrough runs the seller and the shopper programs at once against
// the cloud of dir, each through a server of its own, whose handler till
// and shopper make from the handler that forwards to the cloud, and
// returns their outputs. A phone that fails stops the other, which would
// wait for it until -wait ends.
func purchaseThrough(t *testing.T, dir string, till, shopper func(forward http.Handler) http.HandlerFunc) (sOut, pOut string, sErr, pErr error) {
	t.Helper()
	forward := cloudProxy(t, dir)
	tillSide := httptest.NewServer(till(forward))
	defer tillSide.Close()
	shopperSide := httptest.NewServer(shopper(forward))
	defer shopperSide.Close()

	var sBuf, pBuf outwait.Output
	ctx := phonesContext(t)
	sctx, stopSeller := context.WithCancel(ctx)
	defer stopSeller()
	pctx, stopShopper := context.WithCancel(ctx)
	defer stopShopper()
	var wg sync.WaitGroup
	wg.Go(func() {
		if sErr = demo.RunSeller(sctx, []string{"-data", dir, "-seed", "5", "-url", tillSide.URL}, &sBuf); sErr != nil {
			stopShopper()
		}
	})
	wg.Go(func() {
		if pErr = demo.RunShopper(pctx, []string{"-data", dir, "-seed", "6", "-url", shopperSide.URL}, &pBuf); pErr != nil {
			stopSeller()
		}
	})
	wg.Wait()
	return sBuf.String(), pBuf.String(), sErr, pErr
}

// requirePurchased fails t unless both phones, ending with sErr and pErr,
// made the purchase of checkPurchase, and the cloud moved its money.
func requirePurchased(t *testing.T, cloud *outwait.Output, seller, shopper string, sErr, pErr error) {
	t.Helper()
	require.NoError(t, pErr, shopper)
	require.NoError(t, sErr, seller)
	checkPurchase(t, seller, shopper)
	awaitBalances(t, cloud, "38.73", "11.27")
}

// TestSellerWaitsThroughOutage: the cloud does not answer the till (it
// restarts, say) from just before the shopper's consent, for as many
// calls of the till as twice the client's attempts (two whole calls
// failing with payflow.ErrUnavailable). The till asks again until the
// cloud answers, within -wait, and shows the receipt of the captured
// payment, instead of withdrawing a request that was paid and failing.
func TestSellerWaitsThroughOutage(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	var down, consented atomic.Bool
	var refused atomic.Int64
	seller, shopper, sErr, pErr := purchaseThrough(t, dir, func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				if refused.Add(1) == 2*payflow.DefaultMaxAttempts {
					down.Store(false)
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			forward.ServeHTTP(w, r)
		}
	}, func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/consent") && !consented.Swap(true) {
				down.Store(true)
			}
			forward.ServeHTTP(w, r)
		}
	})
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.NotContains(t, seller, "withdrawn")
	assert.EqualValues(t, 2*payflow.DefaultMaxAttempts, refused.Load(), "the cloud refused the till's calls")
}

// TestShopperWaitsThroughOutage: the cloud does not answer Alice's phone
// (it restarts, say) once the till sends its payment request, for as many
// calls of the phone's wait for it as twice the client's attempts (two
// whole calls failing with payflow.ErrUnavailable). The phone asks again
// until the cloud answers, within -wait, and pays, as the till does
// through an outage, instead of failing while the till waits for it.
func TestShopperWaitsThroughOutage(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	var down atomic.Bool
	var refused atomic.Int64
	seller, shopper, sErr, pErr := purchaseThrough(t, dir, func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/requests" {
				down.Store(true)
			}
			forward.ServeHTTP(w, r)
		}
	}, func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// The phone's wait for the request reads it (GET /v1/requests/ID).
			if down.Load() && r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/requests/") {
				if refused.Add(1) == 2*payflow.DefaultMaxAttempts {
					down.Store(false)
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			forward.ServeHTTP(w, r)
		}
	})
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.EqualValues(t, 2*payflow.DefaultMaxAttempts, refused.Load(), "the cloud refused the phone's wait")
}

// TestShopperApprovesThroughOutage: the cloud does not answer Alice's
// consent at first (it restarts, say), for as many attempts as twice the
// client's (two whole approvals failing with payflow.ErrUnavailable). The
// phone sends the consent again, the card signing no other and the PIN
// not asked again, until the cloud answers, within -wait, and pays,
// instead of failing with the payment's outcome unknown while the till
// goes on waiting.
func TestShopperApprovesThroughOutage(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	var refused atomic.Int64
	seller, shopper, sErr, pErr := purchaseThrough(t, dir, func(forward http.Handler) http.HandlerFunc {
		return forward.ServeHTTP
	}, func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/consent") && refused.Load() < 2*payflow.DefaultMaxAttempts {
				refused.Add(1)
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			forward.ServeHTTP(w, r)
		}
	})
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.EqualValues(t, 2*payflow.DefaultMaxAttempts, refused.Load())
	assert.Equal(t, 1, strings.Count(shopper, "Enter PIN"), "the PIN is asked once: %s", shopper)
	assert.Equal(t, 2, strings.Count(shopper, "The cloud did not answer the approval: sending it again"), shopper)
}

// readsAfterCancel is the server of Alice's phone that answers its reads
// of a request unavailable until the till's first cancellation was
// answered (its path in cancelled): the phone is not shown the request
// that got no answer, which it would otherwise pay.
func readsAfterCancel(cancelled *atomic.Value) func(forward http.Handler) http.HandlerFunc {
	return func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/requests/") && cancelled.Load() == nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			forward.ServeHTTP(w, r)
		}
	}
}

// requireAskedAgain fails t unless the till, whose first cancellation
// answered has its path in cancelled, cancelled the request that got no
// answer and asked with a new one, which Alice paid.
func requireAskedAgain(t *testing.T, cancelled *atomic.Value, seller, shopper string) {
	t.Helper()
	path, _ := cancelled.Load().(string)
	first := regexp.MustCompile(`^/v1/requests/([0-9a-f]{8})[0-9a-f]*/cancel$`).FindStringSubmatch(path)
	require.NotNil(t, first, "the till cancelled the request that got no answer: %q", path)
	paid := regexp.MustCompile(`(?m)^\[seller\]  The card signed payment request ([0-9a-f]{8});`).FindStringSubmatch(seller)
	require.NotNil(t, paid, seller)
	assert.NotEqual(t, first[1], paid[1], "the till asked with a new request")
	assert.Contains(t, shopper, "ledger transfers: 1, request "+paid[1]+"\n", "Alice paid the new request")
}

// TestSellerRequestsThroughOutage: the cloud does not answer the till's
// catalog read (it restarts, say), and then its payment request, for as
// many calls of each as twice the client's attempts (two whole calls
// failing with payflow.ErrUnavailable); the request either never reached
// the cloud, or was recorded and its reply lost. The till asks again
// until the cloud answers, within -wait, sending the request that got no
// answer again first: the cloud records it if need be and the till
// cancels it, then asks with a new one, which Alice pays, charged once,
// instead of the till failing while Alice waits for a request. Alice's
// phone is not answered its reads of the request until the till cancelled
// the first one, which it would otherwise be shown and fail to pay.
func TestSellerRequestsThroughOutage(t *testing.T) {
	for _, recorded := range []bool{false, true} {
		t.Run(fmt.Sprintf("recorded=%v", recorded), func(t *testing.T) {
			dir := t.TempDir()
			cloud := startCloud(t, "-data", dir)
			var catalogRefused, requestRefused atomic.Int64
			var cancelled atomic.Value // the path of the till's cancel, answered
			seller, shopper, sErr, pErr := purchaseThrough(t, dir, func(forward http.Handler) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					switch {
					case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/catalog") && catalogRefused.Load() < 2*payflow.DefaultMaxAttempts:
						catalogRefused.Add(1)
						w.WriteHeader(http.StatusServiceUnavailable)
						return
					case r.Method == http.MethodPost && r.URL.Path == "/v1/requests" && requestRefused.Load() < 2*payflow.DefaultMaxAttempts:
						if requestRefused.Add(1) == 1 && recorded {
							forward.ServeHTTP(httptest.NewRecorder(), r) // the reply is lost
						}
						w.WriteHeader(http.StatusServiceUnavailable)
						return
					case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cancel"):
						forward.ServeHTTP(w, r)
						cancelled.CompareAndSwap(nil, r.URL.Path)
						return
					}
					forward.ServeHTTP(w, r)
				}
			}, readsAfterCancel(&cancelled))
			requirePurchased(t, cloud, seller, shopper, sErr, pErr)
			assert.EqualValues(t, 2*payflow.DefaultMaxAttempts, catalogRefused.Load())
			assert.EqualValues(t, 2*payflow.DefaultMaxAttempts, requestRefused.Load())
			assert.Equal(t, 1, strings.Count(seller, "Basket for Alice:"), "the basket is shown once: %s", seller)
			assert.Equal(t, 2, strings.Count(seller, "The cloud did not answer the payment request: sending it again"), seller)
			requireAskedAgain(t, &cancelled, seller, shopper)
		})
	}
}

// TestSellerTakesRequestPaidInOutage: the till's payment request is
// recorded, but the cloud's replies to it are lost (it restarts, say) for
// one whole call of the till's request at least (payflow.ErrUnavailable),
// and until Alice's phone, shown the request, has paid it. The till sends
// the request again until the cloud answers, within -wait, finds it paid
// (payflow.PaidError) and takes that payment, whose receipt it verifies,
// as the purchase, instead of failing with the payment unknown or asking
// Alice to pay again.
func TestSellerTakesRequestPaidInOutage(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	var paid atomic.Bool
	var lost atomic.Int64
	seller, shopper, sErr, pErr := purchaseThrough(t, dir, func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			// One whole request call is lost at least, however soon
			// Alice pays.
			if r.Method == http.MethodPost && r.URL.Path == "/v1/requests" && (!paid.Load() || lost.Load() < payflow.DefaultMaxAttempts) {
				if lost.Add(1) == 1 {
					forward.ServeHTTP(httptest.NewRecorder(), r) // recorded, the reply lost
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			forward.ServeHTTP(w, r)
		}
	}, func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			forward.ServeHTTP(w, r)
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/consent") {
				paid.Store(true)
			}
		}
	})
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.GreaterOrEqual(t, lost.Load(), int64(payflow.DefaultMaxAttempts), "the cloud did not answer one whole request")
	requireLostRequestPaid(t, seller, shopper)
}

// storeHold is a payflow.Store that holds the first write of one kind
// until release is called: the first settlement of a consent, its
// request approving (newSettlementHold: the update that records the
// settlement's outcome), or the first recording of a payment request
// (newRequestHold: the acceptance that inserts it). The write waits for
// release, or for its call's context to end.
type storeHold struct {
	payflow.Store
	requests bool          // the recording of a request, not a settlement
	holding  chan struct{} // closed once the first such write is held
	released chan struct{}
	release  func()
	once     sync.Once
}

func newSettlementHold(st payflow.Store) *storeHold {
	released := make(chan struct{})
	return &storeHold{Store: st, holding: make(chan struct{}), released: released, release: sync.OnceFunc(func() { close(released) })}
}

func newRequestHold(st payflow.Store) *storeHold {
	h := newSettlementHold(st)
	h.requests = true
	return h
}

func (s *storeHold) UpdatePayment(ctx context.Context, p *payflow.PaymentRecord, from string) error {
	if !s.requests && from == payflow.StateApproving {
		s.wait(ctx)
	}
	return s.Store.UpdatePayment(ctx, p, from)
}

func (s *storeHold) Accept(ctx context.Context, a *payflow.Acceptance) error {
	if s.requests && a.Insert != nil {
		s.wait(ctx)
	}
	return s.Store.Accept(ctx, a)
}

// wait holds the first write that calls it until release, or until ctx
// ends.
func (s *storeHold) wait(ctx context.Context) {
	s.once.Do(func() {
		close(s.holding)
		select {
		case <-s.released:
		case <-ctx.Done():
		}
	})
}

// held reports whether the first write is held, or was.
func (s *storeHold) held() bool {
	select {
	case <-s.holding:
		return true
	default:
		return false
	}
}

// startSecondCloud serves the cloud of dir, which the cloud program
// serves, from a second platform on the same database, its store wrapped
// in hold, as a second cloud process would, until the test ends. It
// returns the second platform's URL and its screen's output.
func startSecondCloud(t *testing.T, dir string, hold func(payflow.Store) payflow.Store) (string, *outwait.Output) {
	t.Helper()
	c, err := demo.OpenCloud(context.Background(), demo.CloudOptions{Dir: dir})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	c.Platform, err = payflow.NewPlatform(payflow.PlatformOptions{
		Ledger: c.Ledger, Store: hold(c.Store), Verifier: c.Verifier, Key: c.Authority.PlatformKey, Chain: c.Authority.PlatformChain,
	})
	require.NoError(t, err)
	out := &outwait.Output{}
	h, err := payflow.NewHandler(&demo.Narrator{API: c.Platform, Cloud: c, Screen: demo.NewPrinter(out).Screen("cloud")}, payflow.HandlerOptions{Replies: c.Store})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, h.Close()) }) // before c.Close
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, out
}

// startHoldingCloud starts the cloud program on dir and a second cloud
// process on its database (startSecondCloud) whose store holds the first
// write of a kind (newHold) until the hold is released, or the test
// ends; it returns a proxy to the second process, the hold, and the
// screens' output of the cloud program and of the second process.
func startHoldingCloud(t *testing.T, dir string, newHold func(payflow.Store) *storeHold) (http.Handler, *storeHold, *outwait.Output, *outwait.Output) {
	t.Helper()
	cloud := startCloud(t, "-data", dir)
	var hold *storeHold
	second, secondOut := startSecondCloud(t, dir, func(st payflow.Store) payflow.Store {
		hold = newHold(st)
		return hold
	})
	t.Cleanup(hold.release)
	target, err := url.Parse(second)
	require.NoError(t, err)
	return httputil.NewSingleHostReverseProxy(target), hold, cloud, secondOut
}

// forwardCode forwards r to forward, writes its reply to w, and returns
// the code of the platform's error in it (payflow.Error), or "".
func forwardCode(forward http.Handler, w http.ResponseWriter, r *http.Request) string {
	var e payflow.Error
	forwardSeen(forward, w, r, func(status int, body []byte) {
		if status < 400 || cbor.Unmarshal(body, &e) != nil {
			e.Code = ""
		}
	})
	return e.Code
}

// forwardSeen forwards r to forward and writes its reply to w once seen
// has looked at its status and body.
func forwardSeen(forward http.Handler, w http.ResponseWriter, r *http.Request, seen func(status int, body []byte)) {
	rec := httptest.NewRecorder()
	forward.ServeHTTP(rec, r)
	seen(rec.Code, rec.Body.Bytes())
	maps.Copy(w.Header(), rec.Header())
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// TestSellerTakesRequestPaidWhileApproving: the till's payment request is
// recorded, but the cloud's replies to it are lost (it restarts, say)
// until Alice's phone, shown the request, has approved it and a second
// cloud process settles that approval, which it holds, the request
// approving, until the cloud answers the till's cancellation of it
// conflict (a settlement under way). The till, sending the request
// again, waits for that settlement to end, finds the request paid
// (payflow.PaidError) and takes that payment, whose receipt it verifies,
// as the purchase, instead of failing with the conflict while Alice is
// charged.
func TestSellerTakesRequestPaidWhileApproving(t *testing.T) {
	seller, _ := purchaseWhileApproving(t, false)
	assert.NotContains(t, seller, "still settling")
}

// TestSellerWaitsOutLongSettlement: as in
// TestSellerTakesRequestPaidWhileApproving, but the settlement of Alice's
// approval lasts longer than the till's cancellation waits for it
// (demo.SettleWait, which the test shortens to a nanosecond, as
// TestSellerWaitEndsDuringSettlement does): it ends only once the till
// sends its request again after the cloud answered its cancellation
// conflict all that time. The till, its -wait not over, waits on as it
// waits out an outage, says so, and takes the payment as the purchase,
// instead of failing with the conflict (exit status 1) while Alice is
// charged.
func TestSellerWaitsOutLongSettlement(t *testing.T) {
	seller, _ := purchaseWhileApproving(t, true)
	assert.Equal(t, 1, strings.Count(seller, "[seller]  The cloud is still settling an approval of the payment request: sending it again\n"), seller)
}

// shortenSettleWait has the phones that the test makes wait a nanosecond
// for a settlement under way (demo.SettleWait), until the test ends: a
// phone gives up on a settlement that the cloud holds once the cloud
// answered its cancellation payflow.ErrConflict, not ten seconds later.
func shortenSettleWait(t *testing.T) {
	t.Helper()
	old := demo.SettleWait
	demo.SettleWait = time.Nanosecond
	t.Cleanup(func() { demo.SettleWait = old })
}

// purchaseWhileApproving runs the purchase of
// TestSellerTakesRequestPaidWhileApproving, whose settlement, held,
// ends once the cloud answered the till's cancellation conflict, or
// when long, once the till sends its request again after that, and
// checks that the till took Alice's payment as the purchase. It returns
// the outputs of the till and of Alice's phone.
func purchaseWhileApproving(t *testing.T, long bool) (seller, shopper string) {
	t.Helper()
	if long {
		shortenSettleWait(t)
	}
	dir := t.TempDir()
	toSecond, hold, _, cloud := startHoldingCloud(t, dir, newSettlementHold) // the second settles
	var lost, conflicts atomic.Int64
	seller, shopper, sErr, pErr := purchaseThrough(t, dir, func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			switch {
			// One whole request call is lost at least, however soon Alice
			// approves, and every one until the settlement is held.
			case r.Method == http.MethodPost && r.URL.Path == "/v1/requests" && (!hold.held() || lost.Load() < payflow.DefaultMaxAttempts):
				if lost.Add(1) == 1 {
					forward.ServeHTTP(httptest.NewRecorder(), r) // recorded, the reply lost
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			case r.Method == http.MethodPost && r.URL.Path == "/v1/requests" && long && conflicts.Load() > 0:
				hold.release() // sent again after a cancellation gave up on the settlement
			case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cancel"):
				if forwardCode(forward, w, r) == "conflict" {
					conflicts.Add(1)
					if !long {
						hold.release()
					}
				}
				return
			}
			forward.ServeHTTP(w, r)
		}
	}, func(http.Handler) http.HandlerFunc {
		return toSecond.ServeHTTP // Alice's phone talks to the second process
	})
	require.NoError(t, sErr, seller) // the till's error first: a till that fails stops Alice's phone
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.Positive(t, conflicts.Load(), "the cloud answered the till's cancellation conflict while it settled")
	requireLostRequestPaid(t, seller, shopper)
	return seller, shopper
}

// TestPhonesWaitForCloudAtLogin: the cloud does not answer either phone's
// login at first (it is starting, say), for as many challenges as twice
// the client's attempts (two whole logins failing with
// payflow.ErrUnavailable). Each phone asks again until the cloud
// answers, within -wait, and the purchase goes through, instead of the
// phone failing once the client's few attempts ended.
func TestPhonesWaitForCloudAtLogin(t *testing.T) {
	purchaseRefused(t, "/v1/challenges", false)
}

// purchaseRefused fails t unless the purchase goes through while the
// cloud, for each phone, does not answer the first calls to path
// (refuseFirst), all of them refused.
func purchaseRefused(t *testing.T, path string, lost bool) {
	t.Helper()
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	var tillRefused, shopperRefused atomic.Int64
	seller, shopper, sErr, pErr := purchaseThrough(t, dir,
		refuseFirst(path, lost, &tillRefused), refuseFirst(path, lost, &shopperRefused))
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.EqualValues(t, 2*payflow.DefaultMaxAttempts, tillRefused.Load())
	assert.EqualValues(t, 2*payflow.DefaultMaxAttempts, shopperRefused.Load())
}

// refuseFirst makes the handler of a phone (purchaseThrough) that answers
// the first calls to path, as many as twice the client's attempts (two
// whole calls failing with payflow.ErrUnavailable), HTTP 503 without a
// body, counting them in refused, and forwards the others to the cloud.
// With lost, the first of them reaches the cloud, and its answer is lost.
func refuseFirst(path string, lost bool, refused *atomic.Int64) func(forward http.Handler) http.HandlerFunc {
	return func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == path && refused.Load() < 2*payflow.DefaultMaxAttempts {
				if refused.Add(1) == 1 && lost {
					forward.ServeHTTP(httptest.NewRecorder(), r)
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			forward.ServeHTTP(w, r)
		}
	}
}

// TestPhonesWaitThroughOutageWhilePairing: the cloud does not answer the
// phone that confirmed first (it restarts, say) while it waits for the
// other to confirm, for as many reads of the session as twice the
// client's attempts (two whole calls failing with
// payflow.ErrUnavailable); the other phone's confirmation reaches the
// cloud only after that. The waiting phone asks again until the cloud
// answers, within -wait, and the purchase goes through, instead of it
// failing while the other phone pairs with it.
func TestPhonesWaitThroughOutageWhilePairing(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	var confirmed atomic.Bool
	var refused atomic.Int64
	allRefused := make(chan struct{})
	refuseWait := func(forward http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodPost && r.URL.Path == "/v1/pair" && confirmed.Swap(true):
				// The second confirmation. Its body read first, the
				// request's context ends when its phone gives up.
				body, err := io.ReadAll(r.Body)
				if err != nil {
					return
				}
				r.Body = io.NopCloser(bytes.NewReader(body))
				select {
				case <-allRefused:
				case <-r.Context().Done():
					return
				}
			case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/sessions/") && refused.Load() < 2*payflow.DefaultMaxAttempts:
				if refused.Add(1) == 2*payflow.DefaultMaxAttempts {
					close(allRefused)
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			forward.ServeHTTP(w, r)
		}
	}
	seller, shopper, sErr, pErr := purchaseThrough(t, dir, refuseWait, refuseWait)
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.EqualValues(t, 2*payflow.DefaultMaxAttempts, refused.Load())
}

// TestPhonesScanThroughOutage: the cloud does not answer either phone's
// resolution of the EIDs it heard (it restarts while the phones scan, say),
// for as many calls as twice the client's attempts (two whole calls
// failing with payflow.ErrUnavailable), as TestPhonesWaitForCloudAtLogin
// does for the login. Each phone scans on, asking again, within -wait,
// and the purchase goes through, instead of the phone failing with the
// cloud's ErrUnavailable.
func TestPhonesScanThroughOutage(t *testing.T) {
	purchaseRefused(t, "/v1/resolve", false)
}

// TestPhonesConfirmThroughOutage: the cloud does not answer either
// phone's confirmation of the other (its pairing, POST /v1/pair) for as
// many calls as twice the client's attempts (two whole calls failing with
// payflow.ErrUnavailable), the first of them paired by the cloud and its
// answer lost. Each phone confirms again, its card signing a proof over a
// new challenge, within -wait, and the purchase goes through, instead of
// the phone failing with the cloud's ErrUnavailable.
func TestPhonesConfirmThroughOutage(t *testing.T) {
	purchaseRefused(t, "/v1/pair", true)
}

// TestCloudPortInUse: a -listen address already in use is refused before
// the cloud makes its CA, its cards and its database.
func TestCloudPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	err = demo.RunCloud(context.Background(), []string{"-data", dir, "-listen", ln.Addr().String()}, &outwait.Output{})
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.NoDirExists(t, dir, "nothing made in the data folder")
}

// TestCloudURLLoopback: a cloud serving the unspecified address (every
// interface) writes into cloud.url a loopback URL, which the phones dial:
// 127.0.0.1 for an empty host and for 0.0.0.0, [::1] for [::]; a cloud
// serving a given host writes that host.
func TestCloudURLLoopback(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ listen, host string }{
		{":0", "127.0.0.1"},
		{"0.0.0.0:0", "127.0.0.1"},
		{"[::]:0", "[::1]"},
		{"127.0.0.1:0", "127.0.0.1"},
		{"[::1]:0", "[::1]"},
	} {
		t.Run(tt.listen, func(t *testing.T) {
			if tt.host == "[::1]" {
				ln, err := net.Listen("tcp", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				ln.Close()
			}
			ctx, interrupt := context.WithCancel(context.Background())
			defer interrupt()
			out := &outwait.Output{}
			done := goCloud(ctx, []string{"-data", dir, "-listen", tt.listen}, out)
			// The cloud writes the file, then says where it serves.
			out.Require(t, servingRE)
			b, err := os.ReadFile(filepath.Join(dir, demo.URLFile))
			require.NoError(t, err, "the cloud writes its URL: %s", out)
			written := string(b)
			assert.Regexp(t, `^http://`+regexp.QuoteMeta(tt.host)+`:[1-9][0-9]*\n$`, written)
			assert.Contains(t, out.String(), ", serving "+strings.TrimSpace(written)+"\n")
			conn, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSpace(written), "http://"))
			if assert.NoError(t, err, "the cloud answers at the URL written") {
				conn.Close()
			}
			interrupt()
			require.NoError(t, <-done, out.String())
		})
	}
}

// TestCloudPostgresUnreachable: a -postgres DSN that does not parse, or
// whose server does not answer, fails the start before the cloud makes
// its data folder: no demo CA with its private keys is left behind. The
// DSN that does not parse is a usage error (exit status 2), the server
// that does not answer is not.
func TestCloudPostgresUnreachable(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := closed.Addr().String()
	require.NoError(t, closed.Close())
	for _, tt := range []struct {
		dsn   string
		check func(t *testing.T, err error)
	}{
		{"not a DSN", func(t *testing.T, err error) {
			var perr *pgconn.ParseConfigError
			assert.ErrorAs(t, err, &perr)
			assert.ErrorIs(t, err, demo.ErrUsage)
			assert.EqualError(t, err, "demo: invalid usage: -postgres: cannot parse `not a DSN`: failed to parse as keyword/value (invalid keyword/value)")
		}},
		{"postgres://casimpay@" + addr + "/casimpay?connect_timeout=5", func(t *testing.T, err error) {
			assert.ErrorIs(t, err, syscall.ECONNREFUSED)
			assert.NotErrorIs(t, err, demo.ErrUsage)
		}},
	} {
		t.Run(tt.dsn, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			err := demo.RunCloud(context.Background(), []string{"-data", dir, "-listen", "127.0.0.1:0", "-postgres", tt.dsn}, &outwait.Output{})
			tt.check(t, err)
			assert.NoDirExists(t, dir, "nothing made in the data folder")
		})
	}
}

// slowCall is a gateway before the second cloud process (to), whose
// store hold holds the first write of a call: it forwards the first POST
// whose path ends in suffix, which goes on at the cloud without the
// phone, and gives up on it (504 Gateway Timeout) once its write is
// held. Every retry of that call, under the same Idempotency-Key, is
// answered 409 idempotency_in_flight while it is held, and the held
// write ends once a whole call of the phone failed so (inFlight counts
// those answers): what a slow ledger or database does to a call that
// takes longer than the client's AttemptTimeout. Other calls are
// forwarded.
func slowCall(to http.Handler, hold *storeHold, suffix string, inFlight *atomic.Int64) http.HandlerFunc {
	var sent atomic.Bool
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, suffix):
			to.ServeHTTP(w, r)
		case !sent.Swap(true):
			if goOnWithout(to, hold, r, nil) {
				w.WriteHeader(http.StatusGatewayTimeout)
			}
		default:
			if forwardCode(to, w, r) == "idempotency_in_flight" && inFlight.Add(1) == payflow.DefaultMaxAttempts-1 {
				hold.release()
			}
		}
	}
}

// goOnWithout sends r, the first attempt of a call, on to to, where it
// goes on without the phone, and waits until hold holds its write (true)
// or the phone gives up on it (false). ended, unless nil, is called once
// the call has ended at to.
func goOnWithout(to http.Handler, hold *storeHold, r *http.Request, ended func()) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false
	}
	first := r.Clone(context.WithoutCancel(r.Context()))
	first.Body = io.NopCloser(bytes.NewReader(body))
	go func() {
		to.ServeHTTP(httptest.NewRecorder(), first)
		if ended != nil {
			ended()
		}
	}()
	select {
	case <-hold.holding:
		return true
	case <-r.Context().Done():
		return false
	}
}

// TestShopperApprovesThroughSettlementInFlight: the settlement of Alice's
// consent is slow (a slow ledger, say): a second cloud process, which
// Alice's phone talks to, holds it, the request approving, and the
// gateway before it gives up on the consent's first attempt while the
// cloud goes on with it (slowCall). Every retry of the call is answered
// in flight until the client's attempts run out (payflow.ErrInFlight),
// and the settlement ends only then. The phone waits that out as it
// waits out an outage: it sends the consent it keeps again, the card
// signing no other and the PIN not asked again, within -wait, and shows
// the receipt of the payment, instead of failing with the payment under
// way.
func TestShopperApprovesThroughSettlementInFlight(t *testing.T) {
	dir := t.TempDir()
	toSecond, hold, _, cloud := startHoldingCloud(t, dir, newSettlementHold) // the second settles
	var inFlight atomic.Int64
	seller, shopper, sErr, pErr := purchaseThrough(t, dir, func(forward http.Handler) http.HandlerFunc {
		return forward.ServeHTTP
	}, func(http.Handler) http.HandlerFunc {
		return slowCall(toSecond, hold, "/consent", &inFlight)
	})
	require.NoError(t, pErr, shopper) // the shopper's error first: a shopper that fails stops the till
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.EqualValues(t, payflow.DefaultMaxAttempts-1, inFlight.Load(), "the cloud answered one whole approval in flight")
	assert.Equal(t, 1, strings.Count(shopper, "Enter PIN"), "the PIN is asked once: %s", shopper)
	assert.Equal(t, 1, strings.Count(shopper, "[shopper] The cloud is still working on the approval: sending it again\n"), shopper)
	assert.NotContains(t, shopper, "did not answer", "the cloud answered, in flight")
}

// TestSellerRequestsThroughRecordingInFlight: the recording of the till's
// payment request is slow (a slow database, say): a second cloud
// process, which the till talks to, holds it, and the gateway before it
// gives up on the request's first attempt while the cloud goes on with
// it (slowCall). Every retry of the call is answered in flight until the
// client's attempts run out (payflow.ErrInFlight), and the request is
// recorded only then. The till waits that out as it waits out an
// outage: it sends the request that got no answer again, cancels it,
// recorded, and asks with a new one, which Alice pays, within -wait,
// instead of failing while Alice waits for a request. Alice's phone is
// not answered its reads of the request until the till cancelled the
// first one, which it would otherwise be shown and pay.
func TestSellerRequestsThroughRecordingInFlight(t *testing.T) {
	dir := t.TempDir()
	toSecond, hold, cloud, _ := startHoldingCloud(t, dir, newRequestHold) // the cloud program settles
	var inFlight atomic.Int64
	var cancelled atomic.Value // the path of the till's cancel, answered
	seller, shopper, sErr, pErr := purchaseThrough(t, dir, func(http.Handler) http.HandlerFunc {
		slow := slowCall(toSecond, hold, "/v1/requests", &inFlight)
		return func(w http.ResponseWriter, r *http.Request) {
			slow(w, r)
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/cancel") {
				cancelled.CompareAndSwap(nil, r.URL.Path)
			}
		}
	}, readsAfterCancel(&cancelled))
	require.NoError(t, sErr, seller) // the till's error first: a till that fails stops Alice's phone
	requirePurchased(t, cloud, seller, shopper, sErr, pErr)
	assert.EqualValues(t, payflow.DefaultMaxAttempts-1, inFlight.Load(), "the cloud answered one whole request in flight")
	assert.Equal(t, 1, strings.Count(seller, "[seller]  The cloud is still working on the payment request: sending it again\n"), seller)
	assert.NotContains(t, seller, "did not answer", "the cloud answered, in flight")
	requireAskedAgain(t, &cancelled, seller, shopper)
}

// requireLostRequestPaid checks, from the seller's and the shopper's
// output, that the till sent again the payment request whose answer it
// did not get, asked nothing else, and took Alice's payment of that
// request as the purchase, both receipts naming it.
func requireLostRequestPaid(t *testing.T, seller, shopper string) {
	t.Helper()
	assert.Contains(t, seller, "The cloud did not answer the payment request: sending it again")
	assert.NotContains(t, seller, "The card signed payment request", "the till asked nothing but the lost request")
	receipt := regexp.MustCompile(`(?m)ledger transfers: 1, request ([0-9a-f]{8})$`)
	sPaid, pPaid := receipt.FindStringSubmatch(seller), receipt.FindStringSubmatch(shopper)
	require.NotNil(t, sPaid, seller)
	require.NotNil(t, pPaid, shopper)
	assert.Equal(t, pPaid[1], sPaid[1], "the till's receipt is of the request Alice paid")
	assert.Contains(t, seller, "[seller]  Payment request "+pPaid[1]+", which the cloud had not answered, was paid: it is the purchase\n")
}

// holdFirst is a gateway before the second cloud process (to), whose
// store hold holds the first write of a call: it forwards the first POST
// whose path ends in suffix, which goes on at the cloud without the phone,
// and once its write is held calls held and gives up on it: at once (504
// Gateway Timeout), or with hang when the phone does (its request's
// context ends). Other calls, and that call sent again, are forwarded.
func holdFirst(to http.Handler, hold *storeHold, suffix string, hang bool, held func()) http.HandlerFunc {
	var sent atomic.Bool
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, suffix) || sent.Swap(true) {
			to.ServeHTTP(w, r)
			return
		}
		if !goOnWithout(to, hold, r, nil) {
			return
		}
		held()
		if hang {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusGatewayTimeout)
	}
}

// cloudProxy returns a proxy to the cloud program of dir.
func cloudProxy(t *testing.T, dir string) http.Handler {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, demo.URLFile))
	require.NoError(t, err)
	target, err := url.Parse(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	return httputil.NewSingleHostReverseProxy(target)
}

// TestSellerInterruptedWhileRequesting: the till is interrupted (Ctrl-C)
// while the cloud, slowly, records its payment request: a second cloud
// process holds the recording, and the till gets no answer. The till
// sends the request again to withdraw it, as it withdraws one that the
// cloud answered; the recording ends as it does, and the till gets the
// request recorded and cancels it, so that Alice's phone, which reads
// requests only once the till has ended, reads it cancelled and finds
// nothing to pay until its wait ends (as it asks for more), instead of
// the till ending with the request left pending for Alice to pay.
func TestSellerInterruptedWhileRequesting(t *testing.T) {
	dir := t.TempDir()
	toSecond, hold, cloud, _ := startHoldingCloud(t, dir, newRequestHold)
	toCloud := cloudProxy(t, dir)
	ctx := phonesContext(t)
	sctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	recorded := make(chan struct{}) // closed once the held recording ended
	tillSide := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/v1/requests"):
			toSecond.ServeHTTP(w, r)
		case !hold.held():
			// Recorded without the till, which gets no answer: Ctrl-C
			// while the cloud records it.
			if goOnWithout(toSecond, hold, r, func() { close(recorded) }) {
				interrupt()
			}
			<-r.Context().Done()
		default:
			// The request sent again, as the till withdraws it: the
			// recording ends first.
			hold.release()
			<-recorded
			toSecond.ServeHTTP(w, r)
		}
	}))
	defer tillSide.Close()
	// Alice's phone's wait ends once it asked the cloud for more after it
	// read the request cancelled, long before its -wait.
	pctx := outwait.NewDeadline(ctx)
	var sellerDone, readCancelled atomic.Bool
	shopperSide := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if readCancelled.Load() {
			pctx.Pass()
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/requests/") {
			toCloud.ServeHTTP(w, r)
			return
		}
		if !sellerDone.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		forwardSeen(toCloud, w, r, func(status int, body []byte) {
			var v payflow.PaymentView
			if status == http.StatusOK && cbor.Unmarshal(body, &v) == nil && v.State == payflow.StateCancelled {
				readCancelled.Store(true)
			}
		})
	}))
	defer shopperSide.Close()
	var sOut, pOut outwait.Output
	var sErr, pErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer func() {
			hold.release() // a till that did not send the request again leaves it recorded
			sellerDone.Store(true)
		}()
		sErr = demo.RunSeller(sctx, []string{"-data", dir, "-seed", "5", "-url", tillSide.URL}, &sOut)
	})
	wg.Go(func() {
		pErr = demo.RunShopper(pctx, []string{"-data", dir, "-seed", "6", "-url", shopperSide.URL, "-wait", "1h"}, &pOut)
	})
	wg.Wait()
	require.True(t, hold.held(), "the recording was held")
	require.ErrorIs(t, sErr, context.Canceled, sOut.String())
	withdrawn := regexp.MustCompile(`(?m)^\[seller\]  Request ([0-9a-f]{8}) withdrawn: cancelled$`).FindStringSubmatch(sOut.String())
	require.NotNil(t, withdrawn, sOut.String())
	require.True(t, readCancelled.Load(), "Alice's phone read the request cancelled: %s", pOut.String())
	require.ErrorIs(t, pErr, context.DeadlineExceeded, "Alice's phone found no request to pay: %s", pOut.String())
	assert.EqualError(t, pErr, "demo: no payment request from Corner Grocer before -wait ended: context deadline exceeded")
	assert.Contains(t, pOut.String(), "[shopper] Paired with Corner Grocer", "Alice's phone looked for a request")
	assert.NotContains(t, pOut.String(), "Receipt verified", "Alice paid the request of a till that was interrupted")
	assert.NotContains(t, cloud.String(), "Balances now:", "no money moved")
}

// TestSellerWaitEndsDuringSettlement: -wait ends while Alice's approval is
// still being settled: a second cloud process holds the settlement for
// good, the request approving. The till's withdrawal waits for it for
// demo.SettleWait, which the test shortens to a nanosecond, so that the
// till gives up once the cloud answered its cancellation
// payflow.ErrConflict, not ten seconds later, and the till then says, on
// its screen and in its error (exit status 1), that the payment's outcome
// is unknown, ending with the cloud's payflow.ErrConflict, instead of an
// error that reads as if it had withdrawn the request.
func TestSellerWaitEndsDuringSettlement(t *testing.T) {
	dir := t.TempDir()
	toSecond, hold, _, _ := startHoldingCloud(t, dir, newSettlementHold)
	tillSide := httptest.NewServer(cloudProxy(t, dir))
	defer tillSide.Close()
	// The till's waits are those of its -wait, an hour, Alice's those of
	// her phone's default -wait: the till's wait for Alice passes as her
	// consent's settlement is held.
	const tillWait = time.Hour
	shortenSettleWait(t)
	var mu sync.Mutex
	var tills []int // the indexes of the till's waits, in waits
	waits := &outwait.Waits{Made: func(i int, wait time.Duration) {
		if wait == tillWait {
			mu.Lock()
			tills = append(tills, i)
			mu.Unlock()
		}
	}}
	waits.Use(t, &demo.WithWait)
	shopperSide := httptest.NewServer(holdFirst(toSecond, hold, "/consent", false, func() {
		mu.Lock()
		defer mu.Unlock()
		if assert.Len(t, tills, 2, "the till's login's wait and its wait for Alice") {
			waits.Pass(tills[1])
		}
	}))
	defer shopperSide.Close()
	ctx := phonesContext(t)
	pctx, stopShopper := context.WithCancel(ctx)
	var sOut, pOut outwait.Output
	var sErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stopShopper()
		sErr = demo.RunSeller(ctx, []string{"-data", dir, "-seed", "5", "-url", tillSide.URL, "-wait", tillWait.String()}, &sOut)
	})
	wg.Go(func() { demo.RunShopper(pctx, []string{"-data", dir, "-seed", "6", "-url", shopperSide.URL}, &pOut) })
	wg.Wait()
	require.True(t, hold.held(), "the settlement was held: %s", pOut.String())
	require.ErrorIs(t, sErr, payflow.ErrConflict, sOut.String()) // exit status 1 (demo.Exit)
	assert.ErrorIs(t, sErr, context.DeadlineExceeded)
	signed := regexp.MustCompile(`The card signed payment request ([0-9a-f]{8});`).FindStringSubmatch(sOut.String())
	require.NotNil(t, signed, sOut.String())
	id := signed[1]
	assert.EqualError(t, sErr, "demo: request "+id+": Alice's approval was still being settled when -wait ended; the payment's outcome is unknown (run the seller again to see it): "+
		"payflow: conflict: payflow: conflicting request: a consent to the request is being settled "+
		"(demo: no payment of request "+id+" from Alice before -wait ended: context deadline exceeded)")
	assert.True(t, strings.HasSuffix(sOut.String(), "\n"+
		"[seller]  The card signed payment request "+id+"; waiting for Alice to approve\n"+
		"[seller]  Alice's approval of request "+id+" was still being settled when -wait ended: the payment's outcome is unknown (run the seller again to see it)\n"),
		"the till's last lines, and no withdrawal: %s", sOut.String())
}

// TestShopperInterruptedWhileApproving: Alice's phone is interrupted
// (Ctrl-C) while the cloud settles her consent: the consent reaches the
// cloud, which pays the request, and the phone gets no answer. The phone
// says, on its screen and in its error, that the payment may have gone
// through and where to see whether it did, instead of ending with a bare
// context canceled; the till shows the receipt of the payment.
func TestShopperInterruptedWhileApproving(t *testing.T) {
	dir := t.TempDir()
	startCloud(t, "-data", dir)
	var pOut outwait.Output
	sOut, sErr, pErr := runInterruptedShopper(t, dir, interruptAtConsent, &pOut, false)
	require.NoError(t, sErr, sOut)
	assert.Contains(t, sOut, "[seller]  Receipt verified offline")
	require.ErrorIs(t, pErr, context.Canceled, pOut.String())
	shown := regexp.MustCompile(`\(request ([0-9a-f]{8}), expires`).FindStringSubmatch(pOut.String())
	require.NotNil(t, shown, pOut.String())
	unknown := "approval of request " + shown[1] + " got no answer before the phone was interrupted: the payment may have gone through (the till shows whether it was paid)"
	assert.Contains(t, pOut.String(), "[shopper] The "+unknown+"\n")
	assert.Contains(t, pErr.Error(), "demo: the "+unknown)
}

// TestShopperInterruptedBeforeApprovalSent: Alice's phone is interrupted
// (Ctrl-C) as it reads the request again before the card signs her
// consent, which the phone then never sends. The phone does not say that
// the payment may have gone through: it says that the approval was not
// sent, and the till, interrupted in turn, withdraws its request unpaid.
func TestShopperInterruptedBeforeApprovalSent(t *testing.T) {
	dir := t.TempDir()
	startCloud(t, "-data", dir)
	var pinTyped atomic.Bool
	interruptAtReread := func(to http.Handler, interrupt func()) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/requests/") || !pinTyped.Load() {
				to.ServeHTTP(w, r)
				return
			}
			interrupt() // the request read again, before the card signs
			<-r.Context().Done()
		}
	}
	pOut := &outwait.Output{Line: func(line string) {
		if strings.Contains(line, "Enter PIN") {
			pinTyped.Store(true)
		}
	}}
	sOut, sErr, pErr := runInterruptedShopper(t, dir, interruptAtReread, pOut, true)
	require.ErrorIs(t, pErr, context.Canceled, pOut.String())
	require.ErrorIs(t, sErr, context.Canceled, sOut)
	shown := regexp.MustCompile(`\(request ([0-9a-f]{8}), expires`).FindStringSubmatch(pOut.String())
	require.NotNil(t, shown, pOut.String())
	assert.NotContains(t, pOut.String(), "may have gone through")
	assert.NotContains(t, pErr.Error(), "may have gone through")
	unsent := "approval of request " + shown[1] + " was not sent before the phone was interrupted"
	assert.Contains(t, pOut.String(), "[shopper] The "+unsent+"\n")
	assert.Contains(t, pErr.Error(), "demo: the "+unsent)
	assert.Contains(t, sOut, "[seller]  Request "+shown[1]+" withdrawn: cancelled\n", "not paid")
}

// runInterruptedShopper runs the seller program and the shopper program
// against the cloud of dir, the shopper's calls going through the server
// that through makes of the cloud's handler and of the shopper's
// interrupt, its output into pOut; once the shopper has ended, the till
// is interrupted too when interruptTill. It returns the seller's output
// and both errors.
func runInterruptedShopper(t *testing.T, dir string, through func(to http.Handler, interrupt func()) http.HandlerFunc,
	pOut io.Writer, interruptTill bool) (sOut string, sErr, pErr error) {
	t.Helper()
	ctx := phonesContext(t)
	pctx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	sctx, stopTill := context.WithCancel(ctx)
	defer stopTill()
	shopperSide := httptest.NewServer(through(cloudProxy(t, dir), interrupt))
	defer shopperSide.Close()
	var out outwait.Output
	var wg sync.WaitGroup
	wg.Go(func() { sErr = demo.RunSeller(sctx, []string{"-data", dir, "-seed", "5"}, &out) })
	pErr = demo.RunShopper(pctx, []string{"-data", dir, "-seed", "6", "-url", shopperSide.URL}, pOut)
	if interruptTill {
		stopTill()
	}
	wg.Wait()
	return out.String(), sErr, pErr
}

// interruptAtConsent is the server of Alice's phone that forwards her
// consent to the cloud (to), which settles it, and then, its answer held
// back, calls interrupt and waits until the phone gives up on the call;
// other calls are forwarded.
func interruptAtConsent(to http.Handler, interrupt func()) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/consent") {
			to.ServeHTTP(w, r)
			return
		}
		to.ServeHTTP(httptest.NewRecorder(), r)
		interrupt()
		<-r.Context().Done()
	}
}

// cloudWithTill starts a cloud in a new data folder and opens the card of
// Corner Grocer's till there, for a test that sends the till's advert
// itself; the card is closed as the test ends.
func cloudWithTill(t *testing.T) (dir string, till *demo.Station) {
	t.Helper()
	dir = t.TempDir()
	startCloud(t, "-data", dir)
	card, err := demo.OpenCard(dir, "till")
	require.NoError(t, err)
	t.Cleanup(func() { card.Close() })
	return dir, &demo.Station{Party: demo.Grocery.Party("till"), Card: card}
}

// TestPhoneWaitIsOneDeadline: -wait is how long a phone program waits
// for the cloud's login, and then for the other phone, as its help says:
// the program makes the wait for the other phone once, after its login
// and before it scans, and the scan, the tap, the confirmation and the
// wait for the other phone's confirmation share its deadline, rather
// than one phase starting a -wait of its own. Alice's phone hears Corner
// Grocer's till once it has shown its service queue, taps it at a later
// scan and confirms it, and the till never confirms back. The test has
// the wait for the till pass as the phone shows its confirmation: the
// phone ends then, saying that the till's confirmation did not come
// before -wait ended, having made two waits in all, both before it
// scanned. A wait made after those (a phase's own) passes as it is made,
// so that the phone ends at once.
func TestPhoneWaitIsOneDeadline(t *testing.T) {
	dir, till := cloudWithTill(t)
	ctx := phonesContext(t)
	out := &outwait.Output{}
	var madeAt []string // what the phone printed as it made each wait
	waits := &outwait.Waits{}
	waits.Made = func(i int, wait time.Duration) {
		assert.Equal(t, time.Hour, wait, "-wait")
		madeAt = append(madeAt, out.String())
		if i > 1 {
			waits.Pass(i)
		}
	}
	waits.Use(t, &demo.WithWait)
	queues := 0
	out.Line = func(line string) {
		switch {
		case strings.Contains(line, "Service queue:"):
			if queues++; queues == 1 { // the till comes in range
				assert.NoError(t, demo.Air{Dir: dir}.Send([]*demo.Station{till}, demo.WallClock()))
			}
		case strings.HasPrefix(line, "[shopper] Confirmation: Corner Grocer,"):
			assert.True(t, waits.Pass(1), "the wait for the till was made")
		}
	}
	err := demo.RunShopper(ctx, []string{"-data", dir, "-seed", "6", "-wait", "1h"}, out)
	require.ErrorIs(t, err, context.DeadlineExceeded, out.String())
	assert.EqualError(t, err, "demo: no confirmation from Corner Grocer before -wait ended: context deadline exceeded")
	url, rerr := os.ReadFile(filepath.Join(dir, demo.URLFile))
	require.NoError(t, rerr)
	started := "[shopper] Cloud at " + strings.TrimSpace(string(url)) + "\n"
	loggedIn, _, found := strings.Cut(out.String(), "[shopper] Scanning for Corner Grocer…\n")
	require.True(t, found, out.String())
	require.Regexp(t, `\n\[shopper\] Alice logged in with card \d+ .*\n$`, loggedIn)
	assert.Equal(t, []string{started, loggedIn}, madeAt, "the login's wait as it logs in, and the one for the till after its login, before the scan:\n%s", out.String())
	assert.Contains(t, out.String(), "[shopper] Alice taps ", "the phone tapped the till")
}

// TestPhoneNotFoundBeforeWaitEnded: a phone whose -wait ends before its
// service queue holds the phone that -pick names says that -wait ended,
// not "context deadline exceeded" alone. The test has the wait for the
// other phone pass as the phone starts scanning.
func TestPhoneNotFoundBeforeWaitEnded(t *testing.T) {
	dir := t.TempDir()
	startCloud(t, "-data", dir)
	ctx, cancel := outwait.Context(t)
	defer cancel()
	waits := &outwait.Waits{}
	waits.Use(t, &demo.WithWait)
	out := &outwait.Output{Line: func(line string) {
		if strings.Contains(line, "Scanning for Nobody") {
			assert.True(t, waits.Pass(1), "the wait for Nobody was made")
		}
	}}
	err := demo.RunShopper(ctx, []string{"-data", dir, "-pick", "Nobody", "-wait", "1h"}, out)
	require.ErrorIs(t, err, context.DeadlineExceeded, out.String())
	assert.EqualError(t, err, "demo: Nobody not found before -wait ended: context deadline exceeded")
}

// TestShopperScansAgainForPeerGone: the cloud does not answer Alice's
// confirmation of Corner Grocer's till (it restarts, say) until the till,
// whose advert was heard once, has been out of range for longer than
// the air and the queue keep it: the phone's queue no longer holds it,
// and a confirmation of it fails with queue.ErrUnknownPeer. The phone
// says so and scans again, within -wait, finds the till, back in range
// with the seller program, and buys, instead of failing with
// ErrUnknownPeer.
func TestShopperScansAgainForPeerGone(t *testing.T) {
	dir := t.TempDir()
	cloud := startCloud(t, "-data", dir)
	card, err := demo.OpenCard(dir, "till")
	require.NoError(t, err)
	defer card.Close()
	ctx := phonesContext(t)
	// Heard once: the advert fades after demo.AirTTL.
	require.NoError(t, demo.Air{Dir: dir}.Send([]*demo.Station{{Party: demo.Grocery.Party("till"), Card: card}}, demo.WallClock()))
	var scanningAgain, gone atomic.Bool
	toCloud := cloudProxy(t, dir)
	shopperSide := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/pair" && !scanningAgain.Load() {
			if gone.CompareAndSwap(false, true) {
				// Unanswered, the phone asks again once the air and
				// its queue forgot the till.
				advancePhoneClock(demo.AirTTL + queue.DefaultTTL + time.Second)
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		toCloud.ServeHTTP(w, r)
	}))
	defer shopperSide.Close()
	var sOut outwait.Output
	var sErr error
	var wg sync.WaitGroup
	scanning := func(line string) bool { return strings.Contains(line, "Scanning for") }
	pOut := &outwait.Output{Line: outwait.Nth(2, scanning, func() { // the till comes back, with the seller program
		scanningAgain.Store(true)
		require.NoError(t, card.Close())
		wg.Go(func() { sErr = demo.RunSeller(ctx, []string{"-data", dir, "-seed", "5"}, &sOut) })
	})}
	pErr := demo.RunShopper(ctx, []string{"-data", dir, "-seed", "6", "-url", shopperSide.URL}, pOut)
	wg.Wait()
	requirePurchased(t, cloud, sOut.String(), pOut.String(), sErr, pErr)
	assert.Contains(t, pOut.String(), "[shopper] Corner Grocer is out of range: scanning again\n")
}

// TestShopperPeerGoneAfterWait: Alice's phone taps Corner Grocer's
// till, heard once as it started scanning, and its confirmation starts
// only once -wait has ended and the till has been out of range for
// longer than the air and the queue keep it (the phone is held at its
// tap, as the test ends its wait and advances its clock): the
// confirmation fails with queue.ErrUnknownPeer after the wait ended. The
// phone ends with an error that says so, both context.DeadlineExceeded
// and queue.ErrUnknownPeer, instead of saying that it scans again and
// then failing on a scan that found nothing.
func TestShopperPeerGoneAfterWait(t *testing.T) {
	dir, till := cloudWithTill(t)
	// The phone's wait, derived from ctx, ends as ctx's deadline passes,
	// at the tap, long before its -wait.
	ctx := outwait.NewDeadline(phonesContext(t))
	heard := false
	out := &outwait.Output{Line: func(line string) {
		switch {
		case strings.Contains(line, "Scanning for") && !heard:
			heard = true
			// Heard once: the advert fades after demo.AirTTL.
			assert.NoError(t, demo.Air{Dir: dir}.Send([]*demo.Station{till}, demo.WallClock()))
		case strings.Contains(line, "taps"):
			// The phone confirms the till once this returns: after -wait,
			// and after the queue forgot the till.
			ctx.Pass()
			advancePhoneClock(demo.AirTTL + queue.DefaultTTL + time.Second)
		}
	}}
	err := demo.RunShopper(ctx, []string{"-data", dir, "-seed", "6", "-wait", "1h"}, out)
	require.ErrorIs(t, err, context.DeadlineExceeded, out.String())
	require.ErrorIs(t, err, queue.ErrUnknownPeer, out.String())
	assert.NotContains(t, out.String(), "scanning again", "the phone does not scan after -wait")
	assert.Equal(t, 1, strings.Count(out.String(), "Scanning for"), out.String())
}

// TestCloudInterruptedDuringLongCall: the cloud is interrupted (Ctrl-C)
// while a call has gone on for longer than the cloud waits for the calls
// under way (its body never ends): the cloud cuts the call once that
// wait is over, says so, and ends as an interrupted cloud does (exit
// status 0), instead of failing with a bare context deadline exceeded.
func TestCloudInterruptedDuringLongCall(t *testing.T) {
	dir := t.TempDir()
	made := make(chan time.Duration, 1) // the cloud's wait for the calls under way
	waits := &outwait.Waits{Made: func(_ int, wait time.Duration) { made <- wait }}
	waits.Use(t, &demo.WithShutdownWait)
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	out := &outwait.Output{}
	done := goCloud(ctx, []string{"-data", dir, "-listen", "127.0.0.1:0"}, out)
	out.Require(t, servingRE)
	b, err := os.ReadFile(filepath.Join(dir, demo.URLFile))
	require.NoError(t, err, "the cloud writes its URL: %s", out)
	base := strings.TrimSpace(string(b))
	require.NotEmpty(t, base, "the cloud writes its URL: %s", out)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprint(conn, "POST /v1/login HTTP/1.1\r\nHost: cloud\r\nContent-Type: application/cbor\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
	require.NoError(t, err)
	// The cloud reads the body, which never comes: the call is under way.
	status, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 100 Continue\r\n", status)
	interrupt()
	select {
	case wait := <-made:
		require.Equal(t, 5*time.Second, wait, "the cloud's wait for the calls under way")
	case err := <-done:
		t.Fatalf("the cloud ended without making its wait for the calls under way: %v\n%s", err, out)
	}
	waits.Pass(0) // the wait is over, the call still under way
	require.NoError(t, <-done, out.String())
	assert.Contains(t, out.String(), "[cloud]   Stopped: the calls still under way 5s after the interrupt were cut\n")
}

// TestCloudDataNotFolder: a -data naming a file is a usage error (exit
// status 2) that says so, reported before the platform opens, rather than
// the error of making the folder.
func TestCloudDataNotFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	out := &outwait.Output{}
	err := demo.RunCloud(context.Background(), []string{"-data", file, "-listen", "127.0.0.1:0"}, out)
	require.ErrorIs(t, err, demo.ErrUsage)
	assert.EqualError(t, err, "demo: invalid usage: -data "+file+" is not a folder")
	assert.Empty(t, out.String(), "refused before the platform opens")
}

// TestCloudDataServed: a second cloud started on a data folder that a
// running cloud serves fails with ErrCloudRunning, naming the folder,
// before it writes its URL over the first's; once the first has stopped,
// a cloud starts on the folder again.
func TestCloudDataServed(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, stop := context.WithCancel(context.Background())
	out := &outwait.Output{}
	first := goCloud(ctx, []string{"-data", dir, "-listen", "127.0.0.1:0"}, out)
	out.Require(t, servingRE)
	url, err := os.ReadFile(filepath.Join(dir, demo.URLFile))
	require.NoError(t, err, "the cloud writes its URL: %s", out)

	second := &outwait.Output{}
	err = demo.RunCloud(context.Background(), []string{"-data", dir, "-listen", "127.0.0.1:0"}, second)
	require.ErrorIs(t, err, demo.ErrCloudRunning)
	assert.EqualError(t, err, "demo: another cloud serves this data folder: "+dir)
	assert.Empty(t, second.String(), "the second cloud set nothing up")
	again, err := os.ReadFile(filepath.Join(dir, demo.URLFile))
	require.NoError(t, err)
	assert.Equal(t, string(url), string(again), "the first cloud's URL stays")

	stop()
	require.NoError(t, <-first)
	startCloud(t, "-data", dir)
}
