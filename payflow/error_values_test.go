package payflow_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
)

// TestErrorTypesZeroAndNil: the Error of every exported error type of
// the package gives its text for a zero value, a nil pointer and a value
// with fields left out, and errors.Is follows its Unwrap to the sentinel
// it matches (none for a nil *Error), without a nil dereference or an
// index out of range (was: a panic for each nil pointer and for cards
// without Errs).
func TestErrorTypesZeroAndNil(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		text  string
		match error // nil: none of the package's sentinels
	}{
		{"Error zero", &payflow.Error{}, "payflow: : ", nil},
		{"Error nil", (*payflow.Error)(nil), "payflow: nil *Error", nil},
		{"RateLimitedError zero", &payflow.RateLimitedError{}, "payflow: rate limited (retry after 0s)", payflow.ErrRateLimited},
		{"RateLimitedError nil", (*payflow.RateLimitedError)(nil), "payflow: rate limited (retry after 0s)", payflow.ErrRateLimited},
		{"UnresolvableCardsError zero", &payflow.UnresolvableCardsError{}, "payflow: stored card cannot resolve", payflow.ErrUnresolvableCard},
		{"UnresolvableCardsError nil", (*payflow.UnresolvableCardsError)(nil), "payflow: stored card cannot resolve", payflow.ErrUnresolvableCard},
		{"UnresolvableCardsError without Errs", &payflow.UnresolvableCardsError{CardIDs: []string{"8944100000000000009"}},
			`payflow: stored card cannot resolve; card "8944100000000000009": no cause given`, payflow.ErrUnresolvableCard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.text, tc.err.Error())
			for _, sentinel := range []error{payflow.ErrRateLimited, payflow.ErrUnresolvableCard, payflow.ErrInternal, payflow.ErrInvalid} {
				assert.Equal(t, sentinel == tc.match, errors.Is(tc.err, sentinel), "errors.Is %v", sentinel)
			}
		})
	}
}
