package payflow_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestHTTPStoresEveryFinalRefusal: a POST with an Idempotency-Key refused
// with a final error has its refusal stored and replayed to a retry,
// which the API does not run again, whatever the error; one refused with
// an error that a retry may change (a lost race, rate limiting, a failure
// of the server, a key in flight or reused at the API) is not stored, and
// the retry runs. Unauthorized refusals are never stored either
// (TestHTTPStoresNoUnauthorizedReply).
func TestHTTPStoresEveryFinalRefusal(t *testing.T) {
	final := map[string]bool{
		"invalid": true, "forbidden": true, "not_found": true, "bad_signature": true,
		"card_not_trusted": true, "card_counter_regression": true, "nonce_replayed": true,
		"expired": true, "final_state": true, "mismatch": true, "insufficient_funds": true,
		"over_limit": true,
	}
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	for _, tc := range httpErrorTable {
		if tc.code == "unauthorized" {
			continue
		}
		t.Run(tc.code, func(t *testing.T) {
			fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
			key := map[string]string{payflow.IdempotencyKeyHeader: "k-" + tc.code}
			fx.api.set(func(f *httpFakeAPI) { f.err = tc.err })
			first := fx.do(t, http.MethodPost, "/v1/requests", key, body)
			require.Equal(t, tc.status, first.status)
			require.Equal(t, tc.code, first.errorCode(t))
			fx.api.set(func(f *httpFakeAPI) { f.err = nil })
			again := fx.do(t, http.MethodPost, "/v1/requests", key, body)
			if final[tc.code] {
				assert.Equal(t, tc.status, again.status)
				assert.Equal(t, first.body, again.body)
				assert.Equal(t, "true", again.header.Get(payflow.ReplayedHeader))
				assert.Equal(t, 1, fx.api.count("CreateRequest"))
				return
			}
			assert.Equal(t, http.StatusOK, again.status)
			assert.Empty(t, again.header.Get(payflow.ReplayedHeader))
			assert.Equal(t, 2, fx.api.count("CreateRequest"))
		})
	}
}
