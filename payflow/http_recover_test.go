package payflow_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// panicWriter is a ResponseWriter, as a wrapping writer of a middleware
// may be, whose WriteHeader panics on its next headerPanics calls and whose
// Write on its next writePanics calls, before either passes anything on.
type panicWriter struct {
	http.ResponseWriter
	headerPanics, writePanics int
}

func (w *panicWriter) WriteHeader(status int) {
	if w.headerPanics > 0 {
		w.headerPanics--
		panic("writer refuses the header")
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *panicWriter) Write(b []byte) (int, error) {
	if w.writePanics > 0 {
		w.writePanics--
		panic("writer refuses the body")
	}
	return w.ResponseWriter.Write(b)
}

// logFields returns, of each log record, the fields named by keys that
// it has.
func logFields(t *testing.T, b *syncBuffer, keys ...string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, rec := range logRecords(t, b) {
		m := make(map[string]any)
		for _, k := range keys {
			if v, ok := rec[k]; ok {
				m[k] = v
			}
		}
		out = append(out, m)
	}
	return out
}

// TestHTTPPanicWritingHeaderAnswersInternal: a request whose reply's
// WriteHeader panics before it writes anything is answered 500 internal
// and logged with that status, as any other panic of a request is, rather
// than left with no status written (an empty 200).
func TestHTTPPanicWritingHeaderAnswersInternal(t *testing.T) {
	logs := &syncBuffer{}
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	out := httptest.NewRecorder()
	w := &panicWriter{ResponseWriter: out, headerPanics: 1}
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/info", nil))
	require.Zero(t, w.headerPanics)
	assert.Equal(t, http.StatusInternalServerError, out.Code)
	r := httpRawReply{status: out.Code, header: out.Header(), body: out.Body.Bytes()}
	assert.Equal(t, payflow.Error{Code: "internal", Message: "internal error"}, r.errorBody(t))
	var got [][2]any
	for _, rec := range logRecords(t, logs) {
		got = append(got, [2]any{rec["msg"], rec["panic"]})
		if rec["msg"] == "http request" {
			assert.Equal(t, float64(http.StatusInternalServerError), rec["status"])
		}
	}
	assert.Equal(t, [][2]any{{"panic serving request", "writer refuses the header"}, {"http request", nil}}, got)
}

// TestHTTPPanicWritingBodyAbortsTheReply: a request whose reply's Write
// panics, once the writer took its status, is aborted with
// http.ErrAbortHandler rather than left for the server to end as a whole
// reply (a 200 of no body), and logged once with its request ID, the
// status that the writer took, no octet and marked aborted.
func TestHTTPPanicWritingBodyAbortsTheReply(t *testing.T) {
	logs := &syncBuffer{}
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
	req.Header.Set(payflow.RequestIDHeader, "write-1")
	w := &panicWriter{ResponseWriter: httptest.NewRecorder(), writePanics: 1}
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { h.ServeHTTP(w, req) })
	assert.Equal(t, []map[string]any{
		{"msg": "panic serving request", "request_id": "write-1", "panic": "writer refuses the body"},
		{"msg": "http request", "request_id": "write-1", "status": float64(http.StatusOK), "bytes": float64(0), "aborted": true},
	}, logFields(t, logs, "msg", "request_id", "panic", "status", "bytes", "aborted"))

	t.Run("through a server", func(t *testing.T) {
		// The server drops the connection: the client gets no reply, where
		// it got a 200 of no body, and the server goes on serving.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(&panicWriter{ResponseWriter: w, writePanics: 1}, r)
		}))
		t.Cleanup(srv.Close)
		resp, err := srv.Client().Get(srv.URL + "/v1/info")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("a reply of status %d", resp.StatusCode)
		}
		ok := httptest.NewServer(h)
		t.Cleanup(ok.Close)
		resp, err = ok.Client().Get(ok.URL + "/v1/info")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})
}
