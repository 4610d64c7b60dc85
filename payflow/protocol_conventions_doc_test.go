package payflow_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestProtocolServerAnswersAnUnparsableRequestItself: a request that the
// server (payflow.NewServer) cannot parse, over HTTP/1.1 a request target
// with a malformed escape or a malformed header line, never reaches the
// handler: the server answers it with a plain-text 400 and Connection:
// close, none of the headers of PROTOCOL.md §5.1 (no Cache-Control, no
// X-Request-ID) and no log record (§5.2); and so it answers a request over
// its header limit 431 (§5.1, Server limits).
func TestProtocolServerAnswersAnUnparsableRequestItself(t *testing.T) {
	logs := &syncBuffer{}
	api := newHTTPFakeAPI()
	h := mustHandler(t, api, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	addr := serveOnLoopback(t, payflow.NewServer("", h))
	for _, tc := range []struct {
		name, request, reply string
	}{
		{"malformed escape", "GET /v1/sessions/%zz HTTP/1.1\r\nHost: x\r\nX-Request-ID: rid-1\r\nAuthorization: Bearer tok\r\n\r\n", "400 Bad Request"},
		{"malformed header line", "GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Request-ID: rid-2\r\nno colon\r\n\r\n", "400 Bad Request"},
		{"headers over the limit", "GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Request-ID: rid-3\r\nX-Pad: " + strings.Repeat("a", payflow.ServerMaxHeaderBytes) + "\r\n\r\n", "431 Request Header Fields Too Large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
			_, err = io.WriteString(conn, tc.request)
			require.NoError(t, err)
			// The server closes the connection after its reply: all of it
			// is read, octet for octet, before the deadline.
			got, err := io.ReadAll(conn)
			assert.NoError(t, err, "the server closes the connection")
			assert.Equal(t, "HTTP/1.1 "+tc.reply+"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+tc.reply, string(got))
		})
	}
	assert.Empty(t, logs.String(), "no request is logged")
	api.mu.Lock()
	defer api.mu.Unlock()
	assert.Empty(t, api.calls, "no request reaches the API")
}
