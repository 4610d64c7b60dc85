package payflow_test

import (
	"context"
	"errors"
	"slices"
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
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// signAltered has the seller's card of w sign the request that v carries,
// altered by alter, and returns it with its hash.
func (w *phoneWorld) signAltered(tb testing.TB, v *payflow.PaymentView, alter func(*record.PaymentRequest)) (msg, hash []byte) {
	tb.Helper()
	return resignRequest(tb, v, func(r *record.PaymentRequest) {
		r.CardHeader = record.CardHeader{} // the card writes its own
		alter(r)
	}, w.sellerCard.Card.SignPaymentRequest)
}

// TestWaitPaymentRefusesRequestSignedForAnotherPayment: a view of the
// session's next request that carries a request that the seller's card
// signed, and shows it as signed, but signed for another payer, session,
// merchant or request ID than the session's and that index's, goes on no
// screen: WaitPayment fails with ErrMismatch, and nothing is on screen.
func TestWaitPaymentRefusesRequestSignedForAnotherPayment(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		alter func(w *phoneWorld, r *record.PaymentRequest)
		shown func(r *record.PaymentRequest, v *payflow.PaymentView)
	}{
		{"payer", func(w *phoneWorld, r *record.PaymentRequest) {
			r.PayerCardID = enrolPhoneCard(t, w.f, "Bob").Enrolment.ICCID
		}, func(r *record.PaymentRequest, v *payflow.PaymentView) { v.PayerCardID = r.PayerCardID }},
		{"payer, shown as this card", func(w *phoneWorld, r *record.PaymentRequest) {
			r.PayerCardID = enrolPhoneCard(t, w.f, "Bob").Enrolment.ICCID
		}, func(*record.PaymentRequest, *payflow.PaymentView) {}},
		{"currency, shown as the session's", func(_ *phoneWorld, r *record.PaymentRequest) { r.Currency = "USD" }, func(*record.PaymentRequest, *payflow.PaymentView) {}},
		{"merchant, shown as the session's", func(_ *phoneWorld, r *record.PaymentRequest) { r.MerchantID = "other-shop" }, func(*record.PaymentRequest, *payflow.PaymentView) {}},
		{"session", func(_ *phoneWorld, r *record.PaymentRequest) { r.SessionID[0] ^= 1 }, func(r *record.PaymentRequest, v *payflow.PaymentView) {
			copy(v.SessionID[:], r.SessionID)
		}},
		{"merchant", func(_ *phoneWorld, r *record.PaymentRequest) { r.MerchantID = "other-shop" }, func(r *record.PaymentRequest, v *payflow.PaymentView) {
			v.MerchantID = r.MerchantID
		}},
		{"request ID", func(_ *phoneWorld, r *record.PaymentRequest) {
			next := payflow.SessionRequestID(payflow.ID(r.SessionID), 1)
			r.RequestID = next[:]
		}, func(*record.PaymentRequest, *payflow.PaymentView) {}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, api := newTamperWorld(t)
			w.pair(t)
			sv, err := w.seller.Request(ctx, basket)
			require.NoError(t, err)
			var r record.PaymentRequest
			msg, h := w.signAltered(t, sv, func(signed *record.PaymentRequest) {
				tt.alter(w, signed)
				r = *signed
			})
			api.payment = func(v *payflow.PaymentView) {
				if v.ID == sv.ID {
					v.Request, v.RequestHash = msg, h
					tt.shown(&r, v)
				}
			}

			screen, err := w.shopper.WaitPayment(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			assert.Nil(t, screen)
			_, err = w.shopper.Payment()
			require.ErrorIs(t, err, payflow.ErrNoPayment, "nothing on screen")
		})
	}
}

// TestWaitPaymentOfRequestReadAcrossSelect: a WaitPayment that reads its
// session's request pending while another session is selected fails with
// ErrNotPaired and puts nothing on screen, and the new session's first
// request is the next shown.
func TestWaitPaymentOfRequestReadAcrossSelect(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	hook := &hookAPI{API: w.f.Platform}
	w.useShopper(t, hook)
	first := w.pair(t)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	waited, release := w.holdWaitPayment(t, hook, sv.ID, true) // read pending

	toNextEpoch(t, w.f, 0)
	second := w.pair(t)
	require.NotEqual(t, first.SessionID, second.SessionID)
	release()
	got := within(t, waited, "WaitPayment")
	require.ErrorIs(t, got.err, payflow.ErrNotPaired)
	assert.Nil(t, got.v)
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "the first session's request is not on screen")

	next, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	w.requireFirstRequest(t, second, next)
}

// TestWaitPaymentsPastAnEndedRequestMoveOnOnce: of two WaitPayments that
// read the session's next request ended, the one that moves on second,
// the other having moved past it and shown the request after it, does
// not move the session further: it shows that request too.
func TestWaitPaymentsPastAnEndedRequestMoveOnOnce(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	hook := &hookAPI{API: w.f.Platform}
	w.useShopper(t, hook)
	w.pair(t)
	ended, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR"})
	require.NoError(t, err)
	_, err = w.seller.Cancel(ctx)
	require.NoError(t, err)
	waited, release := w.holdWaitPayment(t, hook, ended.ID, true) // read cancelled

	next, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, next.ID, screen.ID)
	release()
	got := within(t, waited, "WaitPayment")
	require.NoError(t, got.err)
	assert.Equal(t, next.ID, got.v.ID, "the request after the ended one")
	rc, err := w.shopper.ApproveShown(ctx, got.v, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
}

// TestDeclineAnsweredCapturedLeavesScreen: a decline answered with a view
// of the request captured fails with ErrFinal, and the screen keeps the
// request as it showed it, pending: a captured view goes on screen only
// as a receipt to collect (WaitPayment).
func TestDeclineAnsweredCapturedLeavesScreen(t *testing.T) {
	ctx := context.Background()
	w, api := newTamperWorld(t)
	w.pair(t)
	_, screen := w.request(t)
	api.decline = func(v *payflow.PaymentView) { v.State, v.Captured = payflow.StateCaptured, v.Amount }
	v, err := w.shopper.DeclineShown(ctx, screen)
	require.ErrorIs(t, err, payflow.ErrFinal)
	require.NotNil(t, v)
	assert.Equal(t, payflow.StateCaptured, v.State)
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	assert.Equal(t, screen, on, "the screen keeps the request as it showed it")
}

// TestApproveShownActsOnTheViewOnScreen: ApproveShown approves the
// request on screen as the phone checked it, whatever the app wrote into
// its view since, but for the ID and request hash that name the request:
// the shopper pays the request's amount. A view with another ID, the
// request hash the same, is another request than the one on screen: it
// fails with ErrMismatch, the card signing nothing.
func TestApproveShownActsOnTheViewOnScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	_, screen := w.request(t)
	shown := *screen
	shown.ID[0] ^= 1
	counter := w.counter(t)
	_, err := w.shopper.ApproveShown(ctx, &shown, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")

	hash := slices.Clone(screen.RequestHash)
	scribble(screen)
	screen.RequestHash, screen.State, screen.ConsentNonce = hash, payflow.StateCaptured, nil
	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestWaitPaymentFailsWithReadErrorOnceContextEnded: a read of a kept
// consent's request that gets no answer while WaitPayment's context ends
// fails WaitPayment with that read's error, the request shown nothing.
func TestWaitPaymentFailsWithReadErrorOnceContextEnded(t *testing.T) {
	w := newMemoryPhoneWorld(t, true)
	unreadable := &faultAPI{API: w.f.Platform}
	hook := &hookAPI{API: unreadable}
	first, next := w.holdAndAskNext(t, hook)
	failReads(unreadable, first, payflow.ErrUnavailable)
	ctx, cancel := withCancelCause(context.Background())
	defer cancel()
	hook.mu.Lock()
	hook.paymentID, hook.payment = first, cancel
	hook.mu.Unlock()
	screen, err := w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.NotErrorIs(t, err, errCallerGone)
	assert.Nil(t, screen)
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	assert.Equal(t, next.ID, on.ID, "the screen as it was")
}

// TestApproveSignsAgainOnceRefusedKeptConsentIsDropped: with
// MaxKeptConsents consents kept, one of them of the request on screen,
// whose reply was lost before it reached the platform, the approval of
// that request, which the platform refuses the kept consent of (the card
// signed since), drops it: the card then signs a new consent, one fewer
// than the limit being kept, and the shopper pays.
func TestApproveSignsAgainOnceRefusedKeptConsentIsDropped(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &scriptedApproveAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.pair(t)
	ask := func() *payflow.PaymentView {
		_, err := w.seller.Request(ctx, payflow.Charge{Amount: 10, Currency: "EUR"})
		require.NoError(t, err)
		screen, err := w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		return screen
	}
	for range payflow.MaxKeptConsents - 1 {
		ask()
		w.approveHeld(t)
	}
	api.mu.Lock()
	api.approve = append(api.approve, func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		return nil, payflow.ErrUnavailable
	})
	api.mu.Unlock()
	screen := ask()
	_, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	_, err = w.shopper.Login(ctx) // the kept consent's counter is spent
	require.NoError(t, err)

	got := make(chan error, 1)
	wctx, failed := withCancelCause(ctx)
	defer failed()
	go func() {
		_, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
		if err != nil {
			failed() // the seller waits no more
		}
		got <- err
	}()
	held, _, err := w.seller.Wait(wctx)
	if err != nil {
		require.NoError(t, within(t, got, "ApproveShown"))
	}
	require.NoError(t, err)
	require.Equal(t, payflow.StateHeld, held.State)
	require.Equal(t, screen.ID, held.ID)
	_, err = w.seller.Capture(ctx, screen.Amount)
	require.NoError(t, err)
	require.NoError(t, within(t, got, "ApproveShown"))
	api.mu.Lock()
	defer api.mu.Unlock()
	require.Len(t, api.sent, payflow.MaxKeptConsents+2)
	assert.NotEqual(t, api.sent[payflow.MaxKeptConsents-1], api.sent[payflow.MaxKeptConsents+1], "a new consent signed")
}

// TestReceiptToCollectIsTheAppsOwn: the captured view of a receipt to
// collect that WaitPayment returns is the app's own: writing into it
// leaves the request on screen as the phone checked it, and its approval
// returns the receipt.
func TestReceiptToCollectIsTheAppsOwn(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	first, rc, screen := w.receiptToCollect(t, loseFirstApprove(w.f.Platform, payflow.ErrUnavailable))
	scribble(screen)
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	requireSameRequest(t, first, on)
	assert.Equal(t, first.Receipt, on.Receipt)
	got, err := w.shopper.ApproveShown(ctx, on, "")
	require.NoError(t, err)
	assert.Equal(t, rc.Signed, got.Signed)
}

// TestEndedViewLeavesAnotherRequestUnderItsIDOnScreen: a decline
// answered with the request on screen cancelled, while a WaitPayment put
// another request under its ID on screen (a seller card may sign more
// than one request under one ID), fails with ErrFinal and leaves that
// other request on screen, pending: an ended view replaces on screen the
// view of its own request alone.
func TestEndedViewLeavesAnotherRequestUnderItsIDOnScreen(t *testing.T) {
	ctx := context.Background()
	w, reads := newTamperWorld(t)
	w.pair(t)
	_, first := w.request(t)
	other, h := w.signUnderID(t, first)
	reads.decline = func(v *payflow.PaymentView) {
		reads.payment = func(r *payflow.PaymentView) {
			r.Request, r.RequestHash, r.Amount, r.Lines, r.Legs = other, h, 100, nil, nil
			r.State, r.ConsentNonce = payflow.StatePending, []byte{1}
		}
		refreshed, err := w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		require.Equal(t, h, refreshed.RequestHash)
		reads.payment = nil
		v.State = payflow.StateCancelled
	}
	v, err := w.shopper.DeclineShown(ctx, first)
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.Equal(t, payflow.StateCancelled, v.State)
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	assert.Equal(t, h, on.RequestHash, "the other request stays on screen")
	assert.Equal(t, payflow.StatePending, on.State)
}

// TestDeclineAnsweredCancelledShownCancelled: a decline answered with the
// request cancelled fails with ErrFinal and returns that view, which is
// the app's own: the screen shows the request cancelled, as the phone
// checked it, whatever the app writes into the view returned.
func TestDeclineAnsweredCancelledShownCancelled(t *testing.T) {
	ctx := context.Background()
	w, api := newTamperWorld(t)
	w.pair(t)
	_, screen := w.request(t)
	api.decline = func(v *payflow.PaymentView) { v.State = payflow.StateCancelled }
	v, err := w.shopper.DeclineShown(ctx, screen)
	require.ErrorIs(t, err, payflow.ErrFinal)
	require.NotNil(t, v)
	scribble(v)
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, on.State, "shown as the phone knows it")
	requireSameRequest(t, screen, on)
}

// TestDeclineShownActsOnTheViewOnScreen: DeclineShown declines the
// request on screen as the phone checked it, whatever the app wrote into
// its view since, but for the ID and request hash that name the request:
// the request is declined and leaves the screen.
func TestDeclineShownActsOnTheViewOnScreen(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	sv, screen := w.request(t)
	hash := slices.Clone(screen.RequestHash)
	scribble(screen)
	screen.RequestHash = hash
	v, err := w.shopper.DeclineShown(ctx, screen)
	require.NoError(t, err)
	assert.Equal(t, payflow.StateDeclined, v.State)
	requireSameRequest(t, sv, v)
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment)
}

// TestApproveKeepsRefusedConsentWhenTheReadAfterFails: a consent that the
// platform refuses, whose request the phone then cannot read (no answer),
// may have been settled by an earlier send of it: the approval fails with
// that read's error and keeps the consent, which the next approval sends
// again, as signed, and gets the receipt of.
func TestApproveKeepsRefusedConsentWhenTheReadAfterFails(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	unreadable := &faultAPI{API: w.f.Platform}
	api := &scriptedApproveAPI{API: unreadable}
	screen := w.requestThrough(t, api)
	api.approve = append(api.approve, func(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		failReads(unreadable, screen.ID, payflow.ErrUnavailable)
		return nil, payflow.ErrReplay
	})
	_, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.NotErrorIs(t, err, payflow.ErrReplay)

	failReads(unreadable, screen.ID, nil)
	rc, err := w.shopper.ApproveShown(ctx, screen, "")
	require.NoError(t, err, "the kept consent sent again, the card unused")
	assert.Equal(t, uint64(690), rc.Amount)
	require.Len(t, api.sent, 2)
	assert.Equal(t, api.sent[0], api.sent[1])
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestRefusedConsentPaidWithAnotherIsReadNoMore: a consent that the
// platform refused, its request paid by another consent of the card, is
// not kept once the phone finds the receipt of that other consent: the
// approval that finds it (ErrFinal) or, once the approval's wait for a
// manual capture ended, the WaitPayment that finds it drops it, and the
// WaitPayment after it reads the session's next request alone. The
// shopper is charged once, by the other consent.
func TestRefusedConsentPaidWithAnotherIsReadNoMore(t *testing.T) {
	ctx := context.Background()
	t.Run("dropped by the approval", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		api, err := w.approvePaidWithAnotherConsent(t, ctx, func() error { return nil })
		require.ErrorIs(t, err, payflow.ErrFinal)
		_, _, err = w.seller.Wait(ctx) // the till shows the request paid
		require.NoError(t, err)
		next, err := w.seller.Request(ctx, basket)
		require.NoError(t, err)
		w.requireReadAlone(t, api, next.ID)
	})
	t.Run("dropped by WaitPayment", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, true)
		actx, cancel := withCancelCause(ctx)
		defer cancel()
		api, err := w.approvePaidWithAnotherConsent(t, actx, func() error {
			cancel() // the approval's wait for the capture ends, the consent kept
			return nil
		})
		require.ErrorIs(t, err, errCallerGone)
		_, err = w.seller.Capture(ctx, 690)
		require.NoError(t, err)
		next, _ := w.request(t)
		w.requireReadAlone(t, api, next.ID)
	})
}

// requireReadAlone checks that the shopper's WaitPayment reads the
// request id alone, the session's next, and shows it: the phone keeps no
// consent to read the request of first. It checks too that api sent
// one consent, and that the shopper was charged once.
func (w *phoneWorld) requireReadAlone(t *testing.T, api *scriptedApproveAPI, id payflow.ID) {
	t.Helper()
	api.mu.Lock()
	api.reads = 0
	api.mu.Unlock()
	screen, err := w.shopper.WaitPayment(context.Background())
	require.NoError(t, err)
	assert.Equal(t, id, screen.ID)
	api.mu.Lock()
	defer api.mu.Unlock()
	assert.Equal(t, 1, api.reads, "the session's next request alone: no consent is kept")
	assert.Len(t, api.sent, 1, "the refused consent, not sent again")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once, by the other consent")
}

// TestDeclineOfExpiredRequestShowsItExpired: a decline of a request on
// screen that expired meanwhile, which the platform refuses with
// ErrExpired, has the phone read the request: the decline fails with
// ErrExpired, and the screen shows the request expired, as the platform
// holds it, until the next WaitPayment moves past it. No money moves.
func TestDeclineOfExpiredRequestShowsItExpired(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	_, screen := w.request(t)
	w.f.Clock.Advance(payflow.DefaultRequestTTL)

	v, err := w.shopper.DeclineShown(ctx, screen)
	require.ErrorIs(t, err, payflow.ErrExpired)
	assert.Nil(t, v)
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	requireSameRequest(t, screen, on)
	assert.Equal(t, payflow.StateExpired, on.State, "shown as the platform holds it")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))

	next, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	shown, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, next.ID, shown.ID, "past the expired request")
}

// TestApproveKeepsRefusedConsentWhoseReceiptIsRefused: a consent that the
// platform settled and then refused when it came again (as a platform of
// an earlier version refuses a retry), its request shown captured with a
// receipt of that consent that the phone refuses (of another amount than
// captured), fails the approval with ErrMismatch, not ErrFinal: the
// receipt is of the consent, which is the shopper's payment, and stays
// kept. WaitPayment then fails with ErrMismatch too; once the platform
// shows the payment as it holds it, WaitPayment shows it captured, a
// receipt to collect, and its approval returns the receipt without the
// card, the shopper charged once.
func TestApproveKeepsRefusedConsentWhoseReceiptIsRefused(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	restated := newRestatedAPI(t, w.f.Platform, w.f.Key, 690, 1)
	api := &scriptedApproveAPI{API: restated}
	api.approve = append(api.approve, func(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
		if _, err := w.f.Platform.Approve(ctx, req); err != nil {
			return nil, err
		}
		return nil, payflow.ErrReplay // the retry refused
	})
	screen := w.requestThrough(t, api)

	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.NotErrorIs(t, err, payflow.ErrFinal)
	assert.Nil(t, rc)
	counter := w.counter(t)
	on, err := w.shopper.Payment()
	require.NoError(t, err, "the request stays on screen")
	assert.Equal(t, screen, on)
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrMismatch, "the consent kept, its receipt refused")

	restated.on.Store(false)
	collect, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, screen.ID, collect.ID, "the consent kept: its paid request first")
	assert.Equal(t, payflow.StateCaptured, collect.State)
	rc, err = w.shopper.ApproveShown(ctx, collect, "")
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	h := record.Hash(api.sent[0])
	assert.Equal(t, h[:], rc.ConsentHash, "the receipt of the consent kept")
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
}

// TestApproveSendsAgainTheConsentSignedAfterARefusal: a kept consent that
// the platform refuses when it is sent again (the card signed since) is
// not kept: the consent that the card then signs in its place, whose
// reply is lost once the platform settled it, is the one that the next
// approval sends again, as signed, and whose receipt it returns, the card
// unused and the shopper charged once.
func TestApproveSendsAgainTheConsentSignedAfterARefusal(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &scriptedApproveAPI{API: w.f.Platform}
	api.approve = append(api.approve, lostUnsent, w.f.Platform.Approve,
		func(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
			if _, err := w.f.Platform.Approve(ctx, req); err != nil {
				return nil, err
			}
			return nil, payflow.ErrUnavailable // the reply lost
		})
	screen := w.approveUnsent(t, api)
	_, err := w.shopper.Login(ctx) // the kept consent's counter is spent
	require.NoError(t, err)
	_, err = w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.Len(t, api.sent, 3)
	assert.Equal(t, api.sent[0], api.sent[1], "the kept consent sent again")
	assert.NotEqual(t, api.sent[0], api.sent[2], "a new consent signed")
	counter := w.counter(t)

	rc, err := w.shopper.ApproveShown(ctx, screen, "")
	require.NoError(t, err)
	require.Len(t, api.sent, 4)
	assert.Equal(t, api.sent[2], api.sent[3], "the new consent sent again")
	h := record.Hash(api.sent[2])
	assert.Equal(t, h[:], rc.ConsentHash)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
}

// requestThrough has the shopper phone talk to api and pair with the
// seller's, and the seller ask for basket; it returns the shopper's
// screen of that request.
func (w *phoneWorld) requestThrough(t *testing.T, api payflow.API) *payflow.PaymentView {
	t.Helper()
	w.useShopper(t, api)
	w.pair(t)
	_, screen := w.request(t)
	return screen
}

// lostUnsent is an answer of a scriptedApproveAPI to a consent lost
// before it reached the platform.
func lostUnsent(context.Context, *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return nil, payflow.ErrUnavailable
}

// approveUnsent has the shopper phone, which it has talk to api, pair
// with the seller's and approve the seller's request of basket, whose
// consent api answers ErrUnavailable before it reaches the platform (its
// first answer lostUnsent): the phone keeps the consent. It returns the
// shopper's screen of that request.
func (w *phoneWorld) approveUnsent(t *testing.T, api payflow.API) *payflow.PaymentView {
	t.Helper()
	screen := w.requestThrough(t, api)
	_, err := w.shopper.ApproveShown(context.Background(), screen, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	return screen
}

// TestApproveKeepsRefusedConsentOfRequestShownEndedOtherThanSigned: a
// kept consent (lost before it reached the platform) that the platform
// refuses, its request cancelled since, whose read after the refusal shows
// the request cancelled in another session than its seller's card signed,
// fails the approval with ErrMismatch and stays kept, the screen as it
// was: that view tells nothing of the consent. With the platform's own
// view, the next approval sends it again, without the card, and fails
// with ErrFinal, the screen showing the request cancelled and the
// consent dropped. Nothing moves.
func TestApproveKeepsRefusedConsentOfRequestShownEndedOtherThanSigned(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	sent := &scriptedApproveAPI{API: w.f.Platform}
	sent.approve = append(sent.approve, lostUnsent)
	api := &endedAlteredAPI{API: sent, alter: func(v *payflow.PaymentView) { v.SessionID[0] ^= 1 }}
	screen := w.approveUnsent(t, api)
	_, err := w.seller.Cancel(ctx)
	require.NoError(t, err)
	counter := w.counter(t)

	api.on.Store(true)
	_, err = w.shopper.ApproveShown(ctx, screen, "")
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.NotErrorIs(t, err, payflow.ErrFinal)
	w.requireScreenAsWas(t, screen)

	api.on.Store(false)
	_, err = w.shopper.ApproveShown(ctx, screen, "")
	require.ErrorIs(t, err, payflow.ErrFinal)
	require.Len(t, sent.sent, 3, "the kept consent sent again")
	assert.Equal(t, sent.sent[0], sent.sent[2])
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	assert.Equal(t, payflow.StateCancelled, on.State)
	_, err = w.shopper.ApproveShown(ctx, on, "")
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.Len(t, sent.sent, 3, "no consent kept")
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID), "nothing moved")
}

// TestApproveWhoseContextEndsBeforeTheCardSignsNothing: an approval whose
// context ends while the platform answers its fresh read of the request
// (an API that does not heed ctx) fails with the context's error before
// the card verifies the PIN: the card signs nothing, nothing is sent,
// and the next approval pays the request, the shopper charged once.
func TestApproveWhoseContextEndsBeforeTheCardSignsNothing(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	hook := &hookAPI{API: w.f.Platform}
	api := &scriptedApproveAPI{API: hook}
	screen := w.requestThrough(t, api)
	counter := w.counter(t)
	left, _, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)
	ctx, cancel := withCancelCause(context.Background())
	defer cancel()
	hook.mu.Lock()
	hook.paymentID, hook.answered = screen.ID, cancel
	hook.mu.Unlock()

	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, rc)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	after, _, err := w.shopperCard.Card.PINTries()
	require.NoError(t, err)
	assert.Equal(t, left, after)
	assert.Empty(t, api.sent, "nothing sent")
	w.assertState(t, screen.ID, payflow.StatePending)

	rc, err = w.shopper.ApproveShown(context.Background(), screen, simcardtest.PIN)
	require.NoError(t, err)
	assert.Equal(t, uint64(690), rc.Amount)
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID), "charged once")
}

// TestWaitPaymentPastRequestPaidMeanwhileShowsNothing: a WaitPayment that
// read the session's next request pending before the shopper's approval
// of it was settled, and whose read of the request after it then gets no
// answer, fails with that read's error and puts nothing on screen: the
// request paid meanwhile stays off the screen.
func TestWaitPaymentPastRequestPaidMeanwhileShowsNothing(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	unreadable := &faultAPI{API: w.f.Platform}
	hook := &hookAPI{API: unreadable}
	screen := w.requestThrough(t, hook)
	failReads(unreadable, payflow.SessionRequestID(screen.SessionID, 1), payflow.ErrUnavailable)
	waited, release := w.holdWaitPayment(t, hook, screen.ID, true) // the request read pending

	rc, err := w.shopper.ApproveShown(ctx, screen, simcardtest.PIN)
	require.NoError(t, err)
	require.Equal(t, uint64(690), rc.Amount)
	release()
	got := within(t, waited, "WaitPayment")
	require.ErrorIs(t, got.err, payflow.ErrUnavailable)
	assert.Nil(t, got.v)
	_, err = w.shopper.Payment()
	require.ErrorIs(t, err, payflow.ErrNoPayment, "the request paid meanwhile is not on screen")
}

// TestWaitPaymentPastKeptConsentsReceiptOfUntrustedPlatform: a kept
// consent (its reply lost) whose request the platform shows captured with
// a receipt that carries no certificate chain, once the platform's
// certificate of Info expired, has WaitPayment fail once with ErrCard: the
// phone no longer trusts the key that would verify it. The waits after it
// pass that consent over, still kept, to the session's next request.
func TestWaitPaymentPastKeptConsentsReceiptOfUntrustedPlatform(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	renewed := renewedPlatform(t, f) // its certificate lasts an hour and the skew
	w := newPhoneWorld(t, f, renewed, false)
	f.Clock.Advance(time.Hour + pki.DefaultSkew - 5*time.Minute)
	restated := newRestatedAPI(t, renewed, f.Key, 690, 690) // signed again, without a chain
	restated.on.Store(false)
	w.payWithLostReply(t, loseFirstApprove(restated, payflow.ErrUnavailable))
	next, err := w.seller.Request(ctx, payflow.Charge{Amount: 100, Currency: "EUR", TTL: 600})
	require.NoError(t, err)

	f.Clock.Advance(6 * time.Minute) // the certificate expired; the request did not
	restated.on.Store(true)
	_, err = w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrCard)
	assert.ErrorIs(t, err, pki.ErrExpired)
	for range 2 {
		screen, err := w.shopper.WaitPayment(ctx)
		require.NoError(t, err)
		require.Equal(t, next.ID, screen.ID, "passed over, to the session's next request")
	}
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// unselectableCard is a shopper card whose PIN verifications' replies
// are lost (lostPINReplyCard) and that fails to select its applet again,
// with errCardSelect.
type unselectableCard struct{ lostPINReplyCard }

var errCardSelect = errors.New("card reader: select failed")

func (unselectableCard) Select() (byte, error) { return 0, errCardSelect }

// TestApproveReportsAVerifiedPINLeftOnTheCard: an approval whose PIN
// verification the card did verify, its reply lost, and which then
// cannot select the applet again to clear it, fails with both errors: the
// card's, and the selection's, which tells the app that the card may hold
// a verified PIN. Nothing is signed or charged.
func TestApproveReportsAVerifiedPINLeftOnTheCard(t *testing.T) {
	w := newMemoryPhoneWorld(t, false)
	shopper, err := payflow.NewShopper(unselectableCard{lostPINReplyCard{w.shopperCard.Card}}, phoneOptions(w.f, w.f.Platform))
	require.NoError(t, err)
	w.shopper = shopper
	w.pair(t)
	_, screen := w.request(t)
	counter := w.counter(t)

	rc, err := w.shopper.ApproveShown(context.Background(), screen, simcardtest.PIN)
	require.ErrorIs(t, err, errCardIO)
	require.ErrorIs(t, err, errCardSelect, "the PIN may still be verified")
	assert.Nil(t, rc)
	verified, err := w.shopperCard.Card.PINVerified()
	require.NoError(t, err)
	assert.True(t, verified, "the card holds the verified PIN")
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestWaitPaymentShowsKeptConsentPaidAfterOneDropped: of two consents
// kept while their requests are held, the first, whose hold the merchant
// voided (cancelled), is dropped by WaitPayment, which goes on to the
// second, captured since: it shows that request, a receipt to collect,
// whose approval returns the receipt of the capture without the card.
// The shopper is charged the second request alone.
func TestWaitPaymentShowsKeptConsentPaidAfterOneDropped(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	api := &scriptedApproveAPI{API: w.f.Platform}
	first, next := w.holdAndAskNext(t, api)
	require.Equal(t, next.ID, w.approveHeld(t))
	l, err := w.seller.Login(ctx)
	require.NoError(t, err)
	v, err := w.f.Platform.Cancel(ctx, l.Token, first)
	require.NoError(t, err)
	require.Equal(t, payflow.StateCancelled, v.State)
	cv := w.captureElsewhere(t, next.ID)
	counter := w.counter(t)

	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	require.Equal(t, next.ID, screen.ID, "the second kept consent's paid request")
	assert.Equal(t, payflow.StateCaptured, screen.State)
	rc, err := w.shopper.ApproveShown(ctx, screen, "")
	require.NoError(t, err)
	assert.Equal(t, cv.Receipt, rc.Signed)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds - 100}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// TestApproveOfRequestShownEndedReadsNothing: the approval of a request
// that the screen shows ended (cancelled, as the phone learnt from a
// refused decline) fails with ErrFinal at once: it reads nothing (a read
// that would get no answer does not change its outcome), and the card
// signs nothing.
func TestApproveOfRequestShownEndedReadsNothing(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	unreadable := &faultAPI{API: w.f.Platform}
	screen := w.requestThrough(t, unreadable)
	_, err := w.seller.Cancel(ctx)
	require.NoError(t, err)
	_, err = w.shopper.DeclineShown(ctx, screen)
	require.ErrorIs(t, err, payflow.ErrFinal)
	on, err := w.shopper.Payment()
	require.NoError(t, err)
	require.Equal(t, payflow.StateCancelled, on.State)
	failReads(unreadable, screen.ID, payflow.ErrUnavailable)
	counter := w.counter(t)

	rc, err := w.shopper.ApproveShown(ctx, on, simcardtest.PIN)
	require.ErrorIs(t, err, payflow.ErrFinal)
	assert.ErrorContains(t, err, "payment cancelled")
	assert.Nil(t, rc)
	assert.Equal(t, counter, w.counter(t), "the card signed nothing")
	assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
}

// countedReadAPI counts the reads of payment requests and of sessions,
// and runs second, if set, after the platform answered the second read of
// either.
type countedReadAPI struct {
	payflow.API
	reads  atomic.Int32
	second func()
}

// read counts a read and runs second after the second.
func (a *countedReadAPI) read() {
	if a.reads.Add(1) == 2 && a.second != nil {
		a.second()
	}
}

func (a *countedReadAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	defer a.read()
	return a.API.Payment(ctx, token, id)
}

func (a *countedReadAPI) Session(ctx context.Context, token string, id payflow.ID) (*payflow.SessionView, error) {
	defer a.read()
	return a.API.Session(ctx, token, id)
}

// countingShopper returns a world whose shopper talks to the platform
// through a countedReadAPI, which it returns too.
func countingShopper(t *testing.T) (*phoneWorld, *countedReadAPI) {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	api := &countedReadAPI{API: w.f.Platform}
	w.useShopper(t, api)
	return w, api
}

// arm counts the reads from now on and returns a context that a's second
// read from now ends with errCallerGone. The phones must be idle.
func (a *countedReadAPI) arm(t *testing.T) context.Context {
	ctx, cancel := withCancelCause(context.Background())
	t.Cleanup(cancel)
	a.reads.Store(0)
	a.second = cancel
	return ctx
}

// lapsedShopper returns a world whose shopper talks to the platform
// through a countedReadAPI, which it returns too, in a session that open
// opens and returns the confirmation of, with the clock moved to the
// session's expiry and the reads counted from there; and a context that
// the API ends, with errCallerGone, after a second read.
func lapsedShopper(t *testing.T, open func(w *phoneWorld) *payflow.Confirmation) (*phoneWorld, *countedReadAPI, context.Context) {
	t.Helper()
	w, api := countingShopper(t)
	c := open(w)
	advanceTo(t, w.f, c.ExpiresAt)
	return w, api, api.arm(t)
}

// TestWaitPaymentInALapsedSessionEndsAtOnce: a WaitPayment in a session
// that has lapsed by the phone's clock, whose next request the platform
// does not know, fails with ErrExpired after that one read: it does not
// poll on.
func TestWaitPaymentInALapsedSessionEndsAtOnce(t *testing.T) {
	w, api, ctx := lapsedShopper(t, func(w *phoneWorld) *payflow.Confirmation { return w.pair(t) })
	v, err := w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrExpired)
	assert.Nil(t, v)
	assert.Equal(t, int32(1), api.reads.Load(), "one read of the session's next request")
}

// TestWaitPaymentInAWaitingSessionEndsAtOnce: a WaitPayment in the
// session selected, which the other phone has not confirmed, fails with
// ErrNotPaired at once, reading nothing: there is no request to wait for.
func TestWaitPaymentInAWaitingSessionEndsAtOnce(t *testing.T) {
	w, api := countingShopper(t)
	w.shopperSelects(t)
	v, err := w.shopper.WaitPayment(api.arm(t))
	require.ErrorIs(t, err, payflow.ErrNotPaired)
	assert.Nil(t, v)
	assert.Zero(t, api.reads.Load(), "no read")
}

// TestWaitPaymentInANewSessionReadsItsFirstRequest: once the shopper
// paid in one session and pairs again in another, its WaitPayment reads
// the new session's first request, which it finds in that one read, not
// the index that it reached in the former session.
func TestWaitPaymentInANewSessionReadsItsFirstRequest(t *testing.T) {
	w, api := countingShopper(t)
	w.pair(t)
	w.purchase(t)
	toNextEpoch(t, w.f, 0)
	second := w.pair(t)
	sv, err := w.seller.Request(context.Background(), basket)
	require.NoError(t, err)
	require.Equal(t, payflow.SessionRequestID(second.SessionID, 0), sv.ID)
	v, err := w.shopper.WaitPayment(api.arm(t))
	require.NoError(t, err)
	assert.Equal(t, sv.ID, v.ID)
	assert.Equal(t, int32(1), api.reads.Load(), "one read")
}

// TestWaitPairedInALapsedSessionEndsAtOnce: a WaitPaired in a session
// that the other phone has not selected and that has lapsed by the
// phone's clock fails with ErrExpired at once, reading the session no
// more: it does not poll on.
func TestWaitPairedInALapsedSessionEndsAtOnce(t *testing.T) {
	w, api, ctx := lapsedShopper(t, func(w *phoneWorld) *payflow.Confirmation {
		_, c := w.shopperSelects(t)
		return c
	})
	got, err := w.shopper.WaitPaired(ctx)
	require.ErrorIs(t, err, payflow.ErrExpired)
	assert.Nil(t, got)
	assert.Zero(t, api.reads.Load(), "no read of the session")
}
