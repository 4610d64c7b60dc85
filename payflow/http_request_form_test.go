package payflow_test

import (
	"net/http"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestHTTPContentTypeOfABodyRoute: a request to an endpoint that takes a
// body is refused 400 invalid unless it carries one Content-Type,
// application/cbor (in any case, parameters allowed): another type, or
// none, with a body or without one, the type being checked before the
// body's content; with that type, an empty body is refused as a body that
// does not decode.
func TestHTTPContentTypeOfABodyRoute(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	good := mustCBOR(t, &payflow.ChallengeRequest{CardID: "8944100000000000009"})
	const wrongType = "payflow: invalid request: content type must be application/cbor"
	for _, tt := range []struct {
		name   string
		header http.Header
		body   []byte
		status int
		msg    string
	}{
		{"another type", http.Header{"Content-Type": {"application/json"}}, good, 400, wrongType},
		{"none", http.Header{"Content-Type": nil}, good, 400, wrongType},
		{"none and no body", nil, nil, 400, wrongType},
		{"another type and no body", http.Header{"Content-Type": {"text/plain"}}, nil, 400, wrongType},
		{"cbor and no body", http.Header{"Content-Type": {payflow.ContentType}}, nil, 400, "payflow: invalid request: body is not a valid ChallengeRequest: it is empty"},
		{"cbor in another case, with a parameter", http.Header{"Content-Type": {"Application/CBOR; charset=binary"}}, good, 200, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.doHeader(t, http.MethodPost, "/v1/challenges", tt.header, tt.body)
			assert.Equal(t, tt.status, r.status)
			if tt.msg != "" {
				assert.Equal(t, "invalid", r.errorCode(t))
				assert.Equal(t, tt.msg, r.errorBody(t).Message)
			}
		})
	}
	assert.Equal(t, 1, fx.api.count("Challenge"), "only the request of one application/cbor reaches the API")
}

// TestHTTPPathIDOnceUnescaped: the ID in a path is read once unescaped,
// as every path is: an escaped digit (%61 for a) is that digit, and the
// path so written is the same path, for the scope of an Idempotency-Key
// too (the request with the plain path gets the stored reply), while an
// escaped upper-case digit (%41 for A) is refused 400 invalid as the digit
// itself is.
func TestHTTPPathIDOnceUnescaped(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	id := payflow.ID{0xab, 0xcd}
	plain := id.String()
	header := http.Header{"Authorization": {"Bearer tok"}, payflow.IdempotencyKeyHeader: {"k1"}}

	r := fx.doHeader(t, http.MethodPost, "/v1/requests/%61"+plain[1:]+"/decline", header, nil)
	require.Equal(t, http.StatusOK, r.status)
	var v payflow.PaymentView
	require.NoError(t, cbor.Unmarshal(r.body, &v))
	assert.Equal(t, id, v.ID, "the call got the ID unescaped")
	assert.Empty(t, r.header.Get(payflow.ReplayedHeader))

	r = fx.doHeader(t, http.MethodPost, "/v1/requests/"+plain+"/decline", header, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "true", r.header.Get(payflow.ReplayedHeader), "the same path, the same key")
	assert.Equal(t, 1, fx.api.count("Decline"))

	r = fx.doHeader(t, http.MethodPost, "/v1/requests/%41"+plain[1:]+"/decline", http.Header{"Authorization": {"Bearer tok"}}, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "invalid", r.errorCode(t))
	assert.Equal(t, "payflow: invalid request: ID must be 32 lower-case hexadecimal digits", r.errorBody(t).Message)
	assert.Equal(t, 1, fx.api.count("Decline"), "a refused ID reaches no API")
}
