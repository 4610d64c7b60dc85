// Package protocoldoc reads the tables of PROTOCOL.md, the wire contract at
// the module root, so that the tests of each package can check that the
// document and the code say the same.
package protocoldoc

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Table returns the cells of the body rows of the first table after the
// line of PROTOCOL.md that starts with heading (a section's heading, such
// as "### 2.9 Status words"), each cell trimmed of spaces; the header row
// and the delimiter row are left out. It fails t when the document, the
// heading or a table under it cannot be found.
func Table(t testing.TB, heading string) [][]string {
	t.Helper()
	return TableOf(t, heading, "")
}

// Section returns the text of PROTOCOL.md under the line that is heading
// (such as "### 2.10 Examples"), up to the next heading of its level or a
// higher one, that line left out. It fails t when the document or the
// heading cannot be found.
func Section(t testing.TB, heading string) string {
	t.Helper()
	doc := "\n" + read(t)
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("PROTOCOL.md has no heading %q", heading)
	}
	s := doc[i+len(heading)+2:]
	level, _, _ := strings.Cut(heading, " ")
	fenced := false // inside a code block, where a line of # is no heading
	for j := 0; j < len(s); {
		l, _, _ := strings.Cut(s[j:], "\n")
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
		}
		if h, _, ok := strings.Cut(l, " "); ok && !fenced && strings.Trim(h, "#") == "" && h != "" && len(h) <= len(level) {
			return s[:j]
		}
		j += len(l) + 1
	}
	return s
}

// Prose returns the text of PROTOCOL.md under heading (Section), its
// lines joined and each run of white space made one space, as a sentence
// of it reads whatever its line breaks.
func Prose(t testing.TB, heading string) string {
	t.Helper()
	return strings.Join(strings.Fields(Section(t, heading)), " ")
}

// Says checks that the text of PROTOCOL.md under heading (Prose) holds
// each of phrases, and fails t naming every phrase that it does not hold.
// It pins a figure that the document states in its prose to the constant
// of the code.
func Says(t testing.TB, heading string, phrases ...string) {
	t.Helper()
	s := Prose(t, heading)
	for _, p := range phrases {
		if !strings.Contains(s, p) {
			t.Errorf("PROTOCOL.md %s does not say %q", heading, p)
		}
	}
}

// Digest returns the first 8 hexadecimal digits of the SHA-256 of the
// cells of a table's row joined by " | ". A test that maps each row of a
// table to the tests that cover it keeps each row's digest, so that a
// row changed in the document fails until its tests are checked against
// it again.
func Digest(row []string) string {
	sum := sha256.Sum256([]byte(strings.Join(row, " | ")))
	return hex.EncodeToString(sum[:4])
}

// TableOf is Table for the first table after heading whose header row's
// first cell is column (any table for ""), for a section with more than
// one table. It looks no further than the next heading.
func TableOf(t testing.TB, heading, column string) [][]string {
	t.Helper()
	doc := "\n" + read(t)
	i := strings.Index(doc, "\n"+heading)
	if i < 0 {
		t.Fatalf("PROTOCOL.md has no heading %q", heading)
	}
	var rows [][]string
	// header: the row read last was the table's header row, so this one
	// is its delimiter row (|---|, | :-- | --: |, ...).
	inTable, taken, header := false, false, false
	for _, l := range strings.Split(doc[i+1:], "\n")[1:] {
		switch {
		case !strings.HasPrefix(l, "|"):
			if taken {
				return rows
			}
			if strings.HasPrefix(l, "#") {
				t.Fatalf("PROTOCOL.md has no table under %q with a column %q", heading, column)
			}
			inTable = false
		case !inTable:
			inTable, header = true, true
			taken = column == "" || cells(l)[0] == column
		case header:
			header = false
		case !taken:
		default:
			rows = append(rows, cells(l))
		}
	}
	if !taken {
		t.Fatalf("PROTOCOL.md has no table under %q with a column %q", heading, column)
	}
	return rows
}

// cells splits a table row at the pipes that are not inside a code span
// (`r || s`), and trims each cell of spaces.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(strings.TrimSuffix(row, "|"), "|")
	var cs []string
	code := false
	start := 0
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '`':
			code = !code
		case row[i] == '|' && !code:
			cs = append(cs, strings.TrimSpace(row[start:i]))
			start = i + 1
		}
	}
	return append(cs, strings.TrimSpace(row[start:]))
}

// read returns PROTOCOL.md from the module root: the nearest directory, from
// the working directory up, that holds go.mod.
func read(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			b, err := os.ReadFile(filepath.Join(dir, "PROTOCOL.md"))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = up
	}
}
