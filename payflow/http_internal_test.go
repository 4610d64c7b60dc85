package payflow

import (
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
