package shadow

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// genValue generates a random JSON value of bounded depth with a mix of every
// type, unicode and awkward keys, and numbers written in several forms.
func genValue(r *rand.Rand, depth int) any {
	max := 8
	if depth <= 0 {
		max = 5
	}
	switch r.IntN(max) {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		forms := []string{"1", "1.0", "-0", "0", "12345678901234567890", "1e3", "2.5", strconv.Itoa(r.IntN(1000))}
		return json.Number(forms[r.IntN(len(forms))])
	case 3, 4:
		strs := []string{"", "a", "é", "日本", "😀", "a\"b", "x.y", strconv.Itoa(r.IntN(50))}
		return strs[r.IntN(len(strs))]
	case 5:
		n := r.IntN(4)
		arr := make([]any, n)
		for i := range arr {
			arr[i] = genValue(r, depth-1)
		}
		return arr
	default:
		keys := []string{"a", "b", "id", "名前", "a.b", "", "*", "x y", "items", "1st"}
		n := r.IntN(4)
		obj := make(map[string]any, n)
		for i := 0; i < n; i++ {
			obj[keys[r.IntN(len(keys))]] = genValue(r, depth-1)
		}
		return obj
	}
}

// mutate returns a copy of v with random changes.
func mutate(r *rand.Rand, v any) any {
	if r.IntN(6) == 0 {
		return genValue(r, 2)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			switch r.IntN(6) {
			case 0: // removed
			default:
				out[k] = mutate(r, e)
			}
		}
		if r.IntN(3) == 0 {
			out["new"+strconv.Itoa(r.IntN(3))] = genValue(r, 1)
		}
		return out
	case []any:
		out := make([]any, 0, len(x)+1)
		for _, e := range x {
			if r.IntN(8) != 0 {
				out = append(out, mutate(r, e))
			}
		}
		if r.IntN(4) == 0 {
			out = append(out, genValue(r, 1))
		}
		return out
	default:
		return v
	}
}

// mutateSameLengths changes values and object keys like mutate but keeps
// every array's length (and its elements' positions).
func mutateSameLengths(r *rand.Rand, v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mutateSameLengths(r, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if r.IntN(6) != 0 {
				out[k] = mutateSameLengths(r, e)
			}
		}
		if r.IntN(3) == 0 {
			out["new"+strconv.Itoa(r.IntN(3))] = genScalar(r)
		}
		return out
	default:
		if r.IntN(4) == 0 {
			return genScalar(r)
		}
		return v
	}
}

// genScalar is a value without arrays (so no new array appears where the
// other side has one of another length).
func genScalar(r *rand.Rand) any {
	for {
		v := genValue(r, 0)
		if _, isArr := v.([]any); !isArr {
			if _, isObj := v.(map[string]any); !isObj {
				return v
			}
		}
	}
}

func encode(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

func TestPropertyDiffOfItselfIsAMatch(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	rules := MustCompileRules(config.RouteShadow{})
	for i := 0; i < 2000; i++ {
		doc := encode(t, genValue(r, 4))
		got, err := DiffJSON(doc, doc, rules)
		require.NoError(t, err)
		require.Empty(t, got, "%s", doc)
		// Re-encoded with other key order and number forms: still a match.
		a, ok := decodeJSON(doc)
		require.True(t, ok)
		got, err = DiffJSON(doc, encode(t, a), rules)
		require.NoError(t, err)
		require.Empty(t, got, "%s", doc)
	}
}

// TestPropertyIgnoringAPathRemovesExactlyItsDifferences holds where no
// array changes length: there the alignment is index by index, and
// ignoring a path takes away exactly the differences under it. (Where
// lengths differ, ignored fields take part in aligning the elements —
// jsonalign.go — and TestPropertyIgnoredPathsNeverShow covers that case.)
func TestPropertyIgnoringAPathRemovesExactlyItsDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	checked := 0
	for i := 0; i < 3000; i++ {
		a := genValue(r, 4)
		b := mutateSameLengths(r, a)
		pa, pb := encode(t, a), encode(t, b)
		full, err := DiffJSON(pa, pb, nil)
		require.NoError(t, err)
		if len(full) == 0 {
			continue
		}
		// Pick a rule: a difference's exact path, its normalised form, or an
		// ancestor of it.
		pick := full[r.IntN(len(full))].Path
		segs, err := parseSegments(pick)
		require.NoError(t, err)
		var rule string
		switch r.IntN(3) {
		case 0:
			rule = pick
		case 1:
			rule = string(appendNormalizedPath(nil, segs))
		default:
			rule = string(appendPath(nil, segs[:r.IntN(len(segs)+1)]))
		}
		pat, err := ParsePath(rule)
		require.NoError(t, err)
		var want []Difference
		for _, x := range full {
			if !pat.Matches(x.Path) {
				want = append(want, x)
			}
		}
		got, err := DiffJSON(pa, pb, MustCompileRules(config.RouteShadow{IgnorePaths: []string{rule}}))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(toD(want)), fmt.Sprint(toD(got)), "rule %s\nprimary %s\ncandidate %s", rule, pa, pb)
		checked++
	}
	require.Greater(t, checked, 1000)
}

// TestPropertyDiffIsAntisymmetric: swapping the sides swaps added and
// removed and the two values, and finds the same differences. Paths are
// compared with indexes normalised ([*]), as fingerprints compare them: in
// an array whose length changed, a pair of elements is named by the
// primary's index, which is the other side's after the swap.
// TestPropertyIgnoredPathsNeverShow: whatever the documents, no difference
// under an ignored path is reported, and a document still matches itself.
func TestPropertyIgnoredPathsNeverShow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	checked := 0
	for i := 0; i < 3000; i++ {
		a := genValue(r, 4)
		b := mutate(r, a)
		pa, pb := encode(t, a), encode(t, b)
		full, err := DiffJSON(pa, pb, nil)
		require.NoError(t, err)
		if len(full) == 0 {
			continue
		}
		segs, err := parseSegments(full[r.IntN(len(full))].Path)
		require.NoError(t, err)
		rule := string(appendNormalizedPath(nil, segs[:r.IntN(len(segs)+1)]))
		rules := MustCompileRules(config.RouteShadow{IgnorePaths: []string{rule}})
		pat, err := ParsePath(rule)
		require.NoError(t, err)
		got, err := DiffJSON(pa, pb, rules)
		require.NoError(t, err)
		for _, x := range got {
			require.False(t, pat.Matches(x.Path), "rule %s still shows %s\nprimary %s\ncandidate %s", rule, x.Path, pa, pb)
		}
		self, err := DiffJSON(pa, pa, rules)
		require.NoError(t, err)
		require.Empty(t, self)
		checked++
	}
	require.Greater(t, checked, 1000)
}

func TestPropertyDiffIsAntisymmetric(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	flip := map[Kind]Kind{KindAdded: KindRemoved, KindRemoved: KindAdded, KindChanged: KindChanged, KindType: KindType}
	norm := func(d Difference, swap bool) string {
		segs, err := parseSegments(d.Path)
		require.NoError(t, err)
		k, p, c := d.Kind, string(d.Primary), string(d.Candidate)
		if swap {
			k, p, c = flip[k], c, p
		}
		return fmt.Sprintf("%s %s %s %s", appendNormalizedPath(nil, segs), k, p, c)
	}
	for i := 0; i < 2000; i++ {
		a := genValue(r, 4)
		b := mutate(r, a)
		ab, err := DiffJSON(encode(t, a), encode(t, b), nil)
		require.NoError(t, err)
		ba, err := DiffJSON(encode(t, b), encode(t, a), nil)
		require.NoError(t, err)
		require.Len(t, ba, len(ab))
		want, got := make([]string, len(ab)), make([]string, len(ba))
		for j := range ab {
			want[j], got[j] = norm(ab[j], false), norm(ba[j], true)
		}
		sort.Strings(want)
		sort.Strings(got)
		require.Equal(t, want, got, "primary %s\ncandidate %s", encode(t, a), encode(t, b))
	}
}

func FuzzDiff(f *testing.F) {
	seeds := [][2]string{
		{`{"a":1}`, `{"a":1.0}`},
		{`{"items":[{"id":1,"t":"x"}]}`, `{"items":[{"id":2,"t":"y"},{}]}`},
		{`[1,2,3]`, `[3,2,1]`},
		{`{"名前":"é"}`, `{"名前":null}`},
		{`12345678901234567890`, `12345678901234567891`},
		{`"x"`, `<html>`},
		{`{"a":{"b":{"c":[true,false,null]}}}`, `{"a":{"b":{"c":[false]}}}`},
		{`{"tags":["a","b"],"id":5}`, `{"tags":["b","a"],"id":6}`},
		{``, `{}`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	rules := MustCompileRules(config.RouteShadow{
		IgnorePaths:     []string{"$.id", "$..ts"},
		UnorderedArrays: []string{"$.tags", "$.items[*].tags"},
	})
	kinds := map[Kind]bool{KindChanged: true, KindAdded: true, KindRemoved: true, KindType: true}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		self, err := DiffJSON(a, a, rules)
		if err == nil && len(self) != 0 {
			t.Fatalf("diff(a, a) = %v for %q", self, a)
		}
		for _, rs := range []*Rules{nil, rules} {
			got, err := DiffJSON(a, b, rs)
			if err != nil {
				continue
			}
			for _, x := range got {
				if !kinds[x.Kind] {
					t.Fatalf("bad kind %q", x.Kind)
				}
				p, perr := ParsePath(x.Path)
				if perr != nil || p.String() != x.Path {
					t.Fatalf("path %q does not round trip: %v", x.Path, perr)
				}
				if x.Primary != nil && !json.Valid(x.Primary) || x.Candidate != nil && !json.Valid(x.Candidate) {
					t.Fatalf("invalid value in %+v", x)
				}
				if (x.Kind == KindAdded) != (x.Primary == nil) || (x.Kind == KindRemoved) != (x.Candidate == nil) {
					t.Fatalf("values do not fit the kind: %+v", x)
				}
			}
		}
		// The full comparison never fails on arbitrary bytes.
		if _, err := rules.Compare(Answer{Status: 200, Body: a}, Answer{Status: 200, Body: b}, CompareOptions{}); err != nil {
			t.Fatalf("compare: %v", err)
		}
	})
}
