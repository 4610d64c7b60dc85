//go:build unix

package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/examples/internal/outwait"
)

// TestSecondInterruptEnds: a program whose context NotifyContext made
// ends at the first interrupt, and goes on with what it does then (a
// seller withdrawing its payment request, a cloud shutting its server
// down); a second interrupt ends the process at once, as the system's
// default does, instead of waiting for that to end. The program runs in
// a child process, which, once interrupted, goes on until its input ends
// (as the test does), and is interrupted again once NotifyContext no
// longer relays the interrupts.
func TestSecondInterruptEnds(t *testing.T) {
	if os.Getenv("DEMO_SIGNAL_CHILD") != "" {
		ctx, stop := notifyContext(func() { fmt.Println("relayed no more") })
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		io.Copy(io.Discard, os.Stdin) // a long withdrawal
		os.Exit(0)
	}
	if signal.Ignored(os.Interrupt) {
		// Its child would start with SIGINT ignored too, and ignore it
		// again once its context ended (NotifyContext).
		t.Skip("SIGINT is ignored in this process (started as a background job of a shell without job control): a second interrupt cannot end its child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondInterruptEnds$")
	cmd.Env = append(os.Environ(), "DEMO_SIGNAL_CHILD=1")
	out := &outwait.Output{}
	cmd.Stdout = out
	_, err := cmd.StdinPipe() // open until the child ended
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill() }) // fails once it ended
	done := out.Go(func(io.Writer) error { return cmd.Wait() })
	out.Require(t, `(?m)^ready$`)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	out.Require(t, `(?m)^relayed no more$`)
	// Interrupted again, as a user presses Ctrl-C once more.
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	wait, stopWait := outwait.Context(t)
	defer stopWait()
	select {
	case err := <-done:
		var ee *exec.ExitError
		require.True(t, errors.As(err, &ee), "%v", err)
		ws, ok := ee.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		assert.True(t, ws.Signaled(), "ended by the signal: %v", err)
		assert.Equal(t, syscall.SIGINT, ws.Signal())
	case <-wait.Done():
		t.Fatalf("interrupting it again did not end the program: %v; it printed:\n%s", context.Cause(wait), out)
	}
}
