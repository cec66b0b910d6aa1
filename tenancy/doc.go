// Package tenancy is identity and tenant data: organizations (the
// tenants), projects, users, org and project memberships, invitations, API
// keys, refresh-token sessions, admin tokens and the audit log — and the
// authentication built on them (JWT and API-key verification, the built-in
// issuer, tenant context).
//
// # Data
//
// Store (store.go) is the one interface every consumer uses, with two
// implementations that pass one contract suite (tenancy/storetest):
//
//   - MemoryStore: maps behind an RWMutex, for one node, development and the
//     demo; loads the seed file of SPEC §4 (ParseSeed, LoadSeed).
//   - PostgresStore: pgx on schema `strangler`, connecting as the runtime
//     role strangler_app so row-level security backs every org-scoped
//     query (each runs after set_config('strangler.org_id', ...) in its own
//     transaction); cross-tenant lookups use the schema's SECURITY DEFINER
//     functions.
//
// Errors are the sentinels of errors.go (ErrNotFound, ErrConflict,
// ErrLastOwner, ErrForbidden, ErrInvalid, ErrRevoked, ErrTokenReused),
// checked with errors.Is. An entity of another org is ErrNotFound, exactly
// like a missing one.
//
// Both stores announce changes (ChangeNotifier): the memory store directly,
// PostgreSQL through LISTEN/NOTIFY on strangler_tenancy_changes, so caches
// of every replica drop revoked keys and changed memberships within a
// second.
//
//	store := tenancy.NewPostgresStore(pool)
//	defer store.Close()
//	cancel := store.Subscribe(cache.Invalidate) // ChangeAll first, then each change
//	defer cancel()
//	k, err := store.GetAPIKeyByPrefix(ctx, prefix)
//
// The store is not for the request hot path: lookups cost a round trip
// (PostgreSQL) or a map read under a lock (memory); authentication caches
// them and drops entries on changes.
//
// # Credentials
//
//   - API keys (apikey.go): sk_live_ + 12-char id + 43-char secret (base62,
//     ≈256 bits) + 6-char CRC-32 checksum. ParseAPIKey rejects a malformed
//     key without allocating or touching the store; only the prefix and
//     SHA-256 are stored.
//   - Admin tokens (admintoken.go): sat_ + secret + checksum, hashed the same
//     way; VerifyAdminToken checks format, then the store.
//   - Passwords (password.go): argon2id, OWASP parameters (19 MiB, t=2, p=1),
//     PHC strings; VerifyPassword is constant-time and refuses stored hashes
//     whose parameters would make a login unreasonably expensive.
//
// # Authentication and the tenant context
//
// AuthStack (authstack.go) is what the request pipeline needs, composed
// from the configuration; proxy.NewTenancyAuth adapts it to the proxy's
// hooks:
//
//	API key (configured headers, or Bearer sk_live_...)   authn_apikey.go
//	→ JWT: external issuers (Supabase, any JWKS) and the built-in issuer   jwt*.go, jwks.go
//	→ anonymous, where the route's auth policy allows it   authn_anonymous.go
//	→ tenant resolution in the precedence of SPEC §7 and the route's
//	  permission (role ∩ API-key scopes)   resolve.go, roles.go
//	→ just-in-time users for unknown external subjects   jit.go
//	→ X-Tenant-Assertion, signed by the built-in issuer's key   assertion.go
//
// The first authenticator that recognises a credential decides; an invalid
// credential is ErrInvalidCredentials (401) on every route, never silently
// anonymous. State shared between requests — the verified-token cache, the
// API-key, membership, org and project caches, the assertion cache, the
// session-revocation cache and the last-used writer's queue — is bounded,
// never held locked across I/O, and kept fresh by the store's change feed;
// while the feed is down every entry lives at most a second.
//
// # Built-in issuer and the tenant API
//
// Handlers (handlers_*.go) serve POST /auth/signup, /auth/login,
// /auth/refresh, /auth/logout and GET /auth/me (access tokens signed by
// Signer, signer.go, rotating keys published as a JWKS; opaque refresh
// tokens stored hashed, rotated on use, reuse outside a grace window
// revoking the family, refresh.go), and the tenant management API of SPEC
// §7 (/orgs, projects, members and invitations, API keys) with role checks,
// the same 404 for another org's resources as for missing ones, rate limits
// (ratelimit.go) and an audit entry for every change (audit.go).
//
// # Operations
//
// Bootstrap (bootstrap.go) creates the default org, the first platform
// admin and an admin token, idempotently; `strangler bootstrap` runs it.
package tenancy
