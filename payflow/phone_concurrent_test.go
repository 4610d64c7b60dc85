package payflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// concurrentRounds is how many times each test below makes its two calls
// at once, each time in a new world.
const concurrentRounds = 5

// atOnce runs f and g in two goroutines released together, and waits for
// both.
func atOnce(f, g func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, fn := range []func(){f, g} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn()
		}()
	}
	close(start)
	wg.Wait()
}

// twiceAtOnce makes the call f twice at once (atOnce) and returns what
// each returned.
func twiceAtOnce(f func() (*payflow.Receipt, error)) (rcs [2]*payflow.Receipt, errs [2]error) {
	atOnce(func() { rcs[0], errs[0] = f() }, func() { rcs[1], errs[1] = f() })
	return rcs, errs
}

// requestedWorld returns a world on the memory stores whose phones are
// paired, with basket on the shopper's payment screen.
func requestedWorld(t *testing.T) *phoneWorld {
	t.Helper()
	w := newMemoryPhoneWorld(t, false)
	w.pair(t)
	w.request(t)
	return w
}

// TestShopperApproveTwiceAtOnce: of two approvals of the request on screen
// made at once (a PIN entered twice), one returns the receipt and the
// other, which waits for it, finds the request paid (ErrFinal) or off the
// screen (ErrNoPayment): the shopper pays once, and the screen is empty.
func TestShopperApproveTwiceAtOnce(t *testing.T) {
	for range concurrentRounds {
		w, ctx := requestedWorld(t), context.Background()
		rcs, errs := twiceAtOnce(func() (*payflow.Receipt, error) { return w.shopper.Approve(ctx, simcardtest.PIN) })
		if errs[0] != nil {
			rcs[0], rcs[1], errs[0], errs[1] = rcs[1], rcs[0], errs[1], errs[0]
		}
		require.NoError(t, errs[0])
		assert.Equal(t, uint64(690), rcs[0].Amount)
		assert.Nil(t, rcs[1])
		if !errors.Is(errs[1], payflow.ErrFinal) && !errors.Is(errs[1], payflow.ErrNoPayment) {
			t.Fatalf("the other approval: %v", errs[1])
		}
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		assert.Equal(t, payflow.Balance{Posted: 690}, w.balance(t, phoneMerchant))
		_, err := w.shopper.Payment()
		assert.ErrorIs(t, err, payflow.ErrNoPayment)
	}
}

// TestShopperApproveRacesDecline: of an approval and a decline of the
// request on screen made at once, one takes effect and the other fails:
// the balances and the screen (empty) agree with the one that did.
func TestShopperApproveRacesDecline(t *testing.T) {
	for range concurrentRounds {
		w, ctx := requestedWorld(t), context.Background()
		var rc *payflow.Receipt
		var declined *payflow.PaymentView
		var aerr, derr error
		atOnce(func() { rc, aerr = w.shopper.Approve(ctx, simcardtest.PIN) },
			func() { declined, derr = w.shopper.Decline(ctx) })
		switch {
		case aerr == nil:
			require.Error(t, derr)
			assert.Equal(t, uint64(690), rc.Amount)
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		case derr == nil:
			assert.Equal(t, payflow.StateDeclined, declined.State)
			if !errors.Is(aerr, payflow.ErrFinal) && !errors.Is(aerr, payflow.ErrNoPayment) {
				t.Fatalf("the approval of a request declined: %v", aerr)
			}
			assert.Equal(t, payflow.Balance{Posted: phoneFunds}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		default:
			t.Fatalf("neither took effect: approval %v, decline %v", aerr, derr)
		}
		_, err := w.shopper.Payment()
		assert.ErrorIs(t, err, payflow.ErrNoPayment)
	}
}

// TestSellerRefundTwiceAtOnce: two refunds of the payment on screen made
// at once run one after the other, each under its own refund ID: both
// are made, and the merchant pays back both.
func TestSellerRefundTwiceAtOnce(t *testing.T) {
	for range concurrentRounds {
		w := newMemoryPhoneWorld(t, false)
		w.pair(t)
		w.purchase(t)
		ctx := context.Background()
		rcs, errs := twiceAtOnce(func() (*payflow.Receipt, error) { return w.seller.Refund(ctx, 240) })
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		assert.NotEqual(t, rcs[0].RefundID, rcs[1].RefundID)
		assert.Equal(t, payflow.Balance{Posted: 690 - 2*240}, w.balance(t, phoneMerchant))
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690 + 2*240}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	}
}

// TestSellerCaptureTwiceAtOnce: two captures of the held request on
// screen made at once capture it once; each returns the receipt of that
// capture, or the other fails with the platform's ErrConflict while it
// is made.
func TestSellerCaptureTwiceAtOnce(t *testing.T) {
	for range concurrentRounds {
		w := newMemoryPhoneWorld(t, true)
		w.pairAndHold(t)
		ctx := context.Background()
		rcs, errs := twiceAtOnce(func() (*payflow.Receipt, error) { return w.seller.Capture(ctx, 0) })
		made := 0
		for i, err := range errs {
			if err == nil {
				made++
				assert.Equal(t, uint64(690), rcs[i].Amount)
			} else if !errors.Is(err, payflow.ErrConflict) {
				t.Fatalf("capture: %v", err)
			}
		}
		require.Positive(t, made)
		assert.Equal(t, payflow.Balance{Posted: 690}, w.balance(t, phoneMerchant))
		assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
	}
}

// TestSellerRequestRacesCancel: a Request and a Cancel made at once leave
// no request of the session pending but the one on screen, which the
// shopper can pay: none that the seller no longer sees.
func TestSellerRequestRacesCancel(t *testing.T) {
	for range concurrentRounds {
		w := newMemoryPhoneWorld(t, false)
		c := w.pair(t)
		ctx := context.Background()
		_, err := w.seller.Request(ctx, basket)
		require.NoError(t, err)
		var rerr, cerr error
		atOnce(func() { _, rerr = w.seller.Request(ctx, basket) },
			func() { _, cerr = w.seller.Cancel(ctx) })
		require.NoError(t, rerr)
		if cerr != nil {
			require.ErrorIs(t, cerr, payflow.ErrNoPayment)
		}
		screen := payflow.Screen(w.seller)
		login, err := w.seller.Login(ctx)
		require.NoError(t, err)
		for n := range uint32(3) {
			id := payflow.SessionRequestID(c.SessionID, n)
			v, err := w.f.Platform.Payment(ctx, login.Token, id)
			if errors.Is(err, payflow.ErrNotFound) {
				continue
			}
			require.NoError(t, err)
			if v.State == payflow.StatePending {
				require.NotNil(t, screen, "request %d pending, none on screen", n)
				assert.Equal(t, screen.ID, id, "request %d pending, not on screen", n)
			}
		}
	}
}
