package vpcd_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/casimpay/casimpay/simcard/applet"
	"github.com/casimpay/casimpay/simcard/vpcd"
)

// Serve answers vpcd's frames: here a get-ATR control and a SELECT, over an
// in-memory connection standing in for the vpcd driver.
func ExampleServe() {
	a, err := applet.New(new(applet.Memory), applet.Options{})
	if err != nil {
		panic(err)
	}
	driver, card := net.Pipe()
	go vpcd.Serve(context.Background(), card, a, nil)

	exchange := func(payload []byte) []byte {
		frame := binary.BigEndian.AppendUint16(nil, uint16(len(payload)))
		driver.Write(append(frame, payload...))
		var hdr [2]byte
		io.ReadFull(driver, hdr[:])
		reply := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		io.ReadFull(driver, reply)
		return reply
	}
	fmt.Printf("ATR %X\n", exchange([]byte{vpcd.GetATR}))
	r := exchange([]byte{0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x43, 0x41, 0x53, 0x49, 0x4D, 0x01})
	fmt.Printf("SELECT %X\n", r)
	driver.Close()
	// Output:
	// ATR 3B8D800180F7F0434153494D01738001C0ED
	// SELECT 9000
}
