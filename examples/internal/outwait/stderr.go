package outwait

import (
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
