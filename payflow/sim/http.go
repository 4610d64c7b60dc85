package sim

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/casimpay/casimpay/payflow"
)

// errNetwork is what the phone's HTTP client sees of a lost message.
var errNetwork = errors.New("sim: connection reset")

// transport carries the phones' HTTP requests to the platform's handler in
// process, losing requests and replies and duplicating requests. The
// phones' payflow.Client resends a call under the same Idempotency-Key, so
// these faults must be invisible to the phones.
type transport struct {
	w *world
}

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	serve := func() *http.Response {
		req := r.Clone(r.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.RequestURI = r.URL.RequestURI()
		rec := httptest.NewRecorder()
		t.w.handler.ServeHTTP(rec, req)
		return rec.Result()
	}
	w := t.w
	if r.Method == http.MethodPost {
		switch {
		case w.fault(LostRequest, 0.04):
			return nil, errNetwork
		case w.fault(LostReply, 0.06):
			serve()
			return nil, errNetwork
		case w.fault(Duplicate, 0.04):
			resp := serve()
			serve()
			return resp, nil
		}
	}
	return serve(), nil
}

// connect builds the phones' way to the platform: the platform itself, or
// in HTTP mode a payflow.Client through transport and the platform's
// handler, whose stored replies live in the platform's store.
func (w *world) connect(store payflow.Store) error {
	if !w.opts.HTTP {
		w.api = w.plat
		return nil
	}
	var err error
	w.handler, err = payflow.NewHandler(w.plat, payflow.HandlerOptions{
		Replies: store, Now: w.clock, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	// Plain HTTP: transport never leaves the process.
	w.api, err = payflow.NewClient("http://platform.invalid", payflow.ClientOptions{
		HTTPClient: &http.Client{Transport: transport{w}}, MaxAttempts: 10,
		MinBackoff: time.Nanosecond, MaxBackoff: time.Nanosecond, Rand: w.bytes,
		AllowPlainHTTP: true,
	})
	return err
}
