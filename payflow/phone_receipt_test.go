package payflow_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ledgermemory "github.com/casimpay/casimpay/ledger/memory"
	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/memory"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki"
	"github.com/casimpay/casimpay/pki/record"
)

// firstReceiptAPI answers every view that carries a receipt with the
// first receipt without a certificate chain that it saw, byte for byte:
// one receipt that api signs anew for each view (restatedAPI) is then
// shown the same each time.
type firstReceiptAPI struct {
	payflow.API
	mu    sync.Mutex
	first []byte
}

func (a *firstReceiptAPI) same(v *payflow.PaymentView, err error) (*payflow.PaymentView, error) {
	if err != nil || len(v.Receipt) == 0 {
		return v, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if chain, err := record.ReceiptChain(v.Receipt); a.first == nil && err == nil && chain == nil {
		a.first = slices.Clone(v.Receipt)
	}
	if a.first == nil {
		return v, nil
	}
	v.Receipt = slices.Clone(a.first)
	return v, nil
}

func (a *firstReceiptAPI) Approve(ctx context.Context, req *payflow.ApproveRequest) (*payflow.PaymentView, error) {
	return a.same(a.API.Approve(ctx, req))
}

func (a *firstReceiptAPI) Payment(ctx context.Context, token string, id payflow.ID) (*payflow.PaymentView, error) {
	return a.same(a.API.Payment(ctx, token, id))
}

// crlVerifier returns a Verifier of f's CAs that checks revocation,
// holding the CAs' CRLs of now, and revokePlatform, which has f's issuer
// revoke the platform's certificate of f.PlatformChain and gives the
// Verifier the CRLs that then list it.
func crlVerifier(t *testing.T, f *paytest.Fixture) (v *pki.Verifier, revokePlatform func()) {
	t.Helper()
	v, err := pki.NewVerifier(pki.VerifierOptions{
		Roots: [][]byte{f.Root.DER()}, Intermediates: [][]byte{f.Issuer.DER()}, Now: f.Clock.Now,
		Revocation: pki.RevocationBestEffort,
	})
	require.NoError(t, err)
	publish := func() {
		for _, ca := range []*pki.CA{f.Root, f.Issuer} {
			crl, err := ca.CRL(f.Clock.Now().Add(24 * time.Hour))
			require.NoError(t, err)
			require.NoError(t, v.AddCRL(crl))
		}
	}
	publish()
	return v, func() {
		cert, err := pki.ParseCertificate(f.PlatformChain[0])
		require.NoError(t, err)
		require.NoError(t, f.Issuer.Revoke(cert.SerialNumber, pki.ReasonKeyCompromise))
		publish()
	}
}

// TestReceiptWithoutChainCollectedUnderInfosKey: a receipt to collect
// that carries no certificate chain, which WaitPayment checked with the
// key of the platform's chain of Info, is taken by the approval that
// collects it, shown the same bytes, without checking its signature
// again while Info's chain is the same; once the CA revoked that chain,
// it is checked again with the key of the chain that Info gives then:
// signed by the revoked key alone, it is refused (ErrSignature), not taken
// as checked before. The shopper is charged once.
func TestReceiptWithoutChainCollectedUnderInfosKey(t *testing.T) {
	ctx := context.Background()
	for _, revoked := range []bool{false, true} {
		t.Run(map[bool]string{false: "the same chain", true: "the chain revoked"}[revoked], func(t *testing.T) {
			f := paytest.NewFixture(t, memory.New(), ledgermemory.New(), paytest.Options{})
			w := newPhoneWorld(t, f, nil, false)
			v, revokePlatform := crlVerifier(t, f)
			f.PlatformVerifier = v                                     // the shopper phone's
			restated := newRestatedAPI(t, f.Platform, f.Key, 690, 690) // signed again, without a chain
			restated.on.Store(false)
			api := &infoFromAPI{API: &firstReceiptAPI{API: restated}}
			w.payWithLostReply(t, loseFirstApprove(api, payflow.ErrUnavailable))
			restated.on.Store(true)
			screen, err := w.shopper.WaitPayment(ctx)
			require.NoError(t, err, "the receipt verifies with the key of Info's chain")
			require.Equal(t, payflow.StateCaptured, screen.State)
			checked := payflow.CountReceiptSignatures(w.shopper)

			if revoked {
				api.from = renewedPlatform(t, f)
				revokePlatform()
			}
			rc, err := w.shopper.ApproveShown(ctx, screen, "")
			if revoked {
				require.ErrorIs(t, err, payflow.ErrSignature)
				assert.ErrorIs(t, err, record.ErrSignature)
				assert.Nil(t, rc)
			} else {
				require.NoError(t, err)
				assert.Equal(t, uint64(690), rc.Amount)
				assert.Equal(t, int64(0), checked.Load(), "taken as checked")
			}
			assert.Equal(t, payflow.Balance{Posted: phoneFunds - 690}, w.balance(t, w.shopperCard.Enrolment.ICCID))
		})
	}
}
