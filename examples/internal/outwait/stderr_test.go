package outwait

import (
	"context"
	"flag"
	"fmt"
	"io"
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

// TestUsage: Usage runs the program with -h alone and returns what it
// printed on os.Stderr.
func TestUsage(t *testing.T) {
	got := Usage(t, func(ctx context.Context, args []string, stdout io.Writer) error {
		assert.Equal(t, []string{"-h"}, args)
		fmt.Fprint(stdout, "not the usage\n")
		fmt.Fprint(os.Stderr, "Usage of prog:\n")
		return fmt.Errorf("prog: %w", flag.ErrHelp)
	})
	assert.Equal(t, "Usage of prog:\n", got)
}
