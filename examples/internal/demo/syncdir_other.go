//go:build !windows

package demo

import "os"

// syncDir writes the entries of the open folder d to disk, fsync(2) of its
// descriptor; tests replace it.
var syncDir = (*os.File).Sync
