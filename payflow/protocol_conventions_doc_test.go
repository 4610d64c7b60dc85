package payflow_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// recordingServer serves next on a test server, recording field of each
// request it gets, and returns the server's URL and a function that
// returns the fields recorded so far, in order.
func recordingServer[T any](t *testing.T, next http.Handler, field func(*http.Request) T) (string, func() []T) {
	t.Helper()
	var mu sync.Mutex
	var got []T
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, field(r))
		mu.Unlock()
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []T {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// TestProtocolClientRequestIDOnEveryRetry: payflow.Client sends one
// X-Request-ID per call, the same on every retry of it (PROTOCOL.md §5.1,
// Headers), the one of the call's context (payflow.WithRequestID) when it
// gives one, and another for the next call.
func TestProtocolClientRequestIDOnEveryRetry(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	var n atomic.Int32
	url, requestIDs := recordingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 1 {
			// The first attempt of each call: a proxy's 503, retried.
			http.Error(w, "proxy says try again", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}), func(r *http.Request) string { return r.Header.Get(payflow.RequestIDHeader) })
	c := fastClient(t, url, 2)
	create := func(ctx context.Context) {
		t.Helper()
		_, err := c.CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r")})
		require.NoError(t, err)
	}

	create(context.Background())
	create(context.Background())
	create(payflow.WithRequestID(context.Background(), "call-3"))
	rids := requestIDs()
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
			// The server closes the connection after its reply: all of it
			// is read, octet for octet, before the deadline.
			got, err := io.ReadAll(rawConn(t, addr, tc.request))
			assert.NoError(t, err, "the server closes the connection")
			assert.Equal(t, "HTTP/1.1 "+tc.reply+"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+tc.reply, string(got))
		})
	}
	assert.Empty(t, logs.String(), "no request is logged")
	assert.Empty(t, api.counts(), "no request reaches the API")
}

// http2Get opens an HTTP/2 connection to a server of h (serveHTTP2),
// sends a GET of path on stream 1 and returns the type and payload of the
// stream's first frame from the server. The request is a HEADERS frame
// (type 1, END_STREAM and END_HEADERS) whose header block (HPACK, RFC
// 7541, no Huffman coding) is :method GET and :scheme https, of the static
// table, :path and :authority, of names of the static table (4 and 1) and
// values given literally, then, when pad is not 0, a header field x-pad of
// pad octets, given as a literal without indexing of a new name.
func http2Get(t *testing.T, h http.Handler, path string, pad int) (byte, []byte) {
	t.Helper()
	block := append([]byte{0x82, 0x87, 0x04, byte(len(path))}, path...)
	block = append(block, 0x01, 1, 'x')
	if pad > 0 {
		// The value's length, an integer of a 7-bit prefix (RFC 7541
		// §5.1).
		block = append(block, 0x00, 5, 'x', '-', 'p', 'a', 'd')
		if pad < 127 {
			block = append(block, byte(pad))
		} else {
			block = append(block, 127)
			for n := pad - 127; ; n >>= 7 {
				if n < 128 {
					block = append(block, byte(n))
					break
				}
				block = append(block, byte(n&127|128))
			}
		}
		block = append(block, strings.Repeat("a", pad)...)
	}
	require.Less(t, len(block), 1<<14, "one frame of the default SETTINGS_MAX_FRAME_SIZE")
	conn := http2Open(t, serveHTTP2(t, h), append([]byte{0, byte(len(block) >> 8), byte(len(block)), 1, 0x05, 0, 0, 0, 1}, block...))
	for {
		typ, stream, payload := http2ReadFrame(t, conn, "a frame of stream 1")
		if stream == 1 {
			return typ, payload
		}
		require.NotEqual(t, byte(7), typ, "GOAWAY % x", payload)
	}
}

// TestProtocolHTTP2ResetsAnUnparsableRequest: over HTTP/2 the server
// (payflow.NewServer) resets the stream of a request whose target has a
// malformed escape (RST_STREAM, PROTOCOL_ERROR), answering it nothing,
// and the request reaches neither the handler nor its log (PROTOCOL.md
// §5.2).
func TestProtocolHTTP2ResetsAnUnparsableRequest(t *testing.T) {
	logs := &syncBuffer{}
	api := newHTTPFakeAPI()
	h := mustHandler(t, api, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	typ, payload := http2Get(t, h, "/v1/sessions/%zz", 0)
	require.Equal(t, byte(3), typ, "the stream's first frame is RST_STREAM, not of type %d % x", typ, payload)
	assert.Equal(t, []byte{0, 0, 0, 1}, payload, "PROTOCOL_ERROR")
	assert.Empty(t, logs.String(), "no request is logged")
	assert.Empty(t, api.counts(), "no request reaches the API")
}

// TestProtocolAbortedRequestGetsNoReply: a call that aborts its request
// (a panic with http.ErrAbortHandler) gets no reply from the server
// (payflow.NewServer): over HTTP/1.1 it drops the connection, no octet of
// a reply sent, and over HTTP/2 it resets the stream, its first frame
// RST_STREAM (PROTOCOL.md §5.1, Server limits); the request is logged
// with its request ID, marked aborted.
func TestProtocolAbortedRequestGetsNoReply(t *testing.T) {
	t.Run("HTTP/1.1", func(t *testing.T) {
		logs := &syncBuffer{}
		h := mustHandler(t, abortingAPI{newHTTPFakeAPI()}, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		addr := serveOnLoopback(t, payflow.NewServer("", h))
		got, err := io.ReadAll(rawConn(t, addr, "GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Request-ID: abort-1\r\n\r\n"))
		assert.NoError(t, err, "the server closes the connection")
		assert.Empty(t, string(got), "no octet of a reply")
		records := logRecords(t, logs)
		require.Len(t, records, 1)
		assert.Equal(t, "abort-1", records[0]["request_id"])
		assert.Equal(t, true, records[0]["aborted"])
	})
	t.Run("HTTP/2", func(t *testing.T) {
		logs := &syncBuffer{}
		h := mustHandler(t, abortingAPI{newHTTPFakeAPI()}, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		typ, payload := http2Get(t, h, "/v1/info", 0)
		assert.Equal(t, byte(3), typ, "the stream's first frame is RST_STREAM, not of type %d % x", typ, payload)
		records := logRecords(t, logs)
		require.Len(t, records, 1)
		assert.Equal(t, true, records[0]["aborted"])
	})
}

// TestProtocolRequestOverMaxInFlightHasTheHeadersOfEveryReply: a request
// that comes while MaxInFlight others are being served is answered 503
// unavailable with the headers of every reply (PROTOCOL.md §5.1, Server
// limits): its request ID echoed, Cache-Control: no-store, the error
// body's Content-Type and no Retry-After.
func TestProtocolRequestOverMaxInFlightHasTheHeadersOfEveryReply(t *testing.T) {
	api := newHTTPFakeAPI()
	h, release := busyHandler(t, api)
	req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
	req.Header.Set(payflow.RequestIDHeader, "over-1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	assert.Equal(t, http.StatusOK, release(), "the request admitted")

	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, http.Header{
		"Content-Type":  {payflow.ContentType},
		"Cache-Control": {"no-store"},
		http.CanonicalHeaderKey(payflow.RequestIDHeader): {"over-1"},
	}, w.Header())
	assert.Equal(t, payflow.Error{Code: "unavailable", Message: "temporarily unavailable"}, httpRawReply{body: w.Body.Bytes()}.errorBody(t))
	assert.Equal(t, 1, api.count("Info"), "the request over the bound reaches no API")
}

// TestProtocolPathWithDotSegmentsIsNotFound: a path with an empty, "." or
// ".." segment as sent, which http.ServeMux would redirect to its clean
// form, is 404 not_found with an error body, not redirected, and reaches
// no API (PROTOCOL.md §5.2).
func TestProtocolPathWithDotSegmentsIsNotFound(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	id := payflow.ID{1}.String()
	tok := map[string]string{"Authorization": "Bearer tok"}
	for _, tc := range []struct {
		method, path string
	}{
		{http.MethodGet, "/v1/./info"},
		{http.MethodGet, "/v1/info/."},
		{http.MethodGet, "/./v1/info"},
		{http.MethodGet, "/v1/info/"},
		{http.MethodGet, "/v1/sessions//" + id},
		{http.MethodGet, "/v1/sessions/" + id + "/."},
		{http.MethodPost, "/v1/requests/" + id + "/./decline"},
		{http.MethodPost, "/v1/requests/" + id + "/x/../decline"},
	} {
		r := fx.do(t, tc.method, tc.path, tok, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "%s %s", tc.method, tc.path)
		assert.Equal(t, "not_found", r.errorCode(t), "%s %s", tc.method, tc.path)
		assert.Empty(t, r.header.Get("Location"), "%s %s", tc.method, tc.path)
	}
	assert.Empty(t, fx.api.counts(), "no such request reaches the API")
}

// TestProtocolViewsOfTheMessages: over HTTP, a payment request's view
// holds the signed request as the seller card signed it (PaymentView key
// 11) and its SHA-256 (key 12), in the creating seller's view and in the
// payer's, and a session's view holds a pairing code of 6 digits
// (SessionView key 3), as PROTOCOL.md §5.3 gives them.
func TestProtocolViewsOfTheMessages(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	c := mustClient(t, serve(t, s.Fixture), payflow.ClientOptions{})
	msg := s.basket()
	want := sha256.Sum256(msg)

	created, err := c.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)
	assert.Equal(t, msg, created.Request)
	assert.Equal(t, want[:], created.RequestHash)
	read, err := c.Payment(ctx, s.shopper.Token, created.ID)
	require.NoError(t, err)
	assert.Equal(t, msg, read.Request)
	assert.Equal(t, want[:], read.RequestHash)

	v, err := c.Session(ctx, s.shopper.Token, s.session.ID)
	require.NoError(t, err)
	assert.Regexp(t, "^[0-9]{6}$", v.PairingCode)
}

// TestProtocolServerHeaderLimitOfLaterRequests: over HTTP/1.1 the
// server's limit of ServerMaxHeaderBytes on a request's line and headers,
// exact for the first request of a connection
// (TestNewServerLimitsHeadersToServerMaxHeaderBytes), leaves a later
// request of the connection, sent after the reply before it or pipelined
// behind that request, up to 4096 octets more and no more (PROTOCOL.md
// §5.1, Server limits): net/http reads them into its buffer uncounted,
// while it waits for the request (at least the 4 octets it waits for) or
// with the request before it.
func TestProtocolServerHeaderLimitOfLaterRequests(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	addr := serveOnLoopback(t, payflow.NewServer("", h))
	// statuses sends each write of writes in turn on one connection and
	// reads a reply after each, then more until it has read two, and
	// returns the statuses of the replies.
	statuses := func(writes ...string) []int {
		t.Helper()
		conn := rawConn(t, addr, writes[0])
		defer conn.Close()
		br := bufio.NewReader(conn)
		var got []int
		read := func() {
			resp, err := http.ReadResponse(br, nil)
			require.NoError(t, err)
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			got = append(got, resp.StatusCode)
		}
		read()
		for _, w := range writes[1:] {
			_, err := io.WriteString(conn, w)
			require.NoError(t, err)
			read()
		}
		for len(got) < 2 {
			read()
		}
		return got
	}
	first := paddedGet(100)
	assert.Equal(t, []int{200, 200}, statuses(first, paddedGet(payflow.ServerMaxHeaderBytes+4)), "after the reply: 4 octets more")
	assert.Equal(t, []int{200, 431}, statuses(first, paddedGet(payflow.ServerMaxHeaderBytes+4097)), "after the reply: 4097 octets more")
	assert.Equal(t, []int{200, 431}, statuses(first+paddedGet(payflow.ServerMaxHeaderBytes+4097)), "pipelined: 4097 octets more")
}

// TestProtocolClientEscapesTheMerchantID: payflow.Client sends a
// catalog's merchant ID path-escaped, its slashes too, and the dots of a
// merchant ID "." or ".." as %2E, so that no merchant ID makes a segment
// the handler answers 404 (PROTOCOL.md §5.2); the catalog is read.
func TestProtocolClientEscapesTheMerchantID(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	url, sent := recordingServer(t, h, func(r *http.Request) string { return r.RequestURI })
	c := mustClient(t, url, payflow.ClientOptions{MaxAttempts: 1})
	for _, tc := range []struct{ merchant, segment string }{
		{".", "%2E"},
		{"..", "%2E%2E"},
		{"...", "..."},
		{"a/b", "a%2Fb"},
		{"a b", "a%20b"},
		{"café", "caf%C3%A9"},
	} {
		got, err := c.Catalog(context.Background(), "tok", tc.merchant)
		require.NoError(t, err, tc.merchant)
		assert.Equal(t, tc.merchant, got.MerchantID)
		uris := sent()
		assert.Equal(t, "/v1/merchants/"+tc.segment+"/catalog", uris[len(uris)-1], tc.merchant)
	}
}

// TestProtocolHTTP2HeaderListLimit: over HTTP/2 the server
// (payflow.NewServer) takes a request whose header list, as
// SETTINGS_MAX_HEADER_LIST_SIZE counts it (each field's name and value and
// 32 octets more, RFC 9113 §6.5.2), is of 12608 octets and answers one of
// an octet more 431 itself (PROTOCOL.md §5.1, Server limits), reaching no
// API: its reply's header block starts with :status 431 (a literal with
// incremental indexing of the name of the static table's entry 14,
// :status, the value not Huffman coded, which would be no shorter), where
// the other's is :status 200 (the static table's entry 8).
func TestProtocolHTTP2HeaderListLimit(t *testing.T) {
	api := newHTTPFakeAPI()
	h := mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()})
	// :method GET 42, :scheme https 44, :path /v1/info 45, :authority x
	// 43, and x-pad 37 and its value.
	const fixed = 42 + 44 + 45 + 43 + 37
	typ, block := http2Get(t, h, "/v1/info", 12608-fixed)
	require.Equal(t, byte(1), typ, "HEADERS, not % x", block)
	assert.Equal(t, byte(0x88), block[0], ":status 200")
	typ, block = http2Get(t, h, "/v1/info", 12608-fixed+1)
	require.Equal(t, byte(1), typ, "HEADERS, not % x", block)
	assert.Equal(t, []byte{0x4e, 3, '4', '3', '1'}, block[:5], ":status 431")
	assert.Equal(t, 1, api.count("Info"), "the request over the limit reaches no API")
}
