package proxy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
)

// sevenCyclesRoutes is shaped like the first user's route map.
func sevenCyclesRoutes() []config.Route {
	return []config.Route{
		{Name: "qa", Paths: []string{"/api/qa", "/api/knowledge/"}},
		{Name: "affirmations", Paths: []string{"/api/affirmations"}},
		{Name: "publish", Paths: []string{"/api/posts/{id}/publish"}, Methods: []string{"post"}},
		{Name: "instagram", Paths: []string{"/api/instagram/posts/{id}", "/api/instagram"}, Methods: []string{"GET", "PUT"}},
		{Name: "admin", Paths: []string{"/api/admin"}},
		{Name: "default", Paths: []string{"/"}},
	}
}

func TestRouteMatchTable(t *testing.T) {
	table, err := compileRoutes(sevenCyclesRoutes())
	require.NoError(t, err)

	cases := []struct {
		method, path string
		route        string // "" = no route; "!" = refused as ambiguous/invalid
		params       []Param
	}{
		{"GET", "/api/qa", "qa", nil},
		{"GET", "/api/qa/", "qa", nil},
		{"GET", "/api/qa/stream", "qa", nil},
		{"GET", "/api/qab", "default", nil},
		{"GET", "/api/knowledge", "qa", nil},
		{"GET", "/api/knowledge/doc/1", "qa", nil},
		{"GET", "/api/knowledgebase", "default", nil},
		{"POST", "/api/posts/42/publish", "publish", []Param{{"id", "42"}}},
		{"POST", "/api/posts/42/publish/now", "publish", []Param{{"id", "42"}}},
		{"GET", "/api/posts/42/publish", "default", nil},
		{"POST", "/api/posts//publish", "default", nil}, // empty id; merged it has no id either
		{"POST", "/api/posts/42/unpublish", "default", nil},
		{"post", "/api/posts/42/publish", "default", nil}, // methods are case-sensitive
		{"HEAD", "/api/instagram/posts/7", "instagram", []Param{{"id", "7"}}},
		{"PUT", "/api/instagram/posts/7", "instagram", []Param{{"id", "7"}}},
		{"DELETE", "/api/instagram/posts/7", "default", nil},
		{"GET", "/api/instagram", "instagram", nil},
		{"GET", "/api/posts/%34%32/publish", "default", nil},
		{"POST", "/api/posts/%34%32/publish", "publish", []Param{{"id", "42"}}},
		{"POST", "/api/posts/a%2Fb/publish", "!", nil}, // id "a/b" vs four segments
		{"GET", "/", "default", nil},
		{"GET", "/anything/else", "default", nil},
		{"GET", "*", "", nil},
		{"GET", "", "", nil},

		// Tricks: each would classify the request as "default" under one
		// reading while an upstream reads it as "admin".
		{"GET", "/api%2Fadmin", "!", nil},
		{"GET", "/api%2fadmin/users", "!", nil},
		{"GET", "/api/admin%2F..%2F..%2Fx", "!", nil},
		{"GET", "/api/x/../admin", "!", nil},
		{"GET", "/api/x/%2e%2e/admin", "!", nil},
		{"GET", "/api/x/.%2E/admin", "!", nil},
		{"GET", "//api/admin", "!", nil},
		{"GET", "/api//admin", "!", nil},
		{"GET", "/api/./admin", "!", nil},
		{"GET", "/api;a=b/admin", "!", nil},
		{"GET", "/api/admin;x", "!", nil},
		{"GET", "/api/%61dmin", "admin", nil},
		{"GET", "/api/admin/..", "!", nil},
		{"GET", "/api/admin/../..", "!", nil},
		{"GET", "/../api/admin", "!", nil},
		{"GET", "/api/admin%00", "default", nil},

		// Unambiguous despite the odd characters.
		{"GET", "/api/admin/a%2Fb", "admin", nil},
		{"GET", "/api/admin/./x", "admin", nil},
		{"GET", "/api/admin//x", "admin", nil},
		{"GET", "/static/a%2F..%2F..%2Fb", "default", nil},
		{"GET", "/static/x;y", "default", nil},

		// Malformed escapes.
		{"GET", "/api/%zz", "!", nil},
		{"GET", "/api/%4", "!", nil},
		{"GET", "/api/%", "!", nil},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var sc matchScratch
			r, params, err := table.match(tc.method, tc.path, &sc)
			switch tc.route {
			case "!":
				assert.Error(t, err)
				assert.Nil(t, r)
			case "":
				require.NoError(t, err)
				assert.Nil(t, r)
			default:
				require.NoError(t, err)
				require.NotNil(t, r)
				assert.Equal(t, tc.route, r.Name)
				if tc.params == nil {
					assert.Empty(t, params)
				} else {
					assert.Equal(t, tc.params, params)
				}
			}
		})
	}
}

func TestRouteFirstMatchWins(t *testing.T) {
	table, err := compileRoutes([]config.Route{
		{Name: "first", Paths: []string{"/api"}},
		{Name: "second", Paths: []string{"/api/qa"}},
		{Name: "default", Paths: []string{"/"}},
	})
	require.NoError(t, err)
	var sc matchScratch
	r, _, err := table.match("GET", "/api/qa", &sc)
	require.NoError(t, err)
	assert.Equal(t, "first", r.Name)
	assert.Equal(t, 0, r.Index)
}

func TestCompileRoutesRejectsHostilePatterns(t *testing.T) {
	for _, p := range []string{
		"", "api", "/a//b", "/a/./b", "/a/../b", "/a/{}", "/a/{1x}", "/a/{x-y}", "/a/x{id}", "/a/{id}x",
		"/a/{id}/{id}", "/a?x=1", "/a#f", "/a/%zz", "/a/b%2Fc", "/a/%2e%2e",
	} {
		t.Run(p, func(t *testing.T) {
			_, err := compileRoutes([]config.Route{{Name: "r", Paths: []string{p}}})
			assert.Error(t, err)
		})
	}
	_, err := compileRoutes(nil)
	assert.Error(t, err)
	_, err = compileRoutes([]config.Route{{Name: "r", Paths: []string{"/"}, Methods: []string{"GET POST"}}})
	assert.Error(t, err)
}

func TestInterpretationsFastPathAllocatesNothing(t *testing.T) {
	var sc matchScratch
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = interpretations("/api/instagram/posts/123/comments", sc.cands[:0])
	})
	assert.Zero(t, allocs)
	table, err := compileRoutes(sevenCyclesRoutes())
	require.NoError(t, err)
	allocs = testing.AllocsPerRun(100, func() {
		_, _, _ = table.match("POST", "/api/posts/42/publish", &sc)
	})
	assert.Zero(t, allocs)
}

func TestInterpretationsTable(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"/plain/path", []string{"/plain/path"}},
		{"/a%2Fb", []string{"/a/b", "/a%2F" + "b"}},
		{"/a/../b", []string{"/b", "/a/../b"}},
		{"/a;x/b", []string{"/a;x/b", "/a/b"}},
		{"/%61", []string{"/a"}},
		{"/a/", []string{"/a/"}},
		{"//a", []string{"/a", "//a"}},
	}
	for _, tc := range cases {
		got, err := interpretations(tc.in, nil)
		require.NoError(t, err)
		assert.Equal(t, tc.want[0], got[0], "canonical reading of %q", tc.in)
		assert.ElementsMatch(t, tc.want, got, "readings of %q", tc.in)
	}
}

// FuzzRouteMatch checks, for any path, that matching never panics, that a
// match is stable, that every reading agrees with the route returned, and
// that the canonical reading cannot escape the root.
func FuzzRouteMatch(f *testing.F) {
	for _, s := range []string{
		"/", "/api/qa", "/api%2Fadmin", "/api/x/../admin", "//api/admin", "/api;a/admin",
		"/api/posts/1/publish", "/api/posts/a%2Fb/publish", "/%2e%2e/%2e%2e/etc/passwd", "*", "",
		"/api/%zz", "/a/./b/../../c/", "/\x00/%00", "/api/knowledge/%2F%2F",
	} {
		f.Add("GET", s)
		f.Add("POST", s)
	}
	table, err := compileRoutes(sevenCyclesRoutes())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, p string) {
		var sc matchScratch
		r, params, err := table.match(method, p, &sc)
		cands, cerr := interpretations(p, nil)
		if cerr != nil {
			if err == nil {
				t.Fatalf("match accepted %q that interpretations refused: %v", p, cerr)
			}
			return
		}
		if len(cands) == 0 || len(cands) > maxInterpretations {
			t.Fatalf("%d readings for %q", len(cands), p)
		}
		if strings.HasPrefix(p, "/") && !strings.HasPrefix(cands[0], "/") {
			t.Fatalf("canonical reading %q of %q escaped the root", cands[0], p)
		}
		if strings.HasPrefix(p, "/") && needsNormalizing(cands[0]) {
			t.Fatalf("canonical reading %q keeps a dot segment or an empty segment", cands[0])
		}
		if err != nil {
			return
		}
		for _, c := range cands {
			other, _ := table.matchPath(method, c, nil)
			if other != r {
				t.Fatalf("reading %q of %q selects %v, match returned %v", c, p, name(other), name(r))
			}
		}
		for _, prm := range params {
			if prm.Value == "" || strings.Contains(prm.Value, "/") {
				t.Fatalf("parameter %+v of %q is not one non-empty segment", prm, p)
			}
		}
		var sc2 matchScratch
		r2, _, err2 := table.match(method, p, &sc2)
		if r2 != r || err2 != nil {
			t.Fatalf("match of %q is not stable", p)
		}
	})
}

func name(r *Route) string {
	if r == nil {
		return "<none>"
	}
	return r.Name
}
