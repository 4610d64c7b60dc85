package payflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"sync"
	"time"

	"github.com/casimpay/casimpay/adv"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// Challenge implements API: a fresh 32-byte nonce, usable once within the
// challenge TTL, for any card ID of the form that records carry
// (record.CheckCardID; another is ErrInvalid), enrolled or not, and bound
// to it: a record under another card ID over it is ErrReplay (check). The
// nonce is stateless (see platform_nonce.go): issuing it writes nothing,
// and reads nothing either, so that neither the reply nor its time tells
// whether the card is enrolled; a login proof of a card that the platform
// does not hold is then refused as one that its card's key did not sign
// (openCardEntry).
func (p *Platform) Challenge(_ context.Context, req *ChallengeRequest) (*ChallengeResponse, error) {
	if req == nil {
		return nil, errNilRequest("challenge")
	}
	if err := record.CheckCardID("card ID", req.CardID); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	exp := p.now().Add(p.ttl.challenge)
	nonce, err := mintNonce(p.nonceKey, p.rand, exp, req.CardID, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &ChallengeResponse{Nonce: nonce, ExpiresAt: exp}, nil
}

// checkEID verifies that eid is the card's EID of the current epoch or of
// one next to it (adv.NearEpochs, as the EID resolver accepts), from the
// card's advertising secret as c holds it (with the EID key kept with it:
// see cachedCard.eidKey).
func (p *Platform) checkEID(c *cachedCard, eid []byte) error {
	k, err := c.eidKey()
	if err != nil {
		return err
	}
	eps, n := adv.NearEpochs(adv.Epoch(p.now()))
	for _, ep := range eps[:n] {
		got := k.EID(ep)
		if subtle.ConstantTimeCompare(got[:], eid) == 1 {
			return nil
		}
	}
	return fmt.Errorf("%w: EID is not the card's current one", ErrMismatch)
}

// Login implements API. The token it stores is bound to the card
// certificate that the proof was verified with (TokenRecord.CertHash): it
// serves only while the card stays enrolled with that certificate (auth).
// Once the proof's chain and signature are verified, and before anything
// is written, the login draws on the card's budget of logins
// (PlatformOptions.LoginRate and LoginBurst): past it, the call is a
// *RateLimitedError and the proof stays unspent, its nonce and counter
// usable again within the nonce's lifetime. A login that fails for the
// platform (a store error: internal or unavailable), or whose proof the
// store finds spent (ErrReplay, ErrClone: a copy of it, or a later
// proof of the card, accepted first), gives its draw back; one refused
// otherwise (its EID, its role) does not.
func (p *Platform) Login(ctx context.Context, req *LoginRequest) (*LoginResponse, error) {
	if req == nil {
		return nil, errNilRequest("login")
	}
	var proof record.AuthProof
	e, err := p.openCardEntry(ctx, req.Proof, &proof)
	if err != nil {
		return nil, err
	}
	c := e.rec
	if !bytes.Equal(proof.PeerEID, make([]byte, record.EIDSize)) {
		return nil, unverified(fmt.Errorf("%w: a login proof names a peer", ErrInvalid))
	}
	a, err := p.check(ctx, c, req.Proof, &proof)
	if err != nil {
		return nil, err
	}
	if err := p.logins.allow(c.ID, p.now()); err != nil {
		return nil, err
	}
	resp, err := p.logIn(ctx, e, &proof, a)
	if errors.Is(err, ErrReplay) || errors.Is(err, ErrClone) || serverError(err) {
		p.logins.giveBack(c.ID)
	}
	return resp, err
}

// logIn is Login once the proof of card e is verified (a) and its draw on
// the card's budget of logins made.
func (p *Platform) logIn(ctx context.Context, e *cachedCard, proof *record.AuthProof, a *Acceptance) (*LoginResponse, error) {
	c := e.rec
	if err := p.checkEID(e, proof.EID); err != nil {
		return nil, p.refuse(ctx, a, err)
	}
	if proof.Role == record.RoleSeller && c.MerchantID == "" {
		return nil, p.refuse(ctx, a, fmt.Errorf("%w: card %s belongs to no merchant", ErrForbidden, c.ID))
	}
	var raw [32]byte
	if _, err := io.ReadFull(p.rand, raw[:]); err != nil {
		return nil, p.refuse(ctx, a, fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(token))
	now := p.now()
	exp := now.Add(p.ttl.token)
	a.Token = &TokenRecord{Hash: h[:], CardID: c.ID, CertHash: certHash(c), ExpiresAt: exp}
	if err := p.accept(ctx, a); err != nil {
		return nil, err
	}
	p.tokens.put(a.Token, now)
	return &LoginResponse{Token: token, CardID: c.ID, DisplayName: c.DisplayName, MerchantID: c.MerchantID, ExpiresAt: exp}, nil
}

// CheckToken implements TokenChecker: it returns nil for a token that the
// methods taking one accept now, and otherwise the error they answer it.
func (p *Platform) CheckToken(ctx context.Context, token string) error {
	_, err := p.auth(ctx, token)
	return err
}

// auth returns the card that holds token. The token is looked up by its
// SHA-256, so the stored value is useless to a reader of the database and
// no comparison of secrets depends on their bytes: in the process's
// tokens (tokenCache: those it issued, and those it read from the store,
// until they expire), else in the store; the checks of its card below
// are made on every call. The token of a card
// whose certificate, or a CA certificate above it, the CRLs of the
// platform's verifier list, or whose chain has passed the end of its
// validity and the verifier's clock skew, is refused as a login of the
// card is (see trusted): a token outlives neither the revocation nor the
// expiry of its card. Nor does it outlive the card's record: the token of
// a card that the store no longer holds (read again once its entry in the
// card cache has expired) is ErrCard, not enrolled (enrolledEntry): the
// token's holder proved the card's key, so that the reply tells it
// nothing it may not know, while a login of such a card is ErrSignature
// (openCardEntry), nor the certificate its login was proved with: the
// token of a card enrolled since with another card certificate (a new
// key under the same ICCID, after the old one's revocation, say), or
// stored without the certificate's hash, is ErrCard, as that of a card
// no longer enrolled (sameCert).
func (p *Platform) auth(ctx context.Context, token string) (*CardRecord, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no token", ErrUnauthorized)
	}
	h := sha256.Sum256([]byte(token))
	now := p.now()
	t, ok := p.tokens.get(h, now) // unexpired at now
	if !ok {
		var err error
		t, err = p.store.Token(ctx, h[:])
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: unknown token", ErrUnauthorized)
		}
		if err != nil {
			return nil, err
		}
		if !now.Before(t.ExpiresAt) {
			return nil, fmt.Errorf("%w: token expired", ErrUnauthorized)
		}
		p.tokens.put(t, now)
	}
	e, err := p.enrolledEntry(ctx, t.CardID)
	if err != nil {
		return nil, err
	}
	if !sameCert(t, e.rec) {
		return nil, fmt.Errorf("%w: card %s is not enrolled with the certificate of the token's login", ErrCard, t.CardID)
	}
	if err := p.trusted(e); err != nil {
		return nil, err
	}
	return e.rec, nil
}

// certHash returns the SHA-256 of card c's certificate (DER, the first of
// its chain), which binds a token to it (TokenRecord.CertHash), or nil
// for a card without a chain.
func certHash(c *CardRecord) []byte {
	if len(c.Chain) == 0 {
		return nil
	}
	h := sha256.Sum256(c.Chain[0])
	return h[:]
}

// sameCert reports whether token t was issued to card c as enrolled now:
// whether its certificate hash, compared in constant time, is that of
// c's certificate. A token without one (stored before tokens carried it)
// or a card without a chain matches nothing.
func sameCert(t *TokenRecord, c *CardRecord) bool {
	h := certHash(c)
	return len(t.CertHash) == sha256.Size && len(h) == sha256.Size && subtle.ConstantTimeCompare(t.CertHash, h) == 1
}

// enrolledEntry is cardEntry for a card that holds a token: one that the
// store does not hold is ErrCard (card_not_trusted), not enrolled, rather
// than ErrNotFound, so that its tokens are not answered as a missing
// object would be. (A record of such a card is bad_signature instead:
// see openCardEntry.)
func (p *Platform) enrolledEntry(ctx context.Context, id string) (*cachedCard, error) {
	e, err := p.cardEntry(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: card %s is not enrolled", ErrCard, id)
	}
	return e, err
}

// refusal returns, for a card e that the CRLs of the platform's verifier
// (those that logins are checked with, as they are at the call) list, or
// list a CA certificate above it, the error of the chain verification a
// login of it runs now (pki.ErrRevoked, or a refusal that comes first,
// such as an expiry), and nil for any other card. The CRLs are looked up
// first (cachedCard.revoked: a map lookup or two, no allocation); only a
// card they list is verified, and the verification decides: a card that
// it accepts (a CRL that arrived meanwhile no longer lists it) is not
// refused. The verifier keeps a refusal for revocation, and one for an
// expiry, which comes first, in its cache while the CRLs it holds are the
// same and no validity bound or CRL update time is crossed
// (pki.Verifier.VerifyCard), so that the calls of a revoked card after
// the first verify no chain, expired or not. err is a failure of the
// platform, not of the card.
func (p *Platform) refusal(e *cachedCard) (refused, err error) {
	revoked, err := e.revoked(p.verifier)
	if err != nil || !revoked {
		return nil, err
	}
	_, refused = p.verifier.VerifyCard(e.rec.Chain)
	return refused, nil
}

// trusted returns nil unless card e is expired (expired) or revoked
// (refusal), and then the error that a login of it gets now: ErrCard with
// the reason of the chain verification. The expiry is looked at first: a
// comparison of times, which for a card both revoked and expired gives
// the same refusal (past the skew, the verification refuses the expiry
// before the revocation). It is the card's own call that is refused, so
// the card may learn of its revocation or expiry.
func (p *Platform) trusted(e *cachedCard) error {
	refused, err := p.expired(e)
	if err == nil && refused == nil {
		refused, err = p.refusal(e)
	}
	if err != nil || refused == nil {
		return err
	}
	return verifyError(refused)
}

// expired returns, for a card e of which a certificate of the chain, or
// a root of the verifier that may have issued one of them (the root the
// chain verifies to, which it does not hold), has passed its NotAfter
// (cachedCard.expiry: a comparison of times once read), the error of the
// chain verification a login of it runs now if that error is an expiry
// (pki.ErrExpired, which the verification gives such a chain once past
// the verifier's clock skew: it checks the certificates' validity before
// their signatures and CRLs, and the root's before the CRLs), and nil for
// any other card. Any other refusal of that verification, such as that of
// a stale or missing CRL within the skew, refuses no token: the card is
// accepted as before the certificate's end, its revocation being
// refusal's to judge, by its own rule. err is a failure of the platform,
// not of the card.
//
// The verifier keeps a refusal for the expiry in its cache, as it keeps
// one for revocation (pki.Verifier.VerifyCard), so that the calls after
// the first verify no chain until the clock crosses a time that the
// verification compared (a clock set back into the chain's validity with
// the skew, say, has the chain verified again). Within the skew, where
// the verification accepts the chain's validity, every call verifies the
// chain: for that span, the verifier's skew at most, after the end of
// each card's chain.
func (p *Platform) expired(e *cachedCard) (refused, err error) {
	end, err := e.expiry(p.verifier)
	if err != nil || p.now().Before(end) {
		return nil, err
	}
	if _, refused = p.verifier.VerifyCard(e.rec.Chain); !errors.Is(refused, pki.ErrExpired) {
		return nil, nil
	}
	return refused, nil
}

// Resolve implements API. It draws on the card's budget of EID resolutions
// (ErrRateLimited past it); a resolution that fails for the platform (a
// store error: internal or unavailable) is given back, and one answered
// ErrNotFound is not. The EID of a card whose certificate, or a CA
// certificate above it, is listed in the CRLs that logins are checked with
// is ErrNotFound as an unknown EID is, with the same error, and so is a
// shopper card's EID to a card that is not a seller card (hidden), which
// draws on the budget as that ErrNotFound does. An EID the process does
// not know reloads the cards (see Reload) at most once a second, and at
// most once every CardReloadInterval for the misses of one card: within
// it, the card's next unknown EID is ErrNotFound at once. The EIDs
// answered so as an unknown one, of a revoked card or hidden, reload the
// cards as an unknown EID does, so that the reload tells no more than the
// answer. A hidden EID costs no read of its card either, as an unknown EID
// costs none: the process's EID resolver holds each card's role. A card
// made a seller card through another process is so hidden from shopper
// cards until this one reads the card: a reload of the cards, or a call
// of the card's own (a login, a signed record) once the cache's entry of
// it has expired; to a shopper card that asks, at the latest
// CardReloadInterval after the change (see resolve). A revoked card's EID
// still costs the read of its card, which an unknown EID has none of.
func (p *Platform) Resolve(ctx context.Context, token string, req *ResolveRequest) (*ResolveResponse, error) {
	if req == nil {
		return nil, errNilRequest("resolve")
	}
	me, err := p.auth(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := p.resolves.allow(me.ID, p.now()); err != nil {
		return nil, err
	}
	r, err := p.name(ctx, me, req.EID)
	if serverError(err) {
		p.resolves.giveBack(me.ID)
	}
	return r, err
}

// name returns the card behind an EID as Resolve names it to card me: a
// shopper card is named to seller cards alone (hidden), and is otherwise
// looked for as an EID that resolve does not know.
func (p *Platform) name(ctx context.Context, me *CardRecord, eid []byte) (*ResolveResponse, error) {
	c, err := p.resolve(ctx, me.ID, eid, func(_ string, seller bool) bool { return hidden(me, seller) })
	if err != nil {
		return nil, err
	}
	if c.MerchantID == "" {
		return &ResolveResponse{DisplayName: c.DisplayName, Role: uint8(record.RoleShopper)}, nil
	}
	m, err := p.merchant(ctx, c.MerchantID)
	if err != nil {
		return nil, err
	}
	return &ResolveResponse{DisplayName: m.Name, Role: uint8(record.RoleSeller), MerchantID: m.ID}, nil
}

// resolve returns the enrolled card behind an EID of now's epoch or one
// next to it, asked by the card asker, reloading the cards enrolled
// elsewhere at most once a second, and at most once every
// CardReloadInterval for the misses of one asker (see reloadForMiss; a
// stored card that the resolver refuses is left out, and one deleted from
// the store taken out: see Reload). A card that the resolver names but the
// store no longer has is taken out of the resolver and the cache, and the
// EID is then looked for as one it does not know. The EID must also come
// from the card's advertising secret as read now (within CacheTTL), so
// that the EIDs of a secret replaced through another process stop
// resolving although this process's tables still hold them. A card whose
// certificate, or a CA certificate above it, the CRLs of the platform's
// verifier list (those that logins are checked with, as they are at the
// call), and whose chain a login's verification then refuses (refusal), is
// not offered: its EID too is looked for as one the resolver does not
// know, and so answers errUnknownEID, as an EID never enrolled, telling
// nothing of the card or its revocation. Nor is a card that hide reports
// hidden from the asker, given the card's ID and whether it is a seller
// card (nil: none is): looked for so too, it reloads the cards when an
// unknown EID would, so that neither the answer nor the reload tells that
// the EID is an enrolled card's. hide is asked first with the role that
// the resolver holds the card with, as soon as the resolver names it
// (eidResolver.hides), so that a hidden card costs no more than an unknown
// EID does: no card read, no check of its EID or of the CRLs. It is asked
// again with the role of the card read, should the resolver's be stale: a
// card hidden by either is. So a card whose role another process changed
// is answered by its new role within these bounds: one made a seller card
// is hidden from shopper cards until a read of the card here since sets
// its role (a reload, or cardEntry for a call of the card's own once its
// cache entry has expired); as it is looked for
// as an unknown EID, a shopper card's resolution of it starts one a second
// after the start of the last reload and CardReloadInterval after the
// start of the last reload that that card's misses started, so that it is
// named to a shopper card at the latest at its first resolution
// CardReloadInterval after the change (at once to a seller card, or after
// a Reload), but for reloads that fail or whose scan, begun before the
// change, is still under way. One that is no longer a seller card is
// hidden by the card read once the cache's entry of it has expired
// (CacheTTL), as before, costing one card read, which sets its role.
// (Within this process, EnrollMerchant sets the roles of the cards it
// lists or takes away at once.) A revoked card's EID still costs what
// an unknown one does not: the card read (cardEntry: from the store once
// per CacheTTL, the names of its chain once per card and process), its EID
// and the CRLs checked, and a verification of its chain when the
// verifier's cache does not hold its refusal (refusal), so that its time
// may tell it from an unknown EID by that much; so does a hidden card
// whose role the resolver holds stale as a seller card's, or that it does
// not hold (its read racing a reload that took it out or an enrolment that
// had not stored its role yet).
func (p *Platform) resolve(ctx context.Context, asker string, eid []byte, hide func(id string, seller bool) bool) (*CardRecord, error) {
	if len(eid) != record.EIDSize {
		return nil, fmt.Errorf("%w: EID must be %d bytes", ErrInvalid, record.EIDSize)
	}
	e := adv.EID(eid)
	now := p.now()
	for reloaded := false; ; reloaded = true {
		end := p.nextEnd()
		// A card that hide hides by the role that the resolver holds
		// is looked for as an unknown EID at once, unread.
		if id, ok := p.resolver.Resolve(e, now); ok && !p.resolver.hides(id, hide) {
			gen := p.resolver.begin()
			c, err := p.cardEntry(ctx, id)
			if errors.Is(err, ErrNotFound) {
				// Deleted from the store: its secret may be another
				// card's now, which a reload loads.
				p.dropCard(id, gen)
			}
			p.resolver.end()
			switch {
			case err == nil && p.checkEID(c, eid) == nil:
				refused, err := p.refusal(c)
				if err != nil {
					return nil, err
				}
				if refused == nil && (hide == nil || !hide(c.rec.ID, c.rec.MerchantID != "")) {
					return c.rec, nil
				}
			case err != nil && !errors.Is(err, ErrNotFound):
				return nil, err
			}
		}
		if reloaded {
			return nil, errUnknownEID
		}
		if ok, err := p.reloadForMiss(ctx, asker, now, end); err != nil {
			return nil, err
		} else if !ok {
			return nil, errUnknownEID
		}
	}
}

var errUnknownEID = fmt.Errorf("%w: unknown or stale EID", ErrNotFound)

// hidden reports whether the EID of a card that resolve found, a seller
// card if seller, is kept from card me, which names it (Resolve, or Pair
// for the peer's EID): a shopper card's EID is told to seller cards alone,
// which need the names of the shoppers at their till, while a shopper card
// needs only the merchants' names. To a shopper card, another shopper
// card's EID (and, in Resolve, its own) is errUnknownEID, the answer of an
// EID never enrolled, so that no shopper card can name the passers-by it
// hears, nor tell that an EID is an enrolled shopper's, and follow them
// across the EIDs' epochs (a display name is stable where EIDs rotate).
// resolve asks it with the role that the process's EID resolver holds,
// before the card is read, and then with the role of the card read. The
// card is looked for as an EID that resolve does not know: a load of the
// cards is started for it as one is for such an EID (reloadForMiss), so
// that the load does not tell it from one, and, hidden by the role that
// the resolver holds, it is not read, as such an EID's card is not, so
// that the time of the answer does not tell it from one either.
func hidden(me *CardRecord, seller bool) bool {
	return me.MerchantID == "" && !seller
}

// reloadForMiss reloads the cards for an EID that did not resolve at now,
// asked by the card asker in a lookup made before the reload of end
// ended, if the reload that last ended without being cut short started a
// second or more before now (or after it: the clock went back), or none
// has ended so, and no miss of asker started one, ended so, less than
// CardReloadInterval before now (or after it; see askedLocked). It waits
// instead for the first reload to end after the lookup began, of those
// under way, whether a miss or a call of Reload started it, and reloads
// nothing when one has ended since the lookup began, so that concurrent
// misses share one scan of the cards. A reload cut short because its
// caller's ctx ended does not count: the misses waiting for it go on as
// if it had not started, and wait then for the next to end of the
// reloads still under way. It reports whether the EID is worth looking up
// again, and returns the error of the reload it waited for or ran but an
// *UnresolvableCardsError, or ctx's if ctx ends while it waits.
func (p *Platform) reloadForMiss(ctx context.Context, asker string, now time.Time, end *reloadEnd) (bool, error) {
	for {
		p.mu.Lock()
		for end.ended() && end.cut {
			end = end.next
		}
		switch {
		case end.ended():
			p.mu.Unlock()
			return true, missReloadErr(end.err)
		case p.reloading > 0:
			p.mu.Unlock()
			select {
			case <-end.done:
			case <-ctx.Done():
				return false, ctx.Err()
			}
			continue
		case within(now, p.lastReload, time.Second), p.askedLocked(asker, now):
			p.mu.Unlock()
			return false, nil
		}
		p.reloading++
		p.mu.Unlock()
		return true, missReloadErr(p.runReload(ctx, asker, now))
	}
}

// within reports whether now is less than d after t, and not before it.
func within(now, t time.Time, d time.Duration) bool {
	return now.Sub(t) < d && !now.Before(t)
}

// askedLocked reports whether a miss of the card asker started a reload,
// ended without being cut short, less than CardReloadInterval before now,
// and not after it (the clock went back), and drops the cards of which
// none did, so that it keeps the cards of the reloads of the last
// CardReloadInterval, which misses start at most once a second. p.mu
// must be held.
func (p *Platform) askedLocked(asker string, now time.Time) bool {
	maps.DeleteFunc(p.cardReloads, func(_ string, t time.Time) bool { return !within(now, t, CardReloadInterval) })
	_, ok := p.cardReloads[asker]
	return ok
}

// missReloadErr is the error of a reload, which has ended, for the miss
// that waited for it or ran it: its error but an *UnresolvableCardsError.
func missReloadErr(err error) error {
	if errors.Is(err, ErrUnresolvableCard) {
		return nil
	}
	return err
}

// nextEnd returns the end of the next reload to end, which a resolution
// takes before it looks an EID up.
func (p *Platform) nextEnd() *reloadEnd {
	if e := p.end.Load(); e != nil {
		return e
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nextEndLocked()
}

// nextEndLocked is nextEnd with p.mu held.
func (p *Platform) nextEndLocked() *reloadEnd {
	e := p.end.Load()
	if e == nil {
		e = &reloadEnd{done: make(chan struct{})}
		p.end.Store(e)
	}
	return e
}

// runReload loads the cards for a reload that starts at start, which
// its caller has counted in p.reloading, returns the error, and ends it:
// it fills in and closes the next end, which the misses wait for. A
// reload that ends without being cut short because ctx ended has its
// start as the last reload's, and as the last reload of asker, the card
// whose miss started it ("" for Reload); one cut short leaves them as
// they were.
func (p *Platform) runReload(ctx context.Context, asker string, start time.Time) error {
	err := p.loadCards(ctx)
	cut := cutShort(ctx, err)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !cut {
		p.lastReload = start
		if asker != "" {
			if p.cardReloads == nil {
				p.cardReloads = make(map[string]time.Time)
			}
			p.cardReloads[asker] = start
		}
	}
	p.reloading--
	e := p.nextEndLocked()
	e.err, e.cut, e.next = err, cut, &reloadEnd{done: make(chan struct{})}
	p.end.Store(e.next)
	close(e.done)
	return err
}

// cutShort reports a reload that failed because its caller's ctx ended.
func cutShort(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil
}

// SessionID returns the ID of the session between the shopper card seen
// as shopperEID and the seller card seen as sellerEID:
//
//	SHA-256("CASIM-SESSION2" || shopperEID || sellerEID)[:16]
//
// The EIDs identify the two cards for their epoch (Pair verifies the
// proving card's own and resolves the peer's); the ID binds no card ID,
// so that a waiting session's ID tells the card that named an EID it
// heard nothing of the card behind it, and a phone can check the ID of
// every view of its session from the two EIDs that its proof names.
// The domain differs from that of the IDs that bound the card IDs too
// ("CASIM-SESSION"), so that no ID of that derivation is taken for one of
// this.
func SessionID(shopperEID, sellerEID []byte) ID {
	h := sha256.New()
	h.Write([]byte("CASIM-SESSION2"))
	h.Write(shopperEID)
	h.Write(sellerEID)
	var id ID
	copy(id[:], h.Sum(nil))
	return id
}

// Pair implements API: the card proves its key over a fresh nonce, its own
// current EID and the EID of the peer it confirmed on screen. The session
// is paired once the shopper card and the seller card have named each
// other. When the seller card's proof is accepted, every payment request
// of the session still pending (and not yet due to expire) is cancelled
// with it, in one store transaction, as a seller's Cancel would: a phone
// that pairs again has no request on its screen, and one that its earlier
// run left pending (the run was killed before it could cancel it) is not
// paid in its stead. A request whose approval is under way is left to it,
// marked in the same transaction: when the ledger refuses its hold, it
// ends cancelled instead of pending again, so that no request made before
// the pairing is payable after it. Held and final requests are left as
// they are; a shopper card's proof cancels nothing. A proof into a stored
// session that has expired is ErrExpired: it spends its nonce and counter,
// as every record refused for good (see refuse), and writes nothing else
// (no confirmation, no cancellation). A proof into a stored session,
// unexpired, of another shopper or seller card, or with another merchant,
// is ErrConflict (the store's refusal, Acceptance.Session): a process
// whose card cache still holds a card's former advertising secret
// resolves its EIDs to that card, while another card now has them, and
// one whose cache still holds a seller card's former merchant showed the
// shopper that merchant, while the session was stored with the one the
// card has moved to (or the other way round); it writes nothing and
// leaves the proof unspent. The session's expiry is checked, and
// a new session's counted from, at the time read once the peer's EID has
// resolved, so that a session that expires while a miss waits for a reload
// of the cards is expired for the proof. Resolving the peer's EID draws on
// the card's budget of EID resolutions, as Resolve does: past it, the call
// is ErrRateLimited and the proof stays unspent. A shopper card's proof
// naming another shopper card's EID is errUnknownEID, as one naming an
// EID never enrolled is (with a reload of the cards when such an EID
// would have one) and as Resolve answers that card (hidden), not
// ErrForbidden, which would tell it that the EID is an enrolled
// shopper's. A merchant's seller card is no session's shopper: its proof
// of the shopper role is ErrForbidden before the peer's EID is resolved,
// and a seller card's proof naming a seller card's EID (of its own
// merchant or another) is ErrForbidden once it has resolved (Resolve
// names every seller card to every card). A proof naming the signing
// card's own EID as the peer's is ErrInvalid: a card cannot pair with
// itself. A proof sent again after its nonce was used (ErrReplay), or
// whose counter the card has passed (ErrClone), takes nothing from that
// budget: the store is asked first (Store.Spent), and a resolution whose
// proof the store's acceptance then refuses for its nonce or counter (a
// copy of it accepted meanwhile) is given back. So is one of a pairing
// that fails for the platform (a store error: internal or unavailable),
// which leaves the proof unspent too. The view it answers is the signing
// card's (sessionView): until the session is paired, it shows no card ID
// of the peer, so that a card that names an EID it overheard learns no
// card ID behind it.
func (p *Platform) Pair(ctx context.Context, req *PairRequest) (*SessionView, error) {
	if req == nil {
		return nil, errNilRequest("pair")
	}
	var proof record.AuthProof
	e, err := p.openPairProof(ctx, req.Proof, &proof)
	if err != nil {
		return nil, err
	}
	c := e.rec
	a, err := p.check(ctx, c, req.Proof, &proof)
	if err != nil {
		return nil, err
	}
	// A proof spent before is refused before it draws on the budget:
	// replayed, it takes nothing from the card.
	if err := p.store.Spent(ctx, a.Nonce, a.CardID, a.Counter); err != nil {
		return nil, p.spentError(ctx, a, err)
	}
	s, now, drew, err := p.session(ctx, e, &proof)
	if err != nil {
		err = p.refuse(ctx, a, err)
	} else {
		// A seller phone pairing again may have been stopped with a
		// request left pending, which the shopper would pay first. The
		// store leaves a session expired at now as it is and cancels
		// nothing: only the proof's nonce and counter are spent, as
		// those of any refused record.
		a.Session, a.Now, a.CancelPending = s, now, proof.Role == record.RoleSeller
		err = p.accept(ctx, a)
	}
	if err == nil && !now.Before(a.Session.ExpiresAt) {
		err = fmt.Errorf("%w: session", ErrExpired)
	}
	if drew && (errors.Is(err, ErrReplay) || errors.Is(err, ErrClone) || serverError(err)) {
		// The proof was spent meanwhile (by a copy sent at the same
		// moment), or the platform failed: the resolution told nothing
		// the card may be charged for.
		p.resolves.giveBack(c.ID)
	}
	if err != nil {
		return nil, err
	}
	v, err := p.sessionView(ctx, a.Session, c.ID)
	if serverError(err) {
		p.resolves.giveBack(c.ID)
	}
	return v, err
}

// openPairProof opens pairing proof msg into proof as openCardEntry does,
// and refuses one that names no peer; its refusals are unverified.
func (p *Platform) openPairProof(ctx context.Context, msg []byte, proof *record.AuthProof) (*cachedCard, error) {
	e, err := p.openCardEntry(ctx, msg, proof)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(proof.PeerEID, make([]byte, record.EIDSize)) {
		return nil, unverified(fmt.Errorf("%w: a pairing proof names no peer", ErrInvalid))
	}
	return e, nil
}

// session checks a verified pairing proof of card e and returns the
// session it confirms, with the time of its acceptance: the time read once
// the peer's EID has resolved, which may have waited for a reload of the
// cards (reloadForMiss), so that a stored session that expired meanwhile
// is taken as expired. drew reports whether it drew on the card's budget
// of EID resolutions.
func (p *Platform) session(ctx context.Context, e *cachedCard, proof *record.AuthProof) (s *SessionRecord, now time.Time, drew bool, err error) {
	// In the order of PROTOCOL.md §6.1: the signer's EID and role, then
	// the peer's EID.
	if err := p.checkEID(e, proof.EID); err != nil {
		return nil, now, false, err
	}
	c := e.rec
	switch {
	case proof.Role == record.RoleSeller && c.MerchantID == "":
		return nil, now, false, fmt.Errorf("%w: card %s belongs to no merchant", ErrForbidden, c.ID)
	case proof.Role != record.RoleSeller && c.MerchantID != "":
		return nil, now, false, notShopper(c)
	}
	// The peer's EID is resolved from the card's budget of resolutions,
	// as Resolve resolves one, so that pairing proofs probe no more EIDs.
	if err := p.resolves.allow(c.ID, p.now()); err != nil {
		return nil, now, false, err
	}
	// A shopper card's EID is errUnknownEID to a shopper card (hidden),
	// but the signer's own, which is ErrInvalid below.
	peer, err := p.resolve(ctx, c.ID, proof.PeerEID, func(id string, seller bool) bool { return id != c.ID && hidden(c, seller) })
	if err != nil {
		return nil, now, true, err
	}
	if peer.ID == c.ID {
		return nil, now, true, fmt.Errorf("%w: a card cannot pair with itself", ErrInvalid)
	}
	now = p.now()
	s = &SessionRecord{ExpiresAt: now.Add(p.ttl.session)}
	switch proof.Role {
	case record.RoleSeller:
		if peer.MerchantID != "" {
			return nil, now, true, fmt.Errorf("%w: the peer is not a shopper", ErrForbidden)
		}
		s.ShopperCardID, s.ShopperEID = peer.ID, proof.PeerEID
		s.SellerCardID, s.SellerEID, s.MerchantID = c.ID, proof.EID, c.MerchantID
		s.SellerConfirmed = true
	default:
		// The peer is a seller card: to a shopper card, resolve returns
		// only a card whose record, the one it returns, is a seller
		// card's (hidden), whatever role the resolver or another
		// process holds for it.
		s.ShopperCardID, s.ShopperEID = c.ID, proof.EID
		s.SellerCardID, s.SellerEID, s.MerchantID = peer.ID, proof.PeerEID, peer.MerchantID
		s.ShopperConfirmed = true
	}
	s.ID = SessionID(s.ShopperEID, s.SellerEID)
	return s, now, true, nil
}

// notShopper is the refusal of card c, a merchant's seller card, as a
// shopper: a seller card is its merchant's till and pays nothing, so it
// is no session's shopper (session) and signs no consent (Approve), also
// when it became one after it paired as a shopper.
func notShopper(c *CardRecord) error {
	return fmt.Errorf("%w: card %s is a merchant's seller card, not a shopper", ErrForbidden, c.ID)
}

// Session implements API. A card of neither side of the session gets
// ErrNotFound, the error of a Store that holds no session of the ID: a
// session ID derives from two EIDs alone (SessionID), so that another
// answer would tell a card that heard the two EIDs that they paired, and
// that the shopper's is an enrolled shopper card's. A session either of
// whose cards has a certificate, or a CA certificate above it, that the
// CRLs of the platform's verifier list (and whose chain a login's
// verification then refuses: refusal) answers its other card as a
// session that does not exist: ErrNotFound, the error of a Store that
// holds no session of the ID (see sessionCards); the revoked card's
// token is ErrCard (see auth). The view is the token's card's
// (sessionView).
func (p *Platform) Session(ctx context.Context, token string, id ID) (*SessionView, error) {
	c, err := p.auth(ctx, token)
	if err != nil {
		return nil, err
	}
	s, err := p.store.Session(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.ID != s.ShopperCardID && c.ID != s.SellerCardID {
		return nil, ErrNotFound
	}
	return p.sessionView(ctx, s, c.ID)
}

// sessionView renders session s for card cardID, one of its two cards, or
// answers ErrNotFound for it as sessionCards does. Until both cards have
// confirmed the session it shows the card's own card ID alone: the other
// card's is left empty, so that a card that names an EID it overheard
// learns no card ID behind it (which would link the EIDs of that card
// across epochs) unless that card names it too.
func (p *Platform) sessionView(ctx context.Context, s *SessionRecord, cardID string) (*SessionView, error) {
	shopper, err := p.sessionCards(ctx, s)
	if err != nil {
		return nil, err
	}
	m, err := p.merchant(ctx, s.MerchantID)
	if err != nil {
		return nil, err
	}
	v := &SessionView{
		ID: s.ID, State: SessionWaiting,
		PairingCode:   adv.PairingCode(adv.EID(s.ShopperEID), adv.EID(s.SellerEID)),
		ShopperCardID: s.ShopperCardID, SellerCardID: s.SellerCardID, MerchantID: s.MerchantID,
		ShopperName: shopper.DisplayName, MerchantName: m.Name, ExpiresAt: s.ExpiresAt,
	}
	switch {
	case s.ShopperConfirmed && s.SellerConfirmed:
		v.State = SessionPaired
	case cardID == s.ShopperCardID:
		v.SellerCardID = ""
	default:
		v.ShopperCardID = ""
	}
	return v, nil
}

// sessionCards returns the shopper card of session s, having checked that
// neither of its cards is revoked: when the CRLs of the platform's
// verifier (those that logins are checked with, as they are at the call)
// list the certificate of either, or a CA certificate above it, it
// answers ErrNotFound, which a Store answers for a session it does not
// hold, so that the session is offered to no one, as the revoked card's
// EIDs are not (resolve), and its reply tells nothing of the card or its
// revocation. The check is resolve's (refusal: a map lookup or two for
// each certificate of a cached card, and for a card the CRLs list the
// chain verification of a login, which decides). A card no longer stored
// is ErrNotFound too.
func (p *Platform) sessionCards(ctx context.Context, s *SessionRecord) (*CardRecord, error) {
	var shopper *CardRecord
	for _, id := range [...]string{s.ShopperCardID, s.SellerCardID} {
		e, err := p.cardEntry(ctx, id)
		if err != nil {
			return nil, err
		}
		refused, err := p.refusal(e)
		if err != nil {
			return nil, err
		}
		if refused != nil {
			return nil, ErrNotFound
		}
		if shopper == nil {
			shopper = e.rec
		}
	}
	return shopper, nil
}

// sweepPerCall is the most expired entries that one call drops, of a
// limiter's refilled buckets or a ReplyMemory's expired replies and
// leases: two, so that while any is left their number falls with every
// call that adds an entry (a card new to the limiter, a key new to the
// ReplyMemory), which adds one.
const sweepPerCall = 2

// limiter is a token bucket per card, one for each kind of call that a
// Platform bounds (EID resolutions, catalog reads, logins): logging in
// again does not refill it. A bucket that has refilled carries no debt
// and is the same as none. The limiter keeps the buckets in the order
// they were last drawn on, and each call of allow, before it draws, drops
// the first of them while they have refilled, sweepPerCall at most: no
// call holds the lock for more, however many cards there are. A bucket
// drawn on burst/rate seconds ago or more (4 s for the default EID
// resolutions) has refilled, so those are the first in the order; a
// bucket in debt is never dropped, so that no card escapes its limit, and
// the limiter never refuses a card for the number of others. It holds the
// buckets drawn on within burst/rate seconds, and besides them only
// refilled ones, fewer by at least one with every card new to it while
// any is left: at most one more than the cards that drew on it within
// burst/rate seconds before the last call that left none.
type limiter struct {
	rate  float64
	burst float64
	what  string // what it counts, in the plural, as its refusals name it

	mu      sync.Mutex
	buckets map[string]*bucket // by card ID
	oldest  *bucket            // the bucket drawn on longest ago; its next was drawn on after it
	newest  *bucket            // the bucket drawn on last
}

type bucket struct {
	key        string // card ID
	tokens     float64
	last       time.Time
	prev, next *bucket // drawn on before and after it
}

// init sets the rate and burst of l, and what it counts, which its
// refusals name ("too many " + what).
func (l *limiter) init(rate float64, burst int, what string) {
	l.rate, l.burst, l.what = rate, float64(burst), what
	l.buckets = make(map[string]*bucket)
}

// allow takes a token from k's bucket, or returns a *RateLimitedError
// saying when the bucket holds one again: at most the longest
// time.Duration ahead, however slow the rate.
func (l *limiter) allow(k string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
	b, ok := l.buckets[k]
	if ok {
		l.unlinkLocked(b)
	} else {
		b = &bucket{key: k, tokens: l.burst, last: now}
		l.buckets[k] = b
	}
	// b is drawn on now, whether or not it holds a token.
	b.prev, b.next = l.newest, nil
	if l.newest != nil {
		l.newest.next = b
	} else {
		l.oldest = b
	}
	l.newest = b
	if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = min(l.burst, b.tokens+d*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		wait := time.Duration(math.MaxInt64)
		if w := math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)); w < math.MaxInt64 {
			wait = time.Duration(w)
		}
		return &RateLimitedError{Err: fmt.Errorf("%w: too many %s", ErrRateLimited, l.what), RetryAfter: wait}
	}
	b.tokens--
	return nil
}

// RateLimitedError is a refusal for too many calls of a card (EID
// resolutions, catalog reads, logins: ErrRateLimited, which Err matches,
// its message naming which) that says when the card's next such call will be
// allowed. The platform returns one; Client returns one
// when the reply gives a retry time (§5.4), Err then holding the *Error,
// or, for a reply without the platform's error body, an error that
// errors.As finds the *Error in.
type RateLimitedError struct {
	Err        error
	RetryAfter time.Duration // > 0
}

// Error gives the text of Unwrap's error and the retry time; a nil e's is
// its zero value's.
func (e *RateLimitedError) Error() string {
	var retryAfter time.Duration
	if e != nil {
		retryAfter = e.RetryAfter
	}
	return e.Unwrap().Error() + " (retry after " + retryAfter.String() + ")"
}

// Unwrap returns Err, or ErrRateLimited when Err or e is nil.
func (e *RateLimitedError) Unwrap() error {
	if e == nil || e.Err == nil {
		return ErrRateLimited
	}
	return e.Err
}

// sweepLocked drops, of the buckets drawn on longest ago, those that have
// refilled at now, sweepPerCall at most: it stops at the first in debt.
func (l *limiter) sweepLocked(now time.Time) {
	for range sweepPerCall {
		b := l.oldest
		if b == nil || b.tokens+now.Sub(b.last).Seconds()*l.rate < l.burst {
			return
		}
		l.unlinkLocked(b)
		delete(l.buckets, b.key)
	}
}

// unlinkLocked takes b out of the order of the buckets.
func (l *limiter) unlinkLocked(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		l.oldest = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		l.newest = b.prev
	}
	b.prev, b.next = nil, nil
}

// giveBack returns to k's bucket the token an allow took.
func (l *limiter) giveBack(k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[k]; ok {
		b.tokens = min(l.burst, b.tokens+1)
	}
}
