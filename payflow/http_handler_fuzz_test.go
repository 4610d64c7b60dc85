package payflow_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/casimpay/casimpay/payflow"
)

// httpFuzzRoutes are the endpoints FuzzHTTPHandler sends bodies to, by
// its route byte.
var httpFuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/challenges"},
	{"POST", "/v1/login"},
	{"POST", "/v1/resolve"},
	{"POST", "/v1/pair"},
	{"POST", "/v1/requests"},
	{"POST", "/v1/requests/01000000000000000000000000000000/consent"},
	{"POST", "/v1/requests/01000000000000000000000000000000/capture"},
	{"POST", "/v1/requests/01000000000000000000000000000000/decline"},
	{"POST", "/v1/refunds"},
	{"GET", "/v1/info"},
}

// FuzzHTTPHandler sends any body to every endpoint of a handler whose API
// always succeeds: the reply is 200 or an error body whose status is the
// status of its code, and never a server error.
func FuzzHTTPHandler(f *testing.F) {
	f.Add(uint8(0), []byte{0xa1, 0x01, 0x63, '1', '2', '3'})
	f.Add(uint8(6), []byte{0xa1, 0x02, 0x18, 0x64})
	f.Add(uint8(5), []byte{0xa1, 0x01, 0x42, 0xd2, 0x84})
	f.Add(uint8(7), []byte{})
	f.Add(uint8(4), []byte{0xa2, 0x01, 0x40, 0x01, 0x40})
	h := mustHandler(f, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger(), MaxBodyBytes: 4096})
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := httpFuzzRoutes[int(route)%len(httpFuzzRoutes)]
		req := httptest.NewRequest(rt.method, rt.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", payflow.ContentType)
		req.Header.Set("Authorization", "Bearer token")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
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
