package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/outwait"
	"github.com/casimpay/casimpay/payflow"
)

// TestPhoneFlagsRefused: a -wait that is not positive, a shopper's -puk
// that no card takes, and an argument after the flags (a flag after it
// dropped unseen) are usage errors (exit status 2); a data
// folder whose URL file is empty, without -url, fails with
// ErrEmptyURLFile naming the file. Each is reported before the phone
// starts.
func TestPhoneFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, URLFile), []byte(" \n"), 0o600))
	for _, tt := range []struct {
		program string
		args    []string
		want    error
		text    string
	}{
		{"seller", []string{"-data", dir, "-url", "http://127.0.0.1:1", "-wait", "0s"}, ErrUsage, "demo: invalid usage: -wait must be positive"},
		{"shopper", []string{"-data", dir, "-url", "http://127.0.0.1:1", "-wait", "-1s"}, ErrUsage, "demo: invalid usage: -wait must be positive"},
		{"shopper", []string{"-data", dir, "-url", "http://127.0.0.1:1", "-puk", "1234567"}, ErrUsage, "demo: invalid usage: -puk must have 8 digits"},
		{"seller", []string{"-data", empty}, ErrEmptyURLFile, "demo: the cloud URL file is empty: " + filepath.Join(empty, URLFile)},
		{"shopper", []string{"-data", dir, "-url", "http://127.0.0.1:1", "extra", "-pin", "1"}, ErrUsage, `demo: invalid usage: unexpected argument "extra" (the program takes only flags)`},
	} {
		t.Run(tt.program+" "+tt.args[len(tt.args)-2], func(t *testing.T) {
			run := map[string]func(context.Context, []string, io.Writer) error{"seller": RunSeller, "shopper": RunShopper}[tt.program]
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out)
			require.ErrorIs(t, err, tt.want)
			assert.EqualError(t, err, tt.text)
			assert.Empty(t, out.String(), "refused before the phone starts")
		})
	}
}

// TestPhoneLoginInterrupted: a phone program whose context ends before
// -wait, while the cloud does not answer its login, fails with the end of
// that context, not with ErrNoAnswer, which says that -wait passed. The
// context's deadline passes as the cloud receives the login.
func TestPhoneLoginInterrupted(t *testing.T) {
	dir := setUpFolder(t)
	ctx, cancel := outwait.Context(t)
	defer cancel()
	interrupted := outwait.NewDeadline(ctx)
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		interrupted.Pass()
		io.Copy(io.Discard, r.Body) // so that the call's end ends r's context
		<-r.Context().Done()        // never answered
	}))
	defer silent.Close()
	var out bytes.Buffer
	err := RunSeller(interrupted, []string{"-data", dir, "-url", silent.URL, "-wait", "1m"}, &out)
	silent.CloseClientConnections()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrNoAnswer)
}

// TestFindWaitEnded: a phone whose scan for the other phone ends with
// -wait says that it was not found before -wait ended; one interrupted
// says that it was not found, with the end of its context.
func TestFindWaitEnded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newPhones(ctx, t, nil, nil)
	_, err := w.alice.find(endedWait(ctx, t), "Corner Grocer")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualError(t, err, "demo: Corner Grocer not found before -wait ended: context deadline exceeded")

	ictx, interrupt := context.WithCancel(ctx)
	interrupt()
	_, err = w.alice.find(ictx, "Corner Grocer")
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, err, "demo: Corner Grocer not found: context canceled")
	assert.Equal(t, "[shopper] Scanning for Corner Grocer…\n[shopper] Scanning for Corner Grocer…\n", w.out.String())
}

// resolveOnceDownAPI answers the first resolution of the EIDs heard with
// payflow.ErrUnavailable, and calls answered after each one answered.
type resolveOnceDownAPI struct {
	payflow.API
	calls    atomic.Int32
	answered func()
}

func (a *resolveOnceDownAPI) Resolve(ctx context.Context, token string, req *payflow.ResolveRequest) (*payflow.ResolveResponse, error) {
	if a.calls.Add(1) == 1 {
		return nil, payflow.ErrUnavailable
	}
	r, err := a.API.Resolve(ctx, token, req)
	a.answered()
	return r, err
}

// TestFindNamesOnlyLastUnanswered: a scan that ends after the cloud
// answered its last resolution names no earlier one that it did not
// answer. The phones' clock stands still, so that Alice's service queue
// keeps the till heard however long the scans take.
func TestFindNamesOnlyLastUnanswered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopWallClock(t)
	ictx, interrupt := context.WithCancel(ctx)
	w := newPhones(ctx, t, func(p payflow.API) payflow.API { return &resolveOnceDownAPI{API: p, answered: interrupt} }, nil)
	require.NoError(t, w.alice.Login(ctx))
	require.NoError(t, NewRadio(1, 0).Broadcast([]*Station{w.till.Station}, []*Listener{w.alice.Scanner}, WallClock()))
	_, err := w.alice.find(ictx, "Nobody")
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, err, "demo: Nobody not found: context canceled")
}
