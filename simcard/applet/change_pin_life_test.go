package applet_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestChangePINRefusedBeforeActivation: CHANGE REFERENCE DATA on a card
// not yet operational answers 6985, whatever the PINs.
func TestChangePINRefusedBeforeActivation(t *testing.T) {
	a := newBlank(t)
	_, sw := tx(t, a, "0024008012313233343536FFFFFFFFFFFF373737373737")
	assert.Equalf(t, uint16(0x6985), sw, "status word %04X", sw)
}
