package payflow_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
)

// TestClientRedirectOfAGetToAnotherSchemeFailsAtOnce: a call without a
// token, Idempotency-Key or body (Info), whose hop net/http follows to
// another origin, fails at once with an error matching ErrInternal, not
// ErrUnavailable, when its Location names a scheme that net/http does not
// send (its default transport sends http and https only): the call is sent
// once, and the *url.Error of the hop kept.
func TestClientRedirectOfAGetToAnotherSchemeFailsAtOnce(t *testing.T) {
	for _, loc := range []string{"ftp://platform.example/v1/info", "mailto:pay@platform.example", "data:,reply", "ws://platform.example/v1/info"} {
		t.Run(loc, func(t *testing.T) {
			srv := newRedirectingServer(t, loc)
			opts := payflow.ClientOptions{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
			_, err := mustClient(t, srv.URL, opts).Info(context.Background())
			assert.ErrorIs(t, err, payflow.ErrInternal)
			assert.NotErrorIs(t, err, payflow.ErrUnavailable)
			ue, ok := errors.AsType[*url.Error](err)
			if assert.True(t, ok, "%v", err) {
				assert.Equal(t, loc, ue.URL)
			}
			assert.Equal(t, int32(1), srv.requests.Load())
		})
	}
}
