package payflow_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/pki/record"
)

// TestErrorTypesZeroAndNil: the Error of every exported error type of
// the package gives its text for a zero value, a nil pointer and a value
// with fields left out, and errors.Is follows its Unwrap to the sentinel
// it matches (none for a nil *Error), without a nil dereference or an
// index out of range (was: a panic for each nil pointer and for cards
// without Errs, and for a PaidError without its Payment or a
// RefundMadeError without its Receipt).
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
		{"PaidError zero", &payflow.PaidError{}, "payflow: request already in a final state: a payment request was paid (no view given)", payflow.ErrFinal},
		{"PaidError nil", (*payflow.PaidError)(nil), "payflow: request already in a final state: a payment request was paid (no view given)", payflow.ErrFinal},
		{"PaidError with a view", &payflow.PaidError{Payment: &payflow.PaymentView{}}, "payflow: request already in a final state: payment request 00000000000000000000000000000000 was paid", payflow.ErrFinal},
		{"RefundMadeError zero", &payflow.RefundMadeError{},
			"payflow: conflicting request: a refund of request 00000000000000000000000000000000, sent before without an answer, was made (no receipt given)", payflow.ErrConflict},
		{"RefundMadeError nil", (*payflow.RefundMadeError)(nil),
			"payflow: conflicting request: a refund sent before without an answer was made (no receipt given)", payflow.ErrConflict},
		{"RefundMadeError with a receipt", &payflow.RefundMadeError{Receipt: &payflow.Receipt{Receipt: record.Receipt{Amount: 7}}},
			"payflow: conflicting request: a refund of 7 of request 00000000000000000000000000000000, sent before without an answer, was made", payflow.ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.text, tc.err.Error())
			for _, sentinel := range []error{payflow.ErrRateLimited, payflow.ErrUnresolvableCard, payflow.ErrInternal, payflow.ErrInvalid,
				payflow.ErrFinal, payflow.ErrConflict} {
				assert.Equal(t, sentinel == tc.match, errors.Is(tc.err, sentinel), "errors.Is %v", sentinel)
			}
		})
	}
}
