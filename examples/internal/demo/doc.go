// Package demo is what the runnable examples share: a demo certificate
// authority kept in a data folder, a cloud platform on the embedded SQLite
// stores (or PostgreSQL), personalised virtual CA-SIM cards kept in state
// files, the markets (the grocery with a catalog, a funded shopper and a
// few other phones nearby; the pairs of the load generator), a simulated
// Bluetooth radio in process or between processes (the air folder), and
// phones that run payflow.Shopper and payflow.Seller and print what their
// screens show, with the cloud's side printed by a Narrator.
//
// Nothing here is meant for production: the CA keys lie unencrypted in
// the data folder and every card has the PIN 123456.
package demo
