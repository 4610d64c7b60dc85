package payflow_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// timedReplies is a ReplyMemory whose FinishIdempotent fails as a
// database gone away does for its first fails calls (all of them when
// fails is negative), and notes when each call came, from start.
type timedReplies struct {
	*payflow.ReplyMemory
	start time.Time
	fails int
	mu    sync.Mutex
	at    []time.Duration
}

func (m *timedReplies) FinishIdempotent(ctx context.Context, key string, lease time.Time, status int, body []byte, expires time.Time) error {
	m.mu.Lock()
	m.at = append(m.at, time.Since(m.start))
	n := len(m.at)
	m.mu.Unlock()
	if m.fails < 0 || n <= m.fails {
		return errDatabaseGone
	}
	return m.ReplyMemory.FinishIdempotent(ctx, key, lease, status, body, expires)
}

// TestHTTPLaterTriesDoubleTheirWaits: a reply that the request failed to
// store (twice, at once) is tried again after 100 ms, then after waits
// that double up to 5 s, until it is stored, and for no longer than the
// lease of its key (15 s here) had left to run; each end is logged.
func TestHTTPLaterTriesDoubleTheirWaits(t *testing.T) {
	ms := func(ms ...int) []time.Duration {
		ds := make([]time.Duration, len(ms))
		for i, m := range ms {
			ds[i] = time.Duration(m) * time.Millisecond
		}
		return ds
	}
	for _, tt := range []struct {
		name  string
		fails int
		at    []time.Duration
		log   string
	}{
		{"stored at the seventh later try", 8, ms(0, 0, 100, 300, 700, 1500, 3100, 6300, 11300), "stored idempotent reply at a later try"},
		{"never stored", -1, ms(0, 0, 100, 300, 700, 1500, 3100, 6300, 11300), "not stored before the lease ended"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &timedReplies{ReplyMemory: payflow.NewReplyMemory(), start: time.Now(), fails: tt.fails}
				logs := &syncBuffer{}
				h, err := payflow.NewHandler(newHTTPFakeAPI(), payflow.HandlerOptions{Replies: st, CallTimeout: 5 * time.Second,
					ReplyLease: 15 * time.Second, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, postCreate(t, h, []byte("r1"), "k1").Code)
				time.Sleep(time.Minute)
				synctest.Wait()
				st.mu.Lock()
				assert.Equal(t, tt.at, st.at)
				st.mu.Unlock()
				assert.Equal(t, 1, strings.Count(logs.String(), tt.log), logs.String())
				require.NoError(t, h.Close())
			})
		})
	}
}
