package payflow_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casimpay/casimpay/internal/protocoldoc"
	"github.com/casimpay/casimpay/payflow"
)

// transitionCase maps a row of the transitions table of PROTOCOL.md §6.2
// to the tests that drive a request through it and check its outcome:
// the state after the call, the error and its code, and what the ledger
// moved.
type transitionCase struct {
	transition string // the row's first cell
	// digest is the row's protocoldoc.Digest, so that a row changed in the
	// document fails until its case is checked against it again.
	digest string
	errs   []error            // the errors of §5.4 that the row names, in its order
	tests  []func(*testing.T) // the tests of this package that cover the row
	suite  []string           // the subtests of paytest.RunPlatform, run on every store, that cover it
}

// transitionCases are the rows of the transitions table of PROTOCOL.md §6.2,
// in its order.
var transitionCases = []transitionCase{
	{"— → `pending`", "4c75011e", nil,
		[]func(*testing.T){TestPurchase, TestStateTransitions}, []string{"PurchaseAndRefund"}},
	{"`pending` → `approving` → `captured`", "7de2ff47", nil,
		[]func(*testing.T){TestPurchase}, []string{"PurchaseAndRefund", "TicketAllOrNothing"}},
	{"`pending` → `approving` → `held`", "b98a679a", nil,
		[]func(*testing.T){TestStateTransitions, TestManualCapture}, []string{"ManualCapture"}},
	{"`approving` → `pending`", "71ea84c1", []error{payflow.ErrFunds, payflow.ErrLimit, payflow.ErrConflict},
		[]func(*testing.T){TestInsufficientFundsThenRetry, TestHoldIntoClosedAccount, TestHoldOverflowRefused, TestApprovingWithAccountTakenHoldIDTaken, TestApprovingWithAssetWalletTaken},
		[]string{"ApprovalIDTaken", "LegAccountTaken", "MerchantAccountMissing", "StaleMark"}},
	{"`approving` → `cancelled`", "7c753432", nil,
		[]func(*testing.T){TestApprovingWithAssetWalletTaken}, []string{"SellerPairsDuringApproval"}},
	{"`pending` → `declined`", "9fb119f2", nil,
		[]func(*testing.T){TestStateTransitions}, []string{"ExpiryDuringDecline"}},
	{"`pending` → `cancelled`", "27eab7f2", nil,
		[]func(*testing.T){TestStateTransitions}, []string{"ExpiryDuringCancellation"}},
	{"`pending` → `cancelled`", "ea8d35cc", nil,
		[]func(*testing.T){TestSellerKilledRequestCancelledOnPairing, TestSellerLostRequestCancelledByPairingAgain}, []string{"SellerPairsAgain"}},
	{"`pending` → `cancelled`", "59b83548", nil,
		[]func(*testing.T){TestSessionOfRevokedCard}, []string{"RevokedSellerCard", "RevokedShopperCard"}},
	{"`pending` → `cancelled`", "4b093b91", nil,
		[]func(*testing.T){TestReenrolledCardWithdraws}, nil},
	{"`held` → `capturing` → `captured`", "e547d375", []error{payflow.ErrLimit, payflow.ErrInvalid},
		[]func(*testing.T){TestStateTransitions, TestManualCapture, TestCaptureStoredPaymentWithTooLongReceipt}, []string{"ManualCapture"}},
	{"`held` → `capturing` → `held`", "0015e4cd", []error{payflow.ErrInternal, payflow.ErrConflict},
		[]func(*testing.T){TestCaptureClosedAccount, TestCaptureRefusedForClosedAccount, TestCaptureLeftUnderWayWithClosedAccount, TestCaptureOfLostHold, TestCaptureOfLostHoldAndAccount,
			TestCaptureOfLostHoldAndAccountWithAnotherClosed},
		[]string{"PostsTaken"}},
	{"`capturing` → `held` → `capturing` → `captured`", "0a79d0e3", []error{payflow.ErrConflict},
		[]func(*testing.T){TestCaptureRefusedWhileSweepPosts}, nil},
	{"`capturing` → `captured`", "47855b35", []error{payflow.ErrFinal},
		nil, []string{"HoldPostedWhileHeld"}},
	{"`capturing` → `expired`", "182f7bcd", []error{payflow.ErrExpired},
		nil, []string{"CaptureMeetsExpiredHold"}},
	{"`held` → `voiding` → `cancelled`", "46a953c4", nil,
		[]func(*testing.T){TestStateTransitions, TestRecoverCaptureAndVoid, TestCancelAndCaptureRetried}, nil},
	{"`voiding` → `captured`", "02623eae", []error{payflow.ErrFinal},
		nil, []string{"HoldPostedWhileHeld"}},
	{"`pending` → `expired`", "bb2949ef", []error{payflow.ErrExpired},
		[]func(*testing.T){TestStateTransitions, TestExpireDue}, []string{"ExpiryDuringDecline", "ExpiryDuringCancellation"}},
	{"`held` → `voiding` → `expired`", "21afb528", []error{payflow.ErrExpired},
		[]func(*testing.T){TestStateTransitions, TestHoldLastsItsTTL}, []string{"ExpiryDuringCapture", "ExpiryDuringCancellation"}},
}

// protocolErrors are the sentinels of the error codes of PROTOCOL.md §5.4.
var protocolErrors = []error{
	payflow.ErrInvalid, payflow.ErrUnauthorized, payflow.ErrForbidden, payflow.ErrNotFound,
	payflow.ErrSignature, payflow.ErrCard, payflow.ErrClone, payflow.ErrReplay, payflow.ErrExpired,
	payflow.ErrFinal, payflow.ErrMismatch, payflow.ErrFunds, payflow.ErrLimit, payflow.ErrRateLimited,
	payflow.ErrConflict, payflow.ErrInFlight, payflow.ErrKeyReuse, payflow.ErrUnavailable, payflow.ErrInternal,
}

// codeSpan is a code span of PROTOCOL.md, such as `final_state`.
var codeSpan = regexp.MustCompile("`([a-z_]+)`")

// TestProtocolTransitionTable walks the transitions table of PROTOCOL.md
// §6.2 and checks that each row has its case: the tests that cover it,
// each of paytest.RunPlatform's that it names a subtest of the suite, and
// the errors of §5.4 that the row names. A row added, removed or changed
// in the document fails until a case is made or checked for it.
func TestProtocolTransitionTable(t *testing.T) {
	codes := map[string]bool{}
	for _, e := range protocolErrors {
		codes[payflow.AsError(e).Code] = true
	}
	suite, err := os.ReadFile("paytest/platform.go")
	require.NoError(t, err)
	rows := protocoldoc.TableOf(t, "### 6.2 States of a payment request", "transition")
	assert.Len(t, rows, len(transitionCases), "a case for each row of PROTOCOL.md §6.2")
	for i, r := range rows {
		digest := protocoldoc.Digest(r)
		if i >= len(transitionCases) {
			t.Errorf("row %d %s (digest %s) has no case", i, r[0], digest)
			continue
		}
		c := transitionCases[i]
		assert.Equal(t, c.transition, r[0], "row %d: transition", i)
		assert.Equal(t, c.digest, digest, "row %d %s changed: check its case's tests and errors against it, then its digest", i, r[0])
		var named []string // the codes of §5.4 that the row names, but in its first cell (states)
		for _, m := range codeSpan.FindAllStringSubmatch(strings.Join(r[1:], " | "), -1) {
			if codes[m[1]] {
				named = append(named, m[1])
			}
		}
		var want []string
		for _, e := range c.errs {
			want = append(want, payflow.AsError(e).Code)
		}
		assert.Equal(t, want, named, "row %d %s: the codes it names", i, r[0])
		assert.Positive(t, len(c.tests)+len(c.suite), "row %d %s: a test covers it", i, r[0])
		for _, name := range c.suite {
			assert.Contains(t, string(suite), `t.Run("`+name+`",`, "row %d %s: paytest.RunPlatform has no subtest %s", i, r[0], name)
		}
	}
}
