package tempfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/tempfile"
)

// TestCreate: each temporary file of a name is a new file of its own in
// the name's folder, named after it, with mode 0600.
func TestCreate(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "card.state")
	a, err := tempfile.Create(name)
	require.NoError(t, err)
	defer a.Close()
	b, err := tempfile.Create(name)
	require.NoError(t, err)
	defer b.Close()
	assert.NotEqual(t, a.Name(), b.Name())
	for _, f := range []*os.File{a, b} {
		assert.Equal(t, dir, filepath.Dir(f.Name()))
		assert.True(t, strings.HasPrefix(filepath.Base(f.Name()), ".card.state.tmp"), f.Name())
		fi, err := f.Stat()
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
	_, err = tempfile.Create(filepath.Join(dir, "no", "such", "dir", "f"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestRemoveStale: a temporary file of the name last modified before the
// cutoff is removed; a younger one, other names' temporary files, the name
// itself, a bare ".NAME.tmp", a file whose name only begins with
// ".NAME.tmp" (digits or not after it) and a folder of the pattern stay.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "cloud.url")
	created, err := tempfile.Create(name)
	require.NoError(t, err)
	require.NoError(t, created.Close())
	stale := []string{created.Name(), filepath.Join(dir, ".cloud.url.tmp123")}
	young := filepath.Join(dir, ".cloud.url.tmp456")
	kept := []string{
		young,
		name,
		filepath.Join(dir, ".alice.adv.tmp789"),
		filepath.Join(dir, ".cloud.url.tmp"),
		filepath.Join(dir, "cloud.url.tmp1"),
		filepath.Join(dir, ".cloud.url.tmp.prev"),
		filepath.Join(dir, ".cloud.url.tmp12x"),
		filepath.Join(dir, ".cloud.url.tmp-1"),
	}
	for _, f := range append(stale[1:], kept...) {
		require.NoError(t, os.WriteFile(f, []byte("part"), 0o600))
	}
	staleDir := filepath.Join(dir, ".cloud.url.tmp999")
	require.NoError(t, os.Mkdir(staleDir, 0o700))
	kept = append(kept, staleDir)
	cutoff := time.Now().Add(-tempfile.Stale)
	old := cutoff.Add(-time.Minute)
	for _, f := range append(kept[1:], stale...) {
		require.NoError(t, os.Chtimes(f, old, old))
	}
	require.NoError(t, os.Chtimes(young, cutoff.Add(time.Minute), cutoff.Add(time.Minute)))

	tempfile.RemoveStale(name, cutoff)
	for _, f := range stale {
		assert.NoFileExists(t, f)
	}
	for _, f := range kept {
		_, err := os.Lstat(f)
		assert.NoError(t, err, f)
	}
	tempfile.RemoveStale(filepath.Join(dir, "no", "such", "dir", "f"), cutoff) // nothing to read: nothing done
}
