package payflow_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
)

// fundsVerdict is an error that wraps nothing but matches ErrFunds
// through its Is method, as errors.Is compares it.
type fundsVerdict struct{}

func (fundsVerdict) Error() string        { return "balance too low" }
func (fundsVerdict) Is(target error) bool { return target == payflow.ErrFunds }

// TestAsErrorOfAnErrorThatMatchesASentinel: an error that wraps no
// sentinel but matches one with its Is method gets that sentinel's code
// and status, as errors.Is says it is that sentinel, also when wrapped.
func TestAsErrorOfAnErrorThatMatchesASentinel(t *testing.T) {
	for _, err := range []error{fundsVerdict{}, fmt.Errorf("paying: %w", fundsVerdict{})} {
		e := payflow.AsError(err)
		assert.Equal(t, "insufficient_funds", e.Code, "%v", err)
		assert.Equal(t, 402, e.Status, "%v", err)
		assert.Equal(t, err.Error(), e.Message, "%v", err)
	}
}

// TestStatusOfAnUnknownCode: an error code that is none of the platform's
// has the status of an internal error.
func TestStatusOfAnUnknownCode(t *testing.T) {
	assert.Equal(t, 500, payflow.StatusOf("no_such_code"))
	assert.Equal(t, 500, payflow.StatusOf(""))
	assert.Equal(t, 402, payflow.StatusOf("insufficient_funds"))
}

// verdicts is an error of several, some of them nil, as an error type
// written by hand may hold them (errors.Join drops a nil).
type verdicts []error

func (v verdicts) Error() string   { return "several verdicts" }
func (v verdicts) Unwrap() []error { return v }

// TestAsErrorSkipsNilErrorsOfATree: the nil errors that an error's
// Unwrap() []error gives are passed over: the first of the others that
// has a code gives it; with none, the error is internal.
func TestAsErrorSkipsNilErrorsOfATree(t *testing.T) {
	e := payflow.AsError(verdicts{nil, fmt.Errorf("paying: %w", payflow.ErrFunds), nil})
	assert.Equal(t, "insufficient_funds", e.Code)
	assert.Equal(t, 402, e.Status)
	assert.Equal(t, "several verdicts", e.Message)
	assert.Equal(t, "internal", payflow.AsError(verdicts{nil, nil}).Code)
}
