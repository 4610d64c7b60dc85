package demo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenCardInUseLeavesNoFileOpen: an OpenCard refused because the
// card file is held closes the lock file it opened: only the holder's
// stays open, so that a program that tries a held card again and again
// (a phone run in a loop) does not run out of files.
func TestOpenCardInUseLeavesNoFileOpen(t *testing.T) {
	dir := setUpFolder(t)
	card, err := OpenCard(dir, "alice")
	require.NoError(t, err)
	defer card.Close()
	lock := CardPath(dir, "alice") + ".lock"
	open := func() int {
		fds, err := os.ReadDir("/proc/self/fd")
		require.NoError(t, err)
		n := 0
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && target == lock {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, open(), "the holder's")
	for range 3 {
		_, err = OpenCard(dir, "alice")
		require.ErrorIs(t, err, ErrCardInUse)
	}
	assert.Equal(t, 1, open())
}
