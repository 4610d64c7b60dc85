package demo_test

import (
	"fmt"
	"os"

	"github.com/casimpay/casimpay/examples/internal/demo"
)

// Screens print labelled lines, one writer for all.
func ExamplePrinter() {
	p := demo.NewPrinter(os.Stdout)
	p.Screen("shopper").Printf("Total %s", demo.Money(1127, "EUR"))
	p.Screen("cloud").Printf("Balances now: Alice %s", demo.Money(3873, "EUR"))
	// Output:
	// [shopper] Total EUR 11.27
	// [cloud]   Balances now: Alice EUR 38.73
}

// The simulated radio repeats itself for a seed: what a phone 80 cm away
// hears of three adverts.
func ExampleRadio_Hear() {
	r := demo.NewRadio(1, 0.2)
	for range 3 {
		rssi, ok := r.Hear(0.8)
		fmt.Println(rssi, ok)
	}
	// Output:
	// -61 true
	// -61 true
	// -52 true
}
