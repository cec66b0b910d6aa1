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
	Legacy Upstream `yaml:"legacy"`
	New    Upstream `yaml:"new"`
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
	Subject string `yaml:"subject"`
	Email   string `yaml:"email"`
	Org     string `yaml:"org"`
	Project string `yaml:"project"`
}

// APIKeys configures API key authentication.
type APIKeys struct {
	// Headers carry the key; Authorization: Bearer <key> is also accepted.
	Headers []string `yaml:"headers"`
}

// Issuer configures the built-in identity endpoints.
type Issuer struct {
	Enabled bool   `yaml:"enabled"`
	Issuer  string `yaml:"issuer"`
	// SigningKeyFile is a PEM key (Ed25519 or ECDSA). Empty: a key is
	// generated at start, which only suits the demo (tokens die with the
	// process and replicas cannot verify each other's tokens).
	SigningKeyFile string   `yaml:"signing_key_file"`
	AccessTTL      Duration `yaml:"access_ttl"`
	RefreshTTL     Duration `yaml:"refresh_ttl"`
}

// Tenancy configures tenant resolution.
type Tenancy struct {
	OrgHeader     string `yaml:"org_header"`
	ProjectHeader string `yaml:"project_header"`
	// DefaultOrg is the slug of the org owning all pre-migration data; it
	// serves anonymous callers and users with no membership.
	DefaultOrg string `yaml:"default_org"`
	// Roles maps each role to its permissions.
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
	UnsafeMethods   bool     `yaml:"unsafe_methods"`
	IgnorePaths     []string `yaml:"ignore_paths"`
	IgnoreHeaders   []string `yaml:"ignore_headers"`
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
	Workers       int       `yaml:"workers"`
	QueueSize     int       `yaml:"queue_size"`
	MaxBodyBytes  Size      `yaml:"max_body_bytes"`
	Timeout       Duration  `yaml:"timeout"`
	NoiseProbe    bool      `yaml:"noise_probe"`
	RedactHeaders []string  `yaml:"redact_headers"`
	RedactFields  []string  `yaml:"redact_fields"`
	Retention     Duration  `yaml:"retention"`
	Readiness     Readiness `yaml:"readiness"`
}

// Readiness are the thresholds of the promotion verdict.
type Readiness struct {
	MinComparisons int     `yaml:"min_comparisons"`
	MinMatchRate   float64 `yaml:"min_match_rate"`
	MaxErrorRate   float64 `yaml:"max_error_rate"`
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
