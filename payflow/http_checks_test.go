package payflow_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestHTTPGetWithKeyRunsEveryTime: an Idempotency-Key on a GET, well
// formed, is checked and otherwise unused: the GET reads what is there
// now each time, and no reply of it is stored or replayed, that of a GET
// that takes a token neither.
func TestHTTPGetWithKeyRunsEveryTime(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	key := map[string]string{payflow.IdempotencyKeyHeader: "k1"}
	withToken := map[string]string{payflow.IdempotencyKeyHeader: "k1", "Authorization": "Bearer tok"}
	for i := range 2 {
		r := fx.do(t, http.MethodGet, "/v1/info", key, nil)
		require.Equal(t, http.StatusOK, r.status, "GET %d", i)
		assert.Empty(t, r.header.Get(payflow.ReplayedHeader), "GET %d", i)
		r = fx.do(t, http.MethodGet, "/v1/sessions/"+payflow.ID{1}.String(), withToken, nil)
		require.Equal(t, http.StatusOK, r.status, "GET %d", i)
		assert.Empty(t, r.header.Get(payflow.ReplayedHeader), "GET %d", i)
	}
	assert.Equal(t, 2, fx.api.count("Info"))
	assert.Equal(t, 2, fx.api.count("Session"))
}

// takenOverReplies is a ReplyMemory whose key, each time a reply is to be
// stored, has just been taken over by another request after its lease,
// so that FinishIdempotent fails with ErrNotFound; it counts those calls.
type takenOverReplies struct {
	*payflow.ReplyMemory
	finishes atomic.Int32
}

func (m *takenOverReplies) FinishIdempotent(context.Context, string, time.Time, int, []byte, time.Time) error {
	m.finishes.Add(1)
	return fmt.Errorf("%w: idempotency key not in flight", payflow.ErrNotFound)
}

// TestHTTPReplyOfAKeyTakenOverIsNotStoredAgain: a final reply whose key
// another request took over (FinishIdempotent answers ErrNotFound) is
// answered to its client, logged as no longer held, and neither tried
// again at once, as a failure of the store is, nor later: the key is the
// other request's, whose reply the first one's must not replace.
func TestHTTPReplyOfAKeyTakenOverIsNotStoredAgain(t *testing.T) {
	st := &takenOverReplies{ReplyMemory: payflow.NewReplyMemory()}
	fx := newHTTPFixture(t, payflow.HandlerOptions{Replies: st}, payflow.ClientOptions{})
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	r := fx.do(t, http.MethodPost, "/v1/requests", map[string]string{payflow.IdempotencyKeyHeader: "k1"}, body)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, int32(1), st.finishes.Load(), "one try, at once")
	assert.True(t, strings.Contains(fx.logs.String(), "the key is no longer held under its lease"), fx.logs.String())
	assert.False(t, strings.Contains(fx.logs.String(), "tried again"), fx.logs.String())
}

// lostThenTakenReplies is a ReplyMemory whose FinishIdempotent fails as a
// database gone away does for the first two calls, which the request
// makes, and then answers ErrNotFound, as for a key that another request
// took over meanwhile; it counts the calls and tells of the third.
type lostThenTakenReplies struct {
	*payflow.ReplyMemory
	finishes atomic.Int32
	taken    chan struct{}
}

func (m *lostThenTakenReplies) FinishIdempotent(context.Context, string, time.Time, int, []byte, time.Time) error {
	switch m.finishes.Add(1) {
	case 1, 2:
		return errDatabaseGone
	case 3:
		close(m.taken)
	}
	return fmt.Errorf("%w: idempotency key not in flight", payflow.ErrNotFound)
}

// TestHTTPLaterTriesEndOnceTheKeyIsTakenOver: the tries to store a reply
// that the request failed to store end at the first that finds its key
// no longer held under its lease (ErrNotFound), logged so, rather than go
// on for the rest of the lease, or until Close.
func TestHTTPLaterTriesEndOnceTheKeyIsTakenOver(t *testing.T) {
	st := &lostThenTakenReplies{ReplyMemory: payflow.NewReplyMemory(), taken: make(chan struct{})}
	logs := &syncBuffer{}
	h, err := payflow.NewHandler(newHTTPFakeAPI(), payflow.HandlerOptions{Replies: st, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "/v1/requests", bytes.NewReader(mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})))
	req.Header.Set("Content-Type", payflow.ContentType)
	req.Header.Set(payflow.IdempotencyKeyHeader, "k1")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	require.Equal(t, http.StatusOK, w.Code)
	select {
	case <-st.taken:
	case <-time.After(20 * time.Second): // a watchdog: the first later try comes within a second
		t.Fatal("the reply was not tried again")
	}
	require.NoError(t, h.Close())
	assert.Equal(t, int32(3), st.finishes.Load(), "two tries of the request, one later")
	assert.Equal(t, 1, strings.Count(logs.String(), "the key is no longer held under its lease"), logs.String())
	assert.NotContains(t, logs.String(), "as the handler is closed")
}

// TestHTTPStoresTheFinalRefusals: under an Idempotency-Key, the refusal of
// a call made once the request is authenticated is stored and replayed to
// a retry of the same body, the call not run again, when it is final (a
// retry would be refused the same); one that a retry may change (a lost
// race, rate limiting, a failure of the platform, an unauthorized token,
// a key in flight or reused at the API) is not stored, and the retry runs
// the call again. Every error code is tried.
func TestHTTPStoresTheFinalRefusals(t *testing.T) {
	var tried []string
	for _, tt := range []struct {
		err    error
		stored bool
	}{
		{payflow.ErrInvalid, true}, {payflow.ErrForbidden, true}, {payflow.ErrNotFound, true},
		{payflow.ErrSignature, true}, {payflow.ErrCard, true}, {payflow.ErrClone, true},
		{payflow.ErrReplay, true}, {payflow.ErrExpired, true}, {payflow.ErrFinal, true},
		{payflow.ErrMismatch, true}, {payflow.ErrFunds, true}, {payflow.ErrLimit, true},
		{payflow.ErrUnauthorized, false}, {payflow.ErrRateLimited, false}, {payflow.ErrConflict, false},
		{payflow.ErrUnavailable, false}, {payflow.ErrInternal, false},
		{payflow.ErrInFlight, false}, {payflow.ErrKeyReuse, false},
	} {
		code := payflow.AsError(tt.err).Code
		tried = append(tried, code)
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		fx.api.set(func(f *httpFakeAPI) { f.err = tt.err })
		body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
		key := map[string]string{payflow.IdempotencyKeyHeader: "k1"}
		first := fx.do(t, http.MethodPost, "/v1/requests", key, body)
		require.Equal(t, payflow.StatusOf(code), first.status, code)
		require.Equal(t, code, first.errorCode(t))
		again := fx.do(t, http.MethodPost, "/v1/requests", key, body)
		assert.Equal(t, first.status, again.status, code)
		assert.Equal(t, first.body, again.body, code)
		if tt.stored {
			assert.Equal(t, "true", again.header.Get(payflow.ReplayedHeader), code)
			assert.Equal(t, 1, fx.api.count("CreateRequest"), "%s: run once", code)
		} else {
			assert.Empty(t, again.header.Get(payflow.ReplayedHeader), code)
			assert.Equal(t, 2, fx.api.count("CreateRequest"), "%s: run again", code)
		}
	}
	var codes []string
	for _, tc := range httpErrorTable {
		codes = append(codes, tc.code)
	}
	assert.ElementsMatch(t, codes, tried, "every error code tried")
}
