package demo

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
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
// every folder that a killed setup left (.pki.newDIGITS holding the
// setup's mark and the CA's files, cards/.NAME.newDIGITS holding the mark
// and NAME.card, or their temporary files) is removed, whatever its age;
// under one that does not, where another process's setup may be making
// them at this moment, only those last modified more than tempfile.Stale
// ago are, and younger ones stay. An ICCID temporary file
// (cards/.NAME.iccid.tmpDIGITS), a regular file, is removed only once
// stale under either lock: a program that does not take the lock writes
// ones of the same name for a state file cards/NAME.iccid (vcard -state),
// whose Store would fail if it were removed; a folder of that name stays.
// A folder of a setup's name that holds anything else (another program's
// state file, a lock file, a folder), one without the setup's mark (a
// user's folder holding only NAME.card, an empty one) and a name of
// another pattern are no setup's and stay, however old.
func TestRemoveLeftovers(t *testing.T) {
	now := time.Now()
	old, young := now.Add(-tempfile.Stale-time.Minute), now.Add(-time.Minute)
	for _, acrossProcesses := range []bool{true, false} {
		t.Run(fmt.Sprint("acrossProcesses=", acrossProcesses), func(t *testing.T) {
			dir := t.TempDir()
			cards := filepath.Dir(CardPath(dir, ""))
			require.NoError(t, os.Mkdir(cards, 0o700))
			entries := []struct {
				path  string
				files []string // nil: path is a file
				mtime time.Time
				setup bool // what a setup makes
			}{
				{filepath.Join(dir, ".pki.new1"), []string{setupMark, rootKey, rootCert, "." + issuerKey + ".tmp12"}, old, true},
				{filepath.Join(dir, ".pki.new2"), []string{setupMark, rootKey}, young, true},
				{filepath.Join(dir, ".pki.new3"), []string{setupMark}, old, true},
				{filepath.Join(cards, ".alice.new1"), []string{setupMark, "alice.card"}, old, true},
				{filepath.Join(cards, ".bob.new2"), []string{setupMark, ".bob.card.tmp34"}, young, true},
				{filepath.Join(cards, ".alice.iccid.tmp1"), nil, old, true},
				{filepath.Join(cards, ".bob.iccid.tmp2"), nil, young, true},
				// vcard -state cards/.x.new1/card.state, and the like.
				{filepath.Join(cards, ".x.new1"), []string{"card.state", "card.state.lock", "card.state.root.pem"}, old, false},
				{filepath.Join(cards, ".x.new2"), []string{"x.card", "x.card.lock"}, old, false},
				{filepath.Join(cards, ".x.new3"), []string{"x.card", "sub/x.card"}, old, false},
				{filepath.Join(cards, ".x.new4"), []string{".x.card.tmp"}, old, false},
				{filepath.Join(cards, ".x.new5"), []string{"alice.card"}, old, false},
				{filepath.Join(cards, ".x.newest"), []string{"x.card"}, old, false},
				// The shape of a setup's folder without its mark: a
				// user's folder (vcard -state cards/.carol.new7/carol.card),
				// or one that a setup killed before it wrote the mark
				// left empty.
				{filepath.Join(cards, ".carol.new7"), []string{"carol.card", ".carol.card.tmp56"}, old, false},
				{filepath.Join(cards, ".carol.new8"), []string{"carol.card"}, old, false},
				{filepath.Join(cards, ".carol.new9"), []string{}, old, false},
				{filepath.Join(dir, ".pki.new5"), []string{rootKey, rootCert, issuerKey, issuerCert, platformKey, platformCert}, old, false},
				{filepath.Join(dir, ".pki.new6"), []string{}, old, false},
				// Marked, but holding what no setup writes there.
				{filepath.Join(cards, ".x.new6"), []string{setupMark, "x.card", "x.card.lock"}, old, false},
				{filepath.Join(cards, ".x.new7"), []string{setupMark, "alice.card"}, old, false},
				{filepath.Join(dir, ".pki.new7"), []string{setupMark, rootKey, "card.state"}, old, false},
				// The mark a folder rather than a file.
				{filepath.Join(cards, ".carol.new10"), []string{setupMark + "/x", "carol.card"}, old, false},
				{filepath.Join(dir, ".pki.new4"), []string{"card.state"}, old, false},
				{filepath.Join(dir, ".pki.newer"), []string{rootKey}, old, false},
				{filepath.Join(cards, ".alice.iccid.tmp"), nil, old, false},
				{filepath.Join(cards, ".alice.iccid.tmpx"), nil, old, false},
				// A folder of an ICCID temporary file's name.
				{filepath.Join(cards, ".bob.iccid.tmp3"), []string{"x"}, old, false},
			}
			for _, e := range entries {
				if e.files == nil {
					require.NoError(t, os.WriteFile(e.path, []byte("1\n"), 0o600))
				} else {
					require.NoError(t, os.Mkdir(e.path, 0o700))
					for _, f := range e.files {
						require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(e.path, f)), 0o700))
						require.NoError(t, os.WriteFile(filepath.Join(e.path, f), []byte("x"), 0o600))
					}
				}
				require.NoError(t, os.Chtimes(e.path, e.mtime, e.mtime))
			}
			removeLeftovers(dir, acrossProcesses, now)
			for _, e := range entries {
				_, err := os.Lstat(e.path)
				if e.setup && (acrossProcesses && e.files != nil || e.mtime.Equal(old)) {
					assert.ErrorIs(t, err, fs.ErrNotExist, "%s removed", e.path)
				} else {
					assert.NoError(t, err, "%s kept", e.path)
				}
			}
		})
	}
}

// TestEnsureCardSyncsFolder: a new card's file is renamed into the cards
// folder, after its ICCID's file, and the folder synced before ensureCard
// returns, so that a crash after it does not lose the card; a failed sync
// is reported, with the card in place, which the next call finds.
func TestEnsureCardSyncsFolder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openCloud(t, dir)
	cards := filepath.Dir(CardPath(dir, ""))
	name, fail := "alice", false
	var synced []string // what each sync of the cards folder found there
	watchSyncs(t, func(d string) error {
		if d != cards {
			return nil
		}
		_, errID := os.Stat(filepath.Join(cards, name+".iccid"))
		_, errCard := os.Stat(CardPath(dir, name))
		synced = append(synced, fmt.Sprintf("iccid %t, card %t", errID == nil, errCard == nil))
		if fail && errCard == nil {
			return errSync
		}
		return nil
	})
	id, err := ensureCard(ctx, c, dir, name, "Alice")
	require.NoError(t, err)
	assert.Equal(t, []string{"iccid true, card false", "iccid true, card true"}, synced)

	name, fail = "bob", true
	_, err = ensureCard(ctx, c, dir, name, "Bob")
	require.ErrorIs(t, err, errSync)
	fail = false
	again, err := ensureCard(ctx, c, dir, name, "Bob")
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(cards, name+".iccid"))
	require.NoError(t, err)
	assert.Equal(t, string(b), again+"\n")
	assert.NotEqual(t, id, again)
}
