package demo

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/examples/internal/outwait"
)

// TestUsage: -h prints the usage of the cloud, seller and shopper
// programs, with their defaults as their documentation gives them: the
// data folder $TMPDIR/casimpay-demo, the cloud on 127.0.0.1:8080 and no
// load pairs, the phones' -wait of 2 minutes, their -seed 1 and whom
// each taps, and the shopper's PIN 123456.
func TestUsage(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	data := `(default "` + filepath.Join(tmp, "casimpay-demo") + `")`
	assert.Equal(t, `Usage of cloud:
  -data DIR
    	the data folder DIR: demo CA, cards, SQLite database `+data+`
  -listen host:port
    	serve the HTTP API on host:port (default "127.0.0.1:8080")
  -pairs N
    	also enrol the cards of N load generator pairs (examples/loadgen -url), 0 to 1000
  -postgres DSN
    	keep ledger and platform state in PostgreSQL at DSN instead of SQLite
`, outwait.Usage(t, RunCloud))
	// The phones' flags, in the order of the usage: -plain-http, and the
	// shopper's -pin and -puk, between -pick and -seed.
	phone := func(name, pick, pinPUK string) string {
		return `Usage of ` + name + `:
  -data DIR
    	the cloud's data folder DIR (cards, CA, the air) ` + data + `
  -pick NAME
    	the NAME to tap in the service queue (default "` + pick + `")
` + pinPUK + `  -seed N
    	seed N of the simulated radio (default 1)
  -url URL
    	the cloud's base URL (default: the one the cloud wrote into the data folder)
  -wait DURATION
    	wait up to DURATION for the cloud's login, and then for the other phone (to find it, pair with it and buy) (default 2m0s)
`
	}
	plainHTTP := `  -plain-http
    	allow a plain http cloud URL whose host is not loopback, over which the cards' bearer tokens and signed records cross the network in clear
`
	assert.Equal(t, phone("seller", "Alice", plainHTTP), outwait.Usage(t, RunSeller))
	assert.Equal(t, phone("shopper", "Corner Grocer", `  -pin DIGITS
    	the PIN the shopper types, 4 to 12 DIGITS (default "123456")
`+plainHTTP+`  -puk DIGITS
    	the PUK the shopper types when the card's PIN is blocked, 8 DIGITS, which makes -pin the card's PIN
`), outwait.Usage(t, RunShopper))
}
