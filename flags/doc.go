// Package flags decides the routing mode of each (organization, route
// group) pair through OpenFeature (SPEC §8) and gives ops the controls to
// change it (SPEC §11).
//
// # Modes and the decision
//
// A Mode is legacy, shadow, canary or new. Flag "route.<route group>"
// (string) holds it; flag "strangler-enabled" (boolean, default true) is
// the global kill switch: false sends everything to legacy. A Decider
// evaluates both through an OpenFeature client of its own isolated API
// with the evaluation context targetingKey = organization id and the
// attributes org (slug), project, user, route and method. Any failure
// yields legacy, counted in strangler_flag_fallbacks_total{flag,code} and
// logged at most once per 10 s per cause.
//
//	store := flags.NewMemoryStore(nil)
//	d, _ := flags.NewDecider(flags.DeciderOptions{
//		Provider: flags.NewStoreProvider(store, flags.StoreProviderOptions{}),
//		Routes:   []string{"qa", "default"},
//	})
//	mode, _ := d.Decide(ctx, flags.Request{OrgID: id, OrgSlug: "acme", Route: "qa", Method: "GET"})
//
// # Providers
//
// StoreProvider serves from an immutable in-memory snapshot of a Store:
// per-org override, else the rule (allow-lists, then a sticky rollout where
// RolloutBucket = FNV-1a 32 of flagKey+"/"+orgID mod 10000 is below
// percent×100, then the default variant), else legacy. The snapshot is
// reloaded when the Store's change feed reports a change (MemoryStore: in
// process; PostgresStore: LISTEN/NOTIFY through jackc/pgxlisten with a full
// resync on every reconnect) and every 30 s as a safety net. While the
// feed is down the provider is STALE and answers from the last state with
// reason CACHED. With a StoreProvider a decision allocates nothing.
//
// FileProvider serves a flagd flag-definition file (state, variants,
// defaultVariant, targeting in JSON Logic with fractional, starts_with,
// ends_with, in, ==, $evaluators/$ref, metadata), reloaded when the file
// changes; an invalid file keeps the last good state and shows in Err.
//
// # Ops control
//
// NewAdminHandler serves /admin/api/flags..., /admin/api/kill-switch for
// the admin listener, which authenticates; every change is recorded with
// actor, before, after and reason, and listed by the history endpoint.
// AdminClient is the matching client the CLI uses.
//
// # Shared state
//
// A Decider, a provider and a Store are safe for concurrent use. The only
// process-wide state touched is jsonlogic's operator table, filled once at
// package initialisation with fractional, starts_with and ends_with.
package flags
