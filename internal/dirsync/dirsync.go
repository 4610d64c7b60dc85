// Package dirsync writes a folder's entries to disk: what makes durable
// the names that were renamed, made or removed in it, as a file's Sync
// makes its content durable.
package dirsync

import "os"

// Sync writes the entries of the open folder d to disk. Where a folder's
// entries are made durable by syncing its descriptor, fsync(2) (Linux, the
// BSDs, macOS), it is d.Sync. On Windows it does nothing and returns nil:
// FlushFileBuffers refuses a folder's handle (access denied), and NTFS
// journals the names renamed, made or removed in a folder itself.
func Sync(d *os.File) error { return syncDir(d) }
