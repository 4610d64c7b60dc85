package ledger_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/ledger"
)

// TestProblemNamesAccountAndTransfer pins the text of a problem: the
// account, then the transfer it concerns, each only when not zero.
func TestProblemNamesAccountAndTransfer(t *testing.T) {
	a, tr := ledger.IDFromUint64(1), ledger.IDFromUint64(0x20)
	tests := []struct {
		p    ledger.Problem
		want string
	}{
		{ledger.Problem{Detail: "ledger 840: sums differ"}, "ledger 840: sums differ"},
		{ledger.Problem{AccountID: a, Detail: "code zero"},
			"account 00000000000000000000000000000001: code zero"},
		{ledger.Problem{TransferID: tr, Detail: "code zero"},
			"transfer 00000000000000000000000000000020: code zero"},
		{ledger.Problem{AccountID: a, TransferID: tr, Detail: "x"},
			"account 00000000000000000000000000000001: transfer 00000000000000000000000000000020: x"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.p.String())
	}
}

// TestVerifyErrorListsFirstFiveProblems pins the message of a
// VerifyError: the count, then at most five problems, and "…" for the
// rest.
func TestVerifyErrorListsFirstFiveProblems(t *testing.T) {
	problems := func(n int) []ledger.Problem {
		var ps []ledger.Problem
		for i := range n {
			ps = append(ps, ledger.Problem{Detail: string(rune('a' + i))})
		}
		return ps
	}
	tests := []struct {
		n    int
		want string
	}{
		{0, "ledger: verify found 0 problem(s)"},
		{1, "ledger: verify found 1 problem(s); a"},
		{5, "ledger: verify found 5 problem(s); a; b; c; d; e"},
		{6, "ledger: verify found 6 problem(s); a; b; c; d; e; …"},
		{7, "ledger: verify found 7 problem(s); a; b; c; d; e; …"},
	}
	for _, tt := range tests {
		err := &ledger.VerifyError{Problems: problems(tt.n)}
		assert.ErrorIs(t, err, ledger.ErrCorrupt)
		assert.EqualError(t, err, tt.want)
	}
}
