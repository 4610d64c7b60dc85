package payflow_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestClientNilPointerRandIsCryptoRand: a ClientOptions.Rand that is a nil
// pointer is taken as no Rand, crypto/rand, as PlatformOptions.Rand is:
// the calls send their idempotency keys and request IDs, fresh ones each.
func TestClientNilPointerRandIsCryptoRand(t *testing.T) {
	var mu sync.Mutex
	var keys, rids []string
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get(payflow.IdempotencyKeyHeader))
		rids = append(rids, r.Header.Get(payflow.RequestIDHeader))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL, payflow.ClientOptions{Rand: (*bytes.Reader)(nil)})

	ctx := context.Background()
	for range 2 {
		_, err := c.Challenge(ctx, &payflow.ChallengeRequest{CardID: "8988"})
		require.NoError(t, err)
	}
	hex32, hex24 := regexp.MustCompile(`^[0-9a-f]{32}$`), regexp.MustCompile(`^[0-9a-f]{24}$`)
	require.Len(t, keys, 2)
	for i := range keys {
		assert.Regexp(t, hex32, keys[i])
		assert.Regexp(t, hex24, rids[i])
	}
	assert.NotEqual(t, keys[0], keys[1])
	assert.NotEqual(t, rids[0], rids[1])
}
