package queue_test

import (
	"fmt"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/queue"
)

// A shopper's phone lists the sellers its scanner hears, nearest first, and
// the user picks one.
func Example() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	q, err := queue.New(adv.Shopper, queue.Options{Now: func() time.Time { return now }})
	if err != nil {
		panic(err)
	}
	bakery := adv.Packet{Role: adv.Seller, EID: adv.EID{0xba}, TxPower: -8}
	kiosk := adv.Packet{Role: adv.Seller, EID: adv.EID{0xc1}, TxPower: -8}
	other := adv.Packet{Role: adv.Shopper, EID: adv.EID{0x50}}

	fmt.Println(q.Observe(bakery, -70, now))
	fmt.Println(q.Observe(kiosk, -55, now))
	fmt.Println(q.Observe(other, -40, now)) // another shopper is no counterparty
	for _, p := range q.Snapshot() {
		fmt.Printf("%x %v dBm\n", p.Packet.EID[0], p.RSSI)
	}

	p, err := q.Select(kiosk.EID)
	fmt.Printf("selected %x %v\n", p.Packet.EID[0], err)
	// Output:
	// <nil>
	// <nil>
	// queue: advert of this phone's own role
	// c1 -55 dBm
	// ba -70 dBm
	// selected c1 <nil>
}

// A UI waits for change notifications, which coalesce and never block the
// scanner.
func ExampleQueue_Changes() {
	q, err := queue.New(adv.Seller, queue.Options{})
	if err != nil {
		panic(err)
	}
	for i := range 100 {
		_ = q.Observe(adv.Packet{Role: adv.Shopper, EID: adv.EID{byte(i)}}, -60, time.Now())
	}
	<-q.Changes()
	fmt.Println(len(q.Snapshot()), "shoppers nearby")
	select {
	case <-q.Changes():
		fmt.Println("another notification")
	default:
		fmt.Println("no more notifications")
	}
	// Output:
	// 100 shoppers nearby
	// no more notifications
}
