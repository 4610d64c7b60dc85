package sqlitewrite

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenLockOneFileOneLock: the Locks opened through two names of one
// file (its path and a symbolic link to it, a path through a symbolic
// link to its directory, a path with "..") are one lock, whichever is
// opened first: while one holds it, the other cannot take it.
func TestOpenLockOneFileOneLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.NoError(t, os.Symlink(path, filepath.Join(dir, "link.db")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	require.NoError(t, os.Symlink(dir, filepath.Join(dir, "dirlink")))

	tests := []struct{ name, other string }{
		{"symbolic link to the file", filepath.Join(dir, "link.db")},
		{"through a linked directory", filepath.Join(dir, "dirlink", "a.db")},
		{"link through a linked directory", filepath.Join(dir, "dirlink", "link.db")},
		{"with a parent directory", filepath.Join(dir, "sub", "..", "a.db")},
		{"the path itself", path},
	}
	for _, tt := range tests {
		for _, order := range []string{"path first", "path second"} {
			t.Run(tt.name+", "+order, func(t *testing.T) {
				first, second := path, tt.other
				if order == "path second" {
					first, second = second, first
				}
				a, err := OpenLock(first)
				require.NoError(t, err)
				defer a.Close()
				b, err := OpenLock(second)
				require.NoError(t, err)
				defer b.Close()

				// heldBy takes the lock through l, having taken it
				// through holder, and reports whether it could; it
				// leaves both released.
				heldBy := func(holder, l *Lock) bool {
					require.True(t, holder.TryLock(), "the lock is free")
					took := l.TryLock()
					holder.Unlock()
					if took {
						l.Unlock()
					}
					return !took
				}
				assert.True(t, heldBy(a, b), "%s and %s are two locks of one file", first, second)
				assert.True(t, heldBy(b, a), "%s and %s are two locks of one file", second, first)
			})
		}
	}
}
