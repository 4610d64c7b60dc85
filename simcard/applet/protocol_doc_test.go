package applet_test

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exchange is one command and its response, as a pattern over the
// upper-case hexadecimal digits of the octets.
type exchange struct{ cmd, resp string }

// apduToken is one token of an APDU as PROTOCOL.md §2.10 writes it: a
// string in double quotes (its ASCII octets, … inside for any), a
// placeholder such as <EID>, an ellipsis, an octet repeated (FF×8), or an
// octet.
var apduToken = regexp.MustCompile(`^(?:"([^"]*)"|<[^>]+>|…|([0-9A-Fa-f]{2})×([0-9]+)|([0-9A-Fa-f]{2}))`)

// anyOctets stands for … and for a placeholder.
const anyOctets = `(?:[0-9A-F]{2})*`

// apduPattern reads an APDU of PROTOCOL.md §2.10 into a pattern over the
// hexadecimal of the octets.
func apduPattern(t *testing.T, s string) string {
	t.Helper()
	var p strings.Builder
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		m := apduToken.FindStringSubmatch(s)
		require.NotNil(t, m, "unreadable APDU from %q", s)
		switch {
		case strings.HasPrefix(m[0], `"`):
			for i, part := range strings.Split(m[1], "…") {
				if i > 0 {
					p.WriteString(anyOctets)
				}
				p.WriteString(strings.ToUpper(hex.EncodeToString([]byte(part))))
			}
		case m[2] != "":
			n, err := strconv.Atoi(m[3])
			require.NoError(t, err)
			p.WriteString(strings.Repeat(strings.ToUpper(m[2]), n))
		case m[4] != "":
			p.WriteString(strings.ToUpper(m[4]))
		default: // … or a placeholder
			p.WriteString(anyOctets)
		}
		s = s[len(m[0]):]
	}
	return p.String()
}

// docExchanges returns the exchanges of the code blocks of PROTOCOL.md
// §2.10, one list a block. A line holds a command ("> …"), a response
// ("< …") or both, and notes, each apart from the next by two spaces or
// more.
func docExchanges(t *testing.T) [][]exchange {
	t.Helper()
	s := protocoldoc.Section(t, "### 2.10 Examples")
	gap := regexp.MustCompile(`\s{2,}`)
	var blocks [][]exchange
	var cur []exchange
	inBlock := false
	for l := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(l, "```") {
			if inBlock {
				blocks = append(blocks, cur)
				cur = nil
			}
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		for _, seg := range gap.Split(strings.TrimSpace(l), -1) {
			switch {
			case strings.HasPrefix(seg, "> "):
				cur = append(cur, exchange{cmd: apduPattern(t, seg[2:])})
			case strings.HasPrefix(seg, "< "):
				require.NotEmpty(t, cur, "a response before any command: %q", l)
				require.Empty(t, cur[len(cur)-1].resp, "two responses to one command: %q", l)
				cur[len(cur)-1].resp = apduPattern(t, seg[2:])
			}
		}
	}
	return blocks
}

// transcriptExchanges returns the exchanges of testdata/name and its first
// line.
func transcriptExchanges(t *testing.T, name string) ([]exchange, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	var ex []exchange
	var last *string
	lines := strings.Split(string(b), "\n")
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "> "):
			ex = append(ex, exchange{})
			last = &ex[len(ex)-1].cmd
		case strings.HasPrefix(l, "< "):
			last = &ex[len(ex)-1].resp
		case strings.HasPrefix(l, "  ") && last != nil:
		default:
			last = nil
			continue
		}
		*last += strings.ReplaceAll(strings.TrimSpace(l[2:]), " ", "")
	}
	return ex, lines[0]
}

// TestProtocolExamples keeps the examples of PROTOCOL.md §2.10 and the
// transcripts they are taken from in step: every exchange of the document
// is one of the transcript, in the transcript's order, … and placeholders
// standing for any octets.
func TestProtocolExamples(t *testing.T) {
	blocks := docExchanges(t)
	require.Len(t, blocks, 2, "PROTOCOL.md §2.10: the session and the lockout")
	for i, name := range []string{"session.apdu", "lockout.apdu"} {
		got, header := transcriptExchanges(t, name)
		assert.Contains(t, header, "card 89014103211118510720, PIN 123456", name)
		j := 0
		for _, want := range blocks[i] {
			cmd := regexp.MustCompile("^" + want.cmd + "$")
			resp := regexp.MustCompile("^" + want.resp + "$")
			for j < len(got) && !(cmd.MatchString(got[j].cmd) && resp.MatchString(got[j].resp)) {
				j++
			}
			if !assert.Less(t, j, len(got), "%s: PROTOCOL.md §2.10 exchange %s → %s is none of the transcript after the ones before it", name, want.cmd, want.resp) {
				break
			}
			j++
		}
	}
}
