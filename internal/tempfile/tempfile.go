// Package tempfile names the temporary files through which the module's
// packages replace a file whole (a new file written beside it, then renamed
// over it), and removes those that a writer killed before its rename left
// behind, which nothing else would ever remove.
package tempfile

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/casimpay/casimpay/internal/ascii"
)

// Stale is the age past which a temporary file is taken for one that a
// writer killed before its rename left behind: a write takes milliseconds,
// and a writer, of this process or another, that has not renamed its file
// after Stale is stuck or dead.
const Stale = 10 * time.Minute

// Create creates a new file in name's folder for the new content of name,
// opened for reading and writing with mode 0600, as os.CreateTemp does:
// named after name at random (a dot, name's base, ".tmp" and digits), so
// that writers at once of one name each write a file of their own. The
// error is os.CreateTemp's.
func Create(name string) (*os.File, error) {
	return os.CreateTemp(filepath.Dir(name), prefix(name)+"*")
}

// RemoveStale removes the regular files of name's folder whose names are
// those Create gives name's temporary files (".NAME.tmp" and one or more
// decimal digits, which os.CreateTemp puts in place of the "*") and that
// were last modified before cutoff (time.Now minus Stale, for files whose
// writers may be running in other processes). Other files whose names
// begin with ".NAME.tmp" (".NAME.tmp.prev", say, beside a file "NAME.tmp")
// stay, as does what cannot be read or removed.
func RemoveStale(name string, cutoff time.Time) {
	dir, prefix := filepath.Dir(name), prefix(name)
	entries, _ := os.ReadDir(dir) // what cannot be read stays
	for _, e := range entries {
		if !isTemp(prefix, e.Name()) || !e.Type().IsRegular() {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// IsTemp reports whether base is a name that Create gives name's
// temporary files: ".NAME.tmp" and one or more decimal digits.
func IsTemp(name, base string) bool { return isTemp(prefix(name), base) }

// isTemp reports whether base is prefix and one or more decimal digits.
func isTemp(prefix, base string) bool {
	rest, ok := strings.CutPrefix(base, prefix)
	return ok && rest != "" && ascii.Digits(rest)
}

// prefix is what the names of name's temporary files begin with.
func prefix(name string) string { return "." + filepath.Base(name) + ".tmp" }
