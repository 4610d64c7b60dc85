package outwait

import (
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStderr: Stderr returns what the function wrote to os.Stderr, and
// os.Stderr is what it was after it.
func TestStderr(t *testing.T) {
	stderr := os.Stderr
	got := Stderr(t, func() {
		fmt.Fprint(os.Stderr, "Usage of prog:\n")
		fmt.Fprint(os.Stderr, "  -h\n")
	})
	assert.Equal(t, "Usage of prog:\n  -h\n", got)
	assert.Same(t, stderr, os.Stderr, "os.Stderr restored")
}
