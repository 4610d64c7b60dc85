package demo

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
)

// Phones whose selections of each other keep opening two sessions select
// each other RotationTries times again, hearing each other before each,
// and then give up with ErrTwoSessions.
func TestSelectEachOtherGivesUp(t *testing.T) {
	var out bytes.Buffer
	pr := NewPrinter(&out)
	a, b := &Phone{Screen: pr.Screen("shopper")}, &Phone{Screen: pr.Screen("seller")}
	selections, heard := 0, 0
	err := SelectEachOther(a, b, func() (ca, cb *payflow.Confirmation, err error) {
		selections++
		return &payflow.Confirmation{SessionID: payflow.ID{1}}, &payflow.Confirmation{SessionID: payflow.ID{2}}, nil
	}, func() error {
		heard++
		return nil
	})
	require.ErrorIs(t, err, ErrTwoSessions)
	assert.Equal(t, RotationTries+1, selections)
	assert.Equal(t, RotationTries, heard)
}
