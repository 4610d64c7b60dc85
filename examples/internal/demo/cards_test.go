package demo

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/tempfile"
)

// cardDirEnv names the data folder whose card alice TestOpenCardProcess
// opens, in the process that TestOpenCardInUse starts.
const cardDirEnv = "CASIMPAY_DEMO_CARD_DIR"

// TestOpenCardInUse: a card file open in this process, or in another
// (where flock(2) is, lockAcrossProcesses), is refused at once, naming the
// file, until it is closed.
func TestOpenCardInUse(t *testing.T) {
	dir := setUpFolder(t)
	card, err := OpenCard(dir, "alice")
	require.NoError(t, err)

	_, err = OpenCard(dir, "alice")
	require.ErrorIs(t, err, ErrCardInUse)
	assert.Contains(t, err.Error(), CardPath(dir, "alice"))

	if lockAcrossProcesses {
		cmd := exec.Command(os.Args[0], "-test.run=^TestOpenCardProcess$", "-test.v")
		cmd.Env = append(os.Environ(), cardDirEnv+"="+dir)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "--- PASS: TestOpenCardProcess", "the other process refused the card")
	}

	require.NoError(t, card.Close())
	again, err := OpenCard(dir, "alice")
	require.NoError(t, err, "free once closed")
	assert.Equal(t, card.ICCID, again.ICCID)
	require.NoError(t, again.Close())
	require.NoError(t, again.Close(), "closing twice")
}

// TestOpenCardProcess is the other process of TestOpenCardInUse.
func TestOpenCardProcess(t *testing.T) {
	dir := os.Getenv(cardDirEnv)
	if dir == "" {
		t.Skip("run by TestOpenCardInUse in another process, with " + cardDirEnv + " set")
	}
	_, err := OpenCard(dir, "alice")
	require.ErrorIs(t, err, ErrCardInUse)
	assert.Contains(t, err.Error(), CardPath(dir, "alice"))
}

// TestRemoveLeftovers: under a setup lock that reaches other processes,
// every folder that a killed setup left (.pki.new…, cards/.NAME.new…) is
// removed, whatever its age; under one that does not, where another
// process's setup may be making them at this moment, only those last
// modified more than tempfile.Stale ago are, and younger ones stay. An
// ICCID temporary file (cards/.NAME.iccid.tmp…) is removed only once
// stale under either lock: a program that does not take the lock writes
// ones of the same name for a state file cards/NAME.iccid (vcard -state),
// whose Store would fail if it were removed.
func TestRemoveLeftovers(t *testing.T) {
	now := time.Now()
	old, young := now.Add(-tempfile.Stale-time.Minute), now.Add(-time.Minute)
	for _, acrossProcesses := range []bool{true, false} {
		t.Run(fmt.Sprint("acrossProcesses=", acrossProcesses), func(t *testing.T) {
			dir := t.TempDir()
			cards := filepath.Dir(CardPath(dir, ""))
			require.NoError(t, os.Mkdir(cards, 0o700))
			leftovers := map[string]time.Time{
				filepath.Join(dir, ".pki.new1"):           old,
				filepath.Join(dir, ".pki.new2"):           young,
				filepath.Join(cards, ".alice.new1"):       old,
				filepath.Join(cards, ".bob.new2"):         young,
				filepath.Join(cards, ".alice.iccid.tmp1"): old,
				filepath.Join(cards, ".bob.iccid.tmp2"):   young,
			}
			for p, mtime := range leftovers {
				if strings.Contains(p, ".new") {
					require.NoError(t, os.Mkdir(p, 0o700))
					require.NoError(t, os.WriteFile(filepath.Join(p, "x"), []byte("x"), 0o600))
				} else {
					require.NoError(t, os.WriteFile(p, []byte("1\n"), 0o600))
				}
				require.NoError(t, os.Chtimes(p, mtime, mtime))
			}
			removeLeftovers(dir, acrossProcesses, now)
			for p, mtime := range leftovers {
				_, err := os.Lstat(p)
				if acrossProcesses && strings.Contains(p, ".new") || mtime.Equal(old) {
					assert.ErrorIs(t, err, fs.ErrNotExist, "%s removed", p)
				} else {
					assert.NoError(t, err, "%s kept", p)
				}
			}
		})
	}
}
