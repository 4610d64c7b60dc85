package payflow_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestWaitPaymentPassesOverKeptConsentReadUnanswered pins PROTOCOL.md
// §6.4: a kept consent whose read gets no answer, internal,
// idempotency_in_flight or rate_limited (no verdict of the platform), is passed over by that wait
// alone, without an error, still kept, and the next wait reads it again:
// each WaitPayment shows the session's next request and reads the kept
// consent's request once. Once the platform shows that request captured,
// the next WaitPayment shows it first.
func TestWaitPaymentPassesOverKeptConsentReadUnanswered(t *testing.T) {
	ctx := context.Background()
	for _, unanswered := range []error{payflow.ErrInternal, payflow.ErrInFlight, payflow.ErrRateLimited} {
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

// TestWaitPaymentPassesOverKeptConsentReadBare pins PROTOCOL.md §6.4: a
// kept consent whose read is answered by a reply without the platform's
// error body (a gateway's bare 403, no verdict of the platform) is passed
// over by that wait alone, without an error, still kept: the wait shows
// the session's next request, and once the platform shows the kept
// consent's request captured, the next wait shows it first.
func TestWaitPaymentPassesOverKeptConsentReadBare(t *testing.T) {
	ctx := context.Background()
	w := newMemoryPhoneWorld(t, true)
	mb := newMiddlebox(t, w.f.Platform)
	first, next := w.holdAndAskNext(t, mb.client(t))
	path := "/v1/requests/" + first.String()
	mb.answer(path, bareReply(http.StatusForbidden))

	screen, err := w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, next.ID, screen.ID, "the session's next request")
	assert.Zero(t, mb.left(path), "the kept consent's request read, answered bare")

	w.captureElsewhere(t, first)
	screen, err = w.shopper.WaitPayment(ctx)
	require.NoError(t, err)
	assert.Equal(t, first, screen.ID, "the consent still kept: its paid request first")
	assert.Equal(t, payflow.StateCaptured, screen.State)
}
