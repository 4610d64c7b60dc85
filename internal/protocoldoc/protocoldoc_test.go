package protocoldoc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casimpay/casimpay/internal/tbrecorder"
)

// inModule makes the working directory a module root whose PROTOCOL.md is doc.
func inModule(t *testing.T, doc string) {
	dir := t.TempDir()
	for name, content := range map[string]string{"go.mod": "module x\n", "PROTOCOL.md": doc} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
}

func TestTableEndedByHeading(t *testing.T) {
	inModule(t, "# Doc\n\n### 1 Codes\n\n| Code | Meaning |\n|---|---|\n| `01` | one |\n| `a || b` | two |\n### 2 Next\n\n| X |\n|---|\n| y |\n")
	assert.Equal(t, [][]string{{"`01`", "one"}, {"`a || b`", "two"}}, Table(t, "### 1 Codes"))
}

func TestTableOfColumn(t *testing.T) {
	inModule(t, "### 1 Codes\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n| C | D |\n| :-- | --: |\n| 3 | 4 |\n| 5 | 6 |\n\n### 2 Next\n")
	assert.Equal(t, [][]string{{"3", "4"}, {"5", "6"}}, TableOf(t, "### 1 Codes", "C"))
	assert.Equal(t, [][]string{{"1", "2"}}, TableOf(t, "### 1 Codes", ""))
}

// fatal runs f with a tbrecorder.Recorder, and returns the message that f
// fails it with, "" when f returns.
func fatal(t *testing.T, f func(tb testing.TB)) string {
	return tbrecorder.Run(t, f).FatalMessage
}

func TestSays(t *testing.T) {
	inModule(t, "### 1 Limits\n\nA body of at most\n64   KiB.\n\n### 2 Next\n\nAt most 8 levels.\n")
	r := tbrecorder.Run(t, func(tb testing.TB) {
		Says(tb, "### 1 Limits", "A body of at most 64 KiB.", "at most 32 KiB", "At most 8 levels")
	})
	assert.Equal(t, []string{
		`PROTOCOL.md ### 1 Limits does not say "at most 32 KiB"`,
		`PROTOCOL.md ### 1 Limits does not say "At most 8 levels"`,
	}, r.Errors)
}

func TestProse(t *testing.T) {
	inModule(t, "### 1 Limits\n\nA body of at most\n64   KiB,\ttabbed.\n\n### 2 Next\n\nAt most 8 levels.\n")
	assert.Equal(t, "A body of at most 64 KiB, tabbed.", Prose(t, "### 1 Limits"))
}

func TestDigest(t *testing.T) {
	assert.Equal(t, "ba7816bf", Digest([]string{"abc"}), "SHA-256 of abc")
	assert.Equal(t, Digest([]string{"a | b"}), Digest([]string{"a", "b"}))
	assert.NotEqual(t, Digest([]string{"a", "b"}), Digest([]string{"a", "c"}))
}

// TestSection: a section is read from the line that is its heading (not a
// longer heading that starts alike) to the next heading of its level or a
// higher one, or to the end of the document; a line of # inside a code
// block, an indented line and a lower heading do not end it.
func TestSection(t *testing.T) {
	inModule(t, "### 1 Limits, old\n\nold\n\n### 1 Limits\n\nA body\n  indented\n```\n# not a heading\n```\n#### 1.1 Sub\n\nsub\n\n### 2 Next\n\nnext\n\n## 3 Last\n\nlast\n")
	assert.Equal(t, "\nA body\n  indented\n```\n# not a heading\n```\n#### 1.1 Sub\n\nsub\n\n", Section(t, "### 1 Limits"))
	assert.Equal(t, "\nnext\n\n", Section(t, "### 2 Next"))
	assert.Equal(t, "\nlast\n", Section(t, "## 3 Last"))
}

// TestTableAfterLineStart: the heading of Table starts a line, so that a
// deeper heading that ends alike is passed over; a row's trailing spaces
// make no cell.
func TestTableAfterLineStart(t *testing.T) {
	inModule(t, "#### 1 Codes\n\n| A |\n|---|\n| wrong |\n\n### 1 Codes\n\n| A | B |\n|---|---|\n| right | 2 |  \n")
	assert.Equal(t, [][]string{{"right", "2"}}, Table(t, "### 1 Codes"))
}

// TestMissing: what cannot be found fails the test, naming it: no table
// is taken from under the next heading or read as empty.
func TestMissing(t *testing.T) {
	inModule(t, "### 1 Codes\n\n| A |\n|---|\n| 1 |\n\n### 2 More\n\n| Z |\n|---|\n| 2 |\n\n### 3 None\n\nno table\n")
	tests := []struct {
		name string
		f    func(tb testing.TB)
		want string
	}{
		{"section", func(tb testing.TB) { Section(tb, "### 9 Gone") }, `PROTOCOL.md has no heading "### 9 Gone"`},
		{"says", func(tb testing.TB) { Says(tb, "### 9 Gone", "x") }, `PROTOCOL.md has no heading "### 9 Gone"`},
		{"table", func(tb testing.TB) { Table(tb, "### 9 Gone") }, `PROTOCOL.md has no heading "### 9 Gone"`},
		{"column under the next heading", func(tb testing.TB) { TableOf(tb, "### 1 Codes", "Z") }, `PROTOCOL.md has no table under "### 1 Codes" with a column "Z"`},
		{"no table to the end", func(tb testing.TB) { Table(tb, "### 3 None") }, `PROTOCOL.md has no table under "### 3 None" with a column ""`},
		{"no column to the end", func(tb testing.TB) { TableOf(tb, "### 2 More", "A") }, `PROTOCOL.md has no table under "### 2 More" with a column "A"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, fatal(t, tt.f))
		})
	}
}

// TestReadFromSubdirectory: PROTOCOL.md is read from the nearest directory
// up that holds go.mod, and its absence fails the test.
func TestReadFromSubdirectory(t *testing.T) {
	inModule(t, "")
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove("PROTOCOL.md"); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "pkg")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	want := "open " + filepath.Join(root, "PROTOCOL.md") + ": no such file or directory"
	assert.Equal(t, want, fatal(t, func(tb testing.TB) { Section(tb, "### 1 X") }))
}

// TestReadNoModule: a working directory under no go.mod fails the test.
func TestReadNoModule(t *testing.T) {
	dir := t.TempDir()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			t.Skipf("%s holds a go.mod", d)
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	t.Chdir(dir)
	assert.Equal(t, "no go.mod above the working directory", fatal(t, func(tb testing.TB) { Section(tb, "### 1 X") }))
}
