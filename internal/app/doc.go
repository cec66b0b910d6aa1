// Package app composes a running strangler from its configuration: the
// stores (memory or PostgreSQL), the authentication stack, the flag
// provider and mode decider, the shadow engine, and the proxy server with
// every handler mounted — the built-in identity endpoints and tenant API on
// the public listener, the admin API (flags, kill switch, shadow reports,
// orgs, audit) behind admin authentication on the admin listener.
//
// `strangler serve` and `strangler demo` both build through New, so the demo
// runs exactly the code a production replica runs. The domain packages
// (tenancy, flags, shadow) never import each other; the adapters that let
// them meet live here and in proxy.
package app
