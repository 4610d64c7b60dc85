package applet_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fill(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

func sampleConsent() *record.Consent {
	return &record.Consent{
		RequestID: fill(16, 1), RequestHash: fill(32, 0xB2), Nonce: fill(32, 0xC3),
		Amount: 1234, Currency: "EUR", MerchantID: "grocer-1",
	}
}

func sampleAuthProof() *record.AuthProof {
	return &record.AuthProof{Nonce: fill(32, 0xA1), Role: record.RoleShopper, EID: fill(16, 0xE1), PeerEID: fill(16, 0xE2)}
}

func sampleRefund() *record.RefundRequest {
	return &record.RefundRequest{RefundID: fill(16, 4), RequestID: fill(16, 1), Amount: 200, Currency: "EUR"}
}

func samplePaymentRequest(items int) *record.PaymentRequest {
	r := &record.PaymentRequest{
		RequestID: fill(16, 1), SessionID: fill(16, 2), PayerCardID: "8986001234567890120",
		MerchantID: "grocer-1", Currency: "EUR",
	}
	for i := range items {
		r.Items = append(r.Items, record.Item{SKU: "sku-" + strings.Repeat("x", i%40), Quantity: uint64(i + 1)})
		r.Amount += 100
	}
	if items == 0 {
		r.Amount = 999
	}
	return r
}

func payload(t testing.TB, r record.Record) []byte {
	t.Helper()
	b, err := record.Marshal(r)
	require.NoError(t, err)
	return b
}

// apdu builds a short case 3 or 4 command from a header in hexadecimal and
// its data.
func apdu(header string, data []byte, le string) string {
	return header + lc(data) + hexOf(data) + le
}

// TestStatusWords sends one command to a personalised, selected card (after
// the commands of pre) and checks the status word and, where given, the
// data.
func TestStatusWords(t *testing.T) {
	consent := payload(t, sampleConsent())
	withHeader := sampleAuthProof()
	withHeader.CardID = testICCID
	withHeader.Counter = 7
	headerPayload := payload(t, withHeader)
	tooLong := "80500300" + "00" + "2001" + strings.Repeat("00", 0x2001)
	// The consent with a key it does not have (20, after its others), and
	// with its amount (1234) in four octets where two hold it: each
	// decodes into a valid consent, which the card refuses for its bytes.
	unknownKey := append([]byte{consent[0] + 1}, consent[1:]...)
	unknownKey = append(unknownKey, 0x14, 0x00)
	amount := bytes.Index(consent, []byte{0x06, 0x19, 0x04, 0xD2})
	require.Positive(t, amount)
	longAmount := slices.Concat(consent[:amount], []byte{0x06, 0x1A, 0, 0, 0x04, 0xD2}, consent[amount+4:])

	tests := []struct {
		name  string
		reset bool     // power cycle before pre
		pre   []string // commands sent first, their answers ignored
		cmd   string
		sw    uint16
		data  string // expected data, when not empty
	}{
		// Parser and dispatcher.
		{name: "three octets", cmd: "00A404", sw: 0x6700},
		{name: "Lc longer than data", cmd: "00CA010102AA", sw: 0x6700},
		{name: "Lc shorter than data", cmd: "00CA010101AABBCC", sw: 0x6700},
		{name: "extended Lc of zero", cmd: "00CA01010000000102", sw: 0x6700},
		{name: "truncated extended length", cmd: "00CA01010001", sw: 0x6700},
		{name: "extended Lc mismatch", cmd: "00DA0101000005AABB", sw: 0x6700},
		{name: "class FF", cmd: "FFCA010100", sw: 0x6E00},
		{name: "secure messaging class", cmd: "0CCA010100", sw: 0x6E00},
		{name: "logical channel 1", cmd: "01CA010100", sw: 0x6E00},
		{name: "ISO instruction under proprietary class", cmd: "80CA010100", sw: 0x6E00},
		{name: "proprietary instruction under ISO class", cmd: apdu("00500300", consent, "00"), sw: 0x6E00},
		{name: "READ BINARY not supported", cmd: "00B0000000", sw: 0x6D00},
		{name: "unknown instruction", cmd: "00FF000000", sw: 0x6D00},
		{name: "not selected", reset: true, cmd: "00CA010100", sw: 0x6985},
		{name: "chained link before SELECT", reset: true, cmd: "9050030001A8", sw: 0x6985},
		{name: "chained PUT DATA before SELECT", reset: true, cmd: "10DA010101AA", sw: 0x6985},
		{name: "GET RESPONSE before SELECT", reset: true, cmd: "00C0000000", sw: 0x6985},
		{name: "unknown instruction before SELECT", reset: true, cmd: "00B0000000", sw: 0x6D00},
		{name: "ISO instruction under proprietary class before SELECT", reset: true, cmd: "80CA010100", sw: 0x6E00},
		{name: "class FF before SELECT", reset: true, cmd: "FFCA010100", sw: 0x6E00},
		{name: "three octets before SELECT", reset: true, cmd: "00A404", sw: 0x6700},
		{name: "select after a chained link before SELECT", reset: true, pre: []string{"9050030001A8"}, cmd: selectAID, sw: 0x9000},
		{name: "data over the limit", cmd: tooLong, sw: 0x6700},

		// SELECT.
		{name: "select FCI", cmd: selectAID, sw: 0x9000, data: "6F11 8407F0434153494D01 A506 800101 810107"},
		{name: "select no data", cmd: "00A4040C07F0434153494D01", sw: 0x9000},
		{name: "select after reset", reset: true, cmd: selectAID, sw: 0x9000},
		{name: "select other AID", cmd: "00A4040007F0434153494D0200", sw: 0x6A82},
		{name: "select AID prefix", cmd: "00A4040006F0434153494D00", sw: 0x6A82},
		{name: "select by file ID", cmd: "00A40000023F0000", sw: 0x6A86},
		{name: "select next occurrence", cmd: "00A4040207F0434153494D0100", sw: 0x6A86},

		// GET DATA.
		{name: "get ICCID", cmd: "00CA010100", sw: 0x9000, data: hexOf([]byte(testICCID))},
		{name: "get counter", cmd: "00CA010400", sw: 0x9000, data: "0000000000000000"},
		{name: "get PIN status", cmd: "00CA010500", sw: 0x9000, data: "0303"},
		{name: "get PUK status", cmd: "00CA010600", sw: 0x9000, data: "0303"},
		{name: "get life cycle", cmd: "00CA010800", sw: 0x9000, data: "07"},
		{name: "get ICCID, Le 5", cmd: "00CA010105", sw: 0x610F, data: hexOf([]byte(testICCID[:5]))},
		{name: "get ICCID, case 1", cmd: "00CA0101", sw: 0x6114},
		{name: "get certificate, short Le", cmd: "00CA010200", sw: 0x6100},
		{name: "get advertising secret after activation", cmd: "00CA011000", sw: 0x6982},
		{name: "get unknown tag", cmd: "00CA0F0F00", sw: 0x6A88},
		{name: "get PIN (write-only)", cmd: "00CA012000", sw: 0x6A88},
		{name: "get data with data", cmd: "00CA010101AA00", sw: 0x6700},
		{name: "get data chained", cmd: "10CA010100", sw: 0x6884},

		// GET RESPONSE.
		{name: "get response with nothing pending", cmd: "00C0000000", sw: 0x6985},
		{name: "get response P1", pre: []string{"00CA0101"}, cmd: "00C0010000", sw: 0x6A86},
		{name: "get response after case 1", pre: []string{"00CA0101"}, cmd: "00C0000014", sw: 0x9000, data: hexOf([]byte(testICCID))},
		{name: "get response in parts", pre: []string{"00CA010105"}, cmd: "00C0000005", sw: 0x610A, data: hexOf([]byte(testICCID[5:10]))},
		{name: "get response cleared by another command", pre: []string{"00CA0101", "00CA010800"}, cmd: "00C0000014", sw: 0x6985},
		{name: "get response without Le", pre: []string{"00CA0101"}, cmd: "00C00000", sw: 0x6700},
		{name: "get response with data", pre: []string{"00CA0101"}, cmd: "00C0000001AA14", sw: 0x6700},
		{name: "get response under proprietary class", pre: []string{"00CA0101"}, cmd: "80C0000014", sw: 0x6E00},
		{name: "get response chained", pre: []string{"00CA0101"}, cmd: "10C0000014", sw: 0x6884},
		{name: "get response chained under proprietary class", pre: []string{"00CA0101"}, cmd: "90C0000014", sw: 0x6E00},
		{name: "get response after one under another class", pre: []string{"00CA0101", "80C0000014"}, cmd: "00C0000014", sw: 0x6985},
		{name: "get response after a chained one", pre: []string{"00CA0101", "10C0000014"}, cmd: "00C0000014", sw: 0x6985},
		{name: "get response after one without Le", pre: []string{"00CA0101", "00C00000"}, cmd: "00C0000014", sw: 0x6985},
		{name: "get response after one with data", pre: []string{"00CA0101", "00C0000001AA14"}, cmd: "00C0000014", sw: 0x6985},

		// Personalisation is over.
		{name: "put data after activation", cmd: apdu("00DA0101", []byte(testICCID), ""), sw: 0x6985},
		{name: "put no chain after activation", cmd: "00DA0107", sw: 0x6985},
		{name: "generate key after activation", cmd: "0047800000", sw: 0x6985},
		{name: "generate key P1", cmd: "0047000000", sw: 0x6A86},
		{name: "activate twice", cmd: "00440000", sw: 0x6985},
		{name: "activate P1", cmd: "00440100", sw: 0x6A86},

		// VERIFY.
		{name: "verify wrong PIN", cmd: "0020008006313131313131", sw: 0x63C2},
		{name: "verify right PIN", cmd: "0020008006313233343536", sw: 0x9000},
		{name: "verify status, not verified", cmd: "00200080", sw: 0x63C3},
		{name: "verify status, verified", pre: []string{"0020008006313233343536"}, cmd: "00200080", sw: 0x9000},
		{name: "verify status after a wrong PIN", pre: []string{"0020008006313131313131"}, cmd: "00200080", sw: 0x63C2},
		{name: "verify three digits", cmd: "0020008003313233", sw: 0x6A80},
		{name: "verify thirteen digits", cmd: "002000800D31323334353637383930313233", sw: 0x6A80},
		{name: "verify padded PIN", cmd: "0020008008313233343536FFFF", sw: 0x6A80},
		{name: "verify P2", cmd: "0020008106313233343536", sw: 0x6A86},
		{name: "verify P1", cmd: "0020010006313233343536", sw: 0x6A86},
		{name: "verification cleared by a malformed VERIFY", pre: []string{"0020008006313233343536", "00200080023132"}, cmd: "00200080", sw: 0x63C3},
		{name: "verification cleared by a wrong PIN", pre: []string{"0020008006313233343536", "0020008006313131313131"}, cmd: "00200080", sw: 0x63C2},
		{name: "verification cleared by SELECT", pre: []string{"0020008006313233343536", selectAID}, cmd: "00200080", sw: 0x63C3},
		{name: "verification cleared by a VERIFY of the PIN with a wrong P1", pre: []string{"0020008006313233343536", "0020018006313131313131"}, cmd: "00200080", sw: 0x63C3},
		{name: "verification cleared by a chained VERIFY of the PIN", pre: []string{"0020008006313233343536", "1020008006313233343536"}, cmd: "00200080", sw: 0x63C3},
		{name: "verification cleared by a VERIFY of the PIN that is too long", pre: []string{"0020008006313233343536", "00200080" + "00" + "2001" + strings.Repeat("31", 0x2001)}, cmd: "00200080", sw: 0x63C3},
		{name: "verification cleared by a VERIFY of the PIN in another class", pre: []string{"0020008006313233343536", "8020008006313233343536"}, cmd: "00200080", sw: 0x63C3},
		{name: "verification kept by a VERIFY of another reference", pre: []string{"0020008006313233343536", "0020008106313233343536"}, cmd: "00200080", sw: 0x9000},
		{name: "verification cleared by a CHANGE with a wrong PIN", pre: []string{"0020008006313233343536", "0024008012313131313131FFFFFFFFFFFF373737373737"}, cmd: "00200080", sw: 0x63C2},
		{name: "verification kept by a malformed CHANGE", pre: []string{"0020008006313233343536", "002400800C313233343536373737373737"}, cmd: "00200080", sw: 0x9000},
		{name: "verification kept by a CHANGE", pre: []string{"0020008006313233343536", "0024008012313233343536FFFFFFFFFFFF373737373737"}, cmd: "00200080", sw: 0x9000},
		{name: "verification cleared by RESET RETRY COUNTER", pre: []string{"0020008006313233343536", "002C0180083132333435363738"}, cmd: "00200080", sw: 0x63C3},
		{name: "verification cleared by a wrong PUK", pre: []string{"0020008006313233343536", "002C0180083131313131313131"}, cmd: "00200080", sw: 0x63C3},
		{name: "verification cleared by RESET RETRY COUNTER with the PUK blocked", pre: []string{"002C0180083131313131313131", "002C0180083131313131313131", "002C0180083131313131313131", "0020008006313233343536", "002C0180083132333435363738"}, cmd: "00200080", sw: 0x63C3},
		{name: "verification kept by a malformed RESET RETRY COUNTER", pre: []string{"0020008006313233343536", "002C01800731323334353637"}, cmd: "00200080", sw: 0x9000},

		// CHANGE REFERENCE DATA.
		{name: "change PIN", cmd: "002400801231323334353" + "6FFFFFFFFFFFF" + "373737373737", sw: 0x9000},
		{name: "change PIN, wrong old", cmd: "0024008012313131313131FFFFFFFFFFFF373737373737", sw: 0x63C2},
		{name: "change PIN, old not padded", cmd: "002400800C313233343536373737373737", sw: 0x6A80},
		{name: "change PIN, digit after the padding", cmd: "0024008012313233343536FF35FFFFFFFF373737373737", sw: 0x6A80},
		{name: "change PIN, new too short", cmd: "002400800F313233343536FFFFFFFFFFFF373737", sw: 0x6A80},
		{name: "change PIN, P2", cmd: "0024008112313233343536FFFFFFFFFFFF373737373737", sw: 0x6A86},

		// RESET RETRY COUNTER.
		{name: "unblock with new PIN", cmd: "002C00800E3132333435363738373737373737", sw: 0x9000},
		{name: "unblock keeping PIN", cmd: "002C0180083132333435363738", sw: 0x9000},
		{name: "unblock wrong PUK", cmd: "002C0180083131313131313131", sw: 0x63C2},
		{name: "unblock PUK of 7 digits", cmd: "002C018007313233343536 37", sw: 0x6A80},
		{name: "unblock new PIN too short", cmd: "002C00800B3132333435363738373737", sw: 0x6A80},
		{name: "unblock P1", cmd: "002C0280083132333435363738", sw: 0x6A86},

		// SIGN RECORD.
		{name: "consent without PIN", cmd: apdu("80500300", consent, "00"), sw: 0x6982},
		{name: "consent without PIN is refused before its data is read", cmd: "8050030003010203 00", sw: 0x6982},
		{name: "consent without PIN or data", cmd: "8050030000", sw: 0x6982},
		{name: "consent after reset", reset: true, pre: []string{selectAID, "0020008006313233343536", selectAID}, cmd: apdu("80500300", consent, "00"), sw: 0x6982},
		{name: "consent after PIN", pre: []string{"0020008006313233343536"}, cmd: apdu("80500300", consent, "00"), sw: 0x9000},
		{name: "second consent needs the PIN again", pre: []string{"0020008006313233343536", apdu("80500300", consent, "00")}, cmd: apdu("80500300", consent, "00"), sw: 0x6982},
		{name: "record with a card header", cmd: apdu("80500100", headerPayload, "00"), sw: 0x6A80},
		{name: "record of the wrong type", cmd: apdu("80500100", consent, "00"), sw: 0x6A80},
		{name: "record that is not CBOR", cmd: "8050010003010203 00", sw: 0x6A80},
		{name: "record with an unknown key", pre: []string{"0020008006313233343536"}, cmd: apdu("80500300", unknownKey, "00"), sw: 0x6A80},
		{name: "record not in its deterministic encoding", pre: []string{"0020008006313233343536"}, cmd: apdu("80500300", longAmount, "00"), sw: 0x6A80},
		{name: "record without data", cmd: "8050010000", sw: 0x6700},
		{name: "receipt type", cmd: apdu("80500500", consent, "00"), sw: 0x6A86},
		{name: "record type zero", cmd: apdu("80500000", consent, "00"), sw: 0x6A86},
		{name: "record P2", cmd: apdu("80500301", consent, "00"), sw: 0x6A86},
		{name: "chain broken by another instruction", pre: []string{"9050030001A8"}, cmd: "00CA010100", sw: 0x6883},
		{name: "chain broken by GET RESPONSE", pre: []string{"9050030001A8"}, cmd: "00C0000000", sw: 0x6883},
		{name: "chain broken by an unknown instruction", pre: []string{"9050030001A8"}, cmd: "00B0000000", sw: 0x6883},
		{name: "chain dropped after a break", pre: []string{"9050030001A8", "00CA010100"}, cmd: "00CA010100", sw: 0x9000},
		{name: "chain broken by another P1", pre: []string{"9050030001A8"}, cmd: apdu("80500100", consent, "00"), sw: 0x6883},
		{name: "chain broken by another P2", pre: []string{"9050030001A8"}, cmd: apdu("80500301", consent, "00"), sw: 0x6883},
		// In a chain, a command that does not parse is 6700 and one of an
		// unsupported class 6E00, as anywhere; any other command that does
		// not go on with the chain is 6883. Each drops the chain.
		{name: "malformed command in a chain", pre: []string{"9050030001A8"}, cmd: "00A404", sw: 0x6700},
		{name: "malformed link in a chain", pre: []string{"9050030001A8"}, cmd: "9050030002A8", sw: 0x6700},
		{name: "chain dropped after a malformed command", pre: []string{"9050030001A8", "00A404"}, cmd: "00CA010100", sw: 0x9000},
		{name: "class FF in a chain", pre: []string{"9050030001A8"}, cmd: "FF50030001A8", sw: 0x6E00},
		{name: "secure messaging link in a chain", pre: []string{"9050030001A8"}, cmd: "9C50030001A8", sw: 0x6E00},
		{name: "chain dropped after an unsupported class", pre: []string{"9050030001A8", "FFCA010100"}, cmd: "00CA010100", sw: 0x9000},
		{name: "chain broken by SELECT", pre: []string{"9050030001A8"}, cmd: selectAID, sw: 0x6883},
		{name: "chain broken by a link of another class", pre: []string{"9050030001A8"}, cmd: "1050030001A8", sw: 0x6883},
		{name: "chain broken by a last link of another class", pre: []string{"9050030001A8"}, cmd: apdu("00500300", consent, "00"), sw: 0x6883},
		{name: "chain broken by a link of an instruction without chaining", pre: []string{"9050030001A8"}, cmd: "10CA010100", sw: 0x6883},
		{name: "chain over the limit", pre: []string{"9050030001A8"}, cmd: "9050030000" + "2000" + strings.Repeat("00", 0x2000), sw: 0x6700},
		{name: "first link over the limit", cmd: "9050030000" + "2001" + strings.Repeat("00", 0x2001), sw: 0x6700},
		{name: "no chain after a first link over the limit", pre: []string{"9050030000" + "2001" + strings.Repeat("00", 0x2001)}, cmd: "00CA010100", sw: 0x9000},
		{name: "answer cut to Le", cmd: "00CA010113", sw: 0x6101, data: hexOf([]byte(testICCID[:19]))},
		{name: "chain dropped after going over the limit", pre: []string{"9050030001A8", "9050030000" + "2000" + strings.Repeat("00", 0x2000)}, cmd: "00CA010100", sw: 0x9000},

		// INTERNAL AUTHENTICATE.
		{name: "authenticate", cmd: "008800002000112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00", sw: 0x9000},
		{name: "authenticate short challenge", cmd: "008800000401020304 00", sw: 0x6A80},
		{name: "authenticate P1", cmd: "0088010008010203040506070800", sw: 0x6A86},

		// GET ADVERT.
		{name: "advert shopper", cmd: "8052010004002CF160 1F", sw: 0x9000},
		{name: "advert role 3", cmd: "8052030004002CF16000", sw: 0x6A86},
		{name: "advert undefined flag", cmd: "8052010404002CF16000", sw: 0x6A86},
		{name: "advert epoch of 3 octets", cmd: "80520100032CF16000", sw: 0x6700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newCard(t, simcardtest.Options{})
			if tt.reset {
				v.Applet.Reset()
			}
			for _, p := range tt.pre {
				tx(t, v.Applet, p)
			}
			data, sw := tx(t, v.Applet, tt.cmd)
			assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
			if tt.data != "" {
				assert.Equal(t, unhex(t, tt.data), data)
			}
		})
	}
}

// TestBlankCardStatusWords checks the personalisation state.
func TestBlankCardStatusWords(t *testing.T) {
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherCert, err := testIssuer(t).IssueCard(otherKey.Public(), testICCID, pki.IssueOptions{})
	require.NoError(t, err)
	tests := []struct {
		name string
		pre  []string
		cmd  string
		sw   uint16
		data string
	}{
		{name: "life cycle", cmd: "00CA010800", sw: 0x9000, data: "01"},
		{name: "FCI", cmd: selectAID, sw: 0x9000, data: "6F11 8407F0434153494D01 A506 800101 810101"},
		{name: "no ICCID yet", cmd: "00CA010100", sw: 0x6A88},
		{name: "no key yet", cmd: "00CA010300", sw: 0x6A88},
		{name: "no PIN yet", cmd: "00CA010500", sw: 0x6A88},
		{name: "no PUK yet", cmd: "00CA010600", sw: 0x6A88},
		{name: "verify before activation", cmd: "0020008006313233343536", sw: 0x6985},
		{name: "sign before activation", cmd: apdu("80500100", payload(t, sampleAuthProof()), "00"), sw: 0x6985},
		{name: "advert before activation", cmd: "8052010004002CF16000", sw: 0x6985},
		{name: "authenticate before activation", cmd: "0088000008010203040506070800", sw: 0x6985},
		{name: "unblock before activation", cmd: "002C0180083132333435363738", sw: 0x6985},
		{name: "put ICCID", cmd: apdu("00DA0101", []byte(testICCID), ""), sw: 0x9000},
		{name: "put ICCID with a wrong check digit", cmd: apdu("00DA0101", []byte("89014103211118510721"), ""), sw: 0x6A80},
		{name: "put ICCID of 18 digits", cmd: apdu("00DA0101", []byte("890141032111185107"), ""), sw: 0x6A80},
		{name: "put certificate before the key", pre: []string{apdu("00DA0101", []byte(testICCID), "")}, cmd: "00DA010203308200", sw: 0x6985},
		{name: "put certificate before the ICCID", pre: []string{"0047800000"}, cmd: "00DA0102" + "00" + hexFour(len(otherCert)) + hexOf(otherCert), sw: 0x6985},
		{name: "put certificate of another key", pre: []string{apdu("00DA0101", []byte(testICCID), ""), "0047800000"},
			cmd: "00DA0102" + "00" + hexFour(len(otherCert)) + hexOf(otherCert), sw: 0x6A80},
		{name: "put chain that is not DER", cmd: "00DA010703300100", sw: 0x6A80},
		{name: "put PIN", cmd: "00DA012006313233343536", sw: 0x9000},
		{name: "put PIN of 3 digits", cmd: "00DA012003313233", sw: 0x6A80},
		{name: "put PUK of 7 digits", cmd: "00DA01210731323334353637", sw: 0x6A80},
		{name: "put PUK", cmd: "00DA0121083132333435363738", sw: 0x9000},
		{name: "put unknown tag", cmd: "00DA0F0F0101", sw: 0x6A88},
		{name: "put counter", cmd: "00DA0104080000000000000009", sw: 0x6A88},
		{name: "put nothing", cmd: "00DA0101", sw: 0x6700},
		{name: "put no certificate", cmd: "00DA0102", sw: 0x6700},
		{name: "put no chain: deletes it, none stored", cmd: "00DA0107", sw: 0x9000},
		{name: "put no chain, case 2", cmd: "00DA010700", sw: 0x9000},
		{name: "generate key", cmd: "0047800000", sw: 0x9000},
		{name: "generate key, case 1", cmd: "00478000", sw: 0x6146},
		{name: "generate key, extended Le", cmd: "00478000000000", sw: 0x9000},
		{name: "generate key with data", cmd: "004780000101", sw: 0x6700},
		{name: "activate incomplete", cmd: "00440000", sw: 0x6985},
		{name: "activate with data", cmd: "004400000101", sw: 0x6700},
		{name: "advertising secret", cmd: "00CA011000", sw: 0x9000},
		{name: "chained put data", cmd: "10DA01010438393031", sw: 0x9000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newBlank(t)
			for _, p := range tt.pre {
				tx(t, a, p)
			}
			data, sw := tx(t, a, tt.cmd)
			assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
			if tt.data != "" {
				assert.Equal(t, unhex(t, tt.data), data)
			}
		})
	}
}

func hexFour(n int) string { return hexOf([]byte{byte(n >> 8), byte(n)}) }

// TestPending256: an answer with 256 octets left after the Ne sent says so
// with 6100, and GET RESPONSE 00 returns the 256 with 9000.
func TestPending256(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	cert := v.Enrolment.Chain[0]
	require.Greater(t, len(cert), 256)
	ne := len(cert) - 256 // extended Le: the certificate may be over 512 octets
	data, sw := tx(t, v.Applet, "00CA0102"+"00"+hexFour(ne))
	require.Equal(t, uint16(0x6100), sw)
	assert.Equal(t, cert[:ne], data)
	data, sw = tx(t, v.Applet, "00C0000000")
	require.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, cert[ne:], data)
}

// TestActivateIncomplete: ACTIVATE of a card that holds its ICCID, its key
// and its certificate answers 6985 until both the PIN and the PUK are put,
// and leaves it in personalisation; with both it answers 9000.
func TestActivateIncomplete(t *testing.T) {
	const putPIN, putPUK = "00DA012006313233343536", "00DA0121083132333435363738"
	for name, puts := range map[string][]string{"no PIN or PUK": nil, "no PUK": {putPIN}, "no PIN": {putPUK}} {
		t.Run(name, func(t *testing.T) {
			a, _ := certifiedBlank(t)
			for _, p := range puts {
				_, sw := tx(t, a, p)
				require.Equal(t, uint16(0x9000), sw)
			}
			_, sw := tx(t, a, "00440000")
			assert.Equal(t, uint16(0x6985), sw)
			life, sw := tx(t, a, "00CA010800")
			require.Equal(t, uint16(0x9000), sw)
			assert.Equal(t, []byte{0x01}, life, "still in personalisation")
		})
	}
	a, _ := certifiedBlank(t)
	tx(t, a, putPIN)
	tx(t, a, putPUK)
	_, sw := tx(t, a, "00440000")
	assert.Equal(t, uint16(0x9000), sw)
}

// TestMalformedVerifyClearsPIN checks that a VERIFY of the PIN that does not
// parse (its Lc does not match the octets that follow) ends the
// verification like any other failed VERIFY of the PIN, and that a command
// that does not parse and is no VERIFY of the PIN leaves it as it was
// (PROTOCOL.md §2.5).
func TestMalformedVerifyClearsPIN(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		sw   uint16 // the status query's answer after cmd
	}{
		{name: "Lc above the data", cmd: "0020008006313233", sw: 0x63C3},
		{name: "Lc one above the data", cmd: "0020008007313233343536", sw: 0x63C3},
		{name: "extended Lc above the data", cmd: "00200080000006313233", sw: 0x63C3},
		{name: "extended Lc truncated", cmd: "002000800000", sw: 0x63C3},
		{name: "another class", cmd: "8020008006313233", sw: 0x63C3},
		{name: "chained", cmd: "1020008006313233", sw: 0x63C3},
		{name: "another reference", cmd: "0020008106313233", sw: 0x9000},
		{name: "SIGN RECORD", cmd: "8050030006A8", sw: 0x9000},
		{name: "CHANGE REFERENCE DATA", cmd: "0024008012313233343536FFFFFFFFFFFF", sw: 0x9000},
		{name: "RESET RETRY COUNTER", cmd: "002C0180093132333435363738", sw: 0x9000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkPINAfter(t, tt.cmd, 0x6700, tt.sw) })
	}
}

// TestRefusedResetKeepsPIN: a RESET RETRY COUNTER or CHANGE REFERENCE
// DATA whose data has the right format, refused for its class, chaining
// or P2 before any PUK or PIN is compared, leaves a verified PIN verified;
// one that reaches the PUK check clears it, the PUK wrong or right
// (PROTOCOL.md §2.5).
func TestRefusedResetKeepsPIN(t *testing.T) {
	const wrongPUK, rightPUK = "083939393939393939", "083132333435363738"
	tests := []struct {
		name   string
		cmd    string
		sw     uint16 // cmd's answer
		status uint16 // the status query's answer after cmd
	}{
		{name: "RESET, another class", cmd: "802C0180" + wrongPUK, sw: 0x6E00, status: 0x9000},
		{name: "RESET, chained", cmd: "102C0180" + wrongPUK, sw: 0x6884, status: 0x9000},
		{name: "RESET, another reference", cmd: "002C0181" + wrongPUK, sw: 0x6A86, status: 0x9000},
		{name: "CHANGE, another class", cmd: "8024008010313233343536FFFFFFFFFFFF31323334", sw: 0x6E00, status: 0x9000},
		{name: "CHANGE, chained", cmd: "1024008010313233343536FFFFFFFFFFFF31323334", sw: 0x6884, status: 0x9000},
		{name: "RESET, wrong PUK", cmd: "002C0180" + wrongPUK, sw: 0x63C2, status: 0x63C3},
		{name: "RESET, right PUK", cmd: "002C0180" + rightPUK, sw: 0x9000, status: 0x63C3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkPINAfter(t, tt.cmd, tt.sw, tt.status) })
	}
}

// checkPINAfter verifies the PIN of a new operational card, sends cmd,
// which must answer sw, and checks that the PIN status query then answers
// status and that a consent is signed (9000) when it is 9000, the
// verification kept, and refused (6982) otherwise.
func checkPINAfter(t *testing.T, cmd string, sw, status uint16) {
	t.Helper()
	consent := apdu("80500300", payload(t, sampleConsent()), "00")
	v := newCard(t, simcardtest.Options{})
	_, got := tx(t, v.Applet, "0020008006313233343536")
	require.Equal(t, uint16(0x9000), got)
	_, got = tx(t, v.Applet, cmd)
	require.Equalf(t, sw, got, "status word %04X", got)
	_, got = tx(t, v.Applet, "00200080")
	assert.Equalf(t, status, got, "status query: %04X", got)
	want := uint16(0x9000) // signed: the verification was kept
	if status != 0x9000 {
		want = 0x6982
	}
	_, got = tx(t, v.Applet, consent)
	assert.Equalf(t, want, got, "consent: %04X", got)
}

// TestFailedSelectKeepsPIN: a SELECT that fails (6A82 for another AID,
// 6A86 for its P1 or P2) selects nothing, so the applet stays selected
// and a verified PIN stays verified, as ISO/IEC 7816-4 has a failed
// selection keep the current one; a SELECT of the applet that succeeds
// clears it (PROTOCOL.md §2.5).
func TestFailedSelectKeepsPIN(t *testing.T) {
	tests := []struct {
		name   string
		cmd    string
		sw     uint16 // cmd's answer
		status uint16 // the status query's answer after cmd
	}{
		{name: "other AID", cmd: "00A4040007F0434153494D0200", sw: 0x6A82, status: 0x9000},
		{name: "AID prefix", cmd: "00A4040006F0434153494D00", sw: 0x6A82, status: 0x9000},
		{name: "wrong P1", cmd: "00A4000007F0434153494D0100", sw: 0x6A86, status: 0x9000},
		{name: "applet", cmd: "00A4040007F0434153494D0100", sw: 0x9000, status: 0x63C3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkPINAfter(t, tt.cmd, tt.sw, tt.status) })
	}
}
