//go:build unix

package demo

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSecondInterruptEnds: a program whose context NotifyContext made
// ends at the first interrupt, and goes on with what it does then (a
// seller withdrawing its payment request, a cloud shutting its server
// down); a second interrupt ends the process at once, as the system's
// default does, instead of waiting for that to end. The program runs in
// a child process, which takes a minute to end after its first
// interrupt, and is interrupted again until it ends.
func TestSecondInterruptEnds(t *testing.T) {
	if os.Getenv("DEMO_SIGNAL_CHILD") != "" {
		ctx, stop := NotifyContext()
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("interrupted")
		time.Sleep(time.Minute) // a long withdrawal
		os.Exit(0)
	}
	if signal.Ignored(os.Interrupt) {
		// Its child would start with SIGINT ignored too, and ignore it
		// again once its context ended (NotifyContext).
		t.Skip("SIGINT is ignored in this process (started as a background job of a shell without job control): a second interrupt cannot end its child")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondInterruptEnds$")
	cmd.Env = append(os.Environ(), "DEMO_SIGNAL_CHILD=1")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	lines := bufio.NewScanner(stdout)
	next := func() string {
		if !lines.Scan() {
			return ""
		}
		return lines.Text()
	}
	require.Equal(t, "ready", next())
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	require.Equal(t, "interrupted", next())
	go func() { done <- cmd.Wait() }()
	// Interrupted again and again, as a user presses Ctrl-C once more.
	again := time.NewTicker(50 * time.Millisecond)
	defer again.Stop()
	giveUp := time.After(20 * time.Second)
	for {
		select {
		case err := <-done:
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "%v", err)
			ws, ok := ee.Sys().(syscall.WaitStatus)
			require.True(t, ok)
			assert.True(t, ws.Signaled(), "ended by the signal: %v", err)
			assert.Equal(t, syscall.SIGINT, ws.Signal())
			return
		case <-again.C:
			cmd.Process.Signal(os.Interrupt) // fails once it ended
		case <-giveUp:
			cmd.Process.Kill()
			<-done
			t.Fatal("interrupting it again did not end the program")
		}
	}
}
