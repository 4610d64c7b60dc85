package ascii

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestDigits(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "0": true, "0123456789": true,
		"/": false, ":": false, "12a": false, " 1": false, "1\x00": false, "\xd9\xa1": false,
	} {
		assert.Equal(t, want, Digits(s), "%q", s)
		assert.Equal(t, want, Digits([]byte(s)), "%q as bytes", s)
	}
}
