package applet_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/simcard/applet"
)

// TestFileStoresInTheWorkingDirectory: a File whose Path names no
// directory stores in the working directory.
func TestFileStoresInTheWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	f := &applet.File{Path: "card"}
	require.NoError(t, f.Store([]byte("state")))
	b, err := os.ReadFile(filepath.Join(dir, "card"))
	require.NoError(t, err)
	assert.Equal(t, "state", string(b))
}

// TestFileLoadOfADirectoryFails: Load returns the error of a Path that
// cannot be read, other than a missing one.
func TestFileLoadOfADirectoryFails(t *testing.T) {
	f := &applet.File{Path: t.TempDir()}
	b, err := f.Load()
	assert.ErrorIs(t, err, syscall.EISDIR)
	assert.EqualError(t, err, "applet: load state: read "+f.Path+": is a directory")
	assert.Nil(t, b)
}

// TestFileStoreOverADirectoryFails: a Store whose Path is a directory, or
// whose previous-state file cannot be removed, fails and leaves the
// directory as it was.
func TestFileStoreOverADirectoryFails(t *testing.T) {
	t.Run("path", func(t *testing.T) {
		dir := t.TempDir()
		f := &applet.File{Path: filepath.Join(dir, "card")}
		require.NoError(t, os.MkdirAll(filepath.Join(f.Path, "x"), 0o700))
		err := f.Store([]byte("state"))
		assert.ErrorIs(t, err, syscall.EEXIST)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 1)
		assert.Equal(t, "card", entries[0].Name())
	})
	t.Run("previous", func(t *testing.T) {
		dir := t.TempDir()
		f := &applet.File{Path: filepath.Join(dir, "card")}
		require.NoError(t, f.Store([]byte("old")))
		require.NoError(t, os.MkdirAll(filepath.Join(dir, ".card.prev", "x"), 0o700))
		err := f.Store([]byte("new"))
		assert.ErrorIs(t, err, syscall.ENOTEMPTY)
		assert.ErrorContains(t, err, "applet: store state: keep the previous state: ")
		b, err := f.Load()
		require.NoError(t, err)
		assert.Equal(t, "old", string(b))
	})
}

// TestFileStoreFailsAfterRenameWithoutPrevious: a Store that fails after
// the rename, with no previous state file to put back (none kept, as on a
// file system without hard links, or one removed since), says so and
// leaves the new state.
func TestFileStoreFailsAfterRenameWithoutPrevious(t *testing.T) {
	tests := []struct {
		name string
		link error // of the link that keeps the previous state
		want func(dir string) string
	}{
		{"not_kept", errPowerCut, func(string) string {
			return "applet: store state: sync directory: power cut (no previous state kept to put back)"
		}},
		{"removed", nil, func(dir string) string {
			return fmt.Sprintf("applet: store state: sync directory: power cut (previous state not put back: rename %[1]s/.card.prev %[1]s/card: no such file or directory)", dir)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := &applet.File{Path: filepath.Join(dir, "card")}
			require.NoError(t, f.Store([]byte("old")))
			applet.BreakFile(f, func(step string) error {
				switch step {
				case "link":
					return tt.link
				case "sync directory":
					os.Remove(filepath.Join(dir, ".card.prev"))
					return errPowerCut
				}
				return nil
			})
			err := f.Store([]byte("new"))
			assert.ErrorIs(t, err, errPowerCut)
			assert.EqualError(t, err, tt.want(dir))
			applet.BreakFile(f, nil)
			b, err := f.Load()
			require.NoError(t, err)
			assert.Equal(t, "new", string(b))
		})
	}
}
