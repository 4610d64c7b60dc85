package pki_test

import (
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolOIDs keeps the table of PROTOCOL.md §4.2 and the extended key
// usages of the profile in step.
func TestProtocolOIDs(t *testing.T) {
	rows := protocoldoc.Table(t, "### 4.2 Object identifiers")
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"CA-SIM card authentication (EKU)", "`" + pki.OIDCardAuth.String() + "`"}, rows[0])
	assert.Equal(t, []string{"CA-SIM platform receipt signing (EKU)", "`" + pki.OIDReceiptSigning.String() + "`"}, rows[1])
}
