package demo

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/queue"
	"github.com/casimpay/casimpay/simcard/simcardtest"
)

// TestAirInAFolderNamedAsAPattern: the phones hear each other in a data
// folder whose name holds the characters of a file name pattern ("[",
// "*", "?"), where the air was read as a pattern (filepath.Glob) that
// names no such folder, or is none ("shop[" is ErrBadPattern), and the
// phones heard nothing.
func TestAirInAFolderNamedAsAPattern(t *testing.T) {
	_, issuer, err := simcardtest.NewCA()
	require.NoError(t, err)
	v, err := simcardtest.NewCard(issuer, simcardtest.Options{})
	require.NoError(t, err)
	till := &Station{Party: Grocery.Party("till"), Card: &Card{Card: v.Card, Name: "till", ICCID: v.Enrolment.ICCID}}
	for _, name := range []string{"shop[1]", "shop[", "shop*", "shop?"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			require.NoError(t, os.Mkdir(dir, 0o700))
			air := Air{Dir: dir}
			now := time.Now()
			require.NoError(t, air.Send([]*Station{till}, now))
			q, err := queue.New(adv.Shopper, queue.Options{})
			require.NoError(t, err)
			require.NoError(t, air.Receive(NewRadio(1, 0), &Listener{Party: Grocery.Party("alice"), Queue: q}, nil, now))
			assert.Len(t, q.Snapshot(), 1, "the till")
		})
	}
}
