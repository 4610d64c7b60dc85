package payflow_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestHTTPRetryAfterOfANegativeWaitIsNone: a rate_limited error whose
// retry time is negative gives its reply no Retry-After and its error
// body no retry time, as one without a retry time.
func TestHTTPRetryAfterOfANegativeWaitIsNone(t *testing.T) {
	api := newHTTPFakeAPI()
	api.err = &payflow.RateLimitedError{Err: payflow.ErrRateLimited, RetryAfter: -2 * time.Second}
	h := mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()})
	out := httptest.NewRecorder()
	h.ServeHTTP(out, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
	require.Equal(t, http.StatusTooManyRequests, out.Code)
	assert.Nil(t, out.Header().Values("Retry-After"))
	var body map[int]any
	require.NoError(t, cbor.Unmarshal(out.Body.Bytes(), &body))
	assert.Equal(t, "rate_limited", body[1])
	assert.NotContains(t, body, 3, "the error body carries a retry time")
}

// busyHandler returns a handler of MaxInFlight 1 in front of api that is
// serving a GET of /v1/info, its call waiting, and a function that lets
// that call end and returns the request's status.
func busyHandler(t *testing.T, api *httpFakeAPI) (http.Handler, func() int) {
	t.Helper()
	entered, release := make(chan string, 1), make(chan struct{})
	api.entered, api.release = entered, release
	h := mustHandler(t, api, payflow.HandlerOptions{MaxInFlight: 1, Logger: discardLogger()})
	done := make(chan int, 1)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
		done <- w.Code
	}()
	require.Equal(t, "Info", <-entered)
	return h, func() int {
		close(release)
		return <-done
	}
}

// TestHTTPRequestRefusedInFlightTakesNoPlace: a request refused 503 as
// MaxInFlight others are served leaves their number as it was, so that
// once they end a request is served again, with MaxInFlight 1 too.
func TestHTTPRequestRefusedInFlightTakesNoPlace(t *testing.T) {
	api := newHTTPFakeAPI()
	h, release := busyHandler(t, api)
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
		require.Equal(t, http.StatusServiceUnavailable, w.Code)
	}
	require.Equal(t, http.StatusOK, release())

	api.set(func(f *httpFakeAPI) { f.entered = nil })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, 2, api.count("Info"))
}

// checkedMark is the key of the value that markingChecker's CheckRecord
// puts in the context it returns.
type checkedMark struct{}

// markingChecker is a RecordChecker that accepts every record and marks
// the context it returns with the request it checked.
type markingChecker struct{ *httpFakeAPI }

func (markingChecker) CheckRecord(ctx context.Context, req any) (context.Context, error) {
	return context.WithValue(ctx, checkedMark{}, req), nil
}

// TestHTTPSignedRecordCallRunsUnderTheCheckedContext: a POST of a
// card-signed record under an Idempotency-Key, in front of a
// RecordChecker, makes its call under the context that CheckRecord
// returned for the request's record, carrying what was verified.
func TestHTTPSignedRecordCallRunsUnderTheCheckedContext(t *testing.T) {
	api := newHTTPFakeAPI()
	ctxs := make(chan context.Context, 1)
	api.ctxs = ctxs
	h := mustHandler(t, markingChecker{api}, payflow.HandlerOptions{Logger: discardLogger()})
	w := postCreate(t, h, []byte{0xa0}, "key-1")
	require.Equal(t, http.StatusOK, w.Code)
	ctx := <-ctxs
	checked, ok := ctx.Value(checkedMark{}).(*payflow.CreateRequest)
	require.True(t, ok, "the call's context carries no checked record")
	assert.Equal(t, []byte{0xa0}, checked.Request)
	assert.Equal(t, 1, api.count("CreateRequest"))
}

// TestHTTPReplyNotStoredAfterCloseIsLoggedAsNotTriedAgain: the final
// reply of a request served after Close, which the store fails to store,
// is logged as not stored and not tried again, the handler being closed,
// and not as tried again.
func TestHTTPReplyNotStoredAfterCloseIsLoggedAsNotTriedAgain(t *testing.T) {
	logs := &syncBuffer{}
	h, err := payflow.NewHandler(newHTTPFakeAPI(), payflow.HandlerOptions{Replies: &hangingFinish{ReplyMemory: payflow.NewReplyMemory()}, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	require.NoError(t, h.Close())
	w := postCreate(t, h, []byte("r1"), "k1")
	require.Equal(t, http.StatusOK, w.Code)
	require.NoError(t, h.Close())
	out := logs.String()
	assert.Contains(t, out, `"msg":"storing idempotent reply: not stored, and not tried again as the handler is closed; the key stays in flight until its lease ends; a retry after it runs the call again"`)
	assert.NotContains(t, out, "while it is tried again")
	assert.NotContains(t, out, "no longer tried")
}

// TestHTTPStoringAReplyStopsAtTheDeadline: a reply whose storing fails
// as the request's deadline passes is not tried again under that deadline
// by the request: the store saw one try under it.
func TestHTTPStoringAReplyStopsAtTheDeadline(t *testing.T) {
	rs := newDeadlineReplies("Finish")
	h, err := payflow.NewHandler(newHTTPFakeAPI(), payflow.HandlerOptions{Replies: rs, CallTimeout: 50 * time.Millisecond, Logger: discardLogger()})
	require.NoError(t, err)
	w := postCreate(t, h, []byte("r1"), "k1")
	require.Equal(t, http.StatusOK, w.Code)
	require.NoError(t, h.Close())
	rs.mu.Lock()
	defer rs.mu.Unlock()
	require.Len(t, rs.deadlines["Begin"], 1)
	underRequest := 0
	for _, d := range rs.deadlines["Finish"] {
		if d.Equal(rs.deadlines["Begin"][0]) {
			underRequest++
		}
	}
	assert.Equal(t, 1, underRequest, "tries to store the reply under the request's deadline")
}

// clockedFake is the fake API keeping time by a clock of its own.
type clockedFake struct {
	*httpFakeAPI
	now time.Time
}

func (c clockedFake) Now() time.Time { return c.now }

// TestHTTPClockAheadOfTheAPIsStampsTheKey: given a Now ahead of a Clocked
// API's clock, the handler claims a key at that later time, its lease
// ReplyLease after it.
func TestHTTPClockAheadOfTheAPIsStampsTheKey(t *testing.T) {
	rs := newDeadlineReplies("")
	ahead := httpFakeTime.Add(time.Hour)
	h := mustHandler(t, clockedFake{newHTTPFakeAPI(), httpFakeTime}, payflow.HandlerOptions{
		Replies: rs, ReplyLease: time.Minute, Now: func() time.Time { return ahead }, Logger: discardLogger(),
	})
	w := postCreate(t, h, []byte("r1"), "k1")
	require.Equal(t, http.StatusOK, w.Code)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	assert.Equal(t, []time.Time{ahead.Add(time.Minute)}, rs.leases)
}

// postCreate serves h a POST /v1/requests of the payment request record
// under the Idempotency-Key key.
func postCreate(t *testing.T, h http.Handler, record []byte, key string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(mustCBOR(t, payflow.CreateRequest{Request: record})))
	r.Header.Set("Content-Type", payflow.ContentType)
	r.Header.Set(payflow.IdempotencyKeyHeader, key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
