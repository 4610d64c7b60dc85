//go:build unix

package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/tbrecorder"
)

// TestRunAsNobody runs itself as Nobody, which checks, in the child, its
// user, group and groups, and that its working folder, TMPDIR and the
// folder of the binary it runs are one folder of nobody's, that of its
// temporary folders.
func TestRunAsNobody(t *testing.T) {
	if os.Getuid() != Nobody {
		if os.Getuid() != 0 {
			t.Skip("only root runs a process as another user")
		}
		RunAsNobody(t, "TestRunAsNobody")
		return
	}
	assert.Equal(t, Nobody, os.Getgid())
	groups, err := os.Getgroups()
	require.NoError(t, err)
	assert.Empty(t, groups, "no supplementary groups")
	wd, err := os.Getwd()
	require.NoError(t, err)
	assert.Equal(t, wd, os.Getenv("TMPDIR"))
	assert.Equal(t, wd, filepath.Dir(os.Args[0]))
	fi, err := os.Stat(wd)
	require.NoError(t, err)
	assert.Equal(t, uint32(Nobody), fi.Sys().(*syscall.Stat_t).Uid, "the folder is nobody's")
	tmp := t.TempDir()
	assert.True(t, strings.HasPrefix(tmp, wd+string(filepath.Separator)), "t.TempDir() %s in %s", tmp, wd)
}

// TestNobodySkips skips when it runs as Nobody.
func TestNobodySkips(t *testing.T) {
	if os.Getuid() == Nobody {
		t.Skip("as nobody")
	}
}

// TestNobodySkipsASubtest skips a subtest when it runs as Nobody.
func TestNobodySkipsASubtest(t *testing.T) {
	if os.Getuid() == Nobody {
		t.Run("sub", func(t *testing.T) { t.Skip("as nobody") })
	}
}

// TestNobodyFails fails when it runs as Nobody.
func TestNobodyFails(t *testing.T) {
	if os.Getuid() == Nobody {
		t.Error("as nobody")
	}
}

// TestRunAsNobodyFails: RunAsNobody fails t when the test fails as Nobody,
// skips, skips a subtest or does not run.
func TestRunAsNobodyFails(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("only root runs a process as another user")
	}
	for _, tt := range []struct {
		test, fatal, err string // what the Fatal and the Error say
	}{
		{"TestNobodyFails", "TestNobodyFails as user 65534 in ", ""},
		{"TestNobodySkips", "", "TestNobodySkips as user 65534 did not pass, or skipped:"},
		{"TestNobodySkipsASubtest", "", "TestNobodySkipsASubtest as user 65534 did not pass, or skipped:"},
		{"TestNoSuch", "", "TestNoSuch as user 65534 did not pass, or skipped:"},
	} {
		t.Run(tt.test, func(t *testing.T) {
			r := tbrecorder.Run(t, func(tb testing.TB) { RunAsNobody(tb, tt.test) })
			if tt.fatal != "" {
				assert.Contains(t, r.FatalMessage, tt.fatal)
				assert.Empty(t, r.Errors)
				return
			}
			assert.Empty(t, r.FatalMessage)
			require.Len(t, r.Errors, 1)
			assert.Contains(t, r.Errors[0], tt.err)
		})
	}
}
