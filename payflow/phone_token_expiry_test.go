package payflow_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// expiredTokenCounter counts the logins and the resolutions that reach the
// platform, and the resolutions it refuses for their token
// (ErrUnauthorized).
type expiredTokenCounter struct {
	payflow.API
	logins, resolves, refused atomic.Int32
}

func (a *expiredTokenCounter) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	a.logins.Add(1)
	return a.API.Login(ctx, req)
}

func (a *expiredTokenCounter) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	a.resolves.Add(1)
	r, err := a.API.Resolve(ctx, token, req)
	if errors.Is(err, payflow.ErrUnauthorized) {
		a.refused.Add(1)
	}
	return r, err
}

// TestPhoneSendsNoTokenAtItsExpiry: at the very moment a login expires
// by the phone's clock, which the platform shares here, the phone logs in
// again before it calls: it sends no call with the expired token, which
// the platform would refuse.
func TestPhoneSendsNoTokenAtItsExpiry(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	api := &expiredTokenCounter{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	w.hear(t)
	start := f.Clock.Now()
	peers, err := w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	require.Equal(t, int32(1), api.logins.Load())
	require.Equal(t, int32(1), api.resolves.Load())

	// The login's expiry, exactly: the platform no longer takes the token.
	f.Clock.Advance(payflow.DefaultTokenTTL)
	require.True(t, f.Clock.Now().Equal(start.Add(payflow.DefaultTokenTTL)))
	w.hear(t)
	peers, err = w.shopper.Peers(ctx)
	require.NoError(t, err)
	require.Len(t, peers, 1)
	assert.Equal(t, "Corner Shop", peers[0].Name)
	assert.Equal(t, int32(2), api.logins.Load(), "the shopper logged in again")
	assert.Equal(t, int32(2), api.resolves.Load(), "one resolution per Peers")
	assert.Equal(t, int32(0), api.refused.Load(), "no resolution sent with the expired token")
}
