package payflow_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestReplyMemoryZeroValue: the zero ReplyMemory is an empty one, ready
// to use, as one of NewReplyMemory is: it claims a key, stores its reply
// and replays it, and so does a handler given one as its Replies, which
// runs a POST once per key.
func TestReplyMemoryZeroValue(t *testing.T) {
	var m payflow.ReplyMemory
	ctx, t0 := context.Background(), time.Unix(1_800_000_000, 0)
	assert.Zero(t, m.DeleteExpired(t0))
	rep, err := m.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	require.Nil(t, rep)
	require.NoError(t, m.FinishIdempotent(ctx, "k", t0.Add(time.Minute), http.StatusOK, []byte("reply"), t0.Add(time.Hour)))
	rep, err = m.BeginIdempotent(ctx, "k", []byte{1}, t0, t0.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, &payflow.IdempotentReply{Status: http.StatusOK, Reply: []byte("reply")}, rep)

	api := newHTTPFakeAPI()
	h := mustHandler(t, api, payflow.HandlerOptions{Replies: &payflow.ReplyMemory{}, Logger: discardLogger()})
	body := []byte{0xa1, 0x01, 0x44, 1, 2, 3, 4} // PairRequest{Proof: {1, 2, 3, 4}}
	for i := range 2 {
		req := httptest.NewRequest(http.MethodPost, "/v1/pair", bytes.NewReader(body))
		req.Header.Set("Content-Type", payflow.ContentType)
		req.Header.Set(payflow.IdempotencyKeyHeader, "k1")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, "attempt %d: %x", i+1, rec.Body.Bytes())
		assert.Equal(t, i == 1, rec.Header().Get(payflow.ReplayedHeader) == "true", "attempt %d", i+1)
	}
	assert.Equal(t, 1, api.count("Pair"), "run once")
}
