package demo

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard"
)

// lostReplyAPI makes the first payment request and the first consent that
// the platform takes, and answers each with err instead of its reply, as
// a connection that drops after the call went out (payflow.ErrUnavailable)
// or a cloud that did not answer it in time (payflow.ErrInFlight).
type lostReplyAPI struct {
	payflow.API
	err  error
	mu   sync.Mutex
	lost map[string]bool // the calls whose reply was lost
}

// lose reports whether the reply to call, which the platform answered
// err, is lost.
func (a *lostReplyAPI) lose(call string, err error) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil || a.lost[call] {
		return false
	}
	if a.lost == nil {
		a.lost = map[string]bool{}
	}
	a.lost[call] = true
	return true
}

func (a *lostReplyAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	v, err := a.API.CreateRequest(ctx, req)
	if a.lose("request", err) {
		return nil, a.err
	}
	return v, err
}

func (a *lostReplyAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Approve(ctx, req)
	if a.lose("approve", err) {
		return nil, a.err
	}
	return v, err
}

// TestAwaitRequestCollectsLostReceipt: when the reply to Alice's consent
// was lost and the cloud settled it, her phone's next AwaitRequest shows
// that payment as a receipt to collect, collects it without the card
// signing again, and then shows the till's next request to approve.
func TestAwaitRequestCollectsLostReceipt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPairedPhones(ctx, t, func(api payflow.API) payflow.API { return &lostReplyAPI{API: api, err: payflow.ErrUnavailable} }, nil)
	c, cards, alice, till, out := w.cloud, w.cards, w.alice, w.till, &w.out

	first, err := till.Charge(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	firstScreen, err := alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = alice.Approve(ctx, firstScreen, PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	v, rc, err := till.AwaitSettled(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, v.State)
	second, err := till.Charge(ctx, "Alice", []Item{{"milk", 1}}, nil)
	require.NoError(t, err)

	out.Reset()
	screen, err := alice.AwaitRequest(ctx)
	require.NoError(t, err)
	assert.Equal(t, second.ID, screen.ID, "the request to approve is the till's next one")
	assert.Equal(t, payflow.StatePending, screen.State)
	shown := out.String()
	assert.Contains(t, shown, "[shopper] Receipt to collect: EUR 11.27 paid to Corner Grocer for request "+Short(first.ID))
	assert.Contains(t, shown, "[shopper] Receipt verified offline")
	assert.Contains(t, shown, "[shopper] Payment request from Corner Grocer:")
	left, _, err := cards["alice"].PINTries()
	require.NoError(t, err)
	assert.Equal(t, 3, left, "no PIN entered to collect the receipt")

	got, err := alice.Approve(ctx, screen, PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(119), got.Amount)
	b, err := c.Platform.Balance(ctx, cards["alice"].ICCID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 5000 - 1127 - 119}, b, "each payment charged once")
	assert.NotNil(t, rc)
}

// TestAgainSaysWhatHappened: the line that a phone shows as it sends its
// payment request or approval again says what the cloud answered: that
// it did not answer (payflow.ErrUnavailable), or that it still works on
// the call (payflow.ErrInFlight). The call sent again goes through.
func TestAgainSaysWhatHappened(t *testing.T) {
	for _, tt := range []struct {
		err             error
		request, answer string
	}{
		{payflow.ErrUnavailable,
			"[seller]  The cloud did not answer the payment request: sending it again\n",
			"[shopper] The cloud did not answer the approval: sending it again\n"},
		{payflow.ErrInFlight,
			"[seller]  The cloud is still working on the payment request: sending it again\n",
			"[shopper] The cloud is still working on the approval: sending it again\n"},
	} {
		t.Run(payflow.AsError(tt.err).Code, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			lost := func(api payflow.API) payflow.API { return &lostReplyAPI{API: api, err: tt.err} }
			w := newPairedPhones(ctx, t, lost, lost)
			sale, err := w.till.Price(ctx, "Alice", GroceryBasket, nil)
			require.NoError(t, err)
			_, err = w.till.Ask(ctx, sale)
			require.ErrorIs(t, err, tt.err)
			w.out.Reset()
			_, err = w.till.AskAgain(ctx, sale, err)
			require.NoError(t, err)
			assert.Equal(t, tt.request, strings.SplitAfter(w.out.String(), "\n")[0], "the first line")

			v, err := w.alice.AwaitRequest(ctx)
			require.NoError(t, err)
			_, err = w.alice.Approve(ctx, v, PIN)
			require.ErrorIs(t, err, tt.err)
			w.out.Reset()
			rc, err := w.alice.ApproveAgain(ctx, v, PIN, err)
			require.NoError(t, err)
			assert.Equal(t, v.Amount, rc.Amount)
			assert.Equal(t, tt.answer, strings.SplitAfter(w.out.String(), "\n")[0], "the first line")
		})
	}
}

// pairedPhones is Alice's phone and the till of the grocery market,
// paired, on a cloud in process, their cards in memory, both screens
// printing on out.
type pairedPhones struct {
	cloud       *Cloud
	cards       map[string]*Card
	alice, till *Phone
	out         bytes.Buffer
}

// newPairedPhones returns Alice's phone and the till, paired, talking to
// the platform through aliceAPI and tillAPI (nil: directly), which wrap
// it; the cloud closes when the test ends.
func newPairedPhones(ctx context.Context, t *testing.T, aliceAPI, tillAPI func(payflow.API) payflow.API) *pairedPhones {
	t.Helper()
	return newPairedPhonesAt(ctx, t, nil, aliceAPI, tillAPI)
}

// newPairedPhonesAt is newPairedPhones on a cloud whose clock is now
// (nil: time.Now).
func newPairedPhonesAt(ctx context.Context, t *testing.T, now func() time.Time, aliceAPI, tillAPI func(payflow.API) payflow.API) *pairedPhones {
	t.Helper()
	w := newPhonesAt(ctx, t, now, aliceAPI, tillAPI)
	pairPhones(ctx, t, w)
	return w
}

// pairPhones pairs the phones of w, as newPairedPhones does. The phones'
// clock (WallClock) stands still from their adverts to their pairing, and
// goes on as before once they paired: the phones hear each other's EIDs
// of its epoch and select each other under them, and so open one session
// however long the pairing takes. Two phones that select each other on
// either side of the end of an EID epoch each open a session of their
// own (PROTOCOL.md §6.1), which the other never confirms.
func pairPhones(ctx context.Context, t *testing.T, w *pairedPhones) {
	t.Helper()
	at, clock := WallClock(), WallClock
	WallClock = func() time.Time { return at }
	defer func() { WallClock = clock }()
	alice, till := w.alice, w.till
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{alice.Station, till.Station}, []*Listener{alice.Scanner, till.Scanner}, at))
	sellers, err := alice.ServiceQueue(ctx)
	require.NoError(t, err)
	shoppers, err := till.ServiceQueue(ctx)
	require.NoError(t, err)
	require.Len(t, sellers, 1)
	require.Len(t, shoppers, 1)
	_, err = alice.Confirm(ctx, sellers[0])
	require.NoError(t, err)
	_, err = till.Confirm(ctx, shoppers[0])
	require.NoError(t, err)
	_, err = till.AwaitPaired(ctx)
	require.NoError(t, err)
	_, err = alice.AwaitPaired(ctx)
	require.NoError(t, err)
}

// selectedAPI calls selected with the session of each selection (Pair)
// that the cloud took.
type selectedAPI struct {
	payflow.API
	selected func(s *payflow.SessionView)
}

func (a *selectedAPI) Pair(ctx context.Context, req *payflow.PairRequest) (*payflow.SessionView, error) {
	s, err := a.API.Pair(ctx, req)
	if err == nil {
		a.selected(s)
	}
	return s, err
}

// TestPairPhonesAcrossEpochEnd: pairPhones pairs phones whose clock
// passes the end of an EID epoch between Alice's selection of the till
// and the till's of Alice: both selections open one session, in which the
// phones pair.
func TestPairPhonesAcrossEpochEnd(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	endEpoch := standStill(t).EndEpoch
	var ids []payflow.ID // of the sessions selected, in the order of the selections
	wrap := func(api payflow.API) payflow.API {
		return &selectedAPI{API: api, selected: func(s *payflow.SessionView) {
			ids = append(ids, s.ID)
			switch {
			case len(ids) == 1:
				endEpoch()
			case ids[1] != ids[0]:
				cancel() // two sessions: the till would wait for a confirmation that never comes
			}
		}}
	}
	w := newPhones(ctx, t, wrap, wrap)
	before := WallClock() // a millisecond before the epoch's end
	pairPhones(ctx, t, w)
	require.Len(t, ids, 2)
	assert.Equal(t, ids[0], ids[1], "one session")
	assert.Equal(t, time.Millisecond, WallClock().Sub(before), "the phones' clock after the pairing: the test's, past the epoch's end")
}

// newPhones returns Alice's phone and the till, logged out and unpaired,
// as newPairedPhones does.
func newPhones(ctx context.Context, t *testing.T, aliceAPI, tillAPI func(payflow.API) payflow.API) *pairedPhones {
	t.Helper()
	return newPhonesAt(ctx, t, nil, aliceAPI, tillAPI)
}

// newPhonesAt is newPhones on a cloud whose clock is now (nil: time.Now).
func newPhonesAt(ctx context.Context, t *testing.T, now func() time.Time, aliceAPI, tillAPI func(payflow.API) payflow.API) *pairedPhones {
	t.Helper()
	c, err := OpenCloud(ctx, CloudOptions{Dir: t.TempDir(), Platform: payflow.PlatformOptions{Now: now}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	cards, err := Grocery.SetupInMemory(ctx, c)
	require.NoError(t, err)
	return phonesOn(t, c, cards, aliceAPI, tillAPI)
}

// phonesOn returns Alice's phone and the till of the cloud c, with their
// cards among cards, logged out and unpaired, talking to its platform
// through aliceAPI and tillAPI (nil: directly), which wrap it.
func phonesOn(t *testing.T, c *Cloud, cards map[string]*Card, aliceAPI, tillAPI func(payflow.API) payflow.API) *pairedPhones {
	t.Helper()
	w := &pairedPhones{cloud: c, cards: cards}
	pr := NewPrinter(&w.out)
	root := c.Authority.Root.DER()
	api := func(wrap func(payflow.API) payflow.API) payflow.API {
		if wrap == nil {
			return c.Platform
		}
		return wrap(c.Platform)
	}
	var err error
	w.alice, err = NewPhone(Grocery.Party("alice"), cards["alice"], api(aliceAPI), pr.Screen("shopper"), root)
	require.NoError(t, err)
	w.till, err = NewPhone(Grocery.Party("till"), cards["till"], api(tillAPI), pr.Screen("seller"), root)
	require.NoError(t, err)
	return w
}

// expiredTokenAPI answers the session reads made with the token expired as
// the platform answers a token past its hour (payflow.ErrUnauthorized),
// and the first unavailable reads with payflow.ErrUnavailable, as a cloud
// that is restarting.
type expiredTokenAPI struct {
	payflow.API
	mu          sync.Mutex
	expired     string
	unavailable int
}

func (a *expiredTokenAPI) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	a.mu.Lock()
	down := a.unavailable > 0
	if down {
		a.unavailable--
	}
	expired := token == a.expired
	a.mu.Unlock()
	switch {
	case down:
		return nil, payflow.ErrUnavailable
	case expired:
		return nil, payflow.ErrUnauthorized
	}
	return a.API.Session(ctx, token, id)
}

// TestPairedMeanwhileLogsInAgain: a phone program that looks whether the
// session it selected was paired meanwhile (awaitPaired) when the token of
// its login has expired logs in again and reads it, and waits out a cloud
// that does not answer, rather than taking either for "not paired".
func TestPairedMeanwhileLogsInAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	api := &expiredTokenAPI{}
	w := newPairedPhones(ctx, t, func(p payflow.API) payflow.API { api.API = p; return api }, nil)
	require.NoError(t, w.alice.Login(ctx))
	sel, err := w.alice.AwaitPaired(ctx)
	require.NoError(t, err)
	api.mu.Lock()
	api.expired, api.unavailable = w.alice.Token, 2
	api.mu.Unlock()
	assert.True(t, w.alice.pairedMeanwhile(ctx, sel))
	assert.NotEqual(t, api.expired, w.alice.Token, "the phone's token after it logged in again")
	api.mu.Lock()
	assert.Zero(t, api.unavailable, "the reads the cloud did not answer")
	api.mu.Unlock()
}

// TestApproveBlockedCard: on a card whose PIN is blocked, the shopper's
// phone asks for no PIN, says the PIN is blocked and how to unblock it
// (the -puk flag of the programs, with the PUK), and fails with
// simcard.ErrPINBlocked, its error saying so too, the card signing
// nothing.
func TestApproveBlockedCard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, v := blockedCardRequest(ctx, t, false)
	_, err := w.alice.Approve(ctx, v, PIN)
	require.ErrorIs(t, err, simcard.ErrPINBlocked)
	assert.Equal(t, "[shopper] The card's PIN is blocked: run again with -puk and the card's PUK (the demo cards' is 12345678), which unblocks it and makes -pin its PIN\n", w.out.String(), "no PIN asked for")
	assert.Equal(t, "demo: the card's PIN is blocked (run again with -puk and the card's PUK to unblock it): "+simcard.ErrPINBlocked.Error(), err.Error())
	assert.Zero(t, w.alice.consents.Load(), "the card signed no consent")
}

// TestApproveBlockedPINAndPUK: on a card whose PIN and PUK are both
// blocked, the shopper's phone asks for no PIN and says that nothing
// unblocks the card (not that -puk does), failing with an error that
// matches both simcard.ErrPINBlocked and simcard.ErrPUKBlocked, the card
// signing nothing.
func TestApproveBlockedPINAndPUK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, v := blockedCardRequest(ctx, t, true)
	_, err := w.alice.Approve(ctx, v, PIN)
	require.ErrorIs(t, err, simcard.ErrPINBlocked)
	require.ErrorIs(t, err, simcard.ErrPUKBlocked)
	assert.Equal(t, "[shopper] The card's PIN is blocked\n[shopper] The card's PUK is blocked too: nothing unblocks the card\n", w.out.String(), "no PIN asked for")
	assert.Equal(t, "demo: the card's PIN and PUK are blocked: "+simcard.ErrPINBlocked.Error()+"; "+simcard.ErrPUKBlocked.Error(), err.Error())
	assert.Zero(t, w.alice.consents.Load(), "the card signed no consent")
}

// TestApproveWithPUKBlockedPINAndPUK: on a card whose PIN and PUK are
// both blocked, the shopper's phone given the PUK (-puk) says that nothing
// unblocks the card, not that the PUK does, presenting no PUK and asking
// for no PIN, and fails with an error that matches both
// simcard.ErrPINBlocked and simcard.ErrPUKBlocked, the card signing
// nothing.
func TestApproveWithPUKBlockedPINAndPUK(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, v := blockedCardRequest(ctx, t, true)
	w.alice.PUK = "12345678"
	_, err := w.alice.Approve(ctx, v, PIN)
	require.ErrorIs(t, err, simcard.ErrPINBlocked)
	require.ErrorIs(t, err, simcard.ErrPUKBlocked)
	assert.Equal(t, "[shopper] The card's PIN is blocked\n[shopper] The card's PUK is blocked too: nothing unblocks the card\n", w.out.String(), "no PUK presented, no PIN asked for")
	assert.Equal(t, "demo: the card's PIN and PUK are blocked: "+simcard.ErrPINBlocked.Error()+"; "+simcard.ErrPUKBlocked.Error(), err.Error())
	assert.Zero(t, w.alice.consents.Load(), "the card signed no consent")
	left, _, err := w.cards["alice"].PINTries()
	require.NoError(t, err)
	assert.Zero(t, left, "the PIN stays blocked")
}

// blockedCardRequest returns Alice's phone and the till paired, Alice's
// card with its PIN blocked by wrong PINs (and its PUK by wrong PUKs when
// puk), and the till's request for GroceryBasket on Alice's screen, the
// printed output reset.
func blockedCardRequest(ctx context.Context, t *testing.T, puk bool) (*pairedPhones, *payflow.PaymentView) {
	t.Helper()
	w := newPairedPhones(ctx, t, nil, nil)
	card := w.cards["alice"]
	for range 3 {
		require.ErrorIs(t, card.VerifyPIN("000000"), simcard.ErrWrongPIN)
	}
	left, _, err := card.PINTries()
	require.NoError(t, err)
	require.Zero(t, left)
	if puk {
		for range 3 {
			require.ErrorIs(t, card.Unblock("00000000", "1234"), simcard.ErrWrongPUK)
		}
		left, _, err = card.PUKTries()
		require.NoError(t, err)
		require.Zero(t, left)
	}
	_, err = w.till.Charge(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	w.out.Reset()
	return w, v
}

// TestAskSaysEarlierRequestPaid: a payment that the till's Request
// reports instead of asking, of a request that the card signed before the
// basket was priced (here one that Alice paid while the till did not
// wait for it, as one of the till's earlier run), goes on the till's
// screen as a payment already made, and the card signs a new request for
// the basket, which Alice pays in turn: each request is charged once.
func TestAskSaysEarlierRequestPaid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPairedPhones(ctx, t, nil, nil)
	first, err := w.till.Charge(ctx, "Alice", GroceryBasket, nil)
	require.NoError(t, err)
	v, err := w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	_, err = w.alice.Approve(ctx, v, PIN)
	require.NoError(t, err)

	w.out.Reset()
	second, err := w.till.Charge(ctx, "Alice", []Item{{"milk", 1}}, nil)
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, second.ID, "a new request")
	assert.Contains(t, w.out.String(), "[seller]  Request "+Short(first.ID)+", of an earlier sale, was already paid (EUR 11.27); the card signs a new request for this basket\n")
	v, err = w.alice.AwaitRequest(ctx)
	require.NoError(t, err)
	assert.Equal(t, second.ID, v.ID)
	_, err = w.alice.Approve(ctx, v, PIN)
	require.NoError(t, err)
	b, err := w.cloud.Platform.Balance(ctx, w.cards["alice"].ICCID, "EUR")
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: 5000 - 1127 - 119}, b, "each request charged once")
}
