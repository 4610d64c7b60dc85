package payflow_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
)

// TestHTTPAnswersAReplyOfTextNotUTF8Internal: an API reply that holds a
// text string that is not UTF-8, which no client decodes, is a fault of
// the API, as a nil reply is: 500 internal with no detail, logged with the
// request ID and its cause, and under an Idempotency-Key not stored, so
// that a retry runs the call again; the client gets ErrInternal.
func TestHTTPAnswersAReplyOfTextNotUTF8Internal(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{MaxAttempts: 1})
	// The fake API answers a pairing with the proof as the pairing code.
	body := mustCBOR(t, &payflow.PairRequest{Proof: []byte{0xff}})
	for i := range 2 {
		r := fx.do(t, http.MethodPost, "/v1/pair", map[string]string{payflow.IdempotencyKeyHeader: "k1", payflow.RequestIDHeader: "utf8-1"}, body)
		assert.Equal(t, http.StatusInternalServerError, r.status)
		e := r.errorBody(t)
		assert.Equal(t, "internal", e.Code)
		assert.Equal(t, "internal error", e.Message)
		assert.Empty(t, r.header.Get(payflow.ReplayedHeader))
		assert.Equal(t, i+1, fx.api.count("Pair"), "not stored: the retry runs")
	}
	failed := 0
	for _, rec := range logRecords(t, fx.logs) {
		if rec["msg"] == "request failed" {
			failed++
			assert.Equal(t, "utf8-1", rec["request_id"])
			assert.Equal(t, "payflow: internal error: the API's reply is no body a client decodes: cbor: invalid UTF-8 string", rec["err"])
		}
	}
	assert.Equal(t, 2, failed, "each request's cause logged")

	_, err := fx.client.Pair(context.Background(), &payflow.PairRequest{Proof: []byte{0xff}})
	requireOnlySentinel(t, err, payflow.ErrInternal)
}
