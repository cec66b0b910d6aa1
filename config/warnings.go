package config

import "fmt"

// Warnings returns advice about a valid configuration: choices that are
// legitimate but often unintended. They never stop the proxy from starting;
// `strangler config validate` prints them and `serve` logs them.
//
// A route table whose last route does not catch "/" is a warning, not an
// error: fronting only part of a service (say /api) is legitimate, and the
// other requests then get the proxy's 404 not_found instead of reaching
// the legacy service, which is what the warning spells out.
func Warnings(c *Config) []Problem {
	var out []Problem
	warn := func(path, format string, args ...any) {
		out = append(out, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if n := len(c.Routes); n > 0 && !catchesAll(c.Routes[n-1]) {
		warn(fmt.Sprintf("routes[%d]", n-1), "the last route does not catch \"/\" for every method: requests that match no route get 404 not_found instead of reaching the legacy service")
	}
	if c.Auth.Issuer.Enabled && c.Auth.Issuer.SigningKeyFile == "" {
		warn("auth.issuer.signing_key_file", "not set: a signing key is generated at start, so issued tokens die with the process and replicas cannot verify each other's tokens (fine for a demo only)")
	}
	if c.Server.DebugHeaders {
		warn("server.debug_headers", "responses carry X-Strangler-Backend and X-Strangler-Mode: they are no longer identical to the legacy service's")
	}
	if c.Admin.BootstrapToken == "" {
		warn("admin.bootstrap_token", "not set: the admin API accepts only platform-admin user tokens")
	}
	if c.Store.Driver == "memory" {
		warn("store.driver", "memory: data lives in this process only; use postgres to run several replicas or keep data across restarts")
	}
	if c.Upstreams.New.URL == "" {
		warn("upstreams.new.url", "not set: every request is served by legacy whatever the flags say, and nothing is shadowed")
	}
	if c.Upstreams.Legacy.URL != "" && c.Upstreams.Legacy.URL == c.Upstreams.New.URL {
		warn("upstreams.new.url", "is the same as upstreams.legacy.url: shadow comparisons compare the legacy service with itself")
	}
	for i, r := range c.Routes {
		if r.Shadow.UnsafeMethods {
			warn(fmt.Sprintf("routes[%d].shadow.unsafe_methods", i), "POST, PUT, PATCH and DELETE are sent to the other backend too: it must honour X-Shadow-Request: true without side effects")
		}
	}
	return out
}

// catchesAll reports whether a route matches every request.
func catchesAll(r Route) bool {
	if len(r.Methods) != 0 {
		return false
	}
	for _, p := range r.Paths {
		if p == "/" {
			return true
		}
	}
	return false
}
