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
	"slices"
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

// envExpiry makes the platform process's clock run, ExpireDue expiring
// its requests and holds meanwhile (see TestCrashChild).
const envExpiry = "CASIMPAY_CRASHTEST_EXPIRY"

// The lifetimes of the requests and holds of a platform process with
// CASIMPAY_CRASHTEST_EXPIRY set, the step by which its clock moves before
// each ExpireDue, and how far in all it moves: half the session's
// lifetime, within which the phones' sessions and tokens stay valid.
const (
	expiryRequestTTL = 10 * time.Second
	expiryHoldTTL    = 2 * time.Second
	expiryStep       = 200 * time.Millisecond
	expiryRun        = payflow.DefaultSessionTTL / 2
)

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
//
// With CASIMPAY_CRASHTEST_EXPIRY set (and captures by hand), its requests
// and holds live expiryRequestTTL and expiryHoldTTL, and its clock runs:
// one goroutine moves it by expiryStep, up to expiryRun in all, and runs
// ExpireDue after each step, printing "clock <Unix nanoseconds>" with
// each new time before the clock reaches it. The phones then leave some
// requests pending and some payments held, for them to expire, and
// capture others as their hold's expiry comes, racing ExpireDue: a
// capture refused with ErrExpired prints "expired <request ID>", and a
// request or hold that expired before the phone's approval, cancellation
// or capture is no failure.
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
	expiry := os.Getenv(envExpiry) != ""
	var opts paytest.Options
	if expiry {
		opts.Platform = payflow.PlatformOptions{RequestTTL: expiryRequestTTL, HoldTTL: expiryHoldTTL}
	}
	f := paytest.NewFixture(t, ps, ls, opts)
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
	if expiry {
		go runClock(f)
	}
	// expired reports, with the clock running, whether err is the refusal
	// of a request or hold that expired first.
	expired := func(err error) bool { return expiry && errors.Is(err, payflow.ErrExpired) }
	var wg sync.WaitGroup
	for _, ph := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var b [3]byte
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
				if expired(err) || expiry && err == nil && pv.State == payflow.StateExpired {
					continue // expired before its payer read it: no consent nonce
				}
				if expiry && b[2]&7 == 0 {
					continue // one request in eight left pending, to expire
				}
				if err != nil {
					die("payment: %v", err)
				}
				consent, err := ph.card.Sign(paytest.Consent(pv))
				if err != nil {
					die("consent: %v", err)
				}
				done, err := p.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
				if expired(err) || err == nil && done.State == payflow.StateHeld && expiry && b[2]&7 <= 2 {
					continue // one payment in four left held, to expire
				}
				if err == nil && done.State == payflow.StateHeld && b[0]&3 == 0 {
					// One held payment in four is cancelled, its hold voided.
					if done, err = p.Cancel(ctx, ph.till.Token, v.ID); expired(err) {
						continue
					} else if err != nil || done.State != payflow.StateCancelled {
						die("cancel: %v", err)
					}
					continue
				}
				if err == nil && done.State == payflow.StateHeld {
					if expiry && b[2]&7 <= 4 {
						// One payment in four is captured as its hold
						// expires: up to two steps of the clock before
						// its expiry, or at it.
						untilClock(f.Clock, done.HoldExpiresAt.Add(-time.Duration((b[2]>>3)%3)*expiryStep))
					}
					done, err = p.Capture(ctx, ph.till.Token, &payflow.CaptureRequest{RequestID: v.ID})
					if expired(err) {
						fmt.Printf("expired %s\n", v.ID)
						continue
					}
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

// runClock moves the clock of f by expiryStep, up to expiryRun in all,
// and has its platform expire what is due after each step, forever. It
// prints each new time before the clock reaches it, so that the parent
// knows a time no earlier than any that the process stamped.
func runClock(f *paytest.Fixture) {
	ctx := context.Background()
	for ran := time.Duration(0); ; ran += expiryStep {
		if ran < expiryRun {
			fmt.Printf("clock %d\n", f.Clock.Now().Add(expiryStep).UnixNano())
			f.Clock.Advance(expiryStep)
		}
		if _, err := f.Platform.ExpireDue(ctx, 0); err != nil {
			die("expire: %v", err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// untilClock waits until c reaches t, for a second of the wall clock at
// most (the clock stops once it ran expiryRun).
func untilClock(c *paytest.Clock, t time.Time) {
	for end := time.Now().Add(time.Second); c.Now().Before(t) && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
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

// child is what a platform process told before TestCrashRecovery killed
// it: the purchases it acknowledged, the requests whose capture it saw
// refused for their expiry, and the latest time of its clock.
type child struct {
	acked   []acked
	expired []payflow.ID
	clock   time.Time
}

// runChild starts the platform process (capturing at approval if auto,
// its clock ahead by skew, running with expiry set), kills it with
// SIGKILL after it acknowledged at least one purchase or expiry and a
// random while more, and returns what it told.
func runChild(t *testing.T, path string, wait time.Duration, auto bool, skew time.Duration, expiry bool) child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), envDB+"="+path, envAhead+"="+skew.String())
	if auto {
		cmd.Env = append(cmd.Env, envAuto+"=1")
	}
	if expiry {
		cmd.Env = append(cmd.Env, envExpiry+"=1")
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
	var got child
	var timer <-chan time.Time
	deadline := time.After(2 * time.Minute)
	killed := false
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				err := cmd.Wait()
				require.True(t, killed, "the platform process ended by itself: %v", err)
				require.False(t, got.clock.IsZero(), "the platform process told no clock")
				return got
			}
			fields := strings.Fields(line)
			switch {
			case len(fields) == 2 && fields[0] == "clock":
				ns, err := strconv.ParseInt(fields[1], 10, 64)
				require.NoError(t, err)
				if c := time.Unix(0, ns); c.After(got.clock) {
					got.clock = c
				}
			case len(fields) == 3 && fields[0] == "ok":
				id, err := payflow.ParseID(fields[1])
				require.NoError(t, err)
				amount, err := strconv.ParseUint(fields[2], 10, 64)
				require.NoError(t, err)
				got.acked = append(got.acked, acked{id, amount})
				if timer == nil {
					timer = time.After(wait)
				}
			case len(fields) == 2 && fields[0] == "expired":
				id, err := payflow.ParseID(fields[1])
				require.NoError(t, err)
				got.expired = append(got.expired, id)
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
// killed process's, and runs the recovery sweep and then ExpireDue, then
// checks that every purchase a phone saw succeed is captured with its
// receipt, that every capture a phone saw refused for the hold's expiry
// is expired, that no settlement is left half done and no expiry due
// left unsettled, that the ledger verifies, that every request's hold is
// pending while it is held, posted by the capture's post for the amount
// captured once it is captured, released (voided, or expired by the
// ledger) and never posted once it is cancelled or expired, and absent
// when it was never approved, that the merchant holds exactly what the
// captured payments moved, that every wallet holds exactly its funding
// less what its captured payments moved and its refunds returned, with
// exactly its held payments on hold, and that every unit of money paid
// in is in a wallet or with the merchant. Every fourth process runs its
// clock (CASIMPAY_CRASHTEST_EXPIRY), so that kills land in the expiry of
// requests and holds, and in captures that race it.
func TestCrashRecovery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "casimpay.db")
	ctx := context.Background()
	var all []acked
	var expired []payflow.ID
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
		// and the state update. Half the others run their clock, their
		// requests and holds expiring.
		got := runChild(t, path, time.Duration(20+n.Int64())*time.Millisecond, kill%2 == 1, skew, kill%4 == 2)
		all = append(all, got.acked...)
		expired = append(expired, got.expired...)

		ls, err := ledgersqlite.Open(ctx, path, ledgersqlite.Options{})
		require.NoError(t, err)
		ps, err := paysqlite.Open(ctx, path, paysqlite.Options{})
		require.NoError(t, err)
		f := paytest.NewFixture(t, ps, ls, paytest.Options{Platform: payflow.PlatformOptions{RecoverAfter: time.Nanosecond}})
		// The recovery's clock goes at least a second past the killed
		// process's, which stamped what it left half done: the sweep
		// takes only what has waited RecoverAfter by its own clock, and a
		// settlement stamped later is under way for all it knows.
		f.Clock.Advance(time.Second + max(0, got.clock.Sub(f.Clock.Now())))
		// The expiries whose void the kill cut short.
		voiding, err := ps.DuePayments(ctx, "voiding", far, 1<<30)
		require.NoError(t, err)
		cut := 0
		for _, r := range voiding {
			if r.VoidTo == payflow.StateExpired {
				cut++
			}
		}
		recovered, err := f.Platform.RecoverSweep(ctx, 0)
		require.NoError(t, err, "recovery sweep after kill %d", kill)
		_, err = f.Platform.ExpireDue(ctx, 1<<30)
		require.NoError(t, err, "expiry after kill %d", kill)
		checkDatabase(t, f, all)
		checkPayments(t, f, ls, expired)
		t.Logf("kill %d: %d purchases acknowledged (%d in all), %d captures refused expired (%d in all), %d settlements recovered (%d expiries)",
			kill+1, len(got.acked), len(all), len(got.expired), len(expired), recovered, cut)
		require.NoError(t, f.Ledger.Close())
		require.NoError(t, ps.Close())
		require.NoError(t, ls.Close())
	}
	t.Logf("survived %d kills with %d acknowledged purchases", *kills, len(all))
}

// Kinds of the ledger transfers of a payment's leg (see payflow.TransferID).
const (
	kindHold = 1
	kindPost = 2
	kindVoid = 3
)

// checkPayments checks every payment request of the recovered database,
// and its money leg's transfers in the ledger (ls), at the recovery's
// clock, after RecoverSweep and ExpireDue: see TestCrashRecovery. expired
// are the requests whose capture a phone saw refused for the hold's
// expiry.
func checkPayments(t *testing.T, f *paytest.Fixture, ls ledger.Store, expired []payflow.ID) {
	t.Helper()
	ctx := context.Background()
	now := f.Clock.Now()
	var all []*payflow.PaymentRecord
	byID := make(map[payflow.ID]*payflow.PaymentRecord)
	for _, state := range []string{payflow.StatePending, payflow.StateHeld, payflow.StateCaptured, payflow.StateDeclined, payflow.StateCancelled, payflow.StateExpired} {
		rs, err := f.Store.DuePayments(ctx, state, far, 1<<30)
		require.NoError(t, err)
		for _, r := range rs {
			all = append(all, r)
			byID[r.ID] = r
		}
	}
	for _, id := range expired {
		if assert.Contains(t, byID, id, "capture refused expired") {
			assert.Equal(t, payflow.StateExpired, byID[id].State, "capture of %v refused expired", id)
		}
	}
	// The ledger's pending states of the holds, and the posts and voids.
	holds := make(map[ledger.ID]ledger.PendingStatus)
	made := make(map[ledger.ID]ledger.Transfer)
	for chunk := range slices.Chunk(all, 1000) {
		var hs, ids []ledger.ID
		for _, r := range chunk {
			hs = append(hs, payflow.TransferID(r.ID, r.Attempt, 0, kindHold))
			ids = append(ids, payflow.TransferID(r.ID, r.Attempt, 0, kindPost), payflow.TransferID(r.ID, r.Attempt, 0, kindVoid))
		}
		require.NoError(t, ls.View(ctx, func(tx ledger.ReadTx) error {
			ps, err := tx.Pending(hs)
			for _, p := range ps {
				holds[p.ID] = p.Status
			}
			return err
		}))
		ts, err := f.Ledger.LookupTransfers(ctx, ids)
		require.NoError(t, err)
		for _, tr := range ts {
			made[tr.ID] = tr
		}
	}
	spent := make(map[string]uint64) // by payer: captured less refunded
	held := make(map[string]uint64)  // by payer
	for _, r := range all {
		hold, ok := holds[payflow.TransferID(r.ID, r.Attempt, 0, kindHold)]
		if !ok {
			hold = ledger.PendingNone
		}
		post, posted := made[payflow.TransferID(r.ID, r.Attempt, 0, kindPost)]
		_, voided := made[payflow.TransferID(r.ID, r.Attempt, 0, kindVoid)]
		switch r.State {
		case payflow.StatePending:
			assert.True(t, now.Before(r.ExpiresAt), "request %v pending past its expiry", r.ID)
		case payflow.StateHeld:
			assert.True(t, now.Before(r.HoldExpiresAt), "request %v held past its hold's expiry", r.ID)
			held[r.PayerCardID] += r.Amount
		case payflow.StateCaptured:
			spent[r.PayerCardID] += r.Captured - r.Refunded
		}
		switch {
		case r.State == payflow.StateCaptured:
			assert.Equal(t, ledger.PendingPosted, hold, "hold of captured request %v", r.ID)
			if assert.True(t, posted, "captured request %v has no post", r.ID) {
				assert.Equal(t, r.Captured, post.Amount, "post of captured request %v", r.ID)
			}
			assert.False(t, voided, "captured request %v voided", r.ID)
		case r.Consent == nil:
			// Never approved (pending, declined, or cancelled or expired
			// while pending): no hold.
			assert.Equal(t, ledger.PendingNone, hold, "hold of %s request %v never approved", r.State, r.ID)
			assert.False(t, posted || voided, "%s request %v never approved has a post or void", r.State, r.ID)
		case r.State == payflow.StateHeld:
			assert.Equal(t, ledger.PendingActive, hold, "hold of held request %v", r.ID)
			assert.False(t, posted || voided, "held request %v has a post or void", r.ID)
		default: // cancelled or expired once held: released, once
			assert.Contains(t, []string{payflow.StateCancelled, payflow.StateExpired}, r.State, "request %v", r.ID)
			assert.False(t, posted, "%s request %v posted", r.State, r.ID)
			if voided {
				assert.Equal(t, ledger.PendingVoided, hold, "hold of %s request %v, voided", r.State, r.ID)
			} else {
				assert.Equal(t, ledger.PendingExpired, hold, "hold of %s request %v, not voided", r.State, r.ID)
			}
		}
	}
	require.NoError(t, f.Store.Cards(ctx, func(c *payflow.CardRecord) error {
		b, err := f.Platform.Balance(ctx, c.ID, "EUR")
		if errors.Is(err, payflow.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		assert.Equal(t, funds-spent[c.ID], b.Posted, "wallet of %s: its funding less its captures and refunds", c.ID)
		assert.Equal(t, held[c.ID], b.Held, "wallet of %s: its held payments on hold", c.ID)
		return nil
	}))
}

// far is a time after every due time of the test.
var far = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) // within int64 nanoseconds

// checkDatabase checks the recovered database against what the phones saw.
func checkDatabase(t *testing.T, f *paytest.Fixture, all []acked) {
	t.Helper()
	ctx := context.Background()
	s := f.Store
	for _, state := range []string{payflow.StateApproving, "capturing", "voiding"} {
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
