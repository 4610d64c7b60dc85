// Package nilptr finds nil values hidden in interfaces: an interface that
// holds a nil pointer, func, map, channel or slice is not nil itself, and
// its methods panic (a nil func called, a nil pointer or map read through
// to a pointer, a nil slice read past its end, as a nil
// ed25519.PrivateKey's Public does) or block (a nil channel) where the
// caller meant to pass nothing.
package nilptr

import "reflect"

// Is reports whether v is nil or holds a nil pointer, func, map, channel
// or slice (an unsafe.Pointer too): every kind that has a nil value.
func Is(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice:
		return r.IsNil()
	}
	return false
}
