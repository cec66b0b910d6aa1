package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/internal/app"
	"github.com/7cycles-ai/strangler/tenancy"
)

const viewsAdminToken = "views-admin-token-0123456789abcdef0123456789"

// viewsApp is a real application (memory store) whose admin and public
// handlers are served by httptest servers.
type viewsApp struct {
	app    *app.App
	admin  string
	public string
	keys   []tenancy.SeededAPIKey
}

func startViewsApp(t *testing.T) *viewsApp {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(upstream.Close)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
server: { listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0" }
store: { driver: memory }
upstreams:
  legacy: { url: %q }
auth:
  issuer: { enabled: true, issuer: "https://strangler.test" }
tenancy: { default_org: legacy }
routes:
  - { name: default, paths: ["/"], auth: optional }
admin: { bootstrap_token: %q }
`, upstream.URL, viewsAdminToken)), func(string) string { return "" })
	require.NoError(t, err)
	seed, err := tenancy.ParseSeed([]byte(`
orgs:
  - { slug: acme, name: "Acme Inc", projects: [{ slug: web, name: Web }] }
  - { slug: legacy, name: "Legacy" }
users:
  - { email: alice@acme.test, password: "correct horse battery", memberships: [{ org: acme, role: owner }] }
  - { email: bob@acme.test, password: "correct horse battery", memberships: [{ org: acme, role: viewer }] }
api_keys:
  - { org: acme, name: ci, role: member, scopes: [read] }
  - { org: acme, project: web, name: deploy, role: member, scopes: [read, write] }
`))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Seed: &seed})
	require.NoError(t, err)
	require.NoError(t, a.Start(ctx))
	admin := httptest.NewServer(a.Server.AdminHandler())
	public := httptest.NewServer(a.Server.Handler())
	t.Cleanup(func() {
		admin.Close()
		public.Close()
		cancel()
		a.Close(context.Background())
	})
	require.Len(t, a.Seeded.APIKeys, 2)
	return &viewsApp{app: a, admin: admin.URL, public: public.URL, keys: a.Seeded.APIKeys}
}

// status sends GET / to the public listener with an API key.
func (v *viewsApp) status(t *testing.T, key string) int {
	t.Helper()
	req, err := http.NewRequest("GET", v.public+"/", nil)
	require.NoError(t, err)
	req.Header.Set("X-API-Key", key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	return res.StatusCode
}

// TestAdminViewsBinary runs orgs, keys and audit as an operator does: the
// built binary against a real application's admin API.
func TestAdminViewsBinary(t *testing.T) {
	v := startViewsApp(t)
	env := []string{envAdminURL + "=" + v.admin, envAdminToken + "=" + viewsAdminToken}
	ci, deploy := v.keys[0], v.keys[1]
	if ci.Name != "ci" {
		ci, deploy = deploy, ci
	}

	// orgs list: table and json.
	r := runBinary(t, env, "orgs", "list")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^SLUG\s+NAME\s+ID\s+CREATED\n`, r.stdout)
	assert.Regexp(t, `(?m)^acme\s+Acme Inc\s+[0-9a-f-]{36}\s+\d{4}-\d\d-\d\d `, r.stdout)
	assert.Regexp(t, `(?m)^legacy\s+Legacy\s+`, r.stdout)
	assert.Empty(t, r.stderr)
	r = runBinary(t, env, "orgs", "list", "--format", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var l orgList
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &l), r.stdout)
	require.Len(t, l.Orgs, 2)
	assert.Equal(t, "acme", l.Orgs[0].Slug)
	acmeID := l.Orgs[0].ID
	r = runBinary(t, env, "orgs", "list", "--limit", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(more may follow: --after acme)")
	assert.NotContains(t, r.stdout, "legacy")
	r = runBinary(t, env, "orgs", "list", "--limit", "1", "--after", "acme")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "legacy")

	// orgs show: by slug and id; keys by prefix, never a secret.
	r = runBinary(t, env, "orgs", "show", "acme")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "org acme (Acme Inc)\n  id:       "+acmeID+"\n")
	assert.Contains(t, r.stdout, "  members:  2\n")
	assert.Contains(t, r.stdout, "projects: 1\n")
	assert.Regexp(t, `(?m)^  web\s+Web\s+`, r.stdout)
	assert.Contains(t, r.stdout, "api keys: 2 (2 active)\n")
	assert.Regexp(t, `(?m)^  `+ci.Prefix+`\s+ci\s+member\s+read\s+-\s+active\s+`, r.stdout)
	assert.Regexp(t, `(?m)^  `+deploy.Prefix+`\s+deploy\s+member\s+read,write\s+web\s+active\s+`, r.stdout)
	assert.NotContains(t, r.stdout, ci.Key)
	r = runBinary(t, env, "orgs", "show", acmeID, "--format", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var d orgDetail
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &d), r.stdout)
	assert.Equal(t, "acme", d.Org.Slug)
	assert.Equal(t, 2, d.MemberCount)
	assert.Len(t, d.APIKeys, 2)
	assert.NotContains(t, r.stdout, ci.Key)
	r = runBinary(t, env, "orgs", "show", "globex")
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^strangler: orgs show: org: no such organization \(404 not_found\), request id \S+\n$`, r.stderr, "the request id lets ops find the server's log line")
	assert.Empty(t, r.stdout)

	// keys list.
	r = runBinary(t, env, "keys", "list", "--org", "acme")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "api keys of acme: 2 (2 active)\n")
	assert.Regexp(t, `(?m)^PREFIX\s+NAME\s+ROLE\s+SCOPES\s+PROJECT\s+STATUS\s+CREATED\s+LAST USED\s+EXPIRES\s+ID$`, r.stdout)
	assert.Regexp(t, `(?m)^`+deploy.Prefix+`\s+deploy\s+member\s+read,write\s+web\s+active`, r.stdout)
	r = runBinary(t, env, "keys", "list", "--org", "acme", "--format", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var kl keyList
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &kl), r.stdout)
	require.Len(t, kl.APIKeys, 2)
	ids := map[string]string{}
	for _, k := range kl.APIKeys {
		ids[k.Prefix] = k.ID
	}

	// keys revoke by prefix: the key is refused by the proxy within 1 s.
	require.Equal(t, http.StatusOK, v.status(t, ci.Key))
	r = runBinary(t, env, "keys", "revoke", "--org", "acme", ci.Prefix, "--reason", "leaked in a CI log")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `^revoked key `+ci.Prefix+` \(ci, id `+ids[ci.Prefix]+`\) at \S+ \S+: every replica refuses it within a second \(reason: leaked in a CI log\)\n$`, r.stdout)
	assert.Eventually(t, func() bool { return v.status(t, ci.Key) == http.StatusUnauthorized },
		time.Second, 10*time.Millisecond, "a revoked key is refused within 1 s")
	r = runBinary(t, env, "keys", "revoke", "--org", "acme", ids[ci.Prefix], "--reason", "again")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "was already revoked at")
	assert.Contains(t, r.stdout, "nothing changed")

	// A whole key is cut to its prefix before anything is sent.
	r = runBinary(t, append(env, "STRANGLER_ADMIN_TOKEN="), "keys", "revoke", "--org", "acme", deploy.Key,
		"--reason", "offboarding", "--token", viewsAdminToken, "--format", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var rv keyRevocation
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rv), r.stdout)
	assert.Equal(t, deploy.Prefix, rv.APIKey.Prefix)
	assert.False(t, rv.AlreadyRevoked)
	assert.NotContains(t, r.stdout, deploy.Key)

	// audit: the revocations with actor and reason.
	r = runBinary(t, env, "audit", "--org", "acme", "--action", "api_key.revoke", "--since", "1h")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, `(?m)^AT\s+ORG\s+ACTOR\s+ACTION\s+TARGET\s+REASON$`, r.stdout)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, r.stdout)
	assert.Regexp(t, `acme\s+admin:bootstrap-token\s+api_key.revoke\s+api_key:`+ids[deploy.Prefix]+`\s+offboarding$`, lines[1], "newest first")
	assert.Regexp(t, `acme\s+admin:bootstrap-token\s+api_key.revoke\s+api_key:`+ids[ci.Prefix]+`\s+leaked in a CI log$`, lines[2])
	r = runBinary(t, env, "audit", "--actor", "admin:bootstrap-token", "--limit", "1", "--format", "json")
	require.Equal(t, 0, r.code, r.stderr)
	var page tenancy.AuditPage
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &page), r.stdout)
	require.Len(t, page.Entries, 1)
	assert.Equal(t, "offboarding", page.Entries[0].Reason)
	assert.Contains(t, string(page.Entries[0].After), "revoked_at")
	require.NotEmpty(t, page.NextCursor)
	r = runBinary(t, env, "audit", "--actor", "admin:bootstrap-token", "--limit", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(older entries exist: add --cursor "+page.NextCursor+")\n")
	r = runBinary(t, env, "audit", "--actor", "admin:bootstrap-token", "--cursor", page.NextCursor, "--limit", "1")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "leaked in a CI log")
	r = runBinary(t, env, "audit", "--org", "legacy")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "no audit entries match\n", r.stdout)
}

// TestAdminViewsBinaryErrors: usage errors exit 2 before any call, API and
// network errors exit 1, each with one line.
func TestAdminViewsBinaryErrors(t *testing.T) {
	v := startViewsApp(t)
	env := []string{envAdminURL + "=" + v.admin, envAdminToken + "=" + viewsAdminToken}
	usage := []struct {
		args []string
		want string
	}{
		{[]string{"orgs"}, "strangler: orgs: missing subcommand: list or show"},
		{[]string{"orgs", "list", "--limit", "0"}, "strangler: orgs list: --limit must be from 1 to 500, got 0"},
		{[]string{"orgs", "list", "--format", "xml"}, `strangler: orgs list: --format must be table or json, got "xml"`},
		{[]string{"orgs", "show"}, "strangler: orgs show: missing ORG (usage: strangler orgs show ORG [--format table|json])"},
		{[]string{"orgs", "show", "a/b"}, `strangler: orgs show: ORG "a/b" is not an organization id or slug`},
		{[]string{"keys", "list"}, "strangler: keys list: --org is required (an organization id or slug)"},
		{[]string{"keys", "revoke", "--org", "acme", "sk_live_AAAAAAAAAAAA"}, "strangler: keys revoke: --reason is required: say why, it goes into the audit history"},
		{[]string{"keys", "revoke", "--org", "acme", "nope", "--reason", "x"}, `strangler: keys revoke: "nope" is not an API key ID or prefix (as keys list shows them: an id, or sk_live_ and 12 characters)`},
		{[]string{"keys", "revoke", "--reason", "x", "sk_live_AAAAAAAAAAAA"}, "strangler: keys revoke: --org is required (an organization id or slug)"},
		{[]string{"keys", "revoke", "--org", "acme", "--reason", "x"}, "strangler: keys revoke: missing KEY_ID (usage: strangler keys revoke --org ORG KEY_ID --reason TEXT)"},
		{[]string{"audit", "--since", "yesterday"}, "strangler: audit: --since "},
		{[]string{"audit", "--limit", "501"}, "strangler: audit: --limit must be from 1 to 500, got 501"},
		{[]string{"audit", "--cursor", "x"}, `strangler: audit: --cursor must be the next cursor a previous page printed, got "x"`},
		{[]string{"audit", "extra"}, `strangler: audit: unexpected argument "extra" (see strangler audit --help)`},
		{[]string{"audit", "--bogus"}, "strangler: audit: unknown flag: --bogus (see strangler audit --help)"},
	}
	for _, c := range usage {
		r := runBinary(t, env, c.args...)
		assert.Equal(t, 2, r.code, "%q: %s", c.args, r.stderr)
		assert.True(t, strings.HasPrefix(r.stderr, c.want), "%q: %s", c.args, r.stderr)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "%q: one line: %s", c.args, r.stderr)
		assert.Empty(t, r.stdout, "%q", c.args)
	}

	// No token, a wrong one, a non-admin user's.
	for _, tokenEnv := range []string{envAdminToken + "=", envAdminToken + "=wrong"} {
		r := runBinary(t, []string{envAdminURL + "=" + v.admin, tokenEnv}, "orgs", "list")
		assert.Equal(t, 1, r.code)
		assert.Equal(t, "strangler: orgs list: admin API refused the token: set --token or STRANGLER_ADMIN_TOKEN\n", r.stderr)
	}
	bob := viewsLogin(t, v.public, "bob@acme.test")
	r := runBinary(t, []string{envAdminURL + "=" + v.admin}, "audit", "--token", bob)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "strangler: audit: admin API refused the token: admin API: platform admins only\n", r.stderr)

	// What only the server knows: an unknown key or org exits 1.
	r = runBinary(t, env, "keys", "revoke", "--org", "acme", "--reason", "x", "00000000-0000-4000-8000-000000000000")
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^strangler: keys revoke: api key: no such key in organization acme \(404 not_found\), request id \S+\n$`, r.stderr, "the request id lets ops find the server's log line")
	r = runBinary(t, env, "audit", "--org", "globex")
	assert.Equal(t, 1, r.code)
	assert.Regexp(t, `^strangler: audit: org: no such organization \(404 not_found\), request id \S+\n$`, r.stderr, "the request id lets ops find the server's log line")

	// Nothing listening; not an admin API.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	r = runBinary(t, []string{envAdminURL + "=" + closed, envAdminToken + "=x"}, "keys", "list", "--org", "acme")
	assert.Equal(t, 1, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "strangler: keys list: cannot reach the admin API at "+closed+": "), r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	r = runBinary(t, []string{envAdminToken + "=x"}, "orgs", "list", "--admin-url", v.public)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	r = runBinary(t, []string{envAdminToken + "=x"}, "orgs", "list", "--admin-url", "ftp://x")
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "strangler: orgs list: admin URL \"ftp://x\": want http(s)://host:port\n", r.stderr)

	// Help with examples.
	for _, args := range [][]string{{"orgs", "list"}, {"orgs", "show"}, {"keys", "list"}, {"keys", "revoke"}, {"audit"}} {
		r := runBinary(t, nil, append(args, "--help")...)
		assert.Equal(t, 0, r.code, "%q", args)
		assert.Contains(t, r.stdout, "Examples:", "%q", args)
		assert.Contains(t, r.stdout, "--admin-url", "%q", args)
		assert.Contains(t, r.stdout, "--token", "%q", args)
	}
}

// viewsLogin returns an access token of the built-in issuer.
func viewsLogin(t *testing.T, public, email string) string {
	t.Helper()
	res, err := http.Post(public+"/auth/login", "application/json",
		strings.NewReader(`{"email":"`+email+`","password":"correct horse battery"}`))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&tok))
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}
