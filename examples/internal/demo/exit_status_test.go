package demo

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exitErrors are the errors that TestExitStatus ends a program with, by
// name.
func exitErrors() map[string]error {
	fs := flag.NewFlagSet("prog", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the flag package's own lines, printed as it refuses a flag
	return map[string]error{
		"nil":   nil,
		"help":  ParseFlags(fs, []string{"-h"}),
		"flag":  ParseFlags(fs, []string{"-nope"}),
		"usage": fmt.Errorf("%w: -wait must be positive", ErrUsage),
		"other": errors.New("demo: request 0a0b0c0d ended declined"),
	}
}

// TestExitStatus: a program that ends with nil or -h (flag.ErrHelp) goes
// on, exit status 0, printing nothing; one that ends with a usage error
// exits with status 2, and with any other error with status 1, each
// printing the error once on stderr after the program's name, except a
// flag that the flag package refused, which printed it itself. Each runs
// in a child process.
func TestExitStatus(t *testing.T) {
	if name := os.Getenv("DEMO_EXIT_CHILD"); name != "" {
		Exit("prog", exitErrors()[name])
		fmt.Print("went on")
		os.Exit(0)
	}
	for _, tt := range []struct {
		name, stdout, stderr string
		status               int
	}{
		{"nil", "went on", "", 0},
		{"help", "went on", "", 0},
		{"flag", "", "", 2},
		{"usage", "", "prog: demo: invalid usage: -wait must be positive\n", 2},
		{"other", "", "prog: demo: request 0a0b0c0d ended declined\n", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestExitStatus$")
			cmd.Env = append(os.Environ(), "DEMO_EXIT_CHILD="+tt.name)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			status := 0
			if ee, ok := errors.AsType[*exec.ExitError](err); ok {
				status = ee.ExitCode()
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.status, status)
			assert.Equal(t, tt.stdout, stdout.String())
			assert.Equal(t, tt.stderr, stderr.String())
		})
	}
}
