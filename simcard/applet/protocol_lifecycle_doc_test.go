package applet_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests of this file pin clauses of PROTOCOL.md §2.1 to §2.5 that no
// other test asserts: each quotes the clause it pins.

const (
	verifyPIN = "0020008006313233343536"     // VERIFY 123456
	keepPIN   = "002C0180083132333435363738" // RESET RETRY COUNTER P1 01, PUK 12345678
)

// cardStates returns the stored state of a personalised card (PIN 123456,
// PUK 12345678) and that state back in personalisation: a card that
// ACTIVATE would take.
func cardStates(t *testing.T) (operational, personalisation []byte) {
	t.Helper()
	st, err := newCard(t, simcardtest.Options{}).Storage.Load()
	require.NoError(t, err)
	return st, personalising(st)
}

// TestProtocolNothingSelectedAtPowerOn pins §2.1 "After power-on or reset
// nothing is selected: every instruction of §2.3 but SELECT answers `6985`
// until SELECT succeeds": each instruction, which the selected card takes
// (9000), answers 6985 on a card just powered on and still after a SELECT
// of another AID (6A82), and is taken once the applet is selected.
func TestProtocolNothingSelectedAtPowerOn(t *testing.T) {
	operational, personalisation := cardStates(t)
	tests := []struct {
		name  string
		state []byte
		cmd   string
	}{
		{"GET DATA", operational, "00CA010800"},
		{"VERIFY", operational, verifyPIN},
		{"CHANGE REFERENCE DATA", operational, "0024008012313233343536FFFFFFFFFFFF373737373737"},
		{"RESET RETRY COUNTER", operational, keepPIN},
		{"SIGN RECORD", operational, apdu("80500100", payload(t, sampleAuthProof()), "00")},
		{"INTERNAL AUTHENTICATE", operational, "0088000008010203040506070800"},
		{"GET ADVERT", operational, "8052010004002CF1601F"},
		{"PUT DATA", personalisation, apdu("00DA0101", []byte(testICCID), "")},
		{"GENERATE KEY", personalisation, "0047800000"},
		{"ACTIVATE", personalisation, "00440000"},
		{"GET DATA advertising secret", personalisation, "00CA011000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(applet.Memory)
			require.NoError(t, m.Store(tt.state))
			a, err := applet.New(m, applet.Options{})
			require.NoError(t, err)
			_, sw := tx(t, a, tt.cmd)
			assert.Equalf(t, uint16(0x6985), sw, "at power-on: %04X", sw)
			_, sw = tx(t, a, "00A4040007F0434153494D0200")
			require.Equalf(t, uint16(0x6A82), sw, "SELECT of another AID: %04X", sw)
			_, sw = tx(t, a, tt.cmd)
			assert.Equalf(t, uint16(0x6985), sw, "after a SELECT that failed: %04X", sw)
			_, sw = tx(t, a, selectAID)
			require.Equal(t, uint16(0x9000), sw)
			_, sw = tx(t, a, tt.cmd)
			assert.Equalf(t, uint16(0x9000), sw, "once selected: %04X", sw)
		})
	}
}

// TestProtocolCommandDataAtMost8192 pins §2.1 "Command data, chained or
// not, is at most 8192 octets": 8192 octets, in one command, over a chain
// or in its first link, reach SIGN RECORD, which refuses them as no record
// (6A80), not for their length (6700); each link before the last answers
// 9000.
func TestProtocolCommandDataAtMost8192(t *testing.T) {
	zeros := func(n int) string { return strings.Repeat("00", n) }
	tests := []struct {
		name string
		cmds []string
	}{
		{"one command", []string{"8050010000" + "2000" + zeros(8192) + "0000"}},
		{"a chain", []string{"9050010001" + "00", "8050010000" + "1FFF" + zeros(8191) + "0000"}},
		{"the first link", []string{"9050010000" + "2000" + zeros(8192), "8050010000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newCard(t, simcardtest.Options{})
			last := len(tt.cmds) - 1
			for _, c := range tt.cmds[:last] {
				_, sw := tx(t, v.Applet, c)
				require.Equalf(t, uint16(0x9000), sw, "link: %04X", sw)
			}
			_, sw := tx(t, v.Applet, tt.cmds[last])
			assert.Equalf(t, uint16(0x6A80), sw, "status word %04X", sw)
		})
	}
}

// TestProtocolAnswerWithoutLe pins §2.1 "When the answer has more octets
// than Ne (Ne is 0 for cases 1 and 3), the card sends the first Ne octets
// and `61xx`": GET ADVERT and SIGN RECORD without Le (case 3) answer 61xx
// and no data, and GET RESPONSE returns their answer.
func TestProtocolAnswerWithoutLe(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	advert, sw := tx(t, v.Applet, "8052020004002CF1601F")
	require.Equal(t, uint16(0x9000), sw)
	require.Len(t, advert, 31)
	data, sw := tx(t, v.Applet, "8052020004002CF160")
	assert.Equalf(t, uint16(0x611F), sw, "GET ADVERT, case 3: %04X", sw)
	assert.Empty(t, data)
	data, sw = tx(t, v.Applet, "00C000001F")
	assert.Equal(t, uint16(0x9000), sw)
	assert.Equal(t, advert, data)

	data, sw = tx(t, v.Applet, apdu("80500100", payload(t, sampleAuthProof()), ""))
	require.Equalf(t, uint16(0x6100), sw&0xFF00, "SIGN RECORD, case 3: %04X", sw)
	assert.Empty(t, data)
	msg, sw := tx(t, v.Applet, "00C00000"+hexOf([]byte{byte(sw)}))
	require.Equal(t, uint16(0x9000), sw)
	var ap record.AuthProof
	require.NoError(t, record.Verify(msg, v.Enrolment.PublicKey, &ap))
	assert.Equal(t, record.CardHeader{CardID: testICCID, Counter: 1}, ap.CardHeader)
}

// TestProtocolOperationalRefusesPutData pins §2.2 "ACTIVATE moves it,
// once and for all, to the **operational** state (`07`): PUT DATA …
// answer[s] `6985`" and §2.4 "PUT DATA (personalisation only)" for every
// writable data object with a value the card in personalisation would
// take: each answers 6985 and changes nothing.
func TestProtocolOperationalRefusesPutData(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	cert, issuers := v.Enrolment.Chain[0], bytes.Join(v.Enrolment.Chain[1:], nil)
	for _, cmd := range []string{
		apdu("00DA0101", []byte("8901410321111851072"), ""), // another valid ICCID
		putExt("0102", cert),
		putExt("0107", issuers),
		apdu("00DA0120", []byte("999999"), ""),
		apdu("00DA0121", []byte("87654321"), ""),
	} {
		_, sw := tx(t, v.Applet, cmd)
		assert.Equalf(t, uint16(0x6985), sw, "%.8s…: %04X", cmd, sw)
	}
	assertStored(t, v.Applet, "0101", []byte(testICCID))
	assertStored(t, v.Applet, "0102", cert)
	assertStored(t, v.Applet, "0107", issuers)
	_, sw := tx(t, v.Applet, verifyPIN)
	assert.Equalf(t, uint16(0x9000), sw, "the PIN put at personalisation: %04X", sw)
	_, sw = tx(t, v.Applet, keepPIN)
	assert.Equalf(t, uint16(0x9000), sw, "the PUK put at personalisation: %04X", sw)
}

// TestProtocolPutPINSetsTriesToMaximum pins §2.4 "`0120` | PIN … | yes
// (tries set to the maximum)" and the same of `0121`, the PUK. A card in
// personalisation counts no tries (VERIFY and RESET RETRY COUNTER answer
// 6985), so the state is one stored with tries used.
func TestProtocolPutPINSetsTriesToMaximum(t *testing.T) {
	_, st := cardStates(t)
	st[offPINTries], st[offPUKTries] = 1, 0
	a := selectedOn(t, st)
	for _, tt := range []struct {
		tag, put string
		left     byte // the tries left stored
	}{
		{"0105", apdu("00DA0120", []byte("2468"), ""), 1},
		{"0106", apdu("00DA0121", []byte("87654321"), ""), 0},
	} {
		assertStored(t, a, tt.tag, []byte{tt.left, 3})
		_, sw := tx(t, a, tt.put)
		require.Equalf(t, uint16(0x9000), sw, "PUT DATA: %04X", sw)
		assertStored(t, a, tt.tag, []byte{3, 3})
	}
}

// TestProtocolBlockedPINAndPUK pins §2.5 "A blocked PUK leaves the card
// unable to sign consents for good if the PIN is blocked too": with both
// blocked the right PIN and the right PUK answer 6983 (step 1, "even for
// the right value") to every instruction that presents them, a consent
// 6982, and so after a power cycle.
func TestProtocolBlockedPINAndPUK(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	const wrongPIN, wrongPUK = "0020008006313131313131", "002C0180083131313131313131"
	expectAnswers(t, v.Applet, "blocking", []answer{
		{wrongPIN, 0x63C2}, {wrongPIN, 0x63C1}, {wrongPIN, 0x63C0},
		{wrongPUK, 0x63C2}, {wrongPUK, 0x63C1}, {wrongPUK, 0x63C0},
	})
	st, err := v.Storage.Load()
	require.NoError(t, err)
	for name, a := range map[string]*applet.Applet{"running": v.Applet, "after a power cycle": selectedOn(t, st)} {
		expectAnswers(t, a, name, []answer{
			{verifyPIN, 0x6983},
			{"00200080", 0x6983},
			{"0024008012313233343536FFFFFFFFFFFF373737373737", 0x6983},
			{keepPIN, 0x6983},
			{"002C00800C313233343536373832343638", 0x6983},
			{apdu("80500300", payload(t, sampleConsent()), "00"), 0x6982},
		})
		assertStored(t, a, "0105", []byte{0, 3})
		assertStored(t, a, "0106", []byte{0, 3})
	}
}

// TestProtocolRefusedFormatKeepsPIN pins §2.3 "CHANGE REFERENCE DATA …
// current PIN padded with `FF` to 12 octets ‖ new PIN (4–12 digits) …
// `6A80` format" and "RESET RETRY COUNTER … PUK (8 digits) ‖ new PIN (P1
// `00`), or PUK alone (P1 `01`) … `6A80` format", "P1 or P2 other than
// those listed answer `6A86`", and §2.5 "A command refused for its …
// P1, P2 or data format before any PIN or PUK is compared … leaves the
// verification as it was": the right PIN or PUK in the wrong form is
// refused, uncompared, and a verified PIN stays verified.
func TestProtocolRefusedFormatKeepsPIN(t *testing.T) {
	const pin, puk = "313233343536FFFFFFFFFFFF", "3132333435363738" // 123456 padded, 12345678
	thirteen := hexOf([]byte("1234567890123"))
	tests := []struct {
		name string
		cmd  string
		sw   uint16
	}{
		{"CHANGE, current PIN alone", "002400800C" + pin, 0x6A80},
		{"CHANGE, new PIN of 13 digits", "0024008019" + pin + thirteen, 0x6A80},
		{"CHANGE, new PIN padded", "0024008012" + pin + "32343638FFFF", 0x6A80},
		{"CHANGE, current PIN padded with 00", "0024008010" + "313233343536000000000000" + "32343638", 0x6A80},
		{"CHANGE, current PIN of 3 digits", "0024008010" + "313233FFFFFFFFFFFFFFFFFF" + "32343638", 0x6A80},
		{"CHANGE, P1 01", "0024018010" + pin + "32343638", 0x6A86},
		{"RESET, P1 00 with the PUK alone", "002C008008" + puk, 0x6A80},
		{"RESET, P1 01 with a new PIN", "002C01800C" + puk + "32343638", 0x6A80},
		{"RESET, new PIN of 13 digits", "002C008015" + puk + thirteen, 0x6A80},
		{"RESET, PUK of 9 digits", "002C018009" + puk + "39", 0x6A80},
		{"RESET, P1 02", "002C028008" + puk, 0x6A86},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkPINAfter(t, tt.cmd, tt.sw, 0x9000) })
	}
}

// TestProtocolPINFormat pins §2.3 "PIN digits (ASCII, 4–12, no
// padding)", §2.4 "`0120` | PIN, 4–12 ASCII digits" and "`0121` | PUK, 8
// ASCII digits" on the card: a PIN of 12 digits is put, set by CHANGE
// REFERENCE DATA and by RESET RETRY COUNTER, and verified; one of 13, and
// a PIN or PUK with an octet that is no ASCII digit, are refused (6A80),
// comparing nothing.
func TestProtocolPINFormat(t *testing.T) {
	expectAnswers(t, newBlank(t), "personalisation", []answer{
		{apdu("00DA0120", []byte("123456789012"), ""), 0x9000},
		{apdu("00DA0120", []byte("1234567890123"), ""), 0x6A80},
		{apdu("00DA0120", []byte("12345A"), ""), 0x6A80},
		{apdu("00DA0121", []byte("1234567A"), ""), 0x6A80},
	})
	v := newCard(t, simcardtest.Options{})
	expectAnswers(t, v.Applet, "operational", []answer{
		{apdu("00200080", []byte("12345A"), ""), 0x6A80},
		{apdu("002C0180", []byte("1234567A"), ""), 0x6A80},
	})
	assertStored(t, v.Applet, "0105", []byte{3, 3})
	assertStored(t, v.Applet, "0106", []byte{3, 3})
	expectAnswers(t, v.Applet, "operational", []answer{
		{apdu("00200080", []byte("111111111111"), ""), 0x63C2},
		{apdu("00240080", []byte("123456\xFF\xFF\xFF\xFF\xFF\xFF123456789012"), ""), 0x9000},
		{apdu("00200080", []byte("123456789012"), ""), 0x9000},
		{apdu("002C0080", []byte("12345678210987654321"), ""), 0x9000},
		{apdu("00200080", []byte("210987654321"), ""), 0x9000},
		{apdu("00200080", []byte("2109876543210"), ""), 0x6A80},
	})
}

// stored returns the data object tag (four hexadecimal digits) as GET
// DATA answers it, which must be 9000.
func stored(t *testing.T, a *applet.Applet, tag string) []byte {
	t.Helper()
	data, sw := getData(t, a, tag)
	require.Equalf(t, uint16(0x9000), sw, "GET DATA %s: %04X", tag, sw)
	return data
}

// answer is a command, in hexadecimal, and the status word it must get.
type answer struct {
	cmd string
	sw  uint16
}

// expectAnswers sends the commands of answers to a, in order, and checks
// the status word of each, stopping at the first that differs, as the
// commands after it would run on another state; name says which card it
// is.
func expectAnswers(t *testing.T, a *applet.Applet, name string, answers []answer) {
	t.Helper()
	for i, s := range answers {
		_, sw := tx(t, a, s.cmd)
		require.Equalf(t, s.sw, sw, "%s, command %d (%s): %04X", name, i, s.cmd, sw)
	}
}

// TestProtocolChangeRestoresTries pins §2.5 step 4, "on a match, restore
// the tries, store them, and only then answer `9000`", for CHANGE
// REFERENCE DATA ("as VERIFY for the current PIN", §2.3): after a wrong
// PIN, a change with the right one leaves all the tries, after a power
// cycle too, and the new PIN is the PIN.
func TestProtocolChangeRestoresTries(t *testing.T) {
	v := newCard(t, simcardtest.Options{})
	_, sw := tx(t, v.Applet, "0020008006313131313131")
	require.Equal(t, uint16(0x63C2), sw)
	_, sw = tx(t, v.Applet, "0024008012313233343536FFFFFFFFFFFF373737373737") // 123456 → 777777
	require.Equalf(t, uint16(0x9000), sw, "status word %04X", sw)
	assertStored(t, v.Applet, "0105", []byte{3, 3})
	st, err := v.Storage.Load()
	require.NoError(t, err)
	a := selectedOn(t, st)
	assertStored(t, a, "0105", []byte{3, 3})
	_, sw = tx(t, a, "0020008006373737373737")
	assert.Equalf(t, uint16(0x9000), sw, "the new PIN: %04X", sw)
}

// TestProtocolParametersNotListed pins §2.3 "P1 or P2 other than those
// listed answer `6A86`" for the P2 of ACTIVATE and GENERATE KEY (`00`):
// the card stays in personalisation, with its key.
func TestProtocolParametersNotListed(t *testing.T) {
	_, personalisation := cardStates(t)
	for name, cmd := range map[string]string{
		"ACTIVATE, P2 01":     "00440001",
		"GENERATE KEY, P2 01": "0047800100",
	} {
		t.Run(name, func(t *testing.T) {
			a := selectedOn(t, personalisation)
			key := stored(t, a, "0103")
			_, sw := tx(t, a, cmd)
			assert.Equalf(t, uint16(0x6A86), sw, "status word %04X", sw)
			assertStored(t, a, "0108", []byte{0x01})
			assertStored(t, a, "0103", key)
		})
	}
}

// TestProtocolDataObjectsNotWritable pins the columns of §2.4 that say
// "no": PUT DATA of the public key, the counter, the tries, the
// life-cycle state or the advertising secret answers `6A88` ("tag not
// writable", §2.3) and changes nothing, PUT DATA `0108` `07` activating
// nothing; GET DATA of the PUK answers `6A88`, as does that of the PUK
// tries before a PUK is put.
func TestProtocolDataObjectsNotWritable(t *testing.T) {
	_, personalisation := cardStates(t)
	a := selectedOn(t, personalisation)
	key, secret := stored(t, a, "0103"), stored(t, a, "0110")
	assert.Len(t, secret, 16, "the advertising secret")
	for _, put := range []struct {
		tag   string
		value []byte
	}{
		{"0103", append([]byte{4}, make([]byte, 64)...)},
		{"0104", []byte{0, 0, 0, 0, 0, 0, 0, 9}},
		{"0105", []byte{1, 3}},
		{"0106", []byte{1, 3}},
		{"0108", []byte{0x07}},
		{"0110", make([]byte, 16)},
	} {
		_, sw := tx(t, a, apdu("00DA"+put.tag, put.value, ""))
		assert.Equalf(t, uint16(0x6A88), sw, "PUT DATA %s: %04X", put.tag, sw)
	}
	assertStored(t, a, "0103", key)
	assertStored(t, a, "0104", make([]byte, 8))
	assertStored(t, a, "0105", []byte{3, 3})
	assertStored(t, a, "0106", []byte{3, 3})
	assertStored(t, a, "0108", []byte{0x01})
	assertStored(t, a, "0110", secret)
	assertStored(t, a, "0121", nil)

	blank := newBlank(t)
	assertStored(t, blank, "0106", nil)
}

// TestProtocolFailedKeyGenerationKeepsKey pins §2.3 "a failure of key
// generation … answers `6F00`, with nothing stored by GENERATE KEY": the
// key and the certificate of that key held before stay.
func TestProtocolFailedKeyGenerationKeepsKey(t *testing.T) {
	a, cert := certifiedBlank(t)
	key := stored(t, a, "0103")
	applet.BreakCrypto(a, errNoEntropy)
	_, sw := tx(t, a, "0047800000")
	require.Equalf(t, uint16(0x6F00), sw, "status word %04X", sw)
	applet.BreakCrypto(a, nil)
	assertStored(t, a, "0103", key)
	assertStored(t, a, "0102", cert)
}

// TestProtocolICCIDFormat pins §2.4 "`0101` | ICCID, ASCII digits (19–20,
// Luhn, starting `89`)" on the card: PUT DATA takes an ICCID of 19 digits
// and refuses (6A80) one of 21, or one that does not start with 89, each
// with its Luhn digit right.
func TestProtocolICCIDFormat(t *testing.T) {
	tests := []struct {
		iccid string
		sw    uint16
	}{
		{"8901410321111851072", 0x9000},
		{"890141032111185107200", 0x6A80},
		{"79014103211118510722", 0x6A80},
	}
	for _, tt := range tests {
		t.Run(tt.iccid, func(t *testing.T) {
			a := newBlank(t)
			_, sw := tx(t, a, apdu("00DA0101", []byte(tt.iccid), ""))
			assert.Equalf(t, tt.sw, sw, "status word %04X", sw)
			var want []byte
			if tt.sw == 0x9000 {
				want = []byte(tt.iccid)
			}
			assertStored(t, a, "0101", want)
		})
	}
}

// TestProtocolChainCertificateSize pins §2.4 "`0107` | issuing CA
// certificates … each at most 4096 octets (§4.3)": PUT DATA 0107 takes the
// certificate of an issuing CA of 4096 octets and refuses (6A80) one of
// 4097, storing nothing.
func TestProtocolChainCertificateSize(t *testing.T) {
	signer := testIssuer(t).Signer()
	// ofSize returns a CA certificate, named by a common name long enough
	// to make it size octets, and issued by another CA: no root.
	ofSize := func(size int) []byte {
		for n, tries := 1, 0; tries < 100; tries++ {
			der := caCertificate(t, rawName(t, strings.Repeat("A", n)), signer.Public(), "Root CA", signer)
			if len(der) == size {
				return der
			}
			n = max(1, n+size-len(der)) // the signature's length varies
		}
		t.Fatalf("no CA certificate of %d octets", size)
		return nil
	}
	for _, tt := range []struct {
		size int
		sw   uint16
	}{
		{4096, 0x9000},
		{4097, 0x6A80},
	} {
		a := newBlank(t)
		cert := ofSize(tt.size)
		_, sw := tx(t, a, putExt("0107", cert))
		assert.Equalf(t, tt.sw, sw, "%d octets: status word %04X", tt.size, sw)
		var want []byte
		if tt.sw == 0x9000 {
			want = cert
		}
		assertStored(t, a, "0107", want)
	}
}
