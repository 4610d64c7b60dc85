package payflow_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
)

// TestHTTPPanicAfterAWholeReplyLeavesIt: a request that panics once its
// reply is written whole (its reply store panics releasing the key of a
// call answered unavailable, which is not stored) keeps that reply as it
// was written, no 500 written over or after it, and is logged with the
// failure, then the panic, and the reply's status and size, not aborted.
func TestHTTPPanicAfterAWholeReplyLeavesIt(t *testing.T) {
	logs := &syncBuffer{}
	api := newHTTPFakeAPI()
	api.err = payflow.ErrUnavailable
	h := mustHandler(t, api, payflow.HandlerOptions{
		Replies: panicAbandonReplies{payflow.NewReplyMemory()},
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
	})
	req := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})))
	req.Header.Set("Content-Type", payflow.ContentType)
	req.Header.Set(payflow.IdempotencyKeyHeader, "k1")
	req.Header.Set(payflow.RequestIDHeader, "whole-1")
	out := httptest.NewRecorder()
	assert.Nil(t, serveOnItsOwn(h, out, req))
	assert.Equal(t, http.StatusServiceUnavailable, out.Code)
	r := httpRawReply{status: out.Code, header: out.Header(), body: out.Body.Bytes()}
	assert.Equal(t, payflow.Error{Code: "unavailable", Message: "temporarily unavailable"}, r.errorBody(t))
	assert.Equal(t, []map[string]any{
		{"msg": "request failed", "request_id": "whole-1"},
		{"msg": "panic serving request", "request_id": "whole-1", "panic": abandonPanic},
		{"msg": "http request", "request_id": "whole-1", "status": float64(http.StatusServiceUnavailable), "bytes": float64(out.Body.Len())},
	}, logFields(t, logs, "msg", "request_id", "panic", "status", "bytes", "aborted"))
}

// abortingWriter is a ResponseWriter whose WriteHeader aborts the reply:
// it panics with http.ErrAbortHandler, passing nothing on.
type abortingWriter struct{ http.ResponseWriter }

func (abortingWriter) WriteHeader(int) { panic(http.ErrAbortHandler) }

// TestHTTPAbortAnsweringAPanicIsNoFailure: a request whose 500 reply to a
// panic is aborted by its writer (a panic with http.ErrAbortHandler) is
// aborted, logged with the first panic and marked aborted, the abort not
// logged as a panic of the 500 reply.
func TestHTTPAbortAnsweringAPanicIsNoFailure(t *testing.T) {
	logs := &syncBuffer{}
	api := newHTTPFakeAPI()
	api.panics = true
	h := mustHandler(t, api, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
	req.Header.Set(payflow.RequestIDHeader, "abort-1")
	out := httptest.NewRecorder()
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { h.ServeHTTP(abortingWriter{out}, req) })
	assert.Empty(t, out.Body.Bytes())
	assert.Equal(t, []map[string]any{
		{"msg": "panic serving request", "request_id": "abort-1", "panic": "secret internal detail"},
		{"msg": "http request", "request_id": "abort-1", "status": float64(0), "bytes": float64(0), "aborted": true},
	}, logFields(t, logs, "msg", "request_id", "panic", "status", "bytes", "aborted"))
}
