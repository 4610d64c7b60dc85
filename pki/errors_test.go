package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestErrorMatches: an *Error matches its sentinel and its cause's chain
// with errors.Is and errors.As, nothing else, and matching allocates
// nothing.
func TestErrorMatches(t *testing.T) {
	cause := fmt.Errorf("wrapped: %w", x509.UnknownAuthorityError{})
	err := error(newError(ErrUntrusted, 0, "invalid certificate", cause))
	bare := error(newError(ErrExpired, -1, "", nil))

	assert.ErrorIs(t, err, ErrUntrusted)
	assert.ErrorIs(t, err, cause)
	assert.NotErrorIs(t, err, ErrExpired)
	assert.ErrorIs(t, bare, ErrExpired)
	assert.NotErrorIs(t, bare, ErrUntrusted)
	var ua x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &ua, "the cause's chain")
	assert.NotErrorAs(t, bare, &ua)
	var pe *Error
	assert.ErrorAs(t, fmt.Errorf("outer: %w", err), &pe)
	assert.Same(t, err, error(pe))

	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = errors.Is(err, ErrUntrusted) }), "the sentinel")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = errors.Is(err, ErrRevoked) }), "no match")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = errors.Is(bare, ErrRevoked) }), "no match, no cause")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = errors.As(err, &pe) }), "As")
}
