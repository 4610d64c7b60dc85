// Command seller is the till of Corner Grocer in the three-process grocery
// purchase: with its card from the cloud's data folder, it scans the
// simulated air, finds Alice in its service queue, pairs with her phone,
// reads the catalog, sends the card-signed payment request for the
// basket and waits for the receipt, which it verifies; while the cloud
// does not answer the login, the naming of the phones it hears, its
// pairing with the shopper and the wait for her, the catalog read, the
// payment request or the wait for the receipt (it may be starting or
// restarting), or still works on one of them that it did not answer in
// time (a slow database, say), it asks again until -wait ends. A payment
// request that got no answer may have been recorded all the same: the
// till sends it again first, and cancels it before it asks with a new
// one, or, when the shopper paid it meanwhile, takes that payment as the
// purchase and verifies its receipt, charging nothing more; an approval
// of the shopper's that the cloud is settling as the till cancels the
// request is waited out first, until -wait ends, and a payment it makes
// is that purchase (a settlement still under way when -wait ends, the
// payment's outcome unknown, ends the till with the cloud's conflict,
// exit status 1). When -wait ends, it is interrupted or the cloud fails
// before the shopper approved, it cancels the payment request, also one
// the cloud did not answer (sent again to cancel it), so that the
// shopper's next run does not pay it; it says so when the request expired,
// when the shopper paid it but its receipt could not be checked, and when
// the withdrawal failed. Interrupted again while it withdraws, which ends
// it at once, or killed outright (SIGKILL), it may cancel nothing: its
// next run pairs again in the same session (the same two cards and EIDs,
// within the ten-minute EID epoch), and the cloud then cancels the request
// left pending (PROTOCOL.md §6.1); only a shopper run that pairs before
// that may still be shown it. A run in the session of an earlier one that
// finds the earlier run's request paid shows that payment as already
// made, and then asks for its basket with a new request (PROTOCOL.md
// §5.6). It exits 0 once the shopper paid its request and the till
// verified the receipt, 1 when the run ends otherwise, and 2 on a flag or
// argument that it refuses. Its error at the end of a run that an
// interrupt (SIGINT or SIGTERM) cut short names the signal. Start the
// cloud program first (see its documentation for the three commands).
//
//	go run ./examples/seller [-data DIR] [-url URL]
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
//	-pick NAME      whom to tap in the service queue (default Alice)
//	                (a name no phone can have, such as an empty one, is
//	                refused with exit status 2)
//	-seed N         seed of the simulated radio (default 1)
//	-wait DURATION  how long to wait for the cloud to answer the login, and
//	                then for the shopper: one deadline, from the start of the
//	                scan, to find her, pair and buy (default 2m); the error
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
	demo.Exit("seller", demo.RunSeller(ctx, os.Args[1:], os.Stdout))
}
