// Package sqlmigrate reads the numbered schema migrations that the SQL
// stores of the ledger and of payflow embed in their binaries.
package sqlmigrate

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path"
	"slices"
	"strings"

	"github.com/casimpay/casimpay/internal/ascii"
)

// Migration is one schema change, read from a file named
// "<version>_<name>.sql" (for example 0001_init.sql), the version in
// decimal digits and nothing else. Versions start at 1
// and have no gaps, so a database at version n has applied exactly the
// migrations 1..n.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// ErrBadMigration reports a migration file set that cannot be applied in a
// well-defined order.
var ErrBadMigration = errors.New("sqlmigrate: bad migration files")

// Read reads the *.sql files of dir in fsys and returns them sorted by
// version. It fails with ErrBadMigration on a file name that is not
// "<version>_<name>.sql" with a version of 1 or more and a name (no
// version, a version 0, an empty name), a duplicate version or a gap, and
// with fsys's error when dir or a file cannot be read.
func Read(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, digits := ascii.Uint(0, num, math.MaxInt) // math.MaxInt+1 beyond int
		if !ok || !digits || v == 0 || v > math.MaxInt || name == "" {
			return nil, fmt.Errorf("%w: %s: want <version>_<name>.sql", ErrBadMigration, e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: int(v), Name: name, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("%w: version %d found where %d expected", ErrBadMigration, m.Version, i+1)
		}
	}
	return ms, nil
}
