package payflow_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestClientTakesABodyWithoutCodeAsNoErrorBody: an error reply of
// Content-Type application/cbor whose body carries no code (an empty one)
// is no error body: the call fails with the code of its status alone and
// the message of a reply without an error body, and the retry time that
// body gives is not taken (no Retry-After header: a 429 is then no
// *RateLimitedError).
func TestClientTakesABodyWithoutCodeAsNoErrorBody(t *testing.T) {
	for _, tc := range []struct {
		status, attempts int
		code             string
		want             error
	}{
		{http.StatusTooManyRequests, 1, "rate_limited", payflow.ErrRateLimited},
		{http.StatusForbidden, 1, "forbidden", payflow.ErrForbidden},
		{http.StatusServiceUnavailable, 3, "unavailable", payflow.ErrUnavailable},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			sent, err := callCBORErrorReply(t, tc.status, map[int]any{1: "", 2: "brewing", 3: 7})
			_, limited := errors.AsType[*payflow.RateLimitedError](err)
			assert.False(t, limited, "no retry time taken from a body without a code: %v", err)
			requireOnlySentinel(t, err, tc.want)
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok, "%v", err)
			msg := "HTTP " + strconv.Itoa(tc.status) + " without an error body"
			assert.Equal(t, payflow.Error{Code: tc.code, Message: msg, Status: tc.status, RequestID: e.RequestID}, *e)
			assert.Equal(t, int32(tc.attempts), sent)
		})
	}
}

// callCBORErrorReply calls Info, up to 3 attempts, on a server that
// answers every request with status and body in CBOR, of Content-Type
// application/cbor, and returns how many requests the server got and
// the call's error.
func callCBORErrorReply(t *testing.T, status int, body map[int]any) (int32, error) {
	t.Helper()
	return callCBORErrorReplyWith(t, status, nil, body)
}

// callCBORErrorReplyWith is callCBORErrorReply with the fields of header
// in every reply too.
func callCBORErrorReplyWith(t *testing.T, status int, header http.Header, body map[int]any) (int32, error) {
	t.Helper()
	var sent atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		maps.Copy(w.Header(), header)
		w.Header().Set("Content-Type", payflow.ContentType)
		w.WriteHeader(status)
		w.Write(mustCBOR(t, body))
	}))
	defer srv.Close()
	_, err := fastClient(t, srv.URL, 3).Info(context.Background())
	return sent.Load(), err
}
