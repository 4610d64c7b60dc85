package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/payflow"
)

// TestLoadgenPlainHTTP: a plain http -url whose host is not loopback is a
// usage error (exit status 2) that wraps the client's refusal and names
// -plain-http; with -plain-http it is taken, the run going on to the data
// folder (here one that no cloud set up); -plain-http without -url is a
// usage error.
func TestLoadgenPlainHTTP(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-pairs", "1", "-duration", "1s", "-data", t.TempDir(), "-url", "http://192.0.2.1:8080"}, &out)
	require.ErrorIs(t, err, demo.ErrUsage)
	assert.ErrorIs(t, err, payflow.ErrInvalid)
	assert.True(t, strings.HasSuffix(err.Error(), " (-plain-http allows it)"), err.Error())
	assert.Empty(t, out.String())

	err = run(context.Background(), []string{"-pairs", "1", "-duration", "1s", "-data", t.TempDir(), "-url", "http://192.0.2.1:8080", "-plain-http"}, &out)
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.NotErrorIs(t, err, demo.ErrUsage)
	assert.Contains(t, err.Error(), "(start the cloud with this data folder first)")
	assert.Empty(t, out.String())

	for _, args := range [][]string{{"-plain-http"}, {"-plain-http", "-http"}} {
		err = run(context.Background(), args, &out)
		require.ErrorIs(t, err, demo.ErrUsage, "%q", args)
		assert.EqualError(t, err, demo.ErrUsage.Error()+": -plain-http is for -url", "%q", args)
		assert.Empty(t, out.String())
	}
}
