package demo

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloudFlagChecks: a -postgres of white space alone, which the parser
// takes for libpq's defaults, and a -listen whose port is empty are usage
// errors that say why.
func TestCloudFlagChecks(t *testing.T) {
	err := CheckDSN(" \t")
	require.ErrorIs(t, err, ErrUsage)
	assert.EqualError(t, err, "demo: invalid usage: -postgres: white space alone names no server")

	err = checkListen("127.0.0.1:")
	require.ErrorIs(t, err, ErrUsage)
	assert.EqualError(t, err, `demo: invalid usage: -listen "127.0.0.1:" is not host:port`)
}

// TestHoldCloudOnce: a second cloud on a data folder that a cloud serves
// fails with ErrCloudRunning, naming the folder; once the first lets it
// go, the folder can be held again.
func TestHoldCloudOnce(t *testing.T) {
	dir := t.TempDir()
	unlock, err := holdCloud(dir)
	require.NoError(t, err)
	_, err = holdCloud(dir)
	require.ErrorIs(t, err, ErrCloudRunning)
	assert.EqualError(t, err, "demo: another cloud serves this data folder: "+dir)
	require.NoError(t, unlock())
	unlock, err = holdCloud(dir)
	require.NoError(t, err)
	require.NoError(t, unlock())
}
