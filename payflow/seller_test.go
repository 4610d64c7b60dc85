package payflow_test

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/ledger"
	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// loseFirstCreate returns api with the reply of its first payment request
// lost, as a connection that drops after the request went out: the
// platform records it, and the call fails with loss.
func loseFirstCreate(api payflow.API, loss error) *faultAPI {
	a := &faultAPI{API: api}
	a.create.reply.failNextWith(loss)
	return a
}

// newLostRequestWorld pairs the phones, the seller's through a
// loseFirstCreate whose lost call fails with loss, and has the seller ask for
// basket, which the platform records without the seller knowing.
func newLostRequestWorld(t *testing.T, loss error) (*phoneWorld, *faultAPI) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	api := loseFirstCreate(w.f.Platform, loss)
	w.useSeller(t, api)
	w.pair(t)
	_, err := w.seller.Request(context.Background(), basket)
	require.ErrorIs(t, err, loss)
	return w, api
}

func TestSellerRequestAfterLostReply(t *testing.T) {
	ctx := context.Background()
	// A failed platform, a first attempt still running when the client's
	// retries ran out, a context that ended.
	for _, loss := range []error{payflow.ErrUnavailable, payflow.ErrInFlight, context.DeadlineExceeded} {
		t.Run("the request sent before is withdrawn/"+loss.Error(), func(t *testing.T) {
			w, api := newLostRequestWorld(t, loss)
			// While the platform still does not answer, no other
			// request is made.
			api.create.send.failAllWith(payflow.ErrUnavailable)
			_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			api.create.send.disarm()

			sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			first, err := w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(sv.SessionID, 0))
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, first.State, "the request sent before is withdrawn")
			assert.Equal(t, payflow.SessionRequestID(sv.SessionID, 1), sv.ID)
			screen, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			require.Equal(t, sv.ID, screen.ID, "the shopper sees the request the seller shows")
			assert.Equal(t, uint64(100), screen.Amount)
			rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.NoError(t, err)
			assert.Equal(t, uint64(100), rc.Amount)
			w.requireSellerCaptured(t, rc)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
	t.Run("a request sent before and paid is shown, not charged again", func(t *testing.T) {
		w, _ := newLostRequestWorld(t, payflow.ErrUnavailable)
		w.requireShownPaid(t)
	})
}

// newLostPaidWorld is newLostRequestWorld of a failed platform
// (ErrUnavailable) whose request, recorded without the seller knowing,
// the shopper then pays; it returns the shopper's view of it.
func newLostPaidWorld(t *testing.T) (*phoneWorld, *payflow.PaymentView) {
	t.Helper()
	ctx := context.Background()
	w, _ := newLostRequestWorld(t, payflow.ErrUnavailable)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	return w, screen
}

// TestSellerCancelAfterLostReply: Cancel after a Request whose reply was
// lost (the request recorded all the same, and shown to the shopper)
// sends that request again, as signed, and cancels it: the platform holds
// it cancelled, the shopper's approval of it is ErrFinal and no money
// moves, nothing is left to cancel, and the next Request takes the next
// index. While the platform does not answer, Cancel fails with its error
// and the request stays kept for the next Cancel. One that the shopper
// paid is not cancelled: Cancel fails with a *PaidError naming it, and
// Wait shows it with its receipt.
func TestSellerCancelAfterLostReply(t *testing.T) {
	ctx := context.Background()
	for _, loss := range []error{payflow.ErrUnavailable, payflow.ErrInFlight, context.DeadlineExceeded} {
		t.Run("the request sent is cancelled/"+loss.Error(), func(t *testing.T) {
			w, api := newLostRequestWorld(t, loss)
			lost, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			api.create.send.failAllWith(payflow.ErrUnavailable)
			_, err = w.seller.Cancel(ctx)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			api.create.send.disarm()

			v, err := w.seller.Cancel(ctx)
			require.NoError(t, err)
			assert.Equal(t, lost.ID, v.ID)
			assert.Equal(t, payflow.StateCancelled, v.State)
			w.assertState(t, lost.ID, payflow.StateCancelled)
			_, err = w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrFinal, "the shopper cannot pay it")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "no money moved")
			_, err = w.seller.Cancel(ctx)
			require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing left to cancel")

			sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			assert.Equal(t, payflow.SessionRequestID(lost.SessionID, 1), sv.ID)
		})
	}
	t.Run("a request sent and paid is shown, not cancelled", func(t *testing.T) {
		w, lost := newLostPaidWorld(t)
		_, err := w.seller.Cancel(ctx)
		requirePaid(t, err, lost.ID)
		w.requireShownCaptured(t, lost.ID, 690)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
}

// TestSellerCancelKeptRequestEnded: Cancel after a Request whose reply was
// lost, the request recorded all the same and since declined by the
// shopper or expired, sends it again and returns its final view without an
// error, as Cancel says: its state (declined, expired) tells the app that
// the request ended before the cancellation, which the platform did not
// make; nothing is left to cancel after it.
func TestSellerCancelKeptRequestEnded(t *testing.T) {
	ctx := context.Background()
	for _, state := range []string{payflow.StateDeclined, payflow.StateExpired} {
		t.Run(state, func(t *testing.T) {
			w, _ := newLostRequestWorld(t, payflow.ErrUnavailable)
			lost, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			if state == payflow.StateDeclined {
				_, err = w.shopper.Decline(ctx)
				require.NoError(t, err)
			} else {
				w.f.Clock.Advance(lost.ExpiresAt.Sub(w.f.Clock.Now()) + time.Second)
			}
			v, err := w.seller.Cancel(ctx)
			require.NoError(t, err)
			assert.Equal(t, lost.ID, v.ID)
			assert.Equal(t, state, v.State, "the request ended before the cancellation")
			w.assertState(t, lost.ID, state)
			_, err = w.seller.Cancel(ctx)
			require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing left to cancel")
		})
	}
}

// TestSellerCancelAgainAfterLostReply: for a merchant that captures
// manually, a request held on screen, and a later one whose reply was
// lost, the first Cancel cancels the later one, the request made last,
// and the second finds nothing left to cancel (ErrNoPayment): the held
// request, an earlier one, stays on screen and held (CancelHeld is what
// voids it), and the shopper's funds stay on hold for it.
func TestSellerCancelAgainAfterLostReply(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &faultAPI{API: w.f.Platform}
	w.useSeller(t, api)
	held := w.pairAndHold(t)
	api.create.reply.failNextWith(payflow.ErrUnavailable)
	_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	lost, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.NotEqual(t, held, lost.ID)

	v, err := w.seller.Cancel(ctx)
	require.NoError(t, err)
	assert.Equal(t, lost.ID, v.ID)
	assert.Equal(t, payflow.StateCancelled, v.State)
	w.assertState(t, lost.ID, payflow.StateCancelled)
	w.assertState(t, held, payflow.StateHeld)

	v, err = w.seller.Cancel(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "the request made last was cancelled already")
	assert.Nil(t, v)
	w.assertState(t, held, payflow.StateHeld, "the held request, an earlier one, is left as it is")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	shown, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, held, shown.ID, "it stays on screen")
	kept := mustHeld(t, w.seller)
	require.Len(t, kept, 1)
	assert.Equal(t, held, kept[0].ID, "kept for CaptureHeld or CancelHeld")
}

// TestSellerCancelWithdrawsEveryKeptRequest: the seller keeps two
// requests to withdraw: the next shopper's, whose reply was lost, made
// while a Select withdrew the first shopper's, which the platform did not
// answer. The next shopper pays its request; Cancel sends both again and
// fails with a *PaidError naming the paid one, which goes on screen, and
// the first shopper's, still payable, is cancelled all the same before
// Cancel reports the payment: the first shopper is charged nothing. When
// the first shopper paid its request too, that one stays kept, and the
// next Cancel reports it, the paid request of the next shopper staying on
// screen: each payment is reported once. When the platform does not
// answer the first shopper's as it is sent again, Cancel reports the
// payment alone (not the platform's error, which would have the app send
// the call again, the payment unseen), and the next Cancel withdraws the
// first shopper's request, which stays kept.
func TestSellerCancelWithdrawsEveryKeptRequest(t *testing.T) {
	for _, tc := range []struct {
		name       string
		alicePays  bool // the first shopper pays its request too
		unanswered bool // the first shopper's request, sent again
	}{{name: "payable"}, {name: "both paid", alicePays: true}, {name: "unanswered", unanswered: true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			a := newMemoryPhoneWorld(t, false)
			api := &hookAPI{API: a.f.Platform}
			lost := &faultAPI{API: api}
			a.useSeller(t, lost)
			b := a.withShopper(t, "Bob", payflow.ID{0xf2})
			a.pair(t)
			bobEID, cb := b.shopperSelects(t)
			tv := a.nextTurnDuringSelect(t, api, tc.alicePays)
			api.cancelErr = payflow.ErrUnavailable // Select's withdrawal of tv.made
			// Meanwhile the next turn's request, its reply lost.
			api.cancel = func() {
				_, err := a.seller.WaitPaired(ctx)
				require.NoError(t, err)
				lost.create.reply.failNextWith(payflow.ErrUnavailable)
				_, err = a.seller.Request(ctx, basket)
				require.ErrorIs(t, err, payflow.ErrUnavailable)
			}
			_, err := a.seller.Select(ctx, bobEID)
			require.NoError(t, err, "the request taken off the screen is kept to be withdrawn later")
			require.NotNil(t, tv.made)
			left := tv.made
			paid := payflow.SessionRequestID(cb.SessionID, 0)
			_, err = b.shopper.WaitPaired(ctx)
			require.NoError(t, err)
			b.shopperApproves(t)
			a.assertState(t, paid, payflow.StateCaptured)
			aliceCharged := uint64(0)
			if tc.alicePays {
				aliceCharged = 100
				a.assertState(t, left.ID, payflow.StateCaptured)
			} else {
				a.assertState(t, left.ID, payflow.StatePending)
			}
			var creates atomic.Int32
			if tc.unanswered {
				api.mu.Lock()
				api.createErr = func() error {
					if creates.Add(1) == 2 { // the first shopper's request
						return payflow.ErrUnavailable
					}
					return nil
				}
				api.mu.Unlock()
			}

			_, err = a.seller.Cancel(ctx)
			requirePaid(t, err, paid)
			switch {
			case tc.alicePays:
				_, err = a.seller.Cancel(ctx)
				requirePaid(t, err, left.ID)
			case tc.unanswered:
				assert.NotErrorIs(t, err, payflow.ErrUnavailable, "the payment reported alone")
				a.assertState(t, left.ID, payflow.StatePending, "kept")
				v, err := a.seller.Cancel(ctx)
				require.NoError(t, err)
				assert.Equal(t, left.ID, v.ID)
				fallthrough
			default:
				a.assertState(t, left.ID, payflow.StateCancelled, "every kept request is withdrawn")
			}
			a.requireShownCaptured(t, paid, 690)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - aliceCharged}, a.balance(t, a.shopperCard.Enrolment.ICCID))
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, b.balance(t, b.shopperCard.Enrolment.ICCID))
		})
	}
}

// TestSellerCancelWithdrawsNewerOnScreen: a request that a Select took
// off the screen and could not withdraw (no answer) is kept, and a
// request of the session selected, made meanwhile, takes the screen: it is
// the request made last. Cancel withdraws both, the kept one sent again
// and the one on screen, and returns the view of the one on screen,
// cancelled: neither shopper can pay.
func TestSellerCancelWithdrawsNewerOnScreen(t *testing.T) {
	ctx := context.Background()
	a, b, api := hookedSellerWorlds(t)
	a.pair(t)
	tv := a.nextTurnDuringSelect(t, api, false)
	api.cancelErr = payflow.ErrUnavailable // the withdrawal of tv.made
	bobEID, cb := b.shopperSelects(t)
	c, err := a.seller.Select(ctx, bobEID)
	require.NoError(t, err, "the request taken off the screen is kept to be withdrawn later")
	assert.Equal(t, cb.SessionID, c.SessionID)
	a.assertState(t, tv.made.ID, payflow.StatePending)
	shown, err := a.seller.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, tv.next.ID, shown.ID)

	v, err := a.seller.Cancel(ctx)
	require.NoError(t, err)
	assert.Equal(t, tv.next.ID, v.ID, "the request made last")
	assert.Equal(t, payflow.StateCancelled, v.State)
	a.assertState(t, tv.made.ID, payflow.StateCancelled, "the kept request is withdrawn")
	a.assertState(t, tv.next.ID, payflow.StateCancelled, "the request on screen is withdrawn")
	_, err = a.seller.Cancel(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing left to cancel")
}

// createCounter counts the payment requests that the seller phone sends
// (CreateRequest) and those of them that the platform refuses as taken
// (ErrConflict).
type createCounter struct {
	payflow.API
	calls, conflicts atomic.Int32
}

func (a *createCounter) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	a.calls.Add(1)
	v, err := a.API.CreateRequest(ctx, req)
	if errors.Is(err, payflow.ErrConflict) {
		a.conflicts.Add(1)
	}
	return v, err
}

// TestSellerMovesPastKeptRequestFoundRecorded: a payment request whose
// reply was lost is recorded at index 0; the next Request sends it again
// and finds it recorded: pending (it cancels it and asks), declined by the
// shopper (it asks), or paid (it shows it and fails with a *PaidError, and
// the Request after asks). The request asked for then takes index 1 at
// once: the card signs one payment request, and the phone sends the kept
// request again and the new one, none refused as taken (conflict), where
// it had the card sign another request at index 0, which the platform
// refused as taken, before it moved past it.
func TestSellerMovesPastKeptRequestFoundRecorded(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		state   string // the kept request's, when sent again
		charged uint64 // by it
	}{{payflow.StatePending, 0}, {payflow.StateDeclined, 0}, {payflow.StateCaptured, 690}} {
		t.Run(tt.state, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &createCounter{API: loseFirstCreate(w.f.Platform, payflow.ErrUnavailable)}
			w.useSeller(t, api)
			c := w.pair(t)
			kept := payflow.SessionRequestID(c.SessionID, 0)
			_, err := w.seller.Request(ctx, basket)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			require.Equal(t, int32(1), api.calls.Load())
			switch tt.state {
			case payflow.StateCaptured:
				w.shopperApproves(t)
			case payflow.StateDeclined:
				_, err := w.shopper.WaitPayment(ctx)
				require.NoError(t, err)
				_, err = w.shopper.Decline(ctx)
				require.NoError(t, err)
			}
			w.assertState(t, kept, tt.state)
			before, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)

			if tt.state == payflow.StateCaptured {
				_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
				requirePaid(t, err, kept)
			}
			sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID, "the index after the kept request's")
			after, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, before+1, after, "the card signed one payment request")
			assert.Equal(t, int32(3), api.calls.Load(), "the lost request, sent again, and the new one")
			assert.Zero(t, api.conflicts.Load(), "no payment request was refused as taken")
			if tt.state == payflow.StatePending {
				w.assertState(t, kept, payflow.StateCancelled, "the kept request is withdrawn")
			} else {
				w.assertState(t, kept, tt.state)
			}
			w.requireShopperPays(t, sv, tt.charged+100)
		})
	}
}

// conflictAPI passes the phone's calls on and, once the platform answers
// a cancellation ErrConflict (a settlement of the request under way),
// runs met.
type conflictAPI struct {
	payflow.API
	met func()
}

func (a *conflictAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Cancel(ctx, token, id)
	if errors.Is(err, payflow.ErrConflict) {
		a.met()
	}
	return v, err
}

// settlingWorld is a paired world whose platform holds the settlement of
// the first approval, its request approving, until release is called,
// which a cancellation of the seller answered ErrConflict does
// (conflictAPI).
type settlingWorld struct {
	*phoneWorld
	settling chan struct{}
	release  func()
	keep     atomic.Bool // while set, a cancellation answered ErrConflict releases nothing
	// conflicted is closed once the platform answers a cancellation of
	// the seller ErrConflict: the seller's call then waits for the
	// settlement to end.
	conflicted chan struct{}
}

// newSettlingWorld returns a settlingWorld of a merchant that captures
// manually when manual; its seller's phone talks to the platform through
// seller(api), api being the platform behind that hook.
func newSettlingWorld(t *testing.T, manual bool, seller func(api payflow.API) payflow.API) *settlingWorld {
	t.Helper()
	release := make(chan struct{})
	sw := &settlingWorld{settling: make(chan struct{}), release: sync.OnceFunc(func() { close(release) }), conflicted: make(chan struct{})}
	conflicted := sync.OnceFunc(func() { close(sw.conflicted) })
	t.Cleanup(sw.release)
	var hold sync.Once
	st := &updateHook{Store: memory.New(), hook: func(_ *payflow.PaymentRecord, from string) error {
		if from == payflow.StateApproving { // the settlement's outcome
			hold.Do(func() {
				close(sw.settling)
				<-release
			})
		}
		return nil
	}}
	sw.phoneWorld = newPhoneWorld(t, paytest.NewFixture(t, st, ledgermemory.New(), paytest.Options{}), nil, manual)
	sw.useSeller(t, seller(&conflictAPI{API: sw.f.Platform, met: func() {
		conflicted()
		if !sw.keep.Load() {
			sw.release()
		}
	}}))
	sw.pair(t)
	return sw
}

// approve has the shopper approve the request on screen and returns, once
// its settlement is under way, a channel that gets the approval's error.
func (sw *settlingWorld) approve(ctx context.Context, t *testing.T) <-chan error {
	t.Helper()
	approved := make(chan error, 1)
	go func() {
		_, err := sw.shopper.Approve(ctx, simcardtest.PIN)
		approved <- err
	}()
	within(t, sw.settling, "the approval's settlement")
	return approved
}

// settlingCases are the ways the settlement of an approval ends: paid;
// held, for a merchant that captures manually (the approval then waits for
// the capture, and fails with ErrFinal once the hold is voided); its hold
// refused for want of funds.
var settlingCases = []struct {
	name    string
	manual  bool
	charge  payflow.Charge
	approve error // the approval's error
}{
	{name: "paid", charge: basket},
	{name: "held", manual: true, charge: basket, approve: payflow.ErrFinal},
	{name: "refused", charge: payflow.Charge{Amount: phoneFunds + 1, Currency: "EUR"}, approve: payflow.ErrFunds},
}

// TestSellerRequestWhileApproved: the next Request withdraws a payment
// request that the shopper approved while the platform settles that
// approval (the request is approving, and the platform answers its
// cancellation ErrConflict until the settlement ends): the request on
// screen, or one whose reply was lost, which Request sends again first.
// Request waits for the settlement to end: paid, the request is on screen
// with its receipt and Request fails with a *PaidError naming it, the
// shopper charged once; held, its hold is voided; refused its hold, it is
// cancelled; in those two cases no money moved, and Request asks with a
// new request, the next one the shopper is shown.
func TestSellerRequestWhileApproved(t *testing.T) {
	for _, lost := range []bool{false, true} {
		for _, tc := range settlingCases {
			t.Run(fmt.Sprintf("lost=%v/%s", lost, tc.name), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				w := newSettlingWorld(t, tc.manual, func(api payflow.API) payflow.API {
					if lost {
						return loseFirstCreate(api, payflow.ErrUnavailable)
					}
					return api
				})
				_, err := w.seller.Request(ctx, tc.charge)
				if lost {
					require.ErrorIs(t, err, payflow.ErrUnavailable)
				} else {
					require.NoError(t, err)
				}
				approving, err := w.shopper.WaitPayment(ctx)
				require.NoError(t, err)
				approved := w.approve(ctx, t)

				sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
				if tc.approve == nil {
					requirePaid(t, err, approving.ID)
					require.NoError(t, within(t, approved, "the approval"))
					w.requireShownCaptured(t, approving.ID, 690)
					assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
					return
				}
				require.NoError(t, err)
				assert.Equal(t, payflow.SessionRequestID(approving.SessionID, 1), sv.ID)
				w.assertState(t, approving.ID, payflow.StateCancelled, "the request approved is withdrawn")
				require.ErrorIs(t, within(t, approved, "the approval"), tc.approve)
				assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "no money moved")
				screen, err := w.shopper.WaitPayment(ctx)
				require.NoError(t, err)
				assert.Equal(t, sv.ID, screen.ID, "the shopper is shown the new request")
			})
		}
	}
}

// newLostSettlingWorld returns a settlingWorld whose seller's request of
// basket was recorded, its reply lost (the phone keeps it to withdraw),
// and that the shopper approved: its settlement is held until release,
// also when a cancellation is answered ErrConflict (keep). It returns the
// request and a channel that gets the approval's error.
func newLostSettlingWorld(ctx context.Context, t *testing.T) (*settlingWorld, *payflow.PaymentView, <-chan error) {
	t.Helper()
	w := newSettlingWorld(t, false, func(api payflow.API) payflow.API {
		return loseFirstCreate(api, payflow.ErrUnavailable)
	})
	w.keep.Store(true)
	_, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	lost, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	return w, lost, w.approve(ctx, t)
}

// requireNoRequestAt checks that the platform holds no payment request at
// index i of the session: none other was made.
func (w *phoneWorld) requireNoRequestAt(t *testing.T, session payflow.ID, i uint32) {
	t.Helper()
	_, err := w.f.Platform.Store().Payment(context.Background(), payflow.SessionRequestID(session, i))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no other request was made")
}

// TestSellerRequestWhileApprovedUntilCtxEnds: a Request that waits for
// the settlement of an approval of the request it withdraws fails once
// its ctx ends, with ctx's error and ErrConflict, having asked nothing;
// the request stays kept, and the next Request, once the settlement
// ended, withdraws it: paid, it fails with the *PaidError naming it.
func TestSellerRequestWhileApprovedUntilCtxEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, lost, approved := newLostSettlingWorld(ctx, t)

	// The Request's ctx ends once the platform answered its cancellation
	// conflict, not at a time that could come first.
	short, stop := withCancelCause(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := w.seller.Request(short, payflow.Charge{Amount: 100, Currency: "EUR"})
		done <- err
	}()
	within(t, w.conflicted, "the Request's wait for the settlement")
	stop()
	err := within(t, done, "the Request")
	require.ErrorIs(t, err, errCallerGone)
	require.ErrorIs(t, err, payflow.ErrConflict)
	w.assertState(t, lost.ID, payflow.StateApproving)
	w.requireNoRequestAt(t, lost.SessionID, 1)

	w.release()
	require.NoError(t, within(t, approved, "the approval"))
	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	requirePaid(t, err, lost.ID)
	w.requireShownCaptured(t, lost.ID, 690)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerCancelWhileApproved: a Cancel of the request on screen while
// the platform settles the shopper's approval of it (the request is
// approving, and the platform answers its cancellation ErrConflict until
// the settlement ends) waits for the settlement to end: paid, Cancel
// fails with ErrFinal and Wait shows the payment with its receipt, the
// shopper charged once; held, its hold is voided, and refused its hold,
// it is cancelled: Cancel returns the cancelled view and no money moved.
func TestSellerCancelWhileApproved(t *testing.T) {
	for _, tc := range settlingCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			w := newSettlingWorld(t, tc.manual, func(api payflow.API) payflow.API { return api })
			sv, err := w.seller.Request(ctx, tc.charge)
			require.NoError(t, err)
			_, err = w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			approved := w.approve(ctx, t)

			v, err := w.seller.Cancel(ctx)
			if tc.approve == nil {
				require.ErrorIs(t, err, payflow.ErrFinal)
				require.NoError(t, within(t, approved, "the approval"))
				w.requireShownCaptured(t, sv.ID, 690)
				assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, sv.ID, v.ID)
			assert.Equal(t, payflow.StateCancelled, v.State)
			w.assertState(t, sv.ID, payflow.StateCancelled)
			require.ErrorIs(t, within(t, approved, "the approval"), tc.approve)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "no money moved")
		})
	}
}

// TestSellerCancelHeldWhileCaptureNeverEnds: CancelHeld of a held
// request whose capture was left capturing for good (its hold posted under
// another transfer's ID, which no later cancellation, capture or expiry
// ends: PROTOCOL.md §6.4) sends the cancellation again while the platform
// answers ErrConflict, for PhoneOptions.SettleWait, and then fails with
// that ErrConflict, which says that the payment is being captured (not
// that it is held), also with a context that never ends; the request
// stays capturing and kept, and the next CancelHeld fails so again.
func TestSellerCancelHeldWhileCaptureNeverEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := newMemoryPhoneWorld(t, true)
	var conflicts atomic.Int64
	w.useSellerWaiting(t, &conflictAPI{API: w.f.Platform, met: func() { conflicts.Add(1) }}, 50*time.Millisecond)
	id := w.pairAndHold(t)
	res, err := w.f.Ledger.CreateTransfers(ctx, []ledger.Transfer{{
		ID: payflow.TransferID(id, 2, 0, 2), PendingID: payflow.TransferID(id, 1, 0, 1),
		Amount: 690, Ledger: 978, Code: payflow.TransferPayment, Flags: ledger.TransferPostPendingTransfer,
	}})
	require.NoError(t, err)
	require.Equal(t, []ledger.CreateTransferResult{ledger.TransferCreated}, res)
	_, err = w.seller.CaptureHeld(ctx, id, 0)
	require.ErrorIs(t, err, payflow.ErrInternal)
	w.assertState(t, id, "capturing", "left capturing for good")

	for range 2 {
		before := conflicts.Load()
		done := make(chan error, 1)
		go func() {
			_, err := w.seller.CancelHeld(context.Background(), id)
			done <- err
		}()
		err = within(t, done, "CancelHeld of a request capturing for good")
		require.ErrorIs(t, err, payflow.ErrConflict)
		assert.EqualError(t, err, "payflow: conflicting request: the payment is being captured")
		assert.NotErrorIs(t, err, errCallerGone)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
		assert.Greater(t, conflicts.Load()-before, int64(1), "the cancellation is sent again")
		w.assertState(t, id, "capturing")
		held, err := w.seller.Held(ctx)
		require.NoError(t, err)
		require.Len(t, held, 1, "the request stays kept")
		assert.Equal(t, id, held[0].ID)
	}
}

// TestSellerRequestWhileApprovalLeftApproving: a Request that withdraws
// the request on screen, whose approval's outcome the platform could not
// record (the request left approving until the recovery sweep drives it
// on), sends the cancellation again while the platform answers
// ErrConflict, for PhoneOptions.SettleWait, and then fails with that
// ErrConflict, also with a context that never ends, having asked
// nothing; the request stays on screen and approving.
func TestSellerRequestWhileApprovalLeftApproving(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var failed atomic.Bool
	st := &updateHook{Store: memory.New(), hook: func(_ *payflow.PaymentRecord, from string) error {
		if from == payflow.StateApproving && failed.CompareAndSwap(false, true) {
			return payflow.ErrUnavailable
		}
		return nil
	}}
	w := newPhoneWorld(t, paytest.NewFixture(t, st, ledgermemory.New(), paytest.Options{}), nil, false)
	w.useSellerWaiting(t, w.f.Platform, 50*time.Millisecond)
	w.pair(t)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	_, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	w.assertState(t, sv.ID, payflow.StateApproving)

	done := make(chan error, 1)
	go func() {
		_, err := w.seller.Request(context.Background(), payflow.Charge{Amount: 100, Currency: "EUR"})
		done <- err
	}()
	err = within(t, done, "Request while the approval is left approving")
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.NotErrorIs(t, err, errCallerGone)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	w.assertState(t, sv.ID, payflow.StateApproving)
	w.requireNoRequestAt(t, sv.SessionID, 1)
	v, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, v.ID, "the request stays on screen")
	assert.Equal(t, payflow.StatePending, v.State)
}

// TestSellerCallsWhileRequestWaitsOnSettlement: while a Request waits for
// the settlement of an approval of the request it withdraws (one whose
// reply was lost, which it sends again first), a Select or another
// Request waits for it only as long as its own ctx lasts: it fails with
// ctx's error alone, having withdrawn, asked and selected nothing, while
// the first Request still waits; that one, once the settlement ended,
// fails with the *PaidError naming the request paid.
func TestSellerCallsWhileRequestWaitsOnSettlement(t *testing.T) {
	for _, call := range []string{"Select", "Request"} {
		t.Run(call, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			w, lost, approved := newLostSettlingWorld(ctx, t)
			requested := make(chan error, 1)
			go func() {
				_, err := w.seller.Request(context.Background(), payflow.Charge{Amount: 100, Currency: "EUR"})
				requested <- err
			}()
			within(t, w.conflicted, "the Request's wait for the settlement")
			eid, err := w.shopper.EID()
			require.NoError(t, err)

			done := make(chan error, 1)
			go func() {
				short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
				defer stop()
				var err error
				if call == "Select" {
					_, err = w.seller.Select(short, eid)
				} else {
					_, err = w.seller.Request(short, payflow.Charge{Amount: 100, Currency: "EUR"})
				}
				done <- err
			}()
			select {
			case err = <-done:
			case <-time.After(3 * time.Second):
				w.release()
				t.Fatalf("%s with a 100 ms context: nothing after 3 s", call)
			}
			require.Equal(t, context.DeadlineExceeded, err)
			select {
			case err := <-requested:
				t.Fatalf("the first Request returned %v before the settlement ended", err)
			default:
			}
			w.assertState(t, lost.ID, payflow.StateApproving)

			w.release()
			require.NoError(t, within(t, approved, "the approval"))
			requirePaid(t, within(t, requested, "the first Request"), lost.ID)
			w.requireShownCaptured(t, lost.ID, 690)
			w.requireNoRequestAt(t, lost.SessionID, 1)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
}

// cutCancelAPI passes the phone's calls on, except that while stop is
// set, every cancellation after the first ends the caller's context
// (stop) and fails with its error once it ended, as a call cut short by
// its context does.
type cutCancelAPI struct {
	payflow.API
	stop  context.CancelFunc
	calls atomic.Int64 // the cancellations while stop is set
}

func (a *cutCancelAPI) Cancel(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if a.stop != nil && a.calls.Add(1) > 1 {
		a.stop()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return a.API.Cancel(ctx, token, id)
}

// TestSellerCancelWhileApprovedCtxEndsInCall: a Cancel whose ctx ends
// during a cancellation that it sends again after the platform answered
// ErrConflict fails with ctx's error joined with that ErrConflict, as when
// ctx ends between two of them; the request stays approving, and a
// Cancel once the settlement ended fails with ErrFinal, the payment shown
// with its receipt.
func TestSellerCancelWhileApprovedCtxEndsInCall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var cut *cutCancelAPI
	w := newSettlingWorld(t, false, func(api payflow.API) payflow.API {
		cut = &cutCancelAPI{API: api}
		return cut
	})
	w.keep.Store(true)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	_, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	approved := w.approve(ctx, t)

	short, stop := withCancelCause(ctx)
	defer stop()
	cut.stop = stop
	_, err = w.seller.Cancel(short)
	require.ErrorIs(t, err, errCallerGone)
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.Equal(t, int64(2), cut.calls.Load())
	w.assertState(t, sv.ID, payflow.StateApproving)

	w.release()
	require.NoError(t, within(t, approved, "the approval"))
	cut.stop = nil
	_, err = w.seller.Cancel(ctx)
	require.ErrorIs(t, err, payflow.ErrFinal)
	w.requireShownCaptured(t, sv.ID, 690)
}

// TestSellerSelectAfterLostReply: a payment request whose reply was lost,
// which the phone keeps to withdraw, is withdrawn by the seller's Select
// of another shopper too, before it selects anything, so that the shopper
// of the session left cannot pay it unknown to the till during the next
// shopper's turn. While the platform does not answer that, Select fails
// with its error and selects nothing; one that the shopper paid meanwhile
// goes on screen with its receipt and Select fails with ErrFinal,
// selecting nothing, and the next Select selects the other shopper.
func TestSellerSelectAfterLostReply(t *testing.T) {
	ctx := context.Background()
	for _, tc := range leftRequestCases {
		t.Run(tc.name, func(t *testing.T) {
			a, api := newLostRequestWorld(t, payflow.ErrUnavailable)
			b := a.withShopper(t, "Bob", payflow.ID{0xf2})
			lost, err := a.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			bobEID, cb := b.shopperSelects(t)
			aliceCharged := uint64(0)
			switch {
			case tc.unanswered:
				api.create.send.failAllWith(payflow.ErrUnavailable)
				_, err = a.seller.Select(ctx, bobEID)
				require.ErrorIs(t, err, payflow.ErrUnavailable)
				api.create.send.disarm()
				// Still in the first shopper's session, whose next request
				// withdraws the lost one first.
				sv, err := a.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
				require.NoError(t, err)
				assert.Equal(t, payflow.SessionRequestID(lost.SessionID, 1), sv.ID)
				a.assertState(t, lost.ID, payflow.StateCancelled)
				a.requireShopperPays(t, sv, 100)
				aliceCharged = 100
			case tc.paid:
				_, err = a.shopper.Approve(ctx, simcardtest.PIN)
				require.NoError(t, err)
				_, err = a.seller.Select(ctx, bobEID)
				requirePaid(t, err, lost.ID)
				a.requireShownCaptured(t, lost.ID, 690)
				c, err := a.seller.WaitPaired(ctx)
				require.NoError(t, err)
				assert.Equal(t, lost.SessionID, c.SessionID, "the first shopper's session is still selected")
				aliceCharged = 690
			}
			c, err := a.seller.Select(ctx, bobEID)
			require.NoError(t, err)
			assert.Equal(t, cb.SessionID, c.SessionID)
			if !tc.paid {
				a.assertState(t, lost.ID, payflow.StateCancelled, "withdrawn before the selection")
			}
			b.requireServedNext(t, cb, a, aliceCharged)
		})
	}
}

// leftRequestCases are the ways a request of the session that the seller
// leaves ends: withdrawn; kept while the platform does not answer the
// withdrawal; paid by the shopper before the withdrawal.
var leftRequestCases = []struct {
	name             string
	unanswered, paid bool
}{
	{name: "withdrawn"},
	{name: "while the platform does not answer", unanswered: true},
	{name: "paid meanwhile", paid: true},
}

// assertState checks the state in which the platform's store holds the
// request id.
func (w *phoneWorld) assertState(tb testing.TB, id payflow.ID, want string, msgAndArgs ...any) {
	tb.Helper()
	r, err := w.f.Platform.Store().Payment(context.Background(), id)
	require.NoError(tb, err)
	assert.Equal(tb, want, r.State, msgAndArgs...)
}

// requireShownCaptured checks that the seller's Wait shows the request id
// captured, with its receipt of amount.
func (w *phoneWorld) requireShownCaptured(tb testing.TB, id payflow.ID, amount uint64) {
	tb.Helper()
	v, rc, err := w.seller.Wait(context.Background())
	require.NoError(tb, err)
	assert.Equal(tb, id, v.ID)
	assert.Equal(tb, payflow.StateCaptured, v.State)
	require.NotNil(tb, rc, "the receipt of the payment on screen")
	assert.Equal(tb, amount, rc.Amount)
}

// requireServedNext checks that once w's shopper sees session c, which
// the seller selected after leaving the session of before's shopper,
// paired, the seller's next Request of basket is the first of c, which
// w's shopper pays, and that before's shopper paid charged in all.
func (w *phoneWorld) requireServedNext(tb testing.TB, c *payflow.Confirmation, before *phoneWorld, charged uint64) {
	tb.Helper()
	ctx := context.Background()
	_, err := w.shopper.WaitPaired(ctx)
	require.NoError(tb, err)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(tb, err)
	assert.Equal(tb, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
	assert.Equal(tb, w.shopperCard.Enrolment.ICCID, sv.PayerCardID)
	w.requireShopperPays(tb, sv, 690)
	assert.Equal(tb, payflow.Balance{Posted: phoneFunds - charged}, before.balance(tb, before.shopperCard.Enrolment.ICCID))
}

// requirePaid requires err to be the *PaidError (ErrFinal) of the paid
// request id, its captured view.
func requirePaid(t *testing.T, err error, id payflow.ID) {
	t.Helper()
	require.ErrorIs(t, err, payflow.ErrFinal)
	paid, ok := errors.AsType[*payflow.PaidError](err)
	require.True(t, ok, "%v is a *PaidError", err)
	assert.Equal(t, id, paid.Payment.ID)
	assert.Equal(t, payflow.StateCaptured, paid.Payment.State)
	assert.Contains(t, err.Error(), id.String())
}

// requireShownPaid has the shopper pay the request of basket that the
// seller made without an answer, and checks that the next Request puts
// it on screen and fails with ErrFinal instead of asking again, and that
// the shopper paid once.
func (w *phoneWorld) requireShownPaid(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(690), screen.Amount)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)

	_, err = w.seller.Request(ctx, basket)
	requirePaid(t, err, screen.ID)
	view, src, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, screen.ID, view.ID)
	assert.Equal(t, payflow.StateCaptured, view.State)
	assert.Equal(t, uint64(690), src.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerRequestAfterLostReplyShowsPaidOverEarlier: a payment request
// whose reply was lost, made after another that the shopper paid and that
// is on screen, and then paid too, takes the screen from the earlier one
// as the next Request sends it again: that Request fails with ErrFinal,
// and Wait shows the later payment with its receipt.
func TestSellerRequestAfterLostReplyShowsPaidOverEarlier(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &faultAPI{API: w.f.Platform}
	w.useSeller(t, api)
	w.pair(t)
	earlier, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	w.requireShopperPays(t, earlier, 100)
	api.create.reply.failNextWith(payflow.ErrUnavailable) // the reply of the next request is lost
	_, err = w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.NotEqual(t, earlier.ID, screen.ID)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)

	_, err = w.seller.Request(ctx, basket)
	requirePaid(t, err, screen.ID)
	w.requireShownCaptured(t, screen.ID, 690)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 790}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerRequestAnsweredNotByThePlatform: a payment request that the
// platform recorded, its reply lost, and that a gateway or proxy then
// answered in the platform's stead, or rate_limited (noVerdicts), as a
// retry of the call that sent it or when the next Request sent it again,
// got no verdict of the platform: the phone keeps it, and once the shopper
// paid it, the Request after puts it on screen and fails with ErrFinal
// instead of asking again. The shopper pays once.
func TestSellerRequestAnsweredNotByThePlatform(t *testing.T) {
	ctx := context.Background()
	// setup pairs the phones, the seller's through a middlebox.
	setup := func(t *testing.T) (*phoneWorld, *middlebox) {
		w := newMemoryPhoneWorld(t, false)
		mb := newMiddlebox(t, w.f.Platform)
		w.useSeller(t, mb.client(t))
		w.pair(t)
		return w, mb
	}
	for _, tc := range noVerdicts(t) {
		t.Run("first attempt recorded it/"+tc.name, func(t *testing.T) {
			w, mb := setup(t)
			mb.answer("/v1/requests", lostReply)
			mb.answer("/v1/requests", tc.answers(1)...)
			_, err := w.seller.Request(ctx, basket)
			require.ErrorIs(t, err, tc.want)
			w.requireShownPaid(t)
		})
		t.Run("kept and sent again/"+tc.name, func(t *testing.T) {
			w, mb := setup(t)
			mb.answer("/v1/requests", lostReply)
			mb.answer("/v1/requests", repeatAnswer(bareReply(http.StatusServiceUnavailable), payflow.DefaultMaxAttempts-1)...)
			_, err := w.seller.Request(ctx, basket)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			mb.answer("/v1/requests", tc.answers(0)...)
			_, err = w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.ErrorIs(t, err, tc.want)
			w.requireShownPaid(t)
		})
	}
}

// firstRefundAPI answers the first refund with first, in place of the
// platform, and passes the others on.
type firstRefundAPI struct {
	payflow.API
	first func(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error)
	mu    sync.Mutex
	done  bool
}

func (a *firstRefundAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	a.mu.Lock()
	first := !a.done
	a.done = true
	a.mu.Unlock()
	if first {
		return a.first(ctx, req)
	}
	return a.API.Refund(ctx, req)
}

// loseFirstRefund returns api with the reply of its first refund lost, as
// a connection that drops after the refund went out: the platform makes
// it, and the call fails with ErrUnavailable.
func loseFirstRefund(api payflow.API) *faultAPI {
	a := &faultAPI{API: api}
	a.refund.reply.failNextWith(payflow.ErrUnavailable)
	return a
}

// requireRefundAfterRefusal has the card of the seller, whose refund of
// 240 after a purchase of basket never reached the platform, sign a login,
// so that the platform refuses the refund's counter when it is sent again,
// and checks that the next Refund makes a new refund of 240, and that the
// shopper gets 240 back once.
func (w *phoneWorld) requireRefundAfterRefusal(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	_, err := w.seller.Login(ctx)
	require.NoError(t, err)
	rc, err := w.seller.Refund(ctx, 240)
	require.NoError(t, err)
	assert.Equal(t, uint64(240), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	assert.Equal(t, payflow.Balance{Posted: 690 - 240}, w.balance(t, phoneMerchant))
}

func TestSellerRefundAfterLostReply(t *testing.T) {
	ctx := context.Background()
	// setup has the seller, after a purchase of basket, ask for a refund of
	// 240 through the platform as wrap wraps it, and returns the error the
	// seller got.
	setup := func(t *testing.T, wrap func(api payflow.API) payflow.API) (*phoneWorld, error) {
		w := newMemoryPhoneWorld(t, false)
		w.useSeller(t, wrap(w.f.Platform))
		w.pair(t)
		w.purchase(t)
		_, err := w.seller.Refund(ctx, 240)
		require.Error(t, err)
		return w, err
	}
	lost := func(api payflow.API) payflow.API { return loseFirstRefund(api) }
	shopperBalance := func(t *testing.T, w *phoneWorld) payflow.Balance {
		return w.balance(t, w.shopperCard.Enrolment.ICCID)
	}
	t.Run("asked again, the refund is made once", func(t *testing.T) {
		w, err := setup(t, lost)
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		rc, err := w.seller.Refund(ctx, 240)
		require.NoError(t, err)
		assert.Equal(t, uint64(240), rc.Amount)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, shopperBalance(t, w))
		assert.Equal(t, payflow.Balance{Posted: 690 - 240}, w.balance(t, phoneMerchant))
	})
	t.Run("another amount is refused while the first one was made", func(t *testing.T) {
		w, err := setup(t, lost)
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		first, err := w.seller.Status(ctx)
		require.NoError(t, err)
		_, err = w.seller.Refund(ctx, 100)
		require.ErrorIs(t, err, payflow.ErrConflict)
		var made *payflow.RefundMadeError
		require.ErrorAs(t, err, &made, "the receipt of the refund made comes with the error")
		assert.Equal(t, record.ReceiptRefund, made.Receipt.Kind)
		assert.Equal(t, uint64(240), made.Receipt.Amount)
		assert.NotEmpty(t, made.Receipt.Signed)
		assert.Equal(t, first.ID, made.RequestID)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, shopperBalance(t, w))
		rc, err := w.seller.Refund(ctx, 100)
		require.NoError(t, err)
		assert.Equal(t, uint64(100), rc.Amount)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 340}, shopperBalance(t, w))
	})
	t.Run("a refund made with a receipt that does not verify is not made again", func(t *testing.T) {
		w, err := setup(t, func(api payflow.API) payflow.API {
			return &firstRefundAPI{API: api, first: func(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
				v, err := api.Refund(ctx, req)
				if err == nil {
					v.Receipt[len(v.Receipt)-1] ^= 1
				}
				return v, err
			}}
		})
		require.ErrorIs(t, err, payflow.ErrSignature)
		rc, err := w.seller.Refund(ctx, 240)
		require.NoError(t, err)
		assert.Equal(t, uint64(240), rc.Amount)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, shopperBalance(t, w))
	})
	t.Run("a refund that the platform then refuses gives way to a new one", func(t *testing.T) {
		w, err := setup(t, func(api payflow.API) payflow.API {
			a := &faultAPI{API: api}
			a.refund.send.failNextWith(payflow.ErrUnavailable) // it never reached the platform
			return a
		})
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		w.requireRefundAfterRefusal(t)
	})
}

// heldUpAPI passes calls on to the platform. Once armed, the first
// refund or catalog fetch that reaches it closes held and waits until
// release is closed; calls counts the refunds and catalog fetches that
// reach it while it is armed.
type heldUpAPI struct {
	payflow.API
	armed         atomic.Bool
	held, release chan struct{}
	calls         atomic.Int32
}

func newHeldUpAPI(api payflow.API) *heldUpAPI {
	return &heldUpAPI{API: api, held: make(chan struct{}), release: make(chan struct{})}
}

func (a *heldUpAPI) holdUp() {
	if a.armed.Load() && a.calls.Add(1) == 1 {
		close(a.held)
		<-a.release
	}
}

func (a *heldUpAPI) Refund(ctx context.Context, req *payflow.RefundRequest) (*payflow.RefundView, error) {
	a.holdUp()
	return a.API.Refund(ctx, req)
}

func (a *heldUpAPI) Catalog(ctx context.Context, token string, merchantID string) (*payflow.Catalog, error) {
	a.holdUp()
	return a.API.Catalog(ctx, token, merchantID)
}

// requireWaitOnlyWhileCtxLasts arms api and runs call twice: first with a
// context that lasts, which api holds up, and then, while it is held up,
// with a context that ended, which must fail with its cause alone
// (errCallerGone), api seeing no second call. It then lets the first call
// go on and returns its error.
func requireWaitOnlyWhileCtxLasts(t *testing.T, api *heldUpAPI, call func(context.Context) error) error {
	t.Helper()
	api.armed.Store(true)
	first := make(chan error, 1)
	go func() { first <- call(context.Background()) }()
	release := sync.OnceFunc(func() { close(api.release) })
	defer release()
	select {
	case <-api.held:
	case err := <-first:
		t.Fatalf("the first call returned %v before the platform held it up", err)
	}
	ended, cancel := withCancelCause(context.Background())
	cancel()
	second := make(chan error, 1)
	go func() { second <- call(ended) }()
	require.Equal(t, errCallerGone, within(t, second, "the call with an ended context"))
	assert.Equal(t, int32(1), api.calls.Load(), "the platform saw no second call")
	release()
	return <-first
}

// TestSellerRefundWaitsForAnotherWhileCtxLasts: a Refund that comes while
// another is held up in the platform's call waits for it only as long as
// its own context lasts: with one that ended it fails with that
// context's cause, sending nothing and the card signing nothing; the
// first Refund then returns its receipt, and the shopper gets 240 back
// once.
func TestSellerRefundWaitsForAnotherWhileCtxLasts(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	api := newHeldUpAPI(w.f.Platform)
	w.useSeller(t, api)
	w.pair(t)
	w.purchase(t)
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	var rc *payflow.Receipt
	err = requireWaitOnlyWhileCtxLasts(t, api, func(ctx context.Context) error {
		got, err := w.seller.Refund(ctx, 240)
		if ctx.Err() == nil {
			rc = got
		}
		return err
	})
	require.NoError(t, err)
	assert.Equal(t, uint64(240), rc.Amount)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter+1, after, "the card signed the first refund alone")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerCatalogWaitsForAnotherWhileCtxLasts: a Catalog that comes
// while another fetches the catalog, held up in the platform's call,
// waits for it only as long as its own context lasts: with one that
// ended it fails with that context's cause, asking the platform nothing;
// the first Catalog then returns the catalog, which the phone keeps.
func TestSellerCatalogWaitsForAnotherWhileCtxLasts(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	api := newHeldUpAPI(w.f.Platform)
	w.useSeller(t, api)
	require.NoError(t, requireWaitOnlyWhileCtxLasts(t, api, func(ctx context.Context) error {
		_, err := w.seller.Catalog(ctx)
		return err
	}))
	c, err := w.seller.Catalog(context.Background())
	require.NoError(t, err)
	assert.Equal(t, phoneCatalog, c.Items)
	assert.Equal(t, int32(1), api.calls.Load(), "the catalog kept, not fetched again")
}

// TestSellerRefundAnsweredNotByThePlatform: a refund whose reply was lost,
// sent again by the next Refund and answered then by a gateway or proxy in
// the platform's stead, or rate_limited, got no verdict of the platform
// (noVerdicts): the call fails with that error, the phone keeps the
// refund and signs no other, and the next Refund returns its receipt. The
// same holds for a new refund whose first attempt made it on the platform,
// its reply lost, and whose retry such a reply answered. The shopper gets
// 240 back once.
func TestSellerRefundAnsweredNotByThePlatform(t *testing.T) {
	ctx := context.Background()
	refundOnce := func(t *testing.T, w *phoneWorld) {
		t.Helper()
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		assert.Equal(t, payflow.Balance{Posted: 690 - 240}, w.balance(t, phoneMerchant))
	}
	for _, tc := range noVerdicts(t) {
		t.Run("kept and sent again/"+tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			mb := newMiddlebox(t, w.f.Platform)
			client := mb.client(t)
			w.useSeller(t, loseFirstRefund(client))
			w.pair(t)
			w.purchase(t)
			_, err := w.seller.Refund(ctx, 240)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			refundOnce(t, w)

			mb.answer("/v1/refunds", tc.answers(0)...)
			counter, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			_, err = w.seller.Refund(ctx, 240)
			require.ErrorIs(t, err, tc.want)
			after, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, counter, after, "no other refund signed")
			refundOnce(t, w)

			rc, err := w.seller.Refund(ctx, 240)
			require.NoError(t, err)
			assert.Equal(t, uint64(240), rc.Amount)
			refundOnce(t, w)
		})
		t.Run("first attempt made it/"+tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			mb := newMiddlebox(t, w.f.Platform)
			w.useSeller(t, mb.client(t))
			w.pair(t)
			w.purchase(t)
			mb.answer("/v1/refunds", lostReply)
			mb.answer("/v1/refunds", tc.answers(1)...)
			_, err := w.seller.Refund(ctx, 240)
			require.ErrorIs(t, err, tc.want)
			refundOnce(t, w)

			rc, err := w.seller.Refund(ctx, 240)
			require.NoError(t, err)
			assert.Equal(t, uint64(240), rc.Amount)
			refundOnce(t, w)
		})
	}
	t.Run("a refund that the platform refuses over HTTP gives way to a new one", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		mb := newMiddlebox(t, w.f.Platform)
		w.useSeller(t, mb.client(t))
		w.pair(t)
		w.purchase(t)
		// The refund never reaches the platform, whose refusal of it
		// comes later in its error body.
		mb.answer("/v1/refunds", repeatAnswer(bareReply(http.StatusServiceUnavailable), payflow.DefaultMaxAttempts)...)
		_, err := w.seller.Refund(ctx, 240)
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		w.requireRefundAfterRefusal(t)
	})
}

// TestSellerRequestPastManyTakenIndexes: a seller phone started again in
// a session whose first 20 request indexes its earlier run used moves past
// 16 of them in one Request, which fails with ErrConflict, and the next
// Request goes on from there and the shopper finds it.
func TestSellerRequestPastManyTakenIndexes(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	c := w.pair(t)
	w.askAndCancel(t, 20)
	w.useSeller(t, w.f.Platform)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")

	_, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrConflict)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 20), sv.ID)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, screen.ID)
	assert.Equal(t, uint64(690), screen.Amount)
}

// TestSellerRequestAfterSelectingTheSameShopperAgain: a seller that
// selects again a shopper it sold to more times in the session than
// Request moves past taken indexes in one call lands in the same session
// and keeps its request index there: the next Request takes the index
// after its last sale at once, the card signing one payment request, and
// the shopper pays it.
func TestSellerRequestAfterSelectingTheSameShopperAgain(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	c := w.pair(t)
	const sales = 20
	w.sell(t, sales)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")

	before, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 250, Currency: "EUR"})
	require.NoError(t, err)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before+1, after, "the card signed one payment request")
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, sales), sv.ID)
	assert.Equal(t, c.SessionID, sv.SessionID)
	assert.Equal(t, payflow.StatePending, sv.State)
	assert.Equal(t, phoneMerchant, sv.MerchantID)
	assert.Equal(t, w.shopperCard.Enrolment.ICCID, sv.PayerCardID)
	assert.Equal(t, "EUR", sv.Currency)
	assert.Equal(t, uint64(250), sv.Amount)
	assert.Zero(t, sv.Captured)
	assert.Equal(t, "Corner Shop", sv.MerchantName)
	onPlatform, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv, onPlatform, "the view is the platform's")
	w.requireShopperPays(t, sv, sales*100+250)
}

// TestSellerRequestBackFromAnotherShopper: a seller that sold to a
// shopper more times than Request moves past taken indexes in one call,
// then to another shopper, and then selects the first again in the same
// EID epoch is back in the first session and at the index after its last
// sale there, which Select kept: the next Request takes it at once, the
// card signing one payment request, and the shopper pays it. Back with the
// second shopper, the same holds there.
func TestSellerRequestBackFromAnotherShopper(t *testing.T) {
	ctx := context.Background()
	a := newMemoryPhoneWorld(t, false)
	b := a.withShopper(t, "Bob", payflow.ID{0xf2})
	ca := a.pair(t)
	const sales = 20
	a.sell(t, sales)
	cb := b.pair(t)
	require.NotEqual(t, ca.SessionID, cb.SessionID)
	sv, err := b.seller.Request(ctx, basket)
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(cb.SessionID, 0), sv.ID)
	b.requireShopperPays(t, sv, 690)

	sv = a.requireBackAt(t, ca, payflow.Charge{Amount: 250, Currency: "EUR"}, sales, 1, sales*100+250)
	assert.Equal(t, ca.SessionID, sv.SessionID)
	assert.Equal(t, payflow.StatePending, sv.State)
	assert.Equal(t, a.shopperCard.Enrolment.ICCID, sv.PayerCardID)
	assert.Equal(t, uint64(250), sv.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, b.balance(t, b.shopperCard.Enrolment.ICCID))
	b.requireBackAt(t, cb, payflow.Charge{Amount: 250, Currency: "EUR"}, 1, 1, 690+250)
	assert.Equal(t, payflow.Balance{Posted: sales*100 + 250 + 690 + 250}, a.balance(t, phoneMerchant))
}

// TestSellerKeepsRequestIndexesOfLastSessions: a seller keeps the next
// request index of the 16 sessions it selected last, the one selected
// among them (Seller.Select). Back with a shopper after selecting 15
// others, its next Request there takes the index after its sale at once;
// after 16 others, the session's index is forgotten and Request starts at
// index 0 again, which the sale holds: the card signs a request there,
// which the platform refuses as taken, and then one at index 1.
func TestSellerKeepsRequestIndexesOfLastSessions(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		others int
		signed uint64
	}{{15, 1}, {16, 2}} {
		t.Run(fmt.Sprintf("%d others", tt.others), func(t *testing.T) {
			f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{
				// Room for the seller card's resolutions and pairings.
				Platform: payflow.PlatformOptions{ResolveBurst: 100},
			})
			w := newPhoneWorld(t, f, nil, false)
			c := w.pair(t)
			sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			w.requireShopperPays(t, sv, 100)
			sessions := map[payflow.ID]bool{c.SessionID: true}
			for i := range tt.others {
				p := w.hears(t, w.seller.Queue(), enrolPhoneCard(t, f, fmt.Sprintf("Shopper %02d", i)), adv.Shopper, -60)
				o, err := w.seller.Select(ctx, p.EID)
				require.NoError(t, err)
				sessions[o.SessionID] = true
			}
			require.Len(t, sessions, tt.others+1, "each selection is of another session")
			w.requireBackAt(t, c, basket, 1, tt.signed, 100+690)
		})
	}
}

// TestSellerRequestAnsweredAfterAnotherShopperSelected: a seller's Request
// whose answer arrives after another shopper was selected, which fails
// with ErrNotPaired and withdraws the request, holds its index in the
// first session all the same: back with the first shopper, the next
// Request takes the index after it at once, the card signing one payment
// request, and the shopper pays it.
func TestSellerRequestAnsweredAfterAnotherShopperSelected(t *testing.T) {
	ctx := context.Background()
	a, b, api := hookedSellerWorlds(t)
	ca := a.pair(t)
	var cb *payflow.Confirmation
	api.create = func() { cb = b.pair(t) }
	_, err := a.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	require.NotNil(t, cb)
	require.NotEqual(t, ca.SessionID, cb.SessionID)
	old, err := a.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(ca.SessionID, 0))
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, old.State, "the request is withdrawn")
	a.requireBackAt(t, ca, basket, 1, 1, 690)
}

// TestSellerRequestAnsweredWithAnotherAfterAnotherShopperSelected: a
// seller's Request whose answer, the view of another request, arrives
// after another shopper was selected fails with ErrMismatch and keeps the
// request, which the first shopper's phone would show: the next Request,
// the first of the other shopper's session, cancels it before it asks at
// that session's index 0, and the other shopper pays it. Having found the
// request recorded, the phone counts its index as taken in the first
// shopper's session: back with that shopper, the next Request takes the
// index after it at once, the card signing one payment request.
func TestSellerRequestAnsweredWithAnotherAfterAnotherShopperSelected(t *testing.T) {
	ctx := context.Background()
	a, b, api := hookedSellerWorlds(t)
	ca := a.pair(t)
	var cb *payflow.Confirmation
	api.mu.Lock()
	api.create = func() { cb = b.pair(t) }
	api.view = func(v *payflow.PaymentView) { v.Amount++ }
	api.mu.Unlock()
	_, err := a.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	require.NotNil(t, cb)
	old := payflow.SessionRequestID(ca.SessionID, 0)
	a.assertState(t, old, payflow.StatePending)
	b.requireServedNext(t, cb, a, 0)
	a.assertState(t, old, payflow.StateCancelled, "withdrawn before the other shopper's request")
	a.requireBackAt(t, ca, basket, 1, 1, 690)
}

// TestSellerRequestPastTakenIndexesSelectingAnother: a seller phone
// started again in a session whose first 20 request indexes its earlier
// run used, whose Request moves past 17 of them while the phone selects
// another shopper, keeps them as taken in the first session: back with
// the first shopper, the next Request moves past the 3 left and takes
// index 20, the card signing 4 payment requests, and the shopper pays it.
func TestSellerRequestPastTakenIndexesSelectingAnother(t *testing.T) {
	// After the last index that Request tries, the seller selects the
	// other shopper.
	a, ca, created, err := requestSelectingAnotherAfter(t, 17)
	require.ErrorIs(t, err, payflow.ErrConflict)
	require.Equal(t, 17, created)
	a.requireBackAt(t, ca, basket, 20, 4, 690)
}

// requestSelectingAnotherAfter starts a seller phone again in a session
// whose first 20 request indexes its earlier run used, and has it Request
// while it selects another shopper once the platform answered n of its
// payment requests. It returns the world, the session, how many payment
// requests the platform answered and Request's error.
func requestSelectingAnotherAfter(t *testing.T, n int) (a *phoneWorld, ca *payflow.Confirmation, created int, err error) {
	a, ca, api := restartedInTakenSession(t, 20)
	b := a.withShopper(t, "Bob", payflow.ID{0xf2})
	a.pair(t)
	var hook func()
	hook = func() {
		if created++; created == n {
			b.pair(t)
		} else {
			api.create = hook
		}
	}
	api.create = hook
	_, err = a.seller.Request(context.Background(), basket)
	return a, ca, created, err
}

// restartedInTakenSession returns a world whose seller phone, started
// again and talking to the platform through the hookAPI returned, is
// paired in session ca, whose first taken request indexes its earlier run
// used.
func restartedInTakenSession(t *testing.T, taken int) (a *phoneWorld, ca *payflow.Confirmation, api *hookAPI) {
	a = newMemoryPhoneWorld(t, false)
	ca = a.pair(t)
	a.askAndCancel(t, taken)
	api = &hookAPI{API: a.f.Platform}
	a.useSeller(t, api)
	require.Equal(t, ca.SessionID, a.pair(t).SessionID, "the same session again")
	return a, ca, api
}

// TestSellerRequestWithdrawFailingPastTakenIndexes: a seller phone started
// again in a session whose first 20 request indexes its earlier run used,
// whose Request moves past 4 of them and then cannot look up the request
// at the fifth to withdraw it (the platform does not answer), keeps the 4
// as taken: the next Request goes on at the fifth and takes index 20, the
// card signing 17 payment requests (16 would have been the limit from 0),
// and the shopper pays it.
func TestSellerRequestWithdrawFailingPastTakenIndexes(t *testing.T) {
	a, ca, api := restartedInTakenSession(t, 20)
	api.mu.Lock()
	api.paymentID, api.paymentErr = payflow.SessionRequestID(ca.SessionID, 4), payflow.ErrUnavailable
	api.mu.Unlock()
	_, err := a.seller.Request(context.Background(), basket)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	a.requireBackAt(t, ca, basket, 20, 17, 690)
}

// TestSellerRequestUnansweredPastTakenIndexes: a seller phone started
// again in a session whose first 20 request indexes its earlier run used,
// whose Request moves past 4 of them and then gets no answer to its
// payment request at the fifth, keeps the 4 as taken: the next Request
// sends the unanswered one again (refused: the index is taken), goes on
// at the fifth and takes index 20, the card signing 17 payment requests
// (16 would have been the limit from 0), and the shopper pays it.
func TestSellerRequestUnansweredPastTakenIndexes(t *testing.T) {
	a, ca, api := restartedInTakenSession(t, 20)
	calls := 0
	api.createErr = func() error {
		if calls++; calls == 5 {
			return payflow.ErrUnavailable
		}
		return nil
	}
	_, err := a.seller.Request(context.Background(), basket)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.Equal(t, 5, calls)
	a.requireBackAt(t, ca, basket, 20, 17, 690)
}

// TestSellerRequestAnsweredWithAnotherPastTakenIndexes: a seller phone
// started again in a session whose first 5 request indexes its earlier
// run used, whose Request moves past them and is answered at index 5 with
// the view of another request, fails with ErrMismatch, keeps the 5 as
// taken and keeps the request: the next Request sends it again first and
// withdraws it, as the shopper would be shown it first, and, having found
// it recorded at index 5, takes index 6 at once, the card signing one
// payment request (7 from index 0), and the shopper pays it.
func TestSellerRequestAnsweredWithAnotherPastTakenIndexes(t *testing.T) {
	ctx := context.Background()
	a, ca, api := restartedInTakenSession(t, 5)
	api.mu.Lock()
	api.view = func(v *payflow.PaymentView) { v.Amount++ }
	api.mu.Unlock()
	_, err := a.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	a.requireBackAt(t, ca, basket, 6, 1, 690)
	r, err := a.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(ca.SessionID, 5))
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, r.State, "the request answered with another's view is withdrawn")
}

// TestSellerRequestAnsweredWithAnotherPaidMeanwhile: a payment request
// that the platform recorded and answered with the view of another
// request (here of another amount) fails with ErrMismatch and is kept, as
// one without an answer. The shopper, whose phone shows it, pays it: the
// next Request sends it again first, and while the platform answers that
// with the view of another request too, fails with ErrMismatch and asks
// nothing; once the platform answers with its view, Request fails with a
// *PaidError naming it and puts it on screen with its receipt, instead of
// moving past its index and asking at the next one, which the shopper
// would pay again.
func TestSellerRequestAnsweredWithAnotherPaidMeanwhile(t *testing.T) {
	ctx := context.Background()
	a, _, api := hookedSellerWorlds(t)
	ca := a.pair(t)
	another := func(v *payflow.PaymentView) { v.Amount++ }
	charge := payflow.Charge{Amount: 100, Currency: "EUR"}
	api.mu.Lock()
	api.view = another
	api.mu.Unlock()
	_, err := a.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	paid, next := payflow.SessionRequestID(ca.SessionID, 0), payflow.SessionRequestID(ca.SessionID, 1)
	a.shopperApproves(t)
	a.assertState(t, paid, payflow.StateCaptured)

	api.mu.Lock()
	api.view = another
	api.mu.Unlock()
	_, err = a.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrMismatch, "one paid is not taken as paid")
	_, err = a.f.Platform.Store().Payment(ctx, next)
	require.ErrorIs(t, err, payflow.ErrNotFound, "nothing asked")

	_, err = a.seller.Request(ctx, charge)
	requirePaid(t, err, paid)
	_, err = a.f.Platform.Store().Payment(ctx, next)
	require.ErrorIs(t, err, payflow.ErrNotFound, "nothing asked")
	a.requireShownCaptured(t, paid, 100)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, a.balance(t, a.shopperCard.Enrolment.ICCID), "the shopper paid once")
}

// TestSellerSelectWithdrawsRequestAnsweredWithAnother: a payment request
// that the platform recorded and answered with the view of another
// request, which the shopper's phone shows, is withdrawn by the seller's
// Select of another shopper before it selects, as one without an answer:
// while the platform answers it with the view of another request again,
// Select fails with ErrMismatch, returns no confirmation and leaves it
// payable; once the platform answers with its view, Select cancels it and
// selects the other shopper, the first shopper's approval fails with
// ErrFinal and charges nothing, and the other shopper pays the next
// request, the first of its session.
func TestSellerSelectWithdrawsRequestAnsweredWithAnother(t *testing.T) {
	ctx := context.Background()
	a, b, api := hookedSellerWorlds(t)
	ca := a.pair(t)
	another := func(v *payflow.PaymentView) { v.Amount++ }
	api.mu.Lock()
	api.view = another
	api.mu.Unlock()
	_, err := a.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	id := payflow.SessionRequestID(ca.SessionID, 0)
	screen, err := a.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, id, screen.ID)
	bobEID, _ := b.shopperSelects(t)

	api.mu.Lock()
	api.view = another
	api.mu.Unlock()
	c, err := a.seller.Select(ctx, bobEID)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Nil(t, c, "nothing selected")
	a.assertState(t, id, payflow.StatePending)

	c, err = a.seller.Select(ctx, bobEID)
	require.NoError(t, err)
	a.assertState(t, id, payflow.StateCancelled, "withdrawn before the other shopper is selected")
	_, err = a.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrFinal)
	b.requireServedNext(t, c, a, 0)
}

// TestSellerRequestSelectingAnotherBetweenTakenIndexes: a seller phone
// started again in a session whose first 20 request indexes its earlier
// run used, whose Request moves past 5 of them and then finds another
// shopper selected, fails with ErrNotPaired before the card signs at the
// next index, and keeps the 5 as taken: back with the first shopper, the
// next Request moves past the 15 left and takes index 20, the card
// signing 16 payment requests, and the shopper pays it.
func TestSellerRequestSelectingAnotherBetweenTakenIndexes(t *testing.T) {
	a, ca, created, err := requestSelectingAnotherAfter(t, 5)
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	require.Equal(t, 5, created, "no request signed after the selection")
	a.requireBackAt(t, ca, basket, 20, 16, 690)
}

// TestSellerRequestWhileSelectingAnother: a seller's Request during which
// another shopper is selected, before the card signs (here as it looks up
// the request on screen to withdraw it), fails with ErrNotPaired and asks
// nothing, rather than ask in the first session at the other session's
// index, which would leave indexes unused before it, where the shopper
// would wait. Back with the first shopper, the next Request takes the
// index after the withdrawn request, and the shopper pays it.
func TestSellerRequestWhileSelectingAnother(t *testing.T) {
	ctx := context.Background()
	a, b, api := hookedSellerWorlds(t)
	b.pair(t)
	b.sell(t, 3)
	ca := a.pair(t)
	shown, err := a.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(ca.SessionID, 0), shown.ID)
	api.mu.Lock()
	api.paymentID, api.payment = shown.ID, func() { b.pair(t) }
	api.mu.Unlock()
	_, err = a.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	r, err := a.f.Platform.Store().Payment(ctx, shown.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, r.State, "withdrawn as the other shopper was selected")
	for n := uint32(1); n <= 3; n++ {
		_, err = a.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(ca.SessionID, n))
		require.ErrorIs(t, err, payflow.ErrNotFound, "index %d", n)
	}
	a.requireBackAt(t, ca, basket, 1, 1, 690)
}

// hookedSellerWorlds returns a world whose seller phone talks to the
// platform through the hookAPI returned, and a world of the same platform
// and seller phone with another shopper, Bob (withShopper).
func hookedSellerWorlds(t *testing.T) (a, b *phoneWorld, api *hookAPI) {
	t.Helper()
	a = newMemoryPhoneWorld(t, false)
	api = &hookAPI{API: a.f.Platform}
	a.useSeller(t, api)
	return a, a.withShopper(t, "Bob", payflow.ID{0xf2}), api
}

// sell has the seller ask for 100 EUR and the shopper pay it, n times,
// the shopper's first payments in all.
func (w *phoneWorld) sell(tb testing.TB, n uint64) {
	tb.Helper()
	for i := range n {
		sv, err := w.seller.Request(context.Background(), payflow.Charge{Amount: 100, Currency: "EUR"})
		require.NoError(tb, err)
		w.requireShopperPays(tb, sv, (i+1)*100)
	}
}

// askAndCancel has the seller ask for 100 EUR and cancel the request, n
// times, which takes the session's next n request indexes.
func (w *phoneWorld) askAndCancel(tb testing.TB, n int) {
	tb.Helper()
	ctx := context.Background()
	for range n {
		_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
		require.NoError(tb, err)
		_, err = w.seller.Cancel(ctx)
		require.NoError(tb, err)
	}
}

// requireBackAt has w's phones select each other again, in session c,
// and checks that the seller's next Request of charge takes index n, the
// card signing signed payment requests for it, and that the shopper pays
// it, having paid charged in all. It returns the seller's request.
func (w *phoneWorld) requireBackAt(tb testing.TB, c *payflow.Confirmation, charge payflow.Charge, n uint32, signed, charged uint64) *payflow.PaymentView {
	tb.Helper()
	require.Equal(tb, c.SessionID, w.pair(tb).SessionID, "the same session again")
	before, err := w.sellerCard.Card.Counter()
	require.NoError(tb, err)
	sv, err := w.seller.Request(context.Background(), charge)
	require.NoError(tb, err)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(tb, err)
	assert.Equal(tb, signed, after-before, "the payment requests the card signed")
	assert.Equal(tb, payflow.SessionRequestID(c.SessionID, n), sv.ID)
	w.requireShopperPays(tb, sv, charged)
	return sv
}

// TestSellerRequestAcrossSelect: a seller's Request whose answer arrives
// after another session was selected fails with ErrNotPaired, puts nothing
// on screen, leaves the new session's request indexes alone and withdraws
// the request it made in the old session; the new session's first request
// is its index 0, which the shopper finds.
func TestSellerRequestAcrossSelect(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useSeller(t, api)
	first := w.pairPastARequest(t)
	var second *payflow.Confirmation
	api.create = func() {
		// While the answer to the first session's second request is on
		// its way, the phones select each other again.
		second = w.pair(t)
	}
	_, err := w.seller.Request(ctx, payflow.Charge{Amount: 200, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	require.NotNil(t, second)
	require.NotEqual(t, first.SessionID, second.SessionID)
	_, err = w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing of the old session on screen")
	old, err := w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(first.SessionID, 1))
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, old.State, "the old session's request is withdrawn")

	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	w.requireFirstRequest(t, second, sv)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerRequestWithdrawsPendingOnScreen: the shopper finds a session's
// requests in order, so a seller's Request made while the request on
// screen is still pending cancels that one first, and the shopper is shown
// the new one. A request on screen that the shopper paid meanwhile is left
// paid and goes on screen with its receipt: that Request fails with
// ErrFinal and asks nothing, so that the seller sees the payment before
// asking again, and the next Request makes the new request.
func TestSellerRequestWithdrawsPendingOnScreen(t *testing.T) {
	ctx := context.Background()
	for _, paid := range []bool{false, true} {
		t.Run(map[bool]string{false: "withdrawn", true: "paid meanwhile"}[paid], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			c := w.pair(t)
			first, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			want, charged := payflow.StateCancelled, uint64(690)
			if paid {
				w.shopperApproves(t)
				want, charged = payflow.StateCaptured, 790

				_, err = w.seller.Request(ctx, basket)
				requirePaid(t, err, first.ID)
				_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, 1))
				require.ErrorIs(t, err, payflow.ErrNotFound, "no request is made while the paid one was not shown")
				v, src, err := w.seller.Wait(ctx)
				require.NoError(t, err)
				assert.Equal(t, first.ID, v.ID)
				assert.Equal(t, payflow.StateCaptured, v.State)
				require.NotNil(t, src, "the receipt of the payment on screen")
			}
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
			r, err := w.f.Platform.Store().Payment(ctx, first.ID)
			require.NoError(t, err)
			assert.Equal(t, want, r.State)
			w.requireShopperPays(t, sv, charged)
		})
	}
}

// TestSellerWithdrawsScreenCancelledMeanwhile: a Request or Select that
// withdraws the pending request on screen goes on when a Cancel (of
// another goroutine) withdraws that request and takes it off the screen
// just after the call read the screen: the request is cancelled, and the
// call makes the next request, at the next index, or selects the session.
func TestSellerWithdrawsScreenCancelledMeanwhile(t *testing.T) {
	ctx := context.Background()
	for _, call := range []string{"Request", "Select"} {
		t.Run(call, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			c := w.pair(t)
			first, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			var cancelled atomic.Bool
			payflow.OnScreenRead(w.seller, func() {
				if cancelled.Swap(true) {
					return
				}
				v, err := w.seller.Cancel(ctx)
				require.NoError(t, err)
				require.Equal(t, first.ID, v.ID)
				require.Equal(t, payflow.StateCancelled, v.State)
			})
			if call == "Select" {
				require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
			}
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			require.True(t, cancelled.Load())
			assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
			w.assertState(t, first.ID, payflow.StateCancelled)
			w.requireShopperPays(t, sv, 690)
		})
	}
}

// TestSellerCatalogChanged: a Request priced with a catalog that changed
// since the phone fetched it is refused by the platform (ErrMismatch); the
// phone then fetches the catalog again, and the next Request is priced
// with it.
func TestSellerCatalogChanged(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	w.purchase(t)
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, []payflow.CatalogItem{
		{SKU: "apple", Name: "Apple", UnitPrice: 130},
		{SKU: "bread", Name: "Sourdough bread", UnitPrice: 450},
	}))
	_, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, uint64(710), sv.Amount)
	c, err := w.seller.Catalog(ctx)
	require.NoError(t, err)
	assert.Equal(t, uint64(130), c.Items[0].UnitPrice)

	// A SKU added since the phone fetched the catalog.
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, []payflow.CatalogItem{{SKU: "milk", Name: "Milk", UnitPrice: 99}}))
	milk := payflow.Charge{Items: []record.Item{{SKU: "milk", Quantity: 2}}}
	_, err = w.seller.Request(ctx, milk)
	require.ErrorIs(t, err, payflow.ErrInvalid)
	sv, err = w.seller.Request(ctx, milk)
	require.NoError(t, err)
	assert.Equal(t, uint64(198), sv.Amount)
}

// askedCard is a SellerCard that counts the records it is asked to sign.
type askedCard struct {
	payflow.SellerCard
	asked int
}

func (c *askedCard) SignPaymentRequest(r *record.PaymentRequest) ([]byte, error) {
	c.asked++
	return c.SellerCard.SignPaymentRequest(r)
}

func (c *askedCard) SignRefundRequest(r *record.RefundRequest) ([]byte, error) {
	c.asked++
	return c.SellerCard.SignRefundRequest(r)
}

// askSeller gives w a seller whose card is an askedCard, and returns it.
func askSeller(t *testing.T, w *phoneWorld) *askedCard {
	card := &askedCard{SellerCard: w.sellerCard.Card}
	var err error
	w.seller, err = payflow.NewSeller(card, phoneOptions(w.f, w.f.Platform))
	require.NoError(t, err)
	return card
}

// longestItems returns record.MaxItems catalog items of SKUs of
// record.MaxText octets, priced 1, and items of a charge of each of them,
// of quantity 2^56.
func longestItems() ([]payflow.CatalogItem, []record.Item) {
	catalog := make([]payflow.CatalogItem, record.MaxItems)
	items := make([]record.Item, record.MaxItems)
	for i := range items {
		sku := fmt.Sprintf("%0*d", record.MaxText, i)
		catalog[i] = payflow.CatalogItem{SKU: sku, Name: "Item", UnitPrice: 1}
		items[i] = record.Item{SKU: sku, Quantity: 1 << 56}
	}
	return catalog, items
}

// TestSellerRefusesWhatNoRecordCarries: a charge that no payment request
// can carry (a total of zero without legs, as of free items alone; a
// currency of the wrong form; more than record.MaxItems items or
// record.MaxLegs legs; an item of quantity zero or a leg of amount zero;
// an amount over 2^63-1; a hundred items of the longest SKUs and
// eight legs of the longest asset names, every value of a form a request
// carries, whose signed request would be longer than record.MaxMessage)
// and a refund of zero are ErrInvalid before the card is asked to sign
// anything; the next Request takes the session's first index and the
// next Refund is made.
func TestSellerRefusesWhatNoRecordCarries(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	card := askSeller(t, w)
	c := w.pair(t)
	longest, items := longestItems()
	catalog := append([]payflow.CatalogItem{{SKU: "bag", Name: "Paper bag", UnitPrice: 0}}, longest...)
	tooLong := payflow.Charge{Items: items}
	for i := range record.MaxLegs {
		tooLong.Legs = append(tooLong.Legs, record.Leg{Asset: fmt.Sprintf("%0*d", record.MaxText, i), Amount: 1 << 62})
	}
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, catalog))
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	ticket := []record.Leg{{Asset: "ticket", Amount: 1}}
	tooMany := payflow.Charge{Items: slices.Repeat([]record.Item{{SKU: "bag", Quantity: 1}}, record.MaxItems+1), Legs: ticket}
	for _, charge := range []payflow.Charge{
		{Amount: 0, Currency: "EUR"},
		{Amount: 100, Currency: "eur"},
		{Items: []record.Item{{SKU: "bag", Quantity: 3}}},
		tooMany,
		{Amount: 100, Currency: "EUR", Legs: slices.Repeat(ticket, record.MaxLegs+1)},
		{Items: []record.Item{{SKU: "bag", Quantity: 0}}, Legs: ticket},
		{Amount: 100, Currency: "EUR", Legs: []record.Leg{{Asset: "ticket", Amount: 0}}},
		{Amount: record.MaxAmount + 1, Currency: "EUR"},
		tooLong,
	} {
		_, err := w.seller.Request(ctx, charge)
		require.ErrorIs(t, err, payflow.ErrInvalid, "%+v", charge)
		require.ErrorIs(t, err, record.ErrMalformed)
		assert.Equal(t, "invalid", payflow.AsError(err).Code)
	}
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "nothing signed")
	assert.Zero(t, card.asked, "the card asked nothing")

	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 690, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
	w.shopperApproves(t)
	_, _, err = w.seller.Wait(ctx)
	require.NoError(t, err)
	_, err = w.seller.Refund(ctx, 0)
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.Equal(t, 1, card.asked, "the card asked only the payment request")
	rc, err := w.seller.Refund(ctx, 90)
	require.NoError(t, err)
	assert.Equal(t, uint64(90), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 600}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestSellerRefusesRefundAmountFirst: a refund of zero, or of more than
// record.MaxAmount, is ErrInvalid before the phone calls the platform or
// the card signs anything: Refund does not send again the refund kept
// after its reply was lost, nor RefundPayment read the request. The
// next Refund sends the kept refund and gets its receipt.
func TestSellerRefusesRefundAmountFirst(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	h := mustHandler(t, w.f.Platform, payflow.HandlerOptions{Logger: discardLogger()})
	var calls atomic.Int32 // the seller phone's calls to the platform
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	client := mustClient(t, srv.URL, payflow.ClientOptions{})
	w.useSeller(t, loseFirstRefund(client))
	w.pair(t)
	w.purchase(t)
	_, err := w.seller.Refund(ctx, 240)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	paid, err := w.seller.Status(ctx)
	require.NoError(t, err)

	sent := calls.Load()
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	for _, amount := range []uint64{0, record.MaxAmount + 1} {
		_, err := w.seller.Refund(ctx, amount)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "Refund of %d", amount)
		_, err = w.seller.RefundPayment(ctx, paid.ID, amount)
		assert.ErrorIs(t, err, payflow.ErrInvalid, "RefundPayment of %d", amount)
	}
	assert.Equal(t, sent, calls.Load(), "no call to the platform")
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "nothing signed")

	rc, err := w.seller.Refund(ctx, 240)
	require.NoError(t, err)
	assert.Equal(t, uint64(240), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// misfiledAPI answers each payment request with a view that files it
// under another party than its signed request names (alter), its
// receipt, if any, signed again with the platform's key to say the same.
type misfiledAPI struct {
	payflow.API
	key   *ecdsa.PrivateKey
	alter func(*payflow.PaymentView, *record.Receipt)
}

func (a *misfiledAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	v, err := a.API.CreateRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	return resignView(a.key, v, a.alter)
}

// TestSellerRefusesRequestFiledOtherwise: a platform's view of a payment
// request that the seller's card signed, or of one sent again after its
// reply was lost, and its receipt, that name another merchant, payer or
// session than the signed request are ErrMismatch: the request goes on no
// screen, and one that was paid is not taken as paid (Status and Wait
// find no payment), however the platform signed its receipt.
func TestSellerRefusesRequestFiledOtherwise(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alter func(w *phoneWorld, v *payflow.PaymentView, rc *record.Receipt)
	}{
		{"merchant", func(_ *phoneWorld, v *payflow.PaymentView, rc *record.Receipt) {
			v.MerchantID, rc.MerchantID = "other-shop", "other-shop"
		}},
		{"payer", func(w *phoneWorld, v *payflow.PaymentView, rc *record.Receipt) {
			other := w.sellerCard.Enrolment.ICCID // a card other than the shopper's
			v.PayerCardID, rc.PayerCardID = other, other
		}},
		{"session", func(_ *phoneWorld, v *payflow.PaymentView, _ *record.Receipt) { v.SessionID[0] ^= 1 }},
	} {
		for _, lost := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/answered", true: "/sent again, paid"}[lost], func(t *testing.T) {
				w := newMemoryPhoneWorld(t, false)
				var api payflow.API = &misfiledAPI{API: w.f.Platform, key: w.f.Key, alter: func(v *payflow.PaymentView, rc *record.Receipt) { tc.alter(w, v, rc) }}
				if lost {
					api = loseFirstCreate(api, payflow.ErrUnavailable)
				}
				w.useSeller(t, api)
				w.pair(t)
				_, err := w.seller.Request(ctx, basket)
				if lost {
					require.ErrorIs(t, err, payflow.ErrUnavailable)
					w.shopperApproves(t)
					_, err = w.seller.Request(ctx, basket)
				}
				require.ErrorIs(t, err, payflow.ErrMismatch)
				_, err = w.seller.Status(ctx)
				require.ErrorIs(t, err, payflow.ErrNoPayment)
				_, _, err = w.seller.Wait(ctx)
				require.ErrorIs(t, err, payflow.ErrNoPayment)
				assert.Empty(t, mustHeld(t, w.seller))
			})
		}
	}
}

// TestSellerRefusesMalformedPlatformValues: a value that the platform
// sends and the seller's card would sign, of a form that no record
// carries, is ErrMismatch (the platform's, not the caller's, as ErrInvalid
// would say) when the phone receives it, and the card signs nothing: the
// catalog's currency and its items' SKUs, names and prices, and a
// catalog that repeats a SKU, which the platform refuses to set (Request
// and Catalog; the catalog is not kept, and the next Request fetches it
// again), the shopper's card ID and the merchant ID of a session (Select,
// which selects nothing), the currency of the payment that RefundPayment
// refunds, and that of a paid request sent again, which would go on
// screen for Refund (the next Request sends it again and puts it on
// screen as the platform recorded it).
func TestSellerRefusesMalformedPlatformValues(t *testing.T) {
	ctx := context.Background()
	// setup returns a world whose seller phone talks to the platform
	// through the tamperAPI returned.
	setup := func(t *testing.T) (*phoneWorld, *tamperAPI) {
		w := newMemoryPhoneWorld(t, false)
		api := &tamperAPI{API: w.f.Platform}
		w.useSeller(t, api)
		return w, api
	}
	counter := func(t *testing.T, w *phoneWorld) uint64 {
		n, err := w.sellerCard.Card.Counter()
		require.NoError(t, err)
		return n
	}
	requireMismatch := func(t *testing.T, err error) {
		require.ErrorIs(t, err, payflow.ErrMismatch)
		assert.Equal(t, "mismatch", payflow.AsError(err).Code)
	}
	for name, tamper := range map[string]func(*payflow.Catalog){
		"catalog currency": func(c *payflow.Catalog) { c.Currency = "eur" },
		"SKU":              func(c *payflow.Catalog) { c.Items[1].SKU = "bread " },
		"item name":        func(c *payflow.Catalog) { c.Items[1].Name = "Sourdough\u202ebread" },
		"unit price":       func(c *payflow.Catalog) { c.Items[1].UnitPrice = record.MaxAmount + 1 },
		// The platform refuses a catalog that repeats a SKU (SetCatalog);
		// the item would be priced at either price.
		"repeated SKU": func(c *payflow.Catalog) { c.Items[1].SKU = c.Items[0].SKU },
		// Nor does it set more than MaxCatalogItems items.
		"too many items": func(c *payflow.Catalog) {
			for i := len(c.Items); i <= payflow.MaxCatalogItems; i++ {
				c.Items = append(c.Items, payflow.CatalogItem{SKU: fmt.Sprintf("sku-%d", i), Name: "Item", UnitPrice: 1})
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			w, api := setup(t)
			c := w.pair(t)
			api.catalog = tamper
			before := counter(t, w)
			_, err := w.seller.Request(ctx, payflow.Charge{Items: []record.Item{{SKU: "apple", Quantity: 1}}})
			requireMismatch(t, err)
			assert.Equal(t, before, counter(t, w), "nothing signed")
			cat, err := w.seller.Catalog(ctx)
			requireMismatch(t, err)
			assert.Nil(t, cat)

			api.catalog = nil
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			assert.Equal(t, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
			assert.Equal(t, uint64(690), sv.Amount)
		})
	}
	for name, tamper := range map[string]func(w *phoneWorld, api *tamperAPI){
		"shopper card ID": func(w *phoneWorld, api *tamperAPI) {
			id := w.shopperCard.Enrolment.ICCID
			wrong := id[:len(id)-1] + string('0'+(id[len(id)-1]-'0'+1)%10) // not its Luhn check digit
			api.pair = func(s *payflow.SessionView) { s.ShopperCardID = wrong }
		},
		"merchant ID": func(_ *phoneWorld, api *tamperAPI) {
			api.login = func(l *payflow.LoginResponse) { l.MerchantID = phoneMerchant + " " }
			api.pair = func(s *payflow.SessionView) { s.MerchantID = phoneMerchant + " " }
		},
	} {
		t.Run(name, func(t *testing.T) {
			w, api := setup(t)
			tamper(w, api)
			shopperEID, _ := w.shopperSelects(t)
			_, err := w.seller.Select(ctx, shopperEID)
			requireMismatch(t, err)
			before := counter(t, w)
			_, err = w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.ErrorIs(t, err, payflow.ErrNotPaired)
			assert.Equal(t, before, counter(t, w), "nothing signed")
		})
	}
	t.Run("currency of a paid request sent again", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		hook := &hookAPI{API: w.f.Platform}
		w.useSeller(t, loseFirstCreate(hook, payflow.ErrUnavailable))
		w.pair(t)
		_, err := w.seller.Request(ctx, basket)
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		w.shopperApproves(t)
		hook.view = func(v *payflow.PaymentView) { v.Currency = "eur" }
		_, err = w.seller.Request(ctx, basket)
		requireMismatch(t, err)

		_, err = w.seller.Request(ctx, basket)
		require.ErrorIs(t, err, payflow.ErrFinal, "the request paid, sent again, goes on screen")
		before := counter(t, w)
		rc, err := w.seller.Refund(ctx, 90)
		require.NoError(t, err)
		assert.Equal(t, uint64(90), rc.Amount)
		assert.Equal(t, before+1, counter(t, w))
	})
	t.Run("payment currency", func(t *testing.T) {
		w, api := setup(t)
		w.pair(t)
		sv, err := w.seller.Request(ctx, basket)
		require.NoError(t, err)
		w.requireShopperPays(t, sv, 690)
		api.payment = func(v *payflow.PaymentView) { v.Currency = "eur" }
		before := counter(t, w)
		_, err = w.seller.RefundPayment(ctx, sv.ID, 90)
		requireMismatch(t, err)
		assert.Equal(t, before, counter(t, w), "nothing signed")

		api.payment = nil
		rc, err := w.seller.RefundPayment(ctx, sv.ID, 90)
		require.NoError(t, err)
		assert.Equal(t, uint64(90), rc.Amount)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 600}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
}

// TestSellerCapturesEarlierHolds: for a merchant that captures manually,
// a held request stays capturable from the seller phone after the seller
// asks for the next payment and after it selects the shopper again: Held
// lists every held request, CaptureHeld captures one of them and
// CancelHeld voids one, and a request that is not held is ErrNoPayment.
func TestSellerCapturesEarlierHolds(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	first := w.pairAndHold(t)
	w.request(t)
	next := w.approveHeld(t)
	require.NotEqual(t, first, next)
	w.pair(t) // the seller selects the shopper again: nothing on screen
	_, err := w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment)

	held := mustHeld(t, w.seller)
	require.Len(t, held, 2)
	assert.Equal(t, []payflow.ID{first, next}, []payflow.ID{held[0].ID, held[1].ID})
	assert.Equal(t, payflow.StateHeld, held[0].State)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 1380}, w.balance(t, w.shopperCard.Enrolment.ICCID))

	rc, err := w.seller.CaptureHeld(ctx, first, 600)
	require.NoError(t, err)
	assert.Equal(t, uint64(600), rc.Amount)
	assert.Equal(t, first[:], rc.RequestID)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 600, Held: 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	assert.Equal(t, payflow.Balance{Posted: 600, Incoming: 690}, w.balance(t, phoneMerchant))
	_, err = w.seller.CaptureHeld(ctx, first, 600)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "captured, it is no longer held")

	v, err := w.seller.CancelHeld(ctx, next)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, v.State)
	r, err := w.f.Platform.Store().Payment(ctx, next)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, r.State)
	assert.Empty(t, mustHeld(t, w.seller))
	_, err = w.seller.CancelHeld(ctx, next)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 600}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	assert.Equal(t, payflow.Balance{Posted: 600}, w.balance(t, phoneMerchant))
}

// TestSellerHeldEnded: a held request that another phone of the merchant
// captured, or whose hold expired, is no longer kept in Held once
// CaptureHeld finds it ended, which fails with the platform's error and
// moves no money.
func TestSellerHeldEnded(t *testing.T) {
	ctx := context.Background()
	t.Run("captured elsewhere", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		first := w.pairAndHold(t)
		w.captureElsewhere(t, first)
		_, err := w.seller.CaptureHeld(ctx, first, 600)
		require.ErrorIs(t, err, payflow.ErrFinal)
		assert.Empty(t, mustHeld(t, w.seller))
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
	t.Run("hold expired", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		first := w.pairAndHold(t)
		w.f.Clock.Advance(payflow.DefaultHoldTTL)
		w.f.RefreshCRLs()
		_, err := w.seller.CaptureHeld(ctx, first, 0)
		require.ErrorIs(t, err, payflow.ErrExpired)
		assert.Empty(t, mustHeld(t, w.seller))
		r, err := w.f.Platform.Store().Payment(ctx, first)
		require.NoError(t, err)
		assert.Equal(t, payflow.StateExpired, r.State)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
}

// TestSellerCaptureHeldAfterLostReply: a held request no longer on
// screen whose capture the platform made, its reply lost and the call
// failed without an answer or with a reply that is no verdict of the
// platform (noVerdicts), stays kept once Held reads it captured, also
// past its hold expiry, until a CaptureHeld of the same amount returns
// that capture's receipt. The shopper pays once.
func TestSellerCaptureHeldAfterLostReply(t *testing.T) {
	ctx := context.Background()
	type loss struct {
		name    string
		answers []middleAnswer // after the attempt whose reply is lost
		want    error
	}
	losses := []loss{{"no answer", repeatAnswer(bareReply(http.StatusServiceUnavailable), payflow.DefaultMaxAttempts-1), payflow.ErrUnavailable}}
	for _, tc := range noVerdicts(t) {
		losses = append(losses, loss{tc.name, tc.answers(1), tc.want})
	}
	for _, expired := range []bool{false, true} {
		for _, tc := range losses {
			t.Run(map[bool]string{false: "", true: "past its hold expiry/"}[expired]+tc.name, func(t *testing.T) {
				w := newMemoryPhoneWorld(t, true)
				mb := newMiddlebox(t, w.f.Platform)
				w.useSeller(t, mb.client(t))
				first := w.pairAndHold(t)
				w.request(t) // another request takes the screen
				held := mustHeld(t, w.seller)
				require.Len(t, held, 1)
				expiry := held[0].HoldExpiresAt
				mb.answer("/v1/requests/"+first.String()+"/capture", lostReply)
				mb.answer("/v1/requests/"+first.String()+"/capture", tc.answers...)
				_, err := w.seller.CaptureHeld(ctx, first, 400)
				require.ErrorIs(t, err, tc.want)
				if expired {
					advanceTo(t, w.f, expiry)
					w.f.RefreshCRLs()
				}

				w.requireReceiptDue(t, first)
			})
		}
	}
}

// requireReceiptDue checks that the seller keeps the request id, whose
// capture of 400 the platform made without the seller getting its
// receipt, in Held, captured, also after a CancelHeld of it, which fails
// with ErrFinal, until a CaptureHeld of 400 returns that capture's
// receipt, after which it is no longer kept; and that the shopper paid
// 400, once.
func (w *phoneWorld) requireReceiptDue(t *testing.T, id payflow.ID) {
	t.Helper()
	ctx := context.Background()
	held := mustHeld(t, w.seller)
	require.Len(t, held, 1, "kept until its receipt is returned")
	assert.Equal(t, id, held[0].ID)
	assert.Equal(t, payflow.StateCaptured, held[0].State)
	assert.Equal(t, uint64(400), held[0].Captured)
	_, err := w.seller.CancelHeld(ctx, id)
	require.ErrorIs(t, err, payflow.ErrFinal, "captured, it is not cancelled")
	require.Len(t, mustHeld(t, w.seller), 1, "a cancellation does not free it")
	rc, err := w.seller.CaptureHeld(ctx, id, 400)
	require.NoError(t, err)
	assert.Equal(t, uint64(400), rc.Amount)
	assert.Equal(t, id[:], rc.RequestID)
	assert.Empty(t, mustHeld(t, w.seller))
	_, err = w.seller.CaptureHeld(ctx, id, 400)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "its receipt returned, it is no longer kept")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 400}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	assert.Equal(t, payflow.Balance{Posted: 400}, w.balance(t, phoneMerchant))
}

// TestSellerCaptureHeldUnansweredNotMade: a held request whose capture got
// no answer, the capture never having reached the platform, stays kept,
// and Held shows it held, not captured; unlike one whose capture was made
// (requireReceiptDue), a CancelHeld, a CaptureHeld of another amount or
// its hold's expiry frees it. The shopper pays only what was captured.
func TestSellerCaptureHeldUnansweredNotMade(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, w *phoneWorld, held *payflow.PaymentView)
		paid uint64
	}{
		{"cancelled", func(t *testing.T, w *phoneWorld, held *payflow.PaymentView) {
			v, err := w.seller.CancelHeld(ctx, held.ID)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateCancelled, v.State)
		}, 0},
		{"captured of another amount", func(t *testing.T, w *phoneWorld, held *payflow.PaymentView) {
			rc, err := w.seller.CaptureHeld(ctx, held.ID, 250)
			require.NoError(t, err)
			assert.Equal(t, uint64(250), rc.Amount)
			assert.Equal(t, held.ID[:], rc.RequestID)
		}, 250},
		{"past its hold expiry", func(t *testing.T, w *phoneWorld, held *payflow.PaymentView) {
			advanceTo(t, w.f, held.HoldExpiresAt)
			w.f.RefreshCRLs()
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			mb := newMiddlebox(t, w.f.Platform)
			w.useSeller(t, mb.client(t))
			first := w.pairAndHold(t)
			w.request(t) // another request takes the screen
			path := "/v1/requests/" + first.String() + "/capture"
			mb.answer(path, repeatAnswer(bareReply(http.StatusServiceUnavailable), payflow.DefaultMaxAttempts)...)
			_, err := w.seller.CaptureHeld(ctx, first, 400)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			require.Zero(t, mb.left(path), "no attempt reached the platform")

			held := mustHeld(t, w.seller)
			require.Len(t, held, 1)
			assert.Equal(t, first, held[0].ID)
			assert.Equal(t, payflow.StateHeld, held[0].State, "its capture was not made")
			tc.end(t, w, held[0])
			assert.Empty(t, mustHeld(t, w.seller))
			_, err = w.seller.CaptureHeld(ctx, first, 0)
			require.ErrorIs(t, err, payflow.ErrNoPayment)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - tc.paid}, w.balance(t, w.shopperCard.Enrolment.ICCID))
			assert.Equal(t, payflow.Balance{Posted: tc.paid}, w.balance(t, phoneMerchant))
		})
	}
}

// alteredCaptureAPI passes captures on to the platform and answers the
// first one that the platform makes with what alter makes of its view.
type alteredCaptureAPI struct {
	payflow.API
	alter func(made *payflow.PaymentView) *payflow.PaymentView
	mu    sync.Mutex
	done  bool
}

func (a *alteredCaptureAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Capture(ctx, token, req)
	a.mu.Lock()
	alter := err == nil && !a.done
	a.done = a.done || alter
	a.mu.Unlock()
	if alter {
		return a.alter(v), nil
	}
	return v, err
}

// TestSellerCaptureHeldAnsweredUnverified: a held request no longer on
// screen whose capture the platform made, answered with the view of
// another request or with a receipt that does not verify, stays kept once
// Held reads it captured, until a CaptureHeld of the same amount returns
// that capture's receipt. The shopper pays once.
func TestSellerCaptureHeldAnsweredUnverified(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		alter func(other, made *payflow.PaymentView) *payflow.PaymentView
		want  error
	}{
		{"view of another request", func(other, _ *payflow.PaymentView) *payflow.PaymentView { return other }, payflow.ErrMismatch},
		{"receipt that does not verify", func(_, made *payflow.PaymentView) *payflow.PaymentView {
			v := *made
			v.Receipt = slices.Clone(made.Receipt)
			v.Receipt[len(v.Receipt)-1] ^= 1 // the signature's last byte
			return &v
		}, payflow.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &alteredCaptureAPI{API: w.f.Platform}
			w.useSeller(t, api)
			first := w.pairAndHold(t)
			w.request(t) // another request takes the screen
			other, err := w.seller.Status(ctx)
			require.NoError(t, err)
			api.alter = func(made *payflow.PaymentView) *payflow.PaymentView { return tc.alter(other, made) }
			_, err = w.seller.CaptureHeld(ctx, first, 400)
			require.ErrorIs(t, err, tc.want)
			w.requireReceiptDue(t, first)
		})
	}
}

// stalledAPI passes calls on to the platform. The first Info (info), or
// else the first capture that the platform makes, closes stalled and
// waits until release is closed; a capture so stalled, and once lose is
// set every capture that the platform makes, fails with ErrUnavailable,
// as a capture whose reply is lost after the retries.
type stalledAPI struct {
	payflow.API
	info             bool
	stalled, release chan struct{}
	once, lose       atomic.Bool
}

// stall closes a.stalled and waits for a.release the first time it is
// called, and reports whether it did.
func (a *stalledAPI) stall() bool {
	if !a.once.CompareAndSwap(false, true) {
		return false
	}
	close(a.stalled)
	<-a.release
	return true
}

func (a *stalledAPI) Info(ctx context.Context) (*payflow.Info, error) {
	if a.info {
		a.stall()
	}
	return a.API.Info(ctx)
}

func (a *stalledAPI) Capture(ctx context.Context, token string, req *payflow.CaptureRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Capture(ctx, token, req)
	if err != nil {
		return v, err
	}
	if stalled := !a.info && a.stall(); stalled || a.lose.Load() {
		return nil, payflow.ErrUnavailable
	}
	return v, nil
}

// TestSellerCaptureHeldAnsweredWhileAnotherUnanswered: a CaptureHeld of a
// held request whose reply is lost, which fails only after another
// CaptureHeld of the same amount returned the capture's receipt, does not
// have the seller keep the request again: Held does not show it, it no
// longer counts toward MaxHeld, and a CaptureHeld of it is ErrNoPayment.
// The first call is held up in the platform's capture, or before it, as
// it fetches the platform's certificate chain that the phone does not
// keep yet (Info); the shopper pays once.
func TestSellerCaptureHeldAnsweredWhileAnotherUnanswered(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		info bool
	}{{"held up in its capture", false}, {"held up fetching the platform's certificate", true}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &stalledAPI{API: w.f.Platform, info: tc.info, stalled: make(chan struct{}), release: make(chan struct{})}
			w.useSeller(t, api)
			first := w.pairAndHold(t)
			w.request(t) // another request takes the screen
			release := sync.OnceFunc(func() { close(api.release) })
			defer release()
			lost := make(chan error, 1)
			go func() {
				_, err := w.seller.CaptureHeld(ctx, first, 400)
				lost <- err
			}()
			<-api.stalled

			rc, err := w.seller.CaptureHeld(ctx, first, 400)
			require.NoError(t, err)
			assert.Equal(t, uint64(400), rc.Amount)
			assert.Equal(t, first[:], rc.RequestID)
			assert.Empty(t, mustHeld(t, w.seller), "its receipt returned")
			api.lose.Store(true) // the platform answers the first call's capture, its reply lost
			release()
			require.ErrorIs(t, <-lost, payflow.ErrUnavailable)
			assert.Empty(t, mustHeld(t, w.seller), "its receipt returned, it is not kept again")
			_, err = w.seller.CaptureHeld(ctx, first, 400)
			require.ErrorIs(t, err, payflow.ErrNoPayment)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 400}, w.balance(t, w.shopperCard.Enrolment.ICCID))
			assert.Equal(t, payflow.Balance{Posted: 400}, w.balance(t, phoneMerchant))
		})
	}
}

// readCounter counts the reads of each payment request (Payment).
type readCounter struct {
	payflow.API
	mu    sync.Mutex
	reads map[payflow.ID]int
}

func (a *readCounter) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	a.mu.Lock()
	if a.reads == nil {
		a.reads = make(map[payflow.ID]int)
	}
	a.reads[id]++
	a.mu.Unlock()
	return a.API.Payment(ctx, token, id)
}

// take returns the reads counted since the last take.
func (a *readCounter) take() map[payflow.ID]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.reads
	a.reads = nil
	return r
}

// TestSellerHeldLeavesOutExpiredHolds: Held leaves out a hold past its
// expiry by the phone's clock without reading it from the platform, and
// reads the holds still live; a capture or cancellation of the hold left
// out fails with the platform's ErrExpired, which voids the hold, and the
// phone no longer keeps it.
func TestSellerHeldLeavesOutExpiredHolds(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		act  func(s *payflow.Seller, id payflow.ID) error
	}{
		{"capture", func(s *payflow.Seller, id payflow.ID) error { _, err := s.CaptureHeld(ctx, id, 0); return err }},
		{"cancel", func(s *payflow.Seller, id payflow.ID) error { _, err := s.CancelHeld(ctx, id); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &readCounter{API: w.f.Platform}
			w.useSeller(t, api)
			first := w.pairAndHold(t)
			w.f.Clock.Advance(time.Hour)
			w.f.RefreshCRLs()
			second := w.pairAndHold(t)
			require.Len(t, mustHeld(t, w.seller), 2)

			w.f.Clock.Advance(payflow.DefaultHoldTTL - time.Hour) // the first hold's expiry
			w.f.RefreshCRLs()
			api.take()
			held, err := w.seller.Held(ctx)
			require.NoError(t, err)
			require.Len(t, held, 1)
			assert.Equal(t, second, held[0].ID)
			assert.Equal(t, map[payflow.ID]int{second: 1}, api.take(), "only the live hold is read")
			r, err := w.f.Platform.Store().Payment(ctx, first)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateHeld, r.State, "not read, not yet expired by the platform")

			require.ErrorIs(t, tt.act(w.seller, first), payflow.ErrExpired)
			r, err = w.f.Platform.Store().Payment(ctx, first)
			require.NoError(t, err)
			assert.Equal(t, payflow.StateExpired, r.State)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
			require.ErrorIs(t, tt.act(w.seller, first), payflow.ErrNoPayment, "no longer kept")
			held = mustHeld(t, w.seller)
			require.Len(t, held, 1)
			assert.Equal(t, second, held[0].ID)
		})
	}
}

// TestSellerHeldBounded: with MaxHeld held requests kept, Request fails
// with ErrLimit before the card signs another; once one is captured, or
// the holds expire, the next Request goes through.
func TestSellerHeldBounded(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	c := w.pair(t)
	hold := func(i int) { w.holdAt(t, c, i) }
	for i := range payflow.MaxHeld {
		hold(i)
	}
	held, err := w.seller.Held(ctx)
	require.NoError(t, err)
	require.Len(t, held, payflow.MaxHeld)

	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrLimit)
	_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, payflow.MaxHeld))
	require.ErrorIs(t, err, payflow.ErrNotFound, "no request made")
	held, err = w.seller.Held(ctx)
	require.NoError(t, err)
	require.Len(t, held, payflow.MaxHeld, "no hold dropped")

	_, err = w.seller.CaptureHeld(ctx, held[5].ID, 0)
	require.NoError(t, err)
	hold(payflow.MaxHeld)
	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrLimit)

	// Once the holds expired, Request finds them ended itself, by the
	// phone's clock; the platform's sweep voids them.
	w.f.Clock.Advance(payflow.DefaultHoldTTL)
	w.f.RefreshCRLs()
	w.pair(t)
	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
	require.NoError(t, err)
	held, err = w.seller.Held(ctx)
	require.NoError(t, err)
	assert.Empty(t, held)
	n, err := w.f.Platform.ExpireDue(ctx, 0)
	require.NoError(t, err)
	assert.Equal(t, payflow.MaxHeld, n)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 10}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// holdAt has the seller ask for 10 EUR in the session of c, which takes
// index i, and the shopper approve it, held (approveHeld). A shopper phone
// keeps at most MaxKeptConsents held consents, so another phone of the
// card pays from each multiple of it on.
func (w *phoneWorld) holdAt(t *testing.T, c *payflow.Confirmation, i int) {
	t.Helper()
	ctx := context.Background()
	if i%payflow.MaxKeptConsents == 0 {
		w.shopperRejoins(t, w.f.Platform)
	}
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
	require.NoError(t, err)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, sv.ID, screen.ID)
	require.Equal(t, sv.ID, w.approveHeld(t))
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, uint32(i)), sv.ID)
}

// shopperRejoins gives w another phone of its shopper's card, one that
// talks to api, and has it select the seller, paired again in the
// session of the seller's selection.
func (w *phoneWorld) shopperRejoins(t *testing.T, api payflow.API) {
	t.Helper()
	ctx := context.Background()
	sellerEID, err := w.seller.EID()
	require.NoError(t, err)
	w.useShopper(t, api)
	w.hear(t)
	_, err = w.shopper.Select(ctx, sellerEID)
	require.NoError(t, err)
	_, err = w.shopper.WaitPaired(ctx)
	require.NoError(t, err)
}

// TestSellerLimitLeavesTheScreen: a Request refused with ErrLimit, as the
// seller keeps MaxHeld requests, held or whose capture's receipt is due,
// leaves the request on screen pending, on the platform and on screen,
// and a request kept to be sent again pending and kept: the limit is
// known before anything is withdrawn. Once a capture's receipt makes
// room, the next Request withdraws them first and goes through.
//
// The seller's clock runs ahead of the platform's, so that the phone
// takes a hold for past its expiry (Held) while the platform still holds
// it; the capture of it whose reply is lost keeps it again, its receipt
// due, after the request on screen was made.
func TestSellerLimitLeavesTheScreen(t *testing.T) {
	ctx := context.Background()
	for _, kept := range []bool{false, true} {
		t.Run(map[bool]string{false: "on screen", true: "kept"}[kept], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &faultAPI{API: w.f.Platform}
			first, c := w.holdAllButOne(t, api)
			charge := payflow.Charge{Amount: 10, Currency: "EUR"}
			sv, pending := w.leavePending(t, api, c, charge, kept, payflow.MaxHeld)
			api.capture.reply.failAllWith(payflow.ErrUnavailable)
			_, err := w.seller.CaptureHeld(ctx, first, 400)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			api.capture.reply.disarm()
			require.Len(t, mustHeld(t, w.seller), payflow.MaxHeld, "its capture's receipt due")

			_, err = w.seller.Request(ctx, charge)
			require.ErrorIs(t, err, payflow.ErrLimit)
			w.assertState(t, pending, payflow.StatePending)
			shown, err := w.seller.Status(ctx)
			if kept {
				require.ErrorIs(t, err, payflow.ErrNoPayment)
			} else {
				require.NoError(t, err)
				assert.Equal(t, sv.ID, shown.ID, "still on screen")
				assert.Equal(t, payflow.StatePending, shown.State)
			}

			rc, err := w.seller.CaptureHeld(ctx, first, 400)
			require.NoError(t, err)
			assert.Equal(t, uint64(400), rc.Amount)
			next, err := w.seller.Request(ctx, charge)
			require.NoError(t, err)
			w.assertState(t, pending, payflow.StateCancelled)
			w.assertState(t, next.ID, payflow.StatePending)
		})
	}
}

// holdAllButOne gives w a seller phone that talks to api, its clock a
// minute ahead of the platform's, and has it hold a request, first, that
// it then takes for past its hold expiry (Held) while the platform still
// holds it, and then MaxHeld-1 requests in a new session, c: a capture of
// first whose reply is lost keeps it again, its receipt due, as the
// MaxHeld-th.
func (w *phoneWorld) holdAllButOne(t *testing.T, api payflow.API) (first payflow.ID, c *payflow.Confirmation) {
	t.Helper()
	opts := phoneOptions(w.f, api)
	opts.Now = func() time.Time { return w.f.Clock.Now().Add(time.Minute) }
	var err error
	w.seller, err = payflow.NewSeller(w.sellerCard.Card, opts)
	require.NoError(t, err)
	first = w.pairAndHold(t)
	held := mustHeld(t, w.seller)
	require.Len(t, held, 1)
	advanceTo(t, w.f, held[0].HoldExpiresAt.Add(-30*time.Second))
	w.f.RefreshCRLs()
	require.Empty(t, mustHeld(t, w.seller), "past its hold expiry by the seller's clock")

	c = w.pair(t)
	for i := range payflow.MaxHeld - 1 {
		w.holdAt(t, c, i)
	}
	return first, c
}

// TestSellerLimitCountsKeptRequestOfAnotherUnderHeldID: a payment request
// kept to be sent again does not free the room of a held request that
// has its ID but is another request (another request hash: the card
// signed it under the held one's ID, as the session's next index was set
// back to 0, a state that no answer of the platform leads to). With
// MaxHeld requests kept, held or whose capture's receipt is due, Request
// fails with ErrLimit before anything is withdrawn: the kept request is
// not sent again, the card signs nothing, and the held one stays held.
func TestSellerLimitCountsKeptRequestOfAnotherUnderHeldID(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	faults := &faultAPI{API: w.f.Platform}
	api := &createCounter{API: faults}
	first, c := w.holdAllButOne(t, api)
	heldID := payflow.SessionRequestID(c.SessionID, 0)
	charge := payflow.Charge{Amount: 10, Currency: "EUR"}
	payflow.SetNextRequestIndex(w.seller, 0)
	faults.create.send.failAllWith(payflow.ErrUnavailable) // the request under heldID never reaches the platform: kept
	_, err := w.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	faults.create.send.disarm()
	faults.capture.reply.failAllWith(payflow.ErrUnavailable)
	_, err = w.seller.CaptureHeld(ctx, first, 400)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	faults.capture.reply.disarm()
	require.Len(t, mustHeld(t, w.seller), payflow.MaxHeld, "its capture's receipt due")

	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	api.calls.Store(0)
	_, err = w.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.Zero(t, api.calls.Load(), "the kept request is not sent again")
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed nothing")
	w.assertState(t, heldID, payflow.StateHeld)
	assert.Len(t, mustHeld(t, w.seller), payflow.MaxHeld)
}

// leavePending has the seller, whose phone talks to the platform through
// api, ask for charge in the session of c, and returns its view, on
// screen, and the ID of the request it leaves pending: that one, or when
// kept, the request of a second Request, at index next, whose reply api
// loses, so that the phone keeps it to be sent again (the first is
// withdrawn, cancelled).
func (w *phoneWorld) leavePending(t *testing.T, api *faultAPI, c *payflow.Confirmation, charge payflow.Charge, kept bool, next uint32) (*payflow.PaymentView, payflow.ID) {
	t.Helper()
	ctx := context.Background()
	sv, err := w.seller.Request(ctx, charge)
	require.NoError(t, err)
	pending := sv.ID
	if kept {
		api.create.reply.failNextWith(payflow.ErrUnavailable)
		_, err = w.seller.Request(ctx, charge)
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		w.assertState(t, sv.ID, payflow.StateCancelled)
		pending = payflow.SessionRequestID(c.SessionID, next)
	}
	w.assertState(t, pending, payflow.StatePending)
	return sv, pending
}

// TestSellerSelectUnknownPeerLeavesTheScreen: a Select of an EID that
// the queue does not hold fails with queue.ErrUnknownPeer, and one of a
// peer of the queue that the platform does not name (a card it has not
// enrolled) with ErrNotFound once it resolved the EID, a read, before it
// withdraws anything: the request on screen stays pending and on screen,
// and the shopper pays it.
func TestSellerSelectUnknownPeerLeavesTheScreen(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		eid  func(w *phoneWorld) adv.EID
		want error
	}{
		{"not in the queue", func(*phoneWorld) adv.EID { return adv.EID{0xde, 0xad} }, queue.ErrUnknownPeer},
		{"not named by the platform", func(w *phoneWorld) adv.EID {
			stranger, err := simcardtest.NewCard(w.f.Issuer, simcardtest.Options{})
			require.NoError(t, err)
			return w.hears(t, w.seller.Queue(), stranger, adv.Shopper, -50).EID
		}, payflow.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			w.pair(t)
			sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			_, err = w.seller.Select(ctx, tc.eid(w))
			require.ErrorIs(t, err, tc.want)
			w.requireStillShown(t, sv)
			w.requireShopperPays(t, sv, 100)
		})
	}
}

// requireStillShown checks that sv, the seller's request on screen, is
// still pending on the platform and on the seller's screen.
func (w *phoneWorld) requireStillShown(t *testing.T, sv *payflow.PaymentView) {
	t.Helper()
	w.assertState(t, sv.ID, payflow.StatePending)
	shown, err := w.seller.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, sv.ID, shown.ID, "still on screen")
	assert.Equal(t, payflow.StatePending, shown.State)
}

// TestSellerLapsedSessionLeavesTheScreen: a Request once the session
// expired by the phone's clock fails with ErrExpired, as the platform
// refuses a request in it, before it withdraws anything or the card signs:
// the request on screen, which outlives the session, stays pending and on
// screen, and the shopper pays it.
func TestSellerLapsedSessionLeavesTheScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR", TTL: 900})
	require.NoError(t, err)
	_, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	w.f.Clock.Advance(payflow.DefaultSessionTTL)
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrExpired)
	w.assertState(t, sv.ID, payflow.StatePending)
	shown, err := w.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, shown.ID, "still on screen")
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, counter, after, "the card signed nothing")
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	w.requireSellerCaptured(t, rc)
}

// TestSellerSelectWithdrawsPendingOnScreen: a seller that selects a
// session while its request on screen is still pending cancels that
// request first, so that the shopper cannot pay it unseen; one held since
// stays capturable (Held).
func TestSellerSelectWithdrawsPendingOnScreen(t *testing.T) {
	ctx := context.Background()
	for _, held := range []bool{false, true} {
		t.Run(map[bool]string{false: "withdrawn", true: "held meanwhile"}[held], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, held)
			w.useShopper(t, loseFirstApprove(w.f.Platform, payflow.ErrUnavailable))
			first := w.pair(t)
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			want, balance := payflow.StateCancelled, payflow.Balance{Posted: phoneFunds}
			if held {
				// The shopper's consent is held; its reply is lost.
				_, err = w.shopper.WaitPayment(ctx)
				require.NoError(t, err)
				_, err = w.shopper.Approve(ctx, simcardtest.PIN)
				require.ErrorIs(t, err, payflow.ErrUnavailable)
				want, balance = payflow.StateHeld, payflow.Balance{Posted: phoneFunds, Held: 690}
			}
			// The phones select each other again: the seller's screen
			// starts anew, while the shopper would still find the request
			// at index 0 first.
			require.Equal(t, first.SessionID, w.pair(t).SessionID)

			r, err := w.f.Platform.Store().Payment(ctx, sv.ID)
			require.NoError(t, err)
			assert.Equal(t, want, r.State)
			assert.Equal(t, balance, w.balance(t, w.shopperCard.Enrolment.ICCID))
			if held {
				require.Len(t, mustHeld(t, w.seller), 1)
				rc, err := w.seller.CaptureHeld(ctx, sv.ID, 0)
				require.NoError(t, err)
				assert.Equal(t, uint64(690), rc.Amount)
			} else {
				assert.Empty(t, mustHeld(t, w.seller))
			}
		})
	}
}

// TestSellerSelectWithdrawsRequestAnsweredMeanwhile: a Request (of
// another goroutine of the app) whose answer arrives while the seller's
// Select of another shopper is under way, once the platform accepted the
// pairing and before its answer reaches the phone, goes on screen, the
// first shopper's session still selected, and Select then takes it off
// the screen. Select withdraws it, so that the first shopper cannot pay it
// unknown to the till during the next shopper's turn; while the platform
// does not answer that, the phone keeps it and the next Request withdraws
// it first. One that the first shopper paid meanwhile goes on screen with
// its receipt, and Select fails with ErrFinal, the other shopper selected
// all the same, whose confirmation it returns. The next Request is the
// other shopper's session's first.
func TestSellerSelectWithdrawsRequestAnsweredMeanwhile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range leftRequestCases {
		t.Run(tc.name, func(t *testing.T) {
			a, b, api := hookedSellerWorlds(t)
			ca := a.pair(t)
			bobEID, cb := b.shopperSelects(t)
			var made *payflow.PaymentView
			api.pair = func() {
				var err error
				made, err = a.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
				require.NoError(t, err)
				if tc.paid {
					a.shopperApproves(t)
				}
			}
			if tc.unanswered {
				api.cancelErr = payflow.ErrUnavailable
			}
			c, err := a.seller.Select(ctx, bobEID)
			require.NotNil(t, made)
			require.Equal(t, payflow.SessionRequestID(ca.SessionID, 0), made.ID)
			require.Equal(t, payflow.StatePending, made.State)
			aliceCharged := uint64(0)
			if tc.paid {
				requirePaid(t, err, made.ID)
			} else {
				require.NoError(t, err)
			}
			require.NotNil(t, c, "the other shopper is selected")
			assert.Equal(t, cb.SessionID, c.SessionID)
			assert.True(t, c.Paired)
			if tc.paid {
				a.requireShownCaptured(t, made.ID, 100)
				aliceCharged = 100
			} else {
				_, err = a.seller.Status(ctx)
				require.ErrorIs(t, err, payflow.ErrNoPayment, "the request left the screen")
				want := payflow.StateCancelled
				if tc.unanswered {
					want = payflow.StatePending
				}
				a.assertState(t, made.ID, want)
			}
			b.requireServedNext(t, cb, a, aliceCharged)
			if !tc.paid {
				a.assertState(t, made.ID, payflow.StateCancelled, "withdrawn before the next request")
			}
		})
	}
}

// TestSellerSelectKeepsRequestWhoseViewLacksItsSignedBytes: a view of a
// request the seller's card signed that does not carry the signed request
// (key 11) is not taken as the request's, whatever else it names. A
// Request (of another goroutine of the app) during the seller's Select of
// another shopper, whose answer is such a view, or whose request on
// screen such a view answers a read of (Status), fails with ErrMismatch;
// the request is kept, or stays on screen as signed, and Select withdraws
// it or, while the platform does not answer that, keeps it: Select then
// returns the other shopper's confirmation without an error, and the next
// Request withdraws it first. The other shopper pays the next request, the
// first of its session, and the first shopper is charged nothing.
func TestSellerSelectKeepsRequestWhoseViewLacksItsSignedBytes(t *testing.T) {
	ctx := context.Background()
	strip := func(v *payflow.PaymentView) { v.Request = nil }
	for _, tc := range []struct {
		name string
		// during runs during the pairing, the first shopper's session
		// still selected.
		during func(t *testing.T, a *phoneWorld, api *hookAPI, reads *tamperAPI)
	}{
		{"the answer to the request", func(t *testing.T, a *phoneWorld, api *hookAPI, _ *tamperAPI) {
			api.mu.Lock()
			api.view = strip
			api.mu.Unlock()
			_, err := a.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			assert.ErrorIs(t, err, payflow.ErrMismatch)
		}},
		{"a read of the request on screen", func(t *testing.T, a *phoneWorld, _ *hookAPI, reads *tamperAPI) {
			_, err := a.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			assert.NoError(t, err)
			reads.payment = strip
			_, err = a.seller.Status(ctx)
			assert.ErrorIs(t, err, payflow.ErrMismatch)
			reads.payment = nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newMemoryPhoneWorld(t, false)
			reads := &tamperAPI{API: a.f.Platform}
			api := &hookAPI{API: reads}
			a.useSeller(t, api)
			b := a.withShopper(t, "Bob", payflow.ID{0xf2})
			ca := a.pair(t)
			bobEID, cb := b.shopperSelects(t)
			api.pair = func() { tc.during(t, a, api, reads) }
			api.cancelErr = payflow.ErrUnavailable
			c, err := a.seller.Select(ctx, bobEID)
			require.NoError(t, err)
			require.NotNil(t, c)
			assert.Equal(t, cb.SessionID, c.SessionID)
			made := payflow.SessionRequestID(ca.SessionID, 0)
			a.assertState(t, made, payflow.StatePending)
			api.mu.Lock()
			api.cancelErr = nil
			api.mu.Unlock()
			b.requireServedNext(t, cb, a, 0)
			a.assertState(t, made, payflow.StateCancelled, "withdrawn before the other shopper's request")
		})
	}
}

// TestSellerSelectKeepsNextRequestOnScreen: a Request of the shopper
// selected (of another goroutine of the app) whose answer arrives while
// the seller's Select withdraws the request of the session left, one
// answered during the pairing
// (TestSellerSelectWithdrawsRequestAnsweredMeanwhile) that the first
// shopper paid, stays on screen: the paid request does not take the screen
// from it, and Select fails with ErrFinal naming the paid request, which
// the seller refunds by its ID. The next Request withdraws the request on
// screen first, as the shopper would be shown it first, and the shopper
// pays the next one.
func TestSellerSelectKeepsNextRequestOnScreen(t *testing.T) {
	ctx := context.Background()
	a, b, api := hookedSellerWorlds(t)
	a.pair(t)
	bobEID, cb := b.shopperSelects(t)
	tv := a.nextTurnDuringSelect(t, api, true)
	c, err := a.seller.Select(ctx, bobEID)
	require.NotNil(t, tv.made)
	requirePaid(t, err, tv.made.ID)
	require.NotNil(t, c, "the next shopper is selected")
	assert.Equal(t, cb.SessionID, c.SessionID)
	require.NotNil(t, tv.made)
	require.NotNil(t, tv.next)
	a.assertState(t, tv.made.ID, payflow.StateCaptured)
	require.Equal(t, payflow.SessionRequestID(cb.SessionID, 0), tv.next.ID)
	v, err := a.seller.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, tv.next.ID, v.ID, "the next shopper's request stays on screen")
	assert.Equal(t, payflow.StatePending, v.State)
	rc, err := a.seller.RefundPayment(ctx, tv.made.ID, 100)
	require.NoError(t, err)
	assert.Equal(t, tv.made.ID[:], rc.RequestID)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, a.balance(t, a.shopperCard.Enrolment.ICCID), "paid and refunded")

	a.requireNextTurnServed(t, b, cb, tv, 1, 690)
}

// nextTurnDuringSelect sets api's hooks for the seller's Select of another
// session: once the platform accepts the pairing, the seller asks the
// session left for 100 EUR (paid at once by its shopper when paid); when
// Select then withdraws that request, the next shopper's turn goes on
// meanwhile, the seller asking it for basket. The hooks fill in the views
// of the two requests.
func (w *phoneWorld) nextTurnDuringSelect(t *testing.T, api *hookAPI, paid bool) *turnViews {
	ctx := context.Background()
	tv := &turnViews{}
	api.pair = func() {
		var err error
		tv.made, err = w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
		require.NoError(t, err)
		if paid {
			w.shopperApproves(t)
		}
	}
	api.cancel = func() {
		_, err := w.seller.WaitPaired(ctx)
		require.NoError(t, err)
		tv.next, err = w.seller.Request(ctx, basket)
		require.NoError(t, err)
	}
	return tv
}

// shopperApproves has the shopper of w approve the request its phone
// shows next (WaitPayment, Approve), asserting only that both succeed.
func (w *phoneWorld) shopperApproves(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	_, err := w.shopper.WaitPayment(ctx)
	require.NoError(tb, err)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(tb, err)
}

// requireNextTurnServed has the shopper of b, whose session cb the seller
// of w selected, confirm it and the seller ask it for basket: the request
// of tv.next, still on screen, is withdrawn first, and the shopper pays the
// next one, at index, having been charged charged in all.
func (w *phoneWorld) requireNextTurnServed(t *testing.T, b *phoneWorld, cb *payflow.Confirmation, tv *turnViews, index uint32, charged uint64) {
	ctx := context.Background()
	_, err := b.shopper.WaitPaired(ctx)
	require.NoError(t, err)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(cb.SessionID, index), sv.ID)
	w.assertState(t, tv.next.ID, payflow.StateCancelled, "withdrawn before the next request")
	b.requireShopperPays(t, sv, charged)
}

// turnViews are the requests of nextTurnDuringSelect: made, of the
// session left, and next, of the session selected.
type turnViews struct{ made, next *payflow.PaymentView }

// TestSellerKeptLeftRequestPaidKeepsNextOnScreen: a request that Select
// took off the screen and could not withdraw (no answer), kept to be
// withdrawn by the next Request, and that its shopper paid meanwhile, does
// not take the screen from the request that another call made meanwhile in
// the session selected, whether of another shopper or of the same one
// selected again: that Request fails with ErrFinal naming the paid request,
// the next one withdraws the request on screen first, and the shopper
// selected pays only the request it is shown next.
func TestSellerKeptLeftRequestPaidKeepsNextOnScreen(t *testing.T) {
	for _, again := range []bool{false, true} {
		t.Run(map[bool]string{false: "another shopper", true: "the same shopper again"}[again], func(t *testing.T) {
			ctx := context.Background()
			a, b, api := hookedSellerWorlds(t)
			ca := a.pair(t)
			next, index, charged := b, uint32(1), uint64(690)
			eid, err := a.shopper.EID()
			require.NoError(t, err)
			cn := ca
			if again {
				next, index, charged = a, 2, 790
			} else {
				eid, cn = b.shopperSelects(t)
			}
			tv := a.nextTurnDuringSelect(t, api, false)
			api.cancelErr = payflow.ErrUnavailable
			c, err := a.seller.Select(ctx, eid)
			require.NoError(t, err, "the request taken off the screen is kept to be withdrawn later")
			assert.Equal(t, cn.SessionID, c.SessionID)
			a.assertState(t, tv.made.ID, payflow.StatePending)
			a.shopperApproves(t)

			_, err = a.seller.Request(ctx, basket)
			requirePaid(t, err, tv.made.ID)
			v, err := a.seller.Status(ctx)
			require.NoError(t, err)
			assert.Equal(t, tv.next.ID, v.ID, "the request of the session selected stays on screen")
			assert.Equal(t, payflow.StatePending, v.State)

			a.requireNextTurnServed(t, next, cn, tv, index, charged)
			if !again {
				assert.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, a.balance(t, a.shopperCard.Enrolment.ICCID), "the first shopper paid once")
			}
		})
	}
}

// restartedSellerWorld pairs the phones, has the seller ask for 100 EUR
// and replaces the seller phone with a new one on the same card, as a
// till killed and started again: the request is left pending. It returns
// the session's confirmation and the request.
func restartedSellerWorld(t *testing.T) (*phoneWorld, *payflow.Confirmation, *payflow.PaymentView) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	c := w.pair(t)
	earlier, err := w.seller.Request(context.Background(), payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	require.Equal(t, payflow.StatePending, earlier.State)
	w.useSeller(t, w.f.Platform) // the earlier phone's Seller is dropped, nothing cancelled
	return w, c, earlier
}

// paidAndPairedAgain has the shopper of restartedSellerWorld pay the
// request that the killed till left, and a new seller phone over api pair
// again in the same session, c's.
func (w *phoneWorld) paidAndPairedAgain(t *testing.T, c *payflow.Confirmation, api payflow.API) {
	t.Helper()
	w.shopperApproves(t)
	w.useSeller(t, api)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
}

// TestSellerRequestPastPaidOfEarlierRunSelectingAnother: a Request that
// finds paid, at the index it moves past, the request of the earlier run
// of a seller phone started again, while the phone selects another
// shopper, fails with ErrNotPaired and a *PaidError naming it, and asks
// nothing more; the paid request goes on the empty screen with its
// receipt. The other shopper is served at its session's first index, and
// back with the first shopper, the next Request goes on after the paid
// request at once, the card signing one payment request.
func TestSellerRequestPastPaidOfEarlierRunSelectingAnother(t *testing.T) {
	ctx := context.Background()
	a, ca, killed := restartedSellerWorld(t)
	api := &hookAPI{API: a.f.Platform}
	a.paidAndPairedAgain(t, ca, api)
	b := a.withShopper(t, "Bob", payflow.ID{0xf2})
	var cb *payflow.Confirmation
	api.create = func() { cb = b.pair(t) }
	_, err := a.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	requirePaid(t, err, killed.ID)
	require.NotNil(t, cb)
	require.NotEqual(t, ca.SessionID, cb.SessionID)
	a.requireShownCaptured(t, killed.ID, 100)

	b.requireServedNext(t, cb, a, 100)
	a.requireBackAt(t, ca, basket, 1, 1, 790)
}

// twoRunsWorld pairs the phones, replaces the seller phone with a new one
// on the same card, as a till started again, and pairs them again, in the
// same session. It returns the session's confirmation and the earlier
// run's seller phone, which still has the session selected.
func twoRunsWorld(t *testing.T) (*phoneWorld, *payflow.Confirmation, *payflow.Seller) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	c := w.pair(t)
	earlierRun := w.seller
	w.useSeller(t, w.f.Platform)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	return w, c, earlierRun
}

// TestSellerRequestPastPendingOfEarlierRun: a seller phone started again
// in a session, where a request of its earlier run was recorded only after
// the new run's pairing (which cancelled nothing then), cancels that
// request as it moves past its index, so that the shopper is shown the
// request the seller shows, not the earlier one (PROTOCOL.md §5.6).
func TestSellerRequestPastPendingOfEarlierRun(t *testing.T) {
	ctx := context.Background()
	w, c, earlierRun := twoRunsWorld(t)
	earlier, err := earlierRun.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(c.SessionID, 0), earlier.ID)
	require.Equal(t, payflow.StatePending, earlier.State, "recorded after the pairing")

	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
	r, err := w.f.Platform.Store().Payment(ctx, earlier.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, r.State)
	w.requireShopperPays(t, sv, 690)
}

// TestSellerRequestPastPaidOfEarlierRun: a seller phone killed before it
// saw its request paid, and started again in the same session, finds the
// paid request at the index it moves past: that Request fails with a
// *PaidError naming it, the card having signed only the request refused
// as taken, and asks nothing more; the paid request goes on the empty
// screen with its receipt. The next Request goes on at the index after
// it at once, the card signing one payment request, and the shopper,
// charged once for the paid request, pays that one.
func TestSellerRequestPastPaidOfEarlierRun(t *testing.T) {
	ctx := context.Background()
	w, c, killed := restartedSellerWorld(t)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, killed.ID, screen.ID)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")

	before, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	_, err = w.seller.Request(ctx, basket)
	requirePaid(t, err, killed.ID)
	after, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before+1, after, "the card signed the request refused as taken, and no other")
	_, err = w.f.Platform.Store().Payment(ctx, payflow.SessionRequestID(c.SessionID, 1))
	require.ErrorIs(t, err, payflow.ErrNotFound, "nothing asked after the paid request")
	w.requireShownCaptured(t, killed.ID, 100)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, w.balance(t, w.shopperCard.Enrolment.ICCID))

	before, err = w.sellerCard.Card.Counter()
	require.NoError(t, err)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	after, err = w.sellerCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before+1, after, "the card signed one payment request, after the paid one")
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
	w.requireShopperPays(t, sv, 790)
	assert.Equal(t, payflow.Balance{Posted: 790}, w.balance(t, phoneMerchant))
}

// TestSellerRequestPastPaidOfOtherRunKeepsScreen: a request of another
// run of the seller phone in the session, paid, that a Request moves past
// while the screen shows a payment this run saw, fails that Request with
// a *PaidError naming it but does not take the screen, which keeps the
// payment shown; the next Request goes on after it.
func TestSellerRequestPastPaidOfOtherRunKeepsScreen(t *testing.T) {
	ctx := context.Background()
	w, c, other := twoRunsWorld(t)
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
	w.requireShopperPays(t, sv, 100)
	// The other run, still in the session at index 0, reports the payment
	// it did not see and asks at index 1, which the shopper pays.
	_, err = other.Request(ctx, basket)
	requirePaid(t, err, sv.ID)
	ov, err := other.Request(ctx, basket)
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(c.SessionID, 1), ov.ID)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, ov.ID, screen.ID)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)

	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 250, Currency: "EUR"})
	requirePaid(t, err, ov.ID)
	w.requireShownCaptured(t, sv.ID, 100)
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 250, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 2), next.ID)
	w.requireShopperPays(t, next, 100+690+250)
}

// TestSellerRequestPastPaidSeenNotReportedAgain: a paid request that the
// seller phone already showed in this run, reported when the next Request
// sent it again after a lost reply, is not reported again when the
// Request after that finds its index taken: that Request moves past it
// and makes the request at the next index, which the shopper pays.
func TestSellerRequestPastPaidSeenNotReportedAgain(t *testing.T) {
	ctx := context.Background()
	w, _ := newLostRequestWorld(t, payflow.ErrUnavailable)
	w.requireShownPaid(t)
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(sv.SessionID, 1), sv.ID)
	w.requireShopperPays(t, sv, 790)
}

// TestSellerKilledRequestCancelledOnPairing: a seller phone stopped
// without cancelling its pending request (a killed till) and started
// again pairs in the same session, which cancels that request at once: the
// shopper, still in the session, is shown no request until the new phone
// makes one, and then only that one, which it pays.
func TestSellerKilledRequestCancelledOnPairing(t *testing.T) {
	ctx := context.Background()
	w, c, killed := restartedSellerWorld(t)
	w.hear(t)
	shopperEID, err := w.shopper.EID()
	require.NoError(t, err)
	again, err := w.seller.Select(ctx, shopperEID)
	require.NoError(t, err)
	require.True(t, again.Paired)
	require.Equal(t, c.SessionID, again.SessionID, "the same session again")
	r, err := w.f.Platform.Store().Payment(ctx, killed.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, r.State, "cancelled by the pairing")
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err = w.shopper.WaitPayment(wctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the shopper is shown no request before the new one")

	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
	w.requireShopperPays(t, sv, 690)
	assert.Equal(t, payflow.Balance{Posted: 690}, w.balance(t, phoneMerchant))
}

// TestSellerLostRequestCancelledByPairingAgain: a payment request recorded
// without the seller phone knowing (its reply lost) is cancelled by the
// seller card's next pairing in the session; the next Request sends it
// again, finds it cancelled, and neither shows it nor fails for it: it
// asks at the next index, and the shopper pays that request alone.
func TestSellerLostRequestCancelledByPairingAgain(t *testing.T) {
	ctx := context.Background()
	w, _ := newLostRequestWorld(t, payflow.ErrUnavailable)
	c := w.pair(t)
	lostID := payflow.SessionRequestID(c.SessionID, 0)
	lost, err := w.f.Platform.Store().Payment(ctx, lostID)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCancelled, lost.State, "cancelled by the pairing")

	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
	assert.Equal(t, payflow.StatePending, sv.State)
	after, err := w.f.Platform.Store().Payment(ctx, lostID)
	require.NoError(t, err)
	assert.Equal(t, lost, after, "the lost request is left as the pairing left it")
	w.requireShopperPays(t, sv, 100)
	assert.Equal(t, payflow.Balance{Posted: 100}, w.balance(t, phoneMerchant))
}

// requireShopperPays checks that the shopper's wait finds sv, the request
// on the seller's screen, and that once the shopper approves it the
// seller's Wait shows it captured with the shopper's receipt, the shopper
// having paid charged in all.
func (w *phoneWorld) requireShopperPays(tb testing.TB, sv *payflow.PaymentView, charged uint64) {
	tb.Helper()
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	screen, err := w.shopper.WaitPayment(wctx)
	require.NoError(tb, err)
	assert.Equal(tb, sv.ID, screen.ID, "the shopper is shown what the seller shows")
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(tb, err)
	w.requireSellerCaptured(tb, rc)
	assert.Equal(tb, payflow.Balance{Posted: phoneFunds - charged}, w.balance(tb, w.shopperCard.Enrolment.ICCID))
}

// TestSellerRefundsEarlierPayment: a payment no longer on screen, after
// the seller asked for the next one, is refunded by its ID
// (RefundPayment), with its own receipt; an ID of no request is
// ErrNotFound and moves nothing.
func TestSellerRefundsEarlierPayment(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	c := w.pair(t)
	w.purchase(t)
	w.purchase(t)
	first := payflow.SessionRequestID(c.SessionID, 0)

	rc, err := w.seller.RefundPayment(ctx, first, 240)
	require.NoError(t, err)
	assert.Equal(t, record.ReceiptRefund, rc.Kind)
	assert.Equal(t, first[:], rc.RequestID)
	assert.Equal(t, uint64(240), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 2*690 + 240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	r, err := w.f.Platform.Store().Payment(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, uint64(240), r.Refunded)

	_, err = w.seller.RefundPayment(ctx, payflow.ID{1}, 10)
	require.ErrorIs(t, err, payflow.ErrNotFound)
	assert.Equal(t, payflow.Balance{Posted: 2*690 - 240}, w.balance(t, phoneMerchant))
}

// mustHeld returns the seller's held requests (Held).
func mustHeld(tb testing.TB, s *payflow.Seller) []*payflow.PaymentView {
	tb.Helper()
	held, err := s.Held(context.Background())
	require.NoError(tb, err)
	return held
}

// TestSellerNextRequestAfterPayment: once a request of the session was
// paid (captured at once, or held and then captured, or left held), the
// seller's next Request takes the next index at once: the card signs one
// payment request, not first another at the paid one's index, which the
// platform would refuse as taken.
func TestSellerNextRequestAfterPayment(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		manual  bool
		capture bool
	}{{"captured at once", false, false}, {"held, then captured", true, true}, {"left held", true, false}} {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, tt.manual)
			c := w.pair(t)
			w.request(t)
			if tt.manual {
				w.approveHeld(t)
				if tt.capture {
					_, err := w.seller.Capture(ctx, 0)
					require.NoError(t, err)
					// The shopper collects the receipt of its kept consent.
					v, err := w.shopper.WaitPayment(ctx)
					require.NoError(t, err)
					require.Equal(t, payflow.StateCaptured, v.State)
					_, err = w.shopper.Approve(ctx, "")
					require.NoError(t, err)
				}
			} else {
				_, err := w.shopper.Approve(ctx, simcardtest.PIN)
				require.NoError(t, err)
				_, rc, err := w.seller.Wait(ctx)
				require.NoError(t, err)
				require.NotNil(t, rc)
			}
			before, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)
			assert.Equal(t, payflow.SessionRequestID(c.SessionID, 1), sv.ID)
			after, err := w.sellerCard.Card.Counter()
			require.NoError(t, err)
			assert.Equal(t, before+1, after, "the card signed one payment request")
			screen, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			assert.Equal(t, sv.ID, screen.ID)
		})
	}
}

// TestSellerTakenIndexViewCheckedAgainstScreen: the view of a request
// that Request reads at a taken index, when that request is on screen,
// must be of the request on screen, its signed request byte for byte
// (sameRequest): one without it (a network that drops key 11), or one
// that carries another request that the card signed under its ID, shown
// pending (a platform that mixes requests up), is ErrMismatch, cancels
// nothing and leaves the screen as it was, so that the platform's true
// views of the request on screen are still taken.
func TestSellerTakenIndexViewCheckedAgainstScreen(t *testing.T) {
	for _, tt := range []struct {
		name string
		// read alters the view of the taken index that Request reads in w,
		// whose session is c.
		read func(t *testing.T, w *phoneWorld, c *payflow.Confirmation) func(*payflow.PaymentView)
	}{
		{"without its signed request", func(*testing.T, *phoneWorld, *payflow.Confirmation) func(*payflow.PaymentView) {
			return func(v *payflow.PaymentView) { v.Request = nil }
		}},
		{"another signed request, pending", func(t *testing.T, w *phoneWorld, c *payflow.Confirmation) func(*payflow.PaymentView) {
			id := payflow.SessionRequestID(c.SessionID, 0)
			other, err := w.sellerCard.Card.SignPaymentRequest(&record.PaymentRequest{
				RequestID: id[:], SessionID: c.SessionID[:], PayerCardID: w.shopperCard.Enrolment.ICCID,
				MerchantID: phoneMerchant, Currency: "EUR", Amount: 5000,
			})
			require.NoError(t, err)
			h := record.Hash(other)
			return func(v *payflow.PaymentView) {
				v.State, v.Amount, v.Request, v.RequestHash = payflow.StatePending, 5000, other, h[:]
				v.Captured, v.Receipt = 0, nil
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testTakenIndexViewCheckedAgainstScreen(t, tt.read)
		})
	}
}

// keptPaidShown has the seller of w, talking to api, pair and ask for
// charge at index 0, whose answer is the view of another request (the
// request is kept); the shopper pays it, and the next Request, sending it
// again, shows it paid and fails with the *PaidError it returns. Having
// found it recorded, the seller moves past index 0; the session's next
// index is then set back to 0 (SetNextRequestIndex), a state that no
// answer of the platform leads to, so that the card signs another request
// under the ID of the paid request on screen.
func (w *phoneWorld) keptPaidShown(t *testing.T, api *hookAPI, charge payflow.Charge) (*payflow.Confirmation, *payflow.PaidError) {
	t.Helper()
	ctx := context.Background()
	w.useSeller(t, api)
	c := w.pair(t)
	api.mu.Lock()
	api.view = func(v *payflow.PaymentView) { v.Amount++ }
	api.mu.Unlock()
	_, err := w.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	w.shopperApproves(t)
	_, err = w.seller.Request(ctx, charge)
	requirePaid(t, err, payflow.SessionRequestID(c.SessionID, 0))
	paid, _ := errors.AsType[*payflow.PaidError](err)
	payflow.SetNextRequestIndex(w.seller, 0)
	return c, paid
}

func testTakenIndexViewCheckedAgainstScreen(t *testing.T, read func(*testing.T, *phoneWorld, *payflow.Confirmation) func(*payflow.PaymentView)) {
	ctx := context.Background()
	a := newMemoryPhoneWorld(t, false)
	reads := &tamperAPI{API: a.f.Platform}
	api := &hookAPI{API: reads}
	charge := payflow.Charge{Amount: 100, Currency: "EUR"}
	ca, _ := a.keptPaidShown(t, api, charge)
	paid := payflow.SessionRequestID(ca.SessionID, 0)

	// The next Request finds index 0 taken (withdrawTaken reads it, as
	// read alters it), and the request at index 1 gets no answer.
	reads.payment = read(t, a, ca)
	var calls, cancels atomic.Int32
	api.mu.Lock()
	api.createErr = func() error {
		if calls.Add(1) == 2 {
			return payflow.ErrUnavailable
		}
		return nil
	}
	api.cancel = func() { cancels.Add(1) }
	api.mu.Unlock()
	_, err := a.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Zero(t, cancels.Load(), "no cancellation was sent")
	reads.payment = nil
	api.mu.Lock()
	api.createErr, api.cancel = nil, nil
	api.mu.Unlock()

	// The honest view of the paid request on screen.
	v, err := a.seller.Status(ctx)
	require.NoError(t, err, "Status of the paid request on screen")
	require.Equal(t, paid, v.ID)
	assert.Equal(t, payflow.StateCaptured, v.State)
	assert.Equal(t, uint64(100), v.Amount)
}

// TestSellerResentViewCheckedAgainstScreen: the view of a kept payment
// request that Request sends again (one that got no answer), when a
// request with its ID is on screen, must be of the request on screen,
// its signed request byte for byte (sameRequest). A platform that answers
// with the view of that kept request, another that the card signed under
// the ID of the paid request on screen, paid or pending, is ErrMismatch:
// nothing goes on screen, nothing is cancelled or kept in Held, and the
// paid request stays on screen with its receipt. Once the platform
// answers as it records, the kept request is refused, its index being
// taken, and Request goes on after the paid request at once, having moved
// past index 0 as the platform showed the kept request recorded there.
func TestSellerResentViewCheckedAgainstScreen(t *testing.T) {
	for _, state := range []string{payflow.StateCaptured, payflow.StatePending} {
		t.Run(state, func(t *testing.T) { testResentViewCheckedAgainstScreen(t, state) })
	}
}

func testResentViewCheckedAgainstScreen(t *testing.T, state string) {
	ctx := context.Background()
	a := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: a.f.Platform}
	charge := payflow.Charge{Amount: 100, Currency: "EUR"}
	ca, shown := a.keptPaidShown(t, api, charge)
	paid := shown.Payment.ID

	// The card signs another request at index 0, which gets no answer and
	// is kept; sent again, it is answered with its view, as state.
	a.keepUnanswered(t, api, payflow.Charge{Amount: 200, Currency: "EUR"})
	var answered, cancels atomic.Int32
	api.mu.Lock()
	api.createView = func(req *payflow.CreateRequest) *payflow.PaymentView {
		answered.Add(1)
		v := *shown.Payment
		h := record.Hash(req.Request)
		v.State, v.Amount, v.Captured, v.Request, v.RequestHash = state, 200, 200, req.Request, h[:]
		if state == payflow.StatePending {
			v.Captured, v.Receipt = 0, nil
		}
		return &v
	}
	api.cancel = func() { cancels.Add(1) }
	api.mu.Unlock()
	_, err := a.seller.Request(ctx, charge)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	_, isPaid := errors.AsType[*payflow.PaidError](err)
	assert.False(t, isPaid, "%v reports no payment", err)
	assert.Equal(t, int32(1), answered.Load(), "the kept request was sent again")
	assert.Zero(t, cancels.Load(), "no cancellation was sent")
	api.mu.Lock()
	api.createView, api.cancel = nil, nil
	api.mu.Unlock()

	a.requireShownCaptured(t, paid, 100)
	held, err := a.seller.Held(ctx)
	require.NoError(t, err)
	assert.Empty(t, held)
	a.assertState(t, paid, payflow.StateCaptured)
	var creates atomic.Int32
	api.mu.Lock()
	api.createErr = func() error { creates.Add(1); return nil }
	api.mu.Unlock()
	v, err := a.seller.Request(ctx, charge)
	require.NoError(t, err)
	assert.Equal(t, payflow.SessionRequestID(ca.SessionID, 1), v.ID)
	assert.Equal(t, uint64(100), v.Amount)
	assert.Equal(t, int32(2), creates.Load(), "the kept request sent again, refused, and index 1")
}

// TestSellerTakenIndexViewWithoutSignedRequest: the view of an earlier
// run's request that Request reads at a taken index must carry the signed
// request it shows (a network that drops key 11 does not): otherwise
// Request fails with ErrMismatch, nothing goes on screen or into Held, and
// the next Request reads that index again, so that the platform's true
// view is the one taken: a paid request is reported with its receipt, a
// held one kept and capturable.
func TestSellerTakenIndexViewWithoutSignedRequest(t *testing.T) {
	t.Run("paid", testTakenIndexPaidViewWithoutSignedRequest)
	t.Run("held", testTakenIndexHeldViewWithoutSignedRequest)
}

func testTakenIndexPaidViewWithoutSignedRequest(t *testing.T) {
	ctx := context.Background()
	w, c, killed := restartedSellerWorld(t)
	reads := &tamperAPI{API: w.f.Platform}
	w.paidAndPairedAgain(t, c, reads)
	reads.payment = func(v *payflow.PaymentView) { v.Request = nil }
	_, err := w.seller.Request(ctx, basket)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	reads.payment = nil
	_, err = w.seller.Request(ctx, basket)
	requirePaid(t, err, killed.ID)
	w.requireShownCaptured(t, killed.ID, 100)
}

func testTakenIndexHeldViewWithoutSignedRequest(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	c := w.pair(t)
	w.request(t)
	x := w.approveHeld(t)
	reads := &tamperAPI{API: w.f.Platform}
	w.useSeller(t, reads)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	reads.payment = func(v *payflow.PaymentView) { v.Request = nil }
	_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.ErrorIs(t, err, payflow.ErrMismatch)
	reads.payment = nil
	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	held, err := w.seller.Held(ctx)
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.Equal(t, x, held[0].ID)
	_, err = w.seller.CaptureHeld(ctx, x, 0)
	require.NoError(t, err)
}

// TestSellerHeldCapturedElsewhereReportedAtTakenIndex: a held request of
// an earlier run, kept in Held as Request moved past it, that the earlier
// run captured (captured elsewhere) leaves Held without the app seeing it
// paid, so it is not taken as seen paid: when Request, back in the
// session after its index was forgotten, finds it at a taken index, it
// fails with a *PaidError naming it.
func TestSellerHeldCapturedElsewhereReportedAtTakenIndex(t *testing.T) {
	ctx := context.Background()
	w := newSelectingWorld(t)
	c := w.pair(t)
	earlier := w.seller
	w.request(t)
	x := w.approveHeld(t)
	w.useSeller(t, w.f.Platform)
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	y, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(c.SessionID, 1), y.ID)
	held, err := w.seller.Held(ctx)
	require.NoError(t, err)
	require.Len(t, held, 1)
	require.Equal(t, x, held[0].ID)
	_, err = w.seller.Cancel(ctx)
	require.NoError(t, err)

	_, err = earlier.Capture(ctx, 0) // captured elsewhere (the earlier run)
	require.NoError(t, err)
	held, err = w.seller.Held(ctx)
	require.NoError(t, err)
	require.Empty(t, held, "the captured request is dropped: the app sees no payment")

	w.selectOthers(t, 16, func(int) {})
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	_, err = w.seller.Request(ctx, basket)
	requirePaid(t, err, x)
}

// TestSellerHeldCapturedOffScreenSeenPaid: a held request captured with
// CaptureHeld after it left the screen (another session selected) is seen
// paid by its receipt: when Request, back in the session after its index
// was forgotten, finds it at a taken index, it moves past it and asks at
// the next index, with no *PaidError.
func TestSellerHeldCapturedOffScreenSeenPaid(t *testing.T) {
	ctx := context.Background()
	w := newSelectingWorld(t)
	c := w.pair(t)
	w.request(t)
	x := w.approveHeld(t)

	w.selectOthers(t, 16, func(i int) {
		if i == 0 { // x has left the screen
			_, err := w.seller.Status(ctx)
			require.ErrorIs(t, err, payflow.ErrNoPayment, "the held request is off the screen")
			_, err = w.seller.CaptureHeld(ctx, x, 0)
			require.NoError(t, err)
			held, err := w.seller.Held(ctx)
			require.NoError(t, err)
			require.Empty(t, held, "captured, its receipt returned")
		}
	})
	require.Equal(t, c.SessionID, w.pair(t).SessionID, "the same session again")
	y, err := w.seller.Request(ctx, basket)
	require.NoError(t, err, "the request captured by CaptureHeld was seen paid")
	require.Equal(t, payflow.SessionRequestID(c.SessionID, 1), y.ID)
}

// newSelectingWorld is a phone world of a manual-capture merchant whose
// platform resolves enough adverts in a row for the seller to select the
// sessions of many shoppers (selectOthers).
func newSelectingWorld(t *testing.T) *phoneWorld {
	t.Helper()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{
		Platform: payflow.PlatformOptions{ResolveBurst: 100},
	})
	return newPhoneWorld(t, f, nil, true)
}

// selectOthers has the seller select the sessions of n shoppers enrolled
// now, one after the other, calling each with i after the i-th.
func (w *phoneWorld) selectOthers(t *testing.T, n int, each func(i int)) {
	t.Helper()
	for i := range n {
		p := w.hears(t, w.seller.Queue(), enrolPhoneCard(t, w.f, fmt.Sprintf("Shopper %02d", i)), adv.Shopper, -60)
		_, err := w.seller.Select(context.Background(), p.EID)
		require.NoError(t, err)
		each(i)
	}
}

// TestSellerReturnsAreTheAppsOwn: what a Seller returns of what it keeps
// is the app's own: writing into a view that Request, Status, Wait, Held
// or a *PaidError gave, into the catalog, or into the login,
// leaves what the phone keeps as it was, and the calls that compare with
// it go on.
func TestSellerReturnsAreTheAppsOwn(t *testing.T) {
	ctx := context.Background()
	t.Run("Request, Status and Wait", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		sv, screen := w.request(t)
		scribble(sv)
		v, err := w.seller.Status(ctx)
		require.NoError(t, err)
		requireSameRequest(t, screen, v)
		scribble(v)
		_, err = w.shopper.Approve(ctx, simcardtest.PIN)
		require.NoError(t, err)
		v, rc, err := w.seller.Wait(ctx)
		require.NoError(t, err)
		requireSameRequest(t, screen, v)
		assert.Equal(t, uint64(690), rc.Amount)
		scribble(v)
		rc, err = w.seller.Refund(ctx, 100)
		require.NoError(t, err)
		assert.Equal(t, uint64(100), rc.Amount)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 590}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
	t.Run("Held", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		id := w.pairAndHold(t)
		held := mustHeld(t, w.seller)
		require.Len(t, held, 1)
		scribble(held[0])
		rc, err := w.seller.CaptureHeld(ctx, id, 0)
		require.NoError(t, err)
		assert.Equal(t, uint64(690), rc.Amount)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
	t.Run("PaidError", func(t *testing.T) {
		w, screen := newLostPaidWorld(t)
		_, err := w.seller.Request(ctx, basket)
		requirePaid(t, err, screen.ID)
		paid, _ := errors.AsType[*payflow.PaidError](err)
		scribble(paid.Payment)
		v, rc, err := w.seller.Wait(ctx)
		require.NoError(t, err)
		requireSameRequest(t, screen, v)
		assert.Equal(t, uint64(690), rc.Amount)
	})
	t.Run("Login and Catalog", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		l, err := w.seller.Login(ctx)
		require.NoError(t, err)
		l.MerchantID = "another-shop"
		c, err := w.seller.Catalog(ctx)
		require.NoError(t, err)
		c.Currency, c.Items[0].UnitPrice = "USD", 1
		c.Items = append(c.Items[:1], payflow.CatalogItem{SKU: "scribbled", Name: "Scribbled", UnitPrice: 1})
		c, err = w.seller.Catalog(ctx)
		require.NoError(t, err)
		assert.Equal(t, &payflow.Catalog{MerchantID: phoneMerchant, Currency: "EUR", Items: phoneCatalog}, c)
		w.pair(t)
		sv, err := w.seller.Request(ctx, basket)
		require.NoError(t, err)
		assert.Equal(t, uint64(690), sv.Amount)
		assert.Equal(t, "EUR", sv.Currency)
	})
}

// TestSellerChecksWithTheCardsOwnHeader: the check that Request makes of a
// payment request before the card signs it measures it with the card
// header that the card adds (its ICCID and its next counter): shrunk one
// octet of asset names at a time from too long, the first request that
// the check lets through is one the card signs, and the one before it,
// which the check refuses with ErrInvalid, is one the card refuses too,
// using no counter. (Request refuses a charge well below this boundary
// for its receipt, which is longer than its request:
// TestSellerRefusesWhatNoReceiptCarries.)
func TestSellerChecksWithTheCardsOwnHeader(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	c := w.pair(t)
	counter, err := w.sellerCard.Card.Counter()
	require.NoError(t, err)
	require.Less(t, counter, uint64(22), "the next counters take one octet")
	checksWithTheCardsOwnHeader(t, w, c)
}

// checksWithTheCardsOwnHeader shrinks, one octet of asset names at a
// time, a payment request of w's seller in session c from longer than
// the card signs, and checks that the first that CheckToSign lets through
// is one that the card signs, and the one before it, which the check
// refuses with ErrInvalid, one that the card refuses too, using no
// counter.
func checksWithTheCardsOwnHeader(t *testing.T, w *phoneWorld, c *payflow.Confirmation) {
	t.Helper()
	card := w.sellerCard.Card
	counter, err := card.Counter()
	require.NoError(t, err)
	_, items := longestItems()
	id := payflow.SessionRequestID(c.SessionID, 0)
	var over *record.PaymentRequest // the last request the check refused
	for total := record.MaxLegs * record.MaxText; total >= record.MaxLegs; total-- {
		r := &record.PaymentRequest{
			RequestID: id[:], SessionID: c.SessionID[:],
			PayerCardID: w.shopperCard.Enrolment.ICCID, MerchantID: phoneMerchant, Currency: "EUR",
			Amount: 1, Items: items,
		}
		left := total
		for i := range record.MaxLegs {
			n := min(record.MaxText, left-(record.MaxLegs-1-i))
			left -= n
			r.Legs = append(r.Legs, record.Leg{Asset: strings.Repeat(string(rune('a'+i)), n), Amount: 1 << 62})
		}
		if err := payflow.CheckToSign(w.seller, r); err != nil {
			require.ErrorIs(t, err, payflow.ErrInvalid, "asset octets %d", total)
			require.ErrorIs(t, err, record.ErrMalformed, "asset octets %d", total)
			over = r
			continue
		}
		require.NotNil(t, over, "the longest request is refused")
		_, err := card.SignPaymentRequest(over)
		require.ErrorIs(t, err, simcard.ErrRefused, "asset octets %d: the card refuses one octet more", total+1)
		after, err := card.Counter()
		require.NoError(t, err)
		require.Equal(t, counter, after, "no counter used")
		_, err = card.SignPaymentRequest(r)
		require.NoError(t, err, "asset octets %d: the card signs the largest request the check lets through", total)
		return
	}
	t.Fatal("every request refused")
}

// TestSellerRefusesWhatNoReceiptCarries: a charge whose payment request
// the card can sign but whose receipt, with the catalog's names on its
// lines and the longest values its settlement can give, would be longer
// than record.MaxMessage, is ErrInvalid before the card is asked, as the
// platform would refuse its request. Shrunk one octet of asset names at a
// time from too long, the first charge that the phone lets through is
// recorded, and the one before it, signed by the card and sent as it is,
// is refused by the platform (invalid).
func TestSellerRefusesWhatNoReceiptCarries(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	card := askSeller(t, w)
	c := w.pair(t)
	const lines = record.MaxItems / 2
	catalog := make([]payflow.CatalogItem, lines)
	items := make([]record.Item, lines)
	for i := range items {
		sku := fmt.Sprintf("%0*d", record.MaxText, i)
		catalog[i] = payflow.CatalogItem{SKU: sku, Name: strings.Repeat("n", record.MaxText), UnitPrice: 1}
		items[i] = record.Item{SKU: sku, Quantity: 1 << 56}
	}
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, catalog))
	for i := range record.MaxLegs {
		for n := 1; n <= record.MaxText; n++ {
			asset := strings.Repeat(string(rune('a'+i)), n)
			require.NoError(t, w.f.Platform.RegisterAsset(ctx, asset, uint32(2000+i*record.MaxText+n)))
		}
	}
	var over *payflow.Charge // the last charge the phone refused
	for total := record.MaxLegs * record.MaxText; total >= record.MaxLegs; total-- {
		charge := payflow.Charge{Items: items}
		left := total
		for i := range record.MaxLegs {
			n := min(record.MaxText, left-(record.MaxLegs-1-i))
			left -= n
			charge.Legs = append(charge.Legs, record.Leg{Asset: strings.Repeat(string(rune('a'+i)), n), Amount: 1 << 62})
		}
		sv, err := w.seller.Request(ctx, charge)
		if card.asked == 0 {
			require.ErrorIs(t, err, payflow.ErrInvalid, "asset octets %d", total)
			over = &charge
			continue
		}
		require.NotNil(t, over, "the longest charge is refused before the card: %v", err)
		require.NoError(t, err, "asset octets %d: the first charge the phone lets through is recorded", total)
		assert.Equal(t, payflow.SessionRequestID(c.SessionID, 0), sv.ID)
		// The charge one octet longer, signed by the card all the same,
		// is one the platform refuses.
		id := payflow.SessionRequestID(c.SessionID, 1)
		msg, err := w.sellerCard.Card.SignPaymentRequest(&record.PaymentRequest{
			RequestID: id[:], SessionID: c.SessionID[:], PayerCardID: w.shopperCard.Enrolment.ICCID,
			MerchantID: phoneMerchant, Currency: "EUR", Amount: lines << 56, Items: over.Items, Legs: over.Legs,
		})
		require.NoError(t, err, "the card signs the request of the charge refused")
		_, err = w.f.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
		require.ErrorIs(t, err, payflow.ErrInvalid, "asset octets %d: its receipt does not fit", total+1)
		return
	}
	t.Fatal("every charge refused")
}

// TestSellerPricesAgainAfterReceiptTooLong: a charge refused before the
// card signs because its receipt, with the names of the catalog the phone
// priced it with, would not fit, has the next Request price the items
// with the catalog fetched again: once the merchant shortened the names,
// the same charge is recorded.
func TestSellerPricesAgainAfterReceiptTooLong(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	card := askSeller(t, w)
	w.pair(t)
	catalog := make([]payflow.CatalogItem, record.MaxItems)
	items := make([]record.Item, record.MaxItems)
	for i := range items {
		sku := fmt.Sprintf("%0*d", record.MaxText, i)
		catalog[i] = payflow.CatalogItem{SKU: sku, Name: strings.Repeat("n", record.MaxText), UnitPrice: 1}
		items[i] = record.Item{SKU: sku, Quantity: 1}
	}
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, catalog))
	_, err := w.seller.Request(ctx, payflow.Charge{Items: items})
	require.ErrorIs(t, err, payflow.ErrInvalid, "its receipt does not fit")
	require.Zero(t, card.asked)
	for i := range catalog {
		catalog[i].Name = "n"
	}
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, catalog))
	sv, err := w.seller.Request(ctx, payflow.Charge{Items: items})
	require.NoError(t, err, "priced with the catalog fetched again")
	assert.Equal(t, uint64(record.MaxItems), sv.Amount)
}

// TestSellerInvalidChargeLeavesTheScreen: a charge that Request refuses
// before the card signs (ErrInvalid: a currency of the wrong form, a SKU
// not in the catalog, a receipt too long) leaves the request on screen
// pending, for the shopper to pay, and on screen: it is withdrawn only by a
// Request that goes on to ask.
func TestSellerInvalidChargeLeavesTheScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	longest, items := longestItems()
	require.NoError(t, w.f.Platform.SetCatalog(ctx, phoneMerchant, append(slices.Clone(phoneCatalog), longest...)))
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	for _, charge := range []payflow.Charge{
		{Amount: 100, Currency: "eur"},
		{Items: []record.Item{{SKU: "no-such-sku", Quantity: 1}}},
		{Items: items},
	} {
		_, err := w.seller.Request(ctx, charge)
		require.ErrorIs(t, err, payflow.ErrInvalid, "%+v", charge)
		w.assertState(t, sv.ID, payflow.StatePending)
		shown, err := w.seller.Status(ctx)
		require.NoError(t, err)
		assert.Equal(t, sv.ID, shown.ID, "still on screen")
	}
	w.requireShopperPays(t, sv, 100)
}

// exhaustibleCard is a SellerCard that, once exhausted is set, answers as
// a card whose signature counter reached 2^64-1 (simcard/applet's
// TestCounterExhausted): its counter reads 2^64-1 and it refuses every
// record with 6985 (simcard.ErrConditions), using no counter. It counts
// the records it is asked to sign meanwhile.
type exhaustibleCard struct {
	payflow.SellerCard
	exhausted atomic.Bool
	asked     atomic.Int64 // records asked for while exhausted
}

func (c *exhaustibleCard) Counter() (uint64, error) {
	if c.exhausted.Load() {
		return math.MaxUint64, nil
	}
	return c.SellerCard.Counter()
}

// refusal is the card's answer to a SIGN RECORD while exhausted, or nil.
func (c *exhaustibleCard) refusal() error {
	if !c.exhausted.Load() {
		return nil
	}
	c.asked.Add(1)
	return &simcard.StatusError{SW: simcard.SWConditions, Ins: simcard.InsSignRecord}
}

func (c *exhaustibleCard) SignAuthProof(p *record.AuthProof) ([]byte, error) {
	if err := c.refusal(); err != nil {
		return nil, err
	}
	return c.SellerCard.SignAuthProof(p)
}

func (c *exhaustibleCard) SignPaymentRequest(r *record.PaymentRequest) ([]byte, error) {
	if err := c.refusal(); err != nil {
		return nil, err
	}
	return c.SellerCard.SignPaymentRequest(r)
}

func (c *exhaustibleCard) SignRefundRequest(r *record.RefundRequest) ([]byte, error) {
	if err := c.refusal(); err != nil {
		return nil, err
	}
	return c.SellerCard.SignRefundRequest(r)
}

// TestSellerExhaustedCardLeavesTheScreen: a Request once the seller card's
// counter reached 2^64-1, so that the card signs nothing more, fails with
// the error of the card's refusal (simcard.ErrConditions) before it
// withdraws anything or asks the card to sign: the request on screen stays
// pending and on screen, and the shopper pays it; a request kept to be
// sent again stays pending and kept, and the next Cancel, which the card
// signs nothing for, withdraws it.
func TestSellerExhaustedCardLeavesTheScreen(t *testing.T) {
	ctx := context.Background()
	for _, kept := range []bool{false, true} {
		t.Run(map[bool]string{false: "on screen", true: "kept"}[kept], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &faultAPI{API: w.f.Platform}
			card := &exhaustibleCard{SellerCard: w.sellerCard.Card}
			var err error
			w.seller, err = payflow.NewSeller(card, phoneOptions(w.f, api))
			require.NoError(t, err)
			c := w.pair(t)
			charge := payflow.Charge{Amount: 100, Currency: "EUR"}
			sv, pending := w.leavePending(t, api, c, charge, kept, 1)

			card.exhausted.Store(true)
			_, err = w.seller.Request(ctx, charge)
			require.ErrorIs(t, err, simcard.ErrConditions)
			assert.Zero(t, card.asked.Load(), "the card is asked to sign nothing")
			w.assertState(t, pending, payflow.StatePending)
			if !kept {
				w.requireStillShown(t, sv)
				w.requireShopperPays(t, sv, 100)
				return
			}
			_, err = w.seller.Status(ctx)
			require.ErrorIs(t, err, payflow.ErrNoPayment)
			v, err := w.seller.Cancel(ctx)
			require.NoError(t, err)
			assert.Equal(t, pending, v.ID, "still kept")
			assert.Equal(t, payflow.StateCancelled, v.State)
			w.assertState(t, pending, payflow.StateCancelled)
		})
	}
}

// TestSellerExhaustedCardSelectLeavesTheScreen: a Select once the seller
// card's counter reached 2^64-1, so that the card cannot sign the pairing
// proof, fails with the error of the card's refusal
// (simcard.ErrConditions) before it withdraws anything or asks the card
// to sign: the request on screen stays pending and on screen, and the
// shopper pays it.
func TestSellerExhaustedCardSelectLeavesTheScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	card := &exhaustibleCard{SellerCard: w.sellerCard.Card}
	var err error
	w.seller, err = payflow.NewSeller(card, phoneOptions(w.f, w.f.Platform))
	require.NoError(t, err)
	w.pair(t)
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	shopperEID, err := w.shopper.EID()
	require.NoError(t, err)

	card.exhausted.Store(true)
	_, err = w.seller.Select(ctx, shopperEID)
	require.ErrorIs(t, err, simcard.ErrConditions)
	assert.Zero(t, card.asked.Load(), "the card is asked to sign nothing")
	w.requireStillShown(t, sv)
	w.requireShopperPays(t, sv, 100)
}

// TestSellerLimitCountsKeptHoldAsWithdrawn: a request kept to be
// withdrawn, which the seller also keeps among its held requests, does
// not count toward MaxHeld before Request withdraws it, since the
// withdrawal voids its hold: with MaxHeld-1 other holds kept, Request
// withdraws it (cancelled) and asks rather than fail with ErrLimit.
//
// The request is made by a Request answered while a Select of another
// shopper is under way, and is on screen pending when a Capture of it
// gets no answer (its capture's receipt due: kept among the held
// requests); the Select's withdrawal of it gets no answer either (kept
// to be withdrawn), and its shopper then approves it, held.
func TestSellerLimitCountsKeptHoldAsWithdrawn(t *testing.T) {
	ctx := context.Background()
	a := newMemoryPhoneWorld(t, true)
	api := &hookAPI{API: a.f.Platform}
	captures := &faultAPI{API: api}
	captures.capture.refusals = true
	a.useSeller(t, captures)
	b := a.withShopper(t, "Bob", payflow.ID{0xf2})
	c := a.pair(t)
	for i := range payflow.MaxHeld - 1 {
		a.holdAt(t, c, i)
	}
	// The shopper's phone of the holds above talks to the platform
	// itself: another, whose approval approvesHeld sees, approves made.
	approvals := &tamperAPI{API: a.f.Platform}
	a.shopperRejoins(t, approvals)
	var made *payflow.PaymentView
	api.pair = func() {
		var err error
		made, err = a.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
		require.NoError(t, err)
		captures.capture.reply.failAllWith(payflow.ErrUnavailable)
		_, err = a.seller.Capture(ctx, 0)
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		captures.capture.reply.disarm()
	}
	api.cancelErr = payflow.ErrUnavailable // the Select's withdrawal of made
	bobEID, _ := b.shopperSelects(t)
	_, err := a.seller.Select(ctx, bobEID)
	require.NoError(t, err, "the request taken off the screen is kept to be withdrawn later")
	require.NotNil(t, made)
	_, err = b.shopper.WaitPaired(ctx)
	require.NoError(t, err)

	// Its shopper approves it; the approval waits for a capture, which
	// does not come, and stops once the platform answered it, held.
	a.approvesHeld(t, approvals)()
	a.assertState(t, made.ID, payflow.StateHeld)
	require.Len(t, mustHeld(t, a.seller), payflow.MaxHeld, "made kept held, its capture's receipt due")

	sv, err := a.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
	require.NoError(t, err)
	a.assertState(t, made.ID, payflow.StateCancelled, "withdrawn, its hold voided")
	a.assertState(t, sv.ID, payflow.StatePending)
	held := mustHeld(t, a.seller)
	assert.Len(t, held, payflow.MaxHeld-1)
	assert.Equal(t, -1, slices.IndexFunc(held, func(v *payflow.PaymentView) bool { return v.ID == made.ID }))
}

// TestSellerSelectUnknownPeerThenReportsKeptPaid: a Select of an EID that
// the queue does not hold fails with queue.ErrUnknownPeer alone, also
// while the phone keeps a request that got no answer and that the
// shopper paid: it sends nothing, so it cannot know of the payment. The
// next call that goes on reports it before it does anything else: the
// Select of a peer the queue holds fails with a *PaidError naming it,
// selecting nothing, and the payment is on screen with its receipt; the
// shopper paid once.
func TestSellerSelectUnknownPeerThenReportsKeptPaid(t *testing.T) {
	ctx := context.Background()
	w, screen := newLostPaidWorld(t)
	_, err := w.seller.Select(ctx, adv.EID{0xde, 0xad})
	require.ErrorIs(t, err, queue.ErrUnknownPeer)
	assert.NotErrorIs(t, err, payflow.ErrFinal)
	_, err = w.seller.Status(ctx)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing shown yet")

	shopperEID, err := w.shopper.EID()
	require.NoError(t, err)
	c, err := w.seller.Select(ctx, shopperEID)
	requirePaid(t, err, screen.ID)
	assert.Nil(t, c, "nothing selected")
	w.requireShownCaptured(t, screen.ID, 690)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}
