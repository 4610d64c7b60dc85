package payflow_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// loginCountingAPI counts the logins sent to the API it wraps.
type loginCountingAPI struct {
	payflow.API
	logins atomic.Int32
}

func (a *loginCountingAPI) Login(ctx context.Context, req *payflow.LoginRequest) (*payflow.LoginResponse, error) {
	a.logins.Add(1)
	return a.API.Login(ctx, req)
}

// TestSellerReadsAtOnceLogInOnce: two reads of a seller's request on
// screen (Status) made at once once its token expired both read the
// request: the phone logs in once for the two, and neither fails (was:
// each logged in, and the one whose auth proof, signed first, reached the
// platform second failed with ErrClone).
func TestSellerReadsAtOnceLogInOnce(t *testing.T) {
	for range concurrentRounds {
		f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{TokenTTL: time.Minute}})
		api := &loginCountingAPI{API: f.Platform}
		w := newPhoneWorld(t, f, api, false)
		w.pair(t)
		sv, _ := w.request(t)
		f.Clock.Advance(time.Minute) // the token expired, the request did not
		before := api.logins.Load()
		ctx := context.Background()
		var vs [2]*payflow.PaymentView
		var errs [2]error
		atOnce(func() { vs[0], errs[0] = w.seller.Status(ctx) },
			func() { vs[1], errs[1] = w.seller.Status(ctx) })
		for i := range vs {
			require.NoError(t, errs[i])
			assert.Equal(t, sv.ID, vs[i].ID)
			assert.Equal(t, payflow.StatePending, vs[i].State)
		}
		assert.Equal(t, int32(1), api.logins.Load()-before, "one login for the two reads")
	}
}
