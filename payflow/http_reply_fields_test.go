package payflow_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
)

// TestHTTPRequestIDForm: the handler takes the client's X-Request-ID of 1
// to 64 ASCII letters, digits, '-', '_', '.' and ':', and answers it
// back; for any other, an empty one too, it answers a new one of its own,
// 24 hexadecimal digits.
func TestHTTPRequestIDForm(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	own := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, tc := range []struct {
		id    string
		taken bool
	}{
		{"a", true},
		{"Az09-_.:", true},
		{strings.Repeat("z", 64), true},
		{strings.Repeat("z", 65), false},
		{"", false},
		{"a/b", false},
		{"a b", false},
		{"a+b", false},
		{"caf\u00e9", false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
		req.Header.Set(payflow.RequestIDHeader, tc.id)
		out := httptest.NewRecorder()
		h.ServeHTTP(out, req)
		assert.Equal(t, http.StatusOK, out.Code, "%q", tc.id)
		got := out.Header().Values(payflow.RequestIDHeader)
		if !assert.Len(t, got, 1, "%q", tc.id) {
			continue
		}
		if tc.taken {
			assert.Equal(t, tc.id, got[0])
		} else {
			assert.Regexp(t, own, got[0], "%q", tc.id)
		}
	}
}

// TestHTTPRetryAfterOfTheShortestWait: a rate_limited reply's Retry-After
// is its retry time in whole seconds, rounded up, a wait under a second
// too, and a rate_limited reply without a retry time has none.
func TestHTTPRetryAfterOfTheShortestWait(t *testing.T) {
	for _, tc := range []struct {
		wait time.Duration
		want []string
	}{
		{time.Nanosecond, []string{"1"}},
		{time.Second, []string{"1"}},
		{time.Second + time.Nanosecond, []string{"2"}},
		{0, nil},
	} {
		api := newHTTPFakeAPI()
		api.err = &payflow.RateLimitedError{Err: payflow.ErrRateLimited, RetryAfter: tc.wait}
		h := mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()})
		out := httptest.NewRecorder()
		h.ServeHTTP(out, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
		assert.Equal(t, http.StatusTooManyRequests, out.Code, "%v", tc.wait)
		assert.Equal(t, tc.want, out.Header().Values("Retry-After"), "%v", tc.wait)
	}
}
