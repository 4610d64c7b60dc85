// Package payflow runs in-person payments between two phones that carry
// CA-SIM cards: the cloud Platform, the phone-side Shopper and Seller, and
// the HTTP transport between them. API is the contract the phones see;
// *Platform implements it in process and *Client over HTTP.
//
// # The platform
//
// A Platform enrols cards (their verified certificate chains and
// advertising secrets) and merchants (ledger accounts, seller cards, a
// catalog). A phone logs its card in with a card-signed auth proof over a
// fresh challenge nonce, turns the EIDs it sees over the air into names
// (Resolve), and pairs: both cards sign proofs naming each other's EID, and
// both screens show the same pairing code. The seller's card signs a
// payment request priced from the catalog; the shopper's card signs a
// consent bound to the request's hash, amount, currency and payee, after
// its PIN; the platform holds, captures (or voids) the money and any asset
// legs in the ledger, all or nothing, and signs a receipt that both phones
// verify offline. PROTOCOL.md §6 gives the states and every refusal.
//
//	p, _ := payflow.NewPlatform(payflow.PlatformOptions{
//		Ledger: led, Store: store, Verifier: verifier, Key: key, Chain: chain,
//	})
//	id, _ := p.EnrollCard(ctx, enrolment.Chain, enrolment.AdvertisingSecret, "Alice")
//
// # State and concurrency
//
// All state lives in a Store in the ledger's database: payflow/sqlite (in
// the ledger's SQLite file, the embedded engine) or payflow/postgres, with
// payflow/memory for tests; payflow/paytest is the conformance suite they
// pass. PlatformOptions.Store has no default: NewPlatform refuses options
// without one. Every transition of a payment request is a compare-and-set
// and every ledger transfer ID is derived from the request or refund it
// settles (TransferID), so several platform processes may serve one
// database, and retries never move money twice. Run ExpireDue and
// RecoverSweep from a timer in one or more processes: the first expires
// requests and holds that fall due, and deletes the expired challenge
// nonces, tokens, sessions and stored replies (Store.DeleteExpired); the
// second finishes settlements that a crash or an outage left between the
// ledger and the state (a retried ledger chain that an earlier call created
// is accepted as created, and a hold the ledger refused stays refused).
//
// # Contexts
//
// Where the Shopper, the Seller or the Client says that a call fails with
// ctx's error, that error is context.Cause(ctx): ctx.Err(), unless ctx
// was ended with a cause (context.WithCancelCause, WithTimeoutCause,
// WithDeadlineCause), which it then is, whether the phone noticed the end
// itself, in a pause between polls or attempts, or in the Client's call.
// The Platform's own checks of ctx fail with ctx.Err(), and its store's
// with the store's error, which the phones pass on when the API is a
// Platform in process.
package payflow
