package sqlitewrite

import (
	"os"
	"path/filepath"
	"syscall"
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

// TestOpenLockNoWorkingDirectory: a relative path that cannot be made
// absolute, the working directory removed, fails OpenLock rather than
// naming a lock that other files would share.
func TestOpenLockNoWorkingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	require.NoError(t, os.Mkdir(dir, 0o700))
	t.Chdir(dir)
	require.NoError(t, os.Remove(dir))
	l, err := OpenLock("w.db")
	assert.Nil(t, l)
	assert.ErrorIs(t, err, syscall.ENOENT)
}

// TestForgottenLockKeepsNewOne: the forgetting of a file's lock that is
// forgotten already (its last holder's Unlock finding it so, once a
// handle opened and closed meanwhile has forgotten it, and another has
// opened the file's new lock) leaves the new lock, which the file's next
// OpenLock shares.
func TestForgottenLockKeepsNewOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	old, err := OpenLock(path)
	require.NoError(t, err)
	forgotten := old.f
	old.Close()
	current, err := OpenLock(path)
	require.NoError(t, err)
	defer current.Close()
	require.NotSame(t, forgotten, current.f)

	locks.mu.Lock()
	forgotten.forgetLocked()
	locks.mu.Unlock()
	next, err := OpenLock(path)
	require.NoError(t, err)
	defer next.Close()
	assert.Same(t, current.f, next.f)
}
