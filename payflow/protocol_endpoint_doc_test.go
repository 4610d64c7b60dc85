package payflow_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/payflow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolEndpointCalls keeps the table of PROTOCOL.md §5.2 and the
// handler in step: each endpoint, given a token and an empty map as its
// body where it takes one, answers 200 from one call, of the method of API
// that its row names, and that method takes the request body and gives the
// response body of the row.
func TestProtocolEndpointCalls(t *testing.T) {
	api := reflect.TypeFor[payflow.API]()
	for _, r := range protocoldoc.Table(t, "### 5.2 Endpoints") {
		require.Len(t, r, 5, "row %q", r)
		method, path, ok := strings.Cut(strings.Trim(r[0], "`"), " ")
		require.True(t, ok, "row %q", r)
		path = strings.ReplaceAll(path, "{id}", payflow.ID{1}.String())
		path = strings.ReplaceAll(path, "{merchant}", "grocer-1")
		name, _, _ := strings.Cut(strings.Trim(r[4], "`"), "`")
		m, ok := api.MethodByName(name)
		require.True(t, ok, "%s: API has no method %s", r[0], name)

		in := "none"
		if last := m.Type.In(m.Type.NumIn() - 1); last.Kind() == reflect.Pointer {
			in = last.Elem().Name()
		}
		assert.Equal(t, r[2], in, "%s: request body of API.%s", r[0], name)
		assert.Equal(t, r[3], m.Type.Out(0).Elem().Name(), "%s: response body of API.%s", r[0], name)

		f := newHTTPFakeAPI()
		h := mustHandler(t, f, payflow.HandlerOptions{Logger: discardLogger()})
		var body []byte
		if r[2] != "none" {
			body = []byte{0xa0}
		}
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		if body != nil {
			req.Header.Set("Content-Type", payflow.ContentType)
		}
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code, "%s: %s", r[0], rec.Body.Bytes())
		for i := range api.NumMethod() {
			other := api.Method(i).Name
			want := 0
			if other == name {
				want = 1
			}
			assert.Equal(t, want, f.count(other), "%s: calls of API.%s", r[0], other)
		}
	}
}
