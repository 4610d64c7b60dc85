package adv_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki/record"
)

// cardID is the card of the examples, an ICCID with its Luhn check digit.
const cardID = "8901260123456789011"

func TestExampleCardID(t *testing.T) {
	if err := record.CheckCardID("card id", cardID); err != nil {
		t.Fatal(err)
	}
}

func secret(first byte) []byte {
	s := make([]byte, adv.SecretSize)
	for i := range s {
		s[i] = first + byte(i)
	}
	return s
}

// A card builds its advert for the current epoch; a phone parses it.
func Example() {
	now := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	eid, err := adv.DeriveEID(secret(0x00), adv.Epoch(now))
	if err != nil {
		panic(err)
	}
	b, err := adv.Packet{Role: adv.Seller, EID: eid, TxPower: -8}.MarshalBinary()
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	p, err := adv.Parse(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Role, p.EID, p.TxPower)
	// Output:
	// 02 01 06 03 03 ff ff 17 16 ff ff 12 4c 2c 6d 8b bb 7c ce 51 22 09 9a 53 a5 ed 57 de f8 00 00
	// seller 4c2c6d8bbb7cce5122099a53a5ed57de -8
}

// Parse tells adverts of other kinds from broken ones.
func ExampleParse() {
	ibeacon := []byte{
		0x02, 0x01, 0x06,
		0x1a, 0xff, 0x4c, 0x00, 0x02, 0x15,
		0xe2, 0xc5, 0x6d, 0xb5, 0xdf, 0xfb, 0x48, 0xd2, 0xb0, 0x60, 0xd0, 0xf5, 0xa7, 0x10, 0x96, 0xe0,
		0x00, 0x01, 0x00, 0x02, 0xc5,
	}
	_, err := adv.Parse(ibeacon)
	fmt.Println(errors.Is(err, adv.ErrForeign))

	_, err = adv.Parse(ibeacon[:20])
	fmt.Println(errors.Is(err, adv.ErrMalformed))
	// Output:
	// true
	// true
}

// A deployment uses the service UUID the Bluetooth SIG assigned to it.
func ExampleCodec() {
	c := adv.Codec{UUID: 0xFCAB}
	b, err := c.AppendBinary(nil, adv.Packet{Role: adv.Shopper, TxPower: -4})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b[3:11])
	_, err = adv.Parse(b)
	fmt.Println(errors.Is(err, adv.ErrForeign))
	p, err := c.Parse(b)
	fmt.Println(p.Role, err)
	// Output:
	// 03 03 ab fc 17 16 ab fc
	// true
	// shopper <nil>
}

// The walker reads any advert, here an Eddystone-URL.
func ExampleWalker() {
	b := []byte{
		0x02, 0x01, 0x06,
		0x03, 0x03, 0xaa, 0xfe,
		0x0c, 0x16, 0xaa, 0xfe, 0x10, 0xee, 0x03, 'g', 'o', 'o', '.', 'g', 'l',
	}
	w := adv.NewWalker(b)
	for w.Next() {
		s := w.Structure()
		if uuid, data, ok := s.ServiceData16(); ok {
			fmt.Printf("service data %04x: % x\n", uuid, data)
			continue
		}
		fmt.Printf("type %02x: % x\n", s.Type, s.Data)
	}
	fmt.Println(w.Err())
	// Output:
	// type 01: 06
	// type 03: aa fe
	// service data feaa: 10 ee 03 67 6f 6f 2e 67 6c
	// <nil>
}

// Both phones show the same code, whichever EID they put first.
func ExamplePairingCode() {
	epoch := adv.Epoch(time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC))
	seller, _ := adv.DeriveEID(secret(0x00), epoch)
	shopper, _ := adv.DeriveEID(secret(0x10), epoch)
	fmt.Println(adv.PairingCode(seller, shopper), adv.PairingCode(shopper, seller))
	// Output:
	// 211043 211043
}

// The cloud resolves the EIDs it is shown to enrolled cards.
func ExampleResolver() {
	var r adv.Resolver
	if err := r.Enrol(cardID, secret(0x00)); err != nil {
		panic(err)
	}
	now := time.Date(2026, time.January, 1, 0, 3, 0, 0, time.UTC)
	k, _ := adv.NewEIDKey(secret(0x00))

	id, ok := r.Resolve(k.EID(adv.Epoch(now)), now)
	fmt.Println(id, ok)
	// A phone whose clock is a little ahead still resolves.
	id, ok = r.Resolve(k.EID(adv.Epoch(now)+1), now)
	fmt.Println(id, ok)
	// An EID of an hour ago does not.
	_, ok = r.Resolve(k.EID(adv.Epoch(now.Add(-time.Hour))), now)
	fmt.Println(ok)
	// Output:
	// 8901260123456789011 true
	// 8901260123456789011 true
	// false
}
