package payflow_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// serveOnLoopback serves srv on a loopback port until the test ends and
// returns its address.
func serveOnLoopback(t *testing.T, srv *http.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// rawConn opens a connection to addr, closed when the test ends at the
// latest, every read and write of which fails after 5 s (a server that
// never answered fails the test rather than hang it), and sends req on it.
func rawConn(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	return conn
}

// rawRequest sends the bytes of req on a new connection to addr and reads
// the reply, so that a test can send what http.Client never would.
func rawRequest(t *testing.T, addr, req string) httpRawReply {
	t.Helper()
	conn := rawConn(t, addr, req)
	defer conn.Close()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return httpRawReply{status: resp.StatusCode, header: resp.Header, body: b}
}

// logRecords decodes the JSON log records written to b.
func logRecords(t *testing.T, b *syncBuffer) []map[string]any {
	t.Helper()
	var records []map[string]any
	dec := json.NewDecoder(strings.NewReader(b.String()))
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		records = append(records, m)
	}
	return records
}

// TestNewServerAnswersOptionsStarNotFound: "OPTIONS *", which net/http
// answers itself by default (200 and no header of PROTOCOL.md §5.1),
// reaches the handler as any other request does: 404 not_found with an
// error body, Cache-Control: no-store, the request ID echoed and one log
// record with it.
func TestNewServerAnswersOptionsStarNotFound(t *testing.T) {
	logs := &syncBuffer{}
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	addr := serveOnLoopback(t, payflow.NewServer("", h))
	r := rawRequest(t, addr, "OPTIONS * HTTP/1.1\r\nHost: x\r\nX-Request-ID: options-1\r\n\r\n")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "not_found", r.errorCode(t))
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Equal(t, "options-1", r.header.Get(payflow.RequestIDHeader))
	records := logRecords(t, logs)
	require.Len(t, records, 1)
	assert.Equal(t, "options-1", records[0]["request_id"])
	assert.Equal(t, "OPTIONS", records[0]["method"])
	assert.Equal(t, float64(http.StatusNotFound), records[0]["status"])
}

// TestNewServerWritesTheReplyAfterASlowBodyAndASlowCall: the reply's
// deadline, which runs from the end of the headers, falls after the latest
// moment a call under the default CallTimeout can end: its body read until
// the whole request's deadline (which runs from before the headers over
// HTTP/1.1, from their end over HTTP/2), then the call run until its own
// deadline. A margin of 5 s more is left for the call to return once its
// context ended and for the reply to be written, so that such a call still
// gets its reply, an error one too.
func TestNewServerWritesTheReplyAfterASlowBodyAndASlowCall(t *testing.T) {
	srv := payflow.NewServer("", http.NotFoundHandler())
	assert.Equal(t, payflow.ServerReadTimeout, srv.ReadTimeout)
	assert.Equal(t, payflow.ServerWriteTimeout, srv.WriteTimeout)
	assert.GreaterOrEqual(t, srv.WriteTimeout, srv.ReadTimeout+payflow.DefaultCallTimeout+5*time.Second)
}

// TestNewServerLimitsHeadersToServerMaxHeaderBytes: over HTTP/1.1 a
// request whose request line and headers, the blank line after them
// included, take ServerMaxHeaderBytes is served, and one of a byte more is
// 431, though net/http reads 4096 bytes beyond the MaxHeaderBytes of its
// Server; over HTTP/2 the server announces the header list size that
// PROTOCOL.md §5.1 gives.
func TestNewServerLimitsHeadersToServerMaxHeaderBytes(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	t.Run("HTTP/1.1", func(t *testing.T) {
		addr := serveOnLoopback(t, payflow.NewServer("", h))
		assert.Equal(t, http.StatusOK, rawRequest(t, addr, paddedGet(payflow.ServerMaxHeaderBytes)).status)
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, rawRequest(t, addr, paddedGet(payflow.ServerMaxHeaderBytes+1)).status)
	})
	t.Run("HTTP/2", func(t *testing.T) {
		assert.Equal(t, uint32(12608), http2Setting(t, serveHTTP2(t, h), http2SettingMaxHeaderListSize))
	})
}

// paddedGet is an HTTP/1.1 GET of /v1/info whose request line and
// headers, the blank line after them included, take size octets, padded
// by a header X-Pad.
func paddedGet(size int) string {
	const head, tail = "GET /v1/info HTTP/1.1\r\nHost: x\r\nX-Pad: ", "\r\n\r\n"
	return head + strings.Repeat("a", size-len(head)-len(tail)) + tail
}

// serveHTTP2 serves h with payflow.NewServer over TLS, HTTP/2 enabled, on
// a test server closed when the test ends.
func serveHTTP2(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config = payflow.NewServer("", h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// http2SettingMaxHeaderListSize is SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113
// §6.5.2).
const http2SettingMaxHeaderListSize = 6

// http2Open opens an HTTP/2 connection to srv, closed when the test ends,
// every read and write of which fails after 5 s, and sends the client
// preface (the magic octets and an empty SETTINGS frame) followed by
// frames, the octets of any frames to send at once.
func http2Open(t *testing.T, srv *httptest.Server, frames []byte) *tls.Conn {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.Equal(t, "h2", conn.ConnectionState().NegotiatedProtocol)
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"+string(frames))
	require.NoError(t, err)
	return conn
}

// http2ReadFrame reads a frame from conn, a 9-octet header (24-bit
// length, type, flags, stream) and its payload, and returns its type,
// stream and payload; msgAndArgs tell what fails when there is none.
func http2ReadFrame(t *testing.T, conn io.Reader, msgAndArgs ...any) (typ byte, stream uint32, payload []byte) {
	t.Helper()
	var head [9]byte
	_, err := io.ReadFull(conn, head[:])
	require.NoError(t, err, msgAndArgs...)
	payload = make([]byte, int(head[0])<<16|int(head[1])<<8|int(head[2]))
	_, err = io.ReadFull(conn, payload)
	require.NoError(t, err)
	return head[3], binary.BigEndian.Uint32(head[5:]) &^ (1 << 31), payload
}

// http2Setting opens an HTTP/2 connection to srv and returns the value of
// setting id in the server's first SETTINGS frame, failing the test when
// it is not there.
func http2Setting(t *testing.T, srv *httptest.Server, id uint16) uint32 {
	t.Helper()
	// The server's preface is a SETTINGS frame (type 4, stream 0), 6
	// octets a setting.
	typ, _, payload := http2ReadFrame(t, http2Open(t, srv, nil))
	require.Equal(t, byte(4), typ, "the first frame is SETTINGS")
	for s := payload; len(s) >= 6; s = s[6:] {
		if binary.BigEndian.Uint16(s) == id {
			return binary.BigEndian.Uint32(s[2:])
		}
	}
	require.Failf(t, "setting not sent", "the server's SETTINGS % x has no setting %d", payload, id)
	return 0
}

// TestHTTPAuthorizationWhitespaceAroundTheValue: spaces and tabs before
// or after the Authorization header's value are no part of it (RFC 9110
// §5.5), over HTTP/2, whose server passes them on, as over HTTP/1.1,
// whose server drops them: the token is taken without them.
func TestHTTPAuthorizationWhitespaceAroundTheValue(t *testing.T) {
	api := newHTTPFakeAPI()
	h := mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()})
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(h)
			srv.EnableHTTP2 = proto == "HTTP/2"
			srv.StartTLS()
			t.Cleanup(srv.Close)
			for _, v := range []string{"Bearer tok ", " Bearer tok", "Bearer tok\t", "\t Bearer  tok \t"} {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/requests/"+payflow.ID{1}.String(), nil)
				require.NoError(t, err)
				req.Header.Set("Authorization", v)
				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.True(t, strings.HasPrefix(resp.Proto, proto), "%q over %s", v, resp.Proto)
				assert.Equal(t, http.StatusOK, resp.StatusCode, "%q", v)
				assert.Equal(t, "tok", api.lastToken(), "%q", v)
			}
		})
	}
}

// TestHTTPKeyAndRequestIDWhitespaceAroundTheValue: spaces and tabs before
// or after the value of an Idempotency-Key or an X-Request-ID are no part
// of it (RFC 9110 §5.5), over HTTP/2 as over HTTP/1.1: the key " k1\t" is
// the key k1, whose stored reply a retry with it gets, and the request ID
// " rid-1" is kept as rid-1.
func TestHTTPKeyAndRequestIDWhitespaceAroundTheValue(t *testing.T) {
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
		t.Run(proto, func(t *testing.T) {
			api := newHTTPFakeAPI()
			srv := httptest.NewUnstartedServer(mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()}))
			srv.EnableHTTP2 = proto == "HTTP/2"
			srv.StartTLS()
			t.Cleanup(srv.Close)
			for i, key := range []string{" k1\t", "k1"} {
				req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/requests", bytes.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", payflow.ContentType)
				req.Header.Set(payflow.IdempotencyKeyHeader, key)
				req.Header.Set(payflow.RequestIDHeader, " rid-1")
				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.True(t, strings.HasPrefix(resp.Proto, proto), "%q over %s", key, resp.Proto)
				assert.Equal(t, http.StatusOK, resp.StatusCode, "%q", key)
				assert.Equal(t, "rid-1", resp.Header.Get(payflow.RequestIDHeader), "%q", key)
				if i > 0 {
					assert.Equal(t, "true", resp.Header.Get(payflow.ReplayedHeader), "%q", key)
				}
			}
			assert.Equal(t, 1, api.count("CreateRequest"))
		})
	}
}
