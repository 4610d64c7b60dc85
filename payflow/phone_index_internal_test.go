package payflow

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/adv"
)

// TestSellerKeepsNoIndexOfASessionLeftForAnEpochTwoAfterIt: a seller that
// leaves a session for one whose proof names its EID of an epoch more than
// one after that session's keeps no request index of the session left
// (epochEnded), as it drops those it kept of such epochs.
func TestSellerKeepsNoIndexOfASessionLeftForAnEpochTwoAfterIt(t *testing.T) {
	const first = 3_000_000
	p := &phone{role: adv.Seller}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keepIndexLocked(ID{1}, first)
	p.session = &SessionView{ID: ID{1}}
	p.moveOnLocked(ID{1}, 3)
	p.keepIndexLocked(ID{2}, first+2)
	assert.Empty(t, p.left)
	assert.Equal(t, uint32(0), p.next)
	assert.Equal(t, uint32(first+2), p.sessionEpoch)
}
