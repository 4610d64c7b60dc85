package simcard_test

import (
	"testing"

	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGetResponseLength: 61xx announces xx octets (00: 256 or more), and
// the GET RESPONSE that asks for them with Le xx must answer exactly that
// many, with 9000 or with a further 61yy that chains more. A card that
// answers fewer or more is refused with ErrResponse, its octets never
// used: an answer cut short and ended with 9000 would otherwise pass for a
// whole one (an issuer chain missing its last certificates).
func TestGetResponseLength(t *testing.T) {
	for name, tt := range map[string]struct {
		steps [][2]string
		want  string // the data collected, hexadecimal; "" for ErrResponse
	}{
		"fewer than announced, then 9000": {[][2]string{
			{"00CA010100", "AABB6103"},
			{"00C0000003", "CCDD9000"},
		}, ""},
		"more than announced, then 9000": {[][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "CCDDEE9000"},
		}, ""},
		"fewer than announced, then 61xx": {[][2]string{
			{"00CA010100", "AABB6103"},
			{"00C0000003", "CCDD6102"},
		}, ""},
		"more than announced, then 61xx": {[][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "CCDDEE6101"},
		}, ""},
		"none, then 61xx": {[][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "6102"},
		}, ""},
		"fewer than the 256 of 6100": {[][2]string{
			{"00CA010100", hexN(0xAA, 256) + "6100"},
			{"00C0000000", hexN(0xBB, 255) + "9000"},
		}, ""},
		"fewer than the Le of 6Cxx": {[][2]string{
			{"00CA010100", "AABB6105"},
			{"00C0000005", "6C03"},
			{"00C0000003", "CCDD9000"},
		}, ""},
		"fewer than announced by the second 61xx": {[][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "CCDD6102"},
			{"00C0000002", "EE9000"},
		}, ""},
		"as announced, then 9000": {[][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "CCDD9000"},
		}, "AABBCCDD"},
		"the 256 of 6100, then 61xx as announced": {[][2]string{
			{"00CA010100", "AABB6100"},
			{"00C0000000", hexN(0xCC, 256) + "6101"},
			{"00C0000001", "DD9000"},
		}, "AABB" + hexN(0xCC, 256) + "DD"},
		"the Le of 6Cxx": {[][2]string{
			{"00CA010100", "AABB6105"},
			{"00C0000005", "6C01"},
			{"00C0000001", "CC9000"},
		}, "AABBCC"},
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{t: t, steps: tt.steps}
			got, err := simcard.New(s).GetData(simcard.TagICCID)
			assert.Empty(t, s.steps, "no GET RESPONSE after a wrong one")
			if tt.want != "" {
				require.NoError(t, err)
				assert.Equal(t, unhex(t, tt.want), got)
				return
			}
			require.ErrorIs(t, err, simcard.ErrResponse)
			var se *simcard.StatusError
			assert.NotErrorAs(t, err, &se)
			assert.Nil(t, got)
		})
	}
	t.Run("an issuer chain cut short at a certificate's end", func(t *testing.T) {
		// Two issuer certificates of 300 octets each: after the first 256
		// octets the card announces 256 more (6100) and ends with 9000
		// after the 44 that complete the first certificate.
		cert := "30820128" + hexN(0x11, 296)
		s := &script{t: t, steps: [][2]string{
			{"00CA010200", cert[:512] + "612C"},
			{"00C000002C", cert[512:] + "9000"},
			{"00CA010700", cert[:512] + "6100"},
			{"00C0000000", cert[512:] + "9000"},
		}}
		chain, err := simcard.New(s).Chain()
		require.ErrorIs(t, err, simcard.ErrResponse)
		assert.Nil(t, chain)
		assert.Empty(t, s.steps)
	})
}
