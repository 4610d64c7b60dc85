//go:build !unix

package cputime

import "time"

// Process returns 0: getrusage is not available on this system, so the
// cpu-ns/op metric reads 0.
func Process() time.Duration { return 0 }
