//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package demo

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockAcrossProcesses is true: lockFile sees other processes' holds.
const lockAcrossProcesses = true

// lockFile takes an exclusive advisory lock, flock(2), on f without
// waiting, and returns the function that releases it before f is closed
// (closing f releases it too, as does the end of the process). A lock
// held through another open file, of this process or another, is
// ErrCardInUse.
func lockFile(f *os.File) (release func(), err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, ErrCardInUse
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() {}, nil
}
