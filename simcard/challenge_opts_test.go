package simcard_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/simcard"
)

// TestChallengeOptsAreNotPrehashed: ChallengeOpts says the challenge is
// not hashed by the caller.
func TestChallengeOptsAreNotPrehashed(t *testing.T) {
	assert.Zero(t, simcard.ChallengeOpts{}.HashFunc())
}
