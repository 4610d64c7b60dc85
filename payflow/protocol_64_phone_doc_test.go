package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestWaitPaymentPassesOverKeptConsentReadUnanswered pins PROTOCOL.md
// §6.4: a kept consent whose read gets no answer, internal or
// rate_limited (no verdict of the platform), is passed over by that wait
// alone, without an error, still kept, and the next wait reads it again:
// each WaitPayment shows the session's next request and reads the kept
// consent's request once. Once the platform shows that request captured,
// the next WaitPayment shows it first.
func TestWaitPaymentPassesOverKeptConsentReadUnanswered(t *testing.T) {
	ctx := context.Background()
	for _, unanswered := range []error{payflow.ErrInternal, payflow.ErrRateLimited} {
		t.Run(unanswered.Error(), func(t *testing.T) {
			w := newMemoryPhoneWorld(t, true)
			api := &faultAPI{API: w.f.Platform}
			first, next := w.holdAndAskNext(t, api)
			failReads(api, first, unanswered)
			readsOf := func() int {
				n := 0
				for _, id := range api.payment.send.seen() {
					if id == first {
						n++
					}
				}
				return n
			}

			before := readsOf()
			for i := range 2 {
				screen, err := w.shopper.WaitPayment(ctx)
				require.NoError(t, err, "wait %d", i)
				assert.Equal(t, next.ID, screen.ID, "wait %d: the session's next request", i)
				assert.Equal(t, before+i+1, readsOf(), "wait %d reads the kept consent's request once", i)
			}

			failReads(api, first, nil)
			w.captureElsewhere(t, first)
			screen, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err)
			assert.Equal(t, first, screen.ID, "the consent still kept: its paid request first")
			assert.Equal(t, payflow.StateCaptured, screen.State)
		})
	}
}
