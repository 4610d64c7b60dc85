package simcard_test

import (
	"testing"

	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGetResponseLength: 61xx announces xx octets (00: 256 or more), and
// the GET RESPONSE that asks for them with Le xx must answer exactly that
// many, with 9000 or, after 6100, with a further 61yy that chains more. A
// card that answers fewer or more is refused with ErrResponse, its octets
// never used: an answer cut short and ended with 9000 would otherwise pass
// for a whole one (an issuer chain missing its last certificates). The
// octets that 61xx counts (xx not 00) are the last: a further 61yy must
// count those still left, after a 6Cxx that asked for fewer, and is
// otherwise refused with ErrResponse, no GET RESPONSE sent after it.
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
			{"00CA010100", "AABB6100"},
			{"00C0000000", hexN(0xCC, 256) + "6102"},
			{"00C0000002", "EE9000"},
		}, ""},
		"61xx after the octets a 61xx counted": {[][2]string{
			{"00CA010100", "AABB6101"},
			{"00C0000001", "CC6101"},
		}, ""},
		"6100 after the octets a 61xx counted": {[][2]string{
			{"00CA010100", "AABB6101"},
			{"00C0000001", "CC6100"},
		}, ""},
		"61xx counting more than were left after 6Cxx": {[][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "6C01"},
			{"00C0000001", "CC6102"},
		}, ""},
		"6100 after the octets a 6Cxx counted after 6100": {[][2]string{
			{"00CA010100", "AABB6100"},
			{"00C0000000", "6C01"},
			{"00C0000001", "CC6100"},
		}, ""},
		"61xx after the octets a 6Cxx counted after 6100": {[][2]string{
			{"00CA010100", "AABB6100"},
			{"00C0000000", "6C01"},
			{"00C0000001", "CC6101"},
		}, ""},
		"6100 after the 256 octets a 6C00 counted after 6100": {[][2]string{
			{"00CA010100", "AABB6100"},
			{"00C0000000", "6C00"},
			{"00C0000000", hexN(0xCC, 256) + "6100"},
		}, ""},
		"the Le of 6Cxx after 6100, then 9000": {[][2]string{
			{"00CA010100", "AABB6100"},
			{"00C0000000", "6C02"},
			{"00C0000002", "CCDD9000"},
		}, "AABBCCDD"},
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
		"the Le of 6Cxx, then 61xx counting the octets left": {[][2]string{
			{"00CA010100", "AABB6102"},
			{"00C0000002", "6C01"},
			{"00C0000001", "CC6101"},
			{"00C0000001", "DD9000"},
		}, "AABBCCDD"},
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

// TestCommandAnswerLength: the card answers a command with at most the Ne
// octets its Le asks for (00: 256), none to a command without Le, and,
// after 6Cxx, the command sent again with Le xx with exactly xx octets
// (ISO/IEC 7816-4). An answer with 9000 or 61xx and more octets, or after
// 6Cxx fewer or more, is refused with ErrResponse, its octets never used
// and no GET RESPONSE sent after it.
func TestCommandAnswerLength(t *testing.T) {
	verify := simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsVerify, P2: simcard.RefPIN, Data: []byte("1234")}
	getData := simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData, P1: 1, P2: 1, Ne: 256}
	getData4 := getData
	getData4.Ne = 4
	signRecord := simcard.Command{CLA: simcard.ClassProprietary, INS: simcard.InsSignRecord, P1: 2, Data: make([]byte, 300), Ne: 256}
	for name, tt := range map[string]struct {
		cmd   simcard.Command
		steps [][2]string
		want  string // the data returned, hexadecimal; "-" for ErrResponse
	}{
		"more than Ne, then 9000": {getData4, [][2]string{
			{"00CA010104", "AABBCCDDEE9000"},
		}, "-"},
		"more than Ne, then 61xx": {getData4, [][2]string{
			{"00CA010104", "AABBCCDDEE6102"},
		}, "-"},
		"more than the 256 of Le 00": {getData, [][2]string{
			{"00CA010100", hexN(0xAA, 257) + "9000"},
		}, "-"},
		"data to a command without Le": {verify, [][2]string{
			{"002000800431323334", "AA9000"},
		}, "-"},
		"data and 61xx to a command without Le": {verify, [][2]string{
			{"002000800431323334", "AA6101"},
		}, "-"},
		"fewer than the Le of 6Cxx": {getData, [][2]string{
			{"00CA010100", "6C03"},
			{"00CA010103", "AABB9000"},
		}, "-"},
		"none for the Le of 6Cxx": {getData, [][2]string{
			{"00CA010100", "6C03"},
			{"00CA010103", "9000"},
		}, "-"},
		"more than the Le of 6Cxx": {getData, [][2]string{
			{"00CA010100", "6C03"},
			{"00CA010103", "AABBCCDD9000"},
		}, "-"},
		"fewer than the Le of 6Cxx, then 61xx": {getData, [][2]string{
			{"00CA010100", "6C03"},
			{"00CA010103", "AABB6101"},
		}, "-"},
		"fewer than the Le of 6Cxx, the chain sent again": {signRecord, [][2]string{
			{"90500200FF" + hexN(0, 255), "9000"},
			{"805002002D" + hexN(0, 45) + "00", "6C03"},
			{"90500200FF" + hexN(0, 255), "9000"},
			{"805002002D" + hexN(0, 45) + "03", "AABB9000"},
		}, "-"},
		"fewer than the 256 of 6C00": {getData4, [][2]string{
			{"00CA010104", "6C00"},
			{"00CA010100", hexN(0xAA, 255) + "9000"},
		}, "-"},
		"fewer than Ne": {getData4, [][2]string{
			{"00CA010104", "AABBCC9000"},
		}, "AABBCC"},
		"Ne, then 61xx": {getData4, [][2]string{
			{"00CA010104", "AABBCCDD6101"},
			{"00C0000001", "EE9000"},
		}, "AABBCCDDEE"},
		"the 256 of Le 00": {getData, [][2]string{
			{"00CA010100", hexN(0xAA, 256) + "9000"},
		}, hexN(0xAA, 256)},
		"61xx alone to a command without Le": {verify, [][2]string{
			{"002000800431323334", "6101"},
			{"00C0000001", "AA9000"},
		}, "AA"},
		"the Le of 6Cxx": {getData, [][2]string{
			{"00CA010100", "6C03"},
			{"00CA010103", "AABBCC9000"},
		}, "AABBCC"},
		"the 256 of 6C00": {getData4, [][2]string{
			{"00CA010104", "6C00"},
			{"00CA010100", hexN(0xAA, 256) + "9000"},
		}, hexN(0xAA, 256)},
	} {
		t.Run(name, func(t *testing.T) {
			s := &script{t: t, steps: tt.steps}
			got, err := simcard.New(s).Exchange(tt.cmd)
			assert.Empty(t, s.steps)
			if tt.want != "-" {
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
	t.Run("methods", func(t *testing.T) {
		// VERIFY, sent without Le, answered with data; SELECT answered with
		// an FCI followed by more than its Le 00 asks for.
		s := &script{t: t, steps: [][2]string{{"0020008004" + "31323334", "AA9000"}}}
		require.ErrorIs(t, simcard.New(s).VerifyPIN("1234"), simcard.ErrResponse)
		s = &script{t: t, steps: [][2]string{{selectFCI, "6F11 8407F0434153494D01 A506 800101 810107" + hexN(0, 238) + "9000"}}}
		_, err := simcard.New(s).Select()
		require.ErrorIs(t, err, simcard.ErrResponse)
	})
}

// TestExchangeNeBoundsFirstAnswer: Ne bounds only the card's first answer;
// the octets the card announces beyond it with 61xx are collected with GET
// RESPONSE, so that Exchange returns the whole answer, longer than Ne and
// than 256 octets.
func TestExchangeNeBoundsFirstAnswer(t *testing.T) {
	v := newCard(t)
	cert, err := v.Card.Certificate()
	require.NoError(t, err)
	require.Greater(t, len(cert), 256)
	tag := simcard.TagCertificate
	for _, ne := range []int{1, 10, 255, 256} {
		got, err := v.Card.Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData,
			P1: byte(tag >> 8), P2: byte(tag), Ne: ne})
		require.NoError(t, err)
		assert.Equal(t, cert, got, "Ne %d", ne)
	}
}

// forever61 is a card that answers every command with one octet and 61 01,
// for ever. It counts the commands.
type forever61 struct{ sent int }

func (f *forever61) Transmit([]byte) ([]byte, error) {
	f.sent++
	return []byte{0xAA, 0x61, 0x01}, nil
}

// TestGetResponseForever: a card that announces one octet more (61 01)
// after every GET RESPONSE is refused with ErrResponse at its second 61 01,
// which counts an octet where none was left: one GET RESPONSE, not the
// 65536 that would collect the most octets Exchange takes.
func TestGetResponseForever(t *testing.T) {
	f := &forever61{}
	got, err := simcard.New(f).Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData, P1: 1, P2: 1, Ne: 256})
	require.ErrorIs(t, err, simcard.ErrResponse)
	var se *simcard.StatusError
	assert.NotErrorAs(t, err, &se)
	assert.Nil(t, got)
	assert.Equal(t, 2, f.sent, "the command and one GET RESPONSE")
}

// moreThanCounted is a card that answers a command with one octet and
// 61 01, and every GET RESPONSE with 6C02 when its Le is 1, and with two
// octets and 61 01 when it is 2: each 6Cxx asks for more octets than the
// 61 01 before it counted. It counts the commands.
type moreThanCounted struct{ sent int }

func (m *moreThanCounted) Transmit(apdu []byte) ([]byte, error) {
	m.sent++
	switch {
	case apdu[1] != simcard.InsGetResponse:
		return []byte{0xAA, 0x61, 0x01}, nil
	case apdu[len(apdu)-1] == 1:
		return []byte{0x6C, 0x02}, nil
	}
	return []byte{0xBB, 0xCC, 0x61, 0x01}, nil
}

// TestGetResponseMoreThanCounted: a GET RESPONSE that asks for the octets
// a 61xx counted (xx not 00), the last ones, and gets more of them after a
// 6Cxx asking for more, is refused with ErrResponse: the card would
// otherwise answer 61 01 after each and have Exchange collect 65536
// octets, two commands for every two octets.
func TestGetResponseMoreThanCounted(t *testing.T) {
	m := &moreThanCounted{}
	got, err := simcard.New(m).Exchange(simcard.Command{CLA: simcard.ClassISO, INS: simcard.InsGetData, P1: 1, P2: 1, Ne: 256})
	require.ErrorIs(t, err, simcard.ErrResponse)
	assert.Nil(t, got)
	assert.Equal(t, 3, m.sent, "the command, a GET RESPONSE and the one its 6Cxx asked for")
}
