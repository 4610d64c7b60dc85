package crashtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/ledger"
	ledgersqlite "github.com/casimpay/casimpay/ledger/sqlite"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	paysqlite "github.com/casimpay/casimpay/payflow/sqlite"
	"github.com/casimpay/casimpay/pki/record"
)

var kills = flag.Int("crash.kills", 15, "how many times TestCrashRecovery kills the platform process")

// envAuto tells the platform process to capture at approval.
const envAuto = "CASIMPAY_CRASHTEST_AUTO"

// envDB, when set, makes TestCrashChild the platform process of
// TestCrashRecovery, on the SQLite database it names.
const envDB = "CASIMPAY_CRASHTEST_DB"

// envAhead, a duration, sets the platform process's clock that much ahead
// of its fixture's start.
const envAhead = "CASIMPAY_CRASHTEST_AHEAD"

// ahead is how far TestCrashRecovery sets the clock of every third
// platform process ahead of its fixture's start: as far as a fixture
// started in the last 30 s of an EID epoch has its clock ahead of the
// wall clock, and so of a fixture started after the epoch ends (see
// paytest.NewFixture). The settlements that the process leaves half done
// are stamped by that clock.
const ahead = 29 * time.Second

const (
	merchantID = "crash-shop"
	workers    = 4
	funds      = 1_000_000_000
)

// TestCrashChild is the platform process of TestCrashRecovery: a platform
// on SQLite with phones in the same process, buying as fast as they can
// from a merchant that captures by hand (approve, then capture) or, with
// CASIMPAY_CRASHTEST_AUTO set, at approval. Its clock, which does not
// move, is CASIMPAY_CRASHTEST_AHEAD ahead of the fixture's start. It
// prints "clock <Unix nanoseconds>" with its clock first, then
// "ok <request ID> <amount>" once the till has the reply of a captured
// purchase, and never returns.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(envDB)
	if path == "" {
		t.Skip("the platform process of TestCrashRecovery")
	}
	ctx := context.Background()
	ls, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{})
	if err != nil {
		die("open ledger: %v", err)
	}
	ps, err := paysqlite.Open(ctx, path, paysqlite.Options{})
	if err != nil {
		die("open state: %v", err)
	}
	f := paytest.NewFixture(t, ps, ls, paytest.Options{})
	if a := os.Getenv(envAhead); a != "" {
		d, err := time.ParseDuration(a)
		if err != nil {
			die("%s: %v", envAhead, err)
		}
		f.Clock.Advance(d)
	}
	fmt.Printf("clock %d\n", f.Clock.Now().UnixNano())
	p := f.Platform
	// Each phone pairs with a till of its own: a card signs one record at a
	// time and the platform wants its counter to rise.
	type phone struct {
		card, till *paytest.Card
		sess       *payflow.SessionView
	}
	var phones []phone
	var tills []string
	for i := range workers {
		phones = append(phones, phone{card: f.NewCard(fmt.Sprintf("Shopper %d", i)), till: f.NewCard(fmt.Sprintf("Till %d", i))})
		tills = append(tills, phones[i].till.ID)
	}
	if err := p.EnrollMerchant(ctx, payflow.Merchant{ID: merchantID, Name: "Crash Shop", Currency: "EUR", SellerCardIDs: tills, ManualCapture: os.Getenv(envAuto) == ""}); err != nil {
		die("merchant: %v", err)
	}
	for i := range phones {
		c := phones[i].card
		if err := p.OpenAccount(ctx, c.ID, "EUR"); err != nil {
			die("open account: %v", err)
		}
		var fid payflow.ID
		rand.Read(fid[:])
		if err := p.Fund(ctx, fid, c.ID, "EUR", funds); err != nil {
			die("fund: %v", err)
		}
		c.Login(record.RoleShopper)
		phones[i].till.Login(record.RoleSeller)
		phones[i].sess = f.Pair(c, phones[i].till)
	}
	var wg sync.WaitGroup
	for _, ph := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var b [2]byte
				rand.Read(b[:])
				amount := 1 + uint64(binary.BigEndian.Uint16(b[:]))
				r := paytest.Request(ph.sess, "EUR", amount)
				msg, err := ph.till.Sign(r)
				if err != nil {
					die("sign request: %v", err)
				}
				v, err := p.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
				if err != nil {
					die("create: %v", err)
				}
				pv, err := p.Payment(ctx, ph.card.Token, v.ID)
				if err != nil {
					die("payment: %v", err)
				}
				consent, err := ph.card.Sign(paytest.Consent(pv))
				if err != nil {
					die("consent: %v", err)
				}
				done, err := p.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				if err == nil && done.State == payflow.StateHeld && b[0]&3 == 0 {
					// One held payment in four is cancelled, its hold voided.
					if done, err = p.Cancel(ctx, ph.till.Token, v.ID); err != nil || done.State != payflow.StateCancelled {
						die("cancel: %v", err)
					}
					continue
				}
				if err == nil && done.State == payflow.StateHeld {
					done, err = p.Capture(ctx, ph.till.Token, &payflow.CaptureRequest{RequestID: v.ID})
				}
				if err != nil || done.State != payflow.StateCaptured {
					die("approve and capture: %v", err)
				}
				fmt.Printf("ok %s %d\n", v.ID, amount)
				if b[1]&3 == 0 {
					// One capture in four is partly refunded.
					var rid payflow.ID
					rand.Read(rid[:])
					refund, err := ph.till.Sign(&record.RefundRequest{RefundID: rid[:], RequestID: v.ID[:], Amount: amount/2 + 1, Currency: "EUR"})
					if err != nil {
						die("sign refund: %v", err)
					}
					if _, err := p.Refund(ctx, &payflow.RefundRequest{Refund: refund}); err != nil {
						die("refund: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// die ends a platform process (TestCrashChild, TestPlatformProcess) with
// a "fail" line, which the parent test reports.
func die(format string, args ...any) {
	fmt.Printf("fail "+format+"\n", args...)
	os.Exit(3)
}

// acked is a purchase whose success reply a phone saw.
type acked struct {
	id     payflow.ID
	amount uint64
}

// runChild starts the platform process (capturing at approval if auto,
// its clock ahead by skew), kills it with SIGKILL after it acknowledged at
// least one purchase and a random while more, and returns the purchases it
// acknowledged and its clock.
func runChild(t *testing.T, path string, wait time.Duration, auto bool, skew time.Duration) ([]acked, time.Time) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), envDB+"="+path, envAhead+"="+skew.String())
	if auto {
		cmd.Env = append(cmd.Env, envAuto+"=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := make(chan string)
	go func() {
		defer close(lines)
		rd := bufio.NewReader(out)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return // a line cut by the kill is not an acknowledgement
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	var got []acked
	var clock time.Time
	var timer <-chan time.Time
	deadline := time.After(2 * time.Minute)
	killed := false
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				err := cmd.Wait()
				require.True(t, killed, "the platform process ended by itself: %v", err)
				require.False(t, clock.IsZero(), "the platform process told no clock")
				return got, clock
			}
			fields := strings.Fields(line)
			switch {
			case len(fields) == 2 && fields[0] == "clock":
				ns, err := strconv.ParseInt(fields[1], 10, 64)
				require.NoError(t, err)
				clock = time.Unix(0, ns)
			case len(fields) == 3 && fields[0] == "ok":
				id, err := payflow.ParseID(fields[1])
				require.NoError(t, err)
				amount, err := strconv.ParseUint(fields[2], 10, 64)
				require.NoError(t, err)
				got = append(got, acked{id, amount})
				if timer == nil {
					timer = time.After(wait)
				}
			case len(fields) > 0 && fields[0] == "fail":
				cmd.Process.Kill()
				t.Fatalf("platform process: %s", line)
			}
		case <-timer:
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			killed, timer = true, nil
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("the platform process acknowledged nothing for 2 minutes")
		}
	}
}

// TestCrashRecovery kills a platform process on SQLite with SIGKILL at
// random points under load, many times. After each kill it restarts the
// platform on the same database, its clock at least a second past the
// killed process's, and runs the recovery sweep, then checks that every
// purchase a phone saw succeed is captured with its receipt, that no
// settlement is left half done, that the ledger verifies, that the
// merchant holds exactly what the captured payments moved, and that every
// unit of money paid in is in a wallet or with the merchant.
func TestCrashRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casimpay.db")
	ctx := context.Background()
	var all []acked
	for kill := range *kills {
		n, err := rand.Int(rand.Reader, big.NewInt(400))
		require.NoError(t, err)
		// Every third process has its clock ahead, as a fixture started
		// at the end of an EID epoch has.
		var skew time.Duration
		if kill%3 == 2 {
			skew = ahead
		}
		// Every other process captures at approval: one linked ledger
		// chain holds and posts, and a kill may land between its commit
		// and the state update.
		got, childClock := runChild(t, path, time.Duration(20+n.Int64())*time.Millisecond, kill%2 == 1, skew)
		all = append(all, got...)

		ls, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{})
		require.NoError(t, err)
		ps, err := paysqlite.Open(ctx, path, paysqlite.Options{})
		require.NoError(t, err)
		f := paytest.NewFixture(t, ps, ls, paytest.Options{Platform: payflow.PlatformOptions{RecoverAfter: time.Nanosecond}})
		// The recovery's clock goes at least a second past the killed
		// process's, which stamped what it left half done: the sweep
		// takes only what has waited RecoverAfter by its own clock, and a
		// settlement stamped later is under way for all it knows.
		f.Clock.Advance(time.Second + max(0, childClock.Sub(f.Clock.Now())))
		recovered, err := f.Platform.RecoverSweep(ctx, 0)
		require.NoError(t, err, "recovery sweep after kill %d", kill)
		checkDatabase(t, f, all)
		t.Logf("kill %d: %d purchases acknowledged (%d in all), %d settlements recovered", kill+1, len(got), len(all), recovered)
		require.NoError(t, f.Ledger.Close())
		require.NoError(t, ps.Close())
		require.NoError(t, ls.Close())
	}
	t.Logf("survived %d kills with %d acknowledged purchases", *kills, len(all))
}

// far is a time after every due time of the test.
var far = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) // within int64 nanoseconds

// checkDatabase checks the recovered database against what the phones saw.
func checkDatabase(t *testing.T, f *paytest.Fixture, all []acked) {
	t.Helper()
	ctx := context.Background()
	s := f.Store
	for _, state := range []string{"approving", "capturing", "voiding"} {
		left, err := s.DuePayments(ctx, state, far, 10)
		require.NoError(t, err)
		assert.Empty(t, left, "settlements left %s after the recovery sweep", state)
	}
	for _, a := range all {
		r, err := s.Payment(ctx, a.id)
		require.NoError(t, err, "acknowledged purchase %v", a.id)
		assert.Equal(t, payflow.StateCaptured, r.State, "acknowledged purchase %v", a.id)
		assert.Equal(t, a.amount, r.Captured, "acknowledged purchase %v", a.id)
		assert.NotEmpty(t, r.Receipt, "acknowledged purchase %v", a.id)
	}
	refunds, err := s.DueRefunds(ctx, far, 10)
	require.NoError(t, err)
	assert.Empty(t, refunds, "refunds left pending after the recovery sweep")
	captured, err := s.DuePayments(ctx, payflow.StateCaptured, far, 1<<30)
	require.NoError(t, err)
	var sum uint64
	for _, r := range captured {
		// Every refund made is reserved (Refunded), and no other: the
		// refunds are all done, none failed.
		sum += r.Captured - r.Refunded
		assert.NotEmpty(t, r.Consent, "captured %v without a consent", r.ID)
	}
	require.NoError(t, f.Ledger.Verify(ctx))
	m, err := f.Platform.Balance(ctx, merchantID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, sum, m.Posted, "the merchant holds what the captured payments moved")
	assert.Zero(t, m.Held)
	held, err := s.DuePayments(ctx, payflow.StateHeld, far, 1<<30)
	require.NoError(t, err)
	var heldSum uint64
	for _, r := range held {
		heldSum += r.Amount
	}
	assert.Equal(t, heldSum, m.Incoming, "the merchant expects what is held")
	var wallets, onHold uint64
	require.NoError(t, s.Cards(ctx, func(c *payflow.CardRecord) error {
		b, err := f.Platform.Balance(ctx, c.ID, "EUR")
		if errors.Is(err, payflow.ErrNotFound) {
			return nil
		}
		wallets += b.Posted
		onHold += b.Held
		return err
	}))
	assert.Equal(t, heldSum, onHold, "wallets hold what held payments hold")
	acc, err := f.Ledger.LookupAccounts(ctx, []ledger.ID{payflow.AccountID(payflow.AccountFunding, 978, "")})
	require.NoError(t, err)
	require.Len(t, acc, 1)
	assert.Equal(t, acc[0].DebitsPosted-acc[0].CreditsPosted, wallets+m.Posted, "money paid in is in wallets or with the merchant")
}
