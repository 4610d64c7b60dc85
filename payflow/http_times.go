package payflow

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// wireUnmarshal decodes body data into v with mode, then refuses the times
// that mode takes but the protocol does not: a text (RFC 3339),
// floating-point or undefined value of a time.Time anywhere in the value v
// points to (a field, a nested struct's field, an element of a slice or an
// array, a map value, behind pointers). It decodes data a second time for
// that, into the wireTimes type of v's type, without the first pass's
// duplicate detection (wireDecCheck).
func wireUnmarshal(mode cbor.DecMode, data []byte, v any) error {
	if err := mode.Unmarshal(data, v); err != nil {
		return err
	}
	t := reflect.TypeOf(v).Elem() // v is a pointer: Unmarshal refuses anything else
	times, ok := wireTimesOf.Load(t)
	if !ok {
		times, _ = wireTimesOf.LoadOrStore(t, wireTimes(t, 0, map[wireTimesKey]reflect.Type{}))
	}
	w, _ := times.(reflect.Type) // nil for a type without times
	if w == nil {
		return nil
	}
	return wireDecCheck.Unmarshal(data, reflect.New(w).Interface())
}

// wireTimesOf holds the wireTimes of each type wireUnmarshal decoded into.
var wireTimesOf sync.Map

// wireTimesKey is a type at a nesting depth, as wireTimes memoizes it.
type wireTimesKey struct {
	t     reflect.Type
	depth int
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	unmarshalerType = reflect.TypeFor[cbor.Unmarshaler]()
)

// wireTimes returns the type that a body of type t decodes into to have
// its times checked, nil when t holds no time.Time: wireTime for a
// time.Time; for a struct, a struct with a field under the same key for
// each field the decoders fill (wireFields: the fields of embedded
// structs too) that holds a time, of that field's wireTimes type; for a
// pointer, the wireTimes type of what it points to; and a slice, array or
// map (of the same keys) of the wireTimes type of the elements.
// Depth is the number of arrays and maps around a value of type t:
// nothing at a depth the decoders refuse (wireMaxNested) is looked at, so
// a type that holds itself ends. A type that decodes itself (a
// cbor.Unmarshaler) is left to its own decoding. Memo holds the types
// already built.
func wireTimes(t reflect.Type, depth int, memo map[wireTimesKey]reflect.Type) reflect.Type {
	if t == timeType {
		return reflect.TypeFor[wireTime]()
	}
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	if t.Kind() == reflect.Pointer {
		// Not a pointer: the decoder sets a pointer to nil for undefined
		// without a look at its type.
		return wireTimes(t.Elem(), depth, memo)
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Array, reflect.Map:
	default:
		return nil
	}
	if depth >= wireMaxNested {
		return nil
	}
	key := wireTimesKey{t, depth}
	if w, ok := memo[key]; ok {
		return w
	}
	var w reflect.Type
	switch t.Kind() {
	case reflect.Struct:
		if fields := wireTimeFields(t, depth, memo); fields != nil {
			w = reflect.StructOf(fields)
		}
	case reflect.Slice:
		if e := wireTimes(t.Elem(), depth+1, memo); e != nil {
			w = reflect.SliceOf(e)
		}
	case reflect.Array:
		if e := wireTimes(t.Elem(), depth+1, memo); e != nil {
			w = reflect.ArrayOf(t.Len(), e)
		}
	case reflect.Map:
		if e := wireTimes(t.Elem(), depth+1, memo); e != nil {
			w = reflect.MapOf(t.Key(), e)
		}
	}
	memo[key] = w
	return w
}

// wireTimeFields returns the fields of wireTimes for the struct t at
// depth: one for each field of wireFields(t) that holds a time, under the
// field's key.
func wireTimeFields(t reflect.Type, depth int, memo map[wireTimesKey]reflect.Type) []reflect.StructField {
	var fields []reflect.StructField
	for _, f := range wireFields(t) {
		if w := wireTimes(f.typ, depth+1, memo); w != nil {
			tag := f.key
			if f.keyAsInt {
				tag += ",keyasint"
			}
			fields = append(fields, reflect.StructField{
				Name: "F" + strconv.Itoa(len(fields)), // each key once, so the Go names need only differ
				Type: w,
				Tag:  reflect.StructTag(`cbor:` + strconv.Quote(tag)),
			})
		}
	}
	return fields
}

// wireField is a field of a struct that the decoders fill: its key, how
// it got it, how deeply it is embedded, and its type.
type wireField struct {
	key      string // the tag's name, else the Go name; with keyAsInt, an integer's canonical text
	keyAsInt bool
	tagged   bool
	level    int // how many embedded structs it is reached through
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
// one with a tag; none when that leaves more than one.
func wireFields(t reflect.Type) []wireField {
	var all []wireField
	visited := map[reflect.Type]bool{t: true}
	for level, structs := 0, []reflect.Type{t}; len(structs) > 0; level++ {
		var embedded []reflect.Type
		times := map[reflect.Type]int{} // how many times each of embedded is embedded at this level
		for _, st := range structs {
			for i := range st.NumField() {
				f := st.Field(i)
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
				if flattened && name == "" {
					if times[ft]++; times[ft] == 1 {
						embedded = append(embedded, ft)
					}
					continue
				}
				w := wireField{key: name, tagged: tag != "", level: level, typ: f.Type}
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
		structs = structs[:0]
		for _, e := range embedded {
			if times[e] == 1 && !visited[e] {
				visited[e] = true
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
			if all[i].level != all[byKey[k][0]].level {
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
