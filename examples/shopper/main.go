// Command shopper is Alice's phone in the three-process grocery purchase:
// with her card from the cloud's data folder, it scans the simulated air,
// finds Corner Grocer in its service queue, pairs with the till, waits for
// the payment screen and shows it, approves it with the card's PIN and
// verifies the receipt; while the cloud does not answer the login, the
// naming of the phones it hears, the pairing with the till, the waits or
// the approval (it may be starting or restarting), or still works
// on one of them that it did not answer in time (the settlement of the
// approval, which a slow ledger holds up, say), it asks again, and sends
// the approval again without asking for the PIN, until -wait ends. When
// -wait ends, or it is interrupted, before the cloud answered the
// approval, it says that the payment may have gone through, which the
// till's screen shows, or, before it sent the approval, that it was not
// sent. It exits 0 once the cloud settled the approval and the phone
// verified the receipt, 1 when the run ends otherwise, and 2 on a flag or
// argument that it refuses. Its error at the end of a run that an
// interrupt (SIGINT or SIGTERM) cut short names the signal. Start the
// cloud program first (see its documentation for the three commands).
//
//	go run ./examples/shopper [-data DIR] [-url URL]
//
// Flags:
//
//	-data DIR       the cloud's data folder (default $TMPDIR/casimpay-demo);
//	                an empty DIR, or one that is a file, is refused with
//	                exit status 2, and one whose cards/ or air/ (or,
//	                while air/ is missing, DIR itself) cannot be written
//	                with exit status 1 and a line that names it and says
//	                why, before the phone logs in
//	-url URL        the cloud's URL (default: read from DIR/cloud.url, which
//	                the cloud program writes; with none there, the run
//	                ends with exit status 1, saying that no cloud runs
//	                with -data DIR); one that is no http or https URL is
//	                refused with exit status 2
//	-plain-http     allow a plain http cloud URL whose host is not loopback
//	                (127.0.0.0/8, ::1 or localhost), over which the card's
//	                bearer token and signed records cross the network in
//	                clear; without it such a -url is refused with exit
//	                status 2, and such a URL of DIR/cloud.url (a cloud
//	                serving -listen on another address) with exit status 1
//	-pick NAME      whom to tap in the service queue (default Corner Grocer)
//	                (a name no phone can have, such as an empty one, is
//	                refused with exit status 2)
//	-pin DIGITS     the PIN to type, 4 to 12 digits (default 123456)
//	-puk DIGITS     the PUK to type when the card's PIN is blocked (after 3
//	                wrong PINs), 8 digits (the demo cards' PUK is
//	                12345678): it unblocks the card and makes -pin its PIN
//	                (default: none, and a blocked PIN fails the purchase,
//	                the phone saying that -puk unblocks it)
//	-seed N         seed of the simulated radio (default 1)
//	-wait DURATION  how long to wait for the cloud to answer the login, and
//	                then for the seller: one deadline, from the start of the
//	                scan, to find it, pair and buy (default 2m); the error
//	                of a -wait that ended first says what was under way,
//	                such as "NAME not found before -wait ended"; a
//	                DURATION not positive is refused with exit status 2
package main

import (
	"os"

	"github.com/casimpay/casimpay/examples/internal/demo"
)

func main() {
	ctx, stop := demo.NotifyContext()
	defer stop()
	demo.Exit("shopper", demo.RunShopper(ctx, os.Args[1:], os.Stdout))
}
