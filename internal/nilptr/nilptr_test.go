package nilptr_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/internal/nilptr"
)

func TestIs(t *testing.T) {
	var r io.Reader
	assert.True(t, nilptr.Is(nil))
	assert.True(t, nilptr.Is(r))
	r = (*bytes.Reader)(nil)
	assert.True(t, nilptr.Is(r), "an interface holding a nil pointer")
	r = bytes.NewReader(nil)
	assert.False(t, nilptr.Is(r))
	assert.False(t, nilptr.Is(0))
	assert.False(t, nilptr.Is([]byte(nil)), "a nil slice is a value")
}
