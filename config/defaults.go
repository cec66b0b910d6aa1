package config

import "time"

// Default returns a configuration with every default set. Parse decodes
// the file over it, so a key absent from the file (or null) keeps its
// default, a key present replaces it — including an explicit 0, false or
// empty list — and a role absent from tenancy.roles keeps its default
// permissions. This is the one place where defaults live; ApplyDefaults
// completes the elements of lists (routes, JWT issuers), which cannot be
// pre-filled.
func Default() *Config {
	return &Config{
		Server: Server{
			// The public port most deployments map; the legacy service
			// moves behind the proxy.
			Listen: ":8080",
			// Loopback: the admin API, /metrics and the console are not
			// meant to be reachable from the internet.
			AdminListen: "127.0.0.1:9090",
			// Long enough for a typical SSE answer to finish, short enough
			// for an orchestrator's default kill timeout (Kubernetes: 30s
			// terminationGracePeriodSeconds: set it a few seconds
			// higher than this).
			ShutdownGrace: Duration(30 * time.Second),
			// Off: debug headers break byte-for-byte transparency.
			DebugHeaders: false,
			// net/http's DefaultMaxHeaderBytes: what the legacy service
			// (or any Go server) accepted before the proxy was in front.
			MaxHeaderBytes: Size(1 << 20),
			// Bounds slow-loris clients while allowing slow mobile links.
			ReadHeaderTimeout: Duration(10 * time.Second),
			// Above common client keep-alive intervals, below typical load
			// balancer idle timeouts (AWS ALB: 60s client side is often
			// raised to 120s+).
			IdleTimeout: Duration(120 * time.Second),
		},
		Log: Log{
			// info: one access log line per request, no debug chatter.
			Level: "info",
			// json: what log shippers parse without configuration.
			Format: "json",
		},
		Store: Store{
			// memory: a single node works without a database; production
			// with replicas sets postgres.
			Driver: "memory",
		},
		Upstreams: Upstreams{
			Legacy: defaultUpstream(),
			New:    defaultUpstream(),
		},
		Auth: Auth{
			// X-API-Key: the common header; Authorization: Bearer <key> is
			// always accepted as well.
			APIKeys: APIKeys{Headers: []string{"X-API-Key"}},
			Issuer: Issuer{
				// Off: exposing /auth/signup on the public listener is a
				// decision, not a default.
				Enabled: false,
				// A name that cannot collide with a real external issuer.
				Issuer: "https://strangler.local",
				// Short-lived access tokens limit a leaked token's use;
				// revocation of refresh tokens covers the rest.
				AccessTTL: Duration(15 * time.Minute),
				// 30 days: users of the legacy app stayed signed in.
				RefreshTTL: Duration(720 * time.Hour),
			},
		},
		Tenancy: Tenancy{
			// The names SPEC §7 gives clients; not X-Tenant-*, which the
			// proxy strips from every request.
			OrgHeader:     "X-Organization-ID",
			ProjectHeader: "X-Project-ID",
			// The org that owns all pre-migration data: today's clients
			// keep seeing today's data.
			DefaultOrg: "legacy",
			// SPEC §4: the four roles and what each may do.
			Roles: DefaultRoles(),
		},
		// No route table at all means one catch-all route: everything goes
		// to the serving backend as before the proxy was in front, and
		// credentials are checked when present (SPEC §5: invalid
		// credentials are rejected on every route).
		Routes: []Route{{Name: "default", Paths: []string{"/"}, Auth: AuthOptional}},
		Flags: Flags{
			// store: per-org overrides and rules kept by strangler itself.
			Provider: "store",
		},
		Shadow: Shadow{
			// Comparisons are I/O bound; 8 keeps up with a few hundred
			// shadowed requests per second without starving the proxy.
			Workers: 8,
			// Absorbs bursts; a full queue drops (and counts) comparisons
			// rather than slowing clients.
			QueueSize: 4096,
			// Worst-case memory is about queue_size × 3 × max_body_bytes
			// (request, both responses); typical JSON answers are far
			// smaller than 1 MiB.
			MaxBodyBytes: Size(1 << 20),
			// A shadow answer later than this is a candidate error, not a
			// reason to hold a worker.
			Timeout: Duration(10 * time.Second),
			// Shadow work may take 5 % of the proxy's CPU when the machine
			// has none to spare (make bench: a copy per request would cost
			// a quarter of the serving CPU).
			CPUBudget: DefaultShadowCPUBudget,
			// Off: a probe doubles the load on the serving backend.
			NoiseProbe: false,
			// Credentials never reach the shadow store.
			RedactHeaders: []string{"Authorization", "Cookie", "Set-Cookie", "X-API-Key"},
			RedactFields:  []string{"password", "token", "secret", "api_key", "refresh_token"},
			// A week: long enough to review a pilot, short enough to keep
			// copies of user data brief.
			Retention: Duration(168 * time.Hour),
			Readiness: Readiness{
				// Enough traffic that rare paths have been exercised.
				MinComparisons: 1000,
				// One mismatch in a thousand at most.
				MinMatchRate: 0.999,
				// The new backend fails at most one request in a thousand.
				MaxErrorRate: 0.001,
			},
		},
	}
}

// defaultUpstream is the default of each backend.
func defaultUpstream() Upstream {
	return Upstream{
		// Generous for LLM-backed agent endpoints; it bounds only the wait
		// for response headers, not a streaming body.
		Timeout: Duration(60 * time.Second),
		// Go's default of 2 churns connections under load (golang/go#6785).
		MaxIdleConnsPerHost: 128,
		// Below the keep-alive of common upstream servers (uvicorn 5s is
		// the exception: set 4s for it), so a reused socket is not reset.
		IdleConnTimeout: Duration(50 * time.Second),
		// A healthy upstream on the same network connects in milliseconds.
		DialTimeout: Duration(5 * time.Second),
	}
}

// DefaultShadowCPUBudget is shadow.cpu_budget when unset. The guard
// measures the workers' own time, about a quarter of what a comparison
// costs the machine once the tee on the serving path, the garbage
// collection of the copies and the extra wake-ups are counted (make bench:
// ~120 µs of serving CPU per comparison), so 0.05 keeps what shadowing
// costs a saturated machine under 10 % (5.6–7 % measured).
const DefaultShadowCPUBudget = 0.05

// Route authentication modes.
const (
	// AuthRequired rejects requests without credentials (401).
	AuthRequired = "required"
	// AuthOptional verifies credentials when present; anonymous callers
	// belong to tenancy.default_org.
	AuthOptional = "optional"
	// AuthNone does not look at credentials: the route is public.
	AuthNone = "none"
)

// Roles, from least to most privileged.
const (
	RoleViewer = "viewer"
	RoleMember = "member"
	RoleAdmin  = "admin"
	RoleOwner  = "owner"
)

// Roles returns the role names in increasing privilege.
func Roles() []string { return []string{RoleViewer, RoleMember, RoleAdmin, RoleOwner} }

// DefaultRoles returns the default permissions of each role (SPEC §4).
func DefaultRoles() map[string][]string {
	return map[string][]string{
		RoleViewer: {"read"},
		RoleMember: {"read", "write", "agents.run"},
		RoleAdmin:  {"read", "write", "agents.run", "members.manage", "projects.manage", "keys.manage"},
		RoleOwner:  {"read", "write", "agents.run", "members.manage", "projects.manage", "keys.manage", "org.manage"},
	}
}

// ApplyDefaults completes what Default cannot pre-fill: the elements of
// lists. Routes without shadow.sample_rate get 1 (shadow every request of
// a shadowed route), JWT issuers get the Supabase claim paths. Parse calls
// it; code that builds a Config from Default() calls it after adding
// routes or issuers. It is idempotent.
func ApplyDefaults(c *Config) {
	for i := range c.Routes {
		if c.Routes[i].Shadow.SampleRate == nil {
			one := 1.0
			c.Routes[i].Shadow.SampleRate = &one
		}
	}
	for i := range c.Auth.JWT {
		cl := &c.Auth.JWT[i].Claims
		// Standard and Supabase claim names: a Supabase access token works
		// as is; org and project live in app_metadata, which users cannot
		// edit (user_metadata they can).
		if cl.Subject == "" {
			cl.Subject = "sub"
		}
		if cl.Email == "" {
			cl.Email = "email"
		}
		if cl.Org == "" {
			cl.Org = "app_metadata.org_id"
		}
		if cl.Project == "" {
			cl.Project = "app_metadata.project_id"
		}
	}
}
