//go:build !unix

package queue

import (
	"testing"
	"time"
)

func cpuTime() time.Duration { return 0 }

// reportCPU reports nothing where getrusage is not available.
func reportCPU(*testing.B, time.Duration) {}
