//go:build !windows

package dirsync

import "os"

func syncDir(d *os.File) error { return d.Sync() }
