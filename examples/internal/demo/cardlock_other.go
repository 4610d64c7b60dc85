//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package demo

import (
	"os"
	"path/filepath"
	"sync"
)

// lockAcrossProcesses is false: lockFile sees only this process's holds.
const lockAcrossProcesses = false

// lockedMu guards locked, the absolute paths of the files that lockFile
// holds in this process.
var (
	lockedMu sync.Mutex
	locked   = map[string]bool{}
)

// lockFile holds f's path for this process without waiting, and returns
// the function that releases it. A path held already is ErrCardInUse.
// Without flock(2), another process holding it is not detected.
func lockFile(f *os.File) (release func(), err error) {
	path, err := filepath.Abs(f.Name())
	if err != nil {
		return nil, err
	}
	lockedMu.Lock()
	defer lockedMu.Unlock()
	if locked[path] {
		return nil, ErrCardInUse
	}
	locked[path] = true
	return func() {
		lockedMu.Lock()
		defer lockedMu.Unlock()
		delete(locked, path)
	}, nil
}
