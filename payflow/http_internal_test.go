package payflow

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestHeaderFieldsCanonical: the names by which headerValue reads the
// headers are their canonical forms, the keys of an http.Header, so that
// it finds them.
func TestHeaderFieldsCanonical(t *testing.T) {
	for name, field := range map[string]string{
		"Authorization": authorizationField, IdempotencyKeyHeader: idempotencyKeyField, RequestIDHeader: requestIDField,
	} {
		assert.Equal(t, http.CanonicalHeaderKey(name), field, name)
	}
}

// headersRequest is a request with the headers that the handler takes
// from every request (Authorization, Idempotency-Key and X-Request-ID, as
// an HTTP/2 server passes them on, with spaces and tabs around their
// values).
func headersRequest() *http.Request {
	r := httptest.NewRequest("POST", "/v1/resolve", nil)
	r.Header.Set("Authorization", " Bearer tok-1\t")
	r.Header.Set(IdempotencyKeyHeader, "\tk1 ")
	r.Header.Set(RequestIDHeader, " rid-1 ")
	return r
}

// readHeaders reads the headers of headersRequest as the handler does,
// failing t for a value other than the one sent.
func readHeaders(t testing.TB, r *http.Request) {
	if tok, err := bearerToken(r); err != nil || tok != "tok-1" {
		t.Fatal(tok, err)
	}
	if v, n := headerValue(r, idempotencyKeyField); n != 1 || v != "k1" {
		t.Fatal(v, n)
	}
	if v, n := headerValue(r, requestIDField); n != 1 || v != "rid-1" {
		t.Fatal(v, n)
	}
}

// TestRequestHeadersAllocateNothing: reading the headers that the handler
// takes from every request allocates nothing.
func TestRequestHeadersAllocateNothing(t *testing.T) {
	r := headersRequest()
	assert.Zero(t, testing.AllocsPerRun(100, func() { readHeaders(t, r) }))
}

// BenchmarkRequestHeaders measures the reading of the headers that the
// handler takes from every request (headersRequest).
func BenchmarkRequestHeaders(b *testing.B) {
	r := headersRequest()
	b.ReportAllocs()
	for b.Loop() {
		readHeaders(b, r)
	}
}

// failingWriter is a ResponseWriter whose Write takes n octets and fails
// with err, or panics when panics is set.
type failingWriter struct {
	*httptest.ResponseRecorder
	n      int
	err    error
	panics bool
}

func (w *failingWriter) Write(b []byte) (int, error) {
	if w.panics {
		panic("writer refuses the body")
	}
	return w.n, w.err
}

// TestStatusWriterRecordsWhatTheWriterTook: a Write given no status
// before it records the status 200 and the octets that the wrapped
// writer took once its Write returns, a failing one too, with its error; a
// Write that panics records none of them and leaves writing set.
func TestStatusWriterRecordsWhatTheWriterTook(t *testing.T) {
	failed := errors.New("connection gone")
	sw := &statusWriter{ResponseWriter: &failingWriter{ResponseRecorder: httptest.NewRecorder(), n: 2, err: failed}}
	n, err := sw.Write([]byte("abcd"))
	assert.Equal(t, 2, n)
	assert.ErrorIs(t, err, failed)
	assert.Equal(t, statusWriter{ResponseWriter: sw.ResponseWriter, status: http.StatusOK, bytes: 2, err: failed}, *sw)

	sw = &statusWriter{ResponseWriter: &failingWriter{ResponseRecorder: httptest.NewRecorder(), panics: true}}
	assert.Panics(t, func() { sw.Write([]byte("abcd")) })
	assert.Equal(t, statusWriter{ResponseWriter: sw.ResponseWriter, writing: true}, *sw)
}
