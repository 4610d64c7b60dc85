package payflow_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestClientNilPointerRandIsCryptoRand: a ClientOptions.Rand that is a nil
// pointer is taken as no Rand, crypto/rand, as PlatformOptions.Rand is:
// the calls send their idempotency keys and request IDs, fresh ones each.
func TestClientNilPointerRandIsCryptoRand(t *testing.T) {
	h := mustHandler(t, newHTTPFakeAPI(), payflow.HandlerOptions{Logger: discardLogger()})
	url, sent := recordingServer(t, h, func(r *http.Request) [2]string {
		return [2]string{r.Header.Get(payflow.IdempotencyKeyHeader), r.Header.Get(payflow.RequestIDHeader)}
	})
	c := mustClient(t, url, payflow.ClientOptions{Rand: (*bytes.Reader)(nil)})

	ctx := context.Background()
	for range 2 {
		_, err := c.Challenge(ctx, &payflow.ChallengeRequest{CardID: "8988"})
		require.NoError(t, err)
	}
	var keys, rids []string
	for _, kr := range sent() {
		keys, rids = append(keys, kr[0]), append(rids, kr[1])
	}
	hex32, hex24 := regexp.MustCompile(`^[0-9a-f]{32}$`), regexp.MustCompile(`^[0-9a-f]{24}$`)
	require.Len(t, keys, 2)
	for i := range keys {
		assert.Regexp(t, hex32, keys[i])
		assert.Regexp(t, hex24, rids[i])
	}
	assert.NotEqual(t, keys[0], keys[1])
	assert.NotEqual(t, rids[0], rids[1])
}

// errClientRandDown is the failure of failingRand.
var errClientRandDown = errors.New("random source down")

// failingRand is a source of random octets that fails every read.
type failingRand struct{}

func (failingRand) Read([]byte) (int, error) { return 0, errClientRandDown }

// TestClientRandDownIsUnavailable: a call for which ClientOptions.Rand
// fails to give an idempotency key or a request ID sends nothing and fails
// with an error matching ErrUnavailable that wraps the failure, as the
// platform's calls fail when its random source is down: every error of a
// call matches a sentinel (API), and a call made again once the source is
// back may succeed.
func TestClientRandDownIsUnavailable(t *testing.T) {
	var sent atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	c := mustClient(t, srv.URL, payflow.ClientOptions{Rand: failingRand{}})

	ctx := context.Background()
	for name, call := range map[string]func(ctx context.Context) error{
		"POST, its idempotency key": func(ctx context.Context) error {
			_, err := c.Challenge(payflow.WithRequestID(ctx, "rid-1"), &payflow.ChallengeRequest{CardID: "8988"})
			return err
		},
		"GET, its request ID": func(ctx context.Context) error {
			_, err := c.Info(ctx)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := call(ctx)
			require.ErrorIs(t, err, payflow.ErrUnavailable)
			assert.ErrorIs(t, err, errClientRandDown, "the failure kept")
			assert.Equal(t, "unavailable", payflow.AsError(err).Code)
			assert.Zero(t, sent.Load(), "nothing sent")
		})
	}
}
