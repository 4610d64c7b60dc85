package adv

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseSaysWhyMalformed pins the message of each reason Parse gives
// for ErrMalformed, which is what a log of a scan shows.
func TestParseSaysWhyMalformed(t *testing.T) {
	good := ours(t, testPacket(), nil)
	sd := good[7:]
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte{0x02, 0x01, 0x06, 0x05, 0xff, 0x01}, "adv: malformed advertising data: an AD structure runs past the end"},
		{append(append([]byte{}, good...), sd...), "adv: malformed advertising data: casimpay service data appears twice"},
		{[]byte{0x03, 0x16, 0xff, 0xff}, "adv: malformed advertising data: casimpay service data has no version octet"},
		{[]byte{0x05, 0x16, 0xff, 0xff, 0x11, 0x00}, "adv: malformed advertising data: casimpay service data is not 20 octets"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		assert.ErrorIs(t, err, ErrMalformed)
		assert.EqualError(t, err, tt.want)
	}
}
