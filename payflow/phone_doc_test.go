package payflow

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGodocPhoneFigures keeps the figures that the phones' godoc gives and
// the constants of the code in step: the request indexes that a Seller's
// Request moves past in one call and the requests its card signs then,
// the requests it remembers seen paid, the sessions whose next index it
// keeps (Request, Select), the refund's ledger transfer that Refund checks
// its receipt against, and what the card's budget of EID resolutions
// refills by in DefaultRateLimitPause at the platform's default rate.
func TestGodocPhoneFigures(t *testing.T) {
	docs := godocs(t, "seller.go", "phone.go")
	godocSays(t, docs, "Seller.Request",
		fmt.Sprintf("Request moves past up to %d of them and asks at the next index", maxRequestIndexSkips),
		fmt.Sprintf("(%d in all, the card signing %d requests)", maxRequestIndexSkips+1, maxRequestIndexSkips+1),
		fmt.Sprintf("it remembers the last %d requests it saw paid", keptPaidRequests),
		fmt.Sprintf("selected before the %d sessions whose index Select keeps", keptRequestIndexes),
	)
	godocSays(t, docs, "Seller.Select",
		fmt.Sprintf("The phone keeps the next index of the %d sessions it selected last", keptRequestIndexes))
	godocSays(t, docs, "Seller.Refund", fmt.Sprintf("(TransferID of that ID, attempt 0, leg 0, kind %d)", kindRefund))
	var id ID
	assert.Equal(t, TransferID(id, 0, 0, kindRefund), refundTransferID(id))
	godocSays(t, docs, "DefaultRateLimitPause", "the card's budget of EID resolutions refills by five meanwhile")
	assert.Equal(t, 5.0, DefaultResolveRate*DefaultRateLimitPause.Seconds(), "resolutions refilled in DefaultRateLimitPause")
}

// godocSays fails t unless the godoc of name in docs (godocs), its lines
// joined by single spaces, holds each of phrases.
func godocSays(t *testing.T, docs map[string]string, name string, phrases ...string) {
	t.Helper()
	text, ok := docs[name]
	require.True(t, ok, "no godoc of %s", name)
	for _, p := range phrases {
		assert.True(t, strings.Contains(text, p), "the godoc of %s does not say %q", name, p)
	}
}

// godocs returns the doc comments of the functions, methods (named
// "Type.Method"), types, constants and variables declared in files of
// this package, each with its lines joined by single spaces.
func godocs(t *testing.T, files ...string) map[string]string {
	t.Helper()
	docs := make(map[string]string)
	keep := func(name string, groups ...*ast.CommentGroup) {
		for _, g := range groups {
			if g != nil {
				docs[name] = strings.Join(strings.Fields(g.Text()), " ")
				return
			}
		}
	}
	fset := token.NewFileSet()
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				name := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) == 1 {
					recv := d.Recv.List[0].Type
					if star, ok := recv.(*ast.StarExpr); ok {
						recv = star.X
					}
					if ident, ok := recv.(*ast.Ident); ok {
						name = ident.Name + "." + name
					}
				}
				keep(name, d.Doc)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						keep(s.Name.Name, s.Doc, d.Doc)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							keep(n.Name, s.Doc, d.Doc)
						}
					}
				}
			}
		}
	}
	return docs
}
