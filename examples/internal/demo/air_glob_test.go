package demo

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAirInAFolderNamedAsAPattern: the phones hear each other in a data
// folder whose name holds the characters of a file name pattern ("[",
// "*", "?"), where the air was read as a pattern (filepath.Glob) that
// names no such folder, or is none ("shop[" is ErrBadPattern), and the
// phones heard nothing.
func TestAirInAFolderNamedAsAPattern(t *testing.T) {
	_, till := airStations(t)
	for _, name := range []string{"shop[1]", "shop[", "shop*", "shop?"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			require.NoError(t, os.Mkdir(dir, 0o700))
			air := Air{Dir: dir}
			now := time.Now()
			require.NoError(t, air.Send([]*Station{till}, now))
			l := shopperListener(t)
			require.NoError(t, air.Receive(NewRadio(1, 0), l, nil, now))
			assert.Len(t, l.Queue.Snapshot(), 1, "the till")
		})
	}
}
