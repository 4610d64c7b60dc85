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

// onesReader reads as octets of all ones: the largest serial number a CA
// can draw from it.
type onesReader struct{}

func (onesReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xff
	}
	return len(p), nil
}

// TestProtocolSerialNumbers keeps the serial numbers of PROTOCOL.md §4.1
// and §4.3 and those that a CA draws in step: 127 random bits, positive, so
// that the longest, drawn from a source of all ones, has 16 octets.
func TestProtocolSerialNumbers(t *testing.T) {
	protocoldoc.Says(t, "## 4. Certificate profile",
		"Serial numbers: 127 random bits, positive; RFC 5280 §4.1.2.2 allows at most 20 octets",
		"with the longest serial number (16 octets)",
	)
	root, err := pki.NewRoot(mustKey(), pki.CAOptions{CRLURL: "http://pki.example/root.crl", Rand: onesReader{}})
	require.NoError(t, err)
	serial := root.Certificate().SerialNumber
	assert.Equal(t, 1, serial.Sign(), "positive")
	assert.Equal(t, 127, serial.BitLen(), "the longest serial number")
	assert.Len(t, serial.Bytes(), 16, "the octets of the longest serial number")
}
