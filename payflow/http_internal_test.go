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

// BenchmarkRequestHeaders measures the reading of the headers that the
// handler takes from every request (Authorization, Idempotency-Key and
// X-Request-ID, as an HTTP/2 server passes them on, with spaces and tabs
// around their values): none of them allocates.
func BenchmarkRequestHeaders(b *testing.B) {
	r := httptest.NewRequest("POST", "/v1/resolve", nil)
	r.Header.Set("Authorization", " Bearer tok-1\t")
	r.Header.Set(IdempotencyKeyHeader, "\tk1 ")
	r.Header.Set(RequestIDHeader, " rid-1 ")
	b.ReportAllocs()
	for b.Loop() {
		if tok, err := bearerToken(r); err != nil || tok != "tok-1" {
			b.Fatal(tok, err)
		}
		if v, n := headerValue(r, idempotencyKeyField); n != 1 || v != "k1" {
			b.Fatal(v, n)
		}
		if v, n := headerValue(r, requestIDField); n != 1 || v != "rid-1" {
			b.Fatal(v, n)
		}
	}
}
