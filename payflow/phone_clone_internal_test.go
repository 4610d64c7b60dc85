package payflow

import (
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCloneViewSharesNoMemory: a copy of a view that a phone hands out
// shares no slice with the view the phone keeps, whichever field holds
// it (the signed request, its hash, the consent nonce, the receipt, the
// lines and the legs): writing into every element of the copy leaves the
// view kept as it was. The copy is equal to the view.
func TestCloneViewSharesNoMemory(t *testing.T) {
	kept := &PaymentView{
		ID: ID{1}, SessionID: ID{2}, State: StateHeld, MerchantID: "corner-shop", MerchantName: "Corner Shop",
		PayerCardID: "card-1", Currency: "EUR", Amount: 690,
		Lines:   []Line{{SKU: "pear", Name: "Pear", Quantity: 3, UnitPrice: 230, Amount: 690}},
		Legs:    []AssetLeg{{Asset: "EUR", Amount: 690}},
		Request: []byte("signed request"), RequestHash: []byte("request hash"), ConsentNonce: []byte("nonce"),
		ExpiresAt: time.Unix(1_800_000_000, 0), Captured: 1, Refunded: 2, Receipt: []byte("receipt"),
		ManualCapture: true, HoldExpiresAt: time.Unix(1_800_000_060, 0),
	}
	was := *kept
	was.Lines, was.Legs = []Line{kept.Lines[0]}, []AssetLeg{kept.Legs[0]}
	was.Request, was.RequestHash = []byte("signed request"), []byte("request hash")
	was.ConsentNonce, was.Receipt = []byte("nonce"), []byte("receipt")

	c := cloneView(kept)
	require.Equal(t, kept, c)
	cv, kv := reflect.ValueOf(c).Elem(), reflect.ValueOf(kept).Elem()
	slices := 0
	for i := range cv.NumField() {
		f := cv.Field(i)
		if f.Kind() != reflect.Slice {
			continue
		}
		slices++
		require.Positive(t, f.Len(), cv.Type().Field(i).Name)
		assert.NotEqual(t, kv.Field(i).Pointer(), f.Pointer(), "%s shared", cv.Type().Field(i).Name)
		for j := range f.Len() {
			f.Index(j).Set(reflect.Zero(f.Type().Elem()))
		}
	}
	assert.Equal(t, 6, slices)
	assert.Equal(t, &was, kept)
	assert.Nil(t, cloneView(nil))
}
