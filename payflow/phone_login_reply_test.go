package payflow_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/payflow"
)

// lgReplyAPI changes the platform's reply to a login with bad while it is
// set, and records the logins and the tokens that resolutions carry.
type lgReplyAPI struct {
	payflow.API
	mu      sync.Mutex
	bad     func(l *payflow.LoginResponse)
	logins  int
	tokens  []string // the tokens of the logins answered, in order
	resolve []string // the tokens that resolutions carried, in order
}

func (a *lgReplyAPI) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	l, err := a.API.Login(ctx, req)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.logins++
	if err != nil {
		return l, err
	}
	a.tokens = append(a.tokens, l.Token)
	if a.bad != nil {
		a.bad(l)
	}
	return l, nil
}

func (a *lgReplyAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	a.mu.Lock()
	a.resolve = append(a.resolve, token)
	a.mu.Unlock()
	return a.API.Resolve(ctx, token, req)
}

// TestLoginRefusesAReplyThatIsNoLoginOfTheCard: a login reply without a
// token, with a token that is no b64token (which Client refuses to send:
// over HTTP every call that needs a token failed ErrInvalid until the
// login's expiry), of another card, or whose expiry is zero is the
// platform's contradiction (ErrMismatch), where the
// phone took it as its login; the phone keeps nothing of it, and its next
// call that needs a token logs in again and sends the token of that login.
func TestLoginRefusesAReplyThatIsNoLoginOfTheCard(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		bad  func(w *phoneWorld, l *payflow.LoginResponse)
	}{
		{"no token", func(_ *phoneWorld, l *payflow.LoginResponse) { l.Token = "" }},
		{"token of a space", func(_ *phoneWorld, l *payflow.LoginResponse) { l.Token = "to ken" }},
		{"token beyond ASCII", func(_ *phoneWorld, l *payflow.LoginResponse) { l.Token = "tök" }},
		{"another card", func(w *phoneWorld, l *payflow.LoginResponse) { l.CardID = w.sellerCard.Enrolment.ICCID }},
		{"no card", func(_ *phoneWorld, l *payflow.LoginResponse) { l.CardID = "" }},
		{"zero expiry", func(_ *phoneWorld, l *payflow.LoginResponse) { l.ExpiresAt = time.Time{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &lgReplyAPI{API: w.f.Platform}
			api.bad = func(l *payflow.LoginResponse) { tc.bad(w, l) }
			w.useShopper(t, api)

			l, err := w.shopper.Login(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			require.Nil(t, l)
			assert.Equal(t, 1, api.logins, "one proof sent: the reply is no spent proof")

			api.mu.Lock()
			api.bad = nil
			api.mu.Unlock()
			w.hear(t)
			peers, err := w.shopper.Peers(ctx)
			require.NoError(t, err)
			require.Len(t, peers, 1)
			assert.Equal(t, "Corner Shop", peers[0].Name)
			require.Equal(t, 2, api.logins, "the next call logs in again")
			assert.Equal(t, []string{api.tokens[1]}, api.resolve, "with the token of its own login")
		})
	}
	// A seller card's login names its merchant, whose ID the card signs
	// in records: one without it, or of a form that no record carries,
	// is no login of a seller card, where the phone took it and its
	// catalog read failed with ErrForbidden.
	for _, id := range []string{"", " corner-shop"} {
		t.Run(fmt.Sprintf("seller merchant %q", id), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &lgReplyAPI{API: w.f.Platform}
			api.bad = func(l *payflow.LoginResponse) { l.MerchantID = id }
			w.useSeller(t, api)

			l, err := w.seller.Login(ctx)
			require.ErrorIs(t, err, payflow.ErrMismatch)
			require.Nil(t, l)

			api.mu.Lock()
			api.bad = nil
			api.mu.Unlock()
			c, err := w.seller.Catalog(ctx)
			require.NoError(t, err)
			assert.Equal(t, phoneMerchant, c.MerchantID)
			assert.Equal(t, 2, api.logins, "the next call logs in again")
		})
	}
	// A login that has expired by the phone's clock, one ahead of the
	// platform's, is taken for the call that made it; the next call logs
	// in again, rather than failing.
	for _, d := range []time.Duration{0, -time.Hour} {
		t.Run(fmt.Sprintf("expiry now%v", d), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, false)
			api := &lgReplyAPI{API: w.f.Platform}
			api.bad = func(l *payflow.LoginResponse) { l.ExpiresAt = w.f.Clock.Now().Add(d) }
			w.useShopper(t, api)
			for i := 1; i <= 2; i++ {
				if i > 1 {
					w.f.Clock.Advance(adv.EpochSeconds * time.Second) // an EID to resolve
				}
				w.hear(t)
				peers, err := w.shopper.Peers(ctx)
				require.NoError(t, err)
				require.Len(t, peers, 1)
				assert.Equal(t, "Corner Shop", peers[0].Name)
				require.Equal(t, i, api.logins, "each call that needs a token logs in")
				assert.Equal(t, api.tokens[:i], api.resolve, "each with the token of its own login")
			}
		})
	}
	t.Run("a good login is kept", func(t *testing.T) {
		w := newMemoryPhoneWorld(t, false)
		api := &lgReplyAPI{API: w.f.Platform}
		w.useShopper(t, api)
		l, err := w.shopper.Login(ctx)
		require.NoError(t, err)
		assert.Equal(t, w.shopperCard.Enrolment.ICCID, l.CardID)
		w.hear(t)
		_, err = w.shopper.Peers(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, api.logins)
		assert.Equal(t, []string{l.Token}, api.resolve)
	})
}

// lgFixedLoginAPI answers every login with reply and err.
type lgFixedLoginAPI struct {
	payflow.API
	reply *payflow.LoginResponse
	err   error
}

func (a *lgFixedLoginAPI) Login(context.Context, *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	return a.reply, a.err
}

// TestLoginWithRetryRefusesAReplyThatIsNoLogin: LoginWithRetry fails with
// ErrMismatch on a reply without a token, with a token that is no
// b64token or with a zero expiry, and with ErrInternal on neither a reply
// nor an error, sending one proof, where it returned the reply (or nil
// with a nil error) as a login.
func TestLoginWithRetryRefusesAReplyThatIsNoLogin(t *testing.T) {
	ctx := context.Background()
	at := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name  string
		reply *payflow.LoginResponse
		want  error
	}{
		{"no token", &payflow.LoginResponse{CardID: "8944100000000000009", ExpiresAt: at}, payflow.ErrMismatch},
		{"token of a space", &payflow.LoginResponse{Token: "to ken", CardID: "8944100000000000009", ExpiresAt: at}, payflow.ErrMismatch},
		{"token of a line break", &payflow.LoginResponse{Token: "tok\n", CardID: "8944100000000000009", ExpiresAt: at}, payflow.ErrMismatch},
		{"token of = inside", &payflow.LoginResponse{Token: "t=k", CardID: "8944100000000000009", ExpiresAt: at}, payflow.ErrMismatch},
		{"no card", &payflow.LoginResponse{Token: "tok", ExpiresAt: at}, payflow.ErrMismatch},
		{"zero expiry", &payflow.LoginResponse{Token: "tok", CardID: "8944100000000000009"}, payflow.ErrMismatch},
		{"no reply", nil, payflow.ErrInternal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proofs := 0
			l, err := payflow.LoginWithRetry(ctx, &lgFixedLoginAPI{reply: tc.reply}, 3, func() ([]byte, error) { proofs++; return []byte{0xa0}, nil })
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, l)
			assert.Equal(t, 1, proofs)
		})
	}
	good := &payflow.LoginResponse{Token: "tok", CardID: "8944100000000000009", ExpiresAt: at}
	l, err := payflow.LoginWithRetry(ctx, &lgFixedLoginAPI{reply: good}, 3, func() ([]byte, error) { return []byte{0xa0}, nil })
	require.NoError(t, err)
	assert.Same(t, good, l)
}
