// Package migrations holds the embedded SQL migrations of the strangler
// schema, the runner that applies them, the runtime-role safety check, and
// tenantize, which prepares legacy tables for multi-tenancy.
//
// Everything lives in the PostgreSQL schema "strangler", so nothing collides
// with the legacy application's tables in "public". Migrations are tern
// files (up SQL, the line "---- create above / drop below ----", down SQL)
// named NNN_description.sql; every *.sql file at the top of this directory is
// embedded and applied in order, whoever added it.
//
// The version table is strangler.schema_version. The runner creates the
// schema before tern creates the version table, and the down step of 001
// never drops the schema. The legacy database may already use tern (and its
// default table public.schema_version); a schema of our own cannot collide.
//
// Concurrency: Up, UpTo, Down and Status take a session advisory lock
// (LockKey) on the connection for their whole run, and tern takes its own
// inside it, so several processes may run `migrate up` at once: the first
// applies, the others wait and then find nothing to do. Advisory locks are
// per database and per session: run migrations on a direct connection, not
// through a transaction-pooling proxy such as PgBouncer in transaction mode.
//
// Runtime model (see 007_enable_row_level_security.sql): the application
// connects as strangler_app, which is NOSUPERUSER, NOBYPASSRLS and owns
// nothing; each unit of tenant work is a transaction beginning with
//
//	select set_config('strangler.org_id', $1, true), set_config('strangler.user_id', $2, true)
//
// and row-level security does the rest. CheckRuntimeRole verifies the role
// at start. Lookups that must cross tenants are SECURITY DEFINER functions:
//
//	strangler.find_organization_by_id(uuid)           setof organizations
//	strangler.find_organization_by_slug(text)         setof organizations
//	strangler.list_organizations(after_slug, limit)   setof organizations
//	strangler.find_user_by_email(text)                setof users
//	strangler.find_user_by_external_subject(text)     setof users
//	strangler.user_memberships(user_id)               (org_id, org_slug, org_name, role, created_at, updated_at)
//	strangler.find_api_key_by_prefix(text)            setof api_keys
//	strangler.touch_api_keys_last_used(uuid[], ts)    integer
//	strangler.pending_invitations_for_email(text)     setof org_invitations
//	strangler.list_audit_logs(org_id, before_id, n [, actor_id, action, target_type, target_id, since, until])
//	strangler.find_session_by_token_hash(bytea)       setof sessions
//	strangler.authenticate_admin_token(bytea)         (id, name, user_id, single_use, created_at, expires_at)
//	strangler.revoke_admin_token(uuid)                boolean
//	strangler.list_admin_tokens()                     admin tokens without hashes
//
// Changes to tenancy rows are published on the notification channel
// strangler_tenancy_changes as {"table","op","id","org_id","user_id"}.
package migrations
