package demo

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// servedFolder returns a data folder set up with the grocery market, its
// cloud, whose clock is now (nil: time.Now), and the URL at which that
// cloud serves its HTTP API until the test ends.
func servedFolder(t *testing.T, now func() time.Time) (dir string, c *Cloud, url string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	c, err := OpenCloud(ctx, CloudOptions{Dir: dir, Platform: payflow.PlatformOptions{Now: now}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = Grocery.Setup(ctx, c, dir)
	require.NoError(t, err)
	h, err := payflow.NewHandler(c.Platform, payflow.HandlerOptions{Replies: c.Store})
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() }) // after the server, before the cloud
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return dir, c, srv.URL
}

// stopWallClock sets the phones' clock (WallClock) to stand still at the
// time of the call until the test ends: phone programs run then pair
// within one EID epoch.
func stopWallClock(t *testing.T) {
	t.Helper()
	useStillClock(t, time.Now())
}

// sellerMeets runs the seller program against the cloud at url of the
// folder dir, and Alice's phone, as the shopper program runs it (runPhone),
// which, once she paired with the till, waits for its payment request
// (awaitRequest) and gives it to answer. The seller program's end stops
// Alice's phone, which would otherwise wait for it until -wait ends, and
// her phone's failure stops the seller program; but the seller program's
// end does not cut answer short, which runs with a context that only the
// test's end cancels: the seller program may see the request end, and
// end, before the reply to the phone's answer reached the phone. It
// returns the seller's output and both errors.
func sellerMeets(t *testing.T, dir, url string, answer func(ctx context.Context, ph *Phone, v *payflow.PaymentView) error) (sOut string, sErr, pErr error) {
	t.Helper()
	args := []string{"-data", dir, "-url", url, "-wait", "1m"}
	sctx, stopSeller := context.WithCancel(t.Context())
	defer stopSeller()
	pctx, stopShopper := context.WithCancel(t.Context())
	defer stopShopper()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		err := RunSeller(sctx, append(args, "-seed", "5"), &out)
		stopShopper()
		done <- err
	}()
	pErr = runPhone(pctx, "shopper", "alice", "Corner Grocer", append(args, "-seed", "6"), &bytes.Buffer{},
		func(wctx context.Context, f *phoneFlags, ph *Phone, _ *payflow.Confirmation) error {
			v, err := awaitRequest(wctx, ph, f.pick)
			if err != nil {
				return err
			}
			return answer(t.Context(), ph, v)
		})
	if pErr != nil {
		stopSeller()
	}
	sErr = <-done
	return out.String(), sErr, pErr
}

// requireEndedUnpaid fails t unless the seller program, which ended with
// err and printed out, waited for Alice to pay the request of view v and
// failed, as a program that exits with status 1 (Exit), with an error
// that says that the request ended in state, the last line it showed
// saying so too, and withdrew nothing.
func requireEndedUnpaid(t *testing.T, v *payflow.PaymentView, state string, out string, err error) {
	t.Helper()
	require.NotNil(t, v)
	require.EqualError(t, err, "demo: request "+Short(v.ID)+" ended "+state, out)
	assert.False(t, errors.Is(err, ErrUsage), "exit status 1, not 2")
	assert.Equal(t, state, v.State)
	tail := "[seller]  The card signed payment request " + Short(v.ID) + "; waiting for Alice to approve\n" +
		"[seller]  Request " + Short(v.ID) + " ended " + state + "\n"
	assert.Equal(t, tail, out[len(out)-min(len(out), len(tail)):], "the last lines:\n%s", out)
}

// TestSellerRequestDeclined: Alice's phone declines the till's payment
// request. The seller program shows that the request ended declined and
// fails with an error that says so (exit status 1), instead of ending as
// if it had sold the basket.
func TestSellerRequestDeclined(t *testing.T) {
	stopWallClock(t)
	dir, _, url := servedFolder(t, nil)
	var declined *payflow.PaymentView
	out, sErr, pErr := sellerMeets(t, dir, url, func(ctx context.Context, ph *Phone, v *payflow.PaymentView) (err error) {
		declined, err = ph.Shopper.DeclineShown(ctx, v)
		return err
	})
	require.NoError(t, pErr)
	requireEndedUnpaid(t, declined, payflow.StateDeclined, out, sErr)
}

// TestSellerRequestExpired: Alice's phone is shown the till's payment
// request and does nothing; the cloud's clock passes the request's
// expiry, and the request is expired. The seller program shows that the
// request ended expired and fails with an error that says so (exit
// status 1).
func TestSellerRequestExpired(t *testing.T) {
	stopWallClock(t)
	var ahead atomic.Int64 // of the cloud's clock
	dir, c, url := servedFolder(t, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
	var expired *payflow.PaymentView
	out, sErr, pErr := sellerMeets(t, dir, url, func(ctx context.Context, ph *Phone, v *payflow.PaymentView) (err error) {
		ahead.Store(int64(time.Until(v.ExpiresAt))) // the cloud's clock at the expiry, or past it
		expired, err = c.Platform.Payment(ctx, ph.Token, v.ID)
		return err
	})
	require.NoError(t, pErr)
	requireEndedUnpaid(t, expired, payflow.StateExpired, out, sErr)
}
