package config

import "time"

// Config is the whole configuration file.
type Config struct {
	// Server holds the listeners and process-level behaviour.
	Server Server `yaml:"server"`
	// Log configures the zap logger.
	Log Log `yaml:"log"`
	// Store selects where tenancy, flag and shadow data live.
	Store Store `yaml:"store"`
	// Upstreams are the two backends: the legacy service and the new one.
	Upstreams Upstreams `yaml:"upstreams"`
	// Auth configures how callers are authenticated.
	Auth Auth `yaml:"auth"`
	// Tenancy configures how the tenant context is resolved.
	Tenancy Tenancy `yaml:"tenancy"`
	// Routes is the route table; the first match wins, so the last route
	// should catch "/".
	Routes []Route `yaml:"routes"`
	// Flags selects the OpenFeature provider that decides each mode.
	Flags Flags `yaml:"flags"`
	// Shadow configures the comparison engine.
	Shadow Shadow `yaml:"shadow"`
	// Admin configures the admin API.
	Admin Admin `yaml:"admin"`
}

// Server holds the listeners.
type Server struct {
	// Listen is the public proxy listener. Default ":8080".
	Listen string `yaml:"listen"`
	// AdminListen serves the admin API, console, /metrics, /healthz and
	// /readyz. Default "127.0.0.1:9090": it is not meant to be public.
	AdminListen string `yaml:"admin_listen"`
	// ShutdownGrace bounds how long SIGTERM waits for in-flight requests.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// DebugHeaders adds X-Strangler-Backend and X-Strangler-Mode to
	// responses. It breaks byte-for-byte transparency, so it is off by default.
	DebugHeaders bool `yaml:"debug_headers"`
	// MaxHeaderBytes caps the request header size. Default 1 MiB, as net/http.
	MaxHeaderBytes Size `yaml:"max_header_bytes"`
	// ReadHeaderTimeout bounds slow-loris clients. Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle client keep-alive connections. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or console. Default json.
	Format string `yaml:"format"`
}

// Store selects the data store.
type Store struct {
	// Driver is memory or postgres. Default memory.
	Driver string `yaml:"driver"`
	// DatabaseURL is the PostgreSQL connection string (postgres only). The
	// role must not bypass RLS: serve refuses one that does.
	DatabaseURL string `yaml:"database_url"`
	// SeedFile is a YAML file of orgs, users, keys and flags loaded at start
	// (memory only).
	SeedFile string `yaml:"seed_file"`
}

// Upstreams are the two backends.
type Upstreams struct {
	// Legacy is the existing single-tenant service; it serves every
	// request in legacy and shadow modes. Required.
	Legacy Upstream `yaml:"legacy"`
	// New is the multi-tenant service taking over; it serves canary and
	// new modes and receives shadow copies. Optional until it exists:
	// without it every request is served by legacy.
	New Upstream `yaml:"new"`
}

// Upstream is one backend.
type Upstream struct {
	// URL is the base URL (scheme and host, optionally a path prefix).
	URL string `yaml:"url"`
	// Timeout bounds the wait for the response headers. A streaming body may
	// take longer. Default 60s.
	Timeout Duration `yaml:"timeout"`
	// MaxIdleConnsPerHost sizes the keep-alive pool. Default 128: Go's
	// default of 2 churns connections under load (golang/go#6785).
	MaxIdleConnsPerHost int `yaml:"max_idle_conns_per_host"`
	// IdleConnTimeout must stay below the upstream's own keep-alive timeout,
	// or a reused socket may be reset. Default 50s.
	IdleConnTimeout Duration `yaml:"idle_conn_timeout"`
	// DialTimeout bounds connection establishment. Default 5s.
	DialTimeout Duration `yaml:"dial_timeout"`
}

// Auth configures authentication.
type Auth struct {
	// JWT lists trusted external issuers.
	JWT []JWTIssuer `yaml:"jwt"`
	// APIKeys configures API key authentication.
	APIKeys APIKeys `yaml:"api_keys"`
	// Issuer configures the built-in identity endpoints.
	Issuer Issuer `yaml:"issuer"`
}

// JWTIssuer is one trusted token issuer.
type JWTIssuer struct {
	// Name identifies the issuer in logs and metrics.
	Name string `yaml:"name"`
	// Issuer is the expected iss. Empty accepts tokens without iss
	// (self-hosted Supabase); such an entry is matched by kid/algorithm.
	Issuer string `yaml:"issuer"`
	// Audiences: the token's aud must contain one of them.
	Audiences []string `yaml:"audiences"`
	// Algorithms is the explicit allow-list; it is never inferred from the
	// token, which is what stops alg:none and key-confusion attacks.
	Algorithms []string `yaml:"algorithms"`
	// Secret is the HMAC secret for HS* algorithms.
	Secret string `yaml:"secret"`
	// JWKSURL is fetched for asymmetric algorithms.
	JWKSURL string `yaml:"jwks_url"`
	// Claims maps tenant attributes to dotted claim paths.
	Claims Claims `yaml:"claims"`
}

// Claims maps tenant attributes to dotted claim paths.
type Claims struct {
	// Subject identifies the user (external_subject). Default "sub".
	Subject string `yaml:"subject"`
	// Email of the user, used for just-in-time users. Default "email".
	Email string `yaml:"email"`
	// Org is the org chosen by the token. Default "app_metadata.org_id":
	// app_metadata is writable by the server only, user_metadata by the
	// user, so authorization data must never come from the latter.
	Org string `yaml:"org"`
	// Project is the project chosen by the token. Default
	// "app_metadata.project_id".
	Project string `yaml:"project"`
}

// APIKeys configures API key authentication.
type APIKeys struct {
	// Headers carry the key; Authorization: Bearer <key> is also accepted.
	Headers []string `yaml:"headers"`
}

// Issuer configures the built-in identity endpoints.
type Issuer struct {
	// Enabled serves /auth/* and /.well-known/jwks.json on the public
	// listener. Off by default: exposing sign-up is a decision.
	Enabled bool `yaml:"enabled"`
	// Issuer is the iss of issued tokens; it must differ from every
	// external issuer so tokens cannot be confused. Default
	// "https://strangler.local".
	Issuer string `yaml:"issuer"`
	// SigningKeyFile is a PEM key (Ed25519 or ECDSA). Empty: a key is
	// generated at start, which only suits the demo (tokens die with the
	// process and replicas cannot verify each other's tokens).
	SigningKeyFile string `yaml:"signing_key_file"`
	// AccessTTL is the lifetime of access tokens, which cannot be revoked
	// before they expire: keep it short. Default 15m, at most 24h.
	AccessTTL Duration `yaml:"access_ttl"`
	// RefreshTTL is the lifetime of refresh tokens (rotated on use,
	// revocable). Default 720h.
	RefreshTTL Duration `yaml:"refresh_ttl"`
}

// Tenancy configures tenant resolution.
type Tenancy struct {
	// OrgHeader carries the org (id or slug) a client acts for; the caller
	// must be a member. Default X-Organization-ID. Never an X-Tenant-*
	// header: those are stripped from every request.
	OrgHeader string `yaml:"org_header"`
	// ProjectHeader carries the project (id or slug). Default X-Project-ID.
	ProjectHeader string `yaml:"project_header"`
	// DefaultOrg is the slug of the org owning all pre-migration data; it
	// serves anonymous callers and users with no membership.
	DefaultOrg string `yaml:"default_org"`
	// Roles maps each role (viewer, member, admin, owner) to its
	// permissions. A role left out keeps its default permissions.
	Roles map[string][]string `yaml:"roles"`
}

// Route is one route group.
type Route struct {
	// Name is the route group; the flag route.<name> decides its mode.
	Name string `yaml:"name"`
	// Paths are prefixes ("/api/qa") or patterns with {param} segments
	// ("/api/posts/{id}/publish").
	Paths []string `yaml:"paths"`
	// Methods restricts the route; empty matches any method.
	Methods []string `yaml:"methods"`
	// Auth is required, optional or none.
	Auth string `yaml:"auth"`
	// Permission the caller's role must grant; empty: none.
	Permission string `yaml:"permission"`
	// Shadow holds per-route comparison rules.
	Shadow RouteShadow `yaml:"shadow"`
}

// RouteShadow holds per-route comparison rules.
type RouteShadow struct {
	// SampleRate in [0,1]; nil means 1.
	SampleRate *float64 `yaml:"sample_rate"`
	// UnsafeMethods shadows POST/PUT/PATCH/DELETE too. Only when the other
	// backend honours X-Shadow-Request without side effects.
	UnsafeMethods bool `yaml:"unsafe_methods"`
	// IgnorePaths are JSON paths ($.a.b, [n], [*]) whose values are not
	// compared: ids, timestamps, generated text.
	IgnorePaths []string `yaml:"ignore_paths"`
	// IgnoreHeaders are response headers not compared (Date always
	// differs).
	IgnoreHeaders []string `yaml:"ignore_headers"`
	// UnorderedArrays are JSON paths of arrays compared as multisets.
	UnorderedArrays []string `yaml:"unordered_arrays"`
}

// Flags selects the OpenFeature provider.
type Flags struct {
	// Provider is store or file. Default store.
	Provider string `yaml:"provider"`
	// File is a flagd flag-definition JSON file, watched for changes.
	File string `yaml:"file"`
}

// Shadow configures the comparison engine.
type Shadow struct {
	// Workers send shadow copies and compare. Default 8.
	Workers int `yaml:"workers"`
	// QueueSize bounds waiting comparisons; a full queue drops (and
	// counts) new ones instead of slowing clients. Default 4096.
	QueueSize int `yaml:"queue_size"`
	// MaxBodyBytes caps the bodies teed for comparison; larger exchanges
	// are not shadowed (counted). Default 1MiB.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
	// Timeout bounds the shadow backend's answer. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// CPUBudget is the share of the proxy's CPU shadow work may take while
	// the machine has no idle CPU (under 10 % idle); beyond it, sampled
	// requests are shed (not shadowed, counted). With idle CPU there is
	// no limit. In (0, 1]; 1 never sheds. Default 0.05.
	CPUBudget float64 `yaml:"cpu_budget"`
	// NoiseProbe sends the request to the serving backend a second time to
	// learn fields that differ by themselves. Doubles that backend's load
	// for shadowed requests, so off by default.
	NoiseProbe bool `yaml:"noise_probe"`
	// RedactHeaders are replaced in stored exemplars: credentials never
	// reach the shadow store.
	RedactHeaders []string `yaml:"redact_headers"`
	// RedactFields are JSON field names replaced in stored exemplars.
	RedactFields []string `yaml:"redact_fields"`
	// Retention is how long results and exemplars (copies of user data)
	// are kept. Default 168h.
	Retention Duration `yaml:"retention"`
	// Readiness are the thresholds of the promotion verdict.
	Readiness Readiness `yaml:"readiness"`
}

// Readiness are the thresholds of the promotion verdict.
type Readiness struct {
	// MinComparisons: fewer comparisons than this are NOT READY, so rare
	// paths get exercised first. Default 1000.
	MinComparisons int `yaml:"min_comparisons"`
	// MinMatchRate in [0,1]: share of comparisons that must match.
	// Default 0.999.
	MinMatchRate float64 `yaml:"min_match_rate"`
	// MaxErrorRate in [0,1]: share of shadow requests the candidate may
	// fail (5xx, timeout). Default 0.001.
	MaxErrorRate float64 `yaml:"max_error_rate"`
}

// Admin configures the admin API.
type Admin struct {
	// BootstrapToken grants platform-admin access to /admin/api/. Empty
	// disables token access (platform-admin user tokens still work).
	BootstrapToken string `yaml:"bootstrap_token"`
}

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
