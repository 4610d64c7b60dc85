package adv

import (
	"encoding/binary"
	"encoding/hex"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const exampleMarker = "<!-- adv worked example"

// workedExample returns the labelled values of the worked example of
// PROTOCOL.md §1.4.
func workedExample(t *testing.T) map[string]string {
	t.Helper()
	doc, err := os.ReadFile("../PROTOCOL.md")
	require.NoError(t, err)
	s := string(doc)
	i := strings.Index(s, exampleMarker)
	require.GreaterOrEqual(t, i, 0, "PROTOCOL.md lost the worked example marker")
	s = s[i:]
	start := strings.Index(s, "```text\n")
	require.GreaterOrEqual(t, start, 0)
	s = s[start+len("```text\n"):]
	end := strings.Index(s, "```")
	require.GreaterOrEqual(t, end, 0)
	line := regexp.MustCompile(`^(\S+(?: \S+)*)\s{2,}(.+)$`)
	values := make(map[string]string)
	for l := range strings.SplitSeq(strings.TrimSpace(s[:end]), "\n") {
		m := line.FindStringSubmatch(l)
		require.NotNil(t, m, "unreadable line %q", l)
		values[m[1]] = m[2]
	}
	return values
}

func hexValue(t *testing.T, v map[string]string, label string) []byte {
	t.Helper()
	s, ok := v[label]
	require.True(t, ok, "PROTOCOL.md worked example lacks %q", label)
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err, label)
	return b
}

func intValue(t *testing.T, v map[string]string, label string) int64 {
	t.Helper()
	s, ok := v[label]
	require.True(t, ok, "PROTOCOL.md worked example lacks %q", label)
	n, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err, label)
	return n
}

// TestProtocolWorkedExample keeps PROTOCOL.md §1.4 and the code in step.
func TestProtocolWorkedExample(t *testing.T) {
	v := workedExample(t)

	unix := intValue(t, v, "unix time")
	assert.Equal(t, exampleTime.Unix(), unix)
	epoch := Epoch(time.Unix(unix, 0))
	assert.Equal(t, int64(epoch), intValue(t, v, "epoch"))

	sellerSecret := hexValue(t, v, "seller secret")
	k, err := eidk(sellerSecret)
	require.NoError(t, err)
	assert.Equal(t, hexValue(t, v, "seller EIDK"), k[:])

	var in [16]byte
	copy(in[:], "CASIM-EID")
	binary.LittleEndian.PutUint32(in[12:], epoch)
	assert.Equal(t, hexValue(t, v, "AES input"), in[:])

	seller, err := DeriveEID(sellerSecret, epoch)
	require.NoError(t, err)
	assert.Equal(t, hexValue(t, v, "seller EID"), seller[:])
	shopper, err := DeriveEID(hexValue(t, v, "shopper secret"), epoch)
	require.NoError(t, err)
	assert.Equal(t, hexValue(t, v, "shopper EID"), shopper[:])

	assert.Equal(t, v["pairing code"], PairingCode(seller, shopper))

	b, err := Packet{Role: Seller, EID: seller, TxPower: -8}.MarshalBinary()
	require.NoError(t, err)
	assert.Equal(t, hexValue(t, v, "seller advert"), b)
	assert.Equal(t, readHex(t, "casimpay_seller.hex"), hexValue(t, v, "seller advert"))
}
