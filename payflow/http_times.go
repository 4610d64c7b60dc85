package payflow

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// wireUnmarshal decodes body data into v with mode, then refuses the
// values that mode takes but the protocol does not, anywhere in the value
// v points to (a field, a nested struct's field, an element of a slice or
// an array, a map key or value, behind pointers): a text (RFC 3339),
// floating-point or undefined value of a time.Time, an array of small
// integers or undefined in place of a byte string, which mode takes into
// a []byte or a [N]byte as its octets or as no bytes, undefined in
// place of a slice of times or of byte strings, which mode takes for no
// slice, and undefined in place of a struct, a map, a slice or an array
// that holds no time and no bytes (wireCheckValue), which mode takes for
// no value. It decodes data a second time for that, into the check type
// of v's type (wireCheckFor), without the first pass's duplicate
// detection (wireDecCheck). The error of such an item is the decoders'
// own for a value of the wrong type, naming the field of v's type that
// holds it. A body of null or undefined, which mode takes for no value,
// is refused where v points to a struct or a map, with the decoders'
// error for a value of the wrong type that names v's type. A type whose
// check cannot be built fails with an error matching ErrInternal.
func wireUnmarshal(mode cbor.DecMode, data []byte, v any) error {
	if err := mode.Unmarshal(data, v); err != nil {
		return err
	}
	t := reflect.TypeOf(v).Elem() // v is a pointer: Unmarshal refuses anything else
	if k := t.Kind(); k == reflect.Struct || k == reflect.Map {
		// data is one item, which mode took: null or undefined is one
		// octet.
		switch data[0] {
		case 0xf6:
			return &cbor.UnmarshalTypeError{CBORType: "null", GoType: t.String()}
		case 0xf7:
			return &cbor.UnmarshalTypeError{CBORType: "undefined", GoType: t.String()}
		}
	}
	w, err := wireCheckFor(t)
	if w == nil || err != nil {
		return err
	}
	err = wireDecCheck.Unmarshal(data, reflect.New(w).Interface())
	if e, ok := errors.AsType[*cbor.UnmarshalTypeError](err); ok {
		// The decoder names the field of w that holds the fault: name
		// the field of t under its key.
		if key, ok := strings.CutPrefix(e.StructFieldName, w.String()+"."); ok {
			e.StructFieldName = t.String() + "." + key
		}
	}
	return err
}

// wireBodies are the types of the bodies that the handler and the client
// decode (PROTOCOL.md §5.3). The package's init builds their checks
// and panics when one cannot be built, so that such a body type fails the
// program as it starts rather than its requests.
var wireBodies = []reflect.Type{
	reflect.TypeFor[ChallengeRequest](), reflect.TypeFor[LoginRequest](), reflect.TypeFor[ResolveRequest](),
	reflect.TypeFor[PairRequest](), reflect.TypeFor[CreateRequest](), reflect.TypeFor[ApproveRequest](),
	reflect.TypeFor[CaptureRequest](), reflect.TypeFor[RefundRequest](),
	reflect.TypeFor[ChallengeResponse](), reflect.TypeFor[LoginResponse](), reflect.TypeFor[ResolveResponse](),
	reflect.TypeFor[SessionView](), reflect.TypeFor[Catalog](), reflect.TypeFor[PaymentView](),
	reflect.TypeFor[RefundView](), reflect.TypeFor[Info](), reflect.TypeFor[errorBody](),
}

func init() {
	for _, t := range wireBodies {
		if _, err := wireCheckFor(t); err != nil {
			panic(err)
		}
	}
}

// wireChecks holds the check type of each type wireCheckFor was asked
// for, as a wireCheckEntry.
var wireChecks sync.Map

// wireCheckEntry is the check type of a type, or why there is none.
type wireCheckEntry struct {
	w   reflect.Type
	err error
}

// wireCheckFor returns the check type of t (wireCheckType), built once;
// an error matching ErrInternal when it cannot be built.
func wireCheckFor(t reflect.Type) (reflect.Type, error) {
	c, ok := wireChecks.Load(t)
	if !ok {
		w, err := wireCheckType(t, 0, map[wireCheckKey]reflect.Type{})
		if err != nil {
			err = fmt.Errorf("%w: payflow: the times and byte strings of %v cannot be checked: %v", ErrInternal, t, err)
		}
		c, _ = wireChecks.LoadOrStore(t, wireCheckEntry{w, err})
	}
	return c.(wireCheckEntry).w, c.(wireCheckEntry).err
}

// wireCheckKey is a type at a nesting depth, as wireCheckType memoizes
// it.
type wireCheckKey struct {
	t     reflect.Type
	depth int
}

var (
	timeType              = reflect.TypeFor[time.Time]()
	unmarshalerType       = reflect.TypeFor[cbor.Unmarshaler]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// wireCheckType returns the check type of t: the type that an item of
// type t decodes into to have its times and byte strings checked (with
// wireDecCheck), and undefined refused in place of a struct, a map, a
// slice or an array that it holds (wireCheckValue), nil when t holds no
// time.Time, no slice or array of bytes and no such value, by the rules
// by which the decoders fill t:
//   - for a time.Time, wireTime;
//   - for a slice or an array of bytes (of kind uint8, as the decoders
//     tell them), wireBytes;
//   - for a struct, a struct with a field under the same key for each
//     field the decoders fill (wireFields: the fields of embedded structs
//     too) that holds a time or bytes, of that field's check type, for
//     each field of a struct, a map, a slice or an array without, of
//     wireCheckValue of its type, and of wireSkip for each other field
//     under a text key (not keyasint),
//     so that the decoders match a text key, which they match
//     case-insensitively when no field is under it exactly, to the field
//     they fill in t, in the order of t's fields; for a struct decoded
//     from an array (wireToArray), one field for each field the decoders
//     fill, in their order, of wireSkip for those without;
//   - for a pointer, the check type of what it points to (not a
//     pointer: the decoders set a pointer to nil for undefined without a
//     look at its type);
//   - for a slice or an array, one of the check type of its elements,
//     but for a slice of byte strings or of times, and for one of
//     elements without a time or bytes that are structs, maps, slices or
//     arrays (wireCheckValue), a wireList of the check of its elements
//     (wireListOf);
//     for a map, one of the check types of its keys and of its values
//     (for values without a time or bytes, wireCheckValue of their type,
//     else wireSkip, as for keys without). Keys that the
//     decoders tell apart may be one key of the check type (all keys of a
//     time.Time are wireTime{}), which wireDecCheck, without duplicate
//     detection, takes.
//
// Depth is the number of arrays and maps around an item of type t:
// nothing at a depth the decoders refuse (wireMaxNested) is looked at, so
// a type that holds itself ends. A type that decodes itself (a
// cbor.Unmarshaler) is left to its own decoding. The check cannot follow
// the decoders, and wireCheckType fails, for a type that holds a time,
// bytes or a struct, a map, a slice or an array and also decodes from a
// byte string (encoding.BinaryUnmarshaler),
// which the decoders take without a look at what it holds. Memo holds
// the types already built.
func wireCheckType(t reflect.Type, depth int, memo map[wireCheckKey]reflect.Type) (reflect.Type, error) {
	switch {
	case t == timeType:
		return reflect.TypeFor[wireTime](), nil
	case t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType):
		return nil, nil
	case t.Kind() == reflect.Pointer:
		return wireCheckType(t.Elem(), depth, memo)
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.Uint8:
		return reflect.TypeFor[wireBytes](), nil
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array, reflect.Map:
	default:
		return nil, nil
	}
	if depth >= wireMaxNested {
		return nil, nil
	}
	key := wireCheckKey{t, depth}
	if w, ok := memo[key]; ok {
		return w, nil
	}
	var w, e reflect.Type
	var err error
	switch t.Kind() {
	case reflect.Struct:
		w, err = wireCheckStruct(t, depth, memo)
	case reflect.Slice:
		if e, err = wireCheckType(t.Elem(), depth+1, memo); e == nil {
			e = wireCheckValue(t.Elem())
		}
		if w = wireListOf(e); w == nil && e != nil {
			w = reflect.SliceOf(e)
		}
	case reflect.Array:
		if e, err = wireCheckType(t.Elem(), depth+1, memo); e != nil {
			w = reflect.ArrayOf(t.Len(), e)
		} else {
			w = wireListOf(wireCheckValue(t.Elem()))
		}
	case reflect.Map:
		w, err = wireCheckMap(t, depth, memo)
	}
	switch {
	case err != nil:
		return nil, err
	case w != nil && reflect.PointerTo(t).Implements(binaryUnmarshalerType):
		return nil, fmt.Errorf("%v holds a time, bytes or a struct, a map, a slice or an array and decodes from a byte string too (encoding.BinaryUnmarshaler)", t)
	}
	memo[key] = w
	return w, nil
}

// wireCheckMap returns the check type of the map t at depth.
func wireCheckMap(t reflect.Type, depth int, memo map[wireCheckKey]reflect.Type) (reflect.Type, error) {
	k, err := wireCheckType(t.Key(), depth+1, memo)
	if err != nil {
		return nil, err
	}
	e, err := wireCheckType(t.Elem(), depth+1, memo)
	if e == nil {
		e = wireCheckValue(t.Elem())
	}
	switch {
	case err != nil:
		return nil, err
	case k == nil && e == nil:
		return nil, nil
	case k == nil:
		k = reflect.TypeFor[wireSkip]()
	case e == nil:
		e = reflect.TypeFor[wireSkip]()
	}
	return reflect.MapOf(k, e), nil
}

// wireCheckStruct returns the check type of the struct t at depth.
func wireCheckStruct(t reflect.Type, depth int, memo map[wireCheckKey]reflect.Type) (reflect.Type, error) {
	toArray := wireToArray(t)
	var fields []reflect.StructField
	if toArray {
		fields = append(fields, reflect.StructField{Name: "_", PkgPath: wireCheckPkg, Type: reflect.TypeFor[struct{}](), Tag: `cbor:",toarray"`})
	}
	holds := false
	for i, f := range wireFields(t) {
		w, err := wireCheckType(f.typ, depth+1, memo)
		if w == nil {
			w = wireCheckValue(f.typ)
		}
		switch {
		case err != nil:
			return nil, err
		case w != nil:
			holds = true
		case toArray || !f.keyAsInt:
			// A field of a text key stays, so that the decoders match
			// a text key to the same field as in t (exactly, else
			// case-insensitively: the first in another case).
			w = reflect.TypeFor[wireSkip]()
		default:
			continue
		}
		tag := f.key
		switch {
		case f.keyAsInt:
			tag += ",keyasint"
		case tag == "-": // the key "-", not a field left out
			tag += ","
		}
		fields = append(fields, reflect.StructField{
			Name: "F" + strconv.Itoa(i), // each key once, so the Go names need only differ
			Type: w,
			Tag:  reflect.StructTag(`cbor:` + strconv.Quote(tag)),
		})
	}
	if !holds {
		return nil, nil
	}
	return reflect.StructOf(fields), nil
}

// wireCheckValue returns what checks an item of type t, which holds no
// time and no bytes, for undefined: for a struct or a map wireMapValue,
// for a slice, an array or a struct decoded from an array (wireToArray)
// wireArrayValue; nil for any other type (a pointer too: the decoders
// take null and undefined alike for no pointer), and for a type that
// decodes itself or from a byte string (a time.Time too).
func wireCheckValue(t reflect.Type) reflect.Type {
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		reflect.PointerTo(t).Implements(binaryUnmarshalerType) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if wireToArray(t) {
			return reflect.TypeFor[wireArrayValue]()
		}
		return reflect.TypeFor[wireMapValue]()
	case reflect.Map:
		return reflect.TypeFor[wireMapValue]()
	case reflect.Slice, reflect.Array:
		return reflect.TypeFor[wireArrayValue]()
	}
	return nil
}

// wireListOf returns the wireList of elements that e checks, when e is
// a wireElement (wireBytes, wireTime, wireMapValue or wireArrayValue);
// else nil.
func wireListOf(e reflect.Type) reflect.Type {
	switch e {
	case reflect.TypeFor[wireBytes]():
		return reflect.TypeFor[wireList[wireBytes]]()
	case reflect.TypeFor[wireTime]():
		return reflect.TypeFor[wireList[wireTime]]()
	case reflect.TypeFor[wireMapValue]():
		return reflect.TypeFor[wireList[wireMapValue]]()
	case reflect.TypeFor[wireArrayValue]():
		return reflect.TypeFor[wireList[wireArrayValue]]()
	}
	return nil
}

// wireCheckPkg is the package path of the unexported fields of the types
// wireCheckType builds.
var wireCheckPkg = reflect.TypeFor[wireTime]().PkgPath()

// wireToArray reports whether the decoders take struct t from an array:
// when its field "_" has the option toarray or toindefarray in its cbor
// tag, as fxamacker/cbor reads it.
func wireToArray(t reflect.Type) bool {
	f, ok := t.FieldByName("_")
	if !ok {
		return false
	}
	opts := strings.Split(f.Tag.Get("cbor"), ",")[1:]
	return slices.Contains(opts, "toarray") || slices.Contains(opts, "toindefarray")
}

// wireField is a field of a struct that the decoders fill: its key, how
// it got it, where it is, and its type.
type wireField struct {
	key      string // the tag's name, else the Go name; with keyAsInt, an integer's canonical text
	keyAsInt bool
	tagged   bool
	index    []int // as reflect.Type.FieldByIndex takes it
	typ      reflect.Type
}

// wireFields returns the fields of struct t that the decoders fill, by
// the rules of fxamacker/cbor, which are those of encoding/json: the
// exported fields of t and, level by level, those of the structs it
// embeds without a tag name (exported or not, behind pointers or not; a
// struct type embedded twice at one level, or embedded again deeper, is
// left out), each under the name of its tag (cbor, else json; "-" leaves
// it out) or else its Go name. Of the fields under one key, the least
// deeply embedded one is filled, or among several at that level the only
// one with a tag; none when that leaves more than one. They are in the
// order of their indexes, in which a struct decoded from an array takes
// them.
func wireFields(t reflect.Type) []wireField {
	type embedding struct {
		t     reflect.Type
		index []int
	}
	var all []wireField
	visited := map[reflect.Type]bool{t: true}
	for structs := []embedding{{t: t}}; len(structs) > 0; {
		var embedded []embedding
		times := map[reflect.Type]int{} // how many times each of embedded is embedded at this level
		for _, st := range structs {
			for i := range st.t.NumField() {
				f := st.t.Field(i)
				ft := f.Type
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				flattened := f.Anonymous && ft.Kind() == reflect.Struct
				if !f.IsExported() && !flattened {
					continue
				}
				tag := f.Tag.Get("cbor")
				if tag == "" {
					tag = f.Tag.Get("json")
				}
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				index := append(slices.Clone(st.index), i)
				if flattened && name == "" {
					if times[ft]++; times[ft] == 1 {
						embedded = append(embedded, embedding{ft, index})
					}
					continue
				}
				w := wireField{key: name, tagged: tag != "", index: index, typ: f.Type}
				if name == "" {
					w.key = f.Name
				}
				if w.keyAsInt = slices.Contains(strings.Split(opts, ","), "keyasint"); w.keyAsInt {
					if n, err := strconv.Atoi(w.key); err == nil {
						w.key = strconv.Itoa(n)
					}
				}
				all = append(all, w)
			}
		}
		structs = nil
		for _, e := range embedded {
			if times[e.t] == 1 && !visited[e.t] {
				visited[e.t] = true
				structs = append(structs, e)
			}
		}
	}
	// all is in ascending level: the first field under a key is of the
	// least deep level.
	type key struct {
		name     string
		keyAsInt bool
	}
	byKey := map[key][]int{}
	var keys []key
	for i, f := range all {
		k := key{f.key, f.keyAsInt}
		if byKey[k] == nil {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	var fields []wireField
	for _, k := range keys {
		var winner, tagged, untagged int
		for _, i := range byKey[k] {
			if len(all[i].index) != len(all[byKey[k][0]].index) {
				break
			}
			if all[i].tagged {
				tagged++
				winner = i
			} else {
				untagged++
			}
		}
		switch {
		case tagged+untagged == 1:
			fields = append(fields, all[byKey[k][0]])
		case tagged == 1:
			fields = append(fields, all[winner])
		}
	}
	slices.SortFunc(fields, func(a, b wireField) int { return slices.Compare(a.index, b.index) })
	return fields
}

// wireTime accepts the times of PROTOCOL.md §5.1: integer Unix seconds
// (major type 0 or 1), or null, which the encoder writes for the zero
// time.
type wireTime struct{}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (wireTime) UnmarshalCBOR(data []byte) error {
	if len(data) == 0 || data[0]>>5 > 1 && data[0] != 0xf6 {
		return errors.New("a time is integer Unix seconds")
	}
	return nil
}

// wireBytes accepts the byte strings of PROTOCOL.md §5.1, and null for
// no bytes: it refuses an array and undefined (wireByteString), the items
// other than those that the decoders take into a slice or an array of
// bytes.
type wireBytes struct{}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (wireBytes) UnmarshalCBOR(data []byte) error { return wireByteString(data, "byte string") }

// wireByteString returns the decoders' error for a value of the wrong
// type, a *cbor.UnmarshalTypeError, when item data is an array (major
// type 4) or undefined (0xf7) where a byte string of type goType goes;
// else nil. Null (0xf6), which the decoders take for no bytes, is not
// refused.
func wireByteString(data []byte, goType string) error {
	if len(data) > 0 && data[0]>>5 == 4 {
		return &cbor.UnmarshalTypeError{CBORType: "array", GoType: goType}
	}
	return wireDefined(data, goType)
}

// wireElement checks an element of a list (wireList): wireBytes,
// wireTime, wireMapValue or wireArrayValue. Its listType names, in the
// decoders' error for undefined, the slice of such elements.
type wireElement interface {
	cbor.Unmarshaler
	listType() string
}

func (wireBytes) listType() string      { return "array of byte strings" }
func (wireTime) listType() string       { return "array of times" }
func (wireMapValue) listType() string   { return "array of maps" }
func (wireArrayValue) listType() string { return "array of arrays" }

// wireList checks an array of elements that E checks: what a slice of
// byte strings, of times, or of structs, maps, slices or arrays without a
// time or bytes decodes into. It checks an item as a slice of E would
// without the slice that the decoders would make for it, so that the
// check allocates nothing: it returns the decoders' error for a value of
// the wrong type, a *cbor.UnmarshalTypeError, for undefined (0xf7), which
// the decoders take for no slice, and checks each element of an array
// with E. Null (0xf6), which the decoders take for no slice, is not
// refused.
type wireList[E wireElement] struct{}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (wireList[E]) UnmarshalCBOR(data []byte) error {
	var e E
	if err := wireDefined(data, e.listType()); err != nil || len(data) == 0 || data[0]>>5 != 4 {
		return err
	}
	// The elements follow the array's head: its initial byte, then 1, 2,
	// 4 or 8 octets of its length for the additional information 24 to
	// 27; an array of indefinite length (31) ends in a break.
	items := data[1:]
	switch ai := data[0] & 0x1f; {
	case ai >= 24 && ai <= 27:
		items = items[1<<(ai-24):]
	case ai == 31:
		items = items[:len(items)-1]
	}
	for len(items) > 0 {
		var err error
		if items, err = wireDecCheck.UnmarshalFirst(items, &e); err != nil {
			return err
		}
	}
	return nil
}

// wireMapValue refuses undefined (0xf7) where a map goes (a struct or a
// map, which the decoders would leave as it was), with the decoders'
// error for a value of the wrong type, a *cbor.UnmarshalTypeError; it
// takes any other item, null too, which the decoders take as if the map
// were left out.
type wireMapValue struct{}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (wireMapValue) UnmarshalCBOR(data []byte) error { return wireDefined(data, "map") }

// wireArrayValue is wireMapValue where an array goes (a slice, an array
// or a struct decoded from an array).
type wireArrayValue struct{}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (wireArrayValue) UnmarshalCBOR(data []byte) error { return wireDefined(data, "array") }

// wireDefined returns the decoders' error for a value of the wrong type
// when item data is undefined (0xf7) where a goType goes; else nil.
func wireDefined(data []byte, goType string) error {
	if len(data) > 0 && data[0] == 0xf7 {
		return &cbor.UnmarshalTypeError{CBORType: "undefined", GoType: goType}
	}
	return nil
}

// wireSkip takes any item: the check's stand-in for an item without a
// time or a byte string where it must take one all the same (a field of
// a struct decoded from an array or under a text key, a map's key or
// value beside one with a time or a byte string).
type wireSkip struct{}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (wireSkip) UnmarshalCBOR([]byte) error { return nil }
