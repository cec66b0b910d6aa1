// Package pgtest gives tests their own PostgreSQL databases, so test
// packages run in parallel against the one real server.
//
// The server is reached through STRANGLER_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), a superuser
// URL used only to create roles and databases. Tests never run as that
// superuser:
//
//   - NewDatabase returns an empty database owned by the test owner role
//     (OwnerRole: LOGIN, CREATEROLE, NOSUPERUSER, NOBYPASSRLS), as a URL that
//     connects as that role — the way a migration role is set up in
//     production, so code that only works as a superuser fails here too.
//   - Migrated returns a database with every embedded migration applied: the
//     owner URL as above, and an app URL that connects as strangler_app,
//     which row-level security binds.
//
// Both databases are dropped (WITH (FORCE)) when the test ends. Roles and
// passwords: the roles have no password, so the server must trust local TCP
// connections (pg_hba.conf "host all all 127.0.0.1/32 trust"), as in CI.
//
// Speed: the migrations run once per distinct set of migration files into a
// template database named after migrations.Digest(); each Migrated call is
// then a CREATE DATABASE ... TEMPLATE (a file copy). Concurrent test binaries
// coordinate through advisory locks on the admin database: building a
// template (and dropping stale ones) takes the lock exclusively, copying one
// takes it shared.
package pgtest
