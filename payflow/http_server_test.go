package payflow_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
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

// rawRequest sends the bytes of req on a new connection to addr and reads
// the reply, so that a test can send what http.Client never would.
func rawRequest(t *testing.T, addr, req string) httpRawReply {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	// Bounds every read and write: a server that never answered would
	// fail the test rather than hang it.
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
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
