package payflow_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/casimpay/casimpay/payflow"
)

// httpFuzzRoutes are the endpoints of PROTOCOL.md §5.2 that
// FuzzHTTPHandler sends requests to, by its route byte; {id} stands for
// the path's ID (a merchant ID in the catalog's path).
var httpFuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/challenges"},
	{"POST", "/v1/login"},
	{"POST", "/v1/resolve"},
	{"POST", "/v1/pair"},
	{"POST", "/v1/requests"},
	{"POST", "/v1/requests/{id}/consent"},
	{"POST", "/v1/requests/{id}/capture"},
	{"POST", "/v1/requests/{id}/decline"},
	{"POST", "/v1/refunds"},
	{"GET", "/v1/info"},
	{"GET", "/v1/sessions/{id}"},
	{"GET", "/v1/merchants/{id}/catalog"},
	{"GET", "/v1/requests/{id}"},
	{"POST", "/v1/requests/{id}/cancel"},
}

// The forms of a request ID that the handler keeps, and of one it makes,
// and of a bearer token (a b64token).
var (
	httpFuzzRequestID     = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	httpFuzzMadeRequestID = regexp.MustCompile(`^[0-9a-f]{24}$`)
	httpFuzzB64Token      = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)
)

// FuzzHTTPHandler sends any request to every endpoint of a handler whose
// API always succeeds, with a reply that encodes: any path ID
// (path-escaped into the path), Authorization, Idempotency-Key,
// X-Request-ID and Content-Type headers and body. A header's value is the
// argument split at each newline, which no header value holds, so that one
// argument may send the header twice; an empty argument sends none. The
// reply is 200 or an error body, valid CBOR, whose status is the status of
// its code, and never a server error; its X-Request-ID is the request's
// one when it sent one, well formed once the spaces and tabs around it are
// left out, or 24 hexadecimal digits (for none, a malformed one, or the
// header twice). Every token that reaches the API is a b64token (RFC 6750
// §2.1).
func FuzzHTTPHandler(f *testing.F) {
	api := newHTTPFakeAPI()
	api.utf8Only = true // a reply of text not UTF-8 is the API's fault: 500
	h := mustHandler(f, api, payflow.HandlerOptions{Logger: discardLogger(), MaxBodyBytes: 4096})
	f.Fuzz(func(t *testing.T, route uint8, id, authorization, key, requestID, contentType string, body []byte) {
		rt := httpFuzzRoutes[int(route)%len(httpFuzzRoutes)]
		req := httptest.NewRequest(rt.method, strings.ReplaceAll(rt.path, "{id}", url.PathEscape(id)), bytes.NewReader(body))
		for name, v := range map[string]string{
			"Authorization": authorization, payflow.IdempotencyKeyHeader: key,
			payflow.RequestIDHeader: requestID, "Content-Type": contentType,
		} {
			if v != "" {
				req.Header[http.CanonicalHeaderKey(name)] = strings.Split(v, "\n")
			}
		}
		api.set(func(f *httpFakeAPI) { f.tokens = nil })
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		sent, echoed := req.Header.Values(payflow.RequestIDHeader), rec.Header().Get(payflow.RequestIDHeader)
		given := ""
		if len(sent) == 1 {
			given = strings.Trim(sent[0], " \t") // no part of the value (RFC 9110 §5.5)
		}
		if keep := httpFuzzRequestID.MatchString(given); keep && echoed != given || !keep && !httpFuzzMadeRequestID.MatchString(echoed) {
			t.Fatalf("request ID %q echoed as %q", sent, echoed)
		}
		if tok := api.lastToken(); tok != "" && !httpFuzzB64Token.MatchString(tok) {
			t.Fatalf("the API was given the token %q", tok)
		}
		if rec.Code == http.StatusOK {
			return
		}
		var e payflow.Error
		if err := cbor.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("status %d with an undecodable error body: %v", rec.Code, err)
		}
		if rec.Code >= 500 || payflow.StatusOf(e.Code) != rec.Code {
			t.Fatalf("status %d with code %q", rec.Code, e.Code)
		}
	})
}
