package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptionDefaults: zero or negative Steps and Shoppers take the
// defaults, 40 and 4, and a run of the zero Steps takes 40 steps.
func TestOptionDefaults(t *testing.T) {
	for _, n := range []int{0, -1} {
		w := newWorld(context.Background(), Options{Steps: n, Shoppers: n})
		assert.Equal(t, 40, w.opts.Steps, "Steps %d", n)
		assert.Equal(t, 4, w.opts.Shoppers, "Shoppers %d", n)
	}
	st, err := Run(context.Background(), Options{Seed: 3, Disable: Faults()})
	require.NoError(t, err)
	assert.Equal(t, 40, st.Steps)
}

// TestLogfGetsEveryTraceLine: Logf receives every line of the trace,
// several a step, each prefixed by the step and the virtual time.
func TestLogfGetsEveryTraceLine(t *testing.T) {
	var lines []string
	logf := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	st, err := Run(context.Background(), Options{Seed: 3, Steps: 10, Disable: Faults(), Logf: logf})
	require.NoError(t, err)
	assert.Greater(t, len(lines), st.Steps)
	prefix := regexp.MustCompile(`^step [0-9]+ [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}: `)
	for _, l := range lines {
		assert.Regexp(t, prefix, l)
	}
}

// TestSetUpStoreFailureHasNoStats: a store that cannot be opened (its
// file, sim-SEED.db in Options.Dir, under a file) ends the run with the
// store's own error, not a *Failure, and no Stats.
func TestSetUpStoreFailureHasNoStats(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	st, err := Run(context.Background(), Options{Seed: 3, Dir: file})
	require.EqualError(t, err, "sqlite: open "+filepath.Join(file, "sim-3.db")+": unable to open database file (14)")
	var f *Failure
	assert.False(t, errors.As(err, &f), "%v", err)
	assert.Nil(t, st)
}

// TestDSNWinsOverDir: with both Options.DSN and Options.Dir set, the run
// opens the PostgreSQL database and ignores Dir: a DSN that does not parse
// ends the set-up with the PostgreSQL store's error, no SQLite file made.
func TestDSNWinsOverDir(t *testing.T) {
	dir := t.TempDir()
	st, err := Run(context.Background(), Options{Seed: 3, Dir: dir, DSN: "postgres://%zz"})
	require.EqualError(t, err, "postgres: parse dsn: cannot parse `postgres://%zz`: failed to parse as URL (invalid percent-encoded token: \"%zz\")")
	assert.Nil(t, st)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}
