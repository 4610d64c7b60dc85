// Package demo is what the runnable examples share: a demo certificate
// authority kept in a data folder, a cloud platform on the embedded SQLite
// stores (or PostgreSQL), personalised virtual CA-SIM cards kept in state
// files, the grocery market (a merchant with a catalog, a funded shopper
// and a few other phones nearby), a simulated Bluetooth radio, and the
// phone-side steps of a purchase printed as the two screens show them.
//
// Nothing here is meant for production: the CA keys lie unencrypted in
// the data folder and every card has the PIN 123456.
package demo
