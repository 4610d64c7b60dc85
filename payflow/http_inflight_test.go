package payflow_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

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
// served again.
func TestHandlerBoundsRequestsInFlight(t *testing.T) {
	const n = 3
	api := newHTTPFakeAPI()
	api.entered, api.release = make(chan string), make(chan struct{})
	h := mustHandler(t, api, payflow.HandlerOptions{MaxInFlight: n, Logger: discardLogger()})

	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Go(func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
			codes[i] = w.Code
		})
	}
	for range n {
		<-api.entered
	}

	body := &bodyReads{r: bytes.NewReader(mustCBOR(t, payflow.ChallengeRequest{CardID: "card-1"}))}
	r := httptest.NewRequest(http.MethodPost, "/v1/challenges", body)
	r.Header.Set("Content-Type", payflow.ContentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, payflow.ContentType, w.Header().Get("Content-Type"))
	assert.Empty(t, w.Header().Get("Retry-After"))
	var e payflow.Error
	require.NoError(t, cbor.Unmarshal(w.Body.Bytes(), &e))
	assert.Equal(t, "unavailable", e.Code)
	assert.Equal(t, "temporarily unavailable", e.Message)
	assert.Zero(t, body.count(), "the refused request's body was read")
	assert.Zero(t, api.count("Challenge"))

	api.set(func(f *httpFakeAPI) { f.entered = nil })
	close(api.release)
	wg.Wait()
	assert.Equal(t, []int{200, 200, 200}, codes)

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
