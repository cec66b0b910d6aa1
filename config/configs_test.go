package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// shippedEnv is what an operator of the shipped configurations provides.
func shippedEnv(k string) string {
	return map[string]string{
		"SUPABASE_PROJECT_REF":   "abcdefghijklmnop",
		"SUPABASE_JWT_SECRET":    "super-secret-jwt-token-with-at-least-32-characters-long",
		"STRANGLER_DATABASE_URL": "postgres://strangler_app@127.0.0.1:5432/strangler?sslmode=disable",
		"STRANGLER_ADMIN_TOKEN":  "0123456789abcdef0123456789abcdef",
	}[k]
}

func TestShippedConfigsAreValid(t *testing.T) {
	for _, name := range []string{"../configs/strangler.example.yaml", "../configs/7cycles.yaml"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(name)
			require.NoError(t, err)
			_, err = Parse(data, shippedEnv)
			require.NoError(t, err)
		})
	}
}

func TestSevenCyclesRouteMap(t *testing.T) {
	data, err := os.ReadFile("../configs/7cycles.yaml")
	require.NoError(t, err)
	cfg, err := Parse(data, shippedEnv)
	require.NoError(t, err)

	var names []string
	for _, r := range cfg.Routes {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"qa", "affirmations", "content-strategy", "instagram", "visual-posts", "video", "default"}, names)
	assert.Equal(t, []string{"/api/qa", "/api/knowledge/"}, cfg.Routes[0].Paths)
	assert.Equal(t, []string{"/"}, cfg.Routes[len(cfg.Routes)-1].Paths)
	assert.Equal(t, []string{"Date", "X-Request-ID", "Server"}, cfg.Routes[1].Shadow.IgnoreHeaders, "anchors resolve")

	require.Len(t, cfg.Auth.JWT, 1)
	sb := cfg.Auth.JWT[0]
	assert.Equal(t, "https://abcdefghijklmnop.supabase.co/auth/v1", sb.Issuer)
	assert.Equal(t, []string{"authenticated"}, sb.Audiences)
	assert.Equal(t, []string{"HS256"}, sb.Algorithms)
	assert.Equal(t, shippedEnv("SUPABASE_JWT_SECRET"), sb.Secret)
	var warned []string
	for _, w := range Warnings(cfg) {
		warned = append(warned, w.Path)
	}
	assert.Equal(t, []string{"routes[0].shadow.unsafe_methods"}, warned, "only the deliberate choice is flagged")

	// Without the environment it names exactly what is missing.
	_, err = Parse(data, nil)
	probs := problemStrings(t, err)
	joined := strings.Join(probs, "\n")
	assert.Contains(t, joined, "auth.jwt[0].issuer: environment variable SUPABASE_PROJECT_REF is not set")
	assert.Contains(t, joined, "auth.jwt[0].secret: environment variable SUPABASE_JWT_SECRET is not set")
	assert.Contains(t, joined, "store.database_url: is required when store.driver is postgres (environment variable STRANGLER_DATABASE_URL is not set)")
	assert.Len(t, probs, 3)
}

// TestExampleDocumentsEveryKey keeps configs/strangler.example.yaml in step
// with the Config struct: every key of the struct appears in the example.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../configs/strangler.example.yaml")
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc))
	documented := map[string]bool{}
	collectDocPaths("", doc.Content[0], documented)

	var missing []string
	for _, p := range typePaths("", reflect.TypeFor[Config]()) {
		if !documented[p] {
			missing = append(missing, p)
		}
	}
	assert.Empty(t, missing, "keys of config.Config missing from configs/strangler.example.yaml")
}

func collectDocPaths(path string, n *yaml.Node, out map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			out[p] = true
			collectDocPaths(p, n.Content[i+1], out)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			collectDocPaths(path+"[*]", item, out)
		}
	}
}

// typePaths lists every key path of a config type; lists of structs use
// [*]; maps stop at the map's own key.
func typePaths(path string, t reflect.Type) []string {
	var out []string
	for name, idx := range structFields(t) {
		p := name
		if path != "" {
			p = path + "." + name
		}
		out = append(out, p)
		ft := t.Field(idx).Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && !reflect.PointerTo(ft).Implements(unmarshalerType):
			out = append(out, typePaths(p, ft)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, typePaths(p+"[*]", ft.Elem())...)
		}
	}
	return out
}
