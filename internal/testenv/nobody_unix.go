//go:build unix

package testenv

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Nobody is the user and group ID (the kernel's overflow ID, "nobody")
// that RunAsNobody runs a test as.
const Nobody = 65534

// RunAsNobody runs the test named test of this test binary in a child
// process as user and group Nobody, without supplementary groups, and
// fails t unless it passed there with nothing skipped, not even a subtest.
// A test that needs a folder it cannot write calls it when it runs as
// root, who writes into a read-only folder. The go command builds the test
// binary in a folder that only its user may enter, so the child runs a
// copy of it, in a temporary folder of nobody's that is also the child's
// working folder and TMPDIR: the folder of the test's own temporary
// folders.
func RunAsNobody(t testing.TB, test string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "casimpay-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, Nobody, Nobody); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, filepath.Base(os.Args[0]))
	if err := copyFile(bin, os.Args[0]); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: Nobody, Gid: Nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as user %d in %s: %v\n%s", test, Nobody, dir, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+test+" (") || strings.Contains(string(out), "--- SKIP") {
		t.Errorf("%s as user %d did not pass, or skipped:\n%s", test, Nobody, out)
	}
}

// copyFile copies the file src to dst, a new file that all may run.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
