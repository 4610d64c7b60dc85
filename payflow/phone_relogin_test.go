package payflow_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// forgottenTokenAPI answers ErrUnauthorized, as the platform does for a
// token it no longer knows, to a read of a payment request made with a
// forgotten token: the one issued last when forget is called, and once
// forgetNew is set every token issued after it. It counts the logins,
// and answers them loginErr, not sent, while it is set.
type forgottenTokenAPI struct {
	payflow.API
	mu        sync.Mutex
	forgotten map[string]bool
	forgetNew bool
	last      string
	logins    int
	loginErr  error
}

func (a *forgottenTokenAPI) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	a.mu.Lock()
	fail := a.loginErr
	a.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	l, err := a.API.Login(ctx, req)
	if err == nil {
		a.mu.Lock()
		a.logins++
		a.last = l.Token
		if a.forgetNew {
			a.forgotten[l.Token] = true
		}
		a.mu.Unlock()
	}
	return l, err
}

// forget forgets the token issued last, and, with all, those to come.
func (a *forgottenTokenAPI) forget(all bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.forgotten[a.last] = true
	a.forgetNew = all
}

func (a *forgottenTokenAPI) loginCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logins
}

func (a *forgottenTokenAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	a.mu.Lock()
	forgotten := a.forgotten[token]
	a.mu.Unlock()
	if forgotten {
		return nil, fmt.Errorf("%w: token not known", payflow.ErrUnauthorized)
	}
	return a.API.Payment(ctx, token, id)
}

// TestPhoneLogsInAgainOnceForAForgottenToken: a read that the platform
// refuses ErrUnauthorized, its token forgotten though the phone's clock
// says it is unexpired, has the phone log in again, the card signing one
// auth proof, and the read is made once more with the new token; when the
// platform refuses that one too, the call fails with ErrUnauthorized
// after that one login, without another.
func TestPhoneLogsInAgainOnceForAForgottenToken(t *testing.T) {
	for _, all := range []bool{false, true} {
		t.Run(fmt.Sprintf("new tokens forgotten too: %v", all), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &forgottenTokenAPI{API: w.f.Platform, forgotten: map[string]bool{}}
			w.useShopper(t, api)
			w.pair(t)
			sv, err := w.seller.Request(context.Background(), basket)
			require.NoError(t, err)
			require.Equal(t, 1, api.loginCount())
			api.forget(all)
			counter := w.counter(t)
			v, err := w.shopper.WaitPayment(context.Background())
			assert.Equal(t, 2, api.loginCount(), "one login again")
			assert.Equal(t, counter+1, w.counter(t), "one auth proof signed")
			if all {
				require.ErrorIs(t, err, payflow.ErrUnauthorized)
				assert.Nil(t, v)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, sv.ID, v.ID)
		})
	}
}

// TestPhoneLoginAgainFails: a read refused ErrUnauthorized, its token
// forgotten, whose login again fails (the platform unavailable) fails
// with that login's error, the read not made again; once the platform
// answers, the next read logs in once and gets the request.
func TestPhoneLoginAgainFails(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &forgottenTokenAPI{API: w.f.Platform, forgotten: map[string]bool{}}
	w.useShopper(t, api)
	w.pair(t)
	sv, err := w.seller.Request(ctx, basket)
	require.NoError(t, err)
	require.Equal(t, 1, api.loginCount())
	api.forget(false)
	api.mu.Lock()
	api.loginErr = payflow.ErrUnavailable
	api.mu.Unlock()

	v, err := w.shopper.WaitPayment(ctx)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.NotErrorIs(t, err, payflow.ErrUnauthorized)
	assert.Nil(t, v)
	assert.Equal(t, 1, api.loginCount())

	api.mu.Lock()
	api.loginErr = nil
	api.mu.Unlock()
	v, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, sv.ID, v.ID)
	assert.Equal(t, 2, api.loginCount(), "one login again")
}
