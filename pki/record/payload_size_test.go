package record

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestUnmarshalRefusesPayloadAboveMaxMessage checks that Unmarshal
// refuses a payload longer than MaxMessage before decoding it.
func TestUnmarshalRefusesPayloadAboveMaxMessage(t *testing.T) {
	err := Unmarshal(bytes.Repeat([]byte{0}, MaxMessage+1), new(Consent))
	assert.ErrorIs(t, err, ErrMalformed)
	assert.EqualError(t, err, ErrMalformed.Error()+": 8193 bytes exceed 8192")
}
