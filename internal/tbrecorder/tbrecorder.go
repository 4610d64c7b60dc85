// Package tbrecorder is a test aid for tests of test helpers: a
// testing.TB that records the failures and the skip reported to it
// instead of failing or skipping the test that runs it.
package tbrecorder

import (
	"fmt"
	"runtime"
	"testing"
)

// Recorder is a testing.TB that records the messages of Error and Errorf,
// and of the Fatal, Fatalf, Skip or Skipf that ends the goroutine calling
// it, as they end a test's; its other methods are those of the TB it
// holds. Run gives f one on a goroutine of its own.
type Recorder struct {
	testing.TB
	Errors       []string // Error's and Errorf's, in order
	FatalMessage string   // the Fatal's or Fatalf's that ended the run, "" for none
	SkipMessage  string   // the Skip's or Skipf's that ended the run, "" for none
}

// Run runs f with a Recorder over t on a goroutine of its own, and
// returns the Recorder once f has returned or a Fatal or Skip has ended
// it.
func Run(t testing.TB, f func(tb testing.TB)) *Recorder {
	r := &Recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func (r *Recorder) Error(args ...any) { r.Errors = append(r.Errors, fmt.Sprint(args...)) }

func (r *Recorder) Errorf(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

func (r *Recorder) Fatal(args ...any) {
	r.FatalMessage = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *Recorder) Fatalf(format string, args ...any) {
	r.FatalMessage = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *Recorder) Skip(args ...any) {
	r.SkipMessage = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *Recorder) Skipf(format string, args ...any) {
	r.SkipMessage = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
