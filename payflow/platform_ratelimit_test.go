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
	st := &outage{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{Platform: payflow.PlatformOptions{CatalogBurst: 2, CatalogRate: 1, CacheTTL: -1}})
	ctx := context.Background()
	st.merchants = true
	for i := range 5 {
		_, err := s.Platform.Catalog(ctx, s.seller.Token, merchantID)
		require.ErrorIs(t, err, errLost, "read %d", i)
	}
	st.merchants = false
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
	require.ErrorIs(t, err, payflow.ErrRateLimited)
	rl, ok := errors.AsType[*payflow.RateLimitedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, 2*time.Second, rl.RetryAfter)
	e, ok := errors.AsType[*payflow.Error](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, "rate_limited", e.Code)
	assert.Equal(t, 429, e.Status)
	assert.Contains(t, e.Message, "too many catalog reads")
}
