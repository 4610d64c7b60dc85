package demo

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/testenv"
)

// TestPhoneFlagsRefused: a -wait that is not positive, and a shopper's
// -puk that no card takes, are usage errors (exit status 2); a data
// folder whose URL file is empty, without -url, fails with
// ErrEmptyURLFile naming the file. Each is reported before the phone
// starts.
func TestPhoneFlagsRefused(t *testing.T) {
	dir := t.TempDir()
	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, URLFile), []byte(" \n"), 0o600))
	for _, tt := range []struct {
		program string
		args    []string
		want    error
		text    string
	}{
		{"seller", []string{"-data", dir, "-url", "http://127.0.0.1:1", "-wait", "0s"}, ErrUsage, "demo: invalid usage: -wait must be positive"},
		{"shopper", []string{"-data", dir, "-url", "http://127.0.0.1:1", "-wait", "-1s"}, ErrUsage, "demo: invalid usage: -wait must be positive"},
		{"shopper", []string{"-data", dir, "-url", "http://127.0.0.1:1", "-puk", "1234567"}, ErrUsage, "demo: invalid usage: -puk must have 8 digits"},
		{"seller", []string{"-data", empty}, ErrEmptyURLFile, "demo: the cloud URL file is empty: " + filepath.Join(empty, URLFile)},
	} {
		t.Run(tt.program+" "+tt.args[len(tt.args)-2], func(t *testing.T) {
			run := map[string]func(context.Context, []string, io.Writer) error{"seller": RunSeller, "shopper": RunShopper}[tt.program]
			var out bytes.Buffer
			err := run(context.Background(), tt.args, &out)
			require.ErrorIs(t, err, tt.want)
			assert.EqualError(t, err, tt.text)
			assert.Empty(t, out.String(), "refused before the phone starts")
		})
	}
}

// TestPhoneLoginInterrupted: a phone program whose context ends before
// -wait, while the cloud does not answer its login, fails with the end of
// that context, not with ErrNoAnswer, which says that -wait passed.
func TestPhoneLoginInterrupted(t *testing.T) {
	dir := setUpFolder(t)
	url := "http://" + testenv.SilentServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	err := RunSeller(ctx, []string{"-data", dir, "-url", url, "-wait", "1m"}, &out)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrNoAnswer)
}
