package payflow_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestSelectWhoseContextEndsAtARateRefusalSendsNoMore: a Select whose
// context ends as the platform refuses its pairing for the card's rate
// fails with the context's error instead of waiting to send the pairing
// again, also with an API (a Platform in process) that does not look at
// the context: the pairing is sent once.
func TestSelectWhoseContextEndsAtARateRefusalSendsNoMore(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	ending, cancel := withCancelCause(ctx)
	defer cancel()
	// Every pairing refused for the card's rate, the context ending as it
	// is answered.
	api := &faultAPI{API: w.f.Platform}
	api.pair.send.arm(plan[*payflow.PairRequest]{fails: -1, err: fmt.Errorf("%w: too many resolutions", payflow.ErrRateLimited), then: cancel})
	w.useShopper(t, api)
	w.hear(t)
	eid, err := w.seller.EID()
	require.NoError(t, err)
	c, err := w.shopper.Select(ending, eid)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, c)
	assert.Equal(t, 1, api.pair.send.made())
}

// TestWaitPairedWithEndedContextReadsNothing: a WaitPaired of a waiting
// session whose context ended before it fails with the context's error
// and reads nothing, also with an API (a Platform in process) that does
// not look at the context.
func TestWaitPairedWithEndedContextReadsNothing(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &hookAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.shopperSelects(t)
	read := false
	api.session = func() {
		read = true
		w.f.Clock.Advance(time.Hour) // the session lapses: a wait that reads on ends
	}
	ended, cancel := withCancelCause(ctx)
	cancel()
	c, err := w.shopper.WaitPaired(ended)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, c)
	assert.False(t, read, "the session read")
}
