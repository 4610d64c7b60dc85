// Package queue is the service queue of a casimpay phone: the counterparties
// its Bluetooth scanner hears, as step 3 of a purchase lists them. A shopper's
// phone keeps the sellers around it and a seller's phone the shoppers, one
// entry per ephemeral ID (EID), with the signal strength smoothed, nearest
// first, without the list jumping about, forgetting whoever is no longer
// heard, and bounded however many adverts arrive. The user picks the
// counterparty from it (step 4), and the selection stays put.
//
// The scanner, whatever it is, parses each report with adv.Parse and hands it
// over with its RSSI and time; the UI waits on Changes and draws a Snapshot:
//
//	q, _ := queue.New(adv.Shopper, queue.Options{})
//	// scanner callback:
//	if p, err := adv.Parse(record); err == nil {
//		_ = q.Observe(p, rssi, when)
//	}
//	// UI loop:
//	for range q.Changes() {
//		draw(q.Snapshot())
//	}
//
// The Queue type documents the RSSI filter, the hysteresis rule, expiry and
// eviction.
package queue
