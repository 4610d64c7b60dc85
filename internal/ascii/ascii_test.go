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

func TestUint(t *testing.T) {
	const max = 1000
	tests := []struct {
		v    uint64
		s    string
		want uint64
		ok   bool
	}{
		{0, "", 0, true},
		{7, "", 7, true},
		{0, "0123", 123, true},
		{12, "34", max + 1, true},
		{1, "000", 1000, true},
		{100, "0", 1000, true},
		{100, "1", max + 1, true},
		{100, "5", max + 1, true},
		{0, "1005", max + 1, true},
		{max + 1, "5", max + 1, true},
		{max + 2, "", max + 1, true},
		{5000, "7", max + 1, true},
		{^uint64(0), "", max + 1, true},
		{99, "99", max + 1, true},
		{0, "99999999999999999999999", max + 1, true},
		{0, "12a", 0, false},
		{0, "99999999999/", 0, false},
		{0, ":", 0, false},
		{0, "\xd9\xa1", 0, false},
	}
	for _, tt := range tests {
		v, ok := Uint(tt.v, tt.s, max)
		assert.Equal(t, tt.ok, ok, "%d, %q", tt.v, tt.s)
		if tt.ok {
			assert.Equal(t, tt.want, v, "%d, %q", tt.v, tt.s)
		}
		v, ok = Uint(tt.v, []byte(tt.s), max)
		assert.Equal(t, tt.ok, ok, "%d, %q as bytes", tt.v, tt.s)
		if tt.ok {
			assert.Equal(t, tt.want, v, "%d, %q as bytes", tt.v, tt.s)
		}
	}
}
