package payflow_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// bodyReads is a request body that counts the reads made of it.
type bodyReads struct {
	mu    sync.Mutex
	reads int
	r     *bytes.Reader
}

func (c *bodyReads) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return c.r.Read(p)
}

func (c *bodyReads) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// TestHandlerBoundsRequestsInFlight: with MaxInFlight requests being
// served, the next is answered 503 unavailable at once, without a
// Retry-After and before its body is read; once they end, requests are
// served again. Each request that the handler admits reports itself on
// entered before it waits for release, so that one admitted past the
// bound, or one refused within it, fails the test as it happens.
func TestHandlerBoundsRequestsInFlight(t *testing.T) {
	const n = 3
	api := newHTTPFakeAPI()
	// Room for every request that the test sends, admitted or not: no
	// call of the API waits to report itself.
	entered, release := make(chan string, 2*n+2), make(chan struct{})
	api.entered, api.release = entered, release
	h := mustHandler(t, api, payflow.HandlerOptions{MaxInFlight: n, Logger: discardLogger()})

	var wg sync.WaitGroup
	released := false
	releaseAll := func() {
		if !released {
			released = true
			close(release)
		}
		wg.Wait()
	}
	t.Cleanup(releaseAll)
	// A safety net only: each wait below ends with a request reported,
	// whatever the handler does, long before it.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()

	codes := make(chan int, n)
	for range n {
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
			codes <- w.Code
		})
	}
	for i := range n {
		select {
		case m := <-entered:
			require.Equal(t, "Info", m)
		case code := <-codes:
			t.Fatalf("a request within MaxInFlight %d answered %d with %d admitted and none released", n, code, i)
		case <-ctx.Done():
			t.Fatalf("%d of %d requests within MaxInFlight admitted: %v", i, n, ctx.Err())
		}
	}

	body := &bodyReads{r: bytes.NewReader(mustCBOR(t, payflow.ChallengeRequest{CardID: "card-1"}))}
	r := httptest.NewRequest(http.MethodPost, "/v1/challenges", body)
	r.Header.Set("Content-Type", payflow.ContentType)
	over := make(chan *httptest.ResponseRecorder, 1)
	wg.Go(func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		over <- w
	})
	var w *httptest.ResponseRecorder
	select {
	case w = <-over:
	case m := <-entered:
		t.Fatalf("request %d, above MaxInFlight %d, was admitted: the API's %s was called", n+1, n, m)
	case <-ctx.Done():
		t.Fatalf("request above MaxInFlight neither answered nor admitted: %v", ctx.Err())
	}
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, payflow.ContentType, w.Header().Get("Content-Type"))
	assert.Empty(t, w.Header().Get("Retry-After"))
	var e payflow.Error
	require.NoError(t, cbor.Unmarshal(w.Body.Bytes(), &e))
	assert.Equal(t, "unavailable", e.Code)
	assert.Equal(t, "temporarily unavailable", e.Message)
	assert.Zero(t, body.count(), "the refused request's body was read")
	assert.Zero(t, api.count("Challenge"))
	assert.Equal(t, n, api.count("Info"))

	api.set(func(f *httpFakeAPI) { f.entered = nil })
	releaseAll()
	close(codes)
	var got []int
	for code := range codes {
		got = append(got, code)
	}
	assert.Equal(t, []int{200, 200, 200}, got)

	for range n + 1 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
		assert.Equal(t, http.StatusOK, w.Code)
	}
	r = httptest.NewRequest(http.MethodPost, "/v1/challenges", bytes.NewReader(mustCBOR(t, payflow.ChallengeRequest{CardID: "card-1"})))
	r.Header.Set("Content-Type", payflow.ContentType)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, 1, api.count("Challenge"))
}
