package shadow

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// stdDecode is the reference: encoding/json with UseNumber, one value, no
// trailing data.
func stdDecode(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

func TestParseJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-1E-2`, `true`, `false`, `null`, ` {"a" : [1, 2, {"b": null}] } `,
		`"\u00e9\n\t\"\\\/\b\f\r"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`, `"\ud83dx"`, `"\ud83d\u0041"`, `"\uD83D\uDE00"`,
		`{"a":1,"a":2}`, `[1,]`, `{"a":1,}`, `[01]`, `[-]`, `[1.]`, `[.5]`, `[1e]`, `[+1]`, `[NaN]`, `[Infinity]`,
		`"a` + "\x01" + `"`, `"\x"`, `"\u12"`, `"\u12g4"`, `{"a" 1}`, `{a:1}`, `[1 2]`, `truex`, `nul`, `"`, `[`, `{`,
		`{"a":}`, `1 2`, "\t\n\r 1 \t\n\r", `[[[[[]]]]]`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000), `"` + "\x7f" + `"`, `123456789012345678901234567890`,
	} {
		want, wantOK := stdDecode([]byte(in))
		got, gotOK := parseJSON([]byte(in))
		assert.Equal(t, wantOK, gotOK, "%.60q", in)
		if wantOK && gotOK {
			assert.True(t, reflect.DeepEqual(want, got), "%.60q: %#v vs %#v", in, want, got)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u00e9\ud83d\ude00"],"b":{"c":null,"d":true}}`, `[]`, `"\ud83d"`, `-0.0e-0`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return // decodeJSON refuses invalid UTF-8 before parsing
		}
		want, wantOK := stdDecode(b)
		got, gotOK := parseJSON(b)
		if wantOK != gotOK {
			t.Fatalf("%q: encoding/json ok=%v, parseJSON ok=%v", b, wantOK, gotOK)
		}
		if wantOK && !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: %#v vs %#v", b, want, got)
		}
	})
}
