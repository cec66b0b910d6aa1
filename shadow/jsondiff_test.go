package shadow

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// d is a compact expected difference: path, kind, primary, candidate ("" = absent).
type d struct{ path, kind, primary, candidate string }

func toD(ds []Difference) []d {
	out := make([]d, 0, len(ds))
	for _, x := range ds {
		out = append(out, d{x.Path, string(x.Kind), string(x.Primary), string(x.Candidate)})
	}
	return out
}

func TestDiffJSONTable(t *testing.T) {
	tests := []struct {
		name      string
		primary   string
		candidate string
		rules     config.RouteShadow
		want      []d
	}{
		{name: "equal objects, different key order and spacing", primary: `{"a":1,"b":[1,2]}`, candidate: ` { "b" : [1, 2], "a": 1 } `},
		{name: "changed string", primary: `{"a":"x"}`, candidate: `{"a":"y"}`, want: []d{{"$.a", "changed", `"x"`, `"y"`}}},
		{name: "nested objects", primary: `{"a":{"b":{"c":1,"d":2}}}`, candidate: `{"a":{"b":{"c":1,"d":3,"e":4}}}`,
			want: []d{{"$.a.b.d", "changed", "2", "3"}, {"$.a.b.e", "added", "", "4"}}},
		{name: "removed key", primary: `{"a":1,"b":2}`, candidate: `{"a":1}`, want: []d{{"$.b", "removed", "2", ""}}},
		{name: "arrays of objects", primary: `{"items":[{"id":1,"title":"a"},{"id":2,"title":"b"}]}`,
			candidate: `{"items":[{"id":1,"title":"a"},{"id":2,"title":"B"}]}`,
			want:      []d{{"$.items[1].title", "changed", `"b"`, `"B"`}}},
		{name: "array longer and shorter", primary: `[1,2,3]`, candidate: `[1,2]`, want: []d{{"$[2]", "removed", "3", ""}}},
		{name: "array grows", primary: `[1]`, candidate: `[1,{"x":true}]`, want: []d{{"$[1]", "added", "", `{"x":true}`}}},
		{name: "an element inserted at the front is one addition", primary: `{"items":[1,2,3]}`, candidate: `{"items":[0,1,2,3]}`,
			want: []d{{"$.items[0]", "added", "", "0"}}},
		{name: "an element removed in the middle is one removal", primary: `[1,2,3,4]`, candidate: `[1,3,4]`,
			want: []d{{"$[1]", "removed", "2", ""}}},
		{name: "insertion and a change: the change is named by the primary's index", primary: `[{"id":1,"t":"a"},{"id":2,"t":"b"}]`,
			candidate: `[{"id":0,"t":"z"},{"id":1,"t":"a"},{"id":2,"t":"B"}]`,
			want:      []d{{"$[0]", "added", "", `{"id":0,"t":"z"}`}, {"$[1].t", "changed", `"b"`, `"B"`}}},
		{name: "items differing only in ignored fields align", primary: `{"items":[{"id":1,"ts":1},{"id":2,"ts":1}]}`,
			candidate: `{"items":[{"id":0,"ts":2},{"id":1,"ts":2},{"id":2,"ts":2}]}`, rules: config.RouteShadow{IgnorePaths: []string{"$.items[*].ts"}},
			want: []d{{"$.items[0]", "added", "", `{"id":0,"ts":2}`}}},
		{name: "a tenant's subset of a list reads as removals", primary: `{"items":[{"org":"a","at":1},{"org":"b","at":2},{"org":"a","at":3}]}`,
			candidate: `{"items":[{"org":"a","at":9},{"org":"a","at":9}]}`, rules: config.RouteShadow{IgnorePaths: []string{"$.items[*].at"}},
			want: []d{{"$.items[1]", "removed", `{"at":2,"org":"b"}`, ""}}},
		{name: "indices sort numerically", primary: `[0,0,0,0,0,0,0,0,0,0,0,0]`, candidate: `[0,0,1,0,0,0,0,0,0,0,1,0]`,
			want: []d{{"$[2]", "changed", "0", "1"}, {"$[10]", "changed", "0", "1"}}},
		{name: "type change object to array", primary: `{"a":{}}`, candidate: `{"a":[]}`, want: []d{{"$.a", "type", `{}`, `[]`}}},
		{name: "type change number to string", primary: `{"a":1}`, candidate: `{"a":"1"}`, want: []d{{"$.a", "type", `1`, `"1"`}}},
		{name: "bool changed", primary: `{"ok":true}`, candidate: `{"ok":false}`, want: []d{{"$.ok", "changed", `true`, `false`}}},
		{name: "unicode keys and values", primary: `{"名前":"太郎","emoji":"😀"}`, candidate: `{"名前":"次郎","emoji":"😀"}`,
			want: []d{{"$.名前", "changed", `"太郎"`, `"次郎"`}}},
		{name: "escaped unicode equals literal", primary: `{"k":"\u00e9"}`, candidate: `{"k":"é"}`},
		{name: "keys needing quotes", primary: `{"a.b":1,"x y":1,"1st":1,"":1,"*":1}`, candidate: `{"a.b":2,"x y":2,"1st":2,"":2,"*":2}`,
			want: []d{{`$[""]`, "changed", "1", "2"}, {`$["*"]`, "changed", "1", "2"}, {`$["1st"]`, "changed", "1", "2"}, {`$["a.b"]`, "changed", "1", "2"}, {`$["x y"]`, "changed", "1", "2"}}},
		{name: "key with quote and backslash", primary: `{"a\"b\\c":1}`, candidate: `{"a\"b\\c":2}`, want: []d{{`$["a\"b\\c"]`, "changed", "1", "2"}}},
		{name: "1 equals 1.0", primary: `{"n":1}`, candidate: `{"n":1.0}`},
		{name: "1e2 equals 100", primary: `[1e2, 0.5, -0]`, candidate: `[100, 5e-1, 0]`},
		{name: "large integers exact", primary: `{"id":12345678901234567890}`, candidate: `{"id":12345678901234567891}`,
			want: []d{{"$.id", "changed", "12345678901234567890", "12345678901234567891"}}},
		{name: "large integers equal", primary: `{"id":123456789012345678901234567890}`, candidate: `{"id":123456789012345678901234567890.000}`},
		{name: "float precision kept", primary: `0.1`, candidate: `0.10000000000000001`, want: []d{{"$", "changed", "0.1", "0.10000000000000001"}}},
		{name: "empty string vs null", primary: `{"a":""}`, candidate: `{"a":null}`, want: []d{{"$.a", "type", `""`, `null`}}},
		{name: "null vs missing", primary: `{"a":null}`, candidate: `{}`, want: []d{{"$.a", "removed", "null", ""}}},
		{name: "missing vs empty", primary: `{}`, candidate: `{"a":""}`, want: []d{{"$.a", "added", "", `""`}}},
		{name: "empty object vs empty array", primary: `{}`, candidate: `[]`, want: []d{{"$", "type", "{}", "[]"}}},
		{name: "top-level scalars equal", primary: `"x"`, candidate: `"x"`},
		{name: "top-level scalars differ", primary: `true`, candidate: `null`, want: []d{{"$", "type", "true", "null"}}},
		{name: "top-level numbers", primary: `42`, candidate: `42.5`, want: []d{{"$", "changed", "42", "42.5"}}},
		{name: "ignore path", primary: `{"generated_at":"1","a":1}`, candidate: `{"generated_at":"2","a":1}`,
			rules: config.RouteShadow{IgnorePaths: []string{"$.generated_at"}}},
		{name: "ignore with wildcard", primary: `{"items":[{"id":1,"t":"a"},{"id":2,"t":"b"}]}`, candidate: `{"items":[{"id":7,"t":"a"},{"id":8,"t":"c"}]}`,
			rules: config.RouteShadow{IgnorePaths: []string{"$.items[*].id"}},
			want:  []d{{"$.items[1].t", "changed", `"b"`, `"c"`}}},
		{name: "ignore a subtree", primary: `{"meta":{"a":1,"b":{"c":2}},"x":1}`, candidate: `{"meta":{"a":2},"x":1}`,
			rules: config.RouteShadow{IgnorePaths: []string{"$.meta"}}},
		{name: "ignore at any depth", primary: `{"a":{"updated_at":1,"b":[{"updated_at":2}]}}`, candidate: `{"a":{"updated_at":3,"b":[{"updated_at":4}]}}`,
			rules: config.RouteShadow{IgnorePaths: []string{"$..updated_at"}}},
		{name: "ignore added key", primary: `{}`, candidate: `{"trace":"x"}`, rules: config.RouteShadow{IgnorePaths: []string{"$.trace"}}},
		{name: "unordered arrays", primary: `{"tags":["a","b","c"]}`, candidate: `{"tags":["c","a","b"]}`,
			rules: config.RouteShadow{UnorderedArrays: []string{"$.tags"}}},
		{name: "unordered arrays multiset", primary: `{"tags":["a","a","b"]}`, candidate: `{"tags":["b","a","c"]}`,
			rules: config.RouteShadow{UnorderedArrays: []string{"$.tags"}},
			want:  []d{{"$.tags[1]", "removed", `"a"`, ""}, {"$.tags[2]", "added", "", `"c"`}}},
		{name: "unordered arrays of objects with numbers and ignored ids", primary: `{"items":[{"id":1,"n":1.0,"k":{"b":1,"a":2}},{"id":2,"n":2}]}`,
			candidate: `{"items":[{"id":9,"n":2},{"id":8,"n":1,"k":{"a":2,"b":1}}]}`,
			rules:     config.RouteShadow{UnorderedArrays: []string{"$.items"}, IgnorePaths: []string{"$.items[*].id"}}},
		{name: "ordered arrays stay ordered", primary: `{"tags":["a","b"]}`, candidate: `{"tags":["b","a"]}`,
			rules: config.RouteShadow{UnorderedArrays: []string{"$.other"}},
			want:  []d{{"$.tags[0]", "changed", `"a"`, `"b"`}, {"$.tags[1]", "changed", `"b"`, `"a"`}}},
		{name: "html characters not escaped", primary: `{"h":"<b>&"}`, candidate: `{"h":"<i>&"}`, want: []d{{"$.h", "changed", `"<b>&"`, `"<i>&"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := MustCompileRules(tc.rules)
			got, err := DiffJSON([]byte(tc.primary), []byte(tc.candidate), rules)
			require.NoError(t, err)
			want := tc.want
			if want == nil {
				want = []d{}
			}
			assert.Equal(t, want, toD(got))
			for _, x := range got {
				if x.Primary != nil {
					assert.True(t, json.Valid(x.Primary), "primary %s", x.Primary)
				}
				if x.Candidate != nil {
					assert.True(t, json.Valid(x.Candidate), "candidate %s", x.Candidate)
				}
			}
		})
	}
}

// TestAlignmentBeyondItsBoundComparesByIndex: arrays too long to align
// (no common prefix or suffix, middle over maxAlignCells) are compared
// index by index, as before alignment existed.
func TestAlignmentBeyondItsBoundComparesByIndex(t *testing.T) {
	n := 600
	a, b := make([]int, n), make([]int, n+1)
	for i := range a {
		a[i] = i + 1
	}
	for i := range b {
		b[i] = -i - 1
	}
	require.Greater(t, n*(n+1), maxAlignCells)
	got, err := DiffJSON(encode(t, a), encode(t, b), nil)
	require.NoError(t, err)
	require.Len(t, got, n+1, "n changed, one added")
	assert.Equal(t, KindAdded, got[len(got)-1].Kind)
}

func TestLCSMirrorsWhenSidesSwap(t *testing.T) {
	a := []string{"x", "a", "y", "b", "z"}
	b := []string{"a", "q", "b", "x", "z"}
	ab, ba := lcs(a, b), lcs(b, a)
	require.Len(t, ab, len(ba))
	for k := range ab {
		assert.Equal(t, [2]int{ab[k][1], ab[k][0]}, ba[k])
	}
	assert.Len(t, ab, 3, "a, b, z")
}

func TestDiffJSONRejectsInvalid(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{`{"a":1}`, `{"a":1`},
		{`{"a":1} x`, `{"a":1}`},
		{`{"a":1}{"a":1}`, `{"a":1}`},
		{``, `{}`},
		{`   `, `null`},
		{"{\"a\":\"\xff\"}", `{"a":"x"}`},
		{`NaN`, `1`},
		{`<html>`, `{}`},
		{`{'a':1}`, `{}`},
		{`01`, `1`},
	} {
		_, err := DiffJSON([]byte(tc.a), []byte(tc.b), nil)
		assert.ErrorIs(t, err, ErrNotJSON, "%q vs %q", tc.a, tc.b)
		_, err = DiffJSON([]byte(tc.b), []byte(tc.a), nil)
		assert.ErrorIs(t, err, ErrNotJSON, "%q vs %q", tc.b, tc.a)
	}
}

func TestDiffJSONTruncatesLongValues(t *testing.T) {
	long := strings.Repeat("é", 2000)
	got, err := DiffJSON([]byte(`{"a":"`+long+`"}`), []byte(`{}`), nil)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.True(t, got[0].Truncated)
	assert.True(t, json.Valid(got[0].Primary))
	assert.LessOrEqual(t, len(got[0].Primary), maxValueBytes+16)
}

func TestDeepNestingDoesNotCrash(t *testing.T) {
	depth := 5000
	a := strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
	b := strings.Repeat("[", depth) + "2" + strings.Repeat("]", depth)
	got, err := DiffJSON([]byte(a), []byte(b), MustCompileRules(config.RouteShadow{IgnorePaths: []string{"$..x"}}))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, KindChanged, got[0].Kind)
}

func TestNumbersEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		eq   bool
	}{
		{"1", "1.0", true}, {"1", "1.00000", true}, {"100", "1e2", true}, {"100", "1E+2", true},
		{"0.01", "1e-2", true}, {"0", "-0", true}, {"0", "0.0e10", true}, {"-1.5", "-15e-1", true},
		{"1", "-1", false}, {"1", "1.0000000000000000000001", false},
		{"9007199254740993", "9007199254740992", false},
		{"12345678901234567890123", "12345678901234567890123.0", true},
		{"1e99999999999999999999", "10e99999999999999999998", true},
		{"1e99999999999999999999", "1e99999999999999999998", false},
		{"1e-99999999999999999999", "0.1e-99999999999999999998", true},
		{"1e9223372036854775807", "10e9223372036854775806", true},
		{"abc", "abc", true}, {"abc", "abd", false}, {"1.", "1", false}, {"01", "1", false},
	} {
		assert.Equal(t, tc.eq, numbersEqual(tc.a, tc.b), "%s vs %s", tc.a, tc.b)
		assert.Equal(t, tc.eq, numbersEqual(tc.b, tc.a), "%s vs %s", tc.b, tc.a)
	}
}
