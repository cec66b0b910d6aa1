package shadow

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

func TestParsePathValid(t *testing.T) {
	for _, tc := range []struct{ in, canonical string }{
		{"$", "$"},
		{"  $.a  ", "$.a"},
		{"$.items[*].id", "$.items[*].id"},
		{"$.items.*.id", "$.items[*].id"},
		{"$.items[3].title", "$.items[3].title"},
		{`$["a.b"]`, `$["a.b"]`},
		{`$['a.b']`, `$["a.b"]`},
		{`$['it\'s']`, `$["it's"]`},
		{`$["a"]`, "$.a"},
		{`$["\u0041"]`, "$.A"},
		{`$["*"]`, `$["*"]`},
		{`$[""]`, `$[""]`},
		{"$.名前", "$.名前"},
		{"$.created-at", `$["created-at"]`},
		{"$..updated_at", "$..updated_at"},
		{"$..[*]", "$..[*]"},
		{"$..*", "$..[*]"},
		{`$..["a b"]`, `$..["a b"]`},
		{"$..[0]", "$..[0]"},
		{"$[0][1][2]", "$[0][1][2]"},
		{"$._x1", "$._x1"},
		{`$["\n"]`, `$["\n"]`},
	} {
		p, err := ParsePath(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.canonical, p.String(), tc.in)
		again, err := ParsePath(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, again, "round trip of %q", tc.in)
	}
}

func TestParsePathHostile(t *testing.T) {
	for _, in := range []string{
		"", " ", "a", ".a", "$a", "$.", "$..", "$...", "$....a", "$.a.", "$[", "$[]", "$[*", "$[*x]", "$[1", "$[01]",
		"$[-1]", "$[1.5]", "$[99999999999999999999]", "$[2147483648]", `$["a]`, `$["a"`, `$['a]`, `$["\x"]`,
		`$['\x']`, "$.1a", "$.a b", "$.a\x00", "$\xff", "$.\xff", `$["\ud800"x]`, "$[ 1 ]", "$[a]", "$.a[*]]",
		"$" + strings.Repeat(".a", maxPathLen), "$.@", "$.$", "$[?(@.a)]", "$.a..", "$.a[*][", `$["a"]x`,
	} {
		_, err := ParsePath(in)
		require.Error(t, err, "%q", in)
		assert.ErrorIs(t, err, ErrInvalidPath)
	}
}

func TestPatternMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"$", "$.a", true},
		{"$.a", "$.a", true},
		{"$.a", "$.a.b[2]", true},
		{"$.a", "$.ab", false},
		{"$.a.b", "$.a", false},
		{"$.items[*].id", "$.items[3].id", true},
		{"$.items[*].id", "$.items.x.id", true},
		{"$.items[3].id", "$.items[4].id", false},
		{"$..id", "$.a[2].b.id", true},
		{"$..id", "$.id", true},
		{"$..id", "$.a.idx", false},
		{"$.a..c", "$.a.b.c", true},
		{"$.a..c", "$.b.c", false},
		{`$["a.b"]`, `$["a.b"].c`, true},
		{`$["a.b"]`, "$.a.b", false},
		{"$[0]", `$["0"]`, false},
	} {
		p, err := ParsePath(tc.pattern)
		require.NoError(t, err)
		assert.Equal(t, tc.want, p.Matches(tc.path), "%s ~ %s", tc.pattern, tc.path)
	}
}

func TestNormalizePath(t *testing.T) {
	assert.Equal(t, "$.items[*].tags[*]", NormalizePath("$.items[12].tags[0]"))
	assert.Equal(t, `$["a.b"][*]`, NormalizePath(`$["a.b"][3]`))
	assert.Equal(t, "header:Etag", NormalizePath("header:Etag"))
	assert.Equal(t, "status", NormalizePath("status"))
}

func TestCompileRulesReportsEveryProblem(t *testing.T) {
	_, err := CompileRules(config.RouteShadow{
		IgnorePaths:     []string{"$.ok", "bad", "$[x]"},
		UnorderedArrays: []string{"$.."},
		IgnoreHeaders:   []string{"x-ok", ""},
	})
	require.Error(t, err)
	for _, want := range []string{"ignore_paths[1]", "ignore_paths[2]", "unordered_arrays[0]", "ignore_headers[1]"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "ignore_paths[0]")
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"$", "$.a", "$.items[*].id", `$["a.b"]`, `$['x']`, "$..a", "$..[*]", "$[0][12]", `$["\u00e9\n"]`, "$.名前"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		canon := p.String()
		q, err := ParsePath(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if q.String() != canon {
			t.Fatalf("canonical form not stable: %q → %q → %q", s, canon, q.String())
		}
		// Patterns without descendant or wildcard segments are concrete paths:
		// they match themselves.
		concrete := true
		for _, sg := range p.segs {
			if sg.kind == segWildcard || sg.kind == segDescendant {
				concrete = false
			}
		}
		if concrete && !p.Matches(canon) {
			t.Fatalf("%q does not match itself", canon)
		}
	})
}
