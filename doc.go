// Package casimpay is the map of a set of packages for phone-to-phone,
// in-person payments between two mobile phones that each carry a CA-SIM: a
// SIM card holding an X.509 certificate, a private key that never leaves the
// card, and its own Bluetooth LE radio.
//
// This package holds no code. The work is done by:
//
//	adv      the BLE advertisement codec, rotating ephemeral IDs (EIDs),
//	         the cloud's EID resolver and the pairing code
//	queue    the service queue: peers seen nearby, nearest first
//	simcard  the CA-SIM applet behind an ISO/IEC 7816-4 APDU boundary, the
//	         phone-side card driver, personalisation and a PC/SC bridge
//	pki      the certificate authority, the fail-closed card verifier and
//	         proof of possession (nonces, card counters);
//	         pki/record holds the signed records of the protocol
//	ledger   a double-entry ledger with TigerBeetle's semantics, on SQLite
//	         (embedded default) or PostgreSQL
//	payflow  the cloud Platform, the Shopper and Seller phone logic, and the
//	         HTTP API between them
//	examples runnable programs: the grocery purchase, three processes over
//	         HTTP, an e-ticket sale, the virtual card, a load generator
//
// # A purchase in seven steps
//
//  1. The shopper opens the shopper app and the merchant the seller app;
//     each drives its own card (payflow.Shopper, payflow.Seller).
//  2. Each card builds a 31-byte advert with its role and a rotating EID,
//     never its card ID (simcard, adv); the phone broadcasts it.
//  3. Each phone scans, keeps the adverts of the other role in its service
//     queue, nearest first (queue).
//  4. Both users pick each other: both screens show the counterparty's name,
//     resolved by the cloud from the EID, and the same 6-digit pairing code
//     (adv.Resolver, adv.PairingCode, payflow).
//  5. Both cards sign a fresh cloud challenge bound to both EIDs and their
//     own counters; the cloud verifies the chain, the revocation status, the
//     card ID and the counter (simcard, pki, pki/record, payflow).
//  6. The seller's card signs a payment request; the cloud prices it from
//     the merchant's catalog and shows it on the shopper's screen (payflow).
//  7. After the PIN, the shopper's card signs a consent bound to the request
//     hash, amount, currency and payee; the cloud holds and captures the
//     money in the ledger and returns a receipt it signed (simcard, ledger,
//     payflow).
//
// # Sequence
//
//	Shopper card   Shopper phone        Cloud             Seller phone   Seller card
//	     |  advert(EID_s) |               |                     | advert(EID_m) |
//	     |<---------------|               |                     |-------------->|
//	     |                |<~~~~~~~~~~~~ BLE adverts ~~~~~~~~~~>|               |
//	     |<- sign login --|--- login ----->|<------ login -----|- sign login ->|
//	     |                |<-- token ------|------ token ----->|               |
//	     |                |-- resolve EID_m ->                  |               |
//	     |                |<- "Grocer" ------|<- resolve EID_s --|              |
//	     |                |                |-- "Alice" -------->|               |
//	     |                |-- challenge --->|<--- challenge -----|              |
//	     |<- sign proof --|                |                    |-- sign proof ->|
//	     |                |-- proof(n,EIDs,ctr) ->|<- proof -----|              |
//	     |                |                | verify chain, CRL, counter         |
//	     |                |<- code, paired-|-- code, paired --->|               |
//	     |                |                |<- signed request --|<- sign req ---|
//	     |                |<- payment screen|                   |               |
//	     |<- PIN, consent-|                |                    |               |
//	     |                |-- consent ---->| hold, capture      |               |
//	     |                |<-- receipt ----|---- receipt ------>|               |
//
// PROTOCOL.md in the module root gives every wire format; BENCHMARKS.md the
// measured figures.
package casimpay
