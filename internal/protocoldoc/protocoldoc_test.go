package protocoldoc

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
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

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestSays(t *testing.T) {
	inModule(t, "### 1 Limits\n\nA body of at most\n64   KiB.\n\n### 2 Next\n\nAt most 8 levels.\n")
	r := &recorder{TB: t}
	Says(r, "### 1 Limits", "A body of at most 64 KiB.", "at most 32 KiB", "At most 8 levels")
	assert.Equal(t, []string{
		`PROTOCOL.md ### 1 Limits does not say "at most 32 KiB"`,
		`PROTOCOL.md ### 1 Limits does not say "At most 8 levels"`,
	}, r.errs)
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
