package outwait_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/outwait"
)

var servingRE = regexp.MustCompile(`(?m)^serving (\S+)$`)

// awaited is the outcome of an Await.
type awaited struct {
	m   []string
	err error
}

// awaitInBubble starts an Await of servingRE in a goroutine of the
// synctest bubble and returns once it blocks (synctest.Wait), with the
// channel of its outcome.
func awaitInBubble(ctx context.Context, out *outwait.Output) <-chan awaited {
	done := make(chan awaited, 1)
	go func() {
		m, err := out.Await(ctx, servingRE)
		done <- awaited{m, err}
	}()
	synctest.Wait()
	return done
}

// requireBlocked fails t unless the Await of done has not ended.
func requireBlocked(t *testing.T, done <-chan awaited) {
	t.Helper()
	synctest.Wait()
	select {
	case a := <-done:
		require.FailNow(t, "the wait ended", "%q %v", a.m, a.err)
	default:
	}
}

// TestAwaitWritten: lines written before the wait match at once, and
// the wait returns the leftmost match with its submatches.
func TestAwaitWritten(t *testing.T) {
	out := &outwait.Output{}
	fmt.Fprint(out, "starting\nserving 127.0.0.1:1\nserving 127.0.0.1:2\n")
	m, err := out.Await(t.Context(), servingRE)
	require.NoError(t, err)
	assert.Equal(t, []string{"serving 127.0.0.1:1", "127.0.0.1:1"}, m)
	assert.Equal(t, "starting\nserving 127.0.0.1:1\nserving 127.0.0.1:2\n", out.String())
}

// TestAwaitWakes: a wait blocks through the writes that do not complete
// a matching line, a line without its newline included, and ends at the
// write of the newline.
func TestAwaitWakes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &outwait.Output{}
		done := awaitInBubble(t.Context(), out)
		requireBlocked(t, done)
		fmt.Fprintln(out, "starting")
		requireBlocked(t, done)
		fmt.Fprint(out, "serving 127.0.0.1:80")
		requireBlocked(t, done)
		fmt.Fprint(out, "80\n")
		a := <-done
		require.NoError(t, a.err)
		assert.Equal(t, []string{"serving 127.0.0.1:8080", "127.0.0.1:8080"}, a.m)
	})
}

// TestAwaitEnded: an output that ends without the line ends the waits
// blocked on it, and fails those after, with ErrEnded, the program's
// error, the pattern and all that was printed, a partial last line
// included.
func TestAwaitEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &outwait.Output{}
		done := awaitInBubble(t.Context(), out)
		fmt.Fprint(out, "starting\nserving")
		out.End(errors.New("listen: address in use"))
		const want = "outwait: the output ended without a line matching \"(?m)^serving (\\\\S+)$\" (the program returned listen: address in use); it printed:\nstarting\nserving"
		a := <-done
		assert.Nil(t, a.m)
		assert.ErrorIs(t, a.err, outwait.ErrEnded)
		assert.EqualError(t, a.err, want)
		m, err := out.Await(t.Context(), servingRE)
		assert.Nil(t, m)
		assert.ErrorIs(t, err, outwait.ErrEnded)
		assert.EqualError(t, err, want)
	})
}

// TestAwaitEndedAfterLine: a line written before the output ended still
// matches.
func TestAwaitEndedAfterLine(t *testing.T) {
	out := &outwait.Output{}
	fmt.Fprintln(out, "serving 127.0.0.1:1")
	out.End(nil)
	m, err := out.Await(t.Context(), servingRE)
	require.NoError(t, err)
	assert.Equal(t, []string{"serving 127.0.0.1:1", "127.0.0.1:1"}, m)
}

// TestAwaitContextEnds: a wait whose context ends first fails with the
// cause of its end, the pattern and all that was printed.
func TestAwaitContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errStop := errors.New("stop")
		ctx, cancel := context.WithCancelCause(t.Context())
		out := &outwait.Output{}
		done := awaitInBubble(ctx, out)
		fmt.Fprintln(out, "starting")
		requireBlocked(t, done)
		cancel(errStop)
		a := <-done
		assert.Nil(t, a.m)
		assert.ErrorIs(t, a.err, errStop)
		assert.NotErrorIs(t, a.err, outwait.ErrEnded)
		assert.EqualError(t, a.err, "outwait: no line matching \"(?m)^serving (\\\\S+)$\": stop; the program printed:\nstarting\n")
	})
}

// TestRequire: Require returns the match of its pattern once the line is
// written.
func TestRequire(t *testing.T) {
	out := &outwait.Output{}
	go fmt.Fprintln(out, "serving 127.0.0.1:1")
	assert.Equal(t, []string{"serving 127.0.0.1:1", "127.0.0.1:1"}, out.Require(t, servingRE.String()))
}

// TestLine: Line is called with each line as the Write of its newline
// keeps it, without the newline, a line written in several Writes once,
// the lines of one Write in order, an empty line too, and a last line
// without its newline not at all; a call sees the output up to its line
// and may call String, Await and End.
func TestLine(t *testing.T) {
	var calls []string
	out := &outwait.Output{}
	out.Line = func(line string) {
		m, err := out.Await(t.Context(), regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(line)+`$`))
		require.NoError(t, err)
		calls = append(calls, fmt.Sprintf("%q after %q", m[0], out.String()))
		if line == "end" {
			out.End(nil)
		}
	}
	write := func(p string, want ...string) {
		t.Helper()
		calls = nil
		n, err := out.Write([]byte(p))
		require.NoError(t, err)
		assert.Equal(t, len(p), n)
		assert.Equal(t, want, calls, "the calls of Write(%q)", p)
	}
	write("star")
	write("ting")
	write("\n", `"starting" after "starting\n"`)
	write("serving 127.0.0.1:1\n\nready\nsel", `"serving 127.0.0.1:1" after "starting\nserving 127.0.0.1:1\n\nready\nsel"`,
		`"" after "starting\nserving 127.0.0.1:1\n\nready\nsel"`, `"ready" after "starting\nserving 127.0.0.1:1\n\nready\nsel"`)
	write("ling\nend\nlast", `"selling" after "starting\nserving 127.0.0.1:1\n\nready\nselling\nend\nlast"`,
		`"end" after "starting\nserving 127.0.0.1:1\n\nready\nselling\nend\nlast"`)
	m, err := out.Await(t.Context(), regexp.MustCompile(`(?m)^last$`))
	assert.Nil(t, m)
	assert.ErrorIs(t, err, outwait.ErrEnded, "Line ended the output")
	assert.Equal(t, "starting\nserving 127.0.0.1:1\n\nready\nselling\nend\nlast", out.String())
}

// TestLineInOrder: a Write waits for the call of Line before its own to
// return, and its lines are passed after that line, while String and
// Await, from Line and elsewhere, go on.
func TestLineInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls []string
		release := make(chan struct{})
		out := &outwait.Output{}
		out.Line = func(line string) {
			calls = append(calls, line)
			if line == "starting" {
				<-release
			}
		}
		first := make(chan struct{})
		go func() {
			fmt.Fprintln(out, "starting")
			close(first)
		}()
		synctest.Wait()
		second := make(chan struct{})
		go func() {
			fmt.Fprint(out, "serving 127.0.0.1:1\nready\n")
			close(second)
		}()
		synctest.Wait()
		assert.Equal(t, []string{"starting"}, calls, "the second Write waits")
		for name, c := range map[string]chan struct{}{"first": first, "second": second} {
			select {
			case <-c:
				assert.Fail(t, "the "+name+" Write returned before the call of Line of the first did")
			default:
			}
		}
		m, err := out.Await(t.Context(), servingRE)
		require.NoError(t, err, "the lines of a Write waiting for Line are kept")
		assert.Equal(t, []string{"serving 127.0.0.1:1", "127.0.0.1:1"}, m)
		close(release)
		<-first
		<-second
		assert.Equal(t, []string{"starting", "serving 127.0.0.1:1", "ready"}, calls)
	})
}

// TestContext: the context of Context ends deadlineMargin (10 s) before
// the test binary's deadline, when it has one.
func TestContext(t *testing.T) {
	ctx, cancel := outwait.Context(t)
	defer cancel()
	d, ok := t.Deadline()
	got, gotOK := ctx.Deadline()
	require.Equal(t, ok, gotOK)
	if ok {
		assert.Equal(t, d.Add(-10*time.Second), got)
	}
	require.NoError(t, ctx.Err())
}

func ExampleOutput_Await() {
	out := &outwait.Output{}
	go func() {
		fmt.Fprintln(out, "serving 127.0.0.1:8080")
		out.End(nil)
	}()
	m, err := out.Await(context.Background(), regexp.MustCompile(`(?m)^serving (\S+)$`))
	fmt.Println(m[1], err)
	// Output: 127.0.0.1:8080 <nil>
}

// TestDeadlinePass: a Deadline and the contexts derived from it end as
// for a deadline that passed, before Pass returns; a second Pass changes
// nothing.
func TestDeadlinePass(t *testing.T) {
	d := outwait.NewDeadline(context.Background())
	child, cancel := context.WithTimeout(d, time.Hour)
	defer cancel()
	require.NoError(t, d.Err())
	require.NoError(t, child.Err())
	d.Pass()
	assert.ErrorIs(t, d.Err(), context.DeadlineExceeded)
	assert.ErrorIs(t, child.Err(), context.DeadlineExceeded, "ended by Pass")
	assert.ErrorIs(t, context.Cause(child), context.DeadlineExceeded)
	select {
	case <-child.Done():
	default:
		t.Fatal("the child's Done is open once Pass returned")
	}
	d.Pass()
	assert.ErrorIs(t, d.Err(), context.DeadlineExceeded)
}

// TestDeadlineParent: a Deadline passes as the context it was made from
// ends, and a context derived from it once it passed ends too.
func TestDeadlineParent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(t.Context())
		d := outwait.NewDeadline(parent)
		cancel()
		synctest.Wait()
		assert.ErrorIs(t, d.Err(), context.DeadlineExceeded)
		child, cancelChild := context.WithCancel(d)
		defer cancelChild()
		synctest.Wait()
		assert.ErrorIs(t, child.Err(), context.DeadlineExceeded)
	})
}

// TestDeadlineStop: a function stopped before the Deadline passes is not
// called by Pass, nor is a context derived from it and cancelled before
// then ended again (its error stays context.Canceled); one given once it
// passed is called, and cannot be stopped.
func TestDeadlineStop(t *testing.T) {
	d := outwait.NewDeadline(context.Background())
	child, cancel := context.WithCancel(d)
	cancel()
	var calls atomic.Int32
	stop := d.AfterFunc(func() { calls.Add(1) })
	assert.True(t, stop())
	assert.False(t, stop(), "stopped once")
	d.Pass()
	assert.Zero(t, calls.Load())
	assert.ErrorIs(t, child.Err(), context.Canceled)
	called := make(chan struct{})
	stop = d.AfterFunc(func() { close(called) })
	<-called
	assert.False(t, stop())
}

// TestNth: Nth's function calls f at the nth matching line only.
func TestNth(t *testing.T) {
	calls := 0
	out := &outwait.Output{Line: outwait.Nth(2, func(line string) bool { return strings.HasPrefix(line, "tick") }, func() { calls++ })}
	for i, line := range []string{"tock", "tick 1", "tock", "", "tick 2", "tick 3", "tick 4"} {
		_, err := out.Write([]byte(line + "\n"))
		require.NoError(t, err)
		want := 0
		if i >= 4 {
			want = 1
		}
		assert.Equal(t, want, calls, "after %q", line)
	}
}

// TestWaits: Waits makes each wait a Deadline that passes as the test
// passes it, by its index, and no other: Made learns of each wait, its
// index and duration, as it is made, and may pass it at once; a Pass of
// an index not made changes nothing; a wait passes too as the context it
// was made from ends, or as its cancel function is called.
func TestWaits(t *testing.T) {
	type made struct {
		i    int
		wait time.Duration
	}
	var got []made
	w := &outwait.Waits{}
	w.Made = func(i int, wait time.Duration) {
		got = append(got, made{i, wait})
		if i == 2 {
			assert.True(t, w.Pass(i), "passed as it is made")
		}
	}
	parent, cancelParent := context.WithCancel(context.Background())
	first, cancelFirst := w.WithTimeout(context.Background(), time.Hour)
	second, _ := w.WithTimeout(context.Background(), time.Minute)
	third, _ := w.WithTimeout(context.Background(), time.Second)
	fourth, _ := w.WithTimeout(parent, time.Millisecond)
	assert.Equal(t, []made{{0, time.Hour}, {1, time.Minute}, {2, time.Second}, {3, time.Millisecond}}, got)
	assert.Equal(t, 4, w.Len())
	_, hasDeadline := first.Deadline()
	assert.False(t, hasDeadline, "no deadline of time")
	assert.ErrorIs(t, third.Err(), context.DeadlineExceeded)

	assert.False(t, w.Pass(4), "no such wait")
	assert.False(t, w.Pass(-1), "no such wait")
	require.True(t, w.Pass(1))
	assert.NoError(t, first.Err())
	assert.ErrorIs(t, second.Err(), context.DeadlineExceeded)
	assert.NoError(t, fourth.Err())

	cancelFirst()
	assert.ErrorIs(t, first.Err(), context.DeadlineExceeded, "passed by its cancel function")
	cancelParent()
	<-fourth.Done()
	assert.ErrorIs(t, fourth.Err(), context.DeadlineExceeded, "passed as its parent ended")
}

// TestWaitsUse: Use has a program's variable make its waits with the
// Waits until the test ends, and then as before.
func TestWaitsUse(t *testing.T) {
	withWait := context.WithTimeout
	w := &outwait.Waits{}
	t.Run("using", func(t *testing.T) {
		w.Use(t, &withWait)
		ctx, _ := withWait(context.Background(), time.Hour)
		assert.Equal(t, 1, w.Len(), "the wait is the Waits'")
		require.True(t, w.Pass(0))
		assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	})
	ctx, cancel := withWait(context.Background(), time.Hour)
	defer cancel()
	assert.Equal(t, 1, w.Len(), "a wait of context.WithTimeout once the test ended")
	_, hasDeadline := ctx.Deadline()
	assert.True(t, hasDeadline, "context.WithTimeout's")
}
