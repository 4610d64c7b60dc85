package demo

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/casimpay/casimpay/ledger"
)

// Printer writes the labelled lines of several screens to one writer,
// a line at a time. It is safe for concurrent use.
type Printer struct {
	mu sync.Mutex
	w  io.Writer
}

// NewPrinter returns a Printer writing to w.
func NewPrinter(w io.Writer) *Printer { return &Printer{w: w} }

// Screen returns the screen labelled label ("shopper", "seller", "cloud").
func (p *Printer) Screen(label string) *Screen {
	return &Screen{p: p, prefix: fmt.Sprintf("%-9s ", "["+label+"]")}
}

// Screen is what one party shows: every line it prints starts with its
// label in brackets.
type Screen struct {
	p      *Printer
	prefix string
}

// Printf prints one or more lines on the screen.
func (s *Screen) Printf(format string, args ...any) {
	text := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	for line := range strings.SplitSeq(text, "\n") {
		fmt.Fprintln(s.p.w, strings.TrimRight(s.prefix+line, " "))
	}
}

// Money formats minor units of a currency or units of an asset: "EUR 11.27",
// "1 ARENA-1231-A12".
func Money(amount uint64, unit string) string {
	s, err := ledger.FormatAmount(amount, unit)
	if err != nil {
		return fmt.Sprintf("%d %s", amount, unit)
	}
	return unit + " " + s
}

// Amount formats minor units of a currency without the code: "11.27".
func Amount(amount uint64, currency string) string {
	s, err := ledger.FormatAmount(amount, currency)
	if err != nil {
		return fmt.Sprint(amount)
	}
	return s
}

// Short returns the first 8 hexadecimal digits of an ID, for the screen.
func Short(id fmt.Stringer) string { return id.String()[:8] }
