package payflow_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestProtocolClientRequestIDOnEveryRetry: payflow.Client sends one
// X-Request-ID per call, the same on every retry of it (PROTOCOL.md §5.1,
// Headers), the one of the call's context (payflow.WithRequestID) when it
// gives one, and another for the next call.
func TestProtocolClientRequestIDOnEveryRetry(t *testing.T) {
	var mu sync.Mutex
	var rids []string
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		rids = append(rids, r.Header.Get(payflow.RequestIDHeader))
		first := len(rids)%2 == 1
		mu.Unlock()
		if first {
			// The first attempt of each call: a proxy's 503, retried.
			http.Error(w, "proxy says try again", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := fastClient(t, srv.URL, 2)
	create := func(ctx context.Context) {
		t.Helper()
		_, err := c.CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r")})
		require.NoError(t, err)
	}

	create(context.Background())
	create(context.Background())
	create(payflow.WithRequestID(context.Background(), "call-3"))
	require.Len(t, rids, 6, "two attempts a call")
	assert.Regexp(t, "^[0-9a-f]{24}$", rids[0])
	assert.Equal(t, rids[0], rids[1], "the first call's retry carries its request ID")
	assert.Regexp(t, "^[0-9a-f]{24}$", rids[2])
	assert.Equal(t, rids[2], rids[3], "the second call's retry carries its request ID")
	assert.NotEqual(t, rids[0], rids[2], "each call has its own request ID")
	assert.Equal(t, []string{"call-3", "call-3"}, rids[4:], "the request ID of the call's context, on every attempt")
}
