package applet_test

import (
	"encoding/hex"
	"testing"

	"github.com/casimpay/casimpay/pki/record"
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

// FuzzTransmit sends arbitrary command sequences to a personalised card:
// the applet must never panic or fail, and must always answer with a
// status word of ISO/IEC 7816-4.
func FuzzTransmit(f *testing.F) {
	v := newCard(f, simcardtest.Options{})
	state, err := v.Storage.Load()
	require.NoError(f, err)
	sel := unhex(f, selectAID)
	for _, seed := range [][][]byte{
		{sel},
		{sel, unhex(f, "00CA010100")},
		{sel, unhex(f, "00CA0102")},
		{sel, unhex(f, "00CA010200"), unhex(f, "00C0000000")},
		{sel, unhex(f, "0020008006313233343536"), unhex(f, apdu("80500300", payload(f, sampleConsent()), "00"))},
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
		mem := new(applet.Memory)
		require.NoError(t, mem.Store(state))
		a, err := applet.New(mem, applet.Options{})
		require.NoError(t, err)
		for _, cmd := range splitCommands(in) {
			r, err := a.Transmit(cmd)
			require.NoError(t, err)
			require.GreaterOrEqual(t, len(r), 2)
			switch sw1 := r[len(r)-2]; sw1 {
			case 0x90, 0x61, 0x63, 0x65, 0x67, 0x68, 0x69, 0x6A, 0x6D, 0x6E, 0x6F:
			default:
				t.Fatalf("status word %02X%02X for % X", sw1, r[len(r)-1], cmd)
			}
		}
	})
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
