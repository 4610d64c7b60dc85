package outwait

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Stderr runs f with os.Stderr a file of the test's own, and returns what
// f wrote to os.Stderr: the usage that the flag package prints on -h, say.
// os.Stderr is what it was once Stderr returns. It fails t at once when
// the file cannot be made or read. The tests that call it must not run in
// parallel with others that write to os.Stderr.
func Stderr(t testing.TB, f func()) string {
	t.Helper()
	file, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	stderr := os.Stderr
	os.Stderr = file
	func() {
		defer func() { os.Stderr = stderr }()
		f()
	}()
	b, err := os.ReadFile(file.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Usage returns what program, an example program's run function, prints
// on os.Stderr (Stderr) when run with -h: the usage that the flag package
// prints there. It fails t at once unless program ends with flag.ErrHelp.
func Usage(t testing.TB, program func(ctx context.Context, args []string, stdout io.Writer) error) string {
	t.Helper()
	var err error
	usage := Stderr(t, func() { err = program(context.Background(), []string{"-h"}, io.Discard) })
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("%v, want flag.ErrHelp", err)
	}
	return usage
}
