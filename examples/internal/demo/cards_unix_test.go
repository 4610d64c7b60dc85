//go:build unix

package demo

import (
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenCardReadOnly: a card whose file cannot be written (its folder
// is read-only) is refused when it is opened, naming the file, rather
// than failing the first command that stores its state with the card's
// status word 6581. Root writes into a read-only folder: run as root,
// the test runs as nobody in another process (runAsNobody).
func TestOpenCardReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		runAsNobody(t, "TestOpenCardReadOnly")
		return
	}
	for _, opened := range []bool{false, true} {
		name := "never opened"
		if opened {
			name = "opened before"
		}
		t.Run(name, func(t *testing.T) {
			dir := setUpFolder(t)
			if opened {
				card, err := OpenCard(dir, "alice")
				require.NoError(t, err)
				require.NoError(t, card.Close())
			}
			cards := filepath.Dir(CardPath(dir, "alice"))
			require.NoError(t, os.Chmod(cards, 0o500))
			defer os.Chmod(cards, 0o700)
			_, err := OpenCard(dir, "alice")
			require.ErrorIs(t, err, fs.ErrPermission)
			assert.Contains(t, err.Error(), CardPath(dir, "alice")+" cannot be written")
		})
	}
}

// nobody is the user and group ID (the kernel's overflow ID, "nobody")
// that runAsNobody runs a test as.
const nobody = 65534

// runAsNobody runs the test named test of this test binary in a child
// process as user and group nobody, without supplementary groups, and
// fails t unless it passed there, not skipped. The go command builds the
// test binary in a folder that only its user may enter, so the child runs
// a copy of it, in a temporary folder of nobody's that is also the child's
// working folder and TMPDIR: the folder of the test's own temporary
// folders.
func runAsNobody(t *testing.T, test string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "casimpay-nobody-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chown(dir, nobody, nobody))

	bin := filepath.Join(dir, filepath.Base(os.Args[0]))
	src, err := os.Open(os.Args[0])
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())

	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s as user %d in %s:\n%s", test, nobody, dir, out)
	assert.Contains(t, string(out), "--- PASS: "+test+" (", "%s", out)
	assert.NotContains(t, string(out), "--- SKIP", "%s", out)
}
