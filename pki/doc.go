// Package pki is the certificate authority tooling and the fail-closed
// certificate verifier of CA-SIM payments.
//
// # Hierarchy and profile
//
// A root CA certifies a card-issuing CA, which certifies the cards and the
// platform's receipt key; every key is ECDSA P-256 (CAs may use P-384). A
// card certificate names its card by one URI subject alternative name,
// urn:casim:card:<ICCID>, and carries the extended key usage OIDCardAuth
// (2.25.14867726572143155195053814763898743270) and the critical key usage
// digitalSignature. The platform certificate carries OIDReceiptSigning
// instead and no subject alternative name. Every certificate below the
// root names its issuer's CRL distribution point; every CRL is signed,
// numbered and has a next update. PROTOCOL.md §4 gives the profile field
// by field.
//
// The extended key usage OIDs have arcs beyond 64 bits, which crypto/x509
// refuses to parse: read such certificates with ParseCertificate and
// ExtKeyUsages, never x509.ParseCertificate.
//
//	root, _ := pki.NewRoot(rootKey, pki.CAOptions{CRLURL: "https://pki.example/root.crl"})
//	ca, _ := root.NewIntermediate(caKey, pki.CAOptions{CRLURL: "https://pki.example/card.crl"})
//	cert, _ := ca.IssueCard(cardPub, "89014103211118510720", pki.IssueOptions{})
//	chain := append([][]byte{cert}, ca.Chain()...)
//
// # Verification
//
// A Verifier wraps x509.Verify and adds what it lacks: the basic
// constraints and key usage of the profile (critical, CA:FALSE, and
// digitalSignature alone, for a card or the platform; critical, CA:TRUE,
// and keyCertSign with cRLSign, for a CA), a subject key identifier on
// every CA, an authority key identifier equal to the issuer's subject key
// identifier on every certificate below the root (crypto/x509 builds a
// path through an issuer of another key identifier too), CRL
// distribution points of full-name URIs on every certificate below the
// root, the other extensions it gives a card or the platform (a subject
// key identifier, a non-critical extended key usage and subject
// alternative name), the profile's extended key usages,
// exactly one well-formed card URI, an algorithm allow-list, certificate and
// CRL times, names and extensions in the one encoding that RFC 5280 and DER
// give them (crypto/x509 parses others, such as a GeneralizedTime through
// 2049, a critical written out as FALSE, a keyUsage with trailing zero bits, a
// name with an empty RelativeDistinguishedName or its attributes out of DER's
// order, or bytes after the last field of an attribute of a name, an
// extension, a validity, a CRL entry or the extensions, or after the
// signature, a signature with unused bits, or a version written out as v1), a
// depth limit, clock skew, and revocation checked
// fail-closed against signed, fresh CRLs given to AddCRL. VerifyCard and
// VerifyPlatform return a result only when every check passed, and keep it
// in a bounded cache so that a known chain costs a hash and a map lookup;
// the same cache keeps a refusal for revocation or expiry (in a quarter of
// its room at most), while the CRLs held are the same and no validity
// bound or CRL update time is crossed, so that a revoked or expired chain
// presented again costs no verification either (no parse, no signature
// check). CertIDs and Revoked answer only whether a chain may be revoked,
// with the same CRLs: the chain is read once, and each question is then a
// map lookup per certificate, for a server that keeps the chains of many
// cards and must not offer a revoked one. Revoked finds every chain that
// VerifyCard refuses as revoked, and may find one it accepts (a revoked
// certificate presented off the path VerifyCard takes): VerifyCard
// decides for the chains Revoked finds. The same reading gives the end of the
// chain's validity, the roots that may have issued it included
// (CertIDs.NotAfter), for such a server to compare the time with.
//
// # Proof of possession
//
// A certificate alone proves nothing. A Challenger issues one-time nonces
// and verifies a record signed by the card (package record) against the
// verified certificate: the signature, the card ID of the record against the
// certificate's, the nonce (consumed once; replays are keyed by the nonce,
// never by signature bytes) and the card's counter, which must
// increase strictly: a counter that goes back is a replay or a cloned card.
// NonceStore and CounterStore let a platform keep both in its database;
// package pkitest is their conformance suite, which MemoryNonces and
// MemoryCounters pass.
//
// # Errors
//
// Every refusal matches one sentinel with errors.Is: ErrUntrusted,
// ErrExpired, ErrRevoked, ErrUsage, ErrCardID and ErrCRL for chains and
// CRLs (as an *Error naming the certificate at fault), ErrNonce and
// ErrCounterRegression (a *CounterError) for proofs of possession, ErrKey
// for keys handed in outside the profile (a certificate's key outside it is
// ErrUsage), ErrInvalid for an argument or option out of its range. Only
// what the caller supplies fails otherwise: an error of its crypto.Signer,
// random source, NonceStore or CounterStore is returned wrapped as it is,
// and VerifyRecord and VerifyReceipt return the sentinels of package
// record (ErrInvalid for a nil receiver; VerifyRecord ErrCardID for a
// record of another card than the certificate's), and so does
// VerifiedPlatform.VerifySignedReceipt; Verifier.ReceiptPlatform,
// Verifier.DecodeReceipt and Verifier.VerifyReceipt those of package
// record for the receipt and those of VerifyPlatform for the chain it
// carries.
package pki
