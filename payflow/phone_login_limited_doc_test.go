package payflow_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestPhoneLoginRateLimitedIsNotSentAgain pins PROTOCOL.md §6.1: "A
// phone's login refused `rate_limited` is not sent again: the phone
// reports it, with its retry time." A shopper phone whose login the
// platform refuses for the card's budget of logins fails Login with that
// refusal and its retry time, having sent that one login and had the card
// sign one auth proof; the next call that needs a token sends a login of
// its own, again one.
func TestPhoneLoginRateLimitedIsNotSentAgain(t *testing.T) {
	ctx := context.Background()
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{Platform: payflow.PlatformOptions{LoginBurst: 1, LoginRate: 1.0 / 7200}})
	api := &loginCountingAPI{API: f.Platform}
	w := newPhoneWorld(t, f, api, false)
	_, err := w.shopper.Login(ctx)
	require.NoError(t, err)
	f.Clock.Advance(time.Hour + time.Second) // the token expired, the budget not refilled
	w.hear(t)                                // a peer for Peers to name
	for i, call := range []func() error{
		func() error { _, err := w.shopper.Login(ctx); return err },
		func() error { _, err := w.shopper.Peers(ctx); return err },
	} {
		logins := api.logins.Load()
		before, err := w.shopperCard.Card.Counter()
		require.NoError(t, err)
		requireRateLimited(t, call(), "logins", time.Hour-time.Second)
		after, err := w.shopperCard.Card.Counter()
		require.NoError(t, err)
		assert.Equal(t, int32(1), api.logins.Load()-logins, "call %d: logins sent", i)
		assert.Equal(t, uint64(1), after-before, "call %d: auth proofs signed", i)
	}
}
