package payflow_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// refusedPairAPI refuses every pairing for the card's rate, counting
// them; the first refusal runs refused, if set, as it is answered.
type refusedPairAPI struct {
	payflow.API
	mu      sync.Mutex
	pairs   int
	refused func()
}

func (a *refusedPairAPI) Pair(context.Context, *payflow.PairRequest) (*payflow.SessionView, error) {
	a.mu.Lock()
	a.pairs++
	hook := a.refused
	a.refused = nil
	a.mu.Unlock()
	if hook != nil {
		hook()
	}
	return nil, fmt.Errorf("%w: too many resolutions", payflow.ErrRateLimited)
}

// TestSelectWhoseContextEndsAtARateRefusalSendsNoMore: a Select whose
// context ends as the platform refuses its pairing for the card's rate
// fails with the context's error instead of waiting to send the pairing
// again, also with an API (a Platform in process) that does not look at
// the context: the pairing is sent once.
func TestSelectWhoseContextEndsAtARateRefusalSendsNoMore(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, false)
	api := &refusedPairAPI{API: w.f.Platform}
	w.useShopper(t, api)
	w.hear(t)
	eid, err := w.seller.EID()
	require.NoError(t, err)
	ending, cancel := withCancelCause(ctx)
	defer cancel()
	api.refused = cancel
	c, err := w.shopper.Select(ending, eid)
	require.ErrorIs(t, err, errCallerGone)
	assert.Nil(t, c)
	api.mu.Lock()
	defer api.mu.Unlock()
	assert.Equal(t, 1, api.pairs)
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
