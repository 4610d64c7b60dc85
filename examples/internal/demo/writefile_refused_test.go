package demo

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWriteFileOverAFolder: a write whose name is a folder fails, and
// the temporary file it wrote is removed.
func TestWriteFileOverAFolder(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "root.pem")
	require.NoError(t, os.MkdirAll(filepath.Join(name, "x"), 0o700))
	for _, durable := range []bool{false, true} {
		require.Error(t, writeFile(name, []byte("x"), 0o644, durable))
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		require.Len(t, entries, 1, "no temporary file left")
		assert.Equal(t, "root.pem", entries[0].Name())
	}
}

// TestMkdirDurableOverAFile: a folder to make where a file is fails with
// fs.ErrExist, and the file stays.
func TestMkdirDurableOverAFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(name, []byte("x"), 0o600))
	assert.ErrorIs(t, mkdirDurable(name), fs.ErrExist)
	assert.FileExists(t, name)
}
