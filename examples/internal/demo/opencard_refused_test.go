package demo

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/simcard/applet"
)

// TestOpenCardNeverPersonalised: a card file of a blank card (one that
// no cloud personalised) is refused, and the card file is free again for
// the next program that holds it.
func TestOpenCardNeverPersonalised(t *testing.T) {
	dir := setUpFolder(t)
	path := CardPath(dir, "blank")
	_, err := applet.New(&applet.File{Path: path}, applet.Options{})
	require.NoError(t, err)

	_, err = OpenCard(dir, "blank")
	assert.EqualError(t, err, "demo: card blank was never personalised")
	unlock, err := LockCard(path)
	require.NoError(t, err, "released")
	require.NoError(t, unlock())
}

// TestOpenCardStateNotStored: a card whose state cannot be stored back
// (here the second name that the state file's store keeps the previous
// state under is a folder holding a file) is refused when it is opened,
// naming the card file, and the card file is released: once the
// obstacle is gone, it opens.
func TestOpenCardStateNotStored(t *testing.T) {
	dir := setUpFolder(t)
	path := CardPath(dir, "alice")
	prev := filepath.Join(filepath.Dir(path), ".alice.card.prev")
	require.NoError(t, os.MkdirAll(filepath.Join(prev, "x"), 0o700))

	_, err := OpenCard(dir, "alice")
	require.Error(t, err)
	assert.Regexp(t, "^demo: card alice: "+regexp.QuoteMeta(path)+" cannot be written: applet: store state: keep the previous state: remove "+regexp.QuoteMeta(prev)+": ", err.Error())

	require.NoError(t, os.RemoveAll(prev))
	card, err := OpenCard(dir, "alice")
	require.NoError(t, err, "released, and opens")
	require.NoError(t, card.Close())
}

// TestMemoryCardClose: closing a card that lives in memory does
// nothing and returns nil, again too.
func TestMemoryCardClose(t *testing.T) {
	card, err := NewMemoryCard(context.Background(), openCloud(t, t.TempDir()), "alice", "Alice")
	require.NoError(t, err)
	assert.NoError(t, card.Close())
	assert.NoError(t, card.Close())
}

// TestFundingID: the first funding of a wallet is derived from the card
// and the currency alone, each length-prefixed, so that a data folder set
// up again, by this version or an earlier one, funds each wallet once,
// and two wallets whose card and currency join to the same text are
// funded each.
func TestFundingID(t *testing.T) {
	id := fundingID("8988211000000000001", "EUR")
	assert.Equal(t, id, fundingID("8988211000000000001", "EUR"))
	assert.Equal(t, "7fa2e7cf1a7a667a8ad1a2b136663fb2", hex.EncodeToString(id[:]), "the derivation of earlier versions")
	assert.NotEqual(t, fundingID("ab", "c"), fundingID("a", "bc"))
}
