package demo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/payflow"
)

// clockedAPI is an API whose clock reads at.
type clockedAPI struct {
	payflow.API
	at time.Time
}

func (a clockedAPI) Now() time.Time { return a.at }

// TestNarratorForwardsTheClock: the Narrator gives the handler the clock
// of the API it wraps, by which the platform deletes expired replies.
func TestNarratorForwardsTheClock(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	var n payflow.API = &Narrator{API: clockedAPI{at: at}}
	c, ok := n.(payflow.Clocked)
	if assert.True(t, ok, "the Narrator is a payflow.Clocked") {
		assert.Equal(t, at, c.Now())
	}
}
