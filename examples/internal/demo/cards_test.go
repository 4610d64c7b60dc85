package demo

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
