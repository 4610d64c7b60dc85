package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/examples/internal/demo"
	"github.com/casimpay/casimpay/examples/internal/outwait"
)

// TestCloudListenNotHostPort: a -listen that is no host:port (no port, a
// port out of range or that names no service, not an address at all) is
// a usage error, exit status 2 as for an empty one, refused before the
// data folder is made, where it was the listener's error (exit status 1).
func TestCloudListenNotHostPort(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a cloud that started would stop at once and return nil
	for _, listen := range []string{"nope", "127.0.0.1", "127.0.0.1:", ":", ":99999", "127.0.0.1:-1", "127.0.0.1:no-such-service", "[::1", "1:2:3"} {
		t.Run(listen, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			err := demo.RunCloud(ctx, []string{"-data", dir, "-listen", listen}, &outwait.Output{})
			assert.ErrorIs(t, err, demo.ErrUsage)
			assert.NoDirExists(t, dir, "nothing made in the data folder")
		})
	}
}
