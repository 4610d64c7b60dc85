package payflow_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestClientKeepsIdleConnectionsForConcurrentCalls: the client's own
// HTTP client keeps the connections of concurrent calls for the next
// ones (up to 64 to the platform, where net/http's default keeps 2): a
// second round of as many concurrent calls opens no new connection.
func TestClientKeepsIdleConnectionsForConcurrentCalls(t *testing.T) {
	const calls = 8
	api := newHTTPFakeAPI()
	api.entered = make(chan string)
	srv := httptest.NewUnstartedServer(mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()}))
	conns := countConns(t, srv, false)
	c := mustClient(t, srv.URL, payflow.ClientOptions{MaxAttempts: 1})
	round := func() {
		release := make(chan struct{})
		api.set(func(f *httpFakeAPI) { f.release = release })
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() {
				_, err := c.Info(context.Background())
				assert.NoError(t, err)
			})
		}
		for range calls {
			<-api.entered // every call holds a connection of its own
		}
		close(release)
		wg.Wait()
	}
	round()
	require.EqualValues(t, calls, conns())
	round()
	assert.EqualValues(t, calls, conns(), "the second round reuses the first round's connections")
	assert.Equal(t, 2*calls, api.count("Info"))
}

// TestClientRefusesAnEmptyMerchantID: Catalog of an empty merchant ID,
// which names no catalog, fails with ErrInvalid and sends nothing.
func TestClientRefusesAnEmptyMerchantID(t *testing.T) {
	rt := &countingTransport{}
	c := mustClient(t, "https://platform.example", payflow.ClientOptions{HTTPClient: &http.Client{Transport: rt}})
	_, err := c.Catalog(context.Background(), "tok", "")
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.EqualError(t, err, "payflow: invalid request: empty merchant ID")
	assert.Zero(t, rt.count())
}

// TestClientEndedContextGivesItsCause: a call whose context is canceled
// with a cause while an attempt waits for its reply fails with that
// cause itself, not wrapped as a network error nor replaced by
// context.Canceled, and is not sent again, whether attempts are left or
// it was the last one.
func TestClientEndedContextGivesItsCause(t *testing.T) {
	for _, attempts := range []int{1, 3} {
		t.Run(strconv.Itoa(attempts), func(t *testing.T) {
			api := newHTTPFakeAPI()
			api.entered = make(chan string, 1)
			api.release = make(chan struct{})
			srv := httptest.NewServer(mustHandler(t, api, payflow.HandlerOptions{Logger: discardLogger()}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(api.release) })
			why := errors.New("card removed")
			ctx, cancel := context.WithCancelCause(context.Background())
			go func() {
				<-api.entered
				cancel(why)
			}()
			_, err := fastClient(t, srv.URL, attempts).Info(ctx)
			assert.Same(t, why, err)
			assert.Equal(t, 1, api.count("Info"))
		})
	}
}

// TestClientAttemptTimeout: an attempt whose reply does not come within
// AttemptTimeout fails as a network error (ErrUnavailable, wrapping
// context.DeadlineExceeded) while the call's own context goes on.
func TestClientAttemptTimeout(t *testing.T) {
	var attempts atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts.Add(1)
		select { // never answers: the client gives up on the attempt
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := mustClient(t, srv.URL, payflow.ClientOptions{AttemptTimeout: 10 * time.Millisecond, MaxAttempts: 1})
	// Only turns a client that would wait for ever into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Info(ctx)
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, ctx.Err(), "the attempt ended, not the call's context")
	assert.EqualValues(t, 1, attempts.Load())
}

// TestClientSendsAccept: every call says that it takes an
// application/cbor reply, a GET as a POST.
func TestClientSendsAccept(t *testing.T) {
	reply := mustCBOR(t, &payflow.PaymentView{})
	url, sent := recordingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", payflow.ContentType)
		w.Write(reply)
	}), func(r *http.Request) string { return r.Method + " " + r.Header.Get("Accept") })
	c := mustClient(t, url, payflow.ClientOptions{})
	_, err := c.Payment(context.Background(), "tok", payflow.ID{1})
	require.NoError(t, err)
	_, err = c.Cancel(context.Background(), "tok", payflow.ID{1})
	require.NoError(t, err)
	accepts := sent()
	assert.Equal(t, []string{"GET " + payflow.ContentType, "POST " + payflow.ContentType}, accepts)
}

// TestClientReplyOverLimitIsRefusedWhole: a reply of an octet more than
// MaxReplyBytes fails at once with ErrInternal as too large, though its
// first MaxReplyBytes octets are a whole reply that decodes.
func TestClientReplyOverLimitIsRefusedWhole(t *testing.T) {
	info := mustCBOR(t, &payflow.Info{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", payflow.ContentType)
		w.Write(append(bytes.Clone(info), 0x00))
	}))
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL, payflow.ClientOptions{MaxReplyBytes: int64(len(info))})
	_, err := c.Info(context.Background())
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.EqualError(t, err, "payflow: internal error: reply larger than "+strconv.Itoa(len(info))+" bytes")
	assert.EqualValues(t, 1, calls.Load())
}

// TestClientRetriesAReplyCutShort: a reply whose body the connection
// drops part way is a network error: the call is sent again, with the
// same Idempotency-Key, and takes the next attempt's reply.
func TestClientRetriesAReplyCutShort(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	var n atomic.Int32
	url, sent := recordingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Content-Type", payflow.ContentType)
			w.Header().Set("Content-Length", "100")
			w.Write([]byte{0xa1, 0x01})
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // drops the connection
		}
		h.ServeHTTP(w, r)
	}), func(r *http.Request) string { return r.Header.Get(payflow.IdempotencyKeyHeader) })
	view, err := fastClient(t, url, 2).CreateRequest(context.Background(), &payflow.CreateRequest{Request: []byte("r")})
	require.NoError(t, err)
	assert.Equal(t, []byte("r"), view.Request)
	keys := sent()
	require.Len(t, keys, 2)
	assert.Equal(t, keys[0], keys[1])

	// Every attempt cut short: unavailable.
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", payflow.ContentType)
		w.Header().Set("Content-Length", "100")
		w.Write([]byte{0xa1, 0x01})
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(cut.Close)
	_, err = fastClient(t, cut.URL, 2).Info(context.Background())
	require.ErrorIs(t, err, payflow.ErrUnavailable)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

// TestClientRefusesAMediaTypeAfterCBOR: a 200 reply whose media type
// only begins with application/cbor (application/cbor-seq) is not one
// application/cbor: it fails at once with ErrInternal, though its body
// decodes.
func TestClientRefusesAMediaTypeAfterCBOR(t *testing.T) {
	body := mustCBOR(t, &payflow.Info{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", payflow.ContentType+"-seq")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	_, err := fastClient(t, srv.URL, 3).Info(context.Background())
	require.ErrorIs(t, err, payflow.ErrInternal)
	assert.EqualValues(t, 1, calls.Load())
}

// unavailableTransport answers every request with a gateway's 503 of
// the given header and no body, counting the requests in sent. It does
// not heed the request's context.
func unavailableTransport(header http.Header, sent *atomic.Int32) roundTripFunc {
	return func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: header.Clone(),
			Body: io.NopCloser(bytes.NewReader(nil)), Request: r}, nil
	}
}

// TestClientRetryAfterLengthensThePause: a reply that is retried (a
// gateway's 503) and whose Retry-After header asks for an hour makes the
// pause before the next attempt that long, up to MaxBackoff, however
// short MinBackoff.
func TestClientRetryAfterLengthensThePause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts atomic.Int32
		rt := unavailableTransport(http.Header{"Retry-After": {"3600"}}, &attempts)
		c := mustClient(t, "https://platform.example", payflow.ClientOptions{HTTPClient: &http.Client{Transport: rt},
			MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Hour})
		start := time.Now()
		_, err := c.Info(context.Background())
		require.ErrorIs(t, err, payflow.ErrUnavailable)
		assert.Equal(t, time.Hour, time.Since(start))
		assert.EqualValues(t, 2, attempts.Load())
	})
}

// TestClientSendsNothingOnceItsPauseEnded: a call whose context ends
// while it pauses before a retry fails with the context's cause and sends
// no further attempt, even through a transport that does not heed the
// context.
func TestClientSendsNothingOnceItsPauseEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sent atomic.Int32
		c := mustClient(t, "https://platform.example", payflow.ClientOptions{
			HTTPClient:  &http.Client{Transport: unavailableTransport(nil, &sent)},
			MaxAttempts: 5, MinBackoff: time.Second, MaxBackoff: time.Second,
		})
		ctx, cancel := context.WithTimeoutCause(context.Background(), 100*time.Millisecond, errCallerGone)
		defer cancel()
		_, err := c.Payment(ctx, "tok", payflow.ID{1})
		require.ErrorIs(t, err, errCallerGone)
		assert.EqualValues(t, 1, sent.Load())
	})
}
