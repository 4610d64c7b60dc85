package adv

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolLayoutTable keeps the layout table of PROTOCOL.md §1.1 and
// the encoding in step: each AD structure at its offset, of its length and
// value (UU UU the UUID, little-endian), the service data last, all of
// them filling the 31 octets.
func TestProtocolLayoutTable(t *testing.T) {
	b, err := Codec{UUID: 0xABCD}.AppendBinary(nil, Packet{Role: Seller, TxPower: -8})
	require.NoError(t, err)
	end := 0
	for _, r := range protocoldoc.Table(t, "### 1.1 Layout") {
		require.Len(t, r, 4, "row %q", r)
		off, err := strconv.Atoi(r[0])
		require.NoError(t, err, "row %q", r)
		n, err := strconv.Atoi(r[1])
		require.NoError(t, err, "row %q", r)
		assert.Equal(t, end, off, "row %q starts where the one before ends", r)
		end = off + n
		require.LessOrEqual(t, end, len(b), "row %q", r)
		if r[2] == "service data" {
			assert.Equal(t, ServiceDataSize, n, "row %q", r)
			continue
		}
		want, err := hex.DecodeString(strings.ReplaceAll(strings.ReplaceAll(strings.Trim(r[2], "`"), "UU UU", "cd ab"), " ", ""))
		require.NoError(t, err, "row %q", r)
		assert.Equal(t, want, b[off:end], "row %q", r)
	}
	assert.Equal(t, Size, end, "the rows fill the advert")
}

// TestProtocolServiceDataTable keeps the service data table of
// PROTOCOL.md §1.1 and the code in step: the version and the roles of
// octet 0, the flag bits of octet 18 and the reserved octet 19.
func TestProtocolServiceDataTable(t *testing.T) {
	rows := map[string]string{}
	for _, r := range protocoldoc.TableOf(t, "### 1.1 Layout", "octet") {
		require.Len(t, r, 3, "row %q", r)
		rows[r[0]] = r[2]
	}
	assert.Contains(t, rows["0"], "high nibble: protocol version, `"+strconv.Itoa(Version)+"`;")
	assert.Contains(t, rows["0"], "low nibble: role, `"+strconv.Itoa(int(Shopper))+"` shopper, `"+strconv.Itoa(int(Seller))+"` seller")
	assert.Equal(t, Flags(1<<0), FlagBusy, "PROTOCOL.md: %s", rows["18"])
	assert.Contains(t, rows["18"], "bit 0 `busy`")
	assert.Equal(t, Flags(1<<1), FlagAssets, "PROTOCOL.md: %s", rows["18"])
	assert.Contains(t, rows["18"], "bit 1 `assets`")
	assert.Contains(t, rows["18"], "bits 2–7 reserved")
	assert.Equal(t, "`00`", rows["19"])

	p := Packet{Role: Shopper, EID: EID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, TxPower: -8, Flags: FlagBusy | FlagAssets}
	b, err := p.MarshalBinary()
	require.NoError(t, err)
	sd := b[Size-ServiceDataSize:]
	assert.Equal(t, byte(Version<<4|int(Shopper)), sd[0], "octet 0")
	assert.Equal(t, p.EID[:], sd[1:17], "octets 1–16")
	assert.Equal(t, byte(0xf8), sd[17], "octet 17, int8 dBm")
	assert.Equal(t, byte(FlagBusy|FlagAssets), sd[18], "octet 18")
	assert.Equal(t, byte(0), sd[19], "octet 19")
}

// TestProtocolEpochTiming keeps the timing of PROTOCOL.md §1.2 and the code
// in step: the epoch length, and the build ahead that the first resolution
// in the second half of an epoch starts.
func TestProtocolEpochTiming(t *testing.T) {
	protocoldoc.Says(t, "### 1.2 Ephemeral IDs (EIDs)",
		"epoch = floor(Unix time in seconds / "+strconv.Itoa(EpochSeconds)+")",
		"(Unix time a multiple of "+strconv.Itoa(EpochSeconds)+")",
		"The first resolution in the second half of an epoch starts, in the background, the build of the table of the epoch after next",
	)
	assert.Equal(t, 10*time.Minute, time.Duration(EpochSeconds)*time.Second, "EIDs change every ten minutes")
	assert.Equal(t, time.Duration(EpochSeconds)*time.Second/2, aheadAfter, "the second half of an epoch")
}

// TestProtocolDerivationLabels keeps the formulas of PROTOCOL.md §1.2 and
// §1.3 and the code in step: the size of the advertising secret and the
// domain separators of the EID key, the EID and the pairing code, which
// the worked example of §1.4 checks only through their outputs.
func TestProtocolDerivationLabels(t *testing.T) {
	k, err := eidk(make([]byte, SecretSize))
	require.NoError(t, err)
	eidkSize := len(k[:])
	protocoldoc.Says(t, "### 1.2 Ephemeral IDs (EIDs)",
		"the card generates a "+strconv.Itoa(SecretSize)+"-octet random **advertising secret**",
		`info = "`+eidkInfo+`", L = `+strconv.Itoa(eidkSize)+`)`,
		`EID = AES-128-Encrypt(EIDK, "`+eidPrefix+`" || 00 00 00 || epoch as uint32 little-endian)`,
		"the "+strconv.Itoa(len(eidPrefix))+" ASCII octets `"+eidPrefix+"`",
	)
	protocoldoc.Says(t, "### 1.3 Pairing code",
		`h = SHA-256("`+pairLabel+`" || min(EID_a, EID_b) || max(EID_a, EID_b))`,
	)
}

// TestProtocolLastEpoch keeps the year of the last epoch that PROTOCOL.md
// §1.2 gives and the code in step: the epoch stops at 2^32 − 1, which
// starts in the year 83,631, and a later instant stays in it.
func TestProtocolLastEpoch(t *testing.T) {
	protocoldoc.Says(t, "### 1.2 Ephemeral IDs (EIDs)",
		"stays at 2^32 − 1 once it gets there (in the year 83,631)",
	)
	start := EpochStart(math.MaxUint32)
	assert.Equal(t, 83631, start.Year())
	assert.Equal(t, uint32(math.MaxUint32), Epoch(start.AddDate(1, 0, 0)))
}

// TestProtocolUUIDListAloneIsForeign keeps PROTOCOL.md §1.1 and Parse in
// step: the advert is identified by the Service Data structure with our
// UUID alone, so the Flags and our UUID in the UUID list without it are
// foreign, and our UUID listed above the service data of another UUID is
// foreign too, even in the 31-octet layout of our advert.
func TestProtocolUUIDListAloneIsForeign(t *testing.T) {
	protocoldoc.Says(t, "### 1.1 Layout",
		"identifies our advert by the Service Data structure with our UUID alone",
	)
	p, err := Parse([]byte{0x02, 0x01, 0x06, 0x03, 0x03, 0xff, 0xff})
	assert.ErrorIs(t, err, ErrForeign)
	assert.NotErrorIs(t, err, ErrMalformed)
	assert.Equal(t, Packet{}, p)

	b, err := Codec{UUID: 0xABCD}.AppendBinary(nil, testPacket())
	require.NoError(t, err)
	b[5], b[6] = 0xff, 0xff // the UUID list names ours; the service data is 0xABCD's
	p, err = Parse(b)
	assert.ErrorIs(t, err, ErrForeign)
	assert.Equal(t, Packet{}, p)
}

// TestProtocolPairingCodeBias keeps the figures of PROTOCOL.md §1.3 true
// of the reduction PairingCode makes: 2^32 mod 10^6, the number of values
// of h[0..3] behind each code, the size of a crowd that holds two equal
// codes more often than not, and the bias's effect on the chance that two
// pairs share a code.
func TestProtocolPairingCodeBias(t *testing.T) {
	protocoldoc.Says(t, "### 1.3 Pairing code",
		"codes `000000` to `967295` each come from 4,295 values of `h[0..3]`, the others from 4,294 (2^32 mod 10^6 = 967,296)",
		"a crowd of about 1,200 sellers holds, more often than not, two whose codes with one shopper are the same",
		"by less than 1 part in 4,000",
	)
	const codes = 1_000_000
	rem := uint64(1<<32) % codes
	assert.Equal(t, uint64(967_296), rem)
	// Each code below rem comes from one more value than the others.
	assert.Equal(t, uint64(4_295), uint64(1<<32)/codes+1)
	assert.Equal(t, uint64(4_294), uint64(1<<32)/codes)

	// Birthday bound: 1,200 codes collide more often than not, 1,100 not.
	noCollision := func(n int) float64 {
		p := 1.0
		for i := range n {
			p *= float64(codes-i) / codes
		}
		return p
	}
	assert.Less(t, noCollision(1200), 0.5)
	assert.Greater(t, noCollision(1100), 0.5)

	// Chance that two random values of h[0..3] give one code, against
	// 10^-6 for an unbiased reduction.
	hi, lo := float64(rem), float64(codes-rem)
	n := float64(uint64(1 << 32))
	same := (hi*4295*4295 + lo*4294*4294) / (n * n)
	assert.Less(t, math.Abs(same*codes-1), 1.0/4000)
}

// TestProtocolTwiceIsOurUUIDTwice keeps PROTOCOL.md §1.1 and Parse in
// step: data is refused when our service data appears twice, not when the
// service data of another UUID (here Exposure Notification's, 20 octets
// like ours) follows ours, which Parse reads as if the other were not
// there.
func TestProtocolTwiceIsOurUUIDTwice(t *testing.T) {
	protocoldoc.Says(t, "### 1.1 Layout",
		"and data in which our service data appears twice",
		"(UUID 0xABCD is sent `CD AB`)",
	)
	p := testPacket()
	b := append(ours(t, p, nil), readHex(t, "exposure_notification.hex")...)
	got, err := Parse(b)
	require.NoError(t, err)
	assert.Equal(t, p, got)
}
