package payflow_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// requireRateLimited checks that err is a refusal for the card's budget
// of what, whose next token is retryAfter away.
func requireRateLimited(t *testing.T, err error, what string, retryAfter time.Duration) {
	t.Helper()
	require.ErrorIs(t, err, payflow.ErrRateLimited)
	rl, ok := errors.AsType[*payflow.RateLimitedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, retryAfter, rl.RetryAfter)
	assert.EqualError(t, err, "payflow: rate limited: too many "+what+" (retry after "+retryAfter.String()+")")
}

// TestCatalogRateLimit: catalog reads draw on a budget of the card's own
// (CatalogBurst, refilled at CatalogRate), after the token is checked,
// and on no other: EID resolutions stay as they were, and another card
// has its own.
func TestCatalogRateLimit(t *testing.T) {
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 2, CatalogRate: 1}})
	ctx := context.Background()
	read := func(token string) error {
		_, err := s.Platform.Catalog(ctx, token, merchantID)
		return err
	}
	_, err := s.Platform.Catalog(ctx, "no such token", merchantID)
	require.ErrorIs(t, err, payflow.ErrUnauthorized)
	for i := range 2 {
		require.NoError(t, read(s.seller.Token), "read %d", i)
	}
	requireRateLimited(t, read(s.seller.Token), "catalog reads", time.Second)
	_, err = s.Platform.Resolve(ctx, s.seller.Token, &payflow.ResolveRequest{EID: s.shopper.EID()})
	require.NoError(t, err, "catalog reads draw nothing from the EID resolutions")
	require.NoError(t, read(s.shopper.Token), "another card has its own budget")

	s.Clock.Advance(500 * time.Millisecond)
	requireRateLimited(t, read(s.seller.Token), "catalog reads", 500*time.Millisecond)
	s.Clock.Advance(500 * time.Millisecond)
	require.NoError(t, read(s.seller.Token))
	require.Error(t, read(s.seller.Token))
}

// TestCatalogRateLimitGivesBack: a catalog read that fails for the
// platform (a store error) gives its token back, however often it fails;
// one answered not_found does not.
func TestCatalogRateLimitGivesBack(t *testing.T) {
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 2, CatalogRate: 1, CacheTTL: -1}})
	ctx := context.Background()
	st.merchant.failAll()
	for i := range 5 {
		_, err := s.Platform.Catalog(ctx, s.seller.Token, merchantID)
		require.ErrorIs(t, err, errLost, "read %d", i)
	}
	st.merchant.disarm()
	_, err := s.Platform.Catalog(ctx, s.seller.Token, "no-such-merchant")
	require.ErrorIs(t, err, payflow.ErrNotFound)
	_, err = s.Platform.Catalog(ctx, s.seller.Token, merchantID)
	require.NoError(t, err)
	_, err = s.Platform.Catalog(ctx, s.seller.Token, merchantID)
	require.ErrorIs(t, err, payflow.ErrRateLimited, "the not_found drew on the budget")
}

// TestCatalogRateLimitHTTP: over HTTP a catalog read past the budget is
// 429 rate_limited with its retry time, which Client returns as a
// *RateLimitedError.
func TestCatalogRateLimitHTTP(t *testing.T) {
	s := newShop(t, false, paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 1, CatalogRate: 0.5}})
	srv := httptest.NewServer(mustHandler(t, s.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL, payflow.ClientOptions{})
	ctx := context.Background()
	_, err := c.Catalog(ctx, s.seller.Token, merchantID)
	require.NoError(t, err)
	_, err = c.Catalog(ctx, s.seller.Token, merchantID)
	requireRateLimitedReply(t, err, "catalog reads", 2*time.Second)
}

// requireRateLimitedReply checks that err is Client's error for a 429
// rate_limited reply that refused a call for the card's budget of what,
// whose next token is retryAfter away.
func requireRateLimitedReply(t *testing.T, err error, what string, retryAfter time.Duration) {
	t.Helper()
	require.ErrorIs(t, err, payflow.ErrRateLimited)
	rl, ok := errors.AsType[*payflow.RateLimitedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, retryAfter, rl.RetryAfter)
	e, ok := errors.AsType[*payflow.Error](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, "rate_limited", e.Code)
	assert.Equal(t, 429, e.Status)
	assert.Contains(t, e.Message, "too many "+what)
}

// loginShop returns a shop on an outage store whose cards may log in 2
// times at once and once more every 10 s, each with its budget full.
func loginShop(t *testing.T) (*shop, *faultStore) {
	st := &faultStore{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{LoginBurst: 2, LoginRate: 0.1}})
	s.Clock.Advance(10 * time.Second) // refills what the shop's logins drew
	return s, st
}

// loginWith returns a function that sends a login proof to the platform
// of s.
func loginWith(s *shop) func(proof []byte) error {
	return func(proof []byte) error {
		_, err := s.Platform.Login(context.Background(), &payflow.LoginRequest{Proof: proof})
		return err
	}
}

// pairWith returns a function that sends a pairing proof to the platform
// of s.
func pairWith(s *shop) func(proof []byte) error {
	return func(proof []byte) error {
		_, err := s.Platform.Pair(context.Background(), &payflow.PairRequest{Proof: proof})
		return err
	}
}

// TestLoginRateLimit: logins draw on a budget of the card's own
// (LoginBurst, refilled at LoginRate), once the proof's card and
// signature are verified, and on no other. A login refused for it writes
// nothing: its nonce and counter stay unspent, so that the same proof,
// and a proof over a fresh challenge, are taken once the budget refills.
func TestLoginRateLimit(t *testing.T) {
	s, st := loginShop(t)
	ctx := context.Background()
	login := loginWith(s)
	forged := s.shopper.Proof(record.RoleShopper, nil)
	forged[len(forged)-1] ^= 1
	for i := range 5 {
		err := login(forged)
		require.Error(t, err)
		require.NotErrorIs(t, err, payflow.ErrRateLimited, "forged login %d", i)
	}
	for i := range 2 {
		require.NoError(t, login(s.shopper.Proof(record.RoleShopper, nil)), "login %d", i)
	}
	accepts := st.accept.made()
	refused := s.shopper.Proof(record.RoleShopper, nil)
	requireRateLimited(t, login(refused), "logins", 10*time.Second)
	assert.Equal(t, accepts, st.accept.made(), "a login refused for the budget writes nothing")
	_, err := s.Platform.Resolve(ctx, s.shopper.Token, &payflow.ResolveRequest{EID: s.seller.EID()})
	require.NoError(t, err, "logins draw nothing from the EID resolutions")
	require.NoError(t, login(s.seller.Proof(record.RoleSeller, nil)), "another card has its own budget")

	s.Clock.Advance(5 * time.Second)
	requireRateLimited(t, login(s.shopper.Proof(record.RoleShopper, nil)), "logins", 5*time.Second)
	s.Clock.Advance(5 * time.Second)
	require.NoError(t, login(refused), "the proof refused for the budget is unspent")
	s.Clock.Advance(10 * time.Second)
	require.NoError(t, login(s.shopper.Proof(record.RoleShopper, nil)), "a fresh challenge once the budget refilled")
}

// TestLoginRateLimitGivesBack: a login that fails for the platform (the
// store fails to keep its token) gives its draw back, however often it
// fails, and so does one whose proof a copy spent first (ErrReplay);
// one refused as a verdict on the proof (a seller role for a shopper
// card) does not.
func TestLoginRateLimitGivesBack(t *testing.T) {
	s, st := loginShop(t)
	login := loginWith(s)
	st.accept.arm(plan[*payflow.Acceptance]{when: func(a *payflow.Acceptance) bool { return a.Token != nil }, fails: -1})
	for i := range 5 {
		require.ErrorIs(t, login(s.shopper.Proof(record.RoleShopper, nil)), errLost, "login %d", i)
	}
	st.accept.disarm()
	proof := s.shopper.Proof(record.RoleShopper, nil)
	require.NoError(t, login(proof))
	require.ErrorIs(t, login(proof), payflow.ErrReplay)
	require.ErrorIs(t, login(s.shopper.Proof(record.RoleSeller, nil)), payflow.ErrForbidden)
	require.ErrorIs(t, login(s.shopper.Proof(record.RoleShopper, nil)), payflow.ErrRateLimited, "the forbidden login drew on the budget")
}

// TestLoginRateLimitGivesBackForAPassedCounter: a login whose proof's
// counter the card has passed, a later proof of it accepted first
// (ErrClone), gives its draw back, as one whose proof a copy spent first
// does: the budget of two takes the later proof and a fresh one, and is
// spent then.
func TestLoginRateLimitGivesBackForAPassedCounter(t *testing.T) {
	s, _ := loginShop(t)
	login := loginWith(s)
	earlier := s.shopper.Proof(record.RoleShopper, nil)
	require.NoError(t, login(s.shopper.Proof(record.RoleShopper, nil)))
	require.ErrorIs(t, login(earlier), payflow.ErrClone)
	require.NoError(t, login(s.shopper.Proof(record.RoleShopper, nil)), "the login refused for its counter gave its draw back")
	require.ErrorIs(t, login(s.shopper.Proof(record.RoleShopper, nil)), payflow.ErrRateLimited, "two logins drew on the budget")
}

// TestLoginRateLimitHTTP: over HTTP a login past the budget is 429
// rate_limited with its retry time, which Client returns as a
// *RateLimitedError, and a phone's login fails with it at once, sending
// no other proof.
func TestLoginRateLimitHTTP(t *testing.T) {
	s, _ := loginShop(t)
	srv := httptest.NewServer(mustHandler(t, s.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL, payflow.ClientOptions{})
	ctx := context.Background()
	proofs := 0
	proof := func() ([]byte, error) {
		proofs++
		return s.shopper.Proof(record.RoleShopper, nil), nil
	}
	for range 2 {
		_, err := payflow.LoginWithRetry(ctx, c, payflow.LoginTries, proof)
		require.NoError(t, err)
	}
	_, err := payflow.LoginWithRetry(ctx, c, payflow.LoginTries, proof)
	requireRateLimitedReply(t, err, "logins", 10*time.Second)
	assert.Equal(t, 3, proofs, "a login refused for the budget is not sent again")
}
