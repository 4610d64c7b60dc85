package payflow_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// TestAsError: an *Error of a known code is returned as it is; one of a
// code that is none of PROTOCOL.md §5.4 is internal, its text hidden, as
// an error that wraps no sentinel is, unless a sentinel it is wrapped
// with gives the code.
func TestAsError(t *testing.T) {
	known := &payflow.Error{Code: "expired", Message: "request expired", Status: 410}
	assert.Same(t, known, payflow.AsError(known))
	assert.Same(t, known, payflow.AsError(fmt.Errorf("paying: %w", known)))

	internal := payflow.Error{Code: "internal", Message: "internal error", Status: 500}
	unknown := &payflow.Error{Code: "teapot", Message: "secret detail", Status: 418}
	for _, err := range []error{
		unknown,
		fmt.Errorf("paying: %w", unknown),
		&payflow.Error{Message: "no code"},
		errors.New("secret detail"),
	} {
		got := payflow.AsError(err)
		require.NotNil(t, got, "%v", err)
		assert.Equal(t, internal, *got, "%v", err)
		assert.ErrorIs(t, got, payflow.ErrInternal, "%v", err)
	}

	wrapped := payflow.AsError(fmt.Errorf("%w: %w", payflow.ErrUnavailable, unknown))
	require.NotNil(t, wrapped)
	assert.Equal(t, "unavailable", wrapped.Code)
	assert.Equal(t, 503, wrapped.Status)
	assert.ErrorIs(t, wrapped, payflow.ErrUnavailable)

	// The first code of the tree, depth first, decides: a cause wrapped
	// after ErrUnavailable or ErrInternal (a failing random source whose
	// error wraps a sentinel or an *Error) changes neither the code nor,
	// for these two, the fixed message that a client gets.
	for _, tc := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("%w: %w", payflow.ErrUnavailable, fmt.Errorf("token=SECRET: %w", payflow.ErrForbidden)), "unavailable"},
		{fmt.Errorf("%w: %w", payflow.ErrUnavailable, known), "unavailable"},
		{fmt.Errorf("%w: receipt: %w", payflow.ErrInternal, payflow.ErrExpired), "internal"},
		{fmt.Errorf("paying: %w", fmt.Errorf("%w: %w", payflow.ErrConflict, payflow.ErrInvalid)), "conflict"},
		{fmt.Errorf("%w: %w", errors.New("no code"), payflow.ErrFunds), "insufficient_funds"},
		{errors.Join(errors.New("no code"), known, payflow.ErrInvalid), "expired"},
		{&payflow.RateLimitedError{Err: &payflow.Error{Code: "rate_limited", Message: "slow down", Status: 429}}, "rate_limited"},
	} {
		got := payflow.AsError(tc.err)
		require.NotNil(t, got, "%v", tc.err)
		assert.Equal(t, tc.code, got.Code, "%v", tc.err)
	}
	assert.Same(t, known, payflow.AsError(fmt.Errorf("%w: %w", known, payflow.ErrInvalid)))

	// An error that gives an *Error through its As method, as errors.As
	// finds it, gives that *Error.
	assert.Same(t, known, payflow.AsError(fmt.Errorf("%w: %w", asError{known}, payflow.ErrInvalid)))
	assert.Equal(t, "invalid", payflow.AsError(fmt.Errorf("%w: %w", asError{unknown}, payflow.ErrInvalid)).Code,
		"an unknown code given by As is passed over")
}

// TestAsErrorNilError: a nil *Error in an error value (a typed nil), as
// it is or wrapped, is internal to AsError, as an error that wraps no
// sentinel is, and matches no sentinel; its Error gives a fixed text
// (was: a nil dereference in both).
func TestAsErrorNilError(t *testing.T) {
	var e *payflow.Error
	assert.Equal(t, "payflow: nil *Error", e.Error())
	internal := payflow.Error{Code: "internal", Message: "internal error", Status: 500}
	for name, err := range map[string]error{
		"bare":    error(e),
		"wrapped": fmt.Errorf("paying: %w", e),
		"joined":  errors.Join(e, errors.New("no code")),
	} {
		t.Run(name, func(t *testing.T) {
			got := payflow.AsError(err)
			require.NotNil(t, got)
			assert.Equal(t, internal, *got)
			for _, sentinel := range []error{payflow.ErrInternal, payflow.ErrInvalid, payflow.ErrUnavailable} {
				assert.NotErrorIs(t, err, sentinel)
			}
		})
	}
	// A sentinel that wraps it, or that it is joined with, gives the code.
	assert.Equal(t, "expired", payflow.AsError(fmt.Errorf("%w: %w", e, payflow.ErrExpired)).Code)
}

// asError is an error of another type that gives e through its As method.
type asError struct{ e *payflow.Error }

func (a asError) Error() string { return "as: " + a.e.Error() }

func (a asError) As(target any) bool {
	p, ok := target.(**payflow.Error)
	if ok {
		*p = a.e
	}
	return ok
}

// FuzzParseID: ParseID never panics and takes exactly the text form
// that String gives (32 lower-case hexadecimal digits, one form for one
// ID, so that one ID names one path), refusing anything else with
// ErrInvalid; UnmarshalText agrees with it, and leaves the ID as it was
// when it refuses. Its seeds are in testdata/fuzz/FuzzParseID.
func FuzzParseID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		id, err := payflow.ParseID(s)
		was := payflow.ID{1}
		got := was
		uerr := got.UnmarshalText([]byte(s))
		if err != nil {
			require.ErrorIs(t, err, payflow.ErrInvalid)
			require.ErrorIs(t, uerr, payflow.ErrInvalid)
			require.Equal(t, was, got, "a refused text changes nothing")
			return
		}
		require.NoError(t, uerr)
		require.Equal(t, s, id.String(), "the one text form of the ID")
		require.Equal(t, id, got)
	})
}

// TestIDIsZero: an ID is zero only when all its 16 bytes are, whichever
// byte another ID sets.
func TestIDIsZero(t *testing.T) {
	assert.True(t, payflow.ID{}.IsZero())
	for i := range len(payflow.ID{}) {
		var id payflow.ID
		id[i] = 1
		assert.False(t, id.IsZero(), "byte %d set", i)
	}
}

// TestIDTextForm: an ID's text, as MarshalText gives it (to encoding/json,
// say), is its String form, 32 lower-case hexadecimal digits, which
// UnmarshalText takes back.
func TestIDTextForm(t *testing.T) {
	id := payflow.ID{0xab, 0xcd, 15: 0xef}
	text, err := id.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "abcd00000000000000000000000000ef", string(text))
	b, err := json.Marshal(map[string]payflow.ID{"id": id})
	require.NoError(t, err)
	assert.JSONEq(t, `{"id": "abcd00000000000000000000000000ef"}`, string(b))
	var back map[string]payflow.ID
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, id, back["id"])
}
