package payflow

import (
	"errors"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// wireUnmarshal decodes body data into v with mode, then refuses what
// mode takes but the protocol (PROTOCOL.md §5.1) does not, anywhere in
// the value v points to (a field, a nested struct's field, an element of
// a slice or an array, a map key or value, behind pointers), by one walk
// over data along v's type (wirePlan.check):
//   - undefined, which mode takes for no value, anywhere;
//   - null, which mode takes for the zero value, in place of anything but
//     a pointer, a slice (a byte string too), a map, an interface or a
//     time.Time (for which it is the zero time);
//   - another simple value (not false, true, null or undefined), which
//     mode takes for an integer n as n in place of an integer (in place of
//     a string, mode refuses it itself);
//   - a text (RFC 3339) or floating-point time.Time, or one of more
//     seconds than a time.Time holds (wireLatestUnix), which mode takes
//     wrapped to a time before every other;
//   - an array of small integers in place of a byte string, which mode
//     takes into a []byte or a [N]byte as its octets;
//   - a text string that is not UTF-8 in a value that mode skips unread
//     (under a key that the reply decoder ignores).
//
// The error of such an item is the decoders' own for a value of the
// wrong type, a *cbor.UnmarshalTypeError that names the field of v's type
// that holds it and the Go type of the item's place, but for a text
// string that is not UTF-8, whose error is theirs for one. A body of null or
// undefined is refused as not a map where v points to a struct or a map.
func wireUnmarshal(mode cbor.DecMode, data []byte, v any) error {
	if err := mode.Unmarshal(data, v); err != nil {
		return err
	}
	t := reflect.TypeOf(v).Elem() // v is a pointer: Unmarshal refuses anything else
	if k := t.Kind(); (k == reflect.Struct || k == reflect.Map) && (data[0] == 0xf6 || data[0] == 0xf7) {
		// data is one item, which mode took: null or undefined is one
		// octet.
		return &cbor.UnmarshalTypeError{CBORType: wireCBORType(data), GoType: t.String()}
	}
	_, err := wirePlanFor(t).check(data)
	return err
}

// wireBodies are the types of the bodies that the handler and the client
// decode (PROTOCOL.md §5.3). The package's init builds their plans, so
// that no request waits for one.
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
		wirePlanFor(t)
	}
}

// wirePlans holds the plan of each type wirePlanFor was asked for.
var wirePlans sync.Map

// wirePlanFor returns the plan of t (wireBuildPlan), built once.
func wirePlanFor(t reflect.Type) *wirePlan {
	if p, ok := wirePlans.Load(t); ok {
		return p.(*wirePlan)
	}
	p, _ := wirePlans.LoadOrStore(t, wireBuildPlan(t, map[reflect.Type]*wirePlan{}))
	return p.(*wirePlan)
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	unmarshalerType = reflect.TypeFor[cbor.Unmarshaler]()
)

// wirePlanKind is what a wirePlan takes besides null.
type wirePlanKind uint8

const (
	wireAnyItem     wirePlanKind = iota // any item: an interface, a type that decodes itself
	wireScalar                          // a string, a number, a boolean: of the type mode checked (a simple value: a boolean's or a float's)
	wireTimeItem                        // integer Unix seconds
	wireBytesItem                       // a byte string
	wirePointer                         // what elem takes
	wireArrayItem                       // an array of what elem takes: a slice, an array
	wireMapItem                         // a map of what key and elem take
	wireStructItem                      // a map of fields
	wireStructArray                     // an array of fields (toarray)
)

// wirePlan is what the protocol takes where a Go type goes, as
// wireUnmarshal checks it: its kind, whether null is taken (for the
// zero value: a nil pointer, slice or map, an interface's nil, the zero
// time), the type named in errors, and what its parts take. Undefined is
// taken nowhere.
type wirePlan struct {
	kind     wirePlanKind
	nullable bool
	simple   bool // a scalar that a simple value or a float may stand for (a boolean, a float)
	goType   string
	elem     *wirePlan // of a pointer, an array or a map's values
	key      *wirePlan // of a map's keys
	fields   []wirePlanField
	byInt    map[int64]*wirePlanField // of a struct's fields under integer keys
	byName   map[string]*wirePlanField
}

// wirePlanField is a field of a struct that the decoders fill: its key,
// as PROTOCOL.md names it, and its plan.
type wirePlanField struct {
	key      string
	keyAsInt bool
	plan     *wirePlan
}

// wireBuildPlan returns the plan of t by the rules by which the decoders
// fill it: a time.Time is a time, a slice or an array of bytes (of kind
// uint8, as the decoders tell them) a byte string, a type that decodes
// itself (cbor.Unmarshaler) any item; a struct's fields are those the
// decoders fill (wireFields), matched to a map's keys or an array's
// items (wireToArray) as they match them. Null is taken for a pointer, a
// slice, a map, an interface and a time.Time. Memo holds the plans being
// built, so that a type that holds itself ends.
func wireBuildPlan(t reflect.Type, memo map[reflect.Type]*wirePlan) *wirePlan {
	if p, ok := memo[t]; ok {
		return p
	}
	p := &wirePlan{goType: t.String()}
	memo[t] = p
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		p.nullable = true
	}
	switch {
	case t == timeType:
		p.kind, p.nullable = wireTimeItem, true
		return p
	case t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface:
		p.kind = wireAnyItem
		return p
	}
	switch t.Kind() {
	case reflect.Pointer:
		p.kind, p.elem = wirePointer, wireBuildPlan(t.Elem(), memo)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = wireBytesItem
		} else {
			p.kind, p.elem = wireArrayItem, wireBuildPlan(t.Elem(), memo)
		}
	case reflect.Map:
		p.kind, p.key, p.elem = wireMapItem, wireBuildPlan(t.Key(), memo), wireBuildPlan(t.Elem(), memo)
	case reflect.Struct:
		p.kind = wireStructItem
		if wireToArray(t) {
			p.kind = wireStructArray
		}
		fields := wireFields(t)
		p.fields = make([]wirePlanField, len(fields))
		p.byInt, p.byName = map[int64]*wirePlanField{}, map[string]*wirePlanField{}
		for i, f := range fields {
			p.fields[i] = wirePlanField{key: f.key, keyAsInt: f.keyAsInt, plan: wireBuildPlan(f.typ, memo)}
			if n, err := strconv.ParseInt(f.key, 10, 64); f.keyAsInt && err == nil {
				p.byInt[n] = &p.fields[i]
			} else if !f.keyAsInt {
				p.byName[f.key] = &p.fields[i]
			}
		}
	default:
		p.kind = wireScalar
		switch t.Kind() {
		case reflect.Bool, reflect.Float32, reflect.Float64:
			p.simple = true
		}
	}
	return p
}

// check walks item data, the first item of data, which the decoders took
// into a value of p's type, and returns what follows it; the error of
// the first item in it that p refuses.
func (p *wirePlan) check(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	switch data[0] {
	case 0xf7:
		return nil, p.typeError(data)
	case 0xf6:
		if !p.nullable {
			return nil, p.typeError(data)
		}
		return data[1:], nil
	}
	major := data[0] >> 5
	switch {
	case p.kind == wireTimeItem && (major > 1 || major == 0 && !wireTimeHeld(data)),
		p.kind == wireBytesItem && major != 2,
		p.kind == wireScalar && major == 7 && !p.simple: // the library takes simple(n) for the integer n
		return nil, p.typeError(data)
	case p.kind == wirePointer:
		return p.elem.check(data)
	case p.kind == wireArrayItem && major == 4:
		return wireCheckItems(data, func(_ int, items []byte) ([]byte, error) { return p.elem.check(items) })
	case p.kind == wireStructArray && major == 4:
		return wireCheckItems(data, func(i int, items []byte) ([]byte, error) {
			if i >= len(p.fields) {
				return wireSkipItem(items)
			}
			rest, err := p.fields[i].plan.check(items)
			return rest, p.fieldError(err, p.fields[i].key)
		})
	case p.kind == wireMapItem && major == 5:
		return wireCheckItems(data, func(i int, items []byte) ([]byte, error) {
			if i%2 == 0 {
				return p.key.check(items)
			}
			return p.elem.check(items)
		})
	case p.kind == wireStructItem && major == 5:
		var f *wirePlanField
		return wireCheckItems(data, func(i int, items []byte) ([]byte, error) {
			if i%2 == 0 {
				f = p.field(items)
				return wireSkipItem(items)
			}
			if f == nil { // a key the reply decoder ignores
				return wireSkipItem(items)
			}
			rest, err := f.plan.check(items)
			return rest, p.fieldError(err, f.key)
		})
	}
	return wireSkipItem(data)
}

// wireLatestUnix is the latest Unix second that a time.Time holds: past
// it, the seconds from year 1 to 1970 that time.Unix adds overflow, and
// the time would come before every other.
const wireLatestUnix = math.MaxInt64 - 62135596800

// wireTimeHeld reports whether item data, the first of data, an unsigned
// integer, is a Unix second that a time.Time holds (wireLatestUnix). Any
// negative integer that the decoders take is held.
func wireTimeHeld(data []byte) bool {
	_, val, _ := wireHead(data)
	return val <= wireLatestUnix
}

// field returns the field of struct plan p that the decoders fill under
// map key data, the first item of data: a field under an integer key
// (keyasint) for an integer, else for a text string the field under it,
// or the first one in another case; nil for none.
func (p *wirePlan) field(data []byte) *wirePlanField {
	major, val, head := wireHead(data)
	switch {
	case head == 0:
	case major == 0 && val <= 1<<63-1:
		return p.byInt[int64(val)]
	case major == 1 && val <= 1<<63-1:
		return p.byInt[-1^int64(val)]
	case major == 3 && uint64(len(data)-head) >= val:
		key := data[head : head+int(val)]
		if f, ok := p.byName[string(key)]; ok {
			return f
		}
		for i := range p.fields {
			if f := &p.fields[i]; !f.keyAsInt && len(f.key) == len(key) && strings.EqualFold(f.key, string(key)) {
				return f
			}
		}
	}
	return nil
}

// typeError returns the decoders' error for item data, the first of
// data, in place of a value of p's type.
func (p *wirePlan) typeError(data []byte) error {
	return &cbor.UnmarshalTypeError{CBORType: wireCBORType(data), GoType: p.goType}
}

// fieldError returns err, the error of the item under key of struct plan
// p, naming that field of p's type as the decoders do: the field of the
// outermost struct is named last.
func (p *wirePlan) fieldError(err error, key string) error {
	if e, ok := err.(*cbor.UnmarshalTypeError); ok {
		e.StructFieldName = p.goType + "." + key
	}
	return err
}

// wireCBORType names the CBOR type of item data, the first of data, as
// the decoders' errors do, null and undefined by their names.
func wireCBORType(data []byte) string {
	switch data[0] {
	case 0xf6:
		return "null"
	case 0xf7:
		return "undefined"
	}
	return [...]string{"positive integer", "negative integer", "byte string", "UTF-8 text string",
		"array", "map", "tag", "primitives"}[data[0]>>5]
}

// wireHead returns the major type and the argument of the head of item
// data, the first of data, and the length of the head; 0 for a head that
// data does not hold, or of indefinite length, which the decoders refuse.
func wireHead(data []byte) (major byte, val uint64, head int) {
	if len(data) == 0 {
		return 0, 0, 0
	}
	major, ai := data[0]>>5, data[0]&0x1f
	switch {
	case ai < 24:
		return major, uint64(ai), 1
	case ai > 27 || len(data) < 1+1<<(ai-24):
		return major, 0, 0
	}
	n := 1 << (ai - 24)
	for _, b := range data[1 : 1+n] {
		val = val<<8 | uint64(b)
	}
	return major, val, 1 + n
}

// wireCheckItems calls each with the items of the array or map data, the
// first item of data (a map's keys and values in turn), each time with
// the item's index and the items from it on, and returns what follows the
// last one.
func wireCheckItems(data []byte, each func(i int, items []byte) ([]byte, error)) ([]byte, error) {
	major, val, head := wireHead(data)
	if head == 0 {
		return nil, io.ErrUnexpectedEOF
	}
	if major == 5 {
		val *= 2
	}
	if val > uint64(len(data)) { // each item is one octet at least
		return nil, io.ErrUnexpectedEOF
	}
	items := data[head:]
	for i := range int(val) {
		var err error
		if items, err = each(i, items); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// errWireText is the decoders' error for a text string that is not
// UTF-8.
var errWireText = errors.New("cbor: invalid UTF-8 string")

// wireSkipItem returns what follows item data, the first of data, the
// decoders' error for undefined if it holds one (at any depth), in place
// of a value of any type, and their error for a text string that is not
// UTF-8 (at any depth: the decoders read no text string of a value they
// skip, under a key the reply decoder ignores).
func wireSkipItem(data []byte) ([]byte, error) {
	major, val, head := wireHead(data)
	switch {
	case head == 0:
		return nil, io.ErrUnexpectedEOF
	case data[0] == 0xf7:
		return nil, wireDefined(data, "interface {}")
	case major == 2 || major == 3:
		if val > uint64(len(data)-head) {
			return nil, io.ErrUnexpectedEOF
		}
		end := head + int(val)
		if major == 3 && !utf8.Valid(data[head:end]) {
			return nil, errWireText
		}
		return data[end:], nil
	case major == 4 || major == 5:
		return wireCheckItems(data, func(_ int, items []byte) ([]byte, error) { return wireSkipItem(items) })
	case major == 6:
		return wireSkipItem(data[head:])
	}
	return data[head:], nil
}

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

// wireDefined returns the decoders' error for a value of the wrong type
// when item data is undefined (0xf7) where a goType goes; else nil.
func wireDefined(data []byte, goType string) error {
	if len(data) > 0 && data[0] == 0xf7 {
		return &cbor.UnmarshalTypeError{CBORType: "undefined", GoType: goType}
	}
	return nil
}
