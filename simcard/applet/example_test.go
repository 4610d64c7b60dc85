package applet_test

import (
	"encoding/hex"
	"fmt"

	"github.com/casimpay/casimpay/simcard/applet"
)

// The applet speaks APDUs only: here SELECT by AID and GET DATA of the
// life-cycle state of a blank card.
func ExampleApplet_Transmit() {
	a, err := applet.New(new(applet.Memory), applet.Options{})
	if err != nil {
		panic(err)
	}
	for _, cmd := range []string{
		"00CA010800",                 // GET DATA before SELECT
		"00A4040007F0434153494D0100", // SELECT
		"00CA010800",                 // GET DATA life cycle
		"00200080",                   // VERIFY before personalisation
	} {
		b, _ := hex.DecodeString(cmd)
		r, _ := a.Transmit(b)
		fmt.Printf("%X\n", r)
	}
	// Output:
	// 6985
	// 6F118407F0434153494D01A5068001018101019000
	// 019000
	// 6985
}
