package protocoldoc

import (
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
