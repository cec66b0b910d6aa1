package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// minimal is the smallest valid configuration: the two backends.
const minimal = `
upstreams:
  legacy: { url: "http://127.0.0.1:8000" }
  new:    { url: "http://127.0.0.1:8001" }
`

func noEnv(string) string { return "" }

// problemStrings returns the rendered problems of an *Error.
func problemStrings(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	var cerr *Error
	require.True(t, errors.As(err, &cerr), "want *config.Error, got %T: %v", err, err)
	require.NotEmpty(t, cerr.Problems)
	out := make([]string, len(cerr.Problems))
	for i, p := range cerr.Problems {
		out[i] = p.String()
	}
	return out
}

func TestParseMinimalGetsDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal), noEnv)
	require.NoError(t, err)
	assert.Equal(t, ":8080", cfg.Server.Listen)
	assert.Equal(t, "127.0.0.1:9090", cfg.Server.AdminListen)
	assert.Equal(t, 30*time.Second, cfg.Server.ShutdownGrace.D())
	assert.Equal(t, int64(1<<20), cfg.Server.MaxHeaderBytes.Int64())
	assert.Equal(t, "memory", cfg.Store.Driver)
	assert.Equal(t, 60*time.Second, cfg.Upstreams.Legacy.Timeout.D())
	assert.Equal(t, 128, cfg.Upstreams.New.MaxIdleConnsPerHost)
	assert.Equal(t, []string{"X-API-Key"}, cfg.Auth.APIKeys.Headers)
	assert.Equal(t, DefaultRoles(), cfg.Tenancy.Roles)
	assert.Equal(t, "legacy", cfg.Tenancy.DefaultOrg)
	require.Len(t, cfg.Routes, 1, "no route table means one catch-all route")
	assert.Equal(t, "default", cfg.Routes[0].Name)
	assert.Equal(t, []string{"/"}, cfg.Routes[0].Paths)
	require.NotNil(t, cfg.Routes[0].Shadow.SampleRate)
	assert.Equal(t, 1.0, *cfg.Routes[0].Shadow.SampleRate)
	assert.Equal(t, 8, cfg.Shadow.Workers)
	assert.Equal(t, 0.999, cfg.Shadow.Readiness.MinMatchRate)
	assert.Equal(t, "store", cfg.Flags.Provider)
}

func TestDefaultIsValidOnceBackendsAreSet(t *testing.T) {
	cfg := Default()
	cfg.Upstreams.Legacy.URL = "http://127.0.0.1:1"
	cfg.Upstreams.New.URL = "http://127.0.0.1:2"
	cfg.Routes = append([]Route{{Name: "qa", Paths: []string{"/api/qa"}, Auth: AuthRequired, Permission: "agents.run"}}, cfg.Routes...)
	ApplyDefaults(cfg)
	require.NoError(t, Validate(cfg))
	require.NotNil(t, cfg.Routes[0].Shadow.SampleRate)
	// Default returns fresh values: changing one does not change the next.
	cfg.Tenancy.Roles["viewer"] = nil
	assert.Equal(t, []string{"read"}, Default().Tenancy.Roles["viewer"])
}

func TestExplicitValuesReplaceDefaults(t *testing.T) {
	cfg, err := Parse([]byte(minimal+`
shadow:
  redact_headers: []          # explicit empty list: no redaction
  readiness: { max_error_rate: 0, min_match_rate: 1 }
tenancy:
  roles:
    viewer: [read, reports.read]
auth:
  api_keys: { headers: ~ }    # null keeps the default
`), noEnv)
	require.NoError(t, err)
	assert.Empty(t, cfg.Shadow.RedactHeaders)
	assert.NotNil(t, cfg.Shadow.RedactHeaders, "an explicit [] is kept, not replaced by the default")
	assert.Equal(t, 0.0, cfg.Shadow.Readiness.MaxErrorRate)
	assert.Equal(t, 1.0, cfg.Shadow.Readiness.MinMatchRate)
	assert.Equal(t, 1000, cfg.Shadow.Readiness.MinComparisons, "siblings keep their defaults")
	assert.Equal(t, []string{"read", "reports.read"}, cfg.Tenancy.Roles["viewer"])
	assert.Equal(t, DefaultRoles()["owner"], cfg.Tenancy.Roles["owner"], "roles not listed keep their defaults")
	assert.Equal(t, []string{"X-API-Key"}, cfg.Auth.APIKeys.Headers)
}

func TestParseEnvExpansion(t *testing.T) {
	env := map[string]string{
		"LEGACY_URL":     "http://legacy:8000",
		"SECRET":         strings.Repeat("s", 40),
		"REF":            "abcd",
		"GRACE":          "45s",
		"WORKERS":        "3",
		"DEBUG":          "true",
		"STRANGLER_SIZE": "2MiB",
	}
	cfg, err := Parse([]byte(`
server:
  shutdown_grace: ${GRACE}
  debug_headers: ${DEBUG}
upstreams:
  legacy: { url: "${LEGACY_URL}" }
  new:    { url: "${NEW_URL:-http://new:8001}" }
store:
  database_url: ${STRANGLER_DATABASE_URL}   # unset is fine: memory store
auth:
  jwt:
    - name: supabase
      issuer: https://${REF}.supabase.co/auth/v1
      audiences: [authenticated]
      algorithms: [HS256]
      secret: ${SECRET}
shadow:
  workers: ${WORKERS}
  max_body_bytes: ${STRANGLER_SIZE}
admin:
  bootstrap_token: ${STRANGLER_ADMIN_TOKEN}
`), func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, 45*time.Second, cfg.Server.ShutdownGrace.D())
	assert.True(t, cfg.Server.DebugHeaders)
	assert.Equal(t, "http://legacy:8000", cfg.Upstreams.Legacy.URL)
	assert.Equal(t, "http://new:8001", cfg.Upstreams.New.URL)
	assert.Equal(t, "", cfg.Store.DatabaseURL)
	assert.Equal(t, "https://abcd.supabase.co/auth/v1", cfg.Auth.JWT[0].Issuer)
	assert.Equal(t, env["SECRET"], cfg.Auth.JWT[0].Secret)
	assert.Equal(t, "sub", cfg.Auth.JWT[0].Claims.Subject, "claims get the Supabase defaults")
	assert.Equal(t, "app_metadata.org_id", cfg.Auth.JWT[0].Claims.Org)
	assert.Equal(t, 3, cfg.Shadow.Workers)
	assert.Equal(t, int64(2<<20), cfg.Shadow.MaxBodyBytes.Int64())
	assert.Equal(t, "", cfg.Admin.BootstrapToken)
}

func TestParseNamesUnsetVariableWhereItMatters(t *testing.T) {
	probs := problemStrings(t, mustFail(t, minimal+`
store: { driver: postgres, database_url: "${STRANGLER_DATABASE_URL}" }
auth:
  jwt:
    - { name: s, audiences: [a], algorithms: [HS256], secret: "${SUPABASE_JWT_SECRET}" }
`))
	assert.Equal(t, []string{
		"store.database_url: is required when store.driver is postgres (environment variable STRANGLER_DATABASE_URL is not set) (line 6)",
		"auth.jwt[0].secret: environment variable SUPABASE_JWT_SECRET is not set (write ${SUPABASE_JWT_SECRET:-} to allow an empty value) (line 9)",
	}, probs)
}

func mustFail(t *testing.T, yml string) error {
	t.Helper()
	cfg, err := Parse([]byte(yml), noEnv)
	require.Error(t, err)
	require.Nil(t, cfg)
	return err
}

// TestParseReportsEveryProblem: each bad configuration yields exactly the
// listed problems, each with its YAML path (and line), all at once.
func TestParseReportsEveryProblem(t *testing.T) {
	tests := []struct {
		name string
		yml  string
		want []string // exact rendered problems, in order
	}{
		{
			name: "unknown keys at every level, with suggestions",
			yml: minimal + `
servr: {}
X-not-extension: {}
server: { listn: ":1", admin_listen: "127.0.0.1:9" }
routes:
  - name: qa
    paths: [/api/qa]
    auth: required
    sample_rate: 0.5
    shadow: { ignore_path: [] }
`,
			want: []string{
				`servr: unknown key (did you mean "server"?) (line 6)`,
				`X-not-extension: unknown key; expected one of admin, auth, flags, log, routes, server, shadow, store, tenancy, upstreams (line 7)`,
				`server.listn: unknown key (did you mean "listen"?) (line 8)`,
				`routes[0].sample_rate: unknown key (did you mean "shadow.sample_rate"?) (line 13)`,
				`routes[0].shadow.ignore_path: unknown key (did you mean "ignore_paths"?) (line 14)`,
			},
		},
		{
			name: "wrong types",
			yml: `
server: { shutdown_grace: soon, debug_headers: yes, max_header_bytes: 1 MiB-ish, listen: [a] }
upstreams:
  legacy: "http://x"
  new: { url: http://n, max_idle_conns_per_host: many, timeout: 1h }
shadow: { workers: 2.5, readiness: { min_match_rate: .nan } }
routes: { name: x }
`,
			want: []string{
				`server.shutdown_grace: invalid duration "soon": expected a Go duration such as 30s (line 2)`,
				`server.debug_headers: expected true or false, got "yes" (line 2)`,
				`server.max_header_bytes: invalid size "1 MiB-ish": expected bytes or a number with KiB, MiB, GiB, KB, MB, GB (line 2)`,
				`server.listen: expected a string, got a list (line 2)`,
				`upstreams.legacy: expected a mapping, got "http://x" (line 4)`,
				`upstreams.new.max_idle_conns_per_host: expected an integer, got "many" (line 5)`,
				`shadow.workers: expected an integer, got "2.5" (line 6)`,
				`shadow.readiness.min_match_rate: expected a finite number, got ".nan" (line 6)`,
				`routes: expected a list, got a mapping (line 7)`,
			},
		},
		{
			name: "invalid values across sections",
			yml: `
server: { listen: "8080", admin_listen: ":8080", shutdown_grace: 0s }
log: { level: verbose, format: xml }
store: { driver: mysql }
upstreams:
  legacy: { url: "ftp://legacy" }
  new: { url: "http://user:pw@new:1" }
flags: { provider: file }
shadow:
  workers: 0
  queue_size: -1
  max_body_bytes: 0
  readiness: { min_comparisons: 0, min_match_rate: 1.5, max_error_rate: -0.1 }
  cpu_budget: 0
admin: { bootstrap_token: short }
`,
			want: []string{
				`server.listen: invalid listen address "8080": expected host:port such as ":8080" (line 2)`,
				`server.shutdown_grace: must be a positive duration such as 30s (line 2)`,
				`log.level: must be one of debug, info, warn, error, got "verbose" (line 3)`,
				`log.format: must be one of json, console, got "xml" (line 3)`,
				`store.driver: must be one of memory, postgres, got "mysql" (line 4)`,
				`upstreams.legacy.url: must be an http:// or https:// URL, got "ftp://legacy" (line 6)`,
				`upstreams.new.url: must not carry credentials: they would not be sent; remove them from the URL (line 7)`,
				`flags.file: is required when flags.provider is file: a flagd flag-definition JSON file (line 8)`,
				`shadow.workers: must be between 1 and 1024, got 0 (line 10)`,
				`shadow.queue_size: must be between 1 and 1048576, got -1 (line 11)`,
				`shadow.max_body_bytes: must be between 1 byte and 1GiB, got 0 (line 12)`,
				`shadow.readiness.min_comparisons: must be at least 1, got 0 (line 13)`,
				`shadow.readiness.min_match_rate: must be between 0 and 1, got 1.5 (line 13)`,
				`shadow.readiness.max_error_rate: must be between 0 and 1, got -0.1 (line 13)`,
				`shadow.cpu_budget: must be over 0 and at most 1 (1: never shed), got 0 (line 14)`,
				`admin.bootstrap_token: is 5 characters; at least 32 are required (it grants platform-admin access; try: openssl rand -hex 32) (line 15)`,
			},
		},
		{
			name: "routes",
			yml: minimal + `
routes:
  - name: QA
    paths: [api/qa, "/a//b", "/a/{id", "/a/{id}/{id}", "/a/x{id}", "/a/{1d}", "/a/../b", "/a?x=1"]
    methods: [get, "G T", POST, POST]
    auth: maybe
    permission: nope
  - name: ""
    paths: []
    permission: read
    auth: none
    shadow: { sample_rate: 1.5, ignore_paths: ["items", "$.a[x]", "$.ok[*].id"], unordered_arrays: ["$..x"], ignore_headers: ["Bad Header"] }
  - name: dup
    paths: ["/"]
    auth: optional
  - name: dup
    paths: ["/api/after"]
    auth: optional
`,
			want: []string{
				`routes[0].name: must be lowercase letters, digits, - and _ (at most 63), got "QA" (line 7)`,
				`routes[0].paths[0]: must start with "/", got "api/qa" (line 8)`,
				`routes[0].paths[1]: "/a//b": empty segment (//) (line 8)`,
				`routes[0].paths[2]: "/a/{id": a {param} must be a whole segment, as in /api/posts/{id} (line 8)`,
				`routes[0].paths[3]: "/a/{id}/{id}": parameter {id} appears twice (line 8)`,
				`routes[0].paths[4]: "/a/x{id}": a {param} must be a whole segment, as in /api/posts/{id} (line 8)`,
				`routes[0].paths[5]: "/a/{1d}": invalid parameter "{1d}": a name is letters, digits and _, as in {id} (line 8)`,
				`routes[0].paths[6]: "/a/../b": ".." segments are not allowed: clients' paths are matched as sent (line 8)`,
				`routes[0].paths[7]: "/a?x=1": a path has no spaces, control characters, \, query (?) or fragment (#) (line 8)`,
				`routes[0].methods[0]: "get": methods are case-sensitive; did you mean "GET"? (line 9)`,
				`routes[0].methods[1]: "G T" is not a valid HTTP method token (line 9)`,
				`routes[0].methods[3]: duplicate method "POST" (line 9)`,
				`routes[0].auth: must be one of required, optional, none, got "maybe" (line 10)`,
				`routes[0].permission: "nope" is granted by no role in tenancy.roles: no caller could use this route (line 11)`,
				`routes[1].name: is required: it names the route group and its flag route.<name> (line 12)`,
				`routes[1].paths: at least one path is required, such as "/api/qa" (line 13)`,
				`routes[1].permission: needs an authenticated caller, but auth is none (line 14)`,
				`routes[1].shadow.sample_rate: must be between 0 and 1, got 1.5 (line 16)`,
				`routes[1].shadow.ignore_paths[0]: "items": must start with $, as in $.items[*].id (line 16)`,
				`routes[1].shadow.ignore_paths[1]: "$.a[x]": [x]: an index is a number or * (line 16)`,
				`routes[1].shadow.unordered_arrays[0]: "$..x": invalid field name after '.' (line 16)`,
				`routes[1].shadow.ignore_headers[0]: "Bad Header" is not a valid header name (line 16)`,
				`routes[3].name: duplicate route name "dup" (also routes[2]) (line 20)`,
				`routes[3].paths[0]: never matched: routes[2] (dup) already matches "/" for these methods (first match wins) (line 21)`,
			},
		},
		{
			name: "jwt issuers",
			yml: minimal + `
auth:
  jwt:
    - name: supabase
      issuer: https://x.supabase.co/auth/v1
      audiences: []
      algorithms: [HS256, RS256, none, hs256, HS256]
      secret: too-short
    - name: supabase
      issuer: https://x.supabase.co/auth/v1
      audiences: [authenticated, ""]
      algorithms: [ES256]
      secret: "0123456789abcdef0123456789abcdef"
      jwks_url: http://keys.example.com/jwks.json
      claims: { org: "app_metadata..org" }
    - name: c
      audiences: [x]
      algorithms: [RS256]
    - name: d
      audiences: [x]
      algorithms: [HS512]
      jwks_url: https://k/jwks.json
  issuer: { enabled: true, issuer: https://x.supabase.co/auth/v1, access_ttl: 1h, refresh_ttl: 30m }
  api_keys: { headers: ["X-Tenant-Key", "bad header"] }
`,
			want: []string{
				`auth.jwt[0].jwks_url: is required for public-key algorithms (RS*, PS*, ES*, EdDSA) (line 8)`,
				`auth.jwt[0].issuer: equals auth.issuer.issuer "https://x.supabase.co/auth/v1": external tokens would be confused with the built-in issuer's (line 9)`,
				`auth.jwt[0].audiences: at least one audience is required (Supabase: authenticated): without it tokens minted for other services are accepted (line 10)`,
				`auth.jwt[0].algorithms: mixes HMAC (HS*) and public-key algorithms: use one entry per key type (line 11)`,
				`auth.jwt[0].algorithms[2]: "none" is never accepted: unsigned tokens prove nothing (line 11)`,
				`auth.jwt[0].algorithms[3]: must be one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, got "hs256" (line 11)`,
				`auth.jwt[0].algorithms[4]: duplicate algorithm "HS256" (line 11)`,
				`auth.jwt[0].secret: is 9 bytes; the algorithms listed need at least 32 (RFC 7518 §3.2) (line 12)`,
				`auth.jwt[1].name: duplicate issuer name "supabase" (also auth.jwt[0]) (line 13)`,
				`auth.jwt[1]: set either secret (HS*) or jwks_url (RS*, PS*, ES*, EdDSA), not both (line 13)`,
				`auth.jwt[1].issuer: duplicate issuer "https://x.supabase.co/auth/v1" (also auth.jwt[0]): a token is matched to its entry by iss (line 14)`,
				`auth.jwt[1].issuer: equals auth.issuer.issuer "https://x.supabase.co/auth/v1": external tokens would be confused with the built-in issuer's (line 14)`,
				`auth.jwt[1].audiences[1]: must not be empty (line 15)`,
				`auth.jwt[1].jwks_url: must be an https:// URL (http:// only for loopback): keys fetched in clear can be replaced in transit (line 18)`,
				`auth.jwt[1].claims.org: must be a dotted claim path such as app_metadata.org_id, got "app_metadata..org" (line 19)`,
				`auth.jwt[2].jwks_url: is required for public-key algorithms (RS*, PS*, ES*, EdDSA) (line 20)`,
				`auth.jwt[3].secret: is required for HMAC algorithms (HS*) (line 23)`,
				`auth.issuer.refresh_ttl: must be longer than auth.issuer.access_ttl (1h0m0s) (line 27)`,
				`auth.api_keys.headers[0]: X-Tenant-* headers are removed from every request and cannot carry a key (line 28)`,
				`auth.api_keys.headers[1]: "bad header" is not a valid header name (line 28)`,
			},
		},
		{
			name: "tenancy",
			yml: minimal + `
tenancy:
  org_header: X-Tenant-Org
  project_header: x-tenant-org
  default_org: "Legacy Org"
  roles:
    superuser: [everything]
    admin: [Read, read, read]
`,
			want: []string{
				`tenancy.org_header: X-Tenant-* headers are removed from every request (anti-spoofing); choose another name (line 7)`,
				`tenancy.project_header: X-Tenant-* headers are removed from every request (anti-spoofing); choose another name (line 8)`,
				`tenancy.project_header: must differ from tenancy.org_header (line 8)`,
				`tenancy.default_org: must be a slug (lowercase letters, digits and -, at most 63), got "Legacy Org" (line 9)`,
				`tenancy.roles.superuser: unknown role: roles are viewer, member, admin, owner (line 11)`,
				`tenancy.roles.admin[0]: must be a permission name such as agents.run (lowercase, dot-separated), got "Read" (line 12)`,
				`tenancy.roles.admin[2]: duplicate permission "read" (line 12)`,
			},
		},
		{
			name: "postgres store",
			yml: minimal + `
store: { driver: postgres, database_url: "mysql://x/y", seed_file: seed.yaml }
flags: { provider: store, file: flags.json }
`,
			want: []string{
				`store.database_url: must be a postgres:// or postgresql:// URL, got scheme "mysql" (line 6)`,
				`store.seed_file: is only used by the memory driver; load seed data into PostgreSQL with strangler bootstrap (line 6)`,
				`flags.file: is only used when flags.provider is file (line 7)`,
			},
		},
		{
			name: "yaml structure",
			yml: minimal + `
server: { listen: ":1" }
server: { listen: ":2" }
routes: [5, [a]]
? [complex]
: key
<<: 7
`,
			want: []string{
				`server: duplicate key (first defined at line 6) (line 7)`,
				`routes[0]: expected a mapping, got "5" (line 8)`,
				`routes[1]: expected a mapping, got a list (line 8)`,
				`keys must be plain strings, got a list (line 9)`,
				`a merge key (<<) takes a mapping or a list of mappings, got "7" (line 11)`,
			},
		},
		{
			name: "root is not a mapping",
			yml:  "- a\n- b\n",
			want: []string{`expected a mapping, got a list (line 1)`},
		},
		{
			name: "syntax error",
			yml:  "server:\n  listen: \":8080\"\n bad indent: [\n",
			want: []string{`YAML syntax: did not find expected key (line 2)`},
		},
		{
			name: "two documents",
			yml:  minimal + "---\nserver: {}\n",
			want: []string{`only one YAML document is allowed (found a second "---") (line 5)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problemStrings(t, mustFail(t, tc.yml))
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseAnchorsAliasesAndMergeKeys(t *testing.T) {
	cfg, err := Parse([]byte(`
x-timeouts: &timeouts { timeout: 5s }   # top-level x- keys hold anchors
x-sh: &sh { sample_rate: 0.25, ignore_paths: ["$.id"] }
upstreams:
  legacy: &up { <<: *timeouts, url: "http://127.0.0.1:8000" }
  new:
    <<: *up
    url: "http://127.0.0.1:8001"
routes:
  - name: qa
    paths: &qa [/api/qa]
    auth: required
    shadow: { sample_rate: 0.5 }
  - name: other
    paths: [/api/other]
    auth: optional
    shadow: *sh
  - name: default
    paths: ["/"]
    auth: optional
`), noEnv)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8001", cfg.Upstreams.New.URL, "own keys win over merged ones")
	assert.Equal(t, 5*time.Second, cfg.Upstreams.New.Timeout.D(), "merged keys apply")
	assert.Equal(t, 0.5, *cfg.Routes[0].Shadow.SampleRate)
	assert.Equal(t, 0.25, *cfg.Routes[1].Shadow.SampleRate)
	assert.Equal(t, []string{"$.id"}, cfg.Routes[1].Shadow.IgnorePaths)
}

func TestParseBoundsAliasExpansion(t *testing.T) {
	// "Billion laughs": each level multiplies the size by ten.
	var b strings.Builder
	b.WriteString(minimal + "a0: &a0 [/x, /x, /x, /x, /x, /x, /x, /x, /x, /x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	// Make the bomb land in a typed field whose elements are lists.
	yml := strings.ReplaceAll(b.String(), "a0: &a0", "routes: [{name: x, auth: none, paths: *a8}]\na0: &a0")
	_, err := Parse([]byte(yml), noEnv)
	require.Error(t, err)

	// A merge key that merges its own anchor is bounded too.
	_, err = Parse([]byte(minimal+"server: &s { <<: *s }\n"), noEnv)
	require.Error(t, err)
}

func TestParseRejectsOversizedInput(t *testing.T) {
	big := minimal + "# " + strings.Repeat("x", maxConfigBytes) + "\n"
	probs := problemStrings(t, mustFail(t, big))
	assert.Equal(t, []string{"configuration is larger than 1048576 bytes"}, probs)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	t.Run("ok", func(t *testing.T) {
		cfg, err := Load(write("ok.yaml", minimal))
		require.NoError(t, err)
		assert.Equal(t, "http://127.0.0.1:8000", cfg.Upstreams.Legacy.URL)
	})
	t.Run("missing file is not a config problem", func(t *testing.T) {
		_, err := Load(filepath.Join(dir, "absent.yaml"))
		require.Error(t, err)
		var cerr *Error
		assert.False(t, errors.As(err, &cerr))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("referenced files must exist", func(t *testing.T) {
		flags := write("flags.json", "{}")
		_, err := Load(write("files.yaml", minimal+`
store: { seed_file: `+filepath.Join(dir, "nope.yaml")+` }
flags: { provider: file, file: `+flags+` }
auth: { issuer: { enabled: true, signing_key_file: `+dir+` } }
`))
		probs := problemStrings(t, err)
		require.Len(t, probs, 2)
		assert.Contains(t, probs[0], "store.seed_file: cannot read "+filepath.Join(dir, "nope.yaml")+": no such file or directory (line 6)")
		assert.Contains(t, probs[1], "auth.issuer.signing_key_file: "+dir+" is a directory, not a file (line 8)")
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv("STRANGLER_TEST_LEGACY", "http://10.0.0.1:8000")
		cfg, err := Load(write("env.yaml", `
upstreams:
  legacy: { url: "${STRANGLER_TEST_LEGACY}" }
  new:    { url: "http://127.0.0.1:8001" }
`))
		require.NoError(t, err)
		assert.Equal(t, "http://10.0.0.1:8000", cfg.Upstreams.Legacy.URL)
	})
}

func TestWarnings(t *testing.T) {
	cfg, err := Parse([]byte(minimal), noEnv)
	require.NoError(t, err)
	assert.Equal(t, []Problem{
		{Path: "admin.bootstrap_token", Message: "not set: the admin API accepts only platform-admin user tokens"},
		{Path: "store.driver", Message: "memory: data lives in this process only; use postgres to run several replicas or keep data across restarts"},
	}, Warnings(cfg))

	cfg, err = Parse([]byte(`
server: { debug_headers: true }
upstreams:
  legacy: { url: "http://127.0.0.1:8000" }
  new:    { url: "http://127.0.0.1:8000" }
store: { driver: postgres, database_url: "postgres://x@db/strangler" }
admin: { bootstrap_token: "0123456789abcdef0123456789abcdef" }
auth: { issuer: { enabled: true } }
routes:
  - { name: qa, paths: [/api/qa], auth: required, shadow: { unsafe_methods: true } }
  - { name: default, paths: ["/"], methods: [GET], auth: optional }
`), noEnv)
	require.NoError(t, err)
	var paths []string
	for _, w := range Warnings(cfg) {
		paths = append(paths, w.Path)
	}
	assert.Equal(t, []string{
		"routes[1]",
		"auth.issuer.signing_key_file",
		"server.debug_headers",
		"upstreams.new.url",
		"routes[0].shadow.unsafe_methods",
	}, paths)
}

func TestProblemRendering(t *testing.T) {
	assert.Equal(t, "routes[2].auth: must be one of required, optional, none (line 14)",
		Problem{Path: "routes[2].auth", Line: 14, Message: "must be one of required, optional, none"}.String())
	assert.Equal(t, "YAML syntax: x", Problem{Message: "YAML syntax: x"}.String())
	one := &Error{Problems: []Problem{{Path: "a", Message: "b"}}}
	assert.Equal(t, "invalid configuration: a: b", one.Error())
	two := &Error{Problems: []Problem{{Path: "a", Message: "b"}, {Path: "c", Message: "d", Line: 3}}}
	assert.Equal(t, "invalid configuration: 2 problems:\n  a: b\n  c: d (line 3)", two.Error())
}

func TestParentPath(t *testing.T) {
	for in, want := range map[string]string{
		"routes[2].auth":           "routes[2]",
		"routes[2]":                "routes",
		"routes":                   "",
		"tenancy.roles.admin[1]":   "tenancy.roles.admin",
		`tenancy.roles["a.b"]`:     "tenancy.roles",
		"auth.jwt[0].claims.org":   "auth.jwt[0].claims",
		"shadow.readiness.min_cmp": "shadow.readiness",
	} {
		assert.Equal(t, want, parentPath(in), in)
	}
}

func TestNewUpstreamIsOptional(t *testing.T) {
	cfg, err := Parse([]byte("upstreams: { legacy: { url: \"http://127.0.0.1:8000\" } }\n"), noEnv)
	require.NoError(t, err)
	assert.Contains(t, Warnings(cfg), Problem{Path: "upstreams.new.url", Message: "not set: every request is served by legacy whatever the flags say, and nothing is shadowed"})
}

func TestUnreachableRoutes(t *testing.T) {
	probs := problemStrings(t, mustFail(t, minimal+`
routes:
  - { name: kb, paths: ["/api/knowledge/"], methods: [GET], auth: optional }
  - { name: kb-head, paths: ["/api/knowledge"], methods: [HEAD], auth: optional }
  - { name: kb-post, paths: ["/api/knowledge"], methods: [POST], auth: optional }
  - { name: default, paths: ["/"], auth: optional }
`))
	assert.Equal(t, []string{
		`routes[1].paths[0]: never matched: routes[0] (kb) already matches "/api/knowledge/" for these methods (first match wins) (line 8)`,
	}, probs)
}

func TestParseHostileDocuments(t *testing.T) {
	for name, doc := range map[string]string{
		"deep flow nesting":   strings.Repeat("[", 100_000),
		"deep block nesting":  strings.Repeat("a:\n ", 5000),
		"deep nesting in key": "server: " + strings.Repeat("{a: ", 10_000),
		"huge scalar":         "server: {listen: \"" + strings.Repeat("x", 900_000) + "\"}",
		"many keys":           strings.Repeat("k: 1\n", 50_000),
		"nul byte":            "server: {listen: \"\x00\"}",
		"invalid utf-8":       "server: {listen: \"\xff\xfe\"}",
		"tab indentation":     "server:\n\tlisten: x\n",
		"unknown anchor":      "server: *nope\n",
		"binary tag":          "server: !!binary aGVsbG8=\n",
		"custom tag":          "server: !mytag {listen: x}\n",
		"env in key":          "${HOME}: 1\n",
		"env reference storm": "server: {listen: \"" + strings.Repeat("${A}", 10_000) + "\"}",
		"merge of a scalar":   "server: {<<: hello}\n",
		"alias to a scalar":   "x-a: &a 5\nserver: {listen: *a, shutdown_grace: *a}\n",
		"sequence as key":     "? [a]\n: b\n",
		"null document":       "~\n",
		"only a comment":      "# nothing\n",
		"integer overflow":    "shadow: {workers: 99999999999999999999999}\n",
		"huge size":           "shadow: {max_body_bytes: 9223372036854775807GiB}\n",
		"negative zero rate":  "shadow: {readiness: {min_match_rate: -0.0}}\n",
		"exponent float":      "shadow: {readiness: {min_match_rate: 1e-400}}\n",
		"hex integer":         "shadow: {workers: 0x10}\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Parse([]byte(doc), noEnv)
			require.Error(t, err, "none of these is a valid configuration")
			require.Nil(t, cfg)
			var cerr *Error
			require.ErrorAs(t, err, &cerr)
			require.LessOrEqual(t, len(cerr.Problems), maxProblems+1)
			for _, p := range cerr.Problems {
				require.NotEmpty(t, p.Message)
			}
		})
	}
}
