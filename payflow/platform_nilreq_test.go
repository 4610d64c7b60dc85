package payflow_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
)

// TestPlatformRefusesANilRequest: in process as over HTTP (the Client,
// TestClientRefusesANilRequest), every call that takes a request refuses
// a nil one with ErrInvalid, naming the request, and changes nothing.
func TestPlatformRefusesANilRequest(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	p := s.Platform
	tok := s.shopper.Token
	calls := []struct {
		name string
		call func() (any, error)
	}{
		{"challenge", func() (any, error) { return p.Challenge(ctx, nil) }},
		{"login", func() (any, error) { return p.Login(ctx, nil) }},
		{"resolve", func() (any, error) { return p.Resolve(ctx, tok, nil) }},
		{"pair", func() (any, error) { return p.Pair(ctx, nil) }},
		{"create", func() (any, error) { return p.CreateRequest(ctx, nil) }},
		{"approve", func() (any, error) { return p.Approve(ctx, nil) }},
		{"capture", func() (any, error) { return p.Capture(ctx, tok, nil) }},
		{"refund", func() (any, error) { return p.Refund(ctx, nil) }},
	}
	for _, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			var out any
			var err error
			require.NotPanics(t, func() { out, err = tt.call() })
			require.ErrorIs(t, err, payflow.ErrInvalid)
			assert.EqualError(t, err, "payflow: invalid request: nil "+tt.name+" request")
			assert.True(t, reflect.ValueOf(out).IsNil(), "no reply")
		})
	}
}
