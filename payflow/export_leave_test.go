package payflow

// ErrReselected is the error of a call in a session that was left, or
// another selected, meanwhile.
var ErrReselected = errReselected
