package payflow_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/payflow"
	"github.com/casimpay/casimpay/payflow/paytest"
	"github.com/casimpay/casimpay/pki/record"
)

// signedBy returns msg, a signed record, with the signature of other, a
// record of the same type and length signed by the same card: msg's
// signed part (its header and payload) under a signature that the card
// made of another.
func signedBy(t *testing.T, msg, other []byte) []byte {
	t.Helper()
	require.Len(t, other, len(msg))
	require.NotEqual(t, msg[:len(msg)-64], other[:len(other)-64])
	return append(bytes.Clone(msg[:len(msg)-64]), other[len(other)-64:]...)
}

// TestTamperedRecordsSpendNothing: a card-signed record of each call that
// takes one (a login or pairing proof, a payment request, a consent, a
// refund request) whose signed part is not the one its signature covers
// (the signature of another record of the card), or whose signature was
// changed (its last octet flipped), is refused with ErrSignature, the
// same refusal for both (400 bad_signature and one message), and spends
// nothing: the record as signed is accepted afterwards, its nonce and
// counter unspent.
func TestTamperedRecordsSpendNothing(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// records signs two records of the call, of the same length,
		// the second after the first.
		records func(t *testing.T, s *shop) (first, second []byte)
		call    func(s *shop, msg []byte) error
	}{
		{"login", func(t *testing.T, s *shop) ([]byte, []byte) {
			return s.shopper.Proof(record.RoleShopper, nil), s.shopper.Proof(record.RoleShopper, nil)
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.Login(ctx, &payflow.LoginRequest{Proof: msg})
			return err
		}},
		{"pair", func(t *testing.T, s *shop) ([]byte, []byte) {
			peer := s.seller.EID()
			return s.shopper.Proof(record.RoleShopper, peer), s.shopper.Proof(record.RoleShopper, peer)
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.Pair(ctx, &payflow.PairRequest{Proof: msg})
			return err
		}},
		{"payment request", func(t *testing.T, s *shop) ([]byte, []byte) {
			return s.seller.MustSign(paytest.Request(s.session, "EUR", 690)), s.seller.MustSign(paytest.Request(s.session, "EUR", 690))
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.CreateRequest(ctx, &payflow.CreateRequest{Request: msg})
			return err
		}},
		{"consent", func(t *testing.T, s *shop) ([]byte, []byte) {
			v, _ := s.request(t)
			return s.consent(t, v.ID), s.consent(t, v.ID)
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.Approve(ctx, &payflow.ApproveRequest{Consent: msg})
			return err
		}},
		{"refund request", func(t *testing.T, s *shop) ([]byte, []byte) {
			v, _ := s.request(t)
			s.captured(t, v.ID, false)
			refund := func(b byte) []byte {
				return s.seller.MustSign(&record.RefundRequest{RefundID: bytes.Repeat([]byte{b}, 16), RequestID: v.ID[:], Amount: 10, Currency: "EUR"})
			}
			return refund(7), refund(8)
		}, func(s *shop, msg []byte) error {
			_, err := s.Platform.Refund(ctx, &payflow.RefundRequest{Refund: msg})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newShop(t, false, paytest.Options{})
			first, second := tt.records(t, s)
			flipped := bytes.Clone(second)
			flipped[len(flipped)-1] ^= 0x01
			refusals := make(map[string]payflow.Error)
			for name, msg := range map[string][]byte{
				"signed part of another record": signedBy(t, second, first),
				"signature changed":             flipped,
			} {
				err := tt.call(s, msg)
				require.ErrorIs(t, err, payflow.ErrSignature, name)
				e := payflow.AsError(err)
				refusals[name] = payflow.Error{Code: e.Code, Message: e.Message, Status: e.Status}
			}
			want := refusals["signature changed"]
			assert.Equal(t, payflow.Error{Code: "bad_signature", Message: want.Message, Status: http.StatusBadRequest}, want)
			assert.Equal(t, want, refusals["signed part of another record"])

			require.NoError(t, tt.call(s, second), "the record as signed")
		})
	}
}
