//go:build unix

package demo

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/tempfile"
	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/simcard/applet"
)

// TestOpenCardReadOnly: a card whose file cannot be written (its folder
// is read-only) is refused when it is opened, with one line that names
// the folder and gives the system's reason, rather
// than failing the first command that stores its state with the card's
// status word 6581. Root writes into a read-only folder: run as root,
// the test runs as nobody in another process (testenv.RunAsNobody).
func TestOpenCardReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		testenv.RunAsNobody(t, "TestOpenCardReadOnly")
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
			assert.EqualError(t, err, "demo: the folder "+cards+" of the data folder cannot be written: permission denied")
		})
	}
}

// TestSetupRemovesStaleLeftovers: what a run killed inside the setup
// leaves in the data folder (a hierarchy's folder .pki.new…, a card's
// folder .NAME.new…, each holding the setup's mark, and, once ten minutes
// old, an ICCID file .NAME.iccid.tmp… not yet renamed into place) is
// removed by the next setup, which holds the setup lock that the killed
// run held as it made them; what the setup lock does not cover (a card
// state file's .NAME.card.tmp…, which a phone program writes while it uses
// its card, and a younger temporary file of a state file cards/NAME.iccid,
// which vcard -state writes so) is left alone, and so is the state file
// that vcard -state keeps, held, in a folder named as a card's
// (cards/.x.new1), with its lock file beside it.
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

// TestOpenCloudReadOnly: a data folder that cannot be written, or whose
// parent cannot be written when it is to be made, or one of whose folders
// or database that the programs write cannot be, is refused by OpenCloud
// with one line that names what cannot be written and why (an error that
// matches fs.ErrPermission, not ErrUsage: exit status 1), rather than
// the system's message on the file it failed to make; nothing is made or
// changed in a folder that cannot be written. Root writes into a
// read-only folder: run as root, the test runs as nobody in another
// process (testenv.RunAsNobody).
func TestOpenCloudReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		testenv.RunAsNobody(t, "TestOpenCloudReadOnly")
		return
	}
	// readOnly makes path read-only until the test ends, and all below
	// it with all.
	readOnly := func(t *testing.T, path string, all bool) {
		t.Helper()
		walk := func(mode func(fs.FileMode) fs.FileMode) error {
			return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if p != path && !all {
					return filepath.SkipDir
				}
				fi, err := d.Info()
				if err != nil {
					return err
				}
				return os.Chmod(p, mode(fi.Mode()))
			})
		}
		t.Cleanup(func() { walk(func(m fs.FileMode) fs.FileMode { return m.Perm() | 0o200 }) })
		require.NoError(t, walk(func(m fs.FileMode) fs.FileMode { return m.Perm() &^ 0o222 }))
	}
	for _, tt := range []struct {
		name string
		// prepare returns the data folder, and whether nothing in it may
		// change.
		prepare func(t *testing.T) (dir string, unchanged bool)
		want    func(dir string) string
	}{
		{"new folder read-only", func(t *testing.T) (string, bool) {
			dir := filepath.Join(t.TempDir(), "data")
			require.NoError(t, os.Mkdir(dir, 0o700))
			readOnly(t, dir, false)
			return dir, true
		}, func(dir string) string {
			return "demo: the data folder " + dir + " cannot be written: permission denied"
		}},
		{"parent read-only", func(t *testing.T) (string, bool) {
			parent := t.TempDir()
			readOnly(t, parent, false)
			return filepath.Join(parent, "data"), true
		}, func(dir string) string {
			return "demo: the data folder " + dir + " cannot be made: the folder " + filepath.Dir(dir) + " cannot be written: permission denied"
		}},
		{"set up, folder read-only", func(t *testing.T) (string, bool) {
			dir := setUpFolder(t)
			readOnly(t, dir, false)
			return dir, true
		}, func(dir string) string {
			return "demo: the data folder " + dir + " cannot be written: permission denied"
		}},
		{"set up, all read-only", func(t *testing.T) (string, bool) {
			dir := setUpFolder(t)
			readOnly(t, dir, true)
			return dir, true
		}, func(dir string) string {
			return "demo: the data folder " + dir + " cannot be written: its file " + SetupLockFile + ": permission denied"
		}},
		{"set up, cards read-only", func(t *testing.T) (string, bool) {
			dir := setUpFolder(t)
			readOnly(t, filepath.Dir(CardPath(dir, "alice")), false)
			return dir, false
		}, func(dir string) string {
			return "demo: the folder " + filepath.Join(dir, "cards") + " of the data folder cannot be written: permission denied"
		}},
		{"set up, air read-only", func(t *testing.T) (string, bool) {
			dir := setUpFolder(t)
			air := filepath.Join(dir, "air")
			require.NoError(t, os.Mkdir(air, 0o700))
			readOnly(t, air, false)
			return dir, false
		}, func(dir string) string {
			return "demo: the folder " + filepath.Join(dir, "air") + " of the data folder cannot be written: permission denied"
		}},
		{"set up, database read-only", func(t *testing.T) (string, bool) {
			dir := setUpFolder(t)
			readOnly(t, filepath.Join(dir, DatabaseFile), false)
			return dir, false
		}, func(dir string) string {
			return "demo: the database " + filepath.Join(dir, DatabaseFile) + " of the data folder cannot be written: permission denied"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, unchanged := tt.prepare(t)
			var before map[string]string
			if _, err := os.Stat(dir); err == nil {
				before = folderState(t, dir)
			}
			_, err := OpenCloud(context.Background(), CloudOptions{Dir: dir})
			require.ErrorIs(t, err, fs.ErrPermission)
			assert.NotErrorIs(t, err, ErrUsage)
			assert.Equal(t, tt.want(dir), err.Error())
			if !unchanged {
				return
			}
			if before == nil {
				assert.NoDirExists(t, dir)
			} else {
				assert.Equal(t, before, folderState(t, dir), "nothing changed")
			}
		})
	}
}

// TestPhoneReadOnly: a phone program (seller, shopper) whose card's folder
// (cards/) or air (air/, or, while that is missing, the data folder, in
// which the radio makes it) cannot be written is refused before it says
// anything, with one line that names the folder and gives the system's
// reason (an error that matches fs.ErrPermission, not ErrUsage: exit
// status 1), as the cloud program is (TestOpenCloudReadOnly), rather
// than the system's message on the card's temporary file, or a line of
// the radio's every 200 ms; nothing in the folder changes but
// the card's own files, which the card opens first. Root writes
// into a read-only folder: run as root, the test runs as nobody in
// another process (testenv.RunAsNobody).
func TestPhoneReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		testenv.RunAsNobody(t, "TestPhoneReadOnly")
		return
	}
	for _, tt := range []struct {
		name string
		// prepare returns the folder to make read-only.
		prepare func(t *testing.T, dir string) string
		want    func(dir string) string
	}{
		{"cards", func(t *testing.T, dir string) string {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "air"), 0o700))
			return filepath.Join(dir, "cards")
		}, func(dir string) string {
			return "demo: the folder " + filepath.Join(dir, "cards") + " of the data folder cannot be written: permission denied"
		}},
		{"air", func(t *testing.T, dir string) string {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "air"), 0o700))
			return filepath.Join(dir, "air")
		}, func(dir string) string {
			return "demo: the folder " + filepath.Join(dir, "air") + " of the data folder cannot be written: permission denied"
		}},
		{"air missing", func(t *testing.T, dir string) string {
			require.NoError(t, os.RemoveAll(filepath.Join(dir, "air")))
			return dir
		}, func(dir string) string {
			return "demo: the data folder " + dir + " cannot be written: permission denied"
		}},
	} {
		for _, program := range []struct {
			name string
			run  func(context.Context, []string, io.Writer) error
		}{{"seller", RunSeller}, {"shopper", RunShopper}} {
			t.Run(tt.name+"/"+program.name, func(t *testing.T) {
				dir := setUpFolder(t)
				ro := tt.prepare(t, dir)
				require.NoError(t, os.Chmod(ro, 0o500))
				t.Cleanup(func() { os.Chmod(ro, 0o700) })
				// The card, opened before the air is looked at, stores
				// its state back (OpenCard), the same.
				state := func() map[string]string {
					st := folderState(t, dir)
					if tt.name != "cards" {
						for p := range st {
							if strings.HasPrefix(p, filepath.Join(dir, "cards")) {
								delete(st, p)
							}
						}
					}
					return st
				}
				before := state()
				var out strings.Builder
				err := program.run(context.Background(), []string{"-data", dir, "-url", "http://127.0.0.1:1", "-wait", "200ms"}, &out)
				require.ErrorIs(t, err, fs.ErrPermission)
				assert.NotErrorIs(t, err, ErrUsage)
				assert.Equal(t, tt.want(dir), err.Error())
				assert.Empty(t, out.String(), "refused before the phone logs in")
				assert.True(t, maps.Equal(before, state()), "nothing changed")
			})
		}
	}
}

// TestEnsureCardInAFile: a card to set up in a data folder whose cards
// folder is a file is refused with the error of the card file's path,
// which is not a folder's, and nothing is written.
func TestEnsureCardInAFile(t *testing.T) {
	dir := t.TempDir()
	c := openCloud(t, dir)
	cards := filepath.Dir(CardPath(dir, ""))
	require.NoError(t, os.WriteFile(cards, []byte("x"), 0o600))
	_, err := ensureCard(context.Background(), c, dir, "alice", "Alice")
	require.ErrorIs(t, err, syscall.ENOTDIR)
	assert.EqualError(t, err, "demo: stat "+CardPath(dir, "alice")+": not a directory")
	b, err := os.ReadFile(cards)
	require.NoError(t, err)
	assert.Equal(t, "x", string(b))
}

// TestLockCardReadOnly: a card state file whose folder cannot be written
// is refused by LockCard with one line that names the folder and the
// file and gives the system's reason, whether its lock file is there
// (the card was held before) or not, rather than held for a card whose
// every store would fail. Root writes into a read-only folder: run as
// root, the test runs as nobody in another process
// (testenv.RunAsNobody).
func TestLockCardReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		testenv.RunAsNobody(t, "TestLockCardReadOnly")
		return
	}
	for _, held := range []bool{false, true} {
		t.Run(fmt.Sprint("held before=", held), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "card.state")
			if held {
				unlock, err := LockCard(path)
				require.NoError(t, err)
				require.NoError(t, unlock())
			}
			require.NoError(t, os.Chmod(dir, 0o500))
			defer os.Chmod(dir, 0o700)
			_, err := LockCard(path)
			require.ErrorIs(t, err, fs.ErrPermission)
			assert.EqualError(t, err, "the folder "+dir+" of the card state file "+path+" cannot be written: permission denied")
		})
	}
}

// TestRemoveLeftoversKeepsLinks: a symbolic link named as a setup's
// folder (.pki.newDIGITS, cards/.NAME.newDIGITS), even to a folder that
// holds the setup's mark and files, is no setup's (a setup makes
// folders, never links) and stays, with what it points to.
func TestRemoveLeftoversKeepsLinks(t *testing.T) {
	dir := t.TempDir()
	cards := filepath.Dir(CardPath(dir, ""))
	require.NoError(t, os.Mkdir(cards, 0o700))
	for link, file := range map[string]string{filepath.Join(dir, ".pki.new1"): rootKey, filepath.Join(cards, ".alice.new2"): "alice.card"} {
		target := filepath.Join(t.TempDir(), "made")
		require.NoError(t, os.Mkdir(target, 0o700))
		for _, f := range []string{setupMark, file} {
			require.NoError(t, os.WriteFile(filepath.Join(target, f), []byte("x"), 0o600))
		}
		require.NoError(t, os.Symlink(target, link))
		removeLeftovers(dir, true, time.Now())
		_, err := os.Lstat(link)
		assert.NoError(t, err, "%s kept", link)
		assert.FileExists(t, filepath.Join(target, file))
	}
}
