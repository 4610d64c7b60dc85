package payflow_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// TestRequestRefusedSpendsItsCounter: a payment request refused after its
// signature for what it says (a currency that is not the merchant's)
// spends the seller card's counter: nothing is stored, and the same signed
// request sent again is ErrClone, not checked again.
func TestRequestRefusedSpendsItsCounter(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	r := paytest.Request(s.session, "USD", 100)
	createRefusedSpent(t, s, s.seller.MustSign(r), r, payflow.ErrMismatch)
}

// TestRequestIntoSessionOnlyTheShopperConfirmed: a payment request into a
// session that the shopper card confirmed, naming the seller card, but
// the seller card did not, is ErrConflict, as one into a session only its
// seller card confirmed: nothing stored, its counter unspent.
func TestRequestIntoSessionOnlyTheShopperConfirmed(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	bob := s.NewCard("Bob")
	waiting, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: bob.Proof(record.RoleShopper, s.seller.EID())})
	require.NoError(t, err)
	require.Equal(t, payflow.SessionWaiting, waiting.State)
	sess := &payflow.SessionView{ID: payflow.SessionID(bob.EID(), s.seller.EID()), ShopperCardID: bob.ID, MerchantID: merchantID}
	r := paytest.Request(sess, "EUR", 100)
	msg := s.seller.MustSign(r)
	_, err = s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.ErrorIs(t, err, payflow.ErrConflict)
	assert.EqualError(t, err, "payflow: conflicting request: the session is not paired")
	requireNotStored(t, s, r)
	requireUnspent(t, s, msg, &record.PaymentRequest{}, "refused")
}

// copyDuringCheck is a Store whose first read of a session, once armed,
// first has copy run (a copy of the call sent at the same moment, taken
// first) and then answers fail, or the session when fail is nil.
type copyDuringCheck struct {
	payflow.Store
	armed bool
	copy  func()
	fail  error
}

// takeFirst arms st to have s take msg, a copy sent at the same moment,
// at st's next read of a session, and to put the copy's view in first
// (when not nil).
func (st *copyDuringCheck) takeFirst(t *testing.T, s *shop, msg []byte, first **payflow.PaymentView) {
	st.copy = func() {
		v, err := s.Platform.CreateRequest(context.Background(), &payflow.CreateRequest{Request: msg})
		require.NoError(t, err)
		if first != nil {
			*first = v
		}
	}
	st.armed = true
}

func (s *copyDuringCheck) Session(ctx context.Context, id payflow.ID) (*payflow.SessionRecord, error) {
	if s.armed {
		s.armed = false
		s.copy()
		if s.fail != nil {
			return nil, s.fail
		}
	}
	return s.Store.Session(ctx, id)
}

// TestRequestCopyTakenFirst: a signed request whose copy, sent at the same
// moment, is taken while the request is checked gets the copy's view (its
// own acceptance refused for the counter the copy spent), one request
// stored.
func TestRequestCopyTakenFirst(t *testing.T) {
	ctx := context.Background()
	st := &copyDuringCheck{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	r := paytest.Request(s.session, "EUR", 100)
	msg := s.seller.MustSign(r)
	var first *payflow.PaymentView
	st.takeFirst(t, s, msg, &first)
	v, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.NoError(t, err)
	require.NotNil(t, first, "the copy ran")
	assert.Equal(t, first, v)
	assert.Equal(t, payflow.StatePending, v.State)
}

// TestRequestStoreErrorStandsThoughCopyTaken: a store error while a signed
// request is checked is the call's answer, also when a copy sent at the
// same moment was taken meanwhile: only a refusal for the counter that
// the copy spent is answered with the copy's view.
func TestRequestStoreErrorStandsThoughCopyTaken(t *testing.T) {
	ctx := context.Background()
	st := &copyDuringCheck{Store: memory.New(), fail: errLost}
	s := newShopOn(t, st, false, paytest.Options{})
	r := paytest.Request(s.session, "EUR", 100)
	msg := s.seller.MustSign(r)
	st.takeFirst(t, s, msg, nil)
	_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.ErrorIs(t, err, errLost)
	s.requireState(t, payflow.ID(r.RequestID), payflow.StatePending)
}

// TestRequestAtSessionExpiry: a payment request into a paired session at
// the session's expiry is ErrExpired, nothing stored.
func TestRequestAtSessionExpiry(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	s.Clock.Advance(s.session.ExpiresAt.Sub(s.Clock.Now()))
	require.Equal(t, s.session.ExpiresAt, s.Clock.Now())
	r := paytest.Request(s.session, "EUR", 100)
	_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: s.seller.MustSign(r)})
	require.ErrorIs(t, err, payflow.ErrExpired)
	requireNotStored(t, s, r)
}

// TestRequestOtherBytesTakenFirst: a signed request whose ID another
// request of the same card, signed after it, takes while it is checked is
// ErrConflict (the ID taken), not answered with the other request's view.
func TestRequestOtherBytesTakenFirst(t *testing.T) {
	ctx := context.Background()
	st := &copyDuringCheck{Store: memory.New()}
	s := newShopOn(t, st, false, paytest.Options{})
	r := paytest.Request(s.session, "EUR", 100)
	msg := s.seller.MustSign(r)
	r.Amount = 200
	other := s.seller.MustSign(r)
	st.takeFirst(t, s, other, nil)
	_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.ErrorIs(t, err, payflow.ErrConflict)
	stored, err := s.Store.Payment(ctx, payflow.ID(r.RequestID))
	require.NoError(t, err)
	assert.Equal(t, uint64(200), stored.Amount, "the other request stays")
}

// TestRequestUnknownSKU: a request naming a SKU that is not in the
// merchant's catalog is ErrMismatch, nothing stored.
func TestRequestUnknownSKU(t *testing.T) {
	s := newShop(t, false, paytest.Options{})
	r := paytest.Request(s.session, "EUR", 100, record.Item{SKU: "caviar", Quantity: 1})
	_, err := s.Create(r)
	require.ErrorIs(t, err, payflow.ErrMismatch)
	assert.NotErrorIs(t, err, payflow.ErrInvalid)
	requireNotStored(t, s, r)
}

// TestRequestWithoutItemsReadsNoCatalog: a request without items is not
// priced: it is taken while the merchant's catalog cannot be read, with
// no lines; one with items is refused with the store's error.
func TestRequestWithoutItemsReadsNoCatalog(t *testing.T) {
	st := &faultStore{Store: memory.New()}
	st.catalog.failAll() // the merchant's catalog cannot be read
	s := newShopOn(t, st, false, paytest.Options{})
	v, err := s.Create(paytest.Request(s.session, "EUR", 100))
	require.NoError(t, err)
	assert.Equal(t, payflow.StatePending, v.State)
	assert.Empty(t, v.Lines)
	_, err = s.Create(paytest.Request(s.session, "EUR", 300, record.Item{SKU: "apple", Quantity: 1}))
	assert.ErrorIs(t, err, errLost)
}

// TestRequestLinePastLimitBeforeUnknownSKU: a line past 2^63-1 is
// ErrInvalid when it is priced, before the items after it are looked up
// (a SKU not in the catalog, ErrMismatch).
func TestRequestLinePastLimitBeforeUnknownSKU(t *testing.T) {
	ctx := context.Background()
	s := newShop(t, false, paytest.Options{})
	require.NoError(t, s.Platform.SetCatalog(ctx, merchantID, append(paytest.Catalog[:len(paytest.Catalog):len(paytest.Catalog)],
		payflow.CatalogItem{SKU: "half", Name: "Half", UnitPrice: 1 << 62})))
	_, err := s.Create(paytest.Request(s.session, "EUR", 1, record.Item{SKU: "half", Quantity: 2}, record.Item{SKU: "caviar", Quantity: 1}))
	require.ErrorIs(t, err, payflow.ErrInvalid)
	assert.NotErrorIs(t, err, payflow.ErrMismatch)
}

// createRefusedSpent sends msg, the signed request r, to s and checks
// that it is refused with want, nothing stored, and that sent again it is
// ErrClone, its counter spent. It returns the first refusal.
func createRefusedSpent(t *testing.T, s *shop, msg []byte, r *record.PaymentRequest, want error) error {
	t.Helper()
	ctx := context.Background()
	_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	require.ErrorIs(t, err, want)
	requireNotStored(t, s, r)
	_, again := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
	assert.ErrorIs(t, again, payflow.ErrClone, "sent again, its counter spent")
	return err
}

// requireNotStored checks that s's store holds no request under r's ID.
func requireNotStored(t *testing.T, s *shop, r *record.PaymentRequest) {
	t.Helper()
	_, err := s.Store.Payment(context.Background(), payflow.ID(r.RequestID))
	require.ErrorIs(t, err, payflow.ErrNotFound, "nothing stored")
}
