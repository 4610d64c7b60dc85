package payflow_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// flakyServer answers the first len(fail) attempts with the given
// statuses (0 drops the connection), then passes requests to the handler
// of a fake API. It records the Idempotency-Key of every attempt.
type flakyServer struct {
	mu   sync.Mutex
	fail []int
	keys []string
	api  *httpFakeAPI
	srv  *httptest.Server
}

func newFlakyServer(t *testing.T, fail ...int) *flakyServer {
	t.Helper()
	fs := &flakyServer{fail: fail, api: newHTTPFakeAPI()}
	h := mustHandler(t, fs.api, payflow.HandlerOptions{Logger: discardLogger()})
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		fs.keys = append(fs.keys, r.Header.Get(payflow.IdempotencyKeyHeader))
		status := -1
		if len(fs.fail) > 0 {
			status, fs.fail = fs.fail[0], fs.fail[1:]
		}
		fs.mu.Unlock()
		switch status {
		case -1:
			h.ServeHTTP(w, r)
		case 0:
			panic(http.ErrAbortHandler) // drops the connection
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "7")
			http.Error(w, "proxy says slow down", status)
		case http.StatusConflict:
			w.Header().Set("Content-Type", payflow.ContentType)
			w.WriteHeader(status)
			w.Write(mustCBOR(t, &payflow.Error{Code: "idempotency_in_flight", Message: "busy"}))
		default:
			http.Error(w, "proxy says no", status)
		}
	}))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *flakyServer) attempts() []string {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.keys...)
}

func fastClient(t *testing.T, url string, attempts int) *payflow.Client {
	return mustClient(t, url, payflow.ClientOptions{MaxAttempts: attempts, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
}

// TestClientRateLimitedProxy: a 429 without an error body but with a
// Retry-After header is rate_limited with that retry time.
func TestClientRateLimitedProxy(t *testing.T) {
	fs := newFlakyServer(t, http.StatusTooManyRequests)
	_, err := fastClient(t, fs.srv.URL, 4).CreateRequest(context.Background(), &payflow.CreateRequest{Request: []byte("r")})
	require.ErrorIs(t, err, payflow.ErrRateLimited)
	rl, ok := errors.AsType[*payflow.RateLimitedError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, 7*time.Second, rl.RetryAfter)
	assert.Len(t, fs.attempts(), 1, "not retried")
}

func TestClientRetries(t *testing.T) {
	ctx := context.Background()
	create := func(c *payflow.Client) error {
		_, err := c.CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r")})
		return err
	}
	tests := []struct {
		name     string
		fail     []int
		attempts int
		wantErr  error
		wantSent int
		wantRuns int
	}{
		{"503 then success", []int{503, 503}, 4, nil, 3, 1},
		{"dropped connection then success", []int{0}, 4, nil, 2, 1},
		{"dropped connection until the bound", []int{0, 0, 0}, 3, payflow.ErrUnavailable, 3, 0},
		{"409 in flight then success", []int{409, 409}, 4, nil, 3, 1},
		{"502 without a body until the bound", []int{502, 502, 502, 502, 502}, 3, payflow.ErrUnavailable, 3, 0},
		{"500 is internal", []int{500}, 1, payflow.ErrInternal, 1, 0},
		{"400 is not retried", []int{400}, 4, payflow.ErrInvalid, 1, 0},
		{"429 is not retried", []int{429}, 4, payflow.ErrRateLimited, 1, 0},
		{"404 without a body", []int{404}, 4, payflow.ErrNotFound, 1, 0},
		{"408 from a proxy then success", []int{408}, 4, nil, 2, 1},
		{"408 from a proxy until the bound", []int{408, 408}, 2, payflow.ErrUnavailable, 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlakyServer(t, tt.fail...)
			err := create(fastClient(t, fs.srv.URL, tt.attempts))
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
			}
			keys := fs.attempts()
			require.Len(t, keys, tt.wantSent)
			for _, k := range keys {
				assert.Len(t, k, 32)
				assert.Equal(t, keys[0], k, "every attempt carries the same key")
			}
			assert.Equal(t, tt.wantRuns, fs.api.count("CreateRequest"))
		})
	}
	t.Run("GET retries without a key", func(t *testing.T) {
		fs := newFlakyServer(t, 503)
		_, err := fastClient(t, fs.srv.URL, 2).Info(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"", ""}, fs.attempts())
	})
	t.Run("status of a bodyless error", func(t *testing.T) {
		fs := newFlakyServer(t, 502)
		_, err := fastClient(t, fs.srv.URL, 1).Info(ctx)
		e, ok := errors.AsType[*payflow.Error](err)
		require.True(t, ok)
		assert.Equal(t, "unavailable", e.Code)
		assert.Equal(t, 502, e.Status)
	})
}

func TestClientUnreachableAndContext(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := fastClient(t, url, 2).Info(context.Background())
	require.ErrorIs(t, err, payflow.ErrUnavailable)

	// A context that ends during the pause before a retry ends the call
	// with its error when it ends, not when the pause would have (an
	// hour), without another attempt.
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int32
		c := mustClient(t, "https://platform.example", payflow.ClientOptions{
			HTTPClient: &http.Client{Transport: unavailableTransport(nil, &sent)}, MinBackoff: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Info(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))
		assert.EqualValues(t, 1, sent.Load())
	})

	// A context that ends during the call ends it too.
	api := newHTTPFakeAPI()
	entered := make(chan string, 1)
	api.entered, api.release = entered, make(chan struct{})
	blocked := httptest.NewServer(mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()}))
	defer blocked.Close()
	defer close(api.release)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-entered; cancel() }()
	_, err = fastClient(t, blocked.URL, 3).Info(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, api.count("Info"))
}

func TestClientRefusesOversizedAndUndecodableReplies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", payflow.ContentType)
		if strings.HasSuffix(r.URL.Path, "info") {
			w.Write(make([]byte, 2048))
			return
		}
		if strings.HasSuffix(r.URL.Path, "challenges") {
			w.Write(append([]byte{0xa1, 0x02, 0x74}, "2027-01-15T08:00:00Z"...)) // a time is integer seconds, not text
			return
		}
		w.Write([]byte{0xa1, 0x01, 0x01}) // key 1 of a session is an ID, not an integer
	}))
	defer srv.Close()
	c := mustClient(t, srv.URL, payflow.ClientOptions{MaxReplyBytes: 1024, MaxAttempts: 1})
	_, err := c.Info(context.Background())
	require.ErrorIs(t, err, payflow.ErrInternal)
	_, err = c.Session(context.Background(), "t", payflow.ID{1})
	require.ErrorIs(t, err, payflow.ErrInternal)
	_, err = c.Challenge(context.Background(), &payflow.ChallengeRequest{CardID: "8944100000000000009"})
	require.ErrorIs(t, err, payflow.ErrInternal)
}

// TestClientRefusesRepliesNotCBOR: a reply is taken as the platform's
// only when it carries one Content-Type, application/cbor (in any case,
// parameters allowed), as the handler takes a request body (PROTOCOL.md
// §5.1). A 200 reply of another or of none, or of two, fails at once with
// internal, sent once, as a reply that does not decode does, though its
// body is a valid reply; an error reply of such a Content-Type is one
// without an error body, whose code its status gives.
func TestClientRefusesRepliesNotCBOR(t *testing.T) {
	info := mustCBOR(t, &payflow.Info{Chain: [][]byte{{1}}})
	finalState := mustCBOR(t, &payflow.Error{Code: "final_state", Message: "captured"})
	for _, tc := range []struct {
		name         string
		contentTypes []string
		taken        bool
	}{
		{"cbor", []string{payflow.ContentType}, true},
		{"cbor with a parameter", []string{"Application/CBOR; charset=binary"}, true},
		{"none", nil, false},
		{"html", []string{"text/html; charset=utf-8"}, false},
		{"octet stream", []string{"application/octet-stream"}, false},
		{"malformed", []string{"application/cbor;;"}, false},
		{"cbor twice", []string{payflow.ContentType, payflow.ContentType}, false},
		{"cbor and html", []string{payflow.ContentType, "text/html"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sent.Add(1)
				w.Header()["Content-Type"] = tc.contentTypes
				if r.URL.Path == "/v1/info" {
					w.Write(info)
					return
				}
				w.WriteHeader(http.StatusConflict)
				w.Write(finalState)
			}))
			defer srv.Close()
			c := fastClient(t, srv.URL, 3)
			out, err := c.Info(context.Background())
			if tc.taken {
				require.NoError(t, err)
				assert.Equal(t, [][]byte{{1}}, out.Chain)
			} else {
				requireOnlySentinel(t, err, payflow.ErrInternal)
				assert.Nil(t, out)
			}
			assert.Equal(t, int32(1), sent.Load())

			sent.Store(0)
			_, err = c.Cancel(context.Background(), "tok", payflow.ID{1})
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok, "%v", err)
			if tc.taken {
				requireOnlySentinel(t, err, payflow.ErrFinal)
				assert.Equal(t, payflow.Error{Code: "final_state", Message: "captured", Status: http.StatusConflict, RequestID: e.RequestID}, *e)
			} else {
				requireOnlySentinel(t, err, payflow.ErrInvalid)
				assert.Equal(t, payflow.Error{Code: "invalid", Message: "HTTP 409 without an error body", Status: http.StatusConflict, RequestID: e.RequestID}, *e)
			}
			assert.Equal(t, int32(1), sent.Load())
		})
	}
}

// TestClientReplyLimitIsExact: a reply of MaxReplyBytes octets is read
// and decoded; one of an octet more fails at once with ErrInternal.
func TestClientReplyLimitIsExact(t *testing.T) {
	const limit = 1024
	// a2 01 59 <n:2> and the nonce, then 02 00: 7 octets and n.
	at := mustCBOR(t, &payflow.ChallengeResponse{Nonce: make([]byte, limit-7), ExpiresAt: time.Unix(0, 0)})
	over := mustCBOR(t, &payflow.ChallengeResponse{Nonce: make([]byte, limit-6), ExpiresAt: time.Unix(0, 0)})
	require.Len(t, at, limit)
	require.Len(t, over, limit+1)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", payflow.ContentType)
		if r.Header.Get(payflow.RequestIDHeader) == "over" {
			w.Write(over)
			return
		}
		w.Write(at)
	}))
	defer srv.Close()
	c := mustClient(t, srv.URL, payflow.ClientOptions{MaxReplyBytes: limit})
	req := &payflow.ChallengeRequest{CardID: "8944100000000000009"}
	out, err := c.Challenge(payflow.WithRequestID(context.Background(), "at"), req)
	require.NoError(t, err)
	assert.Len(t, out.Nonce, limit-7)
	_, err = c.Challenge(payflow.WithRequestID(context.Background(), "over"), req)
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.EqualValues(t, 2, calls.Load(), "a reply over the limit is not retried")
}

// TestClientReplyHeaderLimit: the client's own HTTP client reads a
// reply's header section of up to 64 KiB, and no more: a platform that
// sends a longer one fails the attempt as a network error
// (ErrUnavailable once the attempts run out), so that what a reply makes
// a phone hold is bounded by its headers' limit and MaxReplyBytes, not by
// the 10 MiB of net/http's default.
func TestClientReplyHeaderLimit(t *testing.T) {
	body := mustCBOR(t, &payflow.Info{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		pad, _ := strconv.Atoi(r.Header.Get(payflow.RequestIDHeader)[len("pad-"):])
		w.Header().Set("X-Pad", strings.Repeat("a", pad))
		w.Header().Set("Content-Type", payflow.ContentType)
		w.Write(body)
	}))
	defer srv.Close()
	c := fastClient(t, srv.URL, 2)
	_, err := c.Info(payflow.WithRequestID(context.Background(), "pad-"+strconv.Itoa(60<<10)))
	require.NoError(t, err, "a header section within the limit")
	_, err = c.Info(payflow.WithRequestID(context.Background(), "pad-"+strconv.Itoa(64<<10)))
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.EqualValues(t, 3, calls.Load(), "the reply over the limit is retried as a network error")
}

// TestClientUnknownErrorCode: an error body whose code is none of
// PROTOCOL.md §5.4 gets the code of the reply's status, as a reply
// without an error body does, and matches that code's sentinel alone; its
// message names the code and message received, it is retried as its
// status is, and a retry time in the body is kept.
func TestClientUnknownErrorCode(t *testing.T) {
	for _, tc := range []struct {
		status, attempts int
		code             string
		want             error
	}{
		{http.StatusTeapot, 1, "invalid", payflow.ErrInvalid},
		{http.StatusForbidden, 1, "forbidden", payflow.ErrForbidden},
		{http.StatusInternalServerError, 3, "internal", payflow.ErrInternal},
		{http.StatusServiceUnavailable, 3, "unavailable", payflow.ErrUnavailable},
		{http.StatusTooManyRequests, 1, "rate_limited", payflow.ErrRateLimited},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			sent, err := callCBORErrorReply(t, tc.status, map[int]any{1: "teapot", 2: "brewing", 3: 7})
			if rl, ok := errors.AsType[*payflow.RateLimitedError](err); tc.status == http.StatusTooManyRequests {
				require.True(t, ok, "the body's retry time kept: %v", err)
				assert.Equal(t, 7*time.Second, rl.RetryAfter)
			} else {
				assert.False(t, ok, "%v", err)
			}
			requireOnlySentinel(t, err, tc.want)
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok, "%v", err)
			msg := "HTTP " + strconv.Itoa(tc.status) + ` with an unknown code "teapot": brewing`
			assert.Equal(t, payflow.Error{Code: tc.code, Message: msg, Status: tc.status, RequestID: e.RequestID}, *e)
			assert.Equal(t, int32(tc.attempts), sent)
		})
	}
}

// bareStatusServer serves every request with status and a plain-text
// body, as a proxy does, and counts the requests.
func bareStatusServer(t *testing.T, status int) (string, *atomic.Int32) {
	sent := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		http.Error(w, "proxy says no", status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, sent
}

// TestClientCodeOfBareClientErrorStatus: a 4xx reply without an error body,
// such as a proxy's plain-text one, gets the code of its status as
// PROTOCOL.md §5.4 lists them (401 unauthorized, 403 forbidden, 404
// not_found, 413 over_limit, 429 rate_limited, any other 4xx invalid),
// matches that code's sentinel alone, keeps the status, and is sent once.
func TestClientCodeOfBareClientErrorStatus(t *testing.T) {
	for status, want := range map[int]error{
		http.StatusBadRequest:            payflow.ErrInvalid,
		http.StatusUnauthorized:          payflow.ErrUnauthorized,
		http.StatusPaymentRequired:       payflow.ErrInvalid,
		http.StatusForbidden:             payflow.ErrForbidden,
		http.StatusNotFound:              payflow.ErrNotFound,
		http.StatusMethodNotAllowed:      payflow.ErrInvalid,
		http.StatusConflict:              payflow.ErrInvalid,
		http.StatusGone:                  payflow.ErrInvalid,
		http.StatusRequestEntityTooLarge: payflow.ErrLimit,
		http.StatusUnprocessableEntity:   payflow.ErrInvalid,
		http.StatusTooManyRequests:       payflow.ErrRateLimited,
		499:                              payflow.ErrInvalid,
	} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			url, sent := bareStatusServer(t, status)
			_, err := fastClient(t, url, 3).Info(context.Background())
			requireOnlySentinel(t, err, want)
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, payflow.AsError(want).Code, e.Code)
			assert.Equal(t, status, e.Status)
			assert.Equal(t, int32(1), sent.Load())
		})
	}
}

// TestClientRepliesOfNoErrorStatus: a reply that is neither the 200 of a
// success nor a 4xx or 5xx error, such as a gateway's 204, a 3xx that
// net/http does not follow (no Location, or a status it never follows)
// or a 201, is no verdict on the call's arguments: it fails at once,
// sent once, with internal, as a redirect that cannot be followed does,
// never invalid.
func TestClientRepliesOfNoErrorStatus(t *testing.T) {
	for _, status := range []int{http.StatusCreated, http.StatusNoContent, http.StatusMultipleChoices,
		http.StatusFound, http.StatusNotModified, http.StatusPermanentRedirect} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			var sent atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sent.Add(1)
				w.WriteHeader(status) // no Location
			}))
			defer srv.Close()
			_, err := fastClient(t, srv.URL, 3).CreateRequest(context.Background(), &payflow.CreateRequest{Request: []byte("r")})
			requireOnlySentinel(t, err, payflow.ErrInternal)
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, "internal", e.Code)
			assert.Equal(t, status, e.Status)
			assert.Equal(t, int32(1), sent.Load())
		})
	}
}

// TestNewClientRefusesOptionsOutOfRange: a negative option or a
// MaxBackoff below MinBackoff is refused with ErrInvalid rather than taken
// for the default or raised; zero is the default, which fits the other
// bound of the backoff. A duration has no upper bound: the handler's
// MaxHandlerDuration is no limit of the client's.
func TestNewClientRefusesOptionsOutOfRange(t *testing.T) {
	for name, opts := range map[string]payflow.ClientOptions{
		"AttemptTimeout":              {AttemptTimeout: -time.Second},
		"MaxAttempts":                 {MaxAttempts: -1},
		"MinBackoff":                  {MinBackoff: -time.Millisecond},
		"MaxBackoff":                  {MaxBackoff: -time.Nanosecond},
		"MaxReplyBytes":               {MaxReplyBytes: -1},
		"MaxBackoff below MinBackoff": {MinBackoff: time.Second, MaxBackoff: time.Second - 1},
		"shortest AttemptTimeout":     {AttemptTimeout: math.MinInt64},
	} {
		c, err := payflow.NewClient("https://platform.invalid", opts)
		assert.ErrorIs(t, err, payflow.ErrInvalid, name)
		assert.Nil(t, c, name)
	}
	for _, opts := range []payflow.ClientOptions{
		{},
		{MinBackoff: time.Hour},        // MaxBackoff defaults to an hour
		{MaxBackoff: time.Millisecond}, // MinBackoff defaults to a millisecond
		{AttemptTimeout: payflow.MaxHandlerDuration + 1, MinBackoff: payflow.MaxHandlerDuration + 1},
		{AttemptTimeout: math.MaxInt64, MinBackoff: math.MaxInt64, MaxBackoff: math.MaxInt64, MaxAttempts: math.MaxInt, MaxReplyBytes: math.MaxInt64},
	} {
		c, err := payflow.NewClient("https://platform.invalid", opts)
		require.NoError(t, err)
		assert.NotNil(t, c)
	}
}

// countConns starts srv, with TLS when tls is set, counting the
// connections it accepts (a connection whose TLS handshake fails never
// reaches the handler); it returns the count so far.
func countConns(t *testing.T, srv *httptest.Server, tls bool) func() int32 {
	t.Helper()
	var n atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return n.Load
}

// TestClientDoesNotRetryWhatCannotSucceed: a certificate the client does
// not trust or that names another host, an error of crypto/x509 that the
// transport's VerifyConnection or VerifyPeerCertificate returns bare (one
// of each type, HostnameError aside, x509.ErrUnsupportedAlgorithm, and
// the refusal of an MD5 signature that crypto/x509 itself returns), a
// plain HTTP server spoken to over TLS, a redirect the http.Client's
// CheckRedirect refuses, and a redirect to a Location that does not
// parse, of another scheme than http or https, without a host name
// (none, or a port alone, which net/http sends to the local machine: here
// a port nothing listens on) or with a port not from 1 to 65535 (no
// connection can be made to port 0, and none to 99999) fail the same way
// every time: the call is sent once and fails with an error matching
// ErrInternal, not ErrUnavailable, that keeps its cause.
func TestClientDoesNotRetryWhatCannotSucceed(t *testing.T) {
	ctx := context.Background()
	opts := payflow.ClientOptions{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	handler := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	assertFinal := func(t *testing.T, err error) {
		t.Helper()
		assert.ErrorIs(t, err, payflow.ErrInternal)
		assert.NotErrorIs(t, err, payflow.ErrUnavailable)
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(handler)
		conns := countConns(t, srv, true)
		_, err := mustClient(t, srv.URL, opts).CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r")})
		assertFinal(t, err)
		_, ok := errors.AsType[x509.UnknownAuthorityError](err)
		assert.True(t, ok, "%v", err)
		_, ok = errors.AsType[*tls.CertificateVerificationError](err)
		assert.True(t, ok, "%v", err)
		assert.Equal(t, int32(1), conns())
	})
	t.Run("certificate of another host", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(handler)
		conns := countConns(t, srv, true)
		tr := srv.Client().Transport.(*http.Transport).Clone() // trusts the server's certificate
		tr.TLSClientConfig.ServerName = "platform.example"
		o := opts
		o.HTTPClient = &http.Client{Transport: tr}
		_, err := mustClient(t, srv.URL, o).Info(ctx)
		assertFinal(t, err)
		_, ok := errors.AsType[x509.HostnameError](err)
		assert.True(t, ok, "%v", err)
		assert.Equal(t, int32(1), conns())
	})
	for _, bare := range []struct {
		name string
		err  error
	}{
		{"unknown authority", x509.UnknownAuthorityError{}},
		{"invalid certificate", x509.CertificateInvalidError{Reason: x509.Expired}},
		{"system roots not loaded", x509.SystemRootsError{}},
		{"constraint violated", x509.ConstraintViolationError{}},
		{"unhandled critical extension", x509.UnhandledCriticalExtension{}},
		{"insecure algorithm", x509.InsecureAlgorithmError(x509.SHA1WithRSA)},
		{"unsupported algorithm", x509.ErrUnsupportedAlgorithm},
	} {
		for _, hook := range []string{"VerifyConnection", "VerifyPeerCertificate"} {
			t.Run(bare.name+" from "+hook, func(t *testing.T) {
				conns, err := callVerifyingClient(t, handler, opts, hook, func(*x509.Certificate) error { return bare.err })
				assertFinal(t, err)
				assert.ErrorIs(t, err, bare.err)
				_, ok := errors.AsType[*tls.CertificateVerificationError](err)
				assert.False(t, ok, "%v", err) // crypto/tls returns the hook's error as it is
				assert.Equal(t, int32(1), conns)
			})
		}
	}
	t.Run("signature refused by crypto/x509 in VerifyPeerCertificate", func(t *testing.T) {
		conns, err := callVerifyingClient(t, handler, opts, "VerifyPeerCertificate", func(cert *x509.Certificate) error {
			return cert.CheckSignature(x509.MD5WithRSA, cert.RawTBSCertificate, cert.Signature)
		})
		assertFinal(t, err)
		assert.ErrorIs(t, err, x509.InsecureAlgorithmError(x509.MD5WithRSA))
		assert.Equal(t, int32(1), conns)
	})
	t.Run("TLS to a plain HTTP server", func(t *testing.T) {
		srv := httptest.NewUnstartedServer(handler)
		conns := countConns(t, srv, false)
		_, err := mustClient(t, "https://"+srv.Listener.Addr().String(), opts).Info(ctx)
		assertFinal(t, err)
		assert.ErrorIs(t, err, http.ErrSchemeMismatch)
		assert.Equal(t, int32(1), conns())
	})
	t.Run("TLS to a server of another protocol", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { ln.Close() })
		var conns atomic.Int32
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns.Add(1)
				c.Write([]byte("SSH-2.0-OpenSSH_9.9\r\n"))
				c.Close()
			}
		}()
		_, err = mustClient(t, "https://"+ln.Addr().String(), opts).Info(ctx)
		assertFinal(t, err)
		_, ok := errors.AsType[tls.RecordHeaderError](err)
		assert.True(t, ok, "%v", err)
		assert.Equal(t, int32(1), conns.Load())
	})

	var mu sync.Mutex
	var sent int
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent++
		mu.Unlock()
		http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	requests := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := sent
		sent = 0
		return n
	}
	t.Run("redirect refused by CheckRedirect", func(t *testing.T) {
		errRefused := errors.New("redirects are not followed")
		o := opts
		o.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return errRefused }}
		_, err := mustClient(t, redirecting.URL, o).CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r")})
		assertFinal(t, err)
		assert.ErrorIs(t, err, errRefused)
		assert.Equal(t, 1, requests())
	})
	t.Run("redirect loop under the default policy", func(t *testing.T) {
		_, err := mustClient(t, redirecting.URL, opts).Info(ctx)
		assertFinal(t, err)
		assert.Equal(t, 10, requests(), "one attempt: the default policy stops after 10 redirects")
	})
	for _, loc := range []string{"http://[::1", "ftp://platform.example/v1/info", "http:///v1/info",
		"http://:" + closedPort(t) + "/v1/info", "http://127.0.0.1:99999/v1/info", "http://127.0.0.1:0/v1/info"} {
		t.Run("redirect to "+loc, func(t *testing.T) {
			srv := newRedirectingServer(t, loc)
			_, err := mustClient(t, srv.URL, opts).CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r")})
			assertFinal(t, err)
			_, ok := errors.AsType[*url.Error](err)
			assert.True(t, ok, "%v", err)
			assert.Equal(t, int32(1), srv.requests.Load())
		})
	}
}

// TestClientTLSAlerts: a TLS alert by which the server refuses the
// client's configuration (a client certificate it requires, cannot verify
// or refuses, a TLS version, cipher suite, server name or application
// protocol it does not serve) would end every attempt alike: the call is
// sent once and fails with an error matching ErrInternal, not
// ErrUnavailable, that keeps the alert. An internal_error alert may pass:
// the call is retried as after any network error.
func TestClientTLSAlerts(t *testing.T) {
	handler := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	presentCert := func(c *tls.Config, srv *httptest.Server) { // the server's own, self-signed, which it does not take from a client
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &srv.TLS.Certificates[0], nil }
	}
	// Final: what the client offers against a server's fixed policy.
	// Retried: what depends on a backend's state or configuration, which
	// another attempt, on a new connection, may find otherwise (a fleet
	// part way through a rotation of certificates or settings).
	tests := []struct {
		name   string
		alert  int // RFC 8446 §6
		final  bool
		server func(*tls.Config, *httptest.Server)
		client func(*tls.Config, *httptest.Server)
	}{
		{"client certificate required", 116, true, func(c *tls.Config, _ *httptest.Server) {
			c.ClientAuth = tls.RequireAnyClientCert
		}, nil},
		{"TLS version", 70, true, func(c *tls.Config, _ *httptest.Server) {
			c.MinVersion = tls.VersionTLS13
		}, func(c *tls.Config, _ *httptest.Server) {
			c.MaxVersion = tls.VersionTLS12
		}},
		{"application protocol not served", 120, true, func(c *tls.Config, _ *httptest.Server) {
			c.NextProtos = []string{"acme-tls/1"}
		}, func(c *tls.Config, _ *httptest.Server) {
			c.NextProtos = []string{"http/1.1"}
		}},
		{"client certificate required by TLS 1.2", 40, false, func(c *tls.Config, _ *httptest.Server) {
			c.ClientAuth, c.MaxVersion = tls.RequireAnyClientCert, tls.VersionTLS12
		}, nil},
		{"client certificate refused", 42, false, func(c *tls.Config, _ *httptest.Server) {
			c.ClientAuth, c.MaxVersion = tls.RequireAnyClientCert, tls.VersionTLS12
			c.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error { return errors.New("not this one") }
		}, presentCert},
		{"client certificate of an unknown authority", 48, false, func(c *tls.Config, _ *httptest.Server) {
			c.ClientAuth, c.MaxVersion, c.ClientCAs = tls.RequireAndVerifyClientCert, tls.VersionTLS12, x509.NewCertPool()
		}, presentCert},
		{"expired client certificate", 45, false, func(c *tls.Config, srv *httptest.Server) {
			c.ClientAuth, c.MaxVersion = tls.RequireAndVerifyClientCert, tls.VersionTLS12
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				trusting := srv.TLS.Clone() // trusts its own certificate, expired by then
				trusting.GetConfigForClient = nil
				trusting.ClientCAs = x509.NewCertPool()
				trusting.ClientCAs.AddCert(srv.Certificate())
				trusting.Time = func() time.Time { return srv.Certificate().NotAfter.Add(time.Hour) }
				return trusting, nil
			}
		}, presentCert},
		{"no cipher suite in common", 40, false, func(c *tls.Config, _ *httptest.Server) {
			c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
		}, func(c *tls.Config, _ *httptest.Server) {
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}
		}},
		{"server name not served", 112, false, func(c *tls.Config, _ *httptest.Server) {
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return &tls.Config{}, nil } // no certificate
		}, nil},
		{"internal error", 80, false, func(c *tls.Config, _ *httptest.Server) {
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, errors.New("configuration unavailable") }
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conns, err := callTLSServer(t, handler, tt.server, tt.client)
			requireServerAlert(t, err, tt.alert)
			if tt.final {
				assert.ErrorIs(t, err, payflow.ErrInternal)
				assert.NotErrorIs(t, err, payflow.ErrUnavailable)
				assert.Equal(t, int32(1), conns)
				return
			}
			assert.ErrorIs(t, err, payflow.ErrUnavailable)
			assert.NotErrorIs(t, err, payflow.ErrInternal)
			assert.Equal(t, int32(4), conns)
		})
	}
}

// callTLSServer calls Info of a TLS server of handler, its configuration
// set by server before it starts, through a client that trusts its
// certificate, with the TLS configuration that client sets, and at most 4
// attempts; it returns the count of connections and the error.
func callTLSServer(t *testing.T, handler http.Handler, server, client func(*tls.Config, *httptest.Server)) (int32, error) {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes that fail
	srv.TLS = new(tls.Config)
	server(srv.TLS, srv)
	conns := countConns(t, srv, true)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	if client != nil {
		client(tr.TLSClientConfig, srv)
	}
	opts := payflow.ClientOptions{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, HTTPClient: &http.Client{Transport: tr}}
	_, err := mustClient(t, srv.URL, opts).Info(context.Background())
	return conns(), err
}

// requireServerAlert checks that err keeps the TLS alert the server sent,
// which crypto/tls reports as a *net.OpError whose Op is "remote error".
func requireServerAlert(t *testing.T, err error, alert int) {
	t.Helper()
	op, ok := errors.AsType[*net.OpError](err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, "remote error", op.Op)
	assert.EqualValues(t, alert, op.Err)
}

// callVerifyingClient calls Info of a TLS server of handler through a
// client with opts that trusts its certificate and whose VerifyConnection
// or VerifyPeerCertificate, as hook names, returns what verify returns
// for the server's certificate; it returns the count of connections and
// the error.
func callVerifyingClient(t *testing.T, handler http.Handler, opts payflow.ClientOptions, hook string, verify func(*x509.Certificate) error) (int32, error) {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes that fail
	conns := countConns(t, srv, true)
	tr := srv.Client().Transport.(*http.Transport).Clone()
	switch hook {
	case "VerifyConnection":
		tr.TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error { return verify(cs.PeerCertificates[0]) }
	case "VerifyPeerCertificate":
		tr.TLSClientConfig.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			return verify(cert)
		}
	default:
		t.Fatalf("no hook %q", hook)
	}
	opts.HTTPClient = &http.Client{Transport: tr}
	_, err := mustClient(t, srv.URL, opts).Info(context.Background())
	return conns(), err
}

// redirectingServer answers every request with a 307 to one Location and
// counts the requests.
type redirectingServer struct {
	*httptest.Server
	requests atomic.Int32
}

func newRedirectingServer(t *testing.T, location string) *redirectingServer {
	t.Helper()
	rs := new(redirectingServer)
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.requests.Add(1)
		w.Header().Set("Location", location)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	t.Cleanup(rs.Close)
	return rs
}

// TestClientRetriesRedirectToUnreachableHost: a redirect whose own hop
// fails on the network (a port nothing listens on) may succeed on retry:
// the call is sent MaxAttempts times and fails with ErrUnavailable.
func TestClientRetriesRedirectToUnreachableHost(t *testing.T) {
	requireRedirectRetried(t, "http://127.0.0.1:"+closedPort(t)+"/v1/info", nil)
}

// closedPort returns a port of the local machine that nothing listens on:
// one the system gave a listener it then closed.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, ln.Close())
	return port
}

// TestClientRetriesRedirectOfOtherSchemeFailingOnNetwork: a redirect to a
// scheme that the caller's transport sends (RegisterProtocol), whose hop
// fails on the network, is retried as any network error is, although its
// scheme is not http or https.
func TestClientRetriesRedirectOfOtherSchemeFailingOnNetwork(t *testing.T) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.RegisterProtocol("ftp", roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}))
	requireRedirectRetried(t, "ftp://platform.example/v1/info", &http.Client{Transport: tr})
}

// requireRedirectRetried checks that a call to a server that redirects to
// target is sent MaxAttempts times and fails with ErrUnavailable, the
// network error kept: Info, which carries no token, Idempotency-Key or
// body, the hops of which may go to another origin.
func requireRedirectRetried(t *testing.T, target string, hc *http.Client) {
	t.Helper()
	srv := newRedirectingServer(t, target)
	opts := payflow.ClientOptions{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, HTTPClient: hc}
	_, err := mustClient(t, srv.URL, opts).Info(context.Background())
	assert.ErrorIs(t, err, payflow.ErrUnavailable)
	assert.NotErrorIs(t, err, payflow.ErrInternal)
	var ne net.Error
	assert.ErrorAs(t, err, &ne)
	assert.Equal(t, int32(4), srv.requests.Load())
}

// roundTripFunc is an http.RoundTripper of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestClientBaseURLWithPath: the paths of the calls follow a base URL's
// path, with a trailing slash or without.
func TestClientBaseURLWithPath(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		http.StripPrefix("/pay", h).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	for _, base := range []string{srv.URL + "/pay", srv.URL + "/pay/"} {
		c := mustClient(t, base, payflow.ClientOptions{MaxAttempts: 1})
		_, err := c.Info(context.Background())
		require.NoError(t, err, base)
		_, err = c.Session(context.Background(), "tok", payflow.ID{1})
		require.NoError(t, err, base)
	}
	id := "/pay/v1/sessions/" + payflow.ID{1}.String()
	assert.Equal(t, []string{"/pay/v1/info", id, "/pay/v1/info", id}, paths)
}

// TestClientLongestDurations: a client whose attempt timeout and largest
// backoff are the longest durations calls, and retries after the
// shortest pause, as any other: the attempt's deadline and the pause
// saturate instead of overflowing.
func TestClientLongestDurations(t *testing.T) {
	fs := newFlakyServer(t, http.StatusServiceUnavailable)
	c := mustClient(t, fs.srv.URL, payflow.ClientOptions{AttemptTimeout: math.MaxInt64, MinBackoff: time.Millisecond, MaxBackoff: math.MaxInt64})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.CreateRequest(ctx, &payflow.CreateRequest{Request: []byte("r")})
	require.NoError(t, err)
	assert.Len(t, fs.attempts(), 2)
	assert.Equal(t, 1, fs.api.count("CreateRequest"))
}

// TestClientLargestMaxReplyBytes: the largest MaxReplyBytes, math.MaxInt64,
// which one byte more would overflow, reads every reply whole: a success
// is decoded, and an error reply has the code of its body, not one that
// its status stands for.
func TestClientLargestMaxReplyBytes(t *testing.T) {
	fx := newHTTPFixture(t, payflow.HandlerOptions{}, payflow.ClientOptions{MaxReplyBytes: math.MaxInt64})
	info, err := fx.client.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, [][]byte{{0x30, 0x01}, {0x30, 0x02}}, info.Chain)
	fx.api.set(func(f *httpFakeAPI) { f.err = payflow.ErrMismatch })
	_, err = fx.client.Info(context.Background())
	assert.ErrorIs(t, err, payflow.ErrMismatch)
}

// countingTransport counts the requests it is given and passes them to
// http.DefaultTransport.
type countingTransport struct {
	mu sync.Mutex
	n  int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *countingTransport) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestClientRefusesWhatCannotBeSent: a base URL that is not http or https
// with a host, one with a query or a fragment, which the paths of the
// calls cannot follow, or with user credentials, which would be logged,
// a port outside 1 to 65535, which no connection can be made to, and a
// token that cannot be a header's value, can never be sent: they are
// refused with ErrInvalid, the URL by NewClient and the token by the
// call, without an attempt, rather than sent again and again and
// reported unavailable. No error repeats the credentials of a base URL.
func TestClientRefusesWhatCannotBeSent(t *testing.T) {
	for _, tt := range []struct{ url, msg string }{
		{"ftp://platform.example", `payflow: invalid request: payflow: base URL scheme "ftp" is not http or https`},
		{"platform.example", `payflow: invalid request: payflow: base URL scheme "" is not http or https`},
		{"https://", "payflow: invalid request: payflow: base URL has no host"},
		{"http:///v1", "payflow: invalid request: payflow: base URL has no host"},
		{"http://:8080", "payflow: invalid request: payflow: base URL has no host"},
		{"https://:443/pay", "payflow: invalid request: payflow: base URL has no host"},
		{"http://[::1", "payflow: invalid request: payflow: base URL: missing ']' in host"},
		{"http://user:secret@[::1", "payflow: invalid request: payflow: base URL does not parse"},
		// A password with an unescaped "/", "?" or "#" ends the authority
		// before the "@": the parser would take a part of it for a port.
		{"http://user:s3cr/et@platform.example", "payflow: invalid request: payflow: base URL does not parse"},
		{"http://user:s3cr?et@platform.example", "payflow: invalid request: payflow: base URL does not parse"},
		{"http://user:s3cr#et@platform.example", "payflow: invalid request: payflow: base URL does not parse"},
		// One of digits before the "/" parses, the "@" in the path: the
		// host would be "user".
		{"http://user:1234/et@platform.example", `payflow: invalid request: payflow: base URL has an "@" in its path`},
		{"https://platform.example/pay@shop", `payflow: invalid request: payflow: base URL has an "@" in its path`},
		// Digits of a password taken for a port out of range are not
		// repeated either.
		{"http://user:99999/et@platform.example", `payflow: invalid request: payflow: base URL has an "@" in its path`},
		{"http://user:0/et@platform.example", `payflow: invalid request: payflow: base URL has an "@" in its path`},
		{"http://user:99999?et@platform.example", "payflow: invalid request: payflow: base URL port is not from 1 to 65535"},
		{"https://platform.example/?x=1", "payflow: invalid request: payflow: base URL has a query"},
		{"https://platform.example/pay?", "payflow: invalid request: payflow: base URL has a query"},
		{"https://platform.example/pay#top", "payflow: invalid request: payflow: base URL has a fragment"},
		{"https://platform.example#", "payflow: invalid request: payflow: base URL has a fragment"},
		{"https://platform.example/?x#top", "payflow: invalid request: payflow: base URL has a fragment"},
		{"https://user:secret@platform.example", "payflow: invalid request: payflow: base URL has user credentials"},
		{"https://user@platform.example/pay", "payflow: invalid request: payflow: base URL has user credentials"},
		{"https://@platform.example", "payflow: invalid request: payflow: base URL has user credentials"},
		{"http://127.0.0.1:99999", "payflow: invalid request: payflow: base URL port is not from 1 to 65535"},
		{"http://[::1]:65536/pay", "payflow: invalid request: payflow: base URL port is not from 1 to 65535"},
		{"https://platform.example:0", "payflow: invalid request: payflow: base URL port is not from 1 to 65535"},
		{"https://platform.example:00000", "payflow: invalid request: payflow: base URL port is not from 1 to 65535"},
		{"https://platform.example:99999999999999999999", "payflow: invalid request: payflow: base URL port is not from 1 to 65535"},
	} {
		rt := &countingTransport{}
		c, err := payflow.NewClient(tt.url, payflow.ClientOptions{HTTPClient: &http.Client{Transport: rt}, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
		assert.ErrorIs(t, err, payflow.ErrInvalid, tt.url)
		assert.EqualError(t, err, tt.msg)
		assert.Nil(t, c, tt.url)
		assert.Zero(t, rt.count(), tt.url)
	}
	for _, url := range []string{"http://localhost", "HTTPS://platform.example:8443/base/",
		"http://127.0.0.1:1", "http://[::1]:65535", "https://platform.example:0443", "https://platform.example:/pay", "https://platform.example/pay%40shop"} {
		c, err := payflow.NewClient(url, payflow.ClientOptions{})
		require.NoError(t, err, url)
		assert.NotNil(t, c)
	}

	fs := newFlakyServer(t)
	c := fastClient(t, fs.srv.URL, 4)
	ctx := context.Background()
	// A token that is no b64token (RFC 6750 §2.1), which the handler
	// refuses or, for a space at its start or end, would take as another
	// token: a control character, a space or a tab anywhere, a character
	// beyond ASCII or outside the alphabet, "=" but at the end, "=" alone.
	for _, token := range []string{"tok\nen", "tok\ren", "tok\x00", "tok\x7f", "tok\ten", "tok en",
		" tok", "tok ", "\ttok", "tok\t", "jeton-é", "to,k", "tok;", "tok\"", "to=k", "=tok", "=", "==", "tok%"} {
		_, err := c.Session(ctx, token, payflow.ID{1})
		require.ErrorIs(t, err, payflow.ErrInvalid, "%q", token)
		assert.NotErrorIs(t, err, payflow.ErrUnavailable, "%q", token)
		assert.EqualError(t, err, "payflow: invalid request: bearer token is not a b64token (RFC 6750 §2.1: letters, digits, - . _ ~ + /, then = at the end only)", "%q", token)
		_, err = c.Capture(ctx, token, &payflow.CaptureRequest{RequestID: payflow.ID{1}})
		require.ErrorIs(t, err, payflow.ErrInvalid, "%q", token)
	}
	assert.Empty(t, fs.attempts(), "nothing is sent")
	// A b64token is sent as it is: the platform's (base64url, no
	// padding), and any other, with "=" padding too.
	for i, token := range []string{"aZ09-_", "aZ09-._~+/==", "t", "a="} {
		_, err := c.Session(ctx, token, payflow.ID{1})
		require.NoError(t, err, "%q", token)
		require.Len(t, fs.attempts(), i+1, "%q", token)
		assert.Equal(t, token, fs.api.lastToken(), "%q", token)
	}
	// An empty token sends no Authorization header: the endpoint that
	// needs one refuses the call, which is not retried.
	_, err := c.Session(ctx, "", payflow.ID{1})
	requireOnlySentinel(t, err, payflow.ErrUnauthorized)
	assert.Equal(t, "payflow: unauthorized: a bearer token is needed", payflow.AsError(err).Message)
	assert.Len(t, fs.attempts(), 5)
}

// FuzzClientError gives the client any reply to a call: any status,
// Content-Type, Retry-After header and body. A reply of another status
// than 200 is an *Error of a known code (AsError returns it as is) whose
// Status is the status received, whose message is valid UTF-8 and whose
// RequestID is the one sent; a *RateLimitedError is rate_limited and
// waits more than nothing and at most an hour. A 200 reply that is no
// Info, or whose Content-Type is not application/cbor, fails as internal.
// The call is sent again (MaxAttempts 2) only after an error of code
// internal, unavailable or idempotency_in_flight.
func FuzzClientError(f *testing.F) {
	f.Fuzz(func(t *testing.T, status uint16, contentType, retryAfter string, body []byte) {
		var sentID string
		sent := 0
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent++
			sentID = r.Header.Get(payflow.RequestIDHeader)
			h := http.Header{}
			if contentType != "" {
				h.Set("Content-Type", contentType)
			}
			if retryAfter != "" {
				h.Set("Retry-After", retryAfter)
			}
			return &http.Response{StatusCode: int(status), Header: h, Body: io.NopCloser(strings.NewReader(string(body))), Request: r}, nil
		})}
		c, err := payflow.NewClient("https://platform.invalid", payflow.ClientOptions{HTTPClient: hc, MaxAttempts: 2, MinBackoff: 1, MaxBackoff: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Info(context.Background())
		if status == http.StatusOK {
			if mt, _, perr := mime.ParseMediaType(contentType); err == nil && (perr != nil || mt != payflow.ContentType) {
				t.Fatalf("200 reply of Content-Type %q taken", contentType)
			}
			if err != nil && !errors.Is(err, payflow.ErrInternal) {
				t.Fatalf("200 reply: %v is not internal", err)
			}
			return
		}
		e, ok := errors.AsType[*payflow.Error](err)
		switch {
		case !ok:
			t.Fatalf("status %d: %v is no *Error", status, err)
		case payflow.AsError(e) != e:
			t.Fatalf("status %d: unknown code %q", status, e.Code)
		case e.Status != int(status):
			t.Fatalf("status %d: Status %d", status, e.Status)
		case !utf8.ValidString(e.Message):
			t.Fatalf("status %d: message %q is not UTF-8", status, e.Message)
		case e.RequestID != sentID:
			t.Fatalf("status %d: request ID %q, sent %q", status, e.RequestID, sentID)
		}
		if rl, ok := errors.AsType[*payflow.RateLimitedError](err); ok && (e.Code != "rate_limited" || rl.RetryAfter <= 0 || rl.RetryAfter > time.Hour) {
			t.Fatalf("status %d: code %q waits %v", status, e.Code, rl.RetryAfter)
		}
		if unanswered := e.Code == "internal" || e.Code == "unavailable" || e.Code == "idempotency_in_flight"; sent > 1 && !unanswered {
			t.Fatalf("status %d: code %q sent %d times", status, e.Code, sent)
		}
	})
}

// FuzzClientRedirect gives the client a redirect of any status and any
// Location, whose hop (any URL) is answered with a payment request's view.
// The call never panics; it succeeds or fails with internal or
// unavailable, never both; and a hop that keeps the method (307, 308)
// carries the Idempotency-Key, the X-Request-ID and the body of the
// request redirected, byte for byte.
func FuzzClientRedirect(f *testing.F) {
	f.Fuzz(func(t *testing.T, status uint8, location string) {
		redirect := []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
			http.StatusTemporaryRedirect, http.StatusPermanentRedirect}[int(status)%5]
		view := mustCBOR(t, &payflow.PaymentView{ID: payflow.ID{1}, State: "pending"})
		var sent []*http.Request
		var bodies [][]byte
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			var body []byte
			if r.Body != nil {
				var err error
				if body, err = io.ReadAll(r.Body); err != nil {
					return nil, err
				}
			}
			sent, bodies = append(sent, r), append(bodies, body)
			h := http.Header{}
			if len(sent) == 1 {
				h.Set("Location", location)
				return &http.Response{StatusCode: redirect, Header: h, Body: http.NoBody, Request: r}, nil
			}
			h.Set("Content-Type", payflow.ContentType)
			return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(string(view))), Request: r}, nil
		})}
		c, err := payflow.NewClient("http://platform.invalid", payflow.ClientOptions{HTTPClient: hc, MaxAttempts: 1, AllowPlainHTTP: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CreateRequest(context.Background(), &payflow.CreateRequest{Request: []byte("signed request")})
		if internal, unavailable := errors.Is(err, payflow.ErrInternal), errors.Is(err, payflow.ErrUnavailable); err != nil && internal == unavailable {
			t.Fatalf("Location %q: %v is internal %v, unavailable %v", location, err, internal, unavailable)
		}
		if len(sent) < 2 || redirect != http.StatusTemporaryRedirect && redirect != http.StatusPermanentRedirect {
			return
		}
		for _, h := range []string{payflow.IdempotencyKeyHeader, payflow.RequestIDHeader} {
			if got, want := sent[1].Header.Get(h), sent[0].Header.Get(h); got != want || want == "" {
				t.Fatalf("Location %q: hop's %s %q, first %q", location, h, got, want)
			}
		}
		if sent[1].Method != http.MethodPost || string(bodies[1]) != string(bodies[0]) {
			t.Fatalf("Location %q: hop %s %x, first %x", location, sent[1].Method, bodies[1], bodies[0])
		}
	})
}

// TestClientRefusesANilRequest: every call that takes a request refuses
// a nil one with ErrInvalid, naming the request, and sends nothing.
func TestClientRefusesANilRequest(t *testing.T) {
	fs := newFlakyServer(t)
	c := fastClient(t, fs.srv.URL, 4)
	ctx := context.Background()
	calls := []struct {
		name string
		call func() (any, error)
	}{
		{"challenge", func() (any, error) { return c.Challenge(ctx, nil) }},
		{"login", func() (any, error) { return c.Login(ctx, nil) }},
		{"resolve", func() (any, error) { return c.Resolve(ctx, "tok", nil) }},
		{"pair", func() (any, error) { return c.Pair(ctx, nil) }},
		{"create", func() (any, error) { return c.CreateRequest(ctx, nil) }},
		{"approve", func() (any, error) { return c.Approve(ctx, nil) }},
		{"capture", func() (any, error) { return c.Capture(ctx, "tok", nil) }},
		{"refund", func() (any, error) { return c.Refund(ctx, nil) }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			out, err := tt.call()
			require.ErrorIs(t, err, payflow.ErrInvalid)
			assert.EqualError(t, err, "payflow: invalid request: nil "+tt.name+" request")
			assert.True(t, reflect.ValueOf(out).IsNil(), "no reply")
		})
	}
	assert.Empty(t, fs.attempts(), "nothing is sent")
}

// TestClientRetriesOnlyStatusesThatMayChange: a reply without an error
// body is sent again, up to MaxAttempts, for the statuses by which the
// platform or a gateway cannot serve now (500, 502, 503, 504, 507, a 5xx
// that no registry knows, a status beyond 599, 408), and sent once for
// the 5xx that say that the server or a proxy on the way does not serve
// such a request at all, which no retry changes: those are internal, as
// a reply of no error status is.
func TestClientRetriesOnlyStatusesThatMayChange(t *testing.T) {
	type want struct {
		sent int
		code string
	}
	retried, once := want{3, "unavailable"}, want{1, "internal"}
	for status, tc := range map[int]want{
		http.StatusRequestTimeout:                retried,
		http.StatusInternalServerError:           {3, "internal"},
		http.StatusNotImplemented:                once,
		http.StatusBadGateway:                    retried,
		http.StatusServiceUnavailable:            retried,
		http.StatusGatewayTimeout:                retried,
		http.StatusHTTPVersionNotSupported:       once,
		http.StatusVariantAlsoNegotiates:         once,
		http.StatusInsufficientStorage:           retried,
		http.StatusLoopDetected:                  once,
		http.StatusNotExtended:                   once,
		http.StatusNetworkAuthenticationRequired: once,
		509:                                      retried,
		522:                                      retried,
		599:                                      retried,
		// Beyond 599, no HTTP status: RFC 9110 §15 has a client take it
		// for a 5xx.
		600: retried,
		999: retried,
	} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			url, sent := bareStatusServer(t, status)
			_, err := fastClient(t, url, 3).CreateRequest(context.Background(), &payflow.CreateRequest{Request: []byte("r")})
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, tc.code, e.Code)
			assert.Equal(t, status, e.Status)
			assert.Equal(t, int32(tc.sent), sent.Load())
		})
	}
}

// TestClientRetriesByTheCodeOfAnErrorBody: a reply with an error body of a
// known code is retried by its code, whatever its status (which a gateway
// or middleware on the way may have rewritten): sent again, with the same
// Idempotency-Key, up to MaxAttempts, for internal, unavailable and
// idempotency_in_flight, and sent once for any other code, a verdict of
// the platform (rate_limited too, as a 429 is). The error keeps the code
// and the status received and matches the code's sentinel alone.
func TestClientRetriesByTheCodeOfAnErrorBody(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
		want   error
		sent   int
	}{
		{http.StatusInternalServerError, "conflict", payflow.ErrConflict, 1},
		{http.StatusInternalServerError, "insufficient_funds", payflow.ErrFunds, 1},
		{http.StatusInternalServerError, "nonce_replayed", payflow.ErrReplay, 1},
		{http.StatusInternalServerError, "invalid", payflow.ErrInvalid, 1},
		{http.StatusBadGateway, "final_state", payflow.ErrFinal, 1},
		{http.StatusServiceUnavailable, "rate_limited", payflow.ErrRateLimited, 1},
		{http.StatusGatewayTimeout, "card_counter_regression", payflow.ErrClone, 1},
		{http.StatusRequestTimeout, "expired", payflow.ErrExpired, 1},
		{http.StatusConflict, "unavailable", payflow.ErrUnavailable, 3},
		{http.StatusBadRequest, "unavailable", payflow.ErrUnavailable, 3},
		{http.StatusBadRequest, "internal", payflow.ErrInternal, 3},
		{http.StatusNotImplemented, "internal", payflow.ErrInternal, 3},
		{http.StatusUnprocessableEntity, "idempotency_in_flight", payflow.ErrInFlight, 3},
		{http.StatusServiceUnavailable, "unavailable", payflow.ErrUnavailable, 3},
		{http.StatusConflict, "conflict", payflow.ErrConflict, 1},
	} {
		t.Run(strconv.Itoa(tc.status)+" "+tc.code, func(t *testing.T) {
			var mu sync.Mutex
			var keys []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys = append(keys, r.Header.Get(payflow.IdempotencyKeyHeader))
				mu.Unlock()
				w.Header().Set("Content-Type", payflow.ContentType)
				w.WriteHeader(tc.status)
				w.Write(mustCBOR(t, &payflow.Error{Code: tc.code, Message: "rewritten"}))
			}))
			defer srv.Close()
			_, err := fastClient(t, srv.URL, 3).CreateRequest(context.Background(), &payflow.CreateRequest{Request: []byte("r")})
			requireOnlySentinel(t, err, tc.want)
			e, ok := errors.AsType[*payflow.Error](err)
			require.True(t, ok, "%v", err)
			assert.Equal(t, payflow.Error{Code: tc.code, Message: "rewritten", Status: tc.status, RequestID: e.RequestID}, *e)
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, keys, tc.sent)
			for _, k := range keys {
				assert.Len(t, k, 32)
				assert.Equal(t, keys[0], k, "every attempt carries the same key")
			}
		})
	}
}

// TestClientRedirectKeepsTokenOnOrigin: a redirect of a call that carries
// a bearer token is followed with it only to the origin of the call's URL
// (its scheme, host and port, leading zeros of a port dropped); one that
// would carry it to another origin (plain HTTP, on the port of https too,
// another port, a subdomain) fails at once with internal,
// its hop never sent, whatever the method and the redirect's status. A
// redirect to another domain, to which net/http sends no Authorization,
// is followed without the token.
func TestClientRedirectKeepsTokenOnOrigin(t *testing.T) {
	view := mustCBOR(t, &payflow.PaymentView{ID: payflow.ID{1}, State: "pending"})
	id := payflow.ID{1}
	cases := []struct {
		location    string
		refused     bool
		postRefused bool   // refused for Decline, a POST, only
		hopToken    string // the hop's Authorization, when it is sent
	}{
		{location: "http://pay.example/v1/requests/" + id.String(), refused: true},
		{location: "https://pay.example:8443/v1/requests/" + id.String(), refused: true},
		{location: "https://eu.pay.example/v1/requests/" + id.String(), refused: true},
		// Plain HTTP to the port of https: another scheme, another origin.
		{location: "http://pay.example:443/v1/requests/" + id.String(), refused: true},
		{location: "https://pay.example:0443/v1/moved", hopToken: "Bearer tok-1"}, // the dialer drops leading zeros
		{location: "https://pay.example/v1/moved", hopToken: "Bearer tok-1"},
		{location: "https://PAY.example:443/v1/moved", hopToken: ""}, // net/http compares host names in their case
		{location: "https://pay.example:443/v1/moved", hopToken: "Bearer tok-1"},
		{location: "/v1/moved", hopToken: "Bearer tok-1"},
		// A POST's Idempotency-Key and body go to no other origin.
		{location: "https://other.example/v1/moved", hopToken: "", postRefused: true},
	}
	calls := []struct {
		name   string
		status int
		call   func(c *payflow.Client) error
	}{
		{"Payment", http.StatusFound, func(c *payflow.Client) error {
			_, err := c.Payment(context.Background(), "tok-1", id)
			return err
		}},
		{"Decline", http.StatusTemporaryRedirect, func(c *payflow.Client) error {
			_, err := c.Decline(context.Background(), "tok-1", id)
			return err
		}},
	}
	for _, tc := range cases {
		for _, call := range calls {
			t.Run(call.name+" to "+tc.location, func(t *testing.T) {
				var sent []*http.Request
				hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					sent = append(sent, r)
					h := http.Header{}
					if len(sent) == 1 {
						h.Set("Location", tc.location)
						return &http.Response{StatusCode: call.status, Header: h, Body: http.NoBody, Request: r}, nil
					}
					h.Set("Content-Type", payflow.ContentType)
					return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(string(view))), Request: r}, nil
				})}
				c := mustClient(t, "https://pay.example", payflow.ClientOptions{HTTPClient: hc, MaxAttempts: 4})
				err := call.call(c)
				if tc.refused || tc.postRefused && call.name == "Decline" {
					require.ErrorIs(t, err, payflow.ErrInternal)
					assert.ErrorIs(t, err, payflow.ErrOriginRedirect)
					assert.NotErrorIs(t, err, payflow.ErrUnavailable)
					assert.Len(t, sent, 1, "the hop is never sent, and the call not retried")
					return
				}
				require.NoError(t, err)
				require.Len(t, sent, 2)
				assert.Equal(t, tc.hopToken, sent[1].Header.Get("Authorization"))
			})
		}
	}
}

// TestClientOwnHTTPClientKeepsTokenOnOrigin: the client's own HTTP client
// (no HTTPClient given) refuses to follow a redirect that would carry the
// bearer token to another port of the same host, which net/http would
// follow with it (it compares host names alone); the other server gets
// nothing. A call without a token follows it.
func TestClientOwnHTTPClientKeepsTokenOnOrigin(t *testing.T) {
	var reached atomic.Int32
	handler := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	other, sent := recordingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		handler.ServeHTTP(w, r)
	}), func(r *http.Request) string { return r.Header.Get("Authorization") })
	srv := newRedirectingServer(t, other+"/v1/info")
	c := mustClient(t, srv.URL, payflow.ClientOptions{MaxAttempts: 4})

	_, err := c.Session(context.Background(), "tok-1", payflow.ID{1})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.ErrorIs(t, err, payflow.ErrOriginRedirect)
	assert.Equal(t, int32(1), srv.requests.Load())
	assert.Equal(t, int32(0), reached.Load())

	_, err = c.Info(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int32(2), srv.requests.Load())
	assert.Equal(t, int32(1), reached.Load())
	tokens := sent()
	assert.Equal(t, []string{""}, tokens)
}

// TestClientTokenRedirectBeforeCheckRedirect: a given HTTPClient's
// CheckRedirect is asked about the hops that keep the token on its
// origin, and about no other: one that lets every redirect through does
// not have the token sent to another origin.
func TestClientTokenRedirectBeforeCheckRedirect(t *testing.T) {
	var asked []string
	var sent int
	hc := &http.Client{
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			asked = append(asked, r.URL.String())
			return nil
		},
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent++
			h := http.Header{}
			h.Set("Location", map[bool]string{true: "/v1/moved", false: "http://pay.example/v1/moved"}[sent == 1])
			return &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: h, Body: http.NoBody, Request: r}, nil
		}),
	}
	c := mustClient(t, "https://pay.example", payflow.ClientOptions{HTTPClient: hc, MaxAttempts: 4})
	_, err := c.Cancel(context.Background(), "tok-1", payflow.ID{1})
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.ErrorIs(t, err, payflow.ErrOriginRedirect)
	assert.Equal(t, 2, sent)
	assert.Equal(t, []string{"https://pay.example/v1/moved"}, asked)
}

// TestClientRedirectKeepsKeyOnOrigin: a call without a token that carries
// an Idempotency-Key and a signed body (a login's auth proof, a payment
// request) refuses a 307 or 308 to another origin, which would have them
// (the proof is one that another origin could present to the platform
// first), and a 302 or 303 to one too, which would have the key: its hop
// is never sent, and the call fails at once with ErrInternal. Redirected
// on its origin, the hop carries the same key and body.
func TestClientRedirectKeepsKeyOnOrigin(t *testing.T) {
	login := mustCBOR(t, &payflow.LoginResponse{Token: "tok-1", CardID: "8944000000000000019", ExpiresAt: time.Unix(1<<31, 0)})
	for _, status := range []int{http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, tc := range []struct {
			location string
			refused  bool
		}{
			{"https://other.example/v1/login", true},
			{"http://pay.example/v1/login", true},
			{"https://pay.example:8443/v1/login", true},
			{"https://eu.pay.example/v1/login", true},
			{"/v1/moved", false},
			{"https://PAY.example:443/v1/moved", false},
		} {
			t.Run(fmt.Sprintf("%d to %s", status, tc.location), func(t *testing.T) {
				var sent []*http.Request
				var bodies []string
				hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
					var b []byte
					if r.Body != nil { // none on the GET of a 302 or 303
						var err error
						if b, err = io.ReadAll(r.Body); err != nil {
							return nil, err
						}
					}
					sent, bodies = append(sent, r), append(bodies, string(b))
					h := http.Header{}
					if len(sent) == 1 {
						h.Set("Location", tc.location)
						return &http.Response{StatusCode: status, Header: h, Body: http.NoBody, Request: r}, nil
					}
					h.Set("Content-Type", payflow.ContentType)
					return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(string(login))), Request: r}, nil
				})}
				c := mustClient(t, "https://pay.example", payflow.ClientOptions{HTTPClient: hc, MaxAttempts: 4})
				_, err := c.Login(context.Background(), &payflow.LoginRequest{Proof: []byte("signed auth proof")})
				if tc.refused {
					require.ErrorIs(t, err, payflow.ErrInternal)
					assert.ErrorIs(t, err, payflow.ErrOriginRedirect)
					assert.Contains(t, err.Error(), "payflow: redirect would send the call's bearer token, Idempotency-Key or body to another origin")
					assert.Len(t, sent, 1, "the hop is never sent, and the call not retried")
					return
				}
				require.NoError(t, err)
				require.Len(t, sent, 2)
				assert.Equal(t, sent[0].Header.Get(payflow.IdempotencyKeyHeader), sent[1].Header.Get(payflow.IdempotencyKeyHeader))
				if status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect {
					assert.Equal(t, bodies[0], bodies[1], "the same signed body")
				}
			})
		}
	}
}
