package payflow_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// panicWriter is a ResponseWriter, as a wrapping writer of a middleware
// may be, whose Header panics on its next fieldsPanics calls, whose
// WriteHeader on its next headerPanics calls and whose Write on its next
// writePanics calls, before any of them passes anything on.
type panicWriter struct {
	http.ResponseWriter
	fieldsPanics, headerPanics, writePanics int
}

// The panics of panicWriter.
const (
	fieldsPanic = "writer refuses the header fields"
	headerPanic = "writer refuses the header"
	writePanic  = "writer refuses the body"
)

func (w *panicWriter) Header() http.Header {
	if w.fieldsPanics > 0 {
		w.fieldsPanics--
		panic(fieldsPanic)
	}
	return w.ResponseWriter.Header()
}

func (w *panicWriter) WriteHeader(status int) {
	if w.headerPanics > 0 {
		w.headerPanics--
		panic(headerPanic)
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *panicWriter) Write(b []byte) (int, error) {
	if w.writePanics > 0 {
		w.writePanics--
		panic(writePanic)
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
	assert.Equal(t, [][2]any{{"panic serving request", headerPanic}, {"http request", nil}}, got)
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
		{"msg": "panic serving request", "request_id": "write-1", "panic": writePanic},
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

// TestHTTPPanicAnsweringAPanicIsLogged: a request whose 500 reply to a
// panic panics in its turn gets its one record all the same, with its
// request ID, the status and size that the writer took and marked
// aborted, once both panics are logged; and it is aborted with
// http.ErrAbortHandler, which a server takes in its stride, rather than
// left with no status written (an empty 200) or a broken reply.
func TestHTTPPanicAnsweringAPanicIsLogged(t *testing.T) {
	const apiPanic = "secret internal detail"
	for _, tc := range []struct {
		name      string
		apiPanics bool
		w         panicWriter
		panics    [2]string // the first and the second
		status    int       // the status that the writer took
	}{
		{"the API, then the 500's WriteHeader", true, panicWriter{headerPanics: 1}, [2]string{apiPanic, headerPanic}, 0},
		{"the API, then the 500's Write", true, panicWriter{writePanics: 1}, [2]string{apiPanic, writePanic}, http.StatusInternalServerError},
		{"WriteHeader, then the 500's", false, panicWriter{headerPanics: 2}, [2]string{headerPanic, headerPanic}, 0},
		{"Header, then the 500's", false, panicWriter{fieldsPanics: 2}, [2]string{fieldsPanic, fieldsPanic}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			api := newHTTPFakeAPI()
			api.panics = tc.apiPanics
			h := mustHandler(t, api, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
			req.Header.Set(payflow.RequestIDHeader, "twice-1")
			w := tc.w
			w.ResponseWriter = httptest.NewRecorder()
			assert.PanicsWithValue(t, http.ErrAbortHandler, func() { h.ServeHTTP(&w, req) })
			assert.Equal(t, []map[string]any{
				{"msg": "panic serving request", "request_id": "twice-1", "panic": tc.panics[0]},
				{"msg": "panic writing the 500 reply to a panic", "request_id": "twice-1", "panic": tc.panics[1]},
				{"msg": "http request", "request_id": "twice-1", "status": float64(tc.status), "bytes": float64(0), "aborted": true},
			}, logFields(t, logs, "msg", "request_id", "panic", "status", "bytes", "aborted"))
		})
	}

	t.Run("through a server", func(t *testing.T) {
		// The server drops the connection: the client gets no reply, and
		// the server goes on serving.
		logs := &syncBuffer{}
		api := newHTTPFakeAPI()
		h := mustHandler(t, api, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(&panicWriter{ResponseWriter: w, headerPanics: 2}, r)
		}))
		t.Cleanup(srv.Close)
		c := mustClient(t, srv.URL, payflow.ClientOptions{MaxAttempts: 1})
		_, err := c.Info(context.Background())
		requireOnlySentinel(t, err, payflow.ErrUnavailable)
		ok := httptest.NewServer(h)
		t.Cleanup(ok.Close)
		_, err = mustClient(t, ok.URL, payflow.ClientOptions{MaxAttempts: 1}).Info(context.Background())
		require.NoError(t, err)
		records := logFields(t, logs, "msg", "status", "aborted")
		require.Len(t, records, 4)
		assert.Equal(t, map[string]any{"msg": "http request", "status": float64(0), "aborted": true}, records[2])
		assert.Equal(t, map[string]any{"msg": "http request", "status": float64(http.StatusOK)}, records[3])
	})
}

// TestHTTPPanicAnswerCarriesNoFieldOfTheReplyItReplaces: the 500 reply of
// a request whose reply's WriteHeader panicked carries none of the header
// fields that the reply it replaces had set (a 401's WWW-Authenticate, a
// rate_limited reply's Retry-After, which a client would wait before its
// retry, a replayed reply's Idempotent-Replayed), only those of every
// reply.
func TestHTTPPanicAnswerCarriesNoFieldOfTheReplyItReplaces(t *testing.T) {
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	for _, tc := range []struct {
		name    string
		err     error
		method  string
		path    string
		body    []byte
		replies payflow.ReplyStore
	}{
		{"unauthorized", nil, http.MethodGet, "/v1/sessions/" + payflow.ID{1}.String(), nil, nil},
		{"rate_limited", &payflow.RateLimitedError{Err: payflow.ErrRateLimited, RetryAfter: 7 * time.Second}, http.MethodGet, "/v1/info", nil, nil},
		{"replayed", nil, http.MethodPost, "/v1/requests", body, &storedReplies{
			ReplyMemory: payflow.NewReplyMemory(), reply: payflow.IdempotentReply{Status: http.StatusOK, Reply: []byte("stored reply")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newHTTPFakeAPI()
			api.err = tc.err
			h := mustHandler(t, api, payflow.HandlerOptions{Replies: tc.replies, Logger: discardLogger()})
			req := httptest.NewRequest(tc.method, tc.path, bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", payflow.ContentType)
			req.Header.Set(payflow.IdempotencyKeyHeader, "k1")
			req.Header.Set(payflow.RequestIDHeader, "fields-1")
			out := httptest.NewRecorder()
			h.ServeHTTP(&panicWriter{ResponseWriter: out, headerPanics: 1}, req)
			assert.Equal(t, http.StatusInternalServerError, out.Code)
			assert.Equal(t, http.Header{
				"Content-Type":  {payflow.ContentType},
				"Cache-Control": {"no-store"},
				"X-Request-Id":  {"fields-1"},
			}, out.Header())
			r := httpRawReply{status: out.Code, header: out.Header(), body: out.Body.Bytes()}
			assert.Equal(t, payflow.Error{Code: "internal", Message: "internal error"}, r.errorBody(t))
		})
	}
}

// errWriter is a ResponseWriter whose Write takes n octets and fails with
// err, as a server's does once its client is gone.
type errWriter struct {
	http.ResponseWriter
	n   int
	err error
}

func (w *errWriter) Write([]byte) (int, error) { return w.n, w.err }

// TestHTTPFailedWriteIsLogged: a request whose reply's Write fails is
// logged with the status and the octets that the writer took and the
// error, so that its record tells a reply cut short.
func TestHTTPFailedWriteIsLogged(t *testing.T) {
	logs := &syncBuffer{}
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
	req.Header.Set(payflow.RequestIDHeader, "failed-1")
	h.ServeHTTP(&errWriter{ResponseWriter: httptest.NewRecorder(), n: 3, err: errors.New("connection gone")}, req)
	assert.Equal(t, []map[string]any{
		{"msg": "http request", "request_id": "failed-1", "status": float64(http.StatusOK), "bytes": float64(3), "write_err": "connection gone"},
	}, logFields(t, logs, "msg", "request_id", "status", "bytes", "write_err", "aborted"))
}

// goexitAPI is an API whose Info ends its goroutine with runtime.Goexit,
// neither returning nor panicking.
type goexitAPI struct{ *httpFakeAPI }

func (goexitAPI) Info(context.Context) (*payflow.Info, error) {
	runtime.Goexit()
	return nil, nil
}

// serveOnItsOwn serves req with h on a goroutine of its own, which a
// runtime.Goexit may end, and returns the panic that h passed on, nil for
// none.
func serveOnItsOwn(h http.Handler, w http.ResponseWriter, req *http.Request) any {
	passed := make(chan any, 1)
	go func() {
		defer func() { passed <- recover() }()
		h.ServeHTTP(w, req)
	}()
	return <-passed
}

// TestHTTPGoexitIsLoggedAborted: a request whose goroutine the API ends
// with runtime.Goexit is logged with the stack of the call that ended it,
// and gets its one record, with its request ID and marked aborted, as it
// gets no reply, and the handler passes http.ErrAbortHandler on to the
// server, as for any other aborted reply.
func TestHTTPGoexitIsLoggedAborted(t *testing.T) {
	logs := &syncBuffer{}
	h := mustHandler(t, goexitAPI{newHTTPFakeAPI()}, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
	req.Header.Set(payflow.RequestIDHeader, "goexit-1")
	out := httptest.NewRecorder()
	assert.Equal(t, http.ErrAbortHandler, serveOnItsOwn(h, out, req))
	assert.Empty(t, out.Body.Bytes())
	assert.Equal(t, []map[string]any{
		{"msg": "request ended by runtime.Goexit", "request_id": "goexit-1"},
		{"msg": "http request", "request_id": "goexit-1", "status": float64(0), "bytes": float64(0), "aborted": true},
	}, logFields(t, logs, "msg", "request_id", "status", "bytes", "aborted"))
	assert.Contains(t, logRecords(t, logs)[0]["stack"], "goexitAPI.Info", "the stack of the Goexit")
}

// abandonPanic is the panic of panicAbandonReplies.AbandonIdempotent.
const abandonPanic = "reply store refuses to release the key"

// panicAbandonReplies is a ReplyStore whose AbandonIdempotent panics.
type panicAbandonReplies struct{ *payflow.ReplyMemory }

func (panicAbandonReplies) AbandonIdempotent(context.Context, string, time.Time) error {
	panic(abandonPanic)
}

// endingAPI is an API whose CreateRequest ends by end, which panics or
// ends its goroutine with runtime.Goexit, neither returning.
type endingAPI struct {
	*httpFakeAPI
	end func()
}

func (a endingAPI) CreateRequest(context.Context, *payflow.CreateRequest) (*payflow.PaymentView, error) {
	a.end()
	return nil, nil
}

// TestHTTPCleanupPanicKeepsTheCallsPanic: a request whose call panics or
// ends by runtime.Goexit, and whose reply store then panics releasing the
// idempotency key, is logged with both: the call's panic (or its Goexit)
// in the record that tells how the call ended, with the store's panic and
// its stack beside it, rather than the store's panic alone. The request is
// answered as the call's end alone would have it: 500 internal for a
// panic, aborted for a panic with http.ErrAbortHandler or a Goexit.
func TestHTTPCleanupPanicKeepsTheCallsPanic(t *testing.T) {
	const apiPanic = "secret internal detail"
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	for _, tc := range []struct {
		name   string
		end    func()
		status int // the reply's, 0 for an aborted one
		want   []map[string]any
	}{
		{"panic", func() { panic(apiPanic) }, http.StatusInternalServerError, []map[string]any{
			{"msg": "panic serving request", "request_id": "cleanup-1", "panic": apiPanic, "cleanup_panic": abandonPanic},
			{"msg": "http request", "request_id": "cleanup-1", "status": float64(http.StatusInternalServerError)},
		}},
		{"abort", func() { panic(http.ErrAbortHandler) }, 0, []map[string]any{
			{"msg": "http request", "request_id": "cleanup-1", "status": float64(0), "aborted": true, "cleanup_panic": abandonPanic},
		}},
		{"Goexit", runtime.Goexit, 0, []map[string]any{
			{"msg": "request ended by runtime.Goexit", "request_id": "cleanup-1", "cleanup_panic": abandonPanic},
			{"msg": "http request", "request_id": "cleanup-1", "status": float64(0), "aborted": true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &syncBuffer{}
			h := mustHandler(t, endingAPI{newHTTPFakeAPI(), tc.end}, payflow.HandlerOptions{
				Replies: panicAbandonReplies{payflow.NewReplyMemory()},
				Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
			})
			req := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(body))
			req.Header.Set("Content-Type", payflow.ContentType)
			req.Header.Set(payflow.IdempotencyKeyHeader, "k1")
			req.Header.Set(payflow.RequestIDHeader, "cleanup-1")
			out := httptest.NewRecorder()
			v := serveOnItsOwn(h, out, req)
			if tc.status == 0 {
				assert.Equal(t, http.ErrAbortHandler, v)
				assert.Empty(t, out.Body.Bytes())
			} else {
				assert.Nil(t, v)
				assert.Equal(t, tc.status, out.Code)
				r := httpRawReply{status: out.Code, header: out.Header(), body: out.Body.Bytes()}
				assert.Equal(t, payflow.Error{Code: "internal", Message: "internal error"}, r.errorBody(t))
			}
			assert.Equal(t, tc.want, logFields(t, logs, "msg", "request_id", "panic", "cleanup_panic", "status", "aborted"))
			records := logRecords(t, logs)
			for _, rec := range records {
				if _, ok := rec["cleanup_panic"]; ok {
					require.IsType(t, "", rec["cleanup_stack"])
					assert.Contains(t, rec["cleanup_stack"], "panicAbandonReplies.AbandonIdempotent")
					if tc.name == "panic" {
						assert.Contains(t, rec["stack"], "endingAPI.CreateRequest", "the stack of the call's panic")
					}
				} else {
					assert.NotContains(t, rec, "cleanup_stack")
				}
			}
		})
	}
}

// envPanicNil, when set, has TestHTTPPanicNilIsLoggedAsAPanic run in
// the process that it starts under GODEBUG=panicnil=1.
const envPanicNil = "CASIMPAY_PANICNIL_CHILD"

// nilPanicAPI is an API whose Info panics with nil.
type nilPanicAPI struct{ *httpFakeAPI }

func (nilPanicAPI) Info(context.Context) (*payflow.Info, error) {
	panic(nil)
}

// nilAbandonReplies is a ReplyStore whose AbandonIdempotent panics with
// nil.
type nilAbandonReplies struct{ *payflow.ReplyMemory }

func (nilAbandonReplies) AbandonIdempotent(context.Context, string, time.Time) error {
	panic(nil)
}

// TestHTTPPanicNilIsLoggedAsAPanic: a request whose call panics with nil
// is logged and answered 500 internal as for any other panic, its value
// a *runtime.PanicNilError, or nil under GODEBUG=panicnil=1, where
// recover returns nil as for a runtime.Goexit: the request is not logged
// as ended by a Goexit and aborted. So is a panic with nil of the
// release of an idempotency key while the call panics: it is logged
// beside the call's panic, with its stack. The test runs itself again in a
// process under GODEBUG=panicnil=1, as the setting is read when a
// process starts and a //go:debug directive would set it for all the
// package's tests.
func TestHTTPPanicNilIsLoggedAsAPanic(t *testing.T) {
	want := fmt.Sprint(new(runtime.PanicNilError))
	if os.Getenv(envPanicNil) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHTTPPanicNilIsLoggedAsAPanic$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), envPanicNil+"=1", "GODEBUG=panicnil=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "under GODEBUG=panicnil=1:\n%s", out)
		require.Contains(t, string(out), "--- PASS: TestHTTPPanicNilIsLoggedAsAPanic", "under GODEBUG=panicnil=1")
	} else {
		func() {
			defer func() { require.Nil(t, recover(), "GODEBUG=panicnil=1 set") }()
			panic(nil)
		}()
		want = fmt.Sprint(nil)
	}
	logs := &syncBuffer{}
	h := mustHandler(t, nilPanicAPI{newHTTPFakeAPI()}, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
	req.Header.Set(payflow.RequestIDHeader, "nil-1")
	out := httptest.NewRecorder()
	assert.Nil(t, serveOnItsOwn(h, out, req))
	assert.Equal(t, http.StatusInternalServerError, out.Code)
	r := httpRawReply{status: out.Code, header: out.Header(), body: out.Body.Bytes()}
	assert.Equal(t, payflow.Error{Code: "internal", Message: "internal error"}, r.errorBody(t))
	assert.Equal(t, []map[string]any{
		{"msg": "panic serving request", "request_id": "nil-1", "panic": want},
		{"msg": "http request", "request_id": "nil-1", "status": float64(http.StatusInternalServerError)},
	}, logFields(t, logs, "msg", "request_id", "panic", "status", "aborted"))
	for _, rec := range logRecords(t, logs) {
		if rec["msg"] == "panic serving request" {
			assert.Contains(t, rec["stack"], "nilPanicAPI.Info", "the stack of the panic")
		}
	}

	logs = &syncBuffer{}
	h = mustHandler(t, endingAPI{newHTTPFakeAPI(), func() { panic("call") }}, payflow.HandlerOptions{
		Replies: nilAbandonReplies{payflow.NewReplyMemory()},
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
	})
	req = httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})))
	req.Header.Set("Content-Type", payflow.ContentType)
	req.Header.Set(payflow.IdempotencyKeyHeader, "k1")
	req.Header.Set(payflow.RequestIDHeader, "nil-2")
	out = httptest.NewRecorder()
	assert.Nil(t, serveOnItsOwn(h, out, req))
	assert.Equal(t, http.StatusInternalServerError, out.Code)
	assert.Equal(t, []map[string]any{
		{"msg": "panic serving request", "request_id": "nil-2", "panic": "call", "cleanup_panic": want},
		{"msg": "http request", "request_id": "nil-2", "status": float64(http.StatusInternalServerError)},
	}, logFields(t, logs, "msg", "request_id", "panic", "cleanup_panic", "status", "aborted"))
	assert.Contains(t, logRecords(t, logs)[0]["cleanup_stack"], "nilAbandonReplies.AbandonIdempotent", "the stack of the release's panic")
}
