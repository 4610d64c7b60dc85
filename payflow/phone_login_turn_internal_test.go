package payflow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki/record"
)

// turnCard is a card that signs every auth proof and counts them.
type turnCard struct {
	phoneCard
	mu    sync.Mutex
	signs int
}

func (c *turnCard) SignAuthProof(*record.AuthProof) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.signs++
	return []byte{0xa0}, nil
}

func (c *turnCard) signed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.signs
}

// turnAPI logs a card in with the tokens token-1, token-2 and so on,
// counting the challenges and logins; the first login tells entered that
// it came and waits for release, then fails with firstErr when set. It
// refuses the token token-0 (ErrUnauthorized) and takes any other.
type turnAPI struct {
	API
	now      time.Time
	entered  chan struct{}
	release  chan struct{}
	firstErr error

	mu         sync.Mutex
	challenges int
	logins     int
	// challengesAtFirst is how many challenges were sent when the first
	// login was answered.
	challengesAtFirst int
}

func newTurnAPI(now time.Time) *turnAPI {
	return &turnAPI{now: now, entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (a *turnAPI) Challenge(context.Context, *ChallengeRequest) (*ChallengeResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.challenges++
	return &ChallengeResponse{Nonce: make([]byte, 16), ExpiresAt: a.now.Add(time.Minute)}, nil
}

func (a *turnAPI) Login(context.Context, *LoginRequest) (*LoginResponse, error) {
	a.mu.Lock()
	a.logins++
	n := a.logins
	a.mu.Unlock()
	if n == 1 {
		a.entered <- struct{}{}
		<-a.release
		a.mu.Lock()
		a.challengesAtFirst = a.challenges
		a.mu.Unlock()
		if a.firstErr != nil {
			return nil, a.firstErr
		}
	}
	return &LoginResponse{Token: fmt.Sprintf("token-%d", n), CardID: "card-1", ExpiresAt: a.now.Add(time.Hour)}, nil
}

// counts returns how many challenges and logins a answered.
func (a *turnAPI) counts() (challenges, logins int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.challenges, a.logins
}

// turnPhone is a shopper phone of card that talks to api at api.now,
// holding the login token-0 that expires at expires; waits has a value
// for each call about to wait for its turn to log in.
func turnPhone(api *turnAPI, card *turnCard, expires time.Time, waits chan<- struct{}) *phone {
	return &phone{
		role: adv.Shopper, api: api, card: card,
		opts:       PhoneOptions{Now: func() time.Time { return api.now }},
		cardID:     "card-1",
		eid:        adv.EID{1},
		eidEpoch:   adv.Epoch(api.now),
		login:      &LoginResponse{Token: "token-0", CardID: "card-1", ExpiresAt: expires},
		names:      make(map[adv.EID]peerName),
		loginWaits: func() { waits <- struct{}{} },
	}
}

// tokenOf is a call that needs a token and returns the one it used.
func tokenOf(ctx context.Context, p *phone) (string, error) {
	return authed(ctx, p, func(token string) (string, error) {
		if token == "token-0" {
			return "", ErrUnauthorized
		}
		return token, nil
	})
}

// firstLogin starts a call of p that logs in (tokenOf) and returns once
// it waited for its turn (waits) and its login reached api, with a channel
// that gets what the call returned.
func firstLogin(p *phone, api *turnAPI, waits <-chan struct{}) <-chan loginResult {
	done := make(chan loginResult, 1)
	go func() {
		token, err := tokenOf(context.Background(), p)
		done <- loginResult{token, err}
	}()
	<-waits
	<-api.entered
	return done
}

type loginResult struct {
	token string
	err   error
}

// TestPhoneLogsInOneAtATime: of two calls that need to log in, the phone's
// token having expired or been refused (ErrUnauthorized), the second,
// arriving while the first logs in, waits for it and uses the token that
// it got: the card signs one auth proof, and one challenge and one login
// are sent (was: one each per call, whose proofs could reach the platform
// out of order, the one signed first refused ErrClone).
func TestPhoneLogsInOneAtATime(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for name, expires := range map[string]time.Time{"expired": now, "refused": now.Add(time.Hour)} {
		t.Run(name, func(t *testing.T) {
			api, card, waits := newTurnAPI(now), &turnCard{}, make(chan struct{}, 2)
			p := turnPhone(api, card, expires, waits)
			first := firstLogin(p, api, waits)
			second := make(chan loginResult, 1)
			go func() {
				token, err := tokenOf(context.Background(), p)
				second <- loginResult{token, err}
			}()
			<-waits // the second call is about to wait for its turn
			close(api.release)
			r1, r2 := <-first, <-second
			require.NoError(t, r1.err)
			require.NoError(t, r2.err)
			assert.Equal(t, "token-1", r1.token)
			assert.Equal(t, "token-1", r2.token, "the second call uses the first one's login")
			challenges, logins := api.counts()
			assert.Equal(t, 1, challenges)
			assert.Equal(t, 1, logins)
			assert.Equal(t, 1, card.signed())
		})
	}
}

// TestPhoneLoginWaitEndsWithContext: a call that waits for another's
// login and whose context ends meanwhile fails with the context's error:
// it sends nothing and the card signs nothing for it.
func TestPhoneLoginWaitEndsWithContext(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	api, card, waits := newTurnAPI(now), &turnCard{}, make(chan struct{}, 2)
	p := turnPhone(api, card, now, waits)
	first := firstLogin(p, api, waits)
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan loginResult, 1)
	go func() {
		token, err := tokenOf(ctx, p)
		second <- loginResult{token, err}
	}()
	<-waits
	cancel()
	r2 := <-second
	require.ErrorIs(t, r2.err, context.Canceled)
	assert.Empty(t, r2.token)
	challenges, logins := api.counts()
	assert.Equal(t, 1, challenges, "the waiter sent no challenge")
	assert.Equal(t, 1, logins)
	assert.Equal(t, 1, card.signed(), "the card signed no proof for the waiter")
	close(api.release)
	r1 := <-first
	require.NoError(t, r1.err)
	assert.Equal(t, "token-1", r1.token)
}

// TestPhoneLoginFailedLetsWaiterLogIn: when the login that a call waits
// for fails (ErrUnavailable), that login's call fails with its error and
// the waiting call then logs in itself, its proof signed after that
// failure, and uses its own token.
func TestPhoneLoginFailedLetsWaiterLogIn(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	api, card, waits := newTurnAPI(now), &turnCard{}, make(chan struct{}, 2)
	api.firstErr = ErrUnavailable
	p := turnPhone(api, card, now, waits)
	first := firstLogin(p, api, waits)
	second := make(chan loginResult, 1)
	go func() {
		token, err := tokenOf(context.Background(), p)
		second <- loginResult{token, err}
	}()
	<-waits
	close(api.release)
	r1, r2 := <-first, <-second
	require.ErrorIs(t, r1.err, ErrUnavailable)
	require.NoError(t, r2.err)
	assert.Equal(t, "token-2", r2.token)
	challenges, logins := api.counts()
	assert.Equal(t, 2, challenges)
	assert.Equal(t, 2, logins)
	assert.Equal(t, 2, card.signed())
	assert.Equal(t, 1, api.challengesAtFirst, "the waiter's challenge came after the first login failed")
}
