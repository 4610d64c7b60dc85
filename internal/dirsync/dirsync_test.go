package dirsync_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/dirsync"
)

// TestSync: a folder opened for reading syncs with no error, after a
// rename in it too; a closed one is refused with the error of its
// descriptor (on Windows, where Sync does nothing, nil).
func TestSync(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a"), []byte("x"), 0o600))
	require.NoError(t, os.Rename(filepath.Join(dir, "a"), filepath.Join(dir, "b")))
	d, err := os.Open(dir)
	require.NoError(t, err)
	assert.NoError(t, dirsync.Sync(d))
	require.NoError(t, d.Close())
	err = dirsync.Sync(d)
	if runtime.GOOS == "windows" {
		assert.NoError(t, err)
	} else {
		assert.ErrorIs(t, err, os.ErrClosed)
	}
}
