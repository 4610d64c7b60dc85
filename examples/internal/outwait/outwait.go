// Package outwait provides Output, the output of a program that a test
// runs in process, kept whole, on which the test waits for the lines it
// expects: a wait ends when the program writes them, and fails, with what
// the program printed, when the program ends without printing them or
// the test's context ends. It neither polls nor sleeps. It provides
// Deadline too, a context whose deadline passes at a step of the test,
// rather than at a time, and Waits, which makes a program's waits such
// Deadlines in place of context.WithTimeout, and Stderr, which returns what
// a function wrote to os.Stderr, such as a program's usage.
//
//	out := &outwait.Output{}
//	done := out.Go(func(stdout io.Writer) error { return demo.RunCloud(ctx, args, stdout) })
//	m := out.Require(t, `(?m)^\[cloud\] +Platform on .+, serving (\S+)$`)
//	url := m[1]
package outwait

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrEnded is the error of a wait for lines that the output ended
// without (Output.End).
var ErrEnded = errors.New("outwait: the output ended")

// Output is a program's output, an io.Writer that keeps what is written
// to it. Its zero value is an empty output, not ended, without Line. It
// is safe for concurrent use.
type Output struct {
	// Line, if not nil, is called with each line written, without its
	// newline, after the Write of its newline kept it and before that
	// Write returns: a test acts on a line before the program goes on.
	// The calls are one at a time, in the order in which the lines were
	// kept: a Write calls Line once the calls of the Writes kept before
	// it returned. Line is called without any lock of the Output held,
	// and may call its methods but Write: a Write from Line waits for
	// Line to return, and never does. Set Line before the first Write,
	// and do not change it.
	Line func(line string)

	mu      sync.Mutex
	b       bytes.Buffer
	lined   int           // how much of b the lines passed to Line span
	called  chan struct{} // closed once the calls of Line of the last Write that completed a line returned
	ended   bool
	err     error         // the program's, once ended
	written chan struct{} // closed by the next Write or End; nil until a wait needs it
}

// Write keeps p, wakes the waits (Await), and then calls Line with each
// line that p completed. It never fails.
func (o *Output) Write(p []byte) (int, error) {
	lines, before, called := o.keep(p)
	if lines != nil {
		defer close(called)
		if before != nil {
			<-before
		}
		for _, line := range lines {
			o.Line(line)
		}
	}
	return len(p), nil
}

// keep keeps p and wakes the waits. With Line set, it returns the lines
// that p completed, if any, for Line, with the channel closed once the
// calls of Line of the Write before returned, nil if none, and the
// channel to close once those of this one did.
func (o *Output) keep(p []byte) (lines []string, before, called chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.b.Write(p)
	o.wakeLocked()
	if o.Line == nil {
		return nil, nil, nil
	}
	rest := o.b.Bytes()[o.lined:]
	end := bytes.LastIndexByte(rest, '\n')
	if end < 0 {
		return nil, nil, nil
	}
	o.lined += end + 1
	before, o.called = o.called, make(chan struct{})
	return strings.Split(string(rest[:end]), "\n"), before, o.called
}

// String returns all that was written.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// End records that the program writing the output returned err, nil
// for success: a wait for lines that it has not written fails with
// ErrEnded. Writes after it are kept.
func (o *Output) End(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended, o.err = true, err
	o.wakeLocked()
}

// Go runs program in a goroutine with o as its output, which ends (End)
// as program returns, and returns the channel that then receives
// program's error.
func (o *Output) Go(program func(stdout io.Writer) error) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := program(o)
		o.End(err)
		done <- err
	}()
	return done
}

func (o *Output) wakeLocked() {
	if o.written != nil {
		close(o.written)
		o.written = nil
	}
}

// Await waits until the lines written, all the output up to its last
// newline, match re, and returns re's leftmost match in them and its
// submatches (regexp.FindStringSubmatch). It fails with an error that
// wraps ErrEnded when the output ends (End) first, and with one that
// wraps the cause of ctx's end (context.Cause) when ctx ends first; the
// error names re and holds all that was written.
func (o *Output) Await(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	for {
		o.mu.Lock()
		out := o.b.String()
		lines := out[:strings.LastIndexByte(out, '\n')+1]
		if m := re.FindStringSubmatch(lines); m != nil {
			o.mu.Unlock()
			return m, nil
		}
		if o.ended {
			err := o.err
			o.mu.Unlock()
			return nil, fmt.Errorf("%w without a line matching %q (the program returned %v); it printed:\n%s", ErrEnded, re, err, out)
		}
		if o.written == nil {
			o.written = make(chan struct{})
		}
		written := o.written
		o.mu.Unlock()
		select {
		case <-written:
		case <-ctx.Done():
			return nil, fmt.Errorf("outwait: no line matching %q: %w; the program printed:\n%s", re, context.Cause(ctx), o.String())
		}
	}
}

// Require waits, as Await does, for lines matching the regular
// expression pattern, and returns the match and its submatches; it fails
// t at once with Await's error, naming what it waited for and holding
// what was printed, when the output ends first or the test's context
// does (Context). It must be called from the goroutine running the
// test.
func (o *Output) Require(t *testing.T, pattern string) []string {
	t.Helper()
	ctx, cancel := Context(t)
	defer cancel()
	m, err := o.Await(ctx, regexp.MustCompile(pattern))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// deadlineMargin is how long before the test binary's deadline the
// context of Context ends: time for the test to fail, and its cleanups
// to stop the programs it runs, before the binary panics.
const deadlineMargin = 10 * time.Second

// Context returns t's context (t.Context), which ends when the test
// ends, ended also deadlineMargin before the test binary's deadline (go
// test -timeout) if it has one, and the function that releases it. A
// wait under it for a program that never does what the test waits for,
// and never ends, fails with what the program printed, rather than the
// binary panicking without a word of it. Its cause then wraps
// context.DeadlineExceeded.
func Context(t *testing.T) (context.Context, context.CancelFunc) {
	d, ok := t.Deadline()
	if !ok {
		return context.WithCancel(t.Context())
	}
	return context.WithDeadlineCause(t.Context(), d.Add(-deadlineMargin),
		fmt.Errorf("outwait: %v before the test binary's deadline (go test -timeout): %w", deadlineMargin, context.DeadlineExceeded))
}

// Nth returns a function for Output.Line that calls f at the nth line for
// which match reports true, and at no other line: a test acts once a
// program has printed a line so many times. Like Line, the function is
// for one Output, whose calls are one at a time.
func Nth(n int, match func(line string) bool, f func()) func(line string) {
	return func(line string) {
		if match(line) {
			if n--; n == 0 {
				f()
			}
		}
	}
}
