package payflow_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// abandonLost is a reply store whose releases of a key fail with
// errDatabaseGone.
type abandonLost struct{ *payflow.ReplyMemory }

func (abandonLost) AbandonIdempotent(context.Context, string, time.Time) error {
	return errDatabaseGone
}

// TestHTTPKeyReleaseFails: a call under an Idempotency-Key whose refusal
// is not stored (a lost race: conflict) and whose release of the key
// fails answers the refusal all the same, and logs the store's error;
// the key stays in flight, so that a retry of it is
// idempotency_in_flight until its lease ends.
func TestHTTPKeyReleaseFails(t *testing.T) {
	api := newHTTPFakeAPI()
	api.set(func(f *httpFakeAPI) { f.err = payflow.ErrConflict })
	logs := &syncBuffer{}
	h, err := payflow.NewHandler(api, payflow.HandlerOptions{Replies: abandonLost{payflow.NewReplyMemory()}, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})))
		req.Header.Set("Content-Type", payflow.ContentType)
		req.Header.Set(payflow.IdempotencyKeyHeader, "k1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}

	w := post()
	require.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, "conflict", httpRawReply{status: w.Code, header: w.Header(), body: w.Body.Bytes()}.errorCode(t))
	assert.Equal(t, 1, strings.Count(logs.String(), `"level":"ERROR","msg":"abandoning idempotency key",`), logs.String())
	assert.Equal(t, 1, strings.Count(logs.String(), `"err":"database gone"`), logs.String())

	w = post()
	require.Equal(t, http.StatusConflict, w.Code)
	assert.Equal(t, "idempotency_in_flight", httpRawReply{status: w.Code, header: w.Header(), body: w.Body.Bytes()}.errorCode(t))
}
