package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/examples/internal/outwait"
)

// TestLoadgenUsage: -h prints the usage, on stderr, with the defaults that
// the documentation gives: 8 pairs for 10 seconds, a progress line every
// second, and with -url the data folder $TMPDIR/casimpay-demo.
func TestLoadgenUsage(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	assert.Equal(t, `Usage of loadgen:
  -data DIR
    	the data folder DIR (default: a temporary one in process, `+filepath.Join(tmp, "casimpay-demo")+` with -url)
  -duration D
    	run for D, more than 0 (default 10s)
  -http
    	in process: go through the HTTP API on a loopback port
  -pairs N
    	N concurrent shopper–seller pairs, 1 to 1000 (default 8)
  -plain-http
    	with -url: allow a plain http cloud URL whose host is not loopback, over which the cards' bearer tokens and signed records cross the network in clear
  -postgres DSN
    	in process: PostgreSQL DSN
  -progress D
    	print a progress line every D, at least 100ms (default 1s)
  -url URL
    	drive the cloud program at URL (not with -postgres or -http)
`, outwait.Usage(t, run))
}
