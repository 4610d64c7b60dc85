package simcard_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"iter"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/pki/record"
	"github.com/casimpay/casimpay/simcard"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// protocolConstants returns the constants of protocol.go whose names start
// with prefix, by name, with their values.
func protocolConstants(t *testing.T, prefix string) map[string]uint64 {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "protocol.go", nil, 0)
	require.NoError(t, err)
	consts := map[string]uint64{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, prefix) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				require.True(t, ok, "%s is not a literal", n.Name)
				v, err := strconv.ParseUint(lit.Value, 0, 64)
				require.NoError(t, err, n.Name)
				consts[n.Name] = v
			}
		}
	}
	require.NotEmpty(t, consts, prefix)
	return consts
}

// hexCell reads a cell of hexadecimal digits in back quotes, such as
// "`6A80`"; x in place of a digit (61xx, 63Cx) reads as 0.
func hexCell(t *testing.T, cell string) uint64 {
	t.Helper()
	s := strings.Trim(cell, "`")
	v, err := strconv.ParseUint(strings.ReplaceAll(s, "x", "0"), 16, 64)
	require.NoError(t, err, "cell %q", cell)
	return v
}

// sortedHex returns vs as four hexadecimal digits each, sorted.
func sortedHex(vs iter.Seq[uint64]) []string {
	var s []string
	for v := range vs {
		s = append(s, fmt.Sprintf("%04X", v))
	}
	slices.Sort(s)
	return s
}

// TestProtocolStatusWords keeps the table of PROTOCOL.md §2.9 and the
// status words of the card in step.
func TestProtocolStatusWords(t *testing.T) {
	var doc []uint64
	for _, r := range protocoldoc.Table(t, "### 2.9 Status words") {
		doc = append(doc, hexCell(t, r[0]))
	}
	assert.Equal(t, sortedHex(maps.Values(protocolConstants(t, "SW"))), sortedHex(slices.Values(doc)))
}

// TestProtocolDataObjects keeps the table of PROTOCOL.md §2.4 and the tags
// of the data objects in step.
func TestProtocolDataObjects(t *testing.T) {
	var doc []uint64
	for _, r := range protocoldoc.Table(t, "### 2.4 Data objects") {
		doc = append(doc, hexCell(t, r[0]))
	}
	assert.Equal(t, sortedHex(maps.Values(protocolConstants(t, "Tag"))), sortedHex(slices.Values(doc)))
}

// TestProtocolInstructions keeps the table of PROTOCOL.md §2.3 and the
// instructions of the card in step: every instruction with its INS, and
// the class of each, proprietary for SIGN RECORD and GET ADVERT only.
func TestProtocolInstructions(t *testing.T) {
	var ins []uint64
	for _, r := range protocoldoc.Table(t, "### 2.3 Instructions") {
		require.Len(t, r, 8, "row %q", r)
		in := hexCell(t, r[2])
		ins = append(ins, in)
		class := byte(hexCell(t, r[1]))
		switch byte(in) {
		case simcard.InsSignRecord, simcard.InsAdvert:
			assert.Equal(t, simcard.ClassProprietary, class, r[0])
		default:
			assert.Equal(t, simcard.ClassISO, class, r[0])
		}
	}
	assert.Equal(t, sortedHex(maps.Values(protocolConstants(t, "Ins"))), sortedHex(slices.Values(ins)))
}

// hexOctets reads the octets in back quotes of a cell, such as "`00` FCI,
// `0C` none"; a cell that names none (a tag, the flags) reads as nil.
func hexOctets(t *testing.T, cell string) []byte {
	t.Helper()
	var b []byte
	for _, m := range regexp.MustCompile("`([0-9A-F]{2})`").FindAllStringSubmatch(cell, -1) {
		b = append(b, byte(hexCell(t, m[1])))
	}
	return b
}

// TestProtocolInstructionParameters keeps the P1 and P2 columns of the
// table of PROTOCOL.md §2.3 and the parameters of the card in step: every
// instruction's P1 and P2 values, in the table's order, are those of the
// constants of this package (the record types of SIGN RECORD and the
// roles of GET ADVERT those of package record); a cell of no value (the
// tag of GET DATA and PUT DATA, the flags of GET ADVERT) is none.
func TestProtocolInstructionParameters(t *testing.T) {
	byIns := map[byte][2][]byte{
		simcard.InsSelect:            {{simcard.SelectByName}, {simcard.SelectFCI, simcard.SelectNoData}},
		simcard.InsGetData:           {nil, nil},
		simcard.InsPutData:           {nil, nil},
		simcard.InsGenerateKey:       {{simcard.GenerateKeyP1}, {0x00}},
		simcard.InsActivate:          {{0x00}, {0x00}},
		simcard.InsVerify:            {{0x00}, {simcard.RefPIN}},
		simcard.InsChangeReference:   {{0x00}, {simcard.RefPIN}},
		simcard.InsResetRetryCounter: {{simcard.ResetWithNewPIN, simcard.ResetKeepPIN}, {simcard.RefPIN}},
		simcard.InsSignRecord: {{byte(record.TypeAuthProof), byte(record.TypePaymentRequest), byte(record.TypeConsent),
			byte(record.TypeRefundRequest)}, {0x00}},
		simcard.InsInternalAuth: {{0x00}, {0x00}},
		simcard.InsAdvert:       {{byte(record.RoleShopper), byte(record.RoleSeller)}, nil},
		simcard.InsGetResponse:  {{0x00}, {0x00}},
	}
	rows := protocoldoc.Table(t, "### 2.3 Instructions")
	for _, r := range rows {
		require.Len(t, r, 8, "row %q", r)
		want, ok := byIns[byte(hexCell(t, r[2]))]
		require.True(t, ok, "row %q: no such instruction", r[0])
		assert.Equal(t, want[0], hexOctets(t, r[3]), "%s: P1", r[0])
		assert.Equal(t, want[1], hexOctets(t, r[4]), "%s: P2", r[0])
	}
	assert.Len(t, rows, len(byIns), "an instruction of each row")
}
