package payflow_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// loseFirstApprove returns api with the reply of its first consent lost,
// as a connection that drops after the consent went out: the platform
// settles it, and the call fails with loss.
func loseFirstApprove(api payflow.API, loss error) *faultAPI {
	a := &faultAPI{API: api}
	a.approve.reply.failNextWith(loss)
	return a
}

// consentsSent returns the consents given to api, in order.
func consentsSent(api *faultAPI) [][]byte {
	var c [][]byte
	for _, req := range api.approve.send.seen() {
		c = append(c, req.Consent)
	}
	return c
}

// TestShopperApproveAfterLostReply: a shopper whose consent was settled
// but whose reply was lost gets the receipt of that consent from the next
// Approve, charged once, and the payment leaves the screen.
func TestShopperApproveAfterLostReply(t *testing.T) {
	ctx := context.Background()
	for _, loss := range []error{payflow.ErrUnavailable, payflow.ErrInFlight, context.DeadlineExceeded} {
		t.Run(loss.Error(), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := loseFirstApprove(w.f.Platform, loss)
			w.useShopper(t, api)
			w.pair(t)
			w.request(t)
			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, loss)
			require.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "the consent was settled")

			rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.NoError(t, err)
			assert.Equal(t, uint64(690), rc.Amount)
			sent := consentsSent(api)
			require.Len(t, sent, 2)
			assert.Equal(t, sent[0], sent[1], "the consent sent before is sent again, no other is signed")
			h := record.Hash(sent[0])
			assert.Equal(t, h[:], rc.ConsentHash)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
			_, err = w.shopper.Payment()
			require.ErrorIs(t, err, payflow.ErrNoPayment, "the paid request left the screen")
			ok, err := w.shopperCard.Card.PINVerified()
			require.NoError(t, err)
			assert.False(t, ok)

			_, src, err := w.seller.Wait(ctx)
			require.NoError(t, err)
			assert.Equal(t, rc.Signed, src.Signed)
		})
	}
}

// TestShopperApproveAfterUnfinishedSettlement: a consent whose settlement
// the platform accepted but did not finish (the record of the settlement
// failed) shows the request pending without a consent nonce; the next
// Approve sends that consent again, which finishes the settlement, and
// gets its receipt.
func TestShopperApproveAfterUnfinishedSettlement(t *testing.T) {
	ctx := context.Background()
	st := &settleFault{Store: memory.New()}
	w := newPhoneWorld(t, paytest.NewFixture(t, st, ledgermemory.New(), paytest.Options{}), nil, false)
	w.pair(t)
	w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, errLost)

	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment)
}

// TestShopperApproveWaitsAgainForCapture: a shopper that stopped waiting
// for the manual capture of its held payment waits again with the next
// Approve, and gets the receipt of the capture.
func TestShopperApproveWaitsAgainForCapture(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	w.pair(t)
	w.request(t)
	w.approveHeld(t)

	type result struct {
		rc  *payflow.Receipt
		err error
	}
	again := make(chan result, 1)
	go func() {
		rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
		again <- result{rc, err}
	}()
	crc, err := w.seller.Capture(ctx, 500)
	require.NoError(t, err)
	select {
	case got := <-again:
		require.NoError(t, got.err)
		assert.Equal(t, crc.Signed, got.rc.Signed)
		assert.Equal(t, uint64(500), got.rc.Amount)
	case <-time.After(10 * time.Second):
		t.Fatal("Approve did not return the receipt of the capture")
	}
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 500}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// scriptedApproveAPI answers the consents with the functions of approve in
// turn (the platform's answer once they run out) and lets hide take the
// consent nonce off the payer's views; reads counts the payer's reads of
// the requests.
type scriptedApproveAPI struct {
	payflow.API
	mu      sync.Mutex
	approve []func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error)
	sent    [][]byte
	hide    bool
	reads   int
}

func (a *scriptedApproveAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	a.mu.Lock()
	a.sent = append(a.sent, req.Consent)
	fn := a.API.Approve
	if len(a.approve) > 0 {
		fn, a.approve = a.approve[0], a.approve[1:]
	}
	a.mu.Unlock()
	return fn(ctx, req)
}

func (a *scriptedApproveAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reads++
	if err == nil && a.hide {
		v.ConsentNonce = nil
	}
	return v, err
}

// TestShopperApproveAfterUnansweredConsent: a consent that never reached
// the platform is sent again by the next Approve; while the platform
// refuses it and shows a settlement under way, Approve fails with
// ErrConflict and signs nothing; once the platform refuses it and shows
// the request payable, the card signs a new consent over the consent
// nonce of that read, the request read once, and the shopper is charged
// once.
func TestShopperApproveAfterUnansweredConsent(t *testing.T) {
	ctx := context.Background()
	unavailable := func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		return nil, payflow.ErrUnavailable
	}
	replayed := func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		return nil, payflow.ErrReplay
	}
	setup := func(t *testing.T, answers ...func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error)) (*phoneWorld, *scriptedApproveAPI) {
		w := newMemoryPhoneWorld(t, false)
		api := &scriptedApproveAPI{API: w.f.Platform, approve: answers}
		w.useShopper(t, api)
		w.pair(t)
		w.request(t)
		_, err := w.shopper.Approve(ctx, simcardtest.PIN)
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		return w, api
	}
	t.Run("sent again while a settlement is under way", func(t *testing.T) {
		w, api := setup(t, unavailable, replayed)
		api.mu.Lock()
		api.hide = true
		api.mu.Unlock()
		_, err := w.shopper.Approve(ctx, simcardtest.PIN)
		require.ErrorIs(t, err, payflow.ErrConflict)
		api.mu.Lock()
		api.hide = false
		api.mu.Unlock()
		rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
		require.NoError(t, err)
		require.Len(t, api.sent, 3)
		assert.Equal(t, api.sent[0], api.sent[1])
		assert.Equal(t, api.sent[0], api.sent[2], "no other consent was signed")
		h := record.Hash(api.sent[0])
		assert.Equal(t, h[:], rc.ConsentHash)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	})
	t.Run("refused, then a new consent", func(t *testing.T) {
		w, api := setup(t, unavailable)
		// The card signs a login since, so the platform refuses the
		// consent's counter when it is sent again.
		_, err := w.shopper.Login(ctx)
		require.NoError(t, err)
		api.mu.Lock()
		api.reads = 0
		api.mu.Unlock()
		rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
		require.NoError(t, err)
		api.mu.Lock()
		assert.Equal(t, 1, api.reads, "the read after the refusal gives the consent nonce of the new consent")
		api.mu.Unlock()
		require.Len(t, api.sent, 3)
		assert.Equal(t, api.sent[0], api.sent[1])
		assert.NotEqual(t, api.sent[0], api.sent[2])
		h := record.Hash(api.sent[2])
		assert.Equal(t, h[:], rc.ConsentHash)
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
	})
}

// lostPINReplyCard is a shopper card whose PIN verifications reach the
// card but whose replies are lost on the way back.
type lostPINReplyCard struct {
	*simcard.Card
}

var errCardIO = errors.New("card reader: reply lost")

func (c lostPINReplyCard) VerifyPIN(pin string) error {
	if err := c.Card.VerifyPIN(pin); err != nil {
		return err
	}
	return errCardIO
}

// TestApproveLostPINReplyLeavesNoPIN: a PIN verification whose reply was
// lost, which the card did verify, leaves no verified PIN on the card
// after Approve fails.
func TestApproveLostPINReplyLeavesNoPIN(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	shopper, err := payflow.NewShopper(lostPINReplyCard{w.shopperCard.Card}, phoneOptions(w.f, w.f.Platform))
	require.NoError(t, err)
	w.shopper = shopper
	w.pair(t)
	w.request(t)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, errCardIO)
	ok, err := w.shopperCard.Card.PINVerified()
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// panickingCard is a shopper card whose card layer panics with
// errCardPanic, once the PIN was verified, when it is asked to sign a
// consent while panics is set.
type panickingCard struct {
	*simcard.Card
	panics atomic.Bool
}

var errCardPanic = errors.New("card layer: out of order")

func (c *panickingCard) SignConsent(r *record.Consent) ([]byte, error) {
	if c.panics.Load() {
		panic(errCardPanic)
	}
	return c.Card.SignConsent(r)
}

// TestApprovePanickingCardLeavesNoPIN: a card layer that panics as it
// signs the consent, the PIN verified, has Approve clear the
// verification before the panic goes on to the caller: the card holds
// no verified PIN, so that it signs no consent until the PIN is
// verified again, and nothing is signed, sent or charged. The next
// Approve of the same phone, the card layer working again, pays the
// request.
func TestApprovePanickingCardLeavesNoPIN(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	card := &panickingCard{Card: w.shopperCard.Card}
	card.panics.Store(true)
	shopper, err := payflow.NewShopper(card, phoneOptions(w.f, w.f.Platform))
	require.NoError(t, err)
	w.shopper = shopper
	w.pair(t)
	w.request(t)
	screen, err := w.shopper.Payment()
	require.NoError(t, err)
	counter := w.counter(t)

	recovered := func() (r any) {
		defer func() { r = recover() }()
		_, err := w.shopper.Approve(ctx, simcardtest.PIN)
		t.Errorf("Approve returned %v", err)
		return nil
	}()
	require.Equal(t, errCardPanic, recovered, "the panic goes on to the caller")
	ok, err := w.shopperCard.Card.PINVerified()
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = w.shopperCard.Card.SignConsent(&record.Consent{
		RequestID: screen.ID[:], RequestHash: screen.RequestHash, Nonce: screen.ConsentNonce,
		Amount: screen.Amount, Currency: screen.Currency, MerchantID: screen.MerchantID,
	})
	require.ErrorIs(t, err, simcard.ErrPINRequired)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	w.assertState(t, screen.ID, payflow.StatePending)

	card.panics.Store(false)
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestWaitPaymentAcrossSelect: a WaitPayment of a session that meets an
// ended request after another session was selected leaves the new
// session's request indexes alone and fails with ErrNotPaired, and
// waiting in the new session finds its first request.
func TestWaitPaymentAcrossSelect(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	first := w.pairPastARequest(t)
	var err error
	actx, cancel := withCancelCause(ctx)
	defer cancel()
	var second *payflow.Confirmation
	var sv *payflow.PaymentView
	api.paymentID = payflow.SessionRequestID(first.SessionID, 0)
	api.payment = func() {
		// While the first session's wait asks for its first request, the
		// phones select each other again and the seller asks.
		second = w.pair(t)
		sv, err = w.seller.Request(ctx, basket)
		require.NoError(t, err)
		cancel()
	}
	_, err = w.shopper.WaitPayment(actx)
	require.ErrorIs(t, err, payflow.ErrNotPaired, "the wait of the first session ends")
	require.NotNil(t, second)
	require.NotEqual(t, first.SessionID, second.SessionID)
	w.requireFirstRequest(t, second, sv)
}

// TestApproveResendsNothingWithoutTrustedPlatform: a consent that never
// reached the platform is not sent again once the platform's certificate
// expired: Approve fails with ErrCard and no money moves.
func TestApproveResendsNothingWithoutTrustedPlatform(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	renewed := renewedPlatform(t, f) // its certificate lasts an hour and the skew
	api := &scriptedApproveAPI{API: renewed, approve: []func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error){
		func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
			return nil, payflow.ErrUnavailable
		},
	}}
	w := newPhoneWorld(t, f, nil, false)
	w.useShopper(t, api)
	f.Clock.Advance(time.Hour + pki.DefaultSkew - 5*time.Minute)
	w.pair(t)
	sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR", TTL: 600})
	require.NoError(t, err)
	_, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)

	f.Clock.Advance(6 * time.Minute) // the certificate expired; the request did not
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrCard)
	r, err := f.Store.Payment(ctx, sv.ID)
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, r.State, "the consent was not sent again")
	assert.Equal(t, 1, len(api.sent), "consents sent")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// captureElsewhere captures the held request id in full with the seller's
// card, as another phone of the merchant would, and returns its view.
func (w *phoneWorld) captureElsewhere(tb testing.TB, id payflow.ID) *payflow.PaymentView {
	tb.Helper()
	ctx := context.Background()
	l, err := w.seller.Login(ctx)
	require.NoError(tb, err)
	v, err := w.f.Platform.Capture(ctx, l.Token, &payflow.CaptureRequest{RequestID: id})
	require.NoError(tb, err)
	require.Equal(tb, payflow.StateCaptured, v.State)
	return v
}

// requestPastMiddlebox pairs the phones, the shopper's through a
// middlebox, and has the seller ask for basket; it returns the seller's
// view of the request.
func requestPastMiddlebox(t *testing.T) (*phoneWorld, *middlebox, *payflow.PaymentView) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	mb := newMiddlebox(t, w.f.Platform)
	w.useShopper(t, mb.client(t))
	w.pair(t)
	sv, err := w.seller.Request(context.Background(), basket)
	require.NoError(t, err)
	return w, mb, sv
}

// TestShopperWaitPaymentPastABare404: a bare 404 on reading the session's
// next request, as a gateway or proxy answers in the platform's stead, is
// taken as no request yet: nothing is kept of it, and WaitPayment reads
// the same request again and shows it.
func TestShopperWaitPaymentPastABare404(t *testing.T) {
	ctx := context.Background()
	w, mb, sv := requestPastMiddlebox(t)
	mb.answer("/v1/requests/"+sv.ID.String(), bareReply(http.StatusNotFound))
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, screen.ID)
	assert.Equal(t, uint64(690), screen.Amount)
	assert.Zero(t, mb.left("/v1/requests/"+sv.ID.String()), "the bare 404 was sent")
}

// TestShopperApproveAnsweredNotByThePlatform: a consent whose first
// attempt the platform settled, its reply lost, and whose retry a gateway
// or proxy answered in the platform's stead, or rate_limited (noVerdicts),
// got no verdict of the platform: the phone keeps it, and the next
// Approve sends it again and returns its receipt, without the card
// signing another. The shopper is charged once.
func TestShopperApproveAnsweredNotByThePlatform(t *testing.T) {
	ctx := context.Background()
	for _, tc := range noVerdicts(t) {
		t.Run(tc.name, func(t *testing.T) {
			w, mb, consent := consentPastMiddlebox(t)
			mb.answer(consent, lostReply)
			mb.answer(consent, tc.answers(1)...)
			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "the consent was settled")

			counter, err := w.shopperCard.Card.Counter()
			require.NoError(t, err)
			w.requireKeptConsentPaid(t, counter)
		})
	}
}

// requireKeptConsentPaid has the shopper approve again, which sends the
// kept consent of basket's request, and checks its receipt, that the card
// signed nothing since counter, and that the shopper was charged once.
func (w *phoneWorld) requireKeptConsentPaid(tb testing.TB, counter uint64) {
	tb.Helper()
	rc, err := w.shopper.Approve(context.Background(), simcardtest.PIN)
	require.NoError(tb, err)
	assert.Equal(tb, uint64(690), rc.Amount)
	after, err := w.shopperCard.Card.Counter()
	require.NoError(tb, err)
	assert.Equal(tb, counter, after, "no other consent signed")
	w.requireSellerCaptured(tb, rc)
	assert.Equal(tb, payflow.Balance{Posted: phoneFunds - 690}, w.balance(tb, w.shopperCard.Enrolment.ICCID), "charged once")
}

// consentPastMiddlebox is requestPastMiddlebox with the request on the
// shopper's screen; it returns the path of the request's consent.
func consentPastMiddlebox(t *testing.T) (*phoneWorld, *middlebox, string) {
	t.Helper()
	w, mb, sv := requestPastMiddlebox(t)
	_, err := w.shopper.WaitPayment(context.Background())
	require.NoError(t, err)
	return w, mb, "/v1/requests/" + sv.ID.String() + "/consent"
}

// TestShopperResendAnsweredNotByThePlatform: a kept consent sent again and
// answered by no verdict of the platform stays kept, even when the
// request still shows the consent's nonce, since an earlier copy of it
// may still reach the platform: here the first attempt, held back by a
// gateway, arrives just before the next call to that path. The next
// Approve sends the kept consent again and gets its receipt; the shopper
// is charged once, and no other consent is signed.
func TestShopperResendAnsweredNotByThePlatform(t *testing.T) {
	ctx := context.Background()
	for _, tc := range noVerdicts(t) {
		t.Run(tc.name, func(t *testing.T) {
			w, mb, consent := consentPastMiddlebox(t)
			var held heldCall
			mb.answer(consent, held.holdBack)
			mb.answer(consent, repeatAnswer(bareReply(http.StatusServiceUnavailable), payflow.DefaultMaxAttempts-1)...)
			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			counter, err := w.shopperCard.Card.Counter()
			require.NoError(t, err)

			mb.answer(consent, tc.answers(0)...)
			mb.answer(consent, held.release)
			_, err = w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "not charged yet")

			w.requireKeptConsentPaid(t, counter)
		})
	}
}

// payWithLostReply pairs the phones, the shopper talking to api, and has
// the shopper pay the seller's request of basket, the reply lost
// (loseFirstApprove with ErrUnavailable); it
// returns the seller's captured view and its receipt.
func (w *phoneWorld) payWithLostReply(tb testing.TB, api *faultAPI) (*payflow.PaymentView, *payflow.Receipt) {
	tb.Helper()
	ctx := context.Background()
	w.useShopper(tb, api)
	w.pair(tb)
	w.request(tb)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(tb, err, payflow.ErrUnavailable)
	v, rc, err := w.seller.Wait(ctx)
	require.NoError(tb, err)
	require.Equal(tb, payflow.StateCaptured, v.State)
	return v, rc
}

// receiptToCollect pays the session's first request with a consent whose
// reply api loses (payWithLostReply), and returns the seller's view of it
// and receipt, and the shopper's WaitPayment view of it: a receipt to
// collect, captured.
func (w *phoneWorld) receiptToCollect(tb testing.TB, api *faultAPI) (*payflow.PaymentView, *payflow.Receipt, *payflow.PaymentView) {
	tb.Helper()
	first, rc := w.payWithLostReply(tb, api)
	screen, err := w.shopper.WaitPayment(context.Background())
	require.NoError(tb, err)
	require.Equal(tb, payflow.StateCaptured, screen.State)
	return first, rc, screen
}

// TestWaitPaymentReturnsKeptConsentsPayment: a consent whose reply was
// lost and which the platform settled is not left behind when the seller
// asks for the next payment: WaitPayment shows the paid request first, the
// next Approve sends that consent again and returns its receipt, and only
// then does the phone move on to the next request. The shopper is charged
// once for each.
func TestWaitPaymentReturnsKeptConsentsPayment(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := loseFirstApprove(w.f.Platform, payflow.ErrUnavailable)
	first, src := w.payWithLostReply(t, api)
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)

	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, first.ID, screen.ID, "the paid request whose receipt the phone lacks comes first")
	assert.Equal(t, payflow.StateCaptured, screen.State)
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, src.Signed, rc.Signed)
	sent := consentsSent(api)
	require.Len(t, sent, 2)
	assert.Equal(t, sent[0], sent[1], "the kept consent is sent again, no other is signed")

	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, next.ID, screen.ID)
	rc, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(100), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 790}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// holdAndAskNext has the shopper talk to api, pairs the phones of a
// merchant that captures manually and holds the seller's first request
// (pairAndHold); then the seller asks for another payment, which the
// shopper's WaitPayment shows. It returns the held request's ID and the
// seller's view of the next one.
func (w *phoneWorld) holdAndAskNext(tb testing.TB, api payflow.API) (payflow.ID, *payflow.PaymentView) {
	tb.Helper()
	ctx := context.Background()
	w.useShopper(tb, api)
	first := w.pairAndHold(tb)
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(tb, err)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(tb, err)
	require.Equal(tb, next.ID, screen.ID, "a held request waits for the merchant, not the shopper")
	return first, next
}

// TestHeldConsentKeptAcrossNextPayment: a consent held for a manual
// capture when the shopper stopped waiting stays kept while the shopper
// pays the next request, which is held too; once the merchant captures the
// first, WaitPayment shows it and Approve returns its receipt, without the
// card signing again.
func TestHeldConsentKeptAcrossNextPayment(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &scriptedApproveAPI{API: w.f.Platform}
	first, next := w.holdAndAskNext(t, api)
	require.Equal(t, next.ID, w.approveHeld(t))
	assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 790}, w.balance(t, w.shopperCard.Enrolment.ICCID))

	cv := w.captureElsewhere(t, first)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	screen, err := w.shopper.WaitPayment(wctx)
	require.NoError(t, err)
	assert.Equal(t, first, screen.ID)
	assert.Equal(t, payflow.StateCaptured, screen.State)
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, cv.Receipt, rc.Signed)
	assert.Equal(t, uint64(690), rc.Amount)
	require.Len(t, api.sent, 3, "two consents, the first sent again")
	assert.Equal(t, api.sent[0], api.sent[2])
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690, Held: 100}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestApproveRefusesPastMaxKeptConsents: with MaxKeptConsents consents held
// for manual captures, Approve of another request fails with ErrLimit
// before the card signs; once one of them is captured and its receipt
// taken, the next consent is signed.
func TestApproveRefusesPastMaxKeptConsents(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &scriptedApproveAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.pair(t)
	ask := func() payflow.ID {
		sv, err := w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
		require.NoError(t, err)
		screen, err := w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		require.Equal(t, sv.ID, screen.ID)
		return sv.ID
	}
	var held []payflow.ID
	for range payflow.MaxKeptConsents {
		ask()
		held = append(held, w.approveHeld(t))
	}
	last := ask()
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrLimit)
	assert.Len(t, api.sent, payflow.MaxKeptConsents, "no consent signed for the last request")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 10 * payflow.MaxKeptConsents}, w.balance(t, w.shopperCard.Enrolment.ICCID))

	w.captureElsewhere(t, held[3])
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, held[3], screen.ID)
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(10), rc.Amount)
	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, last, screen.ID)
	assert.Equal(t, last, w.approveHeld(t))
	assert.Len(t, api.sent, payflow.MaxKeptConsents+2)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 10, Held: 10 * payflow.MaxKeptConsents}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestWaitPaymentRefusesAnotherIndexsRequest: the payment screen of the
// session's next request answered with another genuine pending request of
// the same session, signed by the seller's card at another index, is
// ErrMismatch and goes on no screen.
func TestWaitPaymentRefusesAnotherIndexsRequest(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &swapAPI{API: w.f.Platform, swap: map[payflow.ID]payflow.ID{}}
	w.useShopper(t, api)
	c := w.pair(t)
	first, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(c.SessionID, 0), first.ID)
	other := payflow.SessionRequestID(c.SessionID, 1)
	msg, err := w.sellerCard.Card.SignPaymentRequest(&record.PaymentRequest{
		RequestID: other[:], SessionID: c.SessionID[:], PayerCardID: w.shopperCard.Enrolment.ICCID,
		MerchantID: phoneMerchant, Currency: "EUR", Amount: 5000,
	})
	require.NoError(t, err)
	ov, err := w.f.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)
	require.Equal(t, payflow.StatePending, ov.State)

	api.swap[first.ID] = other
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
}

// forgetfulAPI refuses every consent as spent (errConsentSpent) and shows
// request id pending, with a consent nonce, as a platform that denies a
// payment it settled would; with ended set, it shows that request so
// ended instead, and with settling, pending without a nonce (a
// settlement under way).
type forgetfulAPI struct {
	payflow.API
	id       payflow.ID
	ended    string
	settling bool
}

// errConsentSpent is the refusal of forgetfulAPI.
var errConsentSpent = fmt.Errorf("%w: the consent was refused and spent", payflow.ErrReplay)

func (a *forgetfulAPI) Approve(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return nil, errConsentSpent
}

func (a *forgetfulAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	if err == nil && id == a.id {
		v.State, v.Captured, v.Receipt, v.ConsentNonce = payflow.StatePending, 0, nil, make([]byte, 32)
		if a.ended != "" {
			v.State, v.ConsentNonce = a.ended, nil
		}
		if a.settling {
			v.ConsentNonce = nil
		}
	}
	return v, err
}

// forgottenReceipt is what approveForgotten leaves: the seller's view of
// the request paid and its receipt, the shopper's view of it to collect,
// the API the consents went through, and the card's counter before the
// approval.
type forgottenReceipt struct {
	first, screen *payflow.PaymentView
	src           *payflow.Receipt
	lost          *faultAPI
	counter       uint64
}

// approveForgotten pays the session's first request with a consent whose
// reply is lost, shows it as a receipt to collect (receiptToCollect), and
// approves that view with the PIN while forgetful, showing that request,
// refuses its kept consent. It returns the approval's error.
func approveForgotten(t *testing.T, forgetful *forgetfulAPI) (*phoneWorld, forgottenReceipt, error) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	r := forgottenReceipt{lost: loseFirstApprove(w.f.Platform, payflow.ErrUnavailable)}
	r.first, r.src, r.screen = w.receiptToCollect(t, r.lost)

	forgetful.API, forgetful.id = w.f.Platform, r.first.ID
	r.lost.API = forgetful
	r.counter = w.counter(t)
	_, err := w.shopper.ApproveShown(context.Background(), r.screen, simcardtest.PIN)
	return w, r, err
}

// TestApproveOfReceiptToCollectUsesNoCard: an Approve of a receipt to
// collect (a captured view of WaitPayment) whose kept consent the
// platform then refuses, showing the request pending again, with a
// consent nonce, fails with the platform's refusal without the card: the
// PIN is not verified and no other consent is signed. With no consent of
// it kept, the captured view is no receipt to collect: it goes off
// screen (Payment: ErrNoPayment), and the next WaitPayment shows the
// session's next request.
func TestApproveOfReceiptToCollectUsesNoCard(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	lost := loseFirstApprove(w.f.Platform, payflow.ErrUnavailable)
	forgetful := &forgetfulAPI{API: w.f.Platform}
	first, _, _ := w.receiptToCollect(t, lost)

	lost.API, forgetful.id = forgetful, first.ID
	left, _, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrReplay)
	assert.NotErrorIs(t, err, payflow.ErrFinal, "the platform shows the payment pending")
	assert.EqualError(t, err, "payflow: nonce already used or unknown: the consent was refused and spent")
	after, _, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)
	assert.Equal(t, left, after)
	sent := consentsSent(lost)
	require.Len(t, sent, 2, "the kept consent sent again, no other signed")
	assert.Equal(t, sent[0], sent[1])
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))

	on, err := w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "no receipt to collect is left on screen")
	assert.Nil(t, on)
	w.requireNextRequestAsked(t)
}

// TestApproveOfReceiptToCollectShownEndedStaysOnScreen: an Approve of a
// receipt to collect whose kept consent the platform then refuses,
// showing the request cancelled, fails with ErrFinal naming that state,
// without the card, and leaves the request on screen as that read showed
// it, cancelled, in place of the captured view.
func TestApproveOfReceiptToCollectShownEndedStaysOnScreen(t *testing.T) {
	w, r, err := approveForgotten(t, &forgetfulAPI{ended: payflow.StateCancelled})
	first, counter := r.first, r.counter
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.EqualError(t, err, "payflow: request already in a final state: payment cancelled")
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	on, err := w.shopper.Payment()
	require.NoError(t, err, "the ended view stays on screen")
	assert.Equal(t, first.ID, on.ID)
	assert.Equal(t, payflow.StateCancelled, on.State)
}

// TestApproveOfReceiptToCollectWhileSettlingStaysKept: an Approve of a
// receipt to collect whose kept consent the platform then refuses,
// showing the request pending without a consent nonce (a settlement under
// way), fails with ErrConflict without the card; the consent stays kept
// and the captured view on screen, and the next Approve, the consent
// accepted, returns its receipt.
func TestApproveOfReceiptToCollectWhileSettlingStaysKept(t *testing.T) {
	ctx := context.Background()
	w, r, err := approveForgotten(t, &forgetfulAPI{settling: true})
	lost, src, screen, counter := r.lost, r.src, r.screen, r.counter
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, "payflow: conflicting request: a settlement of the request is under way, or the card may not pay it (a merchant's seller card)")
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	on, err := w.shopper.Payment()
	require.NoError(t, err, "the receipt to collect stays on screen")
	assert.Equal(t, screen, on)

	lost.API = w.f.Platform
	rc, err := w.shopper.ApproveShown(ctx, screen, "")
	require.NoError(t, err)
	assert.Equal(t, src.ConsentHash, rc.ConsentHash)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	sent := consentsSent(lost)
	require.Len(t, sent, 3, "the kept consent sent again, no other signed")
	assert.Equal(t, sent[0], sent[2])
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// mixUpAPI answers, from the first consent sent on, the shopper's reads of
// the payment requests (and, with reply set, the consents too) with view
// while it is set, as a network or platform that mixes requests up would.
type mixUpAPI struct {
	payflow.API
	reply bool
	mu    sync.Mutex
	sent  bool
	view  *payflow.PaymentView
}

// mixUp returns the view to answer with instead, if any.
func (a *mixUpAPI) mixUp(sent bool) *payflow.PaymentView {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent = a.sent || sent
	if !a.sent {
		return nil
	}
	return a.view
}

func (a *mixUpAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Approve(ctx, req)
	if other := a.mixUp(true); err == nil && other != nil && a.reply {
		return other, nil
	}
	return v, err
}

func (a *mixUpAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	if other := a.mixUp(false); other != nil {
		return other, nil
	}
	return a.API.Payment(ctx, token, id)
}

// TestApproveRefusesAnotherRequestsView: while a consent waits for the
// manual capture, an answer that is the view of another request (here an
// earlier one, cancelled), or a view of the request that lacks its signed
// request (key 11; here as first shown, pending, which would otherwise
// fail with ErrInternal), fails with ErrMismatch at once instead of ending
// the payment, and the consent stays kept: the next Approve, once the
// answers are of the request again, returns the receipt of its capture.
func TestApproveRefusesAnotherRequestsView(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// view returns the view to answer with, given the earlier request,
		// cancelled, and the request's view shown.
		view func(cancelled, shown *payflow.PaymentView) *payflow.PaymentView
	}{
		{"another request", func(cancelled, _ *payflow.PaymentView) *payflow.PaymentView { return cancelled }},
		{"without the signed request", func(_, shown *payflow.PaymentView) *payflow.PaymentView {
			stripped := *shown
			stripped.Request = nil
			return &stripped
		}},
	} {
		for _, reply := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: "/a read while held", true: "/the consent's reply"}[reply], func(t *testing.T) {
				w := newMemoryPhoneWorld(t, true)
				api := &mixUpAPI{API: w.f.Platform, reply: reply}
				w.useShopper(t, api)
				w.pair(t)
				_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
				require.NoError(t, err)
				cancelled, err := w.seller.Cancel(ctx)
				require.NoError(t, err)
				w.request(t)
				shown, err := w.shopper.Payment()
				require.NoError(t, err)
				api.mu.Lock()
				api.view = tc.view(cancelled, shown)
				api.mu.Unlock()

				_, err = w.shopper.Approve(ctx, simcardtest.PIN)
				require.ErrorIs(t, err, payflow.ErrMismatch)
				api.mu.Lock()
				api.view = nil
				api.mu.Unlock()
				w.captureAndApproveAgain(t)
			})
		}
	}
}

// captureAndApproveAgain has the merchant capture the whole of the held
// request on screen and the shopper Approve it again, which returns the
// receipt of that capture, the shopper charged its 690 once.
func (w *phoneWorld) captureAndApproveAgain(tb testing.TB) *payflow.Receipt {
	tb.Helper()
	ctx := context.Background()
	sv, _, err := w.seller.Wait(ctx)
	require.NoError(tb, err)
	require.Equal(tb, payflow.StateHeld, sv.State)
	crc, err := w.seller.Capture(ctx, 0)
	require.NoError(tb, err)
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(tb, err)
	assert.Equal(tb, crc.Signed, rc.Signed)
	assert.Equal(tb, payflow.Balance{Posted: phoneFunds - 690}, w.balance(tb, w.shopperCard.Enrolment.ICCID), "charged once")
	return rc
}

// expiringHoldAPI moves the clock past the hold expiry once the platform
// holds a consent, and counts the shopper's reads of the request from
// then on. With stuck set, those reads answer the held view of the
// consent's reply, as a platform whose clock lags the phone's would; with
// strip set, the views carry no hold expiry, as an older platform's; the
// read numbered cancelAt ends the shopper's context (so that a shopper
// that goes on waiting stops).
type expiringHoldAPI struct {
	payflow.API
	clock           *paytest.Clock
	stuck, strip    bool
	cancelAt        int
	cancel          context.CancelFunc
	mu              sync.Mutex
	held            *payflow.PaymentView
	reads, approves int
	// capture, when set, is called once the platform holds a consent,
	// before the clock moves past the hold expiry: a capture made then
	// is made in time.
	capture func()
}

func (a *expiringHoldAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	v, err := a.API.Approve(ctx, req)
	if err == nil && v.State == payflow.StateHeld && a.capture != nil {
		a.capture()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.approves++
	if err != nil || v.State != payflow.StateHeld {
		return v, err
	}
	a.clock.Advance(v.HoldExpiresAt.Sub(a.clock.Now()))
	if a.strip {
		v.HoldExpiresAt = time.Time{}
	}
	held := *v
	a.held = &held
	return v, nil
}

func (a *expiringHoldAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	a.mu.Lock()
	held, stuck := a.held, a.stuck
	if held != nil {
		a.reads++
		if a.reads == a.cancelAt {
			a.cancel()
		}
	}
	a.mu.Unlock()
	if held != nil && stuck {
		v := *held
		return &v, nil
	}
	return a.API.Payment(ctx, token, id)
}

// TestApproveEndsAtHoldExpiry: a consent held for a manual capture whose
// hold expires by the phone's clock while the shopper waits has the
// shopper read the request once more and end with what that read shows:
// ErrFinal once the platform expired it (the hold voided, no money
// moved), ErrExpired while it still shows it held (the consent kept and
// sent again by the next Approve). A view without a hold expiry is waited
// on until the context ends.
func TestApproveEndsAtHoldExpiry(t *testing.T) {
	for _, tc := range []struct {
		name                string
		stuck, strip        bool
		cancelAt, wantReads int
		want                error
		wantKept            bool
	}{
		{name: "expired by the platform", cancelAt: 5, want: payflow.ErrFinal, wantReads: 1},
		{name: "still held by the platform", stuck: true, cancelAt: 5, want: payflow.ErrExpired, wantReads: 1, wantKept: true},
		{name: "no hold expiry", stuck: true, strip: true, cancelAt: 3, want: context.Canceled, wantReads: 3, wantKept: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{HoldTTL: time.Minute}})
			w := newPhoneWorld(t, f, nil, true)
			ctx, cancel := withCancelCause(context.Background())
			defer cancel()
			api := &expiringHoldAPI{API: f.Platform, clock: f.Clock, stuck: tc.stuck, strip: tc.strip, cancelAt: tc.cancelAt, cancel: cancel}
			w.useShopper(t, api)
			w.pair(t)
			w.request(t)

			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, tc.wantReads, api.reads, "reads of the request once it was held")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 690 * map[bool]uint64{false: 0, true: 1}[tc.stuck]}, w.balance(t, w.shopperCard.Enrolment.ICCID))

			api.mu.Lock()
			api.held, api.stuck = nil, false
			api.mu.Unlock()
			_, err = w.shopper.Approve(context.Background(), simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrFinal, "the request expired")
			assert.Equal(t, map[bool]int{false: 1, true: 2}[tc.wantKept], api.approves, "the kept consent is sent again, no other is signed")
		})
	}
}

// TestApproveTakesCaptureReadAtHoldExpiry: a consent held for a manual
// capture that the seller captures just before the hold expires, the
// shopper seeing it held until the expiry passed by the phone's clock,
// has the shopper's read once more show it captured: Approve returns the
// receipt of that capture (the money moved), not ErrFinal or ErrExpired,
// and the request goes off screen.
func TestApproveTakesCaptureReadAtHoldExpiry(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{HoldTTL: time.Minute}})
	w := newPhoneWorld(t, f, nil, true)
	api := &expiringHoldAPI{API: f.Platform, clock: f.Clock}
	var captured *payflow.Receipt
	api.capture = func() {
		var err error
		captured, err = w.seller.Capture(ctx, 0)
		require.NoError(t, err)
	}
	w.useShopper(t, api)
	w.pair(t)
	w.request(t)

	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	require.NotNil(t, captured, "the seller captured before the hold expired")
	assert.Equal(t, captured.Signed, rc.Signed, "the receipt of that capture")
	assert.EqualValues(t, 690, rc.Amount)
	assert.Equal(t, 1, api.reads, "one read, once the hold expiry passed")
	assert.Equal(t, 1, api.approves)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once, nothing held")
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "the request paid goes off screen")
}

// TestApproveDuringOthersSettlementSignsNothing: a shopper phone started
// again, which does not keep the consent of its earlier run whose
// settlement is under way (the platform shows the request pending without
// a consent nonce), fails Approve with ErrConflict before the card
// verifies the PIN or signs, and no money moves twice.
func TestApproveDuringOthersSettlementSignsNothing(t *testing.T) {
	ctx := context.Background()
	st := &settleFault{Store: memory.New()}
	w := newPhoneWorld(t, paytest.NewFixture(t, st, ledgermemory.New(), paytest.Options{}), nil, false)
	c := w.pair(t)
	w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, errLost)

	w.useShopper(t, w.f.Platform) // the app started again
	w.hear(t)
	sellerEID, err := w.seller.EID()
	require.NoError(t, err)
	again, err := w.shopper.Select(ctx, sellerEID)
	require.NoError(t, err)
	require.Equal(t, c.SessionID, again.SessionID)
	v, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StatePending, v.State)
	require.Empty(t, v.ConsentNonce, "a settlement is under way")

	require.ErrorIs(t, w.approveSignsNothing(t, ctx), payflow.ErrConflict)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once, by the earlier consent")
}

// approveSignsNothing has the shopper Approve with a PIN the card would
// refuse and returns Approve's error, after asserting that the shopper
// card signed nothing and verified no PIN.
func (w *phoneWorld) approveSignsNothing(t *testing.T, ctx context.Context) error {
	t.Helper()
	before, err := w.shopperCard.Card.Counter()
	require.NoError(t, err)
	_, approveErr := w.shopper.Approve(ctx, "000000")
	after, err := w.shopperCard.Card.Counter()
	require.NoError(t, err)
	assert.Equal(t, before, after, "the card signed nothing")
	left, total, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)
	assert.Equal(t, total, left, "the card verified no PIN")
	return approveErr
}

// TestWaitPaymentPastMisreadKeptConsent: a consent held for a manual
// capture whose request the platform then answers with the view of
// another request has WaitPayment fail once with ErrMismatch; the next
// WaitPayment passes over it to the session's next request instead of
// failing again, and the consent stays kept: once the platform answers
// with the request's own view and the merchant captured it, WaitPayment
// shows it paid first and Approve returns the receipt of that capture,
// without the card signing again.
func TestWaitPaymentPastMisreadKeptConsent(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &swapAPI{API: &scriptedApproveAPI{API: w.f.Platform}, swap: map[payflow.ID]payflow.ID{}}
	first, next := w.holdAndAskNext(t, api)

	api.swap[first] = next.ID
	_, err := w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, next.ID, screen.ID, "the session's next request")
	assert.Equal(t, payflow.StatePending, screen.State)

	delete(api.swap, first)
	cv := w.captureElsewhere(t, first)
	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, first, screen.ID, "the consent kept: its paid request first")
	assert.Equal(t, payflow.StateCaptured, screen.State)
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, cv.Receipt, rc.Signed)
	sent := api.API.(*scriptedApproveAPI).sent
	require.Len(t, sent, 2, "the consent sent again, no other signed")
	assert.Equal(t, sent[0], sent[1])
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// failReads has every read (Payment) of the request id on a fail with
// err, as a platform that lost that request, refuses to show it, or cannot
// reach it would, and the others go through; with err nil, every read
// goes through.
func failReads(a *faultAPI, id payflow.ID, err error) {
	if err == nil {
		a.payment.send.disarm()
		return
	}
	a.payment.send.arm(plan[payflow.ID]{when: func(c payflow.ID) bool { return c == id }, fails: -1, err: err})
}

// TestWaitPaymentPastUnreadableKeptConsent: a consent kept while its
// request is held, past which the phone went on to the session's next
// request, whose request the platform then does not show (a
// verdict, not_found or forbidden, has one WaitPayment fail with it; a
// read that gets no answer, unavailable, fails none), does not keep the
// session's next request off the screen: WaitPayment shows it. The
// consent stays kept: once the platform shows its request again, captured,
// WaitPayment shows that request first, and Approve returns its receipt
// without the card signing again.
func TestWaitPaymentPastUnreadableKeptConsent(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		err      error
		reported bool
	}{
		{payflow.ErrNotFound, true},
		{payflow.ErrForbidden, true},
		{payflow.ErrUnavailable, false},
	} {
		t.Run(tt.err.Error(), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			scripted := &scriptedApproveAPI{API: w.f.Platform}
			api := &faultAPI{API: scripted}
			first, next := w.holdAndAskNext(t, api)
			failReads(api, first, tt.err)

			if tt.reported {
				_, err := w.shopper.WaitPayment(ctx)
				require.ErrorIs(t, err, tt.err, "reported once")
			}
			for range 2 {
				screen, err := w.shopper.WaitPayment(ctx)
				require.NoError(t, err)
				require.Equal(t, next.ID, screen.ID, "the session's next request")
				assert.Equal(t, payflow.StatePending, screen.State)
			}

			failReads(api, first, nil)
			cv := w.captureElsewhere(t, first)
			screen, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			require.Equal(t, first, screen.ID, "the consent kept: its paid request first")
			assert.Equal(t, payflow.StateCaptured, screen.State)
			counter := w.counter(t)
			rc, err := w.shopper.ApproveShown(ctx, screen, "")
			require.NoError(t, err)
			assert.Equal(t, cv.Receipt, rc.Signed)
			assert.Equal(t, counter, w.counter(t), "the card signed nothing")
			scripted.mu.Lock()
			require.Len(t, scripted.sent, 2, "the consent sent again, no other signed")
			assert.Equal(t, scripted.sent[0], scripted.sent[1])
			scripted.mu.Unlock()
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
}

// TestWaitPaymentWithEndedContextPastUnreadableKeptConsent: a read of a
// kept consent's request that fails once WaitPayment's context ended
// fails WaitPayment with that error: it shows no request of the session.
func TestWaitPaymentWithEndedContextPastUnreadableKeptConsent(t *testing.T) {
	w := newMemoryPhoneWorld(t, true)
	api := &faultAPI{API: &scriptedApproveAPI{API: w.f.Platform}}
	first, _ := w.holdAndAskNext(t, api)
	failReads(api, first, context.Canceled)
	ctx, cancel := withCancelCause(context.Background())
	cancel()
	screen, err := w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, screen)
}

// TestShopperApproveKeepsConsentAnsweredPending: a consent that the
// platform answers as accepted with a view of its request still pending,
// which no accepted consent leaves, fails with ErrInternal and stays kept:
// the next Approve sends it again, as signed, without the card, and gets
// its receipt, the shopper charged once.
func TestShopperApproveKeepsConsentAnsweredPending(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &scriptedApproveAPI{API: w.f.Platform}
	api.approve = []func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error){
		func(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
			shown, err := w.shopper.Payment()
			if err != nil {
				return nil, err
			}
			return shown, nil // not sent: the request is still pending
		},
	}
	w.useShopper(t, api)
	w.pair(t)
	w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrInternal)

	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.NoError(t, err)
	require.Len(t, api.sent, 2)
	assert.Equal(t, api.sent[0], api.sent[1], "the consent sent again, no other signed")
	h := record.Hash(api.sent[0])
	assert.Equal(t, h[:], rc.ConsentHash)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// reshownHeldAPI answers the reads of a held request with its view in the
// state as instead, while as is set.
type reshownHeldAPI struct {
	*scriptedApproveAPI
	mu sync.Mutex
	as string
}

func (a *reshownHeldAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.scriptedApproveAPI.Payment(ctx, token, id)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil && v.State == payflow.StateHeld && a.as != "" {
		shown := *v
		shown.State = a.as
		return &shown, nil
	}
	return v, err
}

// show has a answer the reads of a held request in the state as instead,
// or as the platform answers them when as is "".
func (a *reshownHeldAPI) show(as string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.as = as
}

// requireCollectedAgain has the merchant capture the held request on
// screen and the shopper Approve it again (captureAndApproveAgain), and
// checks that api sent n consents, all the one that the card signed
// first, whose receipt that Approve returned.
func (w *phoneWorld) requireCollectedAgain(tb testing.TB, api *scriptedApproveAPI, n int) {
	tb.Helper()
	rc := w.captureAndApproveAgain(tb)
	require.Len(tb, api.sent, n, "the consent sent again, no other signed")
	for _, c := range api.sent[1:] {
		assert.Equal(tb, api.sent[0], c)
	}
	h := record.Hash(api.sent[0])
	assert.Equal(tb, h[:], rc.ConsentHash)
}

// TestApproveKeepsConsentOfHoldShownUnheld: while a consent waits for the
// manual capture, a read that shows the held request pending or declined,
// which no hold leaves it, or in a state that no request's view has (as
// "capturing", a platform's inner state), fails with ErrInternal and the
// consent stays kept: once the merchant captured it, the next Approve
// sends it again, as signed, without the card, and returns the receipt of
// the capture, the shopper charged once.
func TestApproveKeepsConsentOfHoldShownUnheld(t *testing.T) {
	ctx := context.Background()
	for _, as := range []string{payflow.StatePending, payflow.StateDeclined, "capturing"} {
		t.Run(as, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &reshownHeldAPI{scriptedApproveAPI: &scriptedApproveAPI{API: w.f.Platform}, as: as}
			w.useShopper(t, api)
			w.pair(t)
			w.request(t)

			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrInternal)
			api.show("")
			w.requireCollectedAgain(t, api.scriptedApproveAPI, 2)
		})
	}
}

// restatedAPI answers the shopper's views of a captured request, while on,
// with captured as the amount captured and a receipt, signed with key,
// for receipt, as a platform that misstates a payment would. When only is
// set, it restates that request's views alone; when consentHash is set,
// the receipt names it as the consent's hash; when alter is set, it alters
// the receipt before it is signed.
type restatedAPI struct {
	payflow.API
	tb                testing.TB
	key               *ecdsa.PrivateKey
	captured, receipt uint64
	only              payflow.ID
	consentHash       []byte
	alter             func(*record.Receipt)
	on                atomic.Bool
	infoDown          atomic.Bool // Info fails ErrUnavailable
}

func (a *restatedAPI) Info(ctx context.Context) (*payflow.Info, error) {
	if a.infoDown.Load() {
		return nil, payflow.ErrUnavailable
	}
	return a.API.Info(ctx)
}

// newRestatedAPI returns a restatedAPI of api, on.
func newRestatedAPI(tb testing.TB, api payflow.API, key *ecdsa.PrivateKey, captured, receipt uint64) *restatedAPI {
	a := &restatedAPI{API: api, tb: tb, key: key, captured: captured, receipt: receipt}
	a.on.Store(true)
	return a
}

func (a *restatedAPI) restate(v *payflow.PaymentView, err error) (*payflow.PaymentView, error) {
	if err != nil || !a.on.Load() || v.State != payflow.StateCaptured || (a.only != payflow.ID{} && v.ID != a.only) {
		return v, err
	}
	c, err := resignView(a.key, v, func(c *payflow.PaymentView, rc *record.Receipt) {
		c.Captured, rc.Amount = a.captured, a.receipt
		if a.consentHash != nil {
			rc.ConsentHash = a.consentHash
		}
		if a.alter != nil {
			a.alter(rc)
		}
	})
	require.NoError(a.tb, err)
	return c, nil
}

func (a *restatedAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return a.restate(a.API.Approve(ctx, req))
}

func (a *restatedAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return a.restate(a.API.Payment(ctx, token, id))
}

// counter returns the shopper card's signature counter.
func (w *phoneWorld) counter(tb testing.TB) uint64 {
	tb.Helper()
	return cardCounter(tb, w.shopperCard)
}

// cardCounter returns c's signature counter.
func cardCounter(tb testing.TB, c *simcardtest.Virtual) uint64 {
	tb.Helper()
	n, err := c.Card.Counter()
	require.NoError(tb, err)
	return n
}

// TestShopperRefusesReceiptOfAnotherAmount: the shopper takes the receipt
// of a payment only for the amount that the view shows captured, and, but
// for a merchant that captures manually, for the request's whole amount:
// otherwise Approve fails with ErrMismatch, the money moved as captured,
// and the consent stays kept, so that the next Approve, answered as the
// platform holds the payment, returns its receipt without the card.
func TestShopperRefusesReceiptOfAnotherAmount(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name              string
		manual            uint64 // the amount a merchant that captures manually captures; 0: auto capture
		captured, receipt uint64
		refused           bool
	}{
		{"receipt understated", 0, 690, 1, true},
		{"view and receipt understated", 0, 1, 1, true},
		{"view understated", 0, 1, 690, true},
		{"receipt overstated", 0, 690, 691, true},
		{"as captured", 0, 690, 690, false},
		{"manual, receipt of another amount than captured", 500, 500, 400, true},
		{"manual, view of another amount than the receipt", 500, 400, 500, true},
		{"manual, more than the request", 500, 691, 691, true},
		{"manual, part captured", 500, 500, 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, tt.manual != 0)
			restated := newRestatedAPI(t, w.f.Platform, w.f.Key, tt.captured, tt.receipt)
			w.useShopper(t, restated)
			w.pair(t)
			w.request(t)
			charged := uint64(690)
			if tt.manual != 0 {
				w.approveHeld(t)
				_, err := w.seller.Capture(ctx, tt.manual)
				require.NoError(t, err)
				charged = tt.manual
			}
			rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - charged}, w.balance(t, w.shopperCard.Enrolment.ICCID))
			if !tt.refused {
				require.NoError(t, err)
				assert.Equal(t, tt.receipt, rc.Amount)
				return
			}
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, rc)
			counter := w.counter(t)

			restated.on.Store(false)
			rc, err = w.shopper.Approve(ctx, "")
			require.NoError(t, err, "the consent kept")
			assert.Equal(t, charged, rc.Amount)
			assert.Equal(t, counter, w.counter(t), "the card signed nothing")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - charged}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
		})
	}
}

// TestWaitPaymentRefusesKeptConsentsPaymentOfAnotherAmount: a request paid
// with a kept consent whose view shows another amount captured than the
// request's (auto capture) fails WaitPayment with ErrMismatch once, as the
// view of another request does; the consent stays kept, and once the
// platform shows the payment as it holds it, WaitPayment shows it paid
// first and Approve returns its receipt.
func TestWaitPaymentRefusesKeptConsentsPaymentOfAnotherAmount(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 1, 1)
	restated.on.Store(false)
	lost := loseFirstApprove(restated, payflow.ErrUnavailable)
	first, src := w.payWithLostReply(t, lost)
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)

	restated.on.Store(true)
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, next.ID, screen.ID, "passed over, to the session's next request")

	restated.on.Store(false)
	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, first.ID, screen.ID, "the consent kept: its paid request first")
	assert.Equal(t, payflow.StateCaptured, screen.State)
	assert.Equal(t, uint64(690), screen.Captured)
	rc, err := w.shopper.Approve(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, src.Signed, rc.Signed)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// replacedOnScreen pairs the phones, has the seller ask for 100 EUR, which
// the shopper's WaitPayment returns for the app to show, then withdraw it
// and ask for 4000 EUR, which a second WaitPayment (the app refreshing the
// screen meanwhile) puts on screen in its place. It returns the two views.
func (w *phoneWorld) replacedOnScreen(tb testing.TB) (shown, refreshed *payflow.PaymentView) {
	tb.Helper()
	ctx := context.Background()
	w.pair(tb)
	_, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(tb, err)
	shown, err = w.shopper.WaitPayment(ctx)
	require.NoError(tb, err)
	require.Equal(tb, uint64(100), shown.Amount)
	_, err = w.seller.Cancel(ctx)
	require.NoError(tb, err)
	_, err = w.seller.Request(ctx, payflow.Charge{Amount: 4000, Currency: "EUR"})
	require.NoError(tb, err)
	refreshed, err = w.shopper.WaitPayment(ctx)
	require.NoError(tb, err)
	require.Equal(tb, uint64(4000), refreshed.Amount)
	return shown, refreshed
}

// requireNothingDone checks that the shopper's card verified no PIN and
// signed nothing since it had left PIN tries and counter, that no consent
// went to api, that the shopper was charged nothing, and that the request
// on screen is still on, pending.
func (w *phoneWorld) requireNothingDone(tb testing.TB, api *scriptedApproveAPI, left int, counter uint64, screen *payflow.PaymentView) {
	tb.Helper()
	after, _, err := w.shopperCard.Card.PINTries()
	require.NoError(tb, err)
	assert.Equal(tb, left, after, "PIN tries")
	assert.Equal(tb, counter, w.counter(tb), "the card signed nothing")
	api.mu.Lock()
	assert.Empty(tb, api.sent, "consents sent")
	api.mu.Unlock()
	assert.Equal(tb, payflow.Balance{Posted: phoneFunds}, w.balance(tb, w.shopperCard.Enrolment.ICCID))
	cur, err := w.shopper.Payment()
	require.NoError(tb, err)
	assert.Equal(tb, screen.ID, cur.ID)
	v, err := w.seller.Status(context.Background())
	require.NoError(tb, err)
	assert.Equal(tb, payflow.StatePending, v.State)
}

// TestApproveShownRefusesAnotherRequestOnScreen: an app approves the view
// it showed the user with ApproveShown: once another request took the
// screen (the till withdrew the one shown and asked for another amount,
// which the app's refresh put on screen while the user typed the PIN),
// ApproveShown and DeclineShown fail with ErrMismatch before the card
// verifies the PIN or signs, send nothing and leave the request on
// screen as it is; so does a view of the request on screen with another
// request hash. The request on screen is then approved, or declined, by
// its own view.
func TestApproveShownRefusesAnotherRequestOnScreen(t *testing.T) {
	ctx := context.Background()
	for _, decline := range []bool{false, true} {
		t.Run(map[bool]string{false: "approve", true: "decline"}[decline], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &scriptedApproveAPI{API: w.f.Platform}
			w.useShopper(t, api)
			shown, refreshed := w.replacedOnScreen(t)
			left, _, err := w.shopperCard.Card.PINTries()
			require.NoError(t, err)
			counter := w.counter(t)

			rehashed := *refreshed
			rehashed.RequestHash = shown.RequestHash
			for _, v := range []*payflow.PaymentView{shown, &rehashed} {
				if decline {
					_, err = w.shopper.DeclineShown(ctx, v)
				} else {
					_, err = w.shopper.ApproveShown(ctx, v, simcardtest.PIN)
				}
				require.ErrorIs(t, err, payflow.ErrMismatch)
				w.requireNothingDone(t, api, left, counter, refreshed)
			}

			if decline {
				v, err := w.shopper.DeclineShown(ctx, refreshed)
				require.NoError(t, err)
				assert.Equal(t, payflow.StateDeclined, v.State)
				assert.Equal(t, refreshed.ID, v.ID)
				assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
			} else {
				rc, err := w.shopper.ApproveShown(ctx, refreshed, simcardtest.PIN)
				require.NoError(t, err)
				assert.Equal(t, uint64(4000), rc.Amount)
				assert.Equal(t, refreshed.ID[:], rc.RequestID)
				assert.Equal(t, payflow.Balance{Posted: phoneFunds - 4000}, w.balance(t, w.shopperCard.Enrolment.ICCID))
			}
			_, err = w.shopper.Payment()
			require.ErrorIs(t, err, payflow.ErrNoPayment)
		})
	}
}

// TestApproveShownWithoutPayment: ApproveShown and DeclineShown of no view
// fail with ErrNoPayment, as they do with no request on screen.
func TestApproveShownWithoutPayment(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	_, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	_, err = w.shopper.ApproveShown(ctx, &payflow.PaymentView{}, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing on screen")
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	_, err = w.shopper.ApproveShown(ctx, nil, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	_, err = w.shopper.DeclineShown(ctx, nil)
	require.ErrorIs(t, err, payflow.ErrNoPayment)
	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
}

// TestWaitPaymentPastKeptConsentsRefusedReceipt: a kept consent (its reply
// lost) whose request the platform shows captured, but with a receipt
// that the phone refuses (for another amount than the view shows
// captured, signed by another key than the platform's, or of another
// consent), has WaitPayment fail once with the error of that receipt, as
// ApproveShown would, instead of showing the request again for every
// approval to fail the same way: the waits after it pass that consent
// over to the session's next request, which the shopper pays. The consent
// stays kept: once the platform shows its receipt right, WaitPayment shows
// its request first and ApproveShown returns that receipt without the
// card. The shopper is charged once for each request.
func TestWaitPaymentPastKeptConsentsRefusedReceipt(t *testing.T) {
	ctx := context.Background()
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tests := []struct {
		name              string
		otherKey          bool
		captured, receipt uint64
		consentHash       []byte
		want              error
	}{
		{"receipt of another amount", false, 690, 1, nil, payflow.ErrMismatch},
		{"receipt signed by another key", true, 690, 690, nil, payflow.ErrSignature},
		{"receipt of another consent", false, 690, 690, make([]byte, 32), payflow.ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			key := w.f.Key
			if tt.otherKey {
				key = other
			}
			restated := newRestatedAPI(t, w.f.Platform, key, tt.captured, tt.receipt)
			restated.consentHash = tt.consentHash
			restated.on.Store(false)
			lost := loseFirstApprove(restated, payflow.ErrUnavailable)
			first, src := w.payWithLostReply(t, lost)
			restated.only = first.ID
			next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
			require.NoError(t, err)

			restated.on.Store(true)
			screen, err := w.shopper.WaitPayment(ctx)
			require.ErrorIs(t, err, tt.want, "the kept consent's receipt refused")
			require.Nil(t, screen)
			restated.infoDown.Store(true) // the receipt cannot be checked again
			for range 2 {
				screen, err = w.shopper.WaitPayment(ctx)
				require.NoError(t, err)
				require.Equal(t, next.ID, screen.ID, "passed over, to the session's next request")
				assert.Equal(t, payflow.StatePending, screen.State)
			}
			restated.infoDown.Store(false)
			rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
			require.NoError(t, err)
			assert.Equal(t, uint64(100), rc.Amount)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 790}, w.balance(t, w.shopperCard.Enrolment.ICCID))
			assert.Len(t, consentsSent(lost), 2, "the kept consent not sent again while its receipt is refused")
			counter := w.counter(t)

			restated.on.Store(false)
			screen, err = w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			require.Equal(t, first.ID, screen.ID, "the consent kept: its paid request first")
			assert.Equal(t, payflow.StateCaptured, screen.State)
			rc, err = w.shopper.ApproveShown(ctx, screen, "")
			require.NoError(t, err)
			assert.Equal(t, src.Signed, rc.Signed)
			assert.Equal(t, counter, w.counter(t), "the card signed nothing")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 790}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once for each")
		})
	}
}

// TestCollectedReceiptVerifiedOnce: the receipt of a kept consent (its
// reply lost) that WaitPayment shows, a receipt to collect, has its
// signature checked, and its message decoded, there once, with the
// certificate chain it carries or with the platform's pinned key; the
// approval that collects it, which sends the consent again and is shown
// the same receipt, takes it without checking its signature again. A
// receipt of other bytes is checked, once (its chain is the one to check
// it with: Info is not asked for another): one tampered with is refused
// (ErrSignature), the consent kept, and the next approval returns the
// receipt.
func TestCollectedReceiptVerifiedOnce(t *testing.T) {
	ctx := context.Background()
	for _, pinned := range []bool{false, true} {
		for _, tampered := range []bool{false, true} {
			t.Run(fmt.Sprintf("pinned=%v/tampered=%v", pinned, tampered), func(t *testing.T) {
				w := newMemoryPhoneWorld(t, false)
				w.pinned = pinned
				tamper := &tamperAPI{API: w.f.Platform}
				first, src := w.payWithLostReply(t, loseFirstApprove(tamper, payflow.ErrUnavailable))
				checked := payflow.CountReceiptSignatures(w.shopper)
				decoded := payflow.CountReceiptDecodes(w.shopper)
				screen, err := w.shopper.WaitPayment(ctx)
				require.NoError(t, err)
				require.Equal(t, first.ID, screen.ID)
				require.Equal(t, payflow.StateCaptured, screen.State)
				assert.Equal(t, int64(1), checked.Load(), "WaitPayment checked the receipt")
				assert.Equal(t, int64(1), decoded.Load(), "WaitPayment decoded the receipt")

				want := int64(1)
				if tampered {
					// The consent sent again is answered with the request's
					// view, which shows the receipt, as a read of it does.
					tamper.payment = func(v *payflow.PaymentView) {
						v.Receipt = slices.Clone(v.Receipt)
						v.Receipt[len(v.Receipt)-1] ^= 1 // the signature's last byte
					}
					tamper.approve = tamper.payment
					_, err = w.shopper.ApproveShown(ctx, screen, "")
					require.ErrorIs(t, err, payflow.ErrSignature)
					want = 2
					assert.Equal(t, want, checked.Load(), "the other receipt checked")
					assert.Equal(t, want, decoded.Load(), "the other receipt decoded")
					tamper.payment, tamper.approve = nil, nil
				}
				rc, err := w.shopper.ApproveShown(ctx, screen, "")
				require.NoError(t, err)
				assert.Equal(t, src.Signed, rc.Signed)
				assert.Equal(t, uint64(690), rc.Amount)
				assert.Equal(t, want, checked.Load(), "the approval took the receipt checked")
				assert.Equal(t, want, decoded.Load(), "the approval took the receipt decoded")
				assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
			})
		}
	}
}

// TestWaitPaymentPastConsentCollectedMeanwhile: a WaitPayment of another
// goroutine that read the kept consents before an approval collected the
// receipt of one, and reads its request after, does not show that request,
// which the phone no longer keeps a consent for: it goes on to the
// session's next request, which the shopper then approves. The approval
// returned the receipt, charged once.
func TestWaitPaymentPastConsentCollectedMeanwhile(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	hook := &hookAPI{API: w.f.Platform}
	first, src := w.payWithLostReply(t, loseFirstApprove(hook, payflow.ErrUnavailable))
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, first.ID, screen.ID)
	require.Equal(t, payflow.StateCaptured, screen.State)
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)

	waited, release := w.holdWaitPayment(t, hook, first.ID, false) // reading the kept consent's request

	rc, err := w.shopper.ApproveShown(ctx, screen, "")
	require.NoError(t, err)
	require.Equal(t, src.Signed, rc.Signed)
	release()
	w.requireNextApproved(t, waited, next, "the request collected meanwhile is not shown")
}

// TestWaitPaymentPastRequestPaidMeanwhile: a WaitPayment of another
// goroutine that read the session's next request pending before the
// shopper's approval of it was settled, and goes on after, does not show
// that request, paid by then: it goes on to the session's next request,
// which the shopper then approves, charged once for each.
func TestWaitPaymentPastRequestPaidMeanwhile(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	hook := &hookAPI{API: w.f.Platform}
	w.useShopper(t, hook)
	w.pair(t)
	_, screen := w.request(t)
	waited, release := w.holdWaitPayment(t, hook, screen.ID, true) // the request read pending

	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.NoError(t, err)
	require.Equal(t, uint64(690), rc.Amount)
	sv, _, err := w.seller.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, sv.State)
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	release()
	w.requireNextApproved(t, waited, next, "the request paid meanwhile is not shown")
}

// waitOutcome is what a WaitPayment returned.
type waitOutcome struct {
	v   *payflow.PaymentView
	err error
}

// holdWaitPayment starts a WaitPayment of w's shopper in another
// goroutine and returns once it reads request id through hook, which
// holds that read until release is called: before the platform answers
// it, or, with answered, after. The WaitPayment's outcome comes on
// waited.
func (w *phoneWorld) holdWaitPayment(t *testing.T, hook *hookAPI, id payflow.ID, answered bool) (waited <-chan waitOutcome, release func()) {
	t.Helper()
	read, released := make(chan struct{}), make(chan struct{})
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	hold := func() {
		close(read)
		<-released
	}
	hook.mu.Lock()
	hook.paymentID = id
	if answered {
		hook.answered = hold
	} else {
		hook.payment = hold
	}
	hook.mu.Unlock()
	out := make(chan waitOutcome, 1)
	go func() {
		v, err := w.shopper.WaitPayment(context.Background())
		out <- waitOutcome{v, err}
	}()
	<-read
	return out, release
}

// requireNextApproved checks that the WaitPayment of waited showed next,
// the seller's view of the session's next request, pending, and has the
// shopper approve it: 100 EUR after a payment of 690.
func (w *phoneWorld) requireNextApproved(t *testing.T, waited <-chan waitOutcome, next *payflow.PaymentView, msg string) {
	t.Helper()
	got := within(t, waited, "WaitPayment")
	require.NoError(t, got.err)
	require.Equal(t, next.ID, got.v.ID, msg)
	require.Equal(t, payflow.StatePending, got.v.State)
	rc, err := w.shopper.ApproveShown(context.Background(), got.v, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(100), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 790}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// infoFromAPI answers Info as from does once from is set, as a platform
// that renewed its key: the phones then fetch the chain of from's key.
type infoFromAPI struct {
	payflow.API
	from payflow.API
}

func (a *infoFromAPI) Info(ctx context.Context) (*payflow.Info, error) {
	if a.from != nil {
		return a.from.Info(ctx)
	}
	return a.API.Info(ctx)
}

// TestCollectedReceiptCheckedAgainUnderAnotherKey: a receipt to collect
// that WaitPayment checked with the platform's key of then, by the chain
// it carries, has that chain checked again when the approval collects it,
// and, its certificate expired meanwhile (Info gives the platform's new
// one), it is refused (ErrSignature, the chain expired).
func TestCollectedReceiptCheckedAgainUnderAnotherKey(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &infoFromAPI{API: renewedPlatform(t, f)} // its certificate lasts an hour and the skew
	w := newPhoneWorld(t, f, api, false)
	f.Clock.Advance(time.Hour + pki.DefaultSkew - 5*time.Minute)
	first, _ := w.payWithLostReply(t, loseFirstApprove(api, payflow.ErrUnavailable))
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, first.ID, screen.ID)
	require.Equal(t, payflow.StateCaptured, screen.State)

	f.Clock.Advance(6 * time.Minute) // the renewed certificate expired
	api.from = f.Platform
	_, err = w.shopper.ApproveShown(ctx, screen, "")
	require.ErrorIs(t, err, payflow.ErrSignature)
	assert.ErrorIs(t, err, pki.ErrExpired)
}

// TestWaitPaymentPastKeptConsentsUntrustedReceipt: a kept consent (its
// reply lost) whose request the platform shows captured once the
// platform's certificate expired, so that its receipt no longer verifies,
// has WaitPayment fail once with ErrSignature (the chain that the receipt
// carries expired); the waits after it pass that
// consent over to the session's next request, whose approval fails with
// ErrCard before the card signs, and which the shopper can decline. The
// shopper is charged once.
func TestWaitPaymentPastKeptConsentsUntrustedReceipt(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	renewed := renewedPlatform(t, f) // its certificate lasts an hour and the skew
	w := newPhoneWorld(t, f, renewed, false)
	f.Clock.Advance(time.Hour + pki.DefaultSkew - 5*time.Minute)
	lost := loseFirstApprove(renewed, payflow.ErrUnavailable)
	w.payWithLostReply(t, lost)
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR", TTL: 600})
	require.NoError(t, err)

	f.Clock.Advance(6 * time.Minute) // the certificate expired; the request did not
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrSignature)
	assert.ErrorIs(t, err, pki.ErrExpired)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, next.ID, screen.ID, "passed over, to the session's next request")
	counter := w.counter(t)
	_, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	v, err := w.shopper.DeclineShown(ctx, screen)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, v.State)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestApproveShownWithEndedContextSignsNothing: an approval whose context
// ended before the call fails with the context's error before the card is
// used: the card signs nothing, nothing is sent, the request stays
// pending, and the platform's recovery charges the shopper nothing.
func TestApproveShownWithEndedContextSignsNothing(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	w.request(t)
	shown, err := w.shopper.Payment()
	require.NoError(t, err)
	counter := w.counter(t)

	w.approveEnded(t, shown, simcardtest.PIN)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	w.assertState(t, shown.ID, payflow.StatePending)

	w.f.Clock.Advance(payflow.DefaultRecoverAfter)
	_, err = w.f.Platform.RecoverSweep(context.Background(), 0)
	require.NoError(t, err)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged nothing")
}

// approveEnded calls ApproveShown with a context that ended, many times,
// since a call whose turn is free could go on by a select's random
// choice: each must fail with the context's error and return no receipt.
func (w *phoneWorld) approveEnded(t *testing.T, shown *payflow.PaymentView, pin string) {
	t.Helper()
	ctx, cancel := withCancelCause(context.Background())
	cancel()
	for i := range 64 {
		rc, err := w.shopper.ApproveShown(ctx, shown, pin)
		require.ErrorIsf(t, err, context.Canceled, "call %d", i)
		require.Nilf(t, rc, "call %d", i)
	}
}

// TestApproveWithEndedContextResendsNoKeptConsent: a consent kept because
// its call got no answer is not sent again by an approval whose context
// ended before its turn: every such call fails with the context's error,
// the platform gets no consent, and the request stays pending, nobody
// charged.
func TestApproveWithEndedContextResendsNoKeptConsent(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	unavailable := func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		return nil, payflow.ErrUnavailable
	}
	api := &scriptedApproveAPI{API: w.f.Platform, approve: []func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error){unavailable}}
	w.useShopper(t, api)
	w.pair(t)
	w.request(t)
	shown, err := w.shopper.Payment()
	require.NoError(t, err)
	_, err = w.shopper.Approve(context.Background(), simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.Len(t, api.sent, 1)

	w.approveEnded(t, shown, simcardtest.PIN)
	api.mu.Lock()
	sent := len(api.sent)
	api.mu.Unlock()
	assert.Equal(t, 1, sent, "no consent sent by a call whose context had ended")
	w.assertState(t, shown.ID, payflow.StatePending)
	w.f.Clock.Advance(payflow.DefaultRecoverAfter)
	_, err = w.f.Platform.RecoverSweep(context.Background(), 0)
	require.NoError(t, err)
	w.assertState(t, shown.ID, payflow.StatePending)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged nothing")
}

// TestCollectWithEndedContextFailsWithItsError: an approval that would
// collect the receipt of a kept consent fails with its context's error,
// every time, when that context ended before its turn.
func TestCollectWithEndedContextFailsWithItsError(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	w.payWithLostReply(t, loseFirstApprove(w.f.Platform, payflow.ErrUnavailable))
	screen, err := w.shopper.WaitPayment(context.Background())
	require.NoError(t, err)
	require.Equal(t, payflow.StateCaptured, screen.State)

	w.approveEnded(t, screen, "")
	rc, err := w.shopper.ApproveShown(context.Background(), screen, "")
	require.NoError(t, err, "the receipt is still collected by a call whose context lasts")
	assert.Equal(t, screen.ID[:], rc.RequestID)
}

// TestApproveShownWaitingForAnotherApprovalEndsWithItsContext: while an
// Approve waits for the manual capture of its request, an ApproveShown of
// the session's next request waits for it only as long as its own context
// lasts: it then fails with the context's error, the card signing
// nothing, in process and over HTTP.
func TestApproveShownWaitingForAnotherApprovalEndsWithItsContext(t *testing.T) {
	for _, overHTTP := range []bool{false, true} {
		t.Run(fmt.Sprintf("http=%v", overHTTP), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			if overHTTP {
				w.useShopper(t, newMiddlebox(t, w.f.Platform).client(t))
			}
			w.pair(t)
			w.request(t)
			firstCtx, cancelFirst := withCancelCause(context.Background())
			defer cancelFirst()
			first := make(chan error, 1)
			go func() {
				_, err := w.shopper.Approve(firstCtx, simcardtest.PIN)
				first <- err
			}()
			held, _, err := w.seller.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, payflow.StateHeld, held.State, "the first Approve waits for the capture")

			w.request(t)
			shown, err := w.shopper.Payment()
			require.NoError(t, err)
			require.NotEqual(t, held.ID, shown.ID)
			counter := w.counter(t)
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			second := make(chan error, 1)
			go func() {
				_, err := w.shopper.ApproveShown(ctx, shown, simcardtest.PIN)
				second <- err
			}()
			select {
			case err := <-second:
				require.ErrorIs(t, err, context.DeadlineExceeded)
			case <-time.After(5 * time.Second):
				cancelFirst()
				<-first
				<-second
				t.Fatal("ApproveShown went on waiting for the other approval after its context ended")
			}
			assert.Equal(t, counter, w.counter(t), "the card signed nothing")
			w.assertState(t, shown.ID, payflow.StatePending)

			cancelFirst()
			require.ErrorIs(t, <-first, errCallerGone)
		})
	}
}

// TestApproveKeepsRefusedConsentOfRequestShownInUnknownState: a kept
// consent that the platform refuses when it is sent again, its request
// then shown in a state that no request's view has (as "capturing", a
// platform's inner state), may have been settled: the approval fails with
// ErrInternal, the card signs nothing, and the consent stays kept; once
// the merchant captured the request, the next Approve sends it again and
// returns the receipt of the capture, the shopper charged once.
func TestApproveKeepsRefusedConsentOfRequestShownInUnknownState(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	lost := loseFirstApprove(w.f.Platform, payflow.ErrUnavailable)
	scripted := &scriptedApproveAPI{API: w.f.Platform, approve: []func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error){
		lost.Approve, // held, its reply lost
		func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
			return nil, payflow.ErrReplay
		},
	}}
	api := &reshownHeldAPI{scriptedApproveAPI: scripted}
	w.useShopper(t, api)
	w.pair(t)
	w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	counter := w.counter(t)

	api.show("capturing")
	_, err = w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	api.show("")
	w.requireCollectedAgain(t, scripted, 3)
}

// TestShopperViewsAreTheAppsOwn: the views that WaitPayment and Payment
// return are the app's own: writing into them leaves the request on
// screen as the phone checked it, which Payment shows again and the
// approval pays.
func TestShopperViewsAreTheAppsOwn(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	sv, screen := w.request(t)
	requireSameRequest(t, sv, screen)
	scribble(screen)
	shown, err := w.shopper.Payment()
	require.NoError(t, err)
	requireSameRequest(t, sv, shown)
	scribble(shown)
	shown, err = w.shopper.Payment()
	require.NoError(t, err)
	requireSameRequest(t, sv, shown)

	rc, err := w.shopper.ApproveShown(ctx, shown, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestShopperApproveRefusedRetryOfSettledConsent: a consent that the
// platform settled, sent again at once and refused as a consent already
// used (as a platform of an earlier version refuses the HTTP client's
// retry when the attempt that settled it got a reply that the handler did
// not store, a 5xx), is the shopper's payment: Approve returns its
// receipt, charged once, instead of reporting failed a purchase that was
// paid.
func TestShopperApproveRefusedRetryOfSettledConsent(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	var first *payflow.PaymentView
	var retry error
	api := &scriptedApproveAPI{API: w.f.Platform}
	api.approve = append(api.approve, func(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		var err error
		if first, err = w.f.Platform.Approve(ctx, req); err != nil {
			return nil, err
		}
		// This platform answers the retry with the request's view; an
		// earlier version refused it, as this script does.
		again, err := w.f.Platform.Approve(ctx, req)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(again.Receipt, first.Receipt) {
			return nil, fmt.Errorf("%w: the retry got another receipt", payflow.ErrInternal)
		}
		retry = fmt.Errorf("%w: the consent's nonce is spent", payflow.ErrReplay)
		return nil, retry
	})
	w.useShopper(t, api)
	w.pair(t)
	w.request(t)
	rc, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, retry, payflow.ErrReplay, "the platform refuses the retry")
	require.NoError(t, err)
	assert.Equal(t, first.Receipt, rc.Signed)
	assert.Equal(t, uint64(690), rc.Amount)
	require.Len(t, api.sent, 1, "no other consent is signed")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "the paid request left the screen")
}

// TestShopperApproveCopyOfConsentWhosePaymentEnded: a consent that the
// platform held, whose reply was lost, and whose payment then ended
// without a capture (the seller cancelled it, or its hold expired) before
// the copy sent again reached the platform, is the shopper's payment
// ended: the platform answers the copy with the request's view, and
// Approve fails with ErrFinal, not with a refusal of the consent, the
// screen showing the request cancelled or expired. The consent is not
// kept (the next approval sends nothing), and the shopper has every unit
// back.
func TestShopperApproveCopyOfConsentWhosePaymentEnded(t *testing.T) {
	ctx := context.Background()
	for _, want := range []string{payflow.StateCancelled, payflow.StateExpired} {
		t.Run(want, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &scriptedApproveAPI{API: w.f.Platform}
			api.approve = append(api.approve, func(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
				first, err := w.f.Platform.Approve(ctx, req)
				if err != nil {
					return nil, err
				}
				if first.State != payflow.StateHeld {
					return nil, fmt.Errorf("%w: the consent's payment is %s", payflow.ErrInternal, first.State)
				}
				// The reply is lost; the payment ends before the copy.
				if want == payflow.StateCancelled {
					if _, err := w.seller.Cancel(ctx); err != nil {
						return nil, err
					}
				} else {
					w.f.Clock.Advance(payflow.DefaultHoldTTL)
					w.f.RefreshCRLs()
				}
				return w.f.Platform.Approve(ctx, req)
			})
			w.useShopper(t, api)
			w.pair(t)
			w.request(t)
			_, err := w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrFinal)
			assert.ErrorContains(t, err, want)
			screen, err := w.shopper.Payment()
			require.NoError(t, err)
			assert.Equal(t, want, screen.State, "the screen shows the payment ended")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing moved")

			_, err = w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrFinal)
			assert.Len(t, api.sent, 1, "the consent alone: none kept to send again, none signed")
		})
	}
}

// onHeldRead calls fn the first time a read of the payer shows the
// payment held, after that read (fn may have the seller capture it, so
// that the next read shows it captured).
type onHeldRead struct {
	payflow.API
	fn   func() error
	done atomic.Bool
}

func (a *onHeldRead) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	v, err := a.API.Payment(ctx, token, id)
	if err == nil && v.State == payflow.StateHeld && a.done.CompareAndSwap(false, true) {
		if ferr := a.fn(); ferr != nil {
			return nil, ferr
		}
	}
	return v, err
}

// settleWithAnotherConsent is an answer of a scriptedApproveAPI that has
// the shopper's card sign another consent over the request and nonce of
// the consent sent, and the platform settle it first, before it passes
// the consent sent on to the platform.
func (w *phoneWorld) settleWithAnotherConsent(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	var c record.Consent
	if err := record.Open(req.Consent, &c); err != nil {
		return nil, err
	}
	c.CardHeader = record.CardHeader{}
	if _, err := w.settleConsent(ctx, &c); err != nil {
		return nil, err
	}
	return w.f.Platform.Approve(ctx, req)
}

// settleConsent has the shopper's card verify the PIN and sign c, and the
// platform settle it, as another run of the app on that card would; it
// returns the platform's answer.
func (w *phoneWorld) settleConsent(ctx context.Context, c *record.Consent) (*payflow.PaymentView, error) {
	if err := w.shopperCard.Card.VerifyPIN(simcardtest.PIN); err != nil {
		return nil, err
	}
	msg, err := w.shopperCard.Card.SignConsent(c)
	if err != nil {
		return nil, err
	}
	return w.f.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
}

// payOnScreen has another run of the app on the shopper's card pay the
// request of screen, a pending view of the payer, with a consent over its
// nonce (settleConsent), and checks that the platform shows it want.
func (w *phoneWorld) payOnScreen(tb testing.TB, screen *payflow.PaymentView, want string) {
	tb.Helper()
	v, err := w.settleConsent(context.Background(), &record.Consent{
		RequestID: screen.ID[:], RequestHash: screen.RequestHash, Nonce: screen.ConsentNonce,
		Amount: screen.Amount, Currency: screen.Currency, MerchantID: screen.MerchantID,
	})
	require.NoError(tb, err)
	require.Equal(tb, want, v.State)
}

// approvePaidWithAnotherConsent pairs the phones of w, has the seller
// request a payment and the shopper approve it with ctx, while another
// consent of the shopper's card is settled first (settleWithAnotherConsent);
// onHeld runs after the first read of the payer that shows the payment
// held (onHeldRead). It returns the API of the shopper's phone and the
// approval's error.
func (w *phoneWorld) approvePaidWithAnotherConsent(t *testing.T, ctx context.Context, onHeld func() error) (*scriptedApproveAPI, error) {
	t.Helper()
	api := &scriptedApproveAPI{API: &onHeldRead{API: w.f.Platform, fn: onHeld}}
	api.approve = append(api.approve, w.settleWithAnotherConsent)
	w.useShopper(t, api)
	w.pair(t)
	w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	return api, err
}

// TestShopperApprovePaidWithAnotherConsent: another consent of the payer's
// card (signed by another run of the app, say) that the platform settles
// between the phone's fresh read of the request and its consent's first
// send spends the consent's nonce: the platform refuses the phone's
// consent, and shows the request paid, its receipt of the other consent
// (with a manual capture, once the seller captured the hold). Approve
// fails with ErrFinal, the request paid otherwise, not with ErrMismatch
// over a receipt that is not of its consent; the consent, which was not
// made, is not kept, and the request is taken off the screen, as a
// receipt of the phone's own consent takes it (the next approval fails
// with ErrNoPayment, sending nothing, the card signing nothing, and the
// next WaitPayment shows the session's next request). The shopper is
// charged once.
func TestShopperApprovePaidWithAnotherConsent(t *testing.T) {
	ctx := context.Background()
	for _, manual := range []bool{false, true} {
		t.Run(fmt.Sprintf("manual=%v", manual), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, manual)
			api, err := w.approvePaidWithAnotherConsent(t, ctx, func() error {
				_, err := w.seller.Capture(ctx, 690)
				return err
			})
			require.ErrorIs(t, err, payflow.ErrFinal)
			assert.NotErrorIs(t, err, payflow.ErrMismatch)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
			screen, err := w.shopper.Payment()
			require.ErrorIs(t, err, payflow.ErrNoPayment, "the paid request is off the screen")
			assert.Nil(t, screen)
			counter := w.counter(t)

			_, err = w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrNoPayment)
			assert.Len(t, api.sent, 1, "nothing sent again")
			assert.Equal(t, counter, w.counter(t), "the card signed nothing")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")

			w.requireNextRequestShown(t)
			assert.Len(t, api.sent, 1, "nothing sent again")
		})
	}
}

// TestShopperApproveFreshReadPaidOtherwise: a request on screen that
// another consent of the payer's card (another run of the app) paid,
// held or captured, before the approval reads it afresh is no request to
// approve, and with no consent of it kept, no receipt to collect: the
// approval fails with ErrFinal, the card verifying no PIN and signing
// nothing, and takes the request off the screen (Payment: ErrNoPayment),
// as an approval that fails because another consent paid it does; the
// next WaitPayment shows the session's next request. The shopper is
// charged once (with a manual capture, held once).
func TestShopperApproveFreshReadPaidOtherwise(t *testing.T) {
	ctx := context.Background()
	for _, want := range []string{payflow.StateCaptured, payflow.StateHeld} {
		t.Run(want, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, want == payflow.StateHeld)
			w.pair(t)
			_, screen := w.request(t)
			w.payOnScreen(t, screen, want)
			counter := w.counter(t)
			left, _, err := w.shopperCard.Card.PINTries()
			require.NoError(t, err)

			_, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrFinal)
			assert.ErrorContains(t, err, "payment "+want)
			assert.Equal(t, counter, w.counter(t), "the card signed nothing")
			after, _, err := w.shopperCard.Card.PINTries()
			require.NoError(t, err)
			assert.Equal(t, left, after)
			b := w.balance(t, w.shopperCard.Enrolment.ICCID)
			if want == payflow.StateHeld {
				assert.Equal(t, payflow.Balance{Posted: phoneFunds, Held: 690}, b, "held once")
			} else {
				assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, b, "charged once")
			}
			on, err := w.shopper.Payment()
			require.ErrorIs(t, err, payflow.ErrNoPayment, "the paid request is off the screen")
			assert.Nil(t, on)
			_, err = w.shopper.Approve(ctx, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrNoPayment)
			assert.Equal(t, counter, w.counter(t), "the card signed nothing")

			w.requireNextRequestShown(t)
		})
	}
}

// requireNextRequestShown has the till's Wait show the first request of
// the session paid (or held), then checks that the next request is shown
// (requireNextRequestAsked).
func (w *phoneWorld) requireNextRequestShown(tb testing.TB) {
	tb.Helper()
	_, _, err := w.seller.Wait(context.Background())
	require.NoError(tb, err)
	w.requireNextRequestAsked(tb)
}

// requireNextRequestAsked has the seller ask for basket again, after the
// session's first request, and checks that the shopper's WaitPayment
// shows that request, the session's next.
func (w *phoneWorld) requireNextRequestAsked(tb testing.TB) {
	tb.Helper()
	next, screen := w.request(tb)
	assert.Equal(tb, payflow.SessionRequestID(next.SessionID, 1), next.ID)
	assert.Equal(tb, next.ID, screen.ID, "the session's next request")
	assert.Equal(tb, payflow.StatePending, screen.State)
}

// TestShopperApproveFreshReadPaidOtherwiseUnsigned: a fresh read that
// shows the request on screen held or captured, paid by another consent
// of the card, but in a view with another session than its seller's card
// signed, fails the approval with ErrMismatch, the card signing nothing,
// and leaves the request on screen as it was.
func TestShopperApproveFreshReadPaidOtherwiseUnsigned(t *testing.T) {
	ctx := context.Background()
	for _, want := range []string{payflow.StateCaptured, payflow.StateHeld} {
		t.Run(want, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, want == payflow.StateHeld)
			api := &tamperAPI{API: w.f.Platform}
			w.useShopper(t, api)
			w.pair(t)
			_, screen := w.request(t)
			w.payOnScreen(t, screen, want)
			api.payment = func(v *payflow.PaymentView) { v.SessionID[0] ^= 1 }
			counter := w.counter(t)

			_, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.NotErrorIs(t, err, payflow.ErrFinal)
			assert.Equal(t, counter, w.counter(t), "the card signed nothing")
			on, err := w.shopper.Payment()
			require.NoError(t, err, "the request stays on screen")
			assert.Equal(t, screen, on)
		})
	}
}

// TestShopperApproveFreshReadInUnknownState: a fresh read that shows the
// request on screen in a state that no request's view has (as
// "capturing", a platform's inner state) fails the approval with
// ErrInternal, not ErrFinal: the card verifies no PIN and signs nothing,
// nothing is paid, and the request stays on screen as it was, so that an
// approval once the platform shows it pending again pays it.
func TestShopperApproveFreshReadInUnknownState(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &tamperAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.pair(t)
	_, screen := w.request(t)
	api.payment = func(v *payflow.PaymentView) { v.State = "capturing" }
	counter := w.counter(t)
	left, _, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)

	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.NotErrorIs(t, err, payflow.ErrFinal)
	assert.EqualError(t, err, "payflow: internal error: the platform shows the payment capturing")
	assert.Nil(t, rc)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	after, _, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)
	assert.Equal(t, left, after)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing paid")
	on, err := w.shopper.Payment()
	require.NoError(t, err, "the request stays on screen")
	assert.Equal(t, screen, on)

	api.payment = nil
	rc, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
}

// TestWaitPaymentDropsRefusedConsentPaidWithAnother: a consent that the
// platform refused, its request then shown held by another consent of the
// card (settled between the phone's read and the consent's send), is kept
// while the approval waits for the capture; an approval whose wait ended
// before the capture leaves it kept, and so does the next approval, which
// sends it again, when that send gets no answer: the consent stays
// refused. Once the seller captured the hold, WaitPayment finds the
// receipt of the other consent: the kept one was not made, and
// WaitPayment drops it and goes on to the session's next request, without
// failing with ErrMismatch or passing it over still kept. The shopper is
// charged once.
func TestWaitPaymentDropsRefusedConsentPaidWithAnother(t *testing.T) {
	ctx := context.Background()
	for _, again := range []bool{false, true} {
		t.Run(map[bool]string{false: "kept", true: "sent_again_unanswered"}[again], func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			actx, cancel := withCancelCause(ctx)
			defer cancel()
			api, err := w.approvePaidWithAnotherConsent(t, actx, func() error {
				cancel() // the approval's wait for the capture ends
				return nil
			})
			require.ErrorIs(t, err, errCallerGone)
			sent := 1
			if again {
				api.mu.Lock()
				api.approve = append(api.approve, func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
					return nil, payflow.ErrUnavailable // lost before it reached the platform
				})
				api.mu.Unlock()
				_, err = w.shopper.Approve(ctx, simcardtest.PIN)
				require.ErrorIs(t, err, payflow.ErrUnavailable)
				sent++
			}
			_, err = w.seller.Capture(ctx, 690)
			require.NoError(t, err)
			next, screen := w.request(t) // WaitPayment did not fail
			require.Equal(t, next.ID, screen.ID, "the session's next request")
			assert.Equal(t, payflow.StatePending, screen.State)
			assert.Len(t, api.sent, sent, "the refused consent, not sent by WaitPayment")
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once, by the other consent")
		})
	}
}

// TestApproveShownSendsNoKeptConsentOfAnotherRequestUnderItsID: a consent
// kept for a request (its reply lost before it reached the platform) is
// not sent by the approval of another request that the platform shows
// under the same ID (another request hash: a seller card may sign more
// than one request under one ID): the approval signs a consent bound to
// the request shown, which the platform, holding the first, refuses
// with ErrMismatch, and the shopper is charged nothing.
func TestApproveShownSendsNoKeptConsentOfAnotherRequestUnderItsID(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	reads := &tamperAPI{API: f.Platform}
	api := &scriptedApproveAPI{API: reads}
	api.approve = append(api.approve, func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		return nil, payflow.ErrUnavailable
	})
	w := newPhoneWorld(t, f, api, false)
	w.pair(t)
	_, first := w.request(t)
	_, err := w.shopper.Approve(ctx, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)

	// The seller's card signs another request under the first's ID, and
	// the platform shows it under that ID.
	other, h := w.signUnderID(t, first)
	reads.payment = func(v *payflow.PaymentView) {
		if v.ID == first.ID {
			v.Request, v.RequestHash, v.Amount, v.Lines = other, h, 100, nil
		}
	}
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch, "the kept consent's request read as another")
	shown, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, h, shown.RequestHash)

	_, err = w.shopper.ApproveShown(ctx, shown, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged nothing")
	require.Len(t, api.sent, 2)
	var cs record.Consent
	require.NoError(t, record.Open(api.sent[1], &cs))
	assert.Equal(t, h, cs.RequestHash, "the consent sent is bound to the request shown")
}

// signUnderID has the seller's card of w sign another request of 100 under
// the ID of first, in its session, to its payer, and returns it with its
// hash.
func (w *phoneWorld) signUnderID(tb testing.TB, first *payflow.PaymentView) (msg, hash []byte) {
	tb.Helper()
	msg, err := w.sellerCard.Card.SignPaymentRequest(&record.PaymentRequest{
		RequestID: first.ID[:], SessionID: first.SessionID[:], PayerCardID: first.PayerCardID,
		MerchantID: first.MerchantID, Currency: first.Currency, Amount: 100,
	})
	require.NoError(tb, err)
	h := record.Hash(msg)
	return msg, h[:]
}

// TestShopperEndLeavesAnotherRequestUnderItsIDOnScreen: an approval that
// returns its receipt, one that fails with ErrFinal because another
// consent of the card paid the request, and a decline take their request
// off the screen, and that request alone: another request that the
// platform shows under its ID (another request hash: a seller card may
// sign more than one request under one ID), which a WaitPayment of
// another goroutine (the app refreshing the screen) put on screen while
// the call ran, stays on screen, pending.
func TestShopperEndLeavesAnotherRequestUnderItsIDOnScreen(t *testing.T) {
	ctx := context.Background()
	for _, end := range []string{"approved", "paid_by_another", "declined"} {
		t.Run(end, func(t *testing.T) {
			f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
			reads := &tamperAPI{API: f.Platform}
			api := &scriptedApproveAPI{API: reads}
			w := newPhoneWorld(t, f, api, false)
			w.pair(t)
			_, first := w.request(t)
			other, h := w.signUnderID(t, first)
			var refreshed *payflow.PaymentView
			var werr error
			refresh := func() {
				reads.payment = func(v *payflow.PaymentView) {
					if v.ID == first.ID {
						v.Request, v.RequestHash, v.Amount, v.Lines, v.Legs = other, h, 100, nil, nil
						v.State, v.Captured, v.Receipt = payflow.StatePending, 0, nil
					}
				}
				refreshed, werr = w.shopper.WaitPayment(ctx)
				reads.payment = nil
			}

			var err error
			switch end {
			case "declined":
				reads.decline = func(*payflow.PaymentView) { refresh() }
				_, err = w.shopper.Decline(ctx)
				require.NoError(t, err)
			default:
				settle := f.Platform.Approve
				if end == "paid_by_another" {
					settle = w.settleWithAnotherConsent
				}
				api.approve = append(api.approve, func(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
					v, err := settle(ctx, req)
					refresh()
					return v, err
				})
				_, err = w.shopper.Approve(ctx, simcardtest.PIN)
				if end == "approved" {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, payflow.ErrFinal)
				}
			}
			require.NoError(t, werr)
			require.Equal(t, h, refreshed.RequestHash, "the other request put on screen")

			screen, err := w.shopper.Payment()
			require.NoError(t, err, "the other request stays on screen")
			assert.Equal(t, first.ID, screen.ID)
			assert.Equal(t, h, screen.RequestHash)
			assert.Equal(t, uint64(100), screen.Amount)
			assert.Equal(t, payflow.StatePending, screen.State)
		})
	}
}

// TestDeclineChecksAnsweredState: a decline answered with a view of the
// request that does not show it declined is no decline: a view of
// another final state fails with ErrFinal and comes with the error; one
// pending, held or in a state that no request's view has (no decline
// leaves a request so) fails with ErrInternal. Either way the request
// stays on screen.
func TestDeclineChecksAnsweredState(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		state string
		want  error
	}{
		{payflow.StatePending, payflow.ErrInternal},
		{payflow.StateHeld, payflow.ErrInternal},
		{"capturing", payflow.ErrInternal},
		{payflow.StateCaptured, payflow.ErrFinal},
		{payflow.StateCancelled, payflow.ErrFinal},
		{payflow.StateExpired, payflow.ErrFinal},
	} {
		for _, shown := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s shown %v", tt.state, shown), func(t *testing.T) {
				w, api := newTamperWorld(t)
				w.pair(t)
				_, screen := w.request(t)
				api.decline = func(v *payflow.PaymentView) { v.State = tt.state }
				var v *payflow.PaymentView
				var err error
				if shown {
					v, err = w.shopper.DeclineShown(ctx, screen)
				} else {
					v, err = w.shopper.Decline(ctx)
				}
				require.ErrorIs(t, err, tt.want)
				if tt.want == payflow.ErrFinal {
					require.NotNil(t, v)
					assert.Equal(t, screen.ID, v.ID)
					assert.Equal(t, tt.state, v.State)
				} else {
					assert.Nil(t, v)
				}
				on, err := w.shopper.Payment()
				require.NoError(t, err)
				assert.Equal(t, screen.ID, on.ID, "the request stays on screen")
			})
		}
	}
}

// TestDeclineRacesApprove: a decline of the request on screen racing an
// approval of it on the same phone has exactly one of them take effect:
// the approval returns the receipt and the shopper paid, or the decline
// returns the request declined and nothing was paid, the other failing;
// either way the request leaves the screen and no consent stays kept.
func TestDeclineRacesApprove(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	paid := uint64(0)
	for i := range phoneFunds / 690 { // each round may pay the basket
		_, screen := w.request(t)
		var (
			rc       *payflow.Receipt
			declined *payflow.PaymentView
			aerr     error
			derr     error
			wg       sync.WaitGroup
		)
		wg.Go(func() { rc, aerr = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN) })
		wg.Go(func() { declined, derr = w.shopper.DeclineShown(ctx, screen) })
		wg.Wait()
		require.True(t, (aerr == nil) != (derr == nil), "round %d: exactly one takes effect: approval %v, decline %v", i, aerr, derr)
		if aerr == nil {
			require.Equal(t, screen.Amount, rc.Amount)
			paid += rc.Amount
			_, _, err := w.seller.Wait(ctx) // the till sees it paid before asking again
			require.NoError(t, err)
		} else {
			require.Equal(t, payflow.StateDeclined, declined.State, "round %d", i)
		}
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - paid}, w.balance(t, w.shopperCard.Enrolment.ICCID), "round %d", i)
		_, err := w.shopper.Payment()
		require.ErrorIs(t, err, payflow.ErrNoPayment, "round %d: the request left the screen", i)
	}
}

// TestEndedRequestShownEnded: a request on screen that the seller
// cancelled before the shopper declines or approves it stays on screen,
// shown cancelled rather than pending, once the phone learnt so: from the
// platform's refusal of the decline (final_state), which has the phone read
// the request, and from the approval's fresh read. Both fail with ErrFinal,
// the card signs nothing, and the next WaitPayment moves past the request.
func TestEndedRequestShownEnded(t *testing.T) {
	ctx := context.Background()
	for _, decline := range []bool{true, false} {
		t.Run(fmt.Sprintf("decline %v", decline), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			w.pair(t)
			_, screen := w.request(t)
			_, err := w.seller.Cancel(ctx)
			require.NoError(t, err)
			if decline {
				_, err = w.shopper.DeclineShown(ctx, screen)
			} else {
				_, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
			}
			require.ErrorIs(t, err, payflow.ErrFinal)
			on, err := w.shopper.Payment()
			require.NoError(t, err)
			assert.Equal(t, screen.ID, on.ID, "the request stays on screen")
			assert.Equal(t, payflow.StateCancelled, on.State, "shown as the phone knows it")
			assert.Empty(t, on.ConsentNonce)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))

			_, err = w.seller.Request(ctx, basket)
			require.NoError(t, err)
			next, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			assert.NotEqual(t, screen.ID, next.ID)
			assert.Equal(t, payflow.StatePending, next.State)
		})
	}
}
