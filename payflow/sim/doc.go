// Package sim is a deterministic simulation of casimpay: many phones with
// virtual CA-SIM cards, one platform and its ledger in one process, driven
// by a seeded random source and a virtual clock, under injected faults.
//
// Run plays one seed: it enrols shoppers and merchants (one capturing at
// once and selling e-tickets, one capturing by hand), then takes random
// steps — purchases (scan, pair, request, PIN and consent), cancels,
// declines, captures, partial and repeated refunds, fundings, ticket
// sales — while it loses and duplicates messages, loses replies after the
// platform committed, jumps the clock past request and hold lifetimes and
// across EID epochs, revokes cards, locks PINs, restarts the platform on
// the same stores, restarts it with a new receipt key and certificate of
// the same CA (the replaced certificate revoked, with fresh CRLs, one time
// in three), and kills it at its n-th store write (before or after that
// write reached the disk), then restarts it and runs the recovery sweep.
// It also fails the n-th store write of a call (a payment call, a login, a
// pairing, a funding, or a set-up call of the operator: an enrolment of a
// card or a merchant, a catalog, the asset, a wallet, the issue of the
// tickets or a first funding), of the platform's timer or of its recovery
// sweep while the platform runs on, its caches and claims kept: a
// transient database error (the write not made) or one reported after
// the write committed (its acknowledgement lost). A phone that gets no
// verdict sends the call again (over HTTP after the client's own resends
// under one Idempotency-Key), or polls first, and must find the call made
// once or not at all; the operator runs a set-up call that got no verdict
// again, which must then succeed, the world set up as if nothing had
// failed; the timer's next round runs the recovery sweep, and its later
// rounds run again a sweep that failed partway, until nothing it left is
// under way.
//
// With Options.HTTP the phones reach the platform through payflow.Client
// and the HTTP handler, over a transport in process that also loses
// requests and replies and duplicates requests: the client's resends under
// one Idempotency-Key, answered from the replies stored in the platform's
// store, must hide those faults from the phones.
//
// The phones keep a model of what they know: every reply they saw, every
// consent their cards signed, every balance they expect. After the set-up,
// after every step and at the end Run checks that ledger.Ledger.Verify
// passes; that the money of the currency and the units of the ticket
// asset are conserved (the balances of wallets and merchants add up to
// what was funded or issued); and that every wallet and merchant balance,
// posted and held, equals the model's, so that no accepted consent is
// settled twice or lost and nothing else is charged. At every reply and
// poll the phones get, and for every request at the end (the platform
// restarted and every lifetime passed), it checks that the state shown is
// the model's; that a captured request's receipt names a consent that its
// payer's card signed for exactly that request; that a request held by a
// consent, as the reply or the poll after a crash shows it, is held until
// the consent's acceptance plus the hold TTL, also when the recovery sweep
// made the hold after the restart, and that the ledger's hold ends no
// earlier; that no request leaves a final state; and that every receipt
// the phones get, also one read again or answered for a call sent again,
// carries the certificate chain of a receipt key the platform had, was
// signed by that key while the platform signed with it, verifies on the
// phones by that chain (pki.Verifier.VerifyReceipt) unless that
// certificate was revoked, which they then refuse (pki.ErrRevoked), and
// names the request, the consent and the amount. The first broken
// invariant ends the run with a *Failure naming the seed and the step.
//
// Everything random comes from the seed (math/rand/v2 PCG and ChaCha8),
// and the simulation runs in one goroutine, so a seed replays identically:
// Stats.Trace, of a run that passes, is a digest of every step and outcome.
//
//	st, err := sim.Run(ctx, sim.Options{Seed: 42})
//	var f *sim.Failure
//	if errors.As(err, &f) {
//		log.Printf("replay with -sim.seed=%d: %v", f.Seed, err)
//	}
package sim
