package nilptr_test

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/internal/nilptr"
)

// readerFunc is an io.Reader of a func type, as a caller may pass one.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestIs(t *testing.T) {
	var r io.Reader
	assert.True(t, nilptr.Is(nil))
	assert.True(t, nilptr.Is(r))
	r = (*bytes.Reader)(nil)
	assert.True(t, nilptr.Is(r), "an interface holding a nil pointer")
	r = bytes.NewReader(nil)
	assert.False(t, nilptr.Is(r))
	assert.False(t, nilptr.Is(0))
	assert.False(t, nilptr.Is(""))
	assert.False(t, nilptr.Is(struct{ p *int }{}), "a struct is a value, whatever its fields")
	assert.False(t, nilptr.Is([0]*int{}), "an array is a value")
}

// TestIsOtherKinds: a nil of every kind that has one other than a pointer
// is nil too, and a value of that kind that is not nil, empty or not, is
// not.
func TestIsOtherKinds(t *testing.T) {
	for _, tt := range []struct {
		name         string
		isNil, value any
	}{
		{"func", readerFunc(nil), readerFunc(func([]byte) (int, error) { return 0, io.EOF })},
		{"map", map[string]int(nil), map[string]int{}},
		{"channel", (chan int)(nil), make(chan int)},
		{"slice", []byte(nil), []byte{}},
		{"ed25519.PrivateKey", ed25519.PrivateKey(nil), ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))},
		{"unsafe.Pointer", unsafe.Pointer(nil), unsafe.Pointer(new(int))},
	} {
		assert.True(t, nilptr.Is(tt.isNil), "a nil %s", tt.name)
		assert.False(t, nilptr.Is(tt.value), "a %s not nil", tt.name)
	}
}
