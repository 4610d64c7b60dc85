// Package cputime measures the CPU time of the running process, for
// benchmarks that report cpu-ns/op next to wall time: on a machine shared
// with other work, wall time per operation grows with the time the benchmark
// waits for a processor; CPU time barely does. The CPU time of another
// process, such as a database server, is not included.
package cputime

import (
	"testing"
	"time"
)

// Report reports the CPU time per operation since start, a value returned
// by Process, as the cpu-ns/op metric of b.
func Report(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(Process()-start)/float64(b.N), "cpu-ns/op")
}
