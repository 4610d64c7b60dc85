package payflow_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestClientRetryTimeIsAtMostAnHour: a rate_limited reply whose retry
// time, in its Retry-After header or in its error body, is more than an
// hour is a *RateLimitedError of an hour, which a phone waits no longer
// than; one of 2^64-1 seconds too.
func TestClientRetryTimeIsAtMostAnHour(t *testing.T) {
	for name, reply := range map[string]func(w http.ResponseWriter){
		"header": func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "86400")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		},
		"largest header": func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "18446744073709551615")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		},
		"body": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", payflow.ContentType)
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write(mustCBOR(t, map[int]any{1: "rate_limited", 2: "slow down", 3: uint64(86400)}))
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reply(w) }))
			defer srv.Close()
			_, err := fastClient(t, srv.URL, 3).Info(context.Background())
			requireOnlySentinel(t, err, payflow.ErrRateLimited)
			rl, ok := errors.AsType[*payflow.RateLimitedError](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, time.Hour, rl.RetryAfter)
		})
	}
}
