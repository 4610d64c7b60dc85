package applet_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/simcardtest"
	"github.com/stretchr/testify/require"
)

// splitCommands reads fuzz input as a sequence of commands, each preceded
// by its length in one octet, so that one input can select, verify, chain
// and fetch responses.
func splitCommands(b []byte) [][]byte {
	var cmds [][]byte
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		n = min(n, len(b))
		cmds = append(cmds, b[:n])
		b = b[n:]
	}
	return cmds
}

func joinCommands(cmds ...[]byte) []byte {
	var out []byte
	for _, c := range cmds {
		out = append(out, byte(len(c)))
		out = append(out, c...)
	}
	return out
}

// documentedSW reports whether sw is a status word PROTOCOL.md §2.9 lists.
func documentedSW(sw uint16) bool {
	switch sw {
	case simcard.SWSuccess, simcard.SWMemoryFailure, simcard.SWWrongLength,
		simcard.SWLastCommandExpected, simcard.SWChainingUnsupported,
		simcard.SWSecurityStatus, simcard.SWBlocked, simcard.SWConditions,
		simcard.SWWrongData, simcard.SWFileNotFound, simcard.SWWrongP1P2,
		simcard.SWDataNotFound, simcard.SWInsNotSupported,
		simcard.SWClassNotSupported, simcard.SWNoDiagnosis:
		return true
	}
	return sw&0xFF00 == simcard.SWBytesRemaining || sw&0xFFF0 == simcard.SWWrongPINBase
}

// readOnly are the instructions that never change the stored state,
// whatever they answer.
var readOnly = map[byte]bool{
	simcard.InsSelect: true, simcard.InsGetData: true, simcard.InsGetResponse: true,
	simcard.InsAdvert: true, simcard.InsInternalAuth: true,
}

// Offsets in the stored state's layout: version, life-cycle state, PIN
// tries, PIN maximum, PUK tries, PUK maximum (one octet each), then the
// signature counter (8 octets).
const (
	offLife     = 1
	offPINTries = 2
	offPUKTries = 4
	offCounter  = 6
)

// stateCounter is the signature counter of a stored state.
func stateCounter(b []byte) uint64 { return binary.BigEndian.Uint64(b[offCounter : offCounter+8]) }

// The fixed part of the stored state ends with the counter; the ICCID, the
// key, the certificate and the chain follow, in that order, each as a
// uint16 big-endian length and its octets.
const (
	offFields  = offCounter + 8
	fieldCert  = 2
	fieldChain = 3
)

// fieldSpan returns the start and end, in the stored state b, of the
// octets of its length-prefixed field k (0: the ICCID, fieldCert,
// fieldChain, ...), and false when b is too short to hold them.
func fieldSpan(b []byte, k int) (int, int, bool) {
	start, end := 0, offFields
	for range k + 1 {
		if len(b) < end+2 {
			return 0, 0, false
		}
		start = end + 2
		end = start + int(binary.BigEndian.Uint16(b[end:]))
	}
	return start, end, len(b) >= end
}

// withField returns the stored state b with its length-prefixed field k
// replaced by f, or nil when b is too short to hold field k.
func withField(b []byte, k int, f []byte) []byte {
	start, end, ok := fieldSpan(b, k)
	if !ok {
		return nil
	}
	return slices.Concat(b[:start-2], binary.BigEndian.AppendUint16(nil, uint16(len(f))), f, b[end:])
}

// withoutChain returns the stored state b with an empty chain in place of
// the chain it holds, or nil when b is too short to hold one.
func withoutChain(b []byte) []byte { return withField(b, fieldChain, nil) }

// personalising returns a copy of the stored state b in the
// personalisation state.
func personalising(b []byte) []byte {
	b = bytes.Clone(b)
	b[offLife] = simcard.LifePersonalisation
	return b
}

// chainCommands splits a PUT DATA 0107 of chain into the links of a
// command chain, each short enough for joinCommands.
func chainCommands(chain []byte) [][]byte {
	var out [][]byte
	for len(chain) > 0 {
		n := min(len(chain), 240)
		cla := byte(0x10)
		if n == len(chain) {
			cla = 0x00
		}
		out = append(out, append([]byte{cla, 0xDA, 0x01, 0x07, byte(n)}, chain[:n]...))
		chain = chain[n:]
	}
	return out
}

// FuzzTransmit sends arbitrary command sequences to a personalised card,
// operational and, from the same state, still being personalised, and
// checks after every command that:
//   - the applet never panics or fails, and answers a status word that
//     PROTOCOL.md §2.9 lists;
//   - a command that does not parse gets 6700 and no data, and the data of
//     an answer never exceeds the command's Ne;
//   - a command answered with a status word other than 9000 and 61xx leaves
//     the stored state as it was, octet for octet, except that a wrong PIN
//     or PUK (63Cx) uses up one try, x being the tries left; a VERIFY
//     without a PIN alone answers 63Cx and uses none;
//   - SELECT, GET DATA, GET RESPONSE, GET ADVERT and INTERNAL AUTHENTICATE
//     never change the stored state;
//   - PUT DATA 0107 answered 9000 changes nothing but the chain, and one
//     without data, outside a command chain, leaves no chain (it deletes
//     the chain);
//   - the signature counter never goes back, and goes up by at most one;
//   - every state stored loads again (New accepts it);
//   - a second applet loaded from the same state and sent the same commands
//     answers the same status words, but for the number of octets left
//     in a 61xx (an ECDSA signature's DER length varies with its random k).
func FuzzTransmit(f *testing.F) {
	v := newCard(f, simcardtest.Options{})
	operational, err := v.Storage.Load()
	require.NoError(f, err)
	inPersonalisation := personalising(operational)
	sel := unhex(f, selectAID)
	putChain := chainCommands(bytes.Join(v.Enrolment.Chain[1:], nil))
	for _, seed := range [][][]byte{
		{sel, unhex(f, "00DA0107")},
		{sel, unhex(f, "00DA0107"), unhex(f, "00440000"), unhex(f, "00CA010700")},
		append(append([][]byte{sel, unhex(f, "00DA0107")}, putChain...), unhex(f, "00CA010700")),
		{sel, unhex(f, "10DA0107"), unhex(f, "00DA0107")},
		append([][]byte{sel}, putChain[:len(putChain)-1]...),
		{sel},
		{sel, unhex(f, "00CA010100")},
		{sel, unhex(f, "00CA0102")},
		{sel, unhex(f, "00CA010200"), unhex(f, "00C0000000")},
		{sel, unhex(f, "0020008006313233343536"), unhex(f, apdu("80500300", payload(f, sampleConsent()), "00"))},
		{sel, unhex(f, "0020008006313233343536"), unhex(f, "0020008006313233"), unhex(f, apdu("80500300", payload(f, sampleConsent()), "00"))},
		{sel, unhex(f, apdu("80500100", payload(f, sampleAuthProof()), "00"))},
		{sel, unhex(f, "9050030001A8"), unhex(f, "8050030001A800")},
		{sel, unhex(f, "002C00800E3132333435363738393939393939")},
		{sel, unhex(f, "8052020004002CF1601F")},
		{sel, unhex(f, "0088000008010203040506070800")},
		{unhex(f, "00CA01010000000102")},
		{unhex(f, "00")},
	} {
		f.Add(joinCommands(seed...))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cmds := splitCommands(in)
		for _, start := range [][]byte{operational, inPersonalisation} {
			transmitChecked(t, start, cmds)
		}
	})
}

// transmitChecked sends cmds to two applets loaded from start and checks
// the oracle of FuzzTransmit after each.
func transmitChecked(t *testing.T, start []byte, cmds [][]byte) {
	var mems [2]*applet.Memory
	var cards [2]*applet.Applet
	for i := range cards {
		mems[i] = new(applet.Memory)
		require.NoError(t, mems[i].Store(start))
		a, err := applet.New(mems[i], applet.Options{})
		require.NoError(t, err)
		cards[i] = a
	}
	before := bytes.Clone(start)
	inChain := false // the card is receiving a command chain
	for _, raw := range cmds {
		r, err := cards[0].Transmit(raw)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(r), 2)
		data, sw := r[:len(r)-2], binary.BigEndian.Uint16(r[len(r)-2:])
		require.Truef(t, documentedSW(sw), "status word %04X for % X", sw, raw)

		cmd, perr := simcard.ParseCommand(raw)
		if perr != nil {
			require.Equalf(t, []byte{0x67, 0x00}, r, "answer to % X, which does not parse", raw)
		} else {
			require.LessOrEqualf(t, len(data), cmd.Ne, "%d octets answer % X (Ne %d)", len(data), raw, cmd.Ne)
		}

		twin, err := cards[1].Transmit(raw)
		require.NoError(t, err)
		firstSW, twinSW := sw, binary.BigEndian.Uint16(twin[len(twin)-2:])
		if firstSW&0xFF00 == simcard.SWBytesRemaining && twinSW&0xFF00 == simcard.SWBytesRemaining {
			// The octets left of an ECDSA signature (DER, random k) differ
			// in number from one signature to the next.
			firstSW, twinSW = simcard.SWBytesRemaining, simcard.SWBytesRemaining
		}
		require.Equalf(t, firstSW, twinSW, "two applets of one state answer % X", raw)

		after, err := mems[0].Load()
		require.NoError(t, err)
		switch {
		case sw&0xFFF0 == simcard.SWWrongPINBase:
			tries := offPINTries // the PUK's for RESET RETRY COUNTER
			if cmd.INS == simcard.InsResetRetryCounter {
				tries = offPUKTries
			}
			require.Equalf(t, byte(sw&0x0F), after[tries], "%04X to % X: tries left", sw, raw)
			if bytes.Equal(after, before) {
				require.Truef(t, cmd.INS == simcard.InsVerify && len(cmd.Data) == 0,
					"%04X to % X, which used no try: only a VERIFY without a PIN asks the tries left", sw, raw)
				break
			}
			want := bytes.Clone(before)
			want[tries]--
			require.Equalf(t, want, after, "%04X to % X changed more than one try", sw, raw)
		case bytes.Equal(after, before):
		case sw != simcard.SWSuccess && sw&0xFF00 != simcard.SWBytesRemaining:
			t.Fatalf("%04X to % X changed the stored state", sw, raw)
		case readOnly[cmd.INS]:
			t.Fatalf("% X (INS %02X) changed the stored state", raw, cmd.INS)
		default:
			_, err := applet.New(mems[0], applet.Options{})
			require.NoErrorf(t, err, "the state stored after % X", raw)
		}
		if perr == nil && sw == simcard.SWSuccess && cmd.INS == simcard.InsPutData &&
			uint16(cmd.P1)<<8|uint16(cmd.P2) == simcard.TagChain {
			unchained := withoutChain(before)
			require.NotNil(t, unchained)
			require.Equalf(t, unchained, withoutChain(after), "% X changed more than the chain", raw)
			if !inChain && cmd.CLA&simcard.ClassChaining == 0 && len(cmd.Data) == 0 {
				require.Equalf(t, unchained, after, "% X, without data, left a chain", raw)
			}
		}
		c0, c1 := stateCounter(before), stateCounter(after)
		require.Truef(t, c1 == c0 || c1 == c0+1, "counter %d, then %d after % X", c0, c1, raw)
		inChain = perr == nil && cmd.CLA&simcard.ClassChaining != 0 && sw == simcard.SWSuccess
		before = after
	}
}

// stateProbes exercise every part of a loaded state.
var stateProbes = func() [][]byte {
	var out [][]byte
	for _, h := range []string{"00CA010100", "00CA010200", "00CA010300", "00CA010500", "00CA011000",
		"0020008006313233343536", "008800000801020304050607080000", "8052010004000000011F",
		"002C0180083132333435363738", "0047800000"} {
		b, _ := hex.DecodeString(h)
		out = append(out, b)
	}
	p, _ := record.Marshal(sampleAuthProof())
	return append(out, append(append([]byte{0x80, 0x50, 0x01, 0x00, byte(len(p))}, p...), 0))
}()

// FuzzState loads arbitrary bytes as a stored card state: New either
// refuses them with ErrState or returns a card that answers SELECT.
func FuzzState(f *testing.F) {
	v := newCard(f, simcardtest.Options{})
	good, err := v.Storage.Load()
	require.NoError(f, err)
	blank := new(applet.Memory)
	_, err = applet.New(blank, applet.Options{})
	require.NoError(f, err)
	fresh, err := blank.Load()
	require.NoError(f, err)
	f.Add(good)
	f.Add(fresh)
	f.Add(good[:20])
	f.Add([]byte{1, 7, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		mem := new(applet.Memory)
		require.NoError(t, mem.Store(in))
		a, err := applet.New(mem, applet.Options{})
		if err != nil {
			require.ErrorIs(t, err, applet.ErrState)
			return
		}
		r, err := a.Transmit(unhex(t, selectAID))
		require.NoError(t, err)
		require.Equal(t, []byte{0x90, 0x00}, r[len(r)-2:])
		for _, cmd := range stateProbes {
			r, err := a.Transmit(cmd)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(r), 2)
		}
	})
}
