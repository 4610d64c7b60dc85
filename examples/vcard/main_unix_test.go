//go:build unix

package main

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestRunRefusesReadOnlyFolder: a state file whose folder cannot be
// written (the card's state is replaced there at every store, beside its
// lock file and the demo root's file) is refused before the card is
// powered up, with one line that names the folder and the state file
// and gives the system's reason, an error matching fs.ErrPermission, as
// the demo's programs refuse a data folder's cards/ (demo.OpenCard):
// for a new card, and for one personalised before, served or with
// -unblock, nothing in the folder changing. The refused runs get a
// context that has ended: a run that took the file would stop at once
// and return no such error. Root writes into a read-only folder: run as
// root, the test runs as nobody in another process
// (testenv.RunAsNobody).
func TestRunRefusesReadOnlyFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		testenv.RunAsNobody(t, "TestRunRefusesReadOnlyFolder")
		return
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct {
		name              string
		personalised      bool
		pin, puk, unblock string
	}{
		{name: "new card"},
		{name: "personalised before", personalised: true},
		{name: "unblock", personalised: true, pin: "2468", puk: simcardtest.PUK, unblock: "-unblock"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "card.state")
			if tt.personalised {
				serveOnce(t, "", "", state, false)
			}
			before := folderFiles(t, dir)
			require.NoError(t, os.Chmod(dir, 0o500))
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			err := run(ended, "127.0.0.1:1", tt.pin, tt.puk, state, tt.unblock != "")
			require.ErrorIs(t, err, fs.ErrPermission)
			assert.EqualError(t, err, "vcard: the folder "+dir+" of the card state file "+state+" cannot be written: permission denied")
			assert.True(t, maps.Equal(before, folderFiles(t, dir)), "nothing in the folder changed")
		})
	}
}

// folderFiles returns the names of the files of the folder dir, each
// with its content.
func folderFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	files := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		files[e.Name()] = string(b)
	}
	return files
}
