// Command cloud is the platform of the three-process grocery purchase: it
// serves the casimpay HTTP API on localhost, with the ledger and the
// platform state in a SQLite file of its data folder (or in PostgreSQL
// with -postgres), and prints what the cloud does. Run the seller and the
// shopper programs, each in a terminal of its own, against it:
//
//	go run ./examples/cloud                 # terminal 1: serves 127.0.0.1:8080
//	go run ./examples/seller                # terminal 2: the till of Corner Grocer
//	go run ./examples/shopper               # terminal 3: Alice's phone
//
// On its first start the cloud plays the card issuer too: it creates a
// demo certificate authority in the data folder, personalises the virtual
// CA-SIM cards of the grocery market (Alice, the till, and four phones
// nearby), enrols them and writes their state files into the data folder,
// where the seller and shopper programs pick up their cards. It writes the
// URL it serves into the data folder (cloud.url), so the phones find it,
// and broadcasts the adverts of the phones nearby into the simulated air
// (the folder air/), from which it removes them, and cloud.url from the
// data folder, as it ends. Every 5 seconds it sweeps: it ends the payment
// requests past their expiry and completes the settlements that calls cut
// short left under way; at its start and after each sweep that did not
// fail it tops Alice's wallet up with EUR 50.00 when less than EUR 25.00
// is available, saying so, so that purchases can go on. A later start
// continues with the same cards and accounts; one on a data folder that
// holds the cards or the database of an earlier start but not its demo CA
// (the folder pki/ removed, say), whose cards a new CA would not know,
// fails at once (exit status 1), saying to restore pki/ or remove the
// whole folder, and changes nothing. A second cloud started on a data
// folder that a running cloud serves fails at once (exit status 1,
// "another cloud serves this data folder") and writes nothing over the
// first's cloud.url. Interrupted (Ctrl-C), it waits 5 seconds at most for
// the calls under way, cuts those still under way then, saying so, and
// exits 0; a second interrupt ends it at once. Interrupted while it sets
// up (the data folder, the database, the cards), it exits 1 with an error
// that names the signal, unless the setup ends before it heeds the
// interrupt: then it stops as above and exits 0.
//
// Flags:
//
//	-data DIR        the data folder shared with the phones (default
//	                 $TMPDIR/casimpay-demo); an empty DIR, or one that is a
//	                 file, is refused with exit status 2, and one that
//	                 cannot be written (nor made), or whose cards/, air/ or
//	                 database cannot be, with exit status 1 and a line
//	                 that names it and says why
//	-listen ADDR     the address to serve, host:port (default 127.0.0.1:8080);
//	                 for every interface (:8080, 0.0.0.0:8080, [::]:8080)
//	                 cloud.url names the loopback address, 127.0.0.1 or [::1]
//	                 (a URL of another host, plain http, the phones take
//	                 with their -plain-http only);
//	                 a value that is not host:port, or whose port is not 0
//	                 to 65535 or a service's name, is refused with exit
//	                 status 2
//	-postgres DSN    keep the ledger and the platform state in PostgreSQL;
//	                 a DSN that does not parse (as a URL or keyword/value
//	                 pairs), or of white space alone, is refused with exit
//	                 status 2, and one whose
//	                 server does not answer with exit status 1
//	-pairs N         also enrol the cards of N pairs for examples/loadgen -url,
//	                 at most 1000 (default 0)
package main

import (
	"os"

	"github.com/casimpay/casimpay/examples/internal/demo"
)

func main() {
	ctx, stop := demo.NotifyContext()
	defer stop()
	demo.Exit("cloud", demo.RunCloud(ctx, os.Args[1:], os.Stdout))
}
