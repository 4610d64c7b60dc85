package demo

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// clockedAPI is an API whose clock reads at.
type clockedAPI struct {
	payflow.API
	at time.Time
}

func (a clockedAPI) Now() time.Time { return a.at }

// TestNarratorForwardsTheClock: the Narrator gives the handler the clock
// of the API it wraps, by which the platform deletes expired replies.
func TestNarratorForwardsTheClock(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	var n payflow.API = &Narrator{API: clockedAPI{at: at}}
	c, ok := n.(payflow.Clocked)
	if assert.True(t, ok, "the Narrator is a payflow.Clocked") {
		assert.Equal(t, at, c.Now())
	}
}

// recordCheckedAPI is an API whose record check answers err, and
// records the request it was given.
type recordCheckedAPI struct {
	payflow.API
	err error
	got any
}

func (a *recordCheckedAPI) CheckRecord(ctx context.Context, req any) (context.Context, error) {
	a.got = req
	return ctx, a.err
}

// TestNarratorForwardsTheRecordCheck: the Narrator has the API it wraps
// check a card-signed record before the handler claims its
// Idempotency-Key, so that a forged record writes nothing to the reply
// store; in front of an API that cannot, it lets every record through.
func TestNarratorForwardsTheRecordCheck(t *testing.T) {
	ctx := context.Background()
	req := &payflow.CreateRequest{Request: []byte("junk")}
	api := &recordCheckedAPI{err: payflow.ErrSignature}
	var n payflow.API = &Narrator{API: api}
	rc, ok := n.(payflow.RecordChecker)
	require.True(t, ok, "the Narrator is a payflow.RecordChecker")
	_, err := rc.CheckRecord(ctx, req)
	assert.ErrorIs(t, err, payflow.ErrSignature)
	assert.Same(t, req, api.got)
	_, err = (&Narrator{API: clockedAPI{}}).CheckRecord(ctx, req)
	assert.NoError(t, err, "an API that checks no record")
}

// keptConsentAPI keeps the first consent that the phone sends, sending it
// nowhere, and answers it payflow.ErrUnavailable, as a cloud that did not
// answer it.
type keptConsentAPI struct {
	payflow.API
	mu   sync.Mutex
	kept *payflow.ApproveRequest
}

func (a *keptConsentAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.kept == nil {
		a.kept = req
		return nil, payflow.ErrUnavailable
	}
	return a.API.Approve(ctx, req)
}

// signedConsent returns Alice's phone and the till, paired, and Alice's
// consent to the till's payment request of the grocery basket, which the
// card signed and which never reached the platform.
func signedConsent(ctx context.Context, t *testing.T) (*pairedPhones, *payflow.ApproveRequest) {
	t.Helper()
	kept := &keptConsentAPI{}
	w := newPairedPhones(ctx, t, func(api payflow.API) payflow.API { kept.API = api; return kept }, nil)
	_, err := w.till.Charge(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = w.alice.Approve(ctx, v, PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.NotNil(t, kept.kept)
	return w, kept.kept
}

// paidLines is what the cloud's screen shows of Alice's payment of the
// grocery basket from a full wallet.
const paidLines = "[cloud]   Consent verified; EUR 11.27 held and captured from Alice to Corner Grocer; receipt signed\n" +
	"[cloud]   Balances now: Alice EUR 38.73, Corner Grocer EUR 11.27\n"

// TestNarratorPrintsPaymentOnce: a consent sent again once the platform
// settled it (its reply lost), which the platform answers with the
// payment as settled, prints nothing more on the cloud's screen, nor on
// the screen of a cloud process started since; the payment is charged
// once.
func TestNarratorPrintsPaymentOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, req := signedConsent(ctx, t)
	var out, again bytes.Buffer
	n := &Narrator{API: w.cloud.Platform, Cloud: w.cloud, Screen: NewPrinter(&out).Screen("cloud")}
	for range 2 {
		v, err := n.Approve(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateCaptured, v.State)
	}
	assert.Equal(t, paidLines, out.String())
	restarted := &Narrator{API: w.cloud.Platform, Cloud: w.cloud, Screen: NewPrinter(&again).Screen("cloud")}
	_, err := restarted.Approve(ctx, req)
	require.NoError(t, err)
	assert.Empty(t, again.String(), "a cloud started again prints the payment no more")
	b, err := w.cloud.Platform.Balance(ctx, w.cards["alice"].ICCID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 5000 - 1127}, b, "charged once")
}

// gateAPI holds the first Approve until a second one has reached it, and
// that second one until released: the second call reads the request
// before the first settled it.
type gateAPI struct {
	payflow.API
	calls                   atomic.Int64
	first, second, released chan struct{}
}

func (a *gateAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	if a.calls.Add(1) == 1 {
		close(a.first)
		<-a.second
	} else {
		close(a.second)
		<-a.released
	}
	return a.API.Approve(ctx, req)
}

// TestNarratorPrintsConcurrentConsentOnce: the same consent sent twice at
// once, the second call reaching the platform after the first settled it
// but having set out before, prints the payment once.
func TestNarratorPrintsConcurrentConsentOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, req := signedConsent(ctx, t)
	gate := &gateAPI{API: w.cloud.Platform, first: make(chan struct{}), second: make(chan struct{}), released: make(chan struct{})}
	var out bytes.Buffer
	n := &Narrator{API: gate, Cloud: w.cloud, Screen: NewPrinter(&out).Screen("cloud")}
	firstErr := make(chan error, 1)
	go func() {
		_, err := n.Approve(ctx, req)
		firstErr <- err
	}()
	<-gate.first
	secondErr := make(chan error, 1)
	go func() {
		_, err := n.Approve(ctx, req)
		secondErr <- err
	}()
	require.NoError(t, <-firstErr)
	close(gate.released)
	require.NoError(t, <-secondErr)
	assert.Equal(t, paidLines, out.String())
}

// TestNarratorSaysWhoPaired: the cloud's screen says, of a session that a
// pairing proof finds paired, whose confirmation that proof was and that
// the other side's was in the session before: a shopper's phone that
// confirms a session (a second run within its 10 minutes, its EIDs the
// same) that the till confirmed earlier is shown paired by the till's
// earlier confirmation, not as if the till had just confirmed. A
// confirmation of a session that the screen showed paired before (the
// till's of the second run, in the session that the shopper's paired) is
// shown as that, not as a second pairing with the roles the other way
// round. The phones' clock stands still, so that their EIDs stay the same.
func TestNarratorSaysWhoPaired(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopWallClock(t)
	var out bytes.Buffer
	n := &Narrator{Screen: NewPrinter(&out).Screen("cloud")}
	w := newPairedPhones(ctx, t, func(api payflow.API) payflow.API { n.API = api; return n }, func(payflow.API) payflow.API { return n })
	n.Cloud = w.cloud
	sellers, err := w.alice.ServiceQueue(ctx)
	require.NoError(t, err)
	require.Len(t, sellers, 1)
	c, err := w.alice.Confirm(ctx, sellers[0])
	require.NoError(t, err)
	assert.Equal(t, "[cloud]   Session "+Short(c.SessionID)+": one side confirmed, waiting for the other\n"+
		"[cloud]   Session "+Short(c.SessionID)+" paired: Alice and Corner Grocer, pairing code "+c.PairingCode+" (Corner Grocer confirmed it now, Alice before)\n"+
		"[cloud]   Session "+Short(c.SessionID)+": Alice confirmed it again, paired before\n",
		strings.Join(slices.DeleteFunc(strings.SplitAfter(out.String(), "\n"), func(l string) bool { return strings.Contains(l, "token issued") }), ""),
		"the lines of the pairings")

	// A cloud's screen that did not show the session paired (the grocery
	// program run again within its 10 minutes) shows the shopper's
	// confirmation pairing it, the till's before, and then the till's
	// confirmation of the second run as made again.
	out.Reset()
	api, cloud := n.API, n.Cloud
	*n = Narrator{API: api, Cloud: cloud, Screen: NewPrinter(&out).Screen("cloud")}
	c, err = w.alice.Confirm(ctx, sellers[0])
	require.NoError(t, err)
	shoppers, err := w.till.ServiceQueue(ctx)
	require.NoError(t, err)
	require.Len(t, shoppers, 1)
	_, err = w.till.Confirm(ctx, shoppers[0])
	require.NoError(t, err)
	assert.Equal(t, "[cloud]   Session "+Short(c.SessionID)+" paired: Alice and Corner Grocer, pairing code "+c.PairingCode+" (Alice confirmed it now, Corner Grocer before)\n"+
		"[cloud]   Session "+Short(c.SessionID)+": Corner Grocer confirmed it again, paired before\n",
		out.String(), "the lines of the second run's pairing")
}

// leaveApproving leaves the request of the consent req as a call cut
// after the platform recorded the consent leaves it: approving, the
// consent kept, the hold not yet asked for, last updated a minute ago
// (due for the recovery sweep). It returns the request's ID.
func leaveApproving(ctx context.Context, t *testing.T, w *pairedPhones, req *payflow.ApproveRequest) payflow.ID {
	t.Helper()
	id, ok := consentRequest(req)
	require.True(t, ok)
	r, err := w.cloud.Store.Payment(ctx, id)
	require.NoError(t, err)
	h := record.Hash(req.Consent)
	r.State, r.Consent, r.ConsentHash, r.UpdatedAt = payflow.StateApproving, req.Consent, h[:], time.Now().Add(-time.Minute)
	require.NoError(t, w.cloud.Store.UpdatePayment(ctx, r, payflow.StatePending))
	return id
}

// TestSweepSaysWhatItSettled: a consent whose call was cut after the
// platform recorded it, its settlement left under way, is settled by the
// cloud's sweep, which says so on the cloud's screen; the consent sent
// again then finds it settled, and the Narrator prints nothing more. A
// sweep that finds nothing to settle prints nothing.
func TestSweepSaysWhatItSettled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, req := signedConsent(ctx, t)
	id := leaveApproving(ctx, t, w, req)

	var out bytes.Buffer
	screen := NewPrinter(&out).Screen("cloud")
	require.NoError(t, sweepDue(ctx, w.cloud, screen))
	assert.Equal(t, "[cloud]   Recovery sweep: 1 settlement(s) that cut calls left under way completed\n", out.String())
	r, err := w.cloud.Store.Payment(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, r.State)

	out.Reset()
	require.NoError(t, sweepDue(ctx, w.cloud, screen))
	n := &Narrator{API: w.cloud.Platform, Cloud: w.cloud, Screen: screen}
	v, err := n.Approve(ctx, req)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Empty(t, out.String(), "nothing more: no second sweep line, no payment line")
	b, err := w.cloud.Platform.Balance(ctx, w.cards["alice"].ICCID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 5000 - 1127}, b, "charged once")
}
