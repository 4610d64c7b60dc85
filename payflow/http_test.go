package payflow_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// httpFixture is a handler in front of a fake API, served on loopback.
type httpFixture struct {
	api    *httpFakeAPI
	srv    *httptest.Server
	client *payflow.Client
	logs   *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newHTTPFixture(t *testing.T, opts payflow.HandlerOptions, copts payflow.ClientOptions) *httpFixture {
	t.Helper()
	fake := newHTTPFakeAPI()
	return newHTTPFixtureOf(t, fake, fake, opts, copts)
}

// newHTTPFixtureOf is newHTTPFixture with the handler in front of api,
// which wraps fake.
func newHTTPFixtureOf(t *testing.T, fake *httpFakeAPI, api payflow.API, opts payflow.HandlerOptions, copts payflow.ClientOptions) *httpFixture {
	t.Helper()
	fx := &httpFixture{api: fake, logs: &syncBuffer{}}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(fx.logs, nil))
	}
	fx.srv = httptest.NewServer(mustHandler(t, api, opts))
	t.Cleanup(fx.srv.Close)
	if copts.MinBackoff == 0 {
		copts.MinBackoff = time.Millisecond
		copts.MaxBackoff = 5 * time.Millisecond
	}
	fx.client = mustClient(t, fx.srv.URL, copts)
	return fx
}

// httpRawReply is a raw reply of the handler.
type httpRawReply struct {
	status int
	header http.Header
	body   []byte
}

// errorCode decodes the error body of r, of the content type
// payflow.ContentType, and returns its code.
func (r httpRawReply) errorCode(t *testing.T) string {
	t.Helper()
	require.Equal(t, payflow.ContentType, r.header.Get("Content-Type"))
	return r.errorBody(t).Code
}

// errorBody decodes the error body of r.
func (r httpRawReply) errorBody(t *testing.T) payflow.Error {
	t.Helper()
	var e payflow.Error
	require.NoError(t, cbor.Unmarshal(r.body, &e))
	return e
}

func (fx *httpFixture) do(t *testing.T, method, path string, header map[string]string, body []byte) httpRawReply {
	t.Helper()
	h := http.Header{}
	for k, v := range header {
		h.Set(k, v)
	}
	return fx.doHeader(t, method, path, h, body)
}

// doHeader is do with headers that may repeat.
func (fx *httpFixture) doHeader(t *testing.T, method, path string, header http.Header, body []byte) httpRawReply {
	t.Helper()
	req, err := http.NewRequest(method, fx.srv.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", payflow.ContentType)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := fx.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return httpRawReply{status: resp.StatusCode, header: resp.Header, body: b}
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	require.NoError(t, err)
	return b
}

// signedConsent is a consent for request id signed by a fresh key.
func signedConsent(t testing.TB, id payflow.ID) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	msg, err := record.Sign(rand.Reader, key, &record.Consent{
		CardHeader:  record.CardHeader{CardID: "8944100000000000000", Counter: 7},
		RequestID:   id[:],
		RequestHash: bytes.Repeat([]byte{1}, 32),
		Nonce:       bytes.Repeat([]byte{2}, 32),
		Amount:      90, Currency: "EUR", MerchantID: "m1",
	})
	require.NoError(t, err)
	return msg
}

func TestHTTPClientCallsEveryEndpoint(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	ctx := context.Background()
	id := payflow.ID{0xaa, 0xbb}
	consent := signedConsent(t, payflow.ID{2})
	view := func(id payflow.ID, state string, request []byte) *payflow.PaymentView {
		return (&httpFakeAPI{}).view(id, state, request)
	}
	approved := view(payflow.ID{2}, payflow.StateCaptured, nil)
	approved.Receipt = consent
	captured := view(id, payflow.StateCaptured, nil)
	captured.Captured = 40
	tests := []struct {
		method string
		token  string
		call   func(c payflow.API) (any, error)
		want   any
	}{
		{"Challenge", "", func(c payflow.API) (any, error) {
			return c.Challenge(ctx, &payflow.ChallengeRequest{CardID: "8944100000000000009"})
		}, &payflow.ChallengeResponse{Nonce: httpDigest([]byte("8944100000000000009")), ExpiresAt: httpFakeTime}},
		{"Login", "", func(c payflow.API) (any, error) {
			return c.Login(ctx, &payflow.LoginRequest{Proof: []byte("tok")})
		}, &payflow.LoginResponse{Token: "tok", CardID: "8944100000000000009", DisplayName: "Ana", MerchantID: "m1", ExpiresAt: httpFakeTime}},
		{"Resolve", "t1", func(c payflow.API) (any, error) {
			return c.Resolve(ctx, "t1", &payflow.ResolveRequest{EID: []byte("Grocer")})
		}, &payflow.ResolveResponse{DisplayName: "Grocer", Role: 2, MerchantID: "m1"}},
		{"Pair", "", func(c payflow.API) (any, error) {
			return c.Pair(ctx, &payflow.PairRequest{Proof: []byte("654321")})
		}, &payflow.SessionView{State: payflow.SessionWaiting, PairingCode: "654321", ExpiresAt: httpFakeTime}},
		{"Session", "t2", func(c payflow.API) (any, error) {
			return c.Session(ctx, "t2", id)
		}, &payflow.SessionView{ID: id, State: payflow.SessionPaired, PairingCode: "123456", ShopperName: "Ana", MerchantName: "Grocer", ExpiresAt: httpFakeTime}},
		{"Catalog", "t3", func(c payflow.API) (any, error) {
			return c.Catalog(ctx, "t3", "shop/1 é")
		}, &payflow.Catalog{MerchantID: "shop/1 é", Currency: "EUR", Items: []payflow.CatalogItem{{SKU: "apple", Name: "Apple", UnitPrice: 45}}}},
		{"CreateRequest", "", func(c payflow.API) (any, error) {
			return c.CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("signed request")})
		}, view(payflow.ID{1}, payflow.StatePending, []byte("signed request"))},
		{"Payment", "t4", func(c payflow.API) (any, error) {
			return c.Payment(ctx, "t4", id)
		}, view(id, payflow.StatePending, nil)},
		{"Approve", "", func(c payflow.API) (any, error) {
			return c.Approve(ctx, &payflow.ApproveRequest{Consent: consent})
		}, approved},
		{"Decline", "t5", func(c payflow.API) (any, error) {
			return c.Decline(ctx, "t5", id)
		}, view(id, payflow.StateDeclined, nil)},
		{"Cancel", "t6", func(c payflow.API) (any, error) {
			return c.Cancel(ctx, "t6", id)
		}, view(id, payflow.StateCancelled, nil)},
		{"Capture", "t7", func(c payflow.API) (any, error) {
			return c.Capture(ctx, "t7", &payflow.CaptureRequest{RequestID: id, Amount: 40})
		}, captured},
		{"Refund", "", func(c payflow.API) (any, error) {
			return c.Refund(ctx, &payflow.RefundRequest{Refund: []byte("signed refund")})
		}, &payflow.RefundView{ID: payflow.ID{3}, RequestID: payflow.ID{2}, Amount: 10, Currency: "EUR", Refunded: 10, Receipt: []byte("signed refund")}},
		{"Info", "", func(c payflow.API) (any, error) {
			return c.Info(ctx)
		}, &payflow.Info{Chain: [][]byte{{0x30, 0x01}, {0x30, 0x02}}}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			got, err := tt.call(fx.client)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, 1, fx.api.count(tt.method))
			assert.Equal(t, tt.token, fx.api.lastToken())
			// The in-process API gives the same value.
			inProcess, err := tt.call(newHTTPFakeAPI())
			require.NoError(t, err)
			assert.Equal(t, inProcess, got)
		})
	}
}

// httpErrorTable is every sentinel error with its code and status, as
// PROTOCOL.md §5 lists them.
var httpErrorTable = []struct {
	err    error
	code   string
	status int
}{
	{payflow.ErrInvalid, "invalid", 400},
	{payflow.ErrUnauthorized, "unauthorized", 401},
	{payflow.ErrForbidden, "forbidden", 403},
	{payflow.ErrNotFound, "not_found", 404},
	{payflow.ErrSignature, "bad_signature", 400},
	{payflow.ErrCard, "card_not_trusted", 403},
	{payflow.ErrClone, "card_counter_regression", 403},
	{payflow.ErrReplay, "nonce_replayed", 409},
	{payflow.ErrExpired, "expired", 410},
	{payflow.ErrFinal, "final_state", 409},
	{payflow.ErrMismatch, "mismatch", 422},
	{payflow.ErrFunds, "insufficient_funds", 402},
	{payflow.ErrLimit, "over_limit", 422},
	{payflow.ErrRateLimited, "rate_limited", 429},
	{payflow.ErrConflict, "conflict", 409},
	{payflow.ErrInFlight, "idempotency_in_flight", 409},
	{payflow.ErrKeyReuse, "idempotency_key_reused", 422},
	{payflow.ErrUnavailable, "unavailable", 503},
	{payflow.ErrInternal, "internal", 500},
}

// requireOnlySentinel requires err to match want and asserts that it
// matches no other sentinel of httpErrorTable.
func requireOnlySentinel(t *testing.T, err, want error) {
	t.Helper()
	require.ErrorIs(t, err, want)
	for _, other := range httpErrorTable {
		if other.err != want {
			assert.NotErrorIs(t, err, other.err)
		}
	}
}

func TestHTTPErrorMapping(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{MaxAttempts: 1})
	for _, tt := range httpErrorTable {
		t.Run(tt.code, func(t *testing.T) {
			fx.api.set(func(f *httpFakeAPI) { f.err = fmt.Errorf("%w: detail", tt.err) })
			_, err := fx.client.Payment(context.Background(), "tok", payflow.ID{1})
			requireOnlySentinel(t, err, tt.err)
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, tt.status, e.Status)
			assert.Equal(t, tt.status, payflow.StatusOf(tt.code))

			raw := fx.do(t, http.MethodGet, "/v1/requests/"+payflow.ID{1}.String(), map[string]string{"Authorization": "Bearer tok"}, nil)
			assert.Equal(t, tt.status, raw.status)
			assert.Equal(t, tt.code, raw.errorCode(t))
			if tt.status == http.StatusUnauthorized {
				assert.Equal(t, `Bearer realm="casimpay"`, raw.header.Get("WWW-Authenticate"), "every 401 names the scheme")
			} else {
				assert.Empty(t, raw.header.Get("WWW-Authenticate"))
			}
			if tt.status >= 500 {
				assert.NotContains(t, string(raw.body), "detail", "a server error's cause is only logged")
			} else {
				assert.Contains(t, string(raw.body), "detail")
			}
		})
	}
	t.Run("the longest retry time is rounded up without overflow", func(t *testing.T) {
		fx.api.set(func(f *httpFakeAPI) {
			f.err = &payflow.RateLimitedError{Err: payflow.ErrRateLimited, RetryAfter: math.MaxInt64}
		})
		raw := fx.do(t, http.MethodGet, "/v1/requests/"+payflow.ID{1}.String(), map[string]string{"Authorization": "Bearer tok"}, nil)
		assert.Equal(t, http.StatusTooManyRequests, raw.status)
		assert.Equal(t, "9223372037", raw.header.Get("Retry-After"), "math.MaxInt64 ns is 9223372036.85 s")
		var body map[int]any
		require.NoError(t, cbor.Unmarshal(raw.body, &body))
		assert.Equal(t, uint64(9223372037), body[3])
	})
	t.Run("rate_limited says when to retry", func(t *testing.T) {
		fx.api.set(func(f *httpFakeAPI) {
			f.err = &payflow.RateLimitedError{Err: payflow.ErrRateLimited, RetryAfter: 1500 * time.Millisecond}
		})
		raw := fx.do(t, http.MethodGet, "/v1/requests/"+payflow.ID{1}.String(), map[string]string{"Authorization": "Bearer tok"}, nil)
		assert.Equal(t, http.StatusTooManyRequests, raw.status)
		assert.Equal(t, "2", raw.header.Get("Retry-After"), "seconds, rounded up")
		var body map[int]any
		require.NoError(t, cbor.Unmarshal(raw.body, &body))
		assert.Equal(t, "rate_limited", body[1])
		assert.Equal(t, uint64(2), body[3])

		_, err := fx.client.Payment(context.Background(), "tok", payflow.ID{1})
		require.ErrorIs(t, err, payflow.ErrRateLimited)
		rl, ok := errors.AsType[*payflow.RateLimitedError](err)
		require.True(t, ok, "%v", err)
		assert.Equal(t, 2*time.Second, rl.RetryAfter)
		e, ok := errors.AsType[*payflow.Error](err)
		require.True(t, ok)
		assert.Equal(t, "rate_limited", e.Code)
		assert.Equal(t, http.StatusTooManyRequests, e.Status)
		assert.Len(t, e.RequestID, 24)

		fx.api.set(func(f *httpFakeAPI) { f.err = fmt.Errorf("%w: no time known", payflow.ErrRateLimited) })
		raw = fx.do(t, http.MethodGet, "/v1/requests/"+payflow.ID{1}.String(), map[string]string{"Authorization": "Bearer tok"}, nil)
		assert.Equal(t, http.StatusTooManyRequests, raw.status)
		assert.Empty(t, raw.header.Get("Retry-After"))
		_, err = fx.client.Payment(context.Background(), "tok", payflow.ID{1})
		require.ErrorIs(t, err, payflow.ErrRateLimited)
		_, ok = errors.AsType[*payflow.RateLimitedError](err)
		assert.False(t, ok, "no retry time was given")
	})
	t.Run("only rate_limited carries a retry time", func(t *testing.T) {
		// A retry time in an error of another code (a RateLimitedError
		// that an unavailable error wraps) is no part of its reply:
		// key 3 and Retry-After are rate_limited's alone (§5.3, §5.4).
		fx.api.set(func(f *httpFakeAPI) {
			f.err = fmt.Errorf("%w: %w", payflow.ErrUnavailable,
				&payflow.RateLimitedError{Err: payflow.ErrRateLimited, RetryAfter: 7 * time.Second})
		})
		raw := fx.do(t, http.MethodGet, "/v1/requests/"+payflow.ID{1}.String(), map[string]string{"Authorization": "Bearer tok"}, nil)
		assert.Equal(t, http.StatusServiceUnavailable, raw.status)
		assert.Empty(t, raw.header.Get("Retry-After"))
		var body map[int]any
		require.NoError(t, cbor.Unmarshal(raw.body, &body))
		assert.Equal(t, map[int]any{1: "unavailable", 2: "temporarily unavailable"}, body)
	})
	t.Run("a 401 under a key names the scheme and is not stored", func(t *testing.T) {
		fx.api.set(func(f *httpFakeAPI) { f.err = fmt.Errorf("%w: token expired", payflow.ErrUnauthorized) })
		h := map[string]string{"Authorization": "Bearer old", payflow.IdempotencyKeyHeader: "k-401"}
		body := mustCBOR(t, &payflow.ResolveRequest{EID: make([]byte, record.EIDSize)})
		before := fx.api.count("Resolve")
		for range 2 {
			raw := fx.do(t, http.MethodPost, "/v1/resolve", h, body)
			assert.Equal(t, http.StatusUnauthorized, raw.status)
			assert.Equal(t, "unauthorized", raw.errorCode(t))
			assert.Empty(t, raw.header.Get(payflow.ReplayedHeader))
			assert.Equal(t, `Bearer realm="casimpay"`, raw.header.Get("WWW-Authenticate"))
		}
		assert.Equal(t, before+2, fx.api.count("Resolve"), "both ran")
	})
	t.Run("unknown error is internal and hidden", func(t *testing.T) {
		fx.api.set(func(f *httpFakeAPI) { f.err = errors.New("secret database detail") })
		raw := fx.do(t, http.MethodGet, "/v1/info", nil, nil)
		assert.Equal(t, http.StatusInternalServerError, raw.status)
		assert.Equal(t, "internal", raw.errorCode(t))
		assert.NotContains(t, string(raw.body), "secret")
		assert.Contains(t, fx.logs.String(), "secret database detail")
	})
	t.Run("structured error of an unknown code is internal and hidden", func(t *testing.T) {
		fx.api.set(func(f *httpFakeAPI) { f.err = &payflow.Error{Code: "teapot", Message: "secret detail", Status: 418} })
		raw := fx.do(t, http.MethodGet, "/v1/info", nil, nil)
		assert.Equal(t, http.StatusInternalServerError, raw.status)
		assert.Equal(t, payflow.Error{Code: "internal", Message: "internal error"}, raw.errorBody(t))
		assert.Equal(t, "internal", raw.errorCode(t))
		assert.NotContains(t, string(raw.body), "secret")
		assert.NotContains(t, string(raw.body), "teapot")
		assert.Contains(t, fx.logs.String(), "payflow: teapot: secret detail")

		_, err := fx.client.Info(context.Background())
		require.ErrorIs(t, err, payflow.ErrInternal)
		e, ok := errors.AsType[*payflow.Error](err)
		require.True(t, ok)
		assert.Equal(t, payflow.Error{Code: "internal", Message: "internal error", Status: 500, RequestID: e.RequestID}, *e)
	})
	t.Run("structured error keeps its code", func(t *testing.T) {
		fx.api.set(func(f *httpFakeAPI) { f.err = &payflow.Error{Code: "expired", Message: "request expired"} })
		_, err := fx.client.Info(context.Background())
		require.ErrorIs(t, err, payflow.ErrExpired)
		e, ok := errors.AsType[*payflow.Error](err)
		require.True(t, ok)
		assert.Len(t, e.RequestID, 24)
		assert.Contains(t, fx.logs.String(), `"msg":"http request","request_id":"`+e.RequestID+`"`)
		assert.Equal(t, payflow.Error{Code: "expired", Message: "request expired", Status: 410, RequestID: e.RequestID}, *e)
	})
	t.Run("the caller's request ID is sent on every attempt", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
		fx.api.set(func(f *httpFakeAPI) { f.err = payflow.ErrUnavailable })
		_, err := fx.client.Info(payflow.WithRequestID(context.Background(), "till-7:0042"))
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		e, ok := errors.AsType[*payflow.Error](err)
		require.True(t, ok)
		assert.Equal(t, "till-7:0042", e.RequestID)
		assert.Equal(t, 3, strings.Count(fx.logs.String(), `"msg":"http request","request_id":"till-7:0042"`), fx.logs.String())

		// A malformed one is replaced by one of the client's.
		_, err = fx.client.Info(payflow.WithRequestID(context.Background(), "bad id\n"))
		e, ok = errors.AsType[*payflow.Error](err)
		require.True(t, ok)
		assert.Len(t, e.RequestID, 24)
	})
}

func TestHTTPIdempotency(t *testing.T) {
	ctx := context.Background()
	key := func(k string) map[string]string { return map[string]string{payflow.IdempotencyKeyHeader: k} }
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})

	t.Run("same key and body replays the first reply", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		first := fx.do(t, http.MethodPost, "/v1/requests", key("k1"), body)
		require.Equal(t, http.StatusOK, first.status)
		assert.Empty(t, first.header.Get(payflow.ReplayedHeader))
		second := fx.do(t, http.MethodPost, "/v1/requests", key("k1"), body)
		assert.Equal(t, http.StatusOK, second.status)
		assert.Equal(t, "true", second.header.Get(payflow.ReplayedHeader))
		assert.Equal(t, first.body, second.body)
		assert.Equal(t, 1, fx.api.count("CreateRequest"))
	})
	t.Run("a login's reply is never stored", func(t *testing.T) {
		// It carries the bearer token: whoever has the request's body and
		// key would get the token again.
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		login := mustCBOR(t, &payflow.LoginRequest{Proof: []byte("proof")})
		for range 2 {
			r := fx.do(t, http.MethodPost, "/v1/login", key("k1"), login)
			require.Equal(t, http.StatusOK, r.status)
			assert.Empty(t, r.header.Get(payflow.ReplayedHeader))
		}
		assert.Equal(t, 2, fx.api.count("Login"), "both ran")
	})
	t.Run("a login with a malformed key is refused", func(t *testing.T) {
		// The key of a login is not used, but a malformed one is refused as
		// on every POST.
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		login := mustCBOR(t, &payflow.LoginRequest{Proof: []byte("proof")})
		for _, k := range []string{strings.Repeat("k", 256), "key with space", ""} {
			r := fx.do(t, http.MethodPost, "/v1/login", key(k), login)
			assert.Equal(t, http.StatusBadRequest, r.status, k)
			assert.Equal(t, "invalid", r.errorCode(t), k)
		}
		assert.Equal(t, 0, fx.api.count("Login"))
	})
	t.Run("same key and another body is refused", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		require.Equal(t, http.StatusOK, fx.do(t, http.MethodPost, "/v1/requests", key("k1"), body).status)
		other := fx.do(t, http.MethodPost, "/v1/requests", key("k1"), mustCBOR(t, &payflow.CreateRequest{Request: []byte("r2")}))
		assert.Equal(t, http.StatusUnprocessableEntity, other.status)
		assert.Equal(t, "idempotency_key_reused", other.errorCode(t))
		assert.Equal(t, 1, fx.api.count("CreateRequest"))
	})
	t.Run("same key while the first is in flight", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		entered, release := make(chan string, 1), make(chan struct{})
		fx.api.set(func(f *httpFakeAPI) { f.entered, f.release = entered, release })
		done := make(chan httpRawReply, 1)
		go func() { done <- fx.do(t, http.MethodPost, "/v1/requests", key("k1"), body) }()
		<-entered
		fx.api.set(func(f *httpFakeAPI) { f.entered = nil })
		busy := fx.do(t, http.MethodPost, "/v1/requests", key("k1"), body)
		assert.Equal(t, http.StatusConflict, busy.status)
		assert.Equal(t, "idempotency_in_flight", busy.errorCode(t))
		close(release)
		first := <-done
		require.Equal(t, http.StatusOK, first.status)
		again := fx.do(t, http.MethodPost, "/v1/requests", key("k1"), body)
		assert.Equal(t, first.body, again.body)
		assert.Equal(t, "true", again.header.Get(payflow.ReplayedHeader))
		assert.Equal(t, 1, fx.api.count("CreateRequest"))
	})
	t.Run("a client that goes away neither stops the call nor loses its reply", func(t *testing.T) {
		replies := &signalledReplies{ReplyMemory: payflow.NewReplyMemory(), finished: make(chan error, 1)}
		fx := newHTTPFixture(t, payflow.HandlerOptions{Replies: replies}, payflow.ClientOptions{})
		ctxs, release := make(chan context.Context, 1), make(chan struct{})
		fx.api.set(func(f *httpFakeAPI) { f.ctxs, f.release = ctxs, release })
		cctx, cancel := context.WithCancel(ctx)
		req, err := http.NewRequestWithContext(cctx, http.MethodPost, fx.srv.URL+"/v1/requests", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", payflow.ContentType)
		req.Header.Set(payflow.IdempotencyKeyHeader, "gone")
		sent := make(chan error, 1)
		go func() {
			resp, err := fx.srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			sent <- err
		}()
		callCtx := <-ctxs
		fx.api.set(func(f *httpFakeAPI) { f.ctxs, f.release = nil, nil })
		cancel()
		require.ErrorIs(t, <-sent, context.Canceled)
		// The server sees the closed connection at once on loopback; the
		// call's context must not end with it.
		select {
		case <-callCtx.Done():
			t.Fatalf("the call was stopped: %v", context.Cause(callCtx))
		case <-time.After(200 * time.Millisecond):
		}
		close(release)
		require.NoError(t, <-replies.finished) // the first request stored its reply
		again := fx.do(t, http.MethodPost, "/v1/requests", key("gone"), body)
		assert.Equal(t, http.StatusOK, again.status)
		assert.Equal(t, "true", again.header.Get(payflow.ReplayedHeader))
		assert.Equal(t, 1, fx.api.count("CreateRequest"))
	})
	t.Run("the key is scoped by path and token", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		id := payflow.ID{9}.String()
		for _, tok := range []string{"Bearer a", "Bearer b"} {
			for _, path := range []string{"/v1/requests/" + id + "/decline", "/v1/requests/" + id + "/cancel"} {
				r := fx.do(t, http.MethodPost, path, map[string]string{payflow.IdempotencyKeyHeader: "k1", "Authorization": tok}, nil)
				assert.Equal(t, http.StatusOK, r.status)
				assert.Empty(t, r.header.Get(payflow.ReplayedHeader))
			}
		}
		assert.Equal(t, 2, fx.api.count("Decline"))
		assert.Equal(t, 2, fx.api.count("Cancel"))
	})
	t.Run("a POST that takes no token shares one scope per path, with or without an Authorization header", func(t *testing.T) {
		// Its call uses no token: the header, checked for its form only,
		// makes no scope of its own (PROTOCOL.md §5.5).
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		with := func(k, auth string) map[string]string {
			h := key(k)
			if auth != "" {
				h["Authorization"] = auth
			}
			return h
		}
		first := fx.do(t, http.MethodPost, "/v1/requests", with("k1", ""), body)
		require.Equal(t, http.StatusOK, first.status)
		for _, auth := range []string{"Bearer a", "Bearer b"} {
			r := fx.do(t, http.MethodPost, "/v1/requests", with("k1", auth), body)
			assert.Equal(t, http.StatusOK, r.status, auth)
			assert.Equal(t, "true", r.header.Get(payflow.ReplayedHeader), auth)
			assert.Equal(t, first.body, r.body, auth)
		}
		r := fx.do(t, http.MethodPost, "/v1/requests", with("k1", "Bearer a"), mustCBOR(t, &payflow.CreateRequest{Request: []byte("r2")}))
		assert.Equal(t, http.StatusUnprocessableEntity, r.status)
		assert.Equal(t, "idempotency_key_reused", r.errorCode(t))
		first = fx.do(t, http.MethodPost, "/v1/requests", with("k2", "Bearer a"), body)
		require.Equal(t, http.StatusOK, first.status)
		assert.Empty(t, first.header.Get(payflow.ReplayedHeader))
		r = fx.do(t, http.MethodPost, "/v1/requests", with("k2", ""), body)
		assert.Equal(t, "true", r.header.Get(payflow.ReplayedHeader), "stored under a header, replayed without one")
		assert.Equal(t, first.body, r.body)
		assert.Equal(t, 2, fx.api.count("CreateRequest"))
	})
	t.Run("final errors are stored, transient ones are not", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		fx.api.set(func(f *httpFakeAPI) { f.err = payflow.ErrFinal })
		first := fx.do(t, http.MethodPost, "/v1/requests", key("final"), body)
		assert.Equal(t, http.StatusConflict, first.status)
		fx.api.set(func(f *httpFakeAPI) { f.err = nil })
		second := fx.do(t, http.MethodPost, "/v1/requests", key("final"), body)
		assert.Equal(t, "final_state", second.errorCode(t))
		assert.Equal(t, "true", second.header.Get(payflow.ReplayedHeader))
		assert.Equal(t, 1, fx.api.count("CreateRequest"))

		for i, transient := range []error{payflow.ErrUnavailable, payflow.ErrRateLimited, payflow.ErrConflict, errors.New("boom")} {
			k := key(fmt.Sprintf("transient-%d", i))
			fx.api.set(func(f *httpFakeAPI) { f.err = transient })
			before := fx.api.count("CreateRequest")
			failed := fx.do(t, http.MethodPost, "/v1/requests", k, body)
			assert.Equal(t, payflow.AsError(transient).Code, failed.errorCode(t))
			fx.api.set(func(f *httpFakeAPI) { f.err = nil })
			retried := fx.do(t, http.MethodPost, "/v1/requests", k, body)
			assert.Equal(t, http.StatusOK, retried.status)
			assert.Empty(t, retried.header.Get(payflow.ReplayedHeader))
			assert.Equal(t, before+2, fx.api.count("CreateRequest"))
		}
	})
	t.Run("a panic releases the key and reveals nothing", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		fx.api.set(func(f *httpFakeAPI) { f.panics = true })
		r := fx.do(t, http.MethodPost, "/v1/requests", key("p"), body)
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "internal", r.errorCode(t))
		assert.NotContains(t, string(r.body), "secret")
		assert.Contains(t, fx.logs.String(), "secret internal detail")
		fx.api.set(func(f *httpFakeAPI) { f.panics = false })
		r = fx.do(t, http.MethodPost, "/v1/requests", key("p"), body)
		assert.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, 2, fx.api.count("CreateRequest"))
	})
	t.Run("lease and retention", func(t *testing.T) {
		clock := &paytest.Clock{}
		clock.Advance(time.Duration(httpFakeTime.UnixNano()))
		fx := newHTTPFixture(t, payflow.HandlerOptions{Now: clock.Now, ReplyTTL: time.Hour, ReplyLease: time.Minute}, payflow.ClientOptions{})
		entered, release := make(chan string, 1), make(chan struct{})
		fx.api.set(func(f *httpFakeAPI) { f.entered, f.release = entered, release })
		done := make(chan httpRawReply, 1)
		go func() { done <- fx.do(t, http.MethodPost, "/v1/requests", key("lease"), body) }()
		<-entered
		fx.api.set(func(f *httpFakeAPI) { f.entered, f.release = nil, nil })
		clock.Advance(time.Minute - time.Nanosecond)
		assert.Equal(t, "idempotency_in_flight", fx.do(t, http.MethodPost, "/v1/requests", key("lease"), body).errorCode(t), "within the lease")
		clock.Advance(time.Nanosecond)
		assert.Equal(t, http.StatusOK, fx.do(t, http.MethodPost, "/v1/requests", key("lease"), body).status, "after the lease the key is free")
		close(release)
		<-done
		assert.Equal(t, 2, fx.api.count("CreateRequest"))

		require.Equal(t, http.StatusOK, fx.do(t, http.MethodPost, "/v1/requests", key("kept"), body).status)
		clock.Advance(time.Hour - time.Nanosecond)
		assert.Equal(t, "true", fx.do(t, http.MethodPost, "/v1/requests", key("kept"), body).header.Get(payflow.ReplayedHeader))
		clock.Advance(time.Nanosecond)
		assert.Empty(t, fx.do(t, http.MethodPost, "/v1/requests", key("kept"), body).header.Get(payflow.ReplayedHeader), "after the TTL the key runs again")
		assert.Equal(t, 4, fx.api.count("CreateRequest"))
	})
	t.Run("malformed keys are refused", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		for _, k := range []string{strings.Repeat("k", 256), "key with space", "clé", ""} {
			r := fx.do(t, http.MethodPost, "/v1/requests", key(k), body)
			assert.Equal(t, http.StatusBadRequest, r.status, k)
			assert.Equal(t, "invalid", r.errorCode(t), k)
		}
		// Two keys: which one the reply would be stored under is unclear.
		req, err := http.NewRequest(http.MethodPost, fx.srv.URL+"/v1/requests", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", payflow.ContentType)
		req.Header.Add(payflow.IdempotencyKeyHeader, "k1")
		req.Header.Add(payflow.IdempotencyKeyHeader, "k2")
		resp, err := fx.srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		assert.Equal(t, 0, fx.api.count("CreateRequest"))
	})
	t.Run("two client calls each run under a key of their own", func(t *testing.T) {
		fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
		_, err := fx.client.CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r1")})
		require.NoError(t, err)
		_, err = fx.client.CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r1")})
		require.NoError(t, err)
		assert.Equal(t, 2, fx.api.count("CreateRequest"), "each logical call has its own key")
	})
}

func TestHTTPRefusesBadRequests(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{MaxBodyBytes: 256}, payflow.ClientOptions{})
	id := payflow.ID{1}.String()
	auth := map[string]string{"Authorization": "Bearer tok"}
	good := mustCBOR(t, &payflow.ChallengeRequest{CardID: "8944100000000000009"})
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   []byte
		status int
		code   string
	}{
		{"body over the limit", "POST", "/v1/challenges", nil, mustCBOR(t, &payflow.ChallengeRequest{CardID: strings.Repeat("1", 300)}), 422, "over_limit"},
		{"not CBOR", "POST", "/v1/challenges", nil, []byte("{\"1\":\"x\"}"), 400, "invalid"},
		{"truncated CBOR", "POST", "/v1/challenges", nil, good[:len(good)-1], 400, "invalid"},
		{"trailing bytes", "POST", "/v1/challenges", nil, append(bytes.Clone(good), 0x00), 400, "invalid"},
		{"unknown field", "POST", "/v1/challenges", nil, mustCBOR(t, map[int]any{1: "8944100000000000009", 7: 1}), 400, "invalid"},
		{"duplicate key", "POST", "/v1/challenges", nil, []byte{0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'}, 400, "invalid"},
		{"wrong type", "POST", "/v1/challenges", nil, mustCBOR(t, map[int]any{1: 5}), 400, "invalid"},
		{"not a map", "POST", "/v1/challenges", nil, mustCBOR(t, []int{1}), 400, "invalid"},
		{"indefinite length", "POST", "/v1/challenges", nil, []byte{0xbf, 0x01, 0x61, 'a', 0xff}, 400, "invalid"},
		{"tag", "POST", "/v1/challenges", nil, []byte{0xa1, 0x01, 0xc0, 0x61, 'a'}, 400, "invalid"},
		{"invalid UTF-8", "POST", "/v1/challenges", nil, []byte{0xa1, 0x01, 0x61, 0xff}, 400, "invalid"},
		{"too deep", "POST", "/v1/login", nil, append(append([]byte{0xa1, 0x01}, bytes.Repeat([]byte{0x81}, 20)...), 0x01), 400, "invalid"},
		{"wrong content type", "POST", "/v1/challenges", map[string]string{"Content-Type": "application/json"}, good, 400, "invalid"},
		{"body on a GET", "GET", "/v1/info", nil, good, 400, "invalid"},
		{"body on decline", "POST", "/v1/requests/" + id + "/decline", auth, good, 400, "invalid"},
		{"no token", "GET", "/v1/requests/" + id, nil, nil, 401, "unauthorized"},
		{"basic auth", "GET", "/v1/requests/" + id, map[string]string{"Authorization": "Basic YTpi"}, nil, 401, "unauthorized"},
		{"empty bearer", "GET", "/v1/requests/" + id, map[string]string{"Authorization": "Bearer "}, nil, 401, "unauthorized"},
		{"bad ID", "GET", "/v1/requests/xyz", auth, nil, 400, "invalid"},
		{"short ID", "GET", "/v1/requests/" + strings.Repeat("a", 30), auth, nil, 400, "invalid"},
		{"unknown path", "GET", "/v1/nothing", nil, nil, 404, "not_found"},
		{"wrong method", "DELETE", "/v1/info", nil, nil, 404, "not_found"},
		{"path not clean", "GET", "/v1//info", nil, nil, 404, "not_found"},
		{"path with dot segments", "POST", "/v1/requests/../challenges", nil, good, 404, "not_found"},
		{"consent for another request", "POST", "/v1/requests/" + id + "/consent", nil, mustCBOR(t, &payflow.ApproveRequest{Consent: signedConsent(t, payflow.ID{2})}), 422, "mismatch"},
		{"capture of another request", "POST", "/v1/requests/" + id + "/capture", auth, mustCBOR(t, &payflow.CaptureRequest{RequestID: payflow.ID{2}}), 422, "mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{payflow.IdempotencyKeyHeader: "k-" + tt.name[:3]}
			maps.Copy(h, tt.header)
			r := fx.do(t, tt.method, tt.path, h, tt.body)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.code, r.errorCode(t))
			if tt.status == 401 {
				assert.Equal(t, `Bearer realm="casimpay"`, r.header.Get("WWW-Authenticate"))
			}
		})
	}
	fx.api.mu.Lock()
	defer fx.api.mu.Unlock()
	assert.Empty(t, fx.api.calls, "no refused request reaches the API")
}

// TestHTTPBodyLimitIsExact: a body of MaxBodyBytes octets is read and
// served; one of an octet more is 422 over_limit and reaches no API.
func TestHTTPBodyLimitIsExact(t *testing.T) {
	const limit = 256
	fx := newHTTPFixture(t, payflow.HandlerOptions{MaxBodyBytes: limit}, payflow.ClientOptions{})
	// a1 01 78 <n> and the card ID: 4 octets and n.
	at := mustCBOR(t, &payflow.ChallengeRequest{CardID: strings.Repeat("1", limit-4)})
	over := mustCBOR(t, &payflow.ChallengeRequest{CardID: strings.Repeat("1", limit-3)})
	require.Len(t, at, limit)
	require.Len(t, over, limit+1)
	r := fx.do(t, "POST", "/v1/challenges", nil, at)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, 1, fx.api.count("Challenge"))
	r = fx.do(t, "POST", "/v1/challenges", nil, over)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Equal(t, "over_limit", r.errorCode(t))
	assert.Equal(t, 1, fx.api.count("Challenge"), "a body over the limit reaches no API")
}

// TestHTTPRefusesRepeatedContentType: a Content-Type given more than once
// is refused as a wrong one is, 400 invalid, whichever of its values is
// application/cbor, both too, and on a route without a body too: the
// handler does not pick one of them, where another reader of the request
// could pick another.
func TestHTTPRefusesRepeatedContentType(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	good := mustCBOR(t, &payflow.ChallengeRequest{CardID: "8944100000000000009"})
	tests := []struct {
		name   string
		method string
		path   string
		types  []string
		body   []byte
	}{
		{"cbor first", "POST", "/v1/challenges", []string{payflow.ContentType, "application/json"}, good},
		{"cbor second", "POST", "/v1/challenges", []string{"application/json", payflow.ContentType}, good},
		{"cbor twice", "POST", "/v1/challenges", []string{payflow.ContentType, payflow.ContentType}, good},
		{"on a GET", "GET", "/v1/info", []string{payflow.ContentType, "text/plain"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.doHeader(t, tt.method, tt.path, http.Header{"Content-Type": tt.types}, tt.body)
			assert.Equal(t, http.StatusBadRequest, r.status)
			assert.Equal(t, "invalid", r.errorCode(t))
			assert.Equal(t, "payflow: invalid request: Content-Type must be given once", r.errorBody(t).Message)
		})
	}
	fx.api.mu.Lock()
	defer fx.api.mu.Unlock()
	assert.Empty(t, fx.api.calls, "no refused request reaches the API")
}

// TestHTTPChecksTheKeyBeforeTheBody: the Idempotency-Key is a header,
// checked before the body is read, so a request with a malformed key and
// a body over the limit is 400 invalid for its key, not 422 over_limit
// for its body; the Authorization header is checked before both.
func TestHTTPChecksTheKeyBeforeTheBody(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{MaxBodyBytes: 256}, payflow.ClientOptions{})
	id := payflow.ID{1}.String()
	big := mustCBOR(t, &payflow.ChallengeRequest{CardID: strings.Repeat("1", 300)})
	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
		code   string
	}{
		{"empty key", "/v1/challenges", http.Header{payflow.IdempotencyKeyHeader: {""}}, 400, "invalid"},
		{"two keys", "/v1/challenges", http.Header{payflow.IdempotencyKeyHeader: {"k1", "k2"}}, 400, "invalid"},
		{"key with a space", "/v1/requests/" + id + "/capture", http.Header{"Authorization": {"Bearer tok"}, payflow.IdempotencyKeyHeader: {"k 1"}}, 400, "invalid"},
		{"key too long", "/v1/login", http.Header{payflow.IdempotencyKeyHeader: {strings.Repeat("k", 256)}}, 400, "invalid"},
		{"no token and a malformed key", "/v1/requests/" + id + "/capture", http.Header{payflow.IdempotencyKeyHeader: {""}}, 401, "unauthorized"},
		{"well-formed key", "/v1/challenges", http.Header{payflow.IdempotencyKeyHeader: {"k1"}}, 422, "over_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.doHeader(t, http.MethodPost, tt.path, tt.header, big)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.code, r.errorCode(t))
		})
	}
	fx.api.mu.Lock()
	defer fx.api.mu.Unlock()
	assert.Empty(t, fx.api.calls, "no refused request reaches the API")
}

// TestHTTPCheckOrder: of two faults of a request, the handler answers the
// one PROTOCOL.md §5.1 checks first: the ID in the path before the size of
// the body, the size before the Content-Type, the Content-Type before the
// body's agreement with the path; a token, which the call checks, after
// all of them.
func TestHTTPCheckOrder(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{MaxBodyBytes: 256}, payflow.ClientOptions{})
	id := payflow.ID{1}
	capture := "/v1/requests/" + id.String() + "/capture"
	tok := http.Header{"Authorization": {"Bearer tok"}}
	big := mustCBOR(t, &payflow.ChallengeRequest{CardID: strings.Repeat("1", 300)})
	other := mustCBOR(t, &payflow.CaptureRequest{RequestID: payflow.ID{2}})
	tests := []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		status int
		code   string
	}{
		{"malformed ID, body over the limit", "/v1/requests/zz/capture", tok, big, 400, "invalid"},
		{"body over the limit of another type", capture, http.Header{"Authorization": {"Bearer tok"}, "Content-Type": {"text/plain"}}, big, 422, "over_limit"},
		{"another type, another request", capture, http.Header{"Authorization": {"Bearer tok"}, "Content-Type": {"text/plain"}}, other, 400, "invalid"},
		{"another request", capture, tok, other, 422, "mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.doHeader(t, http.MethodPost, tt.path, tt.header, tt.body)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.code, r.errorCode(t))
		})
	}
	fx.api.mu.Lock()
	defer fx.api.mu.Unlock()
	assert.Empty(t, fx.api.calls, "no refused request reaches the API")

	// The platform checks the token, in the call: an unknown one is 401
	// with a body it takes, and the body's fault with one it refuses.
	f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
	srv := httptest.NewServer(mustHandler(t, f.Platform, payflow.HandlerOptions{Logger: discardLogger()}))
	defer srv.Close()
	for _, tt := range []struct {
		body   []byte
		status int
		code   string
	}{
		{mustCBOR(t, &payflow.CaptureRequest{RequestID: id}), 401, "unauthorized"},
		{[]byte{0xff}, 400, "invalid"},
	} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+capture, bytes.NewReader(tt.body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", payflow.ContentType)
		req.Header.Set("Authorization", "Bearer unknown")
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		r := httpRawReply{status: resp.StatusCode, header: resp.Header, body: b}
		assert.Equal(t, tt.status, r.status, "% X", tt.body)
		assert.Equal(t, tt.code, r.errorCode(t), "% X", tt.body)
	}
}

// TestHTTPCatalogOfMerchantIDsWithSlashesOrDots: a merchant ID is
// path-escaped, so one whose slashes make empty, "." or ".." segments
// once unescaped still names its catalog, and so does a merchant ID that
// is "." or ".." itself, whose dots are escaped too.
func TestHTTPCatalogOfMerchantIDsWithSlashesOrDots(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{MaxAttempts: 1})
	for _, m := range []string{"a//b", "x/../y", "z/.", "/lead", "trail/", ".", "..", "...", ".a"} {
		c, err := fx.client.Catalog(context.Background(), "t", m)
		require.NoError(t, err, m)
		assert.Equal(t, m, c.MerchantID)
	}
}

func TestHTTPCaptureTakesTheIDFromThePath(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	id := payflow.ID{5}
	r := fx.do(t, http.MethodPost, "/v1/requests/"+id.String()+"/capture", map[string]string{"Authorization": "Bearer t"}, mustCBOR(t, map[int]any{2: 30}))
	require.Equal(t, http.StatusOK, r.status)
	var v payflow.PaymentView
	require.NoError(t, cbor.Unmarshal(r.body, &v))
	assert.Equal(t, id, v.ID)
	assert.Equal(t, uint64(30), v.Captured)
}

// TestHTTPHeadIsAGetWithoutBody: a HEAD request to a GET endpoint is
// that GET, checks and call alike, answered without the body (PROTOCOL.md
// §5.2), and logged with a body of no octet, which is what the server
// sends of it; to any other endpoint it is 404.
func TestHTTPHeadIsAGetWithoutBody(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	get := fx.do(t, http.MethodGet, "/v1/info", nil, nil)
	require.Equal(t, http.StatusOK, get.status)
	head := fx.do(t, http.MethodHead, "/v1/info", nil, nil)
	assert.Equal(t, http.StatusOK, head.status)
	assert.Empty(t, head.body)
	assert.Equal(t, strconv.Itoa(len(get.body)), head.header.Get("Content-Length"))
	assert.Equal(t, 2, fx.api.count("Info"))

	head = fx.do(t, http.MethodHead, "/v1/requests/"+payflow.ID{1}.String(), nil, nil)
	assert.Equal(t, http.StatusUnauthorized, head.status, "the GET's token check")
	assert.Equal(t, 0, fx.api.count("Payment"))
	head = fx.do(t, http.MethodHead, "/v1/challenges", nil, nil)
	assert.Equal(t, http.StatusNotFound, head.status)
	assert.Equal(t, 0, fx.api.count("Challenge"))
	assert.Equal(t, []map[string]any{
		{"method": "GET", "status": float64(http.StatusOK), "bytes": float64(len(get.body))},
		{"method": "HEAD", "status": float64(http.StatusOK), "bytes": float64(0)},
		{"method": "HEAD", "status": float64(http.StatusUnauthorized), "bytes": float64(0)},
		{"method": "HEAD", "status": float64(http.StatusNotFound), "bytes": float64(0)},
	}, logFields(t, fx.logs, "method", "status", "bytes"))
}

func TestHTTPRequestIDAndLogs(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	r := fx.do(t, http.MethodGet, "/v1/info", map[string]string{payflow.RequestIDHeader: "abc-123"}, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "abc-123", r.header.Get(payflow.RequestIDHeader))

	r = fx.do(t, http.MethodGet, "/v1/info", map[string]string{payflow.RequestIDHeader: "bad id!"}, nil)
	generated := r.header.Get(payflow.RequestIDHeader)
	assert.Len(t, generated, 24)

	// Given twice, well formed or not, it is taken as a malformed one: the
	// handler makes one, as it keeps none of the two, where another reader
	// of the request could take another than the one it would.
	r = fx.doHeader(t, http.MethodGet, "/v1/info", http.Header{payflow.RequestIDHeader: {"first-1", "second-2"}}, nil)
	require.Equal(t, http.StatusOK, r.status)
	twice := r.header.Get(payflow.RequestIDHeader)
	assert.Regexp(t, `^[0-9a-f]{24}$`, twice)
	assert.NotEqual(t, generated, twice)

	records := logRecords(t, fx.logs)
	require.Len(t, records, 3)
	assert.Equal(t, "abc-123", records[0]["request_id"])
	assert.Equal(t, generated, records[1]["request_id"])
	assert.Equal(t, twice, records[2]["request_id"])
	assert.Equal(t, "/v1/info", records[0]["path"])
	assert.Equal(t, float64(200), records[0]["status"])
}

// abortingAPI is an API whose Info aborts its request with
// http.ErrAbortHandler, as a call that streams through a proxy does when
// the upstream fails.
type abortingAPI struct{ *httpFakeAPI }

func (abortingAPI) Info(context.Context) (*payflow.Info, error) { panic(http.ErrAbortHandler) }

// TestHTTPAbortedRequestIsLogged: a request aborted with
// http.ErrAbortHandler gets its one log record with its request ID, as any
// other request does, and no reply: the panic goes on to the server, which
// drops the connection, with no "panic serving request" record.
func TestHTTPAbortedRequestIsLogged(t *testing.T) {
	logs := &syncBuffer{}
	h := mustHandler(t, abortingAPI{newHTTPFakeAPI()}, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	req := httptest.NewRequest(http.MethodGet, "/v1/info", nil)
	req.Header.Set(payflow.RequestIDHeader, "abort-1")
	rec := httptest.NewRecorder()
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() { h.ServeHTTP(rec, req) })
	assert.Empty(t, rec.Header().Get("Content-Type"), "no reply is written")
	assert.Empty(t, rec.Body.Bytes())
	records := logRecords(t, logs)
	require.Len(t, records, 1)
	assert.Equal(t, "http request", records[0]["msg"])
	assert.Equal(t, "abort-1", records[0]["request_id"])
	assert.Equal(t, "/v1/info", records[0]["path"])
	assert.Equal(t, true, records[0]["aborted"])
}

// nilReplyAPI answers CreateRequest and Info with no reply and no error,
// a fault of the API.
type nilReplyAPI struct{ *httpFakeAPI }

func (a nilReplyAPI) CreateRequest(ctx context.Context, req *payflow.CreateRequest) (*payflow.PaymentView, error) {
	_, err := a.httpFakeAPI.CreateRequest(ctx, req)
	return nil, err
}

func (a nilReplyAPI) Info(ctx context.Context) (*payflow.Info, error) {
	_, err := a.httpFakeAPI.Info(ctx)
	return nil, err
}

// TestHTTPAnswersAnAPIsNilReplyInternal: an API call that returns a nil
// reply with a nil error is a fault of the API: 500 internal with no
// detail, logged with the request ID, and under an Idempotency-Key not
// stored, so that a retry runs the call again; the client gets
// ErrInternal.
func TestHTTPAnswersAnAPIsNilReplyInternal(t *testing.T) {
	api := nilReplyAPI{newHTTPFakeAPI()}
	fx := checkInfoInternal(t, api, api.httpFakeAPI, "payflow: internal error: the API gave no reply and no error")

	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	for i := range 2 {
		r := fx.do(t, http.MethodPost, "/v1/requests", map[string]string{payflow.IdempotencyKeyHeader: "k1"}, body)
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "internal", r.errorCode(t))
		assert.Empty(t, r.header.Get(payflow.ReplayedHeader))
		assert.Equal(t, i+1, api.count("CreateRequest"), "not stored: the retry runs")
	}

	c := mustClient(t, fx.srv.URL, payflow.ClientOptions{MaxAttempts: 1})
	_, err := c.Info(context.Background())
	requireOnlySentinel(t, err, payflow.ErrInternal)
}

// checkInfoInternal serves api, whose fake is fake, and checks that its
// GET /v1/info is answered 500 internal with no detail, logged as a
// failure of the request with its request ID and the error's text
// errText, and then as the request; it returns the fixture it served.
func checkInfoInternal(t *testing.T, api payflow.API, fake *httpFakeAPI, errText string) *httpFixture {
	t.Helper()
	logs := &syncBuffer{}
	srv := httptest.NewServer(mustHandler(t, api, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))}))
	t.Cleanup(srv.Close)
	fx := &httpFixture{api: fake, srv: srv, logs: logs}
	r := fx.do(t, http.MethodGet, "/v1/info", map[string]string{payflow.RequestIDHeader: "internal-1"}, nil)
	assert.Equal(t, http.StatusInternalServerError, r.status)
	e := r.errorBody(t)
	assert.Equal(t, "internal", e.Code)
	assert.Equal(t, "internal error", e.Message)
	records := logRecords(t, logs)
	require.Len(t, records, 2)
	assert.Equal(t, "request failed", records[0]["msg"])
	assert.Equal(t, "internal-1", records[0]["request_id"])
	assert.Equal(t, errText, records[0]["err"])
	assert.Equal(t, "http request", records[1]["msg"])
	return fx
}

// nilErrorAPI answers Info with a nil *payflow.Error for its error.
type nilErrorAPI struct{ *httpFakeAPI }

func (a nilErrorAPI) Info(context.Context) (*payflow.Info, error) {
	var e *payflow.Error
	return nil, e
}

// TestHTTPAnswersANilErrorInternal: an API call that fails with a nil
// *Error is answered 500 internal with no detail, logged as a failure of
// the request and not as a panic (was: a nil dereference, recovered).
func TestHTTPAnswersANilErrorInternal(t *testing.T) {
	api := nilErrorAPI{newHTTPFakeAPI()}
	checkInfoInternal(t, api, api.httpFakeAPI, "payflow: nil *Error")
}

// signalledReplies is a ReplyMemory that sends on finished what each
// FinishIdempotent returns, once it stored the reply.
type signalledReplies struct {
	*payflow.ReplyMemory
	finished chan error
}

func (s *signalledReplies) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	err := s.ReplyMemory.FinishIdempotent(ctx, key, lease, status, reply, expires)
	s.finished <- err
	return err
}

// storedReplies is a ReplyStore whose BeginIdempotent finds every key
// finished with reply.
type storedReplies struct {
	*payflow.ReplyMemory
	reply payflow.IdempotentReply
}

func (s *storedReplies) BeginIdempotent(context.Context, string, []byte, time.Time, time.Time) (*payflow.IdempotentReply, error) {
	r := s.reply
	return &r, nil
}

// TestHTTPRefusesToReplayAStoredReplyOfAnInvalidStatus: a stored reply
// whose status is no final status that carries a body (200 to 599, but
// 204, 205 and 304) is not replayed: the request gets 500 internal with
// no detail, without Idempotent-Replayed, and the status is logged with
// the request ID. A stored reply of such a status is replayed as it is.
func TestHTTPRefusesToReplayAStoredReplyOfAnInvalidStatus(t *testing.T) {
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	key := map[string]string{payflow.IdempotencyKeyHeader: "k1", payflow.RequestIDHeader: "stored-1"}
	stored := []byte("stored reply")
	for _, status := range []int{-1, 0, 99, 100, 101, 103, 199, 204, 205, 304, 600, 999, 1000} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			replies := &storedReplies{ReplyMemory: payflow.NewReplyMemory(), reply: payflow.IdempotentReply{Status: status, Reply: stored}}
			fx := newHTTPFixture(t, payflow.HandlerOptions{Replies: replies}, payflow.ClientOptions{})
			r := fx.do(t, http.MethodPost, "/v1/requests", key, body)
			assert.Equal(t, http.StatusInternalServerError, r.status)
			e := r.errorBody(t)
			assert.Equal(t, "internal", e.Code)
			assert.Equal(t, "internal error", e.Message, "no detail")
			assert.Empty(t, r.header.Get(payflow.ReplayedHeader))
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			assert.Equal(t, "stored-1", r.header.Get(payflow.RequestIDHeader))
			assert.Zero(t, fx.api.count("CreateRequest"), "nothing runs")
			records := logRecords(t, fx.logs)
			require.Len(t, records, 2)
			assert.Equal(t, "request failed", records[0]["msg"])
			assert.Equal(t, "stored-1", records[0]["request_id"])
			assert.Contains(t, records[0]["err"], fmt.Sprintf("stored reply of status %d", status))
			assert.Equal(t, "http request", records[1]["msg"])
			assert.Equal(t, float64(http.StatusInternalServerError), records[1]["status"])
		})
	}
	for _, status := range []int{200, 202, 400, 422, 503, 599} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			replies := &storedReplies{ReplyMemory: payflow.NewReplyMemory(), reply: payflow.IdempotentReply{Status: status, Reply: stored}}
			fx := newHTTPFixture(t, payflow.HandlerOptions{Replies: replies}, payflow.ClientOptions{})
			r := fx.do(t, http.MethodPost, "/v1/requests", key, body)
			assert.Equal(t, status, r.status)
			assert.Equal(t, stored, r.body)
			assert.Equal(t, "true", r.header.Get(payflow.ReplayedHeader))
			assert.Zero(t, fx.api.count("CreateRequest"))
		})
	}
}

// deadlineReplies is a ReplyStore that records, per method, the deadline
// of each call's context (zero for none) and the lease of each
// BeginIdempotent; the calls of the method block wait for their context to
// end and fail with its error.
type deadlineReplies struct {
	*payflow.ReplyMemory
	block     string
	mu        sync.Mutex
	deadlines map[string][]time.Time
	leases    []time.Time
}

func newDeadlineReplies(block string) *deadlineReplies {
	return &deadlineReplies{ReplyMemory: payflow.NewReplyMemory(), block: block, deadlines: make(map[string][]time.Time)}
}

func (d *deadlineReplies) note(method string, ctx context.Context) error {
	deadline, _ := ctx.Deadline()
	d.mu.Lock()
	d.deadlines[method] = append(d.deadlines[method], deadline)
	d.mu.Unlock()
	if method == d.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (d *deadlineReplies) BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*payflow.IdempotentReply, error) {
	d.mu.Lock()
	d.leases = append(d.leases, lease)
	d.mu.Unlock()
	if err := d.note("Begin", ctx); err != nil {
		return nil, err
	}
	return d.ReplyMemory.BeginIdempotent(ctx, key, bodyHash, now, lease)
}

func (d *deadlineReplies) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, reply []byte, expires time.Time) error {
	if err := d.note("Finish", ctx); err != nil {
		return err
	}
	return d.ReplyMemory.FinishIdempotent(ctx, key, lease, status, reply, expires)
}

func (d *deadlineReplies) AbandonIdempotent(ctx context.Context, key string, lease time.Time) error {
	if err := d.note("Abandon", ctx); err != nil {
		return err
	}
	return d.ReplyMemory.AbandonIdempotent(ctx, key, lease)
}

// TestHTTPReplyStoreCallsHaveADeadline: the handler's calls to the reply
// store run under the deadline of their request, as the API call does, so
// that a database that stops answering holds no request for ever.
func TestHTTPReplyStoreCallsHaveADeadline(t *testing.T) {
	rs := newDeadlineReplies("")
	fx := newHTTPFixture(t, payflow.HandlerOptions{Replies: rs}, payflow.ClientOptions{})
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	ok := fx.do(t, http.MethodPost, "/v1/requests", map[string]string{payflow.IdempotencyKeyHeader: "k1"}, body)
	require.Equal(t, http.StatusOK, ok.status)
	fx.api.set(func(f *httpFakeAPI) { f.err = payflow.ErrConflict })
	lost := fx.do(t, http.MethodPost, "/v1/requests", map[string]string{payflow.IdempotencyKeyHeader: "k2"}, body)
	require.Equal(t, http.StatusConflict, lost.status)
	rs.mu.Lock()
	defer rs.mu.Unlock()
	require.Len(t, rs.deadlines["Begin"], 2)
	d1, d2 := rs.deadlines["Begin"][0], rs.deadlines["Begin"][1]
	assert.False(t, d1.IsZero() || d2.IsZero(), "claiming a key has a deadline")
	assert.Equal(t, map[string][]time.Time{"Begin": {d1, d2}, "Finish": {d1}, "Abandon": {d2}}, rs.deadlines)
}

// TestHTTPRequestStepsShareOneDeadline: claiming the key, the API call and
// storing or releasing the key run under one deadline, CallTimeout after
// the request reached them, so that the request ends by then whichever
// step hangs; the key's lease outlasts that deadline by 10 s at least.
func TestHTTPRequestStepsShareOneDeadline(t *testing.T) {
	body := mustCBOR(t, &payflow.CreateRequest{Request: []byte("r1")})
	for _, tt := range []struct {
		name    string
		block   string // the step that hangs: "API" or a ReplyStore method
		status  int
		code    string // error code, "" for a success
		calls   int    // API calls
		stepped []string
	}{
		{"claiming the key hangs", "Begin", http.StatusServiceUnavailable, "unavailable", 0, []string{"Begin"}},
		{"the call hangs", "API", http.StatusServiceUnavailable, "unavailable", 1, []string{"Begin", "Abandon"}},
		{"storing the reply hangs", "Finish", http.StatusOK, "", 1, []string{"Begin", "Finish"}}, // the key stays in flight
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs := newDeadlineReplies(tt.block)
			fx := newHTTPFixture(t, payflow.HandlerOptions{Replies: rs, CallTimeout: 50 * time.Millisecond, ReplyLease: time.Nanosecond}, payflow.ClientOptions{})
			ctxs := make(chan context.Context, 1)
			fx.api.set(func(f *httpFakeAPI) {
				f.ctxs = ctxs
				if tt.block == "API" {
					f.release = make(chan struct{}) // never closed: the call waits for its context
				}
			})
			r := fx.do(t, http.MethodPost, "/v1/requests", map[string]string{payflow.IdempotencyKeyHeader: "k"}, body)
			require.Equal(t, tt.status, r.status)
			if tt.code != "" {
				assert.Equal(t, tt.code, r.errorCode(t))
			}
			assert.Equal(t, tt.calls, fx.api.count("CreateRequest"))

			rs.mu.Lock()
			defer rs.mu.Unlock()
			require.Len(t, rs.leases, 1)
			deadline := rs.deadlines["Begin"][0]
			require.False(t, deadline.IsZero())
			want, got := make(map[string]time.Time), make(map[string]time.Time)
			for _, s := range tt.stepped {
				want[s] = deadline
			}
			for s, ds := range rs.deadlines {
				// A reply not stored by its deadline is tried again
				// later, under the lease's deadline: those tries are
				// no steps of the request.
				got[s] = ds[0]
			}
			assert.Equal(t, want, got, "every step of the request has its deadline")
			if tt.calls > 0 {
				called, _ := (<-ctxs).Deadline()
				assert.Equal(t, deadline, called, "the API call has the request's deadline")
			}
			assert.GreaterOrEqual(t, rs.leases[0].Sub(deadline), 10*time.Second, "the lease outlasts the deadline")
		})
	}
}

// TestHTTPCallEndedByDeadline: a call that fails with its context's error
// once the request's deadline (CallTimeout) passed, with no code of its
// own, is 503 unavailable, the platform not having served it in time, and
// so is one that wraps that error; one whose error carries a code keeps
// it, and a call that fails with a deadline error of its own while the
// request's deadline has not passed is internal, a fault of the API.
func TestHTTPCallEndedByDeadline(t *testing.T) {
	for _, tt := range []struct {
		name   string
		wait   bool // the call waits for its context to end
		ended  func(error) error
		err    error
		status int
		code   string
	}{
		{"the context's error", true, nil, nil, http.StatusServiceUnavailable, "unavailable"},
		{"the context's error wrapped", true, func(err error) error { return fmt.Errorf("reading the request: %w", err) }, nil, http.StatusServiceUnavailable, "unavailable"},
		{"a code of its own", true, func(err error) error { return fmt.Errorf("%w: %w", payflow.ErrConflict, err) }, nil, http.StatusConflict, "conflict"},
		{"a deadline of its own", false, nil, fmt.Errorf("a step of the call: %w", context.DeadlineExceeded), http.StatusInternalServerError, "internal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newHTTPFixture(t, payflow.HandlerOptions{CallTimeout: 50 * time.Millisecond}, payflow.ClientOptions{})
			fx.api.set(func(f *httpFakeAPI) {
				f.ended, f.err = tt.ended, tt.err
				if tt.wait {
					f.release = make(chan struct{}) // never closed: the call waits for its context
				}
			})
			r := fx.do(t, http.MethodGet, "/v1/requests/"+payflow.ID{7}.String(), map[string]string{"Authorization": "Bearer t"}, nil)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.code, r.errorCode(t))
			assert.Equal(t, 1, fx.api.count("Payment"))
		})
	}
}

// TestNewHandlerRefusesOptionsOutOfRange: a negative option is refused
// with ErrInvalid rather than taken for the default, and so is a duration
// so long that the handler's arithmetic on it would overflow; zero is the
// default.
func TestNewHandlerRefusesOptionsOutOfRange(t *testing.T) {
	for name, opts := range map[string]payflow.HandlerOptions{
		"ReplyTTL":             {ReplyTTL: -time.Second},
		"ReplyLease":           {ReplyLease: -time.Nanosecond},
		"MaxBodyBytes":         {MaxBodyBytes: -1},
		"MaxInFlight":          {MaxInFlight: -1},
		"CallTimeout":          {CallTimeout: -time.Millisecond},
		"longest CallTimeout":  {CallTimeout: math.MaxInt64},
		"longest ReplyLease":   {ReplyLease: math.MaxInt64},
		"longest ReplyTTL":     {ReplyTTL: math.MaxInt64},
		"CallTimeout too long": {CallTimeout: payflow.MaxHandlerDuration + 1},
		"ReplyLease too long":  {ReplyLease: payflow.MaxHandlerDuration + 1},
		"ReplyTTL too long":    {ReplyTTL: payflow.MaxHandlerDuration + 1},
	} {
		h, err := payflow.NewHandler(newHTTPFakeAPI(), opts)
		assert.ErrorIs(t, err, payflow.ErrInvalid, name)
		assert.Nil(t, h, name)
	}
	for _, opts := range []payflow.HandlerOptions{{}, {ReplyTTL: payflow.MaxHandlerDuration, ReplyLease: payflow.MaxHandlerDuration, CallTimeout: payflow.MaxHandlerDuration}} {
		h, err := payflow.NewHandler(newHTTPFakeAPI(), opts)
		require.NoError(t, err)
		assert.NotNil(t, h)
	}
}

// TestNewHandlerRefusesNilAPI: a handler without an API would answer
// every request 500; it is refused with ErrInvalid instead, and so is a
// nil pointer of any type implementing API.
func TestNewHandlerRefusesNilAPI(t *testing.T) {
	for name, api := range map[string]payflow.API{
		"nil":                   nil,
		"nil *Platform":         (*payflow.Platform)(nil),
		"nil pointer of a fake": (*httpFakeAPI)(nil),
	} {
		h, err := payflow.NewHandler(api, payflow.HandlerOptions{})
		assert.ErrorIs(t, err, payflow.ErrInvalid, name)
		assert.Nil(t, h, name)
	}
}

// TestNewHandlerRefusesNilReplies: a nil pointer as the reply store
// would panic at the first POST with an Idempotency-Key; it is refused with
// ErrInvalid, while a nil interface still means the default store.
func TestNewHandlerRefusesNilReplies(t *testing.T) {
	h, err := payflow.NewHandler(&httpFakeAPI{}, payflow.HandlerOptions{Replies: (*payflow.ReplyMemory)(nil)})
	assert.ErrorIs(t, err, payflow.ErrInvalid)
	assert.Nil(t, h)
	h, err = payflow.NewHandler(&httpFakeAPI{}, payflow.HandlerOptions{Replies: nil})
	require.NoError(t, err)
	assert.NotNil(t, h)
}

// TestHTTPRefusesAmbiguousHeaders: two Authorization headers are
// ambiguous credentials, and an empty one malformed credentials, refused
// 401 unauthorized on every endpoint, those that need no token too; an
// Idempotency-Key that is malformed or sent twice is 400 invalid on a GET
// as on a POST.
func TestHTTPRefusesAmbiguousHeaders(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	id := payflow.ID{1}.String()
	tok := []string{"Bearer tok"}
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		status int
		code   string
	}{
		{"two tokens", "GET", "/v1/requests/" + id, http.Header{"Authorization": {"Bearer tok", "Bearer other"}}, 401, "unauthorized"},
		{"the same token twice", "GET", "/v1/requests/" + id, http.Header{"Authorization": {"Bearer tok", "Bearer tok"}}, 401, "unauthorized"},
		{"a token and an empty header", "POST", "/v1/requests/" + id + "/decline", http.Header{"Authorization": {"Bearer tok", ""}}, 401, "unauthorized"},
		{"two tokens where none is needed", "GET", "/v1/info", http.Header{"Authorization": {"Bearer tok", "Bearer other"}}, 401, "unauthorized"},
		{"an empty header", "GET", "/v1/requests/" + id, http.Header{"Authorization": {""}}, 401, "unauthorized"},
		{"an empty header where none is needed", "GET", "/v1/info", http.Header{"Authorization": {""}}, 401, "unauthorized"},
		{"an empty header on a POST where none is needed", "POST", "/v1/requests/" + id + "/consent", http.Header{"Authorization": {""}}, 401, "unauthorized"},
		{"malformed key on a GET", "GET", "/v1/info", http.Header{payflow.IdempotencyKeyHeader: {"key with space"}}, 400, "invalid"},
		{"empty key on a GET", "GET", "/v1/requests/" + id, http.Header{"Authorization": tok, payflow.IdempotencyKeyHeader: {""}}, 400, "invalid"},
		{"two keys on a GET", "GET", "/v1/requests/" + id, http.Header{"Authorization": tok, payflow.IdempotencyKeyHeader: {"k1", "k2"}}, 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.doHeader(t, tt.method, tt.path, tt.header, nil)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.code, r.errorCode(t))
			if tt.status == 401 {
				assert.Equal(t, `Bearer realm="casimpay"`, r.header.Get("WWW-Authenticate"))
			}
		})
	}
	assert.Zero(t, fx.api.count("Info")+fx.api.count("Payment")+fx.api.count("Decline")+fx.api.count("Approve"), "no refused request reaches the API")
	// A well-formed key on a GET is accepted and not used.
	r := fx.doHeader(t, "GET", "/v1/info", http.Header{payflow.IdempotencyKeyHeader: {"k1"}}, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, 1, fx.api.count("Info"))
}

// TestHTTPClosesTheConnectionAfterABodyOverTheLimit: a body over the
// limit is 422 over_limit with Connection: close, and the server ends the
// kept-alive connection rather than reading the rest of the body.
func TestHTTPClosesTheConnectionAfterABodyOverTheLimit(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	conn, err := net.Dial("tcp", fx.srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	// Bounds every read and write: a server that kept the connection
	// open would fail the test rather than hang it.
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	const size = 70_000 // over DefaultMaxBodyBytes
	head := fmt.Sprintf("POST /v1/challenges HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", payflow.ContentType, size)
	_, err = conn.Write(append([]byte(head), make([]byte, size)...))
	require.NoError(t, err)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.Equal(t, "over_limit", httpRawReply{status: resp.StatusCode, header: resp.Header, body: b}.errorCode(t))
	require.True(t, resp.Close, "the reply says Connection: close")
	_, err = br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "the server ended the connection")
}

// TestHTTPBodyReadErrorRevealsNothing: a body that cannot be read (a
// client too slow for the server's read timeout) is 400 invalid with a
// fixed message; the network error, which names the server's address,
// is only logged with the request ID.
func TestHTTPBodyReadErrorRevealsNothing(t *testing.T) {
	logs := &syncBuffer{}
	api := newHTTPFakeAPI()
	h := mustHandler(t, api, payflow.HandlerOptions{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	const cause = "read tcp 127.0.0.1:39925->127.0.0.1:50558: i/o timeout"
	req := httptest.NewRequest(http.MethodPost, "/v1/challenges", iotest.ErrReader(errors.New(cause)))
	req.Header.Set("Content-Type", payflow.ContentType)
	req.Header.Set(payflow.RequestIDHeader, "slow-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	var e payflow.Error
	require.NoError(t, cbor.Unmarshal(rec.Body.Bytes(), &e))
	assert.Equal(t, "invalid", e.Code)
	assert.Equal(t, "payflow: invalid request: body could not be read", e.Message)
	assert.Zero(t, api.count("Challenge"))

	var logged bool
	for _, m := range logRecords(t, logs) {
		assert.Equal(t, "slow-1", m["request_id"])
		if m["err"] == cause {
			logged = true
		}
	}
	assert.True(t, logged, "the cause is logged: %s", logs.String())
}

// TestHTTPErrorMessagesAreValidUTF8: an error reply whose message repeats
// a part of the request that is not UTF-8, such as the escaped octet %F3
// of a path, carries U+FFFD in its place, so that the body is valid CBOR
// and the client gets the error's code and message; a catalog's merchant
// ID that is not UTF-8 is refused as such, before the body is looked at.
func TestHTTPErrorMessagesAreValidUTF8(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	c := mustClient(t, fx.srv.URL+"/%F3", payflow.ClientOptions{MaxAttempts: 1})
	_, err := c.Info(context.Background())
	var e *payflow.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "not_found", e.Code)
	assert.Equal(t, http.StatusNotFound, e.Status)
	assert.Equal(t, "payflow: not found: no endpoint GET /\uFFFD/v1/info", e.Message)

	auth := map[string]string{"Authorization": "Bearer tok"}
	tests := []struct {
		name    string
		path    string
		header  map[string]string
		body    []byte
		status  int
		code    string
		message string
	}{
		{"unknown endpoint", "/v1/catalog/%F3", nil, nil, 404, "not_found", "payflow: not found: no endpoint GET /v1/catalog/\uFFFD"},
		{"path not clean", "/v1//%F3", nil, nil, 404, "not_found", "payflow: not found: no endpoint GET /v1//\uFFFD"},
		{"merchant ID not UTF-8, body on a GET", "/v1/merchants/%F3/catalog", auth, []byte{0xa0}, 400, "invalid", "payflow: invalid request: merchant ID must be UTF-8"},
		{"body on a GET", "/v1/merchants/%C3%B3/catalog", auth, []byte{0xa0}, 400, "invalid", "payflow: invalid request: GET /v1/merchants/\u00f3/catalog takes no body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.do(t, http.MethodGet, tt.path, tt.header, tt.body)
			assert.Equal(t, tt.status, r.status)
			e := r.errorBody(t)
			assert.Equal(t, tt.code, e.Code)
			assert.Equal(t, tt.message, e.Message)
		})
	}
	assert.Zero(t, fx.api.count("Catalog"))
}

// TestHTTPDecodeErrorsNameNoGoTypes: a body that does not decode is 400
// invalid with a message naming the message type of §5.3 and what is
// wrong with it, not the server's Go types.
func TestHTTPDecodeErrorsNameNoGoTypes(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	capture := "/v1/requests/" + payflow.ID{1}.String() + "/capture"
	auth := map[string]string{"Authorization": "Bearer tok"}
	good := mustCBOR(t, &payflow.ChallengeRequest{CardID: "8944100000000000009"})
	tests := []struct {
		name   string
		path   string
		header map[string]string
		body   []byte
		msg    string
	}{
		{"byte string for a text string", "/v1/challenges", nil, mustCBOR(t, map[int]any{1: []byte{1}}), "body is not a valid ChallengeRequest: field 1 has the wrong type"},
		{"negative amount", capture, auth, mustCBOR(t, map[int]any{2: -1}), "body is not a valid CaptureRequest: field 2 has the wrong type"},
		{"text string for an ID", capture, auth, mustCBOR(t, map[int]any{1: "abc"}), "body is not a valid CaptureRequest: field 1 has the wrong type"},
		{"text string for a byte string", "/v1/login", nil, mustCBOR(t, map[int]any{1: "proof"}), "body is not a valid LoginRequest: field 1 has the wrong type"},
		{"not a map", "/v1/challenges", nil, mustCBOR(t, []int{1}), "body is not a valid ChallengeRequest: it is not a map"},
		{"key beyond int64", "/v1/challenges", nil, []byte{0xa1, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x40}, "body is not a valid ChallengeRequest: a map key is unknown"},
		{"byte string key", "/v1/challenges", nil, []byte{0xa1, 0x41, 0x01, 0x40}, "body is not a valid ChallengeRequest: a map key is unknown"},
		{"unknown key", "/v1/challenges", nil, []byte{0xa2, 0x01, 0x61, 'a', 0x07, 0x01}, "body is not a valid ChallengeRequest: entry 2 of the map has an unknown key"},
		{"unknown first key", "/v1/challenges", nil, []byte{0xa2, 0x07, 0x01, 0x01, 0x61, 'a'}, "body is not a valid ChallengeRequest: entry 1 of the map has an unknown key"},
		{"repeated key", "/v1/challenges", nil, []byte{0xa2, 0x01, 0x61, 'a', 0x01, 0x61, 'b'}, "body is not a valid ChallengeRequest: entry 2 of the map repeats a key"},
		{"repeated byte string key", "/v1/challenges", nil, []byte{0xa2, 0x41, 0x01, 0x40, 0x41, 0x01, 0x40}, "body is not a valid ChallengeRequest: a map key is unknown"},
		{"empty", "/v1/challenges", nil, []byte{}, "body is not a valid ChallengeRequest: it is empty"},
		{"truncated", "/v1/challenges", nil, good[:len(good)-1], "body is not a valid ChallengeRequest: it ends within a CBOR item"},
		{"trailing bytes", "/v1/challenges", nil, append(bytes.Clone(good), 0x00), "body is not a valid ChallengeRequest: bytes follow its CBOR item"},
		{"short ID", capture, auth, mustCBOR(t, map[int]any{1: []byte{1, 2}}), "body is not a valid CaptureRequest: an ID is 16 octets, not 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": payflow.ContentType}
			maps.Copy(h, tt.header)
			r := fx.do(t, http.MethodPost, tt.path, h, tt.body)
			assert.Equal(t, http.StatusBadRequest, r.status)
			e := r.errorBody(t)
			assert.Equal(t, "invalid", e.Code)
			assert.Equal(t, "payflow: invalid request: "+tt.msg, e.Message)
		})
	}
	fx.api.mu.Lock()
	defer fx.api.mu.Unlock()
	assert.Empty(t, fx.api.calls, "no refused request reaches the API")
}

// TestHTTPNilBodyIsEmpty: a request whose Body is nil, which a server
// never passes but a caller of ServeHTTP may, is served as one with an
// empty body: the same status and reply, not a panic answered 500.
func TestHTTPNilBodyIsEmpty(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	decline := "/v1/requests/" + payflow.ID{1}.String() + "/decline"
	tests := []struct {
		name, method, path string
		status             int
		code               string // of the error body; "" for a 200
	}{
		{"GET", http.MethodGet, "/v1/info", 200, ""},
		{"POST without a body", http.MethodPost, decline, 200, ""},
		{"POST whose body is needed", http.MethodPost, "/v1/challenges", 400, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serve := func(body io.ReadCloser) *httptest.ResponseRecorder {
				req := httptest.NewRequest(tt.method, tt.path, nil)
				req.Body = body
				req.Header.Set("Content-Type", payflow.ContentType)
				req.Header.Set("Authorization", "Bearer tok")
				req.Header.Set(payflow.RequestIDHeader, "nil-body")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			empty, nilBody := serve(http.NoBody), serve(nil)
			require.Equal(t, tt.status, empty.Code, "%s", empty.Body)
			assert.Equal(t, tt.status, nilBody.Code, "%s", nilBody.Body)
			assert.Equal(t, empty.Body.Bytes(), nilBody.Body.Bytes())
			if tt.code != "" {
				r := httpRawReply{status: nilBody.Code, header: nilBody.Header(), body: nilBody.Body.Bytes()}
				assert.Equal(t, tt.code, r.errorCode(t))
			}
		})
	}
}

// rivalReplies is a ReplyMemory into which, while rival is set, another
// handler process claims each key with the request's body hash just
// before the handler asks for it, so that the handler finds the key in
// flight.
type rivalReplies struct {
	*payflow.ReplyMemory
	rival atomic.Bool
}

func (m *rivalReplies) BeginIdempotent(ctx context.Context, key string, bodyHash []byte, now, lease time.Time) (*payflow.IdempotentReply, error) {
	if m.rival.Load() {
		if rep, err := m.ReplyMemory.BeginIdempotent(ctx, key, bodyHash, now, lease); rep != nil || err != nil {
			return nil, fmt.Errorf("the rival found key %s taken: %v", key, err)
		}
	}
	return m.ReplyMemory.BeginIdempotent(ctx, key, bodyHash, now, lease)
}

// checkedAPI is an API wrapped as a logging or metrics layer would wrap
// it, forwarding TokenChecker.
type checkedAPI struct{ payflow.API }

func (a checkedAPI) CheckToken(ctx context.Context, token string) error {
	return a.API.(payflow.TokenChecker).CheckToken(ctx, token)
}

var _ payflow.TokenChecker = checkedAPI{}

// TestHTTPReplayChecksTheToken: a stored reply of a POST that takes a
// token is replayed only to a token that the endpoint takes now. Once
// the card's certificate is revoked, or has expired past the verifier's
// clock skew, the card is no longer in the store (its cached entry
// expired), or is enrolled again with another certificate, or the token
// has expired, the same token, key and body get the error the endpoint
// gives that token (403 card_not_trusted with the message of the card's
// login for a revoked or expired certificate, with that of the refusal
// for a card not enrolled or enrolled with another certificate, 401
// unauthorized with the challenge header), without Idempotent-Replayed,
// and nothing runs; before, the reply is replayed. A key in flight (409)
// and a key used with another body (422) are answered before the token
// is looked at, the same before the refusal and after it. A POST that
// takes no token is replayed as before, whatever token it carries. All
// of it holds in front of the platform and of a wrapper of it that
// forwards TokenChecker.
func TestHTTPReplayChecksTheToken(t *testing.T) {
	apis := map[string]func(*payflow.Platform) payflow.API{
		"platform": func(p *payflow.Platform) payflow.API { return p },
		"wrapped":  func(p *payflow.Platform) payflow.API { return checkedAPI{p} },
	}
	for _, tc := range []struct {
		name string
		// seller, when set, enrols the seller card whose token
		// captures, in place of the shop's seller card, and returns
		// that token.
		seller func(t *testing.T, s *shop) string
		refuse func(t *testing.T, s *shop, st *handDeleted)
		status int
		code   string
	}{
		{"revoked card", nil, func(_ *testing.T, s *shop, _ *handDeleted) { s.Revoke(s.seller) }, http.StatusForbidden, "card_not_trusted"},
		{"card certificate expired", func(t *testing.T, s *shop) string {
			lr, err := s.newSellerCard(t, 30*time.Minute)()
			require.NoError(t, err)
			return lr.Token
		}, func(_ *testing.T, s *shop, _ *handDeleted) {
			s.Clock.Advance(31*time.Minute + pki.DefaultSkew) // past the certificate's end and the skew, within the token's hour
		}, http.StatusForbidden, "card_not_trusted"},
		{"card no longer enrolled", nil, func(t *testing.T, s *shop, st *handDeleted) {
			st.delete(t, s.seller.ID)
			s.Clock.Advance(payflow.DefaultCacheTTL + time.Second) // the cached card expires
		}, http.StatusForbidden, "card_not_trusted"},
		{"card enrolled with another certificate", nil, func(t *testing.T, s *shop, _ *handDeleted) { rekey(t, s, s.seller) }, http.StatusForbidden, "card_not_trusted"},
		{"expired token", nil, func(_ *testing.T, s *shop, _ *handDeleted) { s.Clock.Advance(payflow.DefaultTokenTTL) }, http.StatusUnauthorized, "unauthorized"},
	} {
		for apiName, api := range apis {
			t.Run(tc.name+"/"+apiName, func(t *testing.T) {
				ctx := context.Background()
				st := &handDeleted{Store: memory.New()}
				s := newShopOn(t, st, true, paytest.Options{})
				held := s.held(t)
				token := s.seller.Token
				if tc.seller != nil {
					token = tc.seller(t, s)
				}
				replies := &rivalReplies{ReplyMemory: payflow.NewReplyMemory()}
				srv := httptest.NewServer(mustHandler(t, api(s.Platform), payflow.HandlerOptions{Replies: replies, Now: s.Clock.Now, Logger: discardLogger()}))
				defer srv.Close()
				fx := &httpFixture{srv: srv}
				capture := "/v1/requests/" + held.ID.String() + "/capture"
				body := mustCBOR(t, &payflow.CaptureRequest{RequestID: held.ID})
				other := mustCBOR(t, &payflow.CaptureRequest{RequestID: held.ID, Amount: 1})
				header := func(key string) map[string]string {
					return map[string]string{"Authorization": "Bearer " + token, payflow.IdempotencyKeyHeader: key}
				}
				// keyed checks the answers that come before the token: the
				// key used with another body, and a key in flight.
				keyed := func(t *testing.T, rivalKey string) {
					t.Helper()
					r := fx.do(t, http.MethodPost, capture, header("k1"), other)
					assert.Equal(t, http.StatusUnprocessableEntity, r.status)
					assert.Equal(t, "idempotency_key_reused", r.errorCode(t))
					replies.rival.Store(true)
					r = fx.do(t, http.MethodPost, capture, header(rivalKey), body)
					replies.rival.Store(false)
					assert.Equal(t, http.StatusConflict, r.status)
					assert.Equal(t, "idempotency_in_flight", r.errorCode(t))
				}

				first := fx.do(t, http.MethodPost, capture, header("k1"), body)
				require.Equal(t, http.StatusOK, first.status)
				s.requireState(t, held.ID, payflow.StateCaptured)
				balances := s.balances(t)
				again := fx.do(t, http.MethodPost, capture, header("k1"), body)
				assert.Equal(t, http.StatusOK, again.status, "replayed before the refusal")
				assert.Equal(t, "true", again.header.Get(payflow.ReplayedHeader))
				assert.Equal(t, first.body, again.body)
				keyed(t, "k2")
				// A POST that takes no token, sent with one: a payment
				// request sent again.
				_, signed := s.request(t)
				resent := mustCBOR(t, &payflow.CreateRequest{Request: signed})
				view := fx.do(t, http.MethodPost, "/v1/requests", header("c1"), resent)
				require.Equal(t, http.StatusOK, view.status)

				tc.refuse(t, s, st)
				_, want := s.Platform.Capture(ctx, token, &payflow.CaptureRequest{RequestID: held.ID})
				require.Error(t, want)
				r := fx.do(t, http.MethodPost, capture, header("k1"), body)
				require.Equal(t, tc.status, r.status)
				assert.Equal(t, tc.code, r.errorCode(t))
				assert.Equal(t, payflow.AsError(want).Message, r.errorBody(t).Message, "the endpoint's reply")
				assert.Empty(t, r.header.Get(payflow.ReplayedHeader))
				if tc.status == http.StatusUnauthorized {
					assert.Equal(t, `Bearer realm="casimpay"`, r.header.Get("WWW-Authenticate"))
				}
				s.requireState(t, held.ID, payflow.StateCaptured)
				assert.Equal(t, balances, s.balances(t))
				keyed(t, "k3")
				r = fx.do(t, http.MethodPost, "/v1/requests", header("c1"), resent)
				assert.Equal(t, http.StatusOK, r.status, "a POST that takes no token replays whatever token it carries")
				assert.Equal(t, "true", r.header.Get(payflow.ReplayedHeader))
				assert.Equal(t, view.body, r.body)
			})
		}
	}
}

// TestHTTPAuthorizationHeaderMessages: a request whose Authorization
// header is missing, malformed or given twice is refused 401 unauthorized
// with a message saying which. The header is "Bearer" (in any case), one
// or more spaces (RFC 6750 §2.1: "Bearer" 1*SP b64token), then a
// b64token, whose letters, digits, - . _ ~ + / and final = the API judges:
// any other token is refused before the API is called.
func TestHTTPAuthorizationHeaderMessages(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	path := "/v1/requests/" + payflow.ID{1}.String()
	const (
		missing   = "payflow: unauthorized: a bearer token is needed"
		malformed = `payflow: unauthorized: the Authorization header is not "Bearer <token>"`
		twice     = "payflow: unauthorized: the Authorization header is given more than once"
		notB64    = "payflow: unauthorized: the bearer token is not a b64token (RFC 6750 §2.1: letters, digits, - . _ ~ + /, then = at the end only)"
	)
	refused := []struct {
		name   string
		path   string
		header http.Header
		msg    string
	}{
		{"no header", path, nil, missing},
		{"another scheme", path, http.Header{"Authorization": {"Basic xyz"}}, malformed},
		{"the scheme alone", path, http.Header{"Authorization": {"Bearer"}}, malformed},
		{"an empty header", path, http.Header{"Authorization": {""}}, malformed},
		{"a tab after the scheme", path, http.Header{"Authorization": {"Bearer\ttok"}}, malformed},
		{"a space in the token", path, http.Header{"Authorization": {"Bearer to k"}}, malformed},
		{"a tab in the token", path, http.Header{"Authorization": {"Bearer to\tk"}}, malformed},
		{"spaces alone", path, http.Header{"Authorization": {"Bearer  "}}, malformed},
		{"a character beyond ASCII", path, http.Header{"Authorization": {"Bearer jeton-é"}}, notB64},
		{"a comma", path, http.Header{"Authorization": {"Bearer to,k"}}, notB64},
		{"a quote", path, http.Header{"Authorization": {`Bearer "tok"`}}, notB64},
		{"a percent sign", path, http.Header{"Authorization": {"Bearer tok%"}}, notB64},
		{"an = inside", path, http.Header{"Authorization": {"Bearer to=k"}}, notB64},
		{"an = first", path, http.Header{"Authorization": {"Bearer =tok"}}, notB64},
		{"padding alone", path, http.Header{"Authorization": {"Bearer =="}}, notB64},
		{"malformed where no token is needed", "/v1/info", http.Header{"Authorization": {"Basic xyz"}}, malformed},
		{"no b64token where no token is needed", "/v1/info", http.Header{"Authorization": {"Bearer to,k"}}, notB64},
		{"twice", path, http.Header{"Authorization": {"Bearer tok", "Bearer tok"}}, twice},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.doHeader(t, http.MethodGet, tt.path, tt.header, nil)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			e := r.errorBody(t)
			assert.Equal(t, "unauthorized", e.Code)
			assert.Equal(t, tt.msg, e.Message)
			assert.Equal(t, `Bearer realm="casimpay"`, r.header.Get("WWW-Authenticate"))
		})
	}
	assert.Zero(t, fx.api.count("Payment")+fx.api.count("Info"), "no refused request reaches the API")
	accepted := []struct {
		name, header, token string
	}{
		{"one space", "Bearer tok", "tok"},
		{"two spaces", "Bearer  tok", "tok"},
		{"the scheme in lower case", "bearer tok", "tok"},
		{"the scheme in upper case, three spaces", "BEARER   aZ09-._~+/==", "aZ09-._~+/=="},
		{"the platform's form, base64url without padding", "Bearer aZ09-_", "aZ09-_"},
		{"padding", "Bearer t=", "t="},
	}
	for i, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.doHeader(t, http.MethodGet, path, http.Header{"Authorization": {tt.header}}, nil)
			assert.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, i+1, fx.api.count("Payment"))
			assert.Equal(t, tt.token, fx.api.lastToken())
		})
	}
}

// TestHTTPCatalogMerchantNotUTF8: a catalog's merchant ID that is not
// UTF-8 once unescaped is refused 400 invalid before the API, whose reply
// naming it could not be encoded; a UTF-8 one reaches the API.
func TestHTTPCatalogMerchantNotUTF8(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{})
	tok := http.Header{"Authorization": {"Bearer tok"}}
	for _, path := range []string{"/v1/merchants/%F3/catalog", "/v1/merchants/m%C3/catalog", "/v1/merchants/%ED%A0%80/catalog"} {
		r := fx.doHeader(t, http.MethodGet, path, tok, nil)
		assert.Equal(t, 400, r.status, path)
		assert.Equal(t, "invalid", r.errorCode(t), path)
	}
	fx.api.mu.Lock()
	assert.Empty(t, fx.api.calls, "no refused request reaches the API")
	fx.api.mu.Unlock()
	r := fx.doHeader(t, http.MethodGet, "/v1/merchants/%C3%B3/catalog", tok, nil)
	assert.Equal(t, 200, r.status)
	fx.api.mu.Lock()
	defer fx.api.mu.Unlock()
	assert.Equal(t, map[string]int{"Catalog": 1}, fx.api.calls)
}
