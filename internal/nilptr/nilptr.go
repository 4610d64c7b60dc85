// Package nilptr finds nil pointers hidden in interfaces: an interface that
// holds a nil pointer is not nil itself, and its methods panic where the
// caller meant to pass nothing.
package nilptr

import "reflect"

// Is reports whether v is nil or holds a nil pointer.
func Is(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}
