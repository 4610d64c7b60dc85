//go:build unix

package demo

import (
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/tempfile"
	"github.com/casimpay/casimpay/simcard/applet"
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

// TestSetupRemovesStaleLeftovers: what a run killed inside the setup
// leaves in the data folder (a hierarchy's folder .pki.new…, a card's
// folder .NAME.new…, each holding the setup's mark, and, once ten minutes old, an ICCID file
// .NAME.iccid.tmp… not yet renamed into place) is removed by the next
// setup, which holds the setup lock that the killed run held as it made
// them; what the setup lock does not cover (a card state file's
// .NAME.card.tmp…, which a phone program writes while it uses its card,
// and a younger temporary file of a state file cards/NAME.iccid, which
// vcard -state writes so) is left alone, and so is the state file that
// vcard -state keeps, held, in a folder named as a card's (cards/.x.new1),
// with its lock file beside it.
func TestSetupRemovesStaleLeftovers(t *testing.T) {
	if !lockAcrossProcesses {
		t.Skip("the setup lock does not reach other processes here")
	}
	ctx := context.Background()
	dir := setUpFolder(t)
	cards := filepath.Dir(CardPath(dir, "alice"))
	stale := []string{
		filepath.Join(dir, ".pki.new1234"),
		filepath.Join(cards, ".alice.new5678"),
	}
	for i, f := range []string{rootKey, "alice.card"} {
		require.NoError(t, os.Mkdir(stale[i], 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(stale[i], setupMark), nil, 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(stale[i], f), []byte("x"), 0o600))
	}
	iccid := filepath.Join(cards, ".alice.iccid.tmp91011")
	require.NoError(t, os.WriteFile(iccid, []byte("1\n"), 0o600))
	old := time.Now().Add(-tempfile.Stale - time.Minute)
	require.NoError(t, os.Chtimes(iccid, old, old))
	stale = append(stale, iccid)
	inUse := []string{filepath.Join(cards, ".alice.card.tmp1213"), filepath.Join(cards, ".foo.iccid.tmp1415")}
	for _, p := range inUse {
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o600))
	}

	vcard := filepath.Join(cards, ".x.new1", "card.state")
	require.NoError(t, os.Mkdir(filepath.Dir(vcard), 0o700))
	unlock, err := LockCard(vcard)
	require.NoError(t, err)
	defer unlock()
	require.NoError(t, (&applet.File{Path: vcard}).Store([]byte("state")))

	c, err := OpenCloud(ctx, CloudOptions{Dir: dir}) // LoadAuthority
	require.NoError(t, err)
	defer c.Close()
	assert.NoDirExists(t, stale[0], "removed by LoadAuthority")
	_, err = Grocery.Setup(ctx, c, dir)
	require.NoError(t, err)
	for _, p := range stale {
		assert.NoFileExists(t, p)
		assert.NoDirExists(t, p)
	}
	for _, p := range inUse {
		assert.FileExists(t, p, "a card state being written is not the setup's")
	}
	assert.FileExists(t, vcard, "another program's card state is not the setup's")
	assert.FileExists(t, vcard+".lock")
}
