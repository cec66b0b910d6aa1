package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/7cycles-ai/strangler/migrations"
)

const (
	// EnvURL names the environment variable with the superuser URL.
	EnvURL = "STRANGLER_TEST_DATABASE_URL"
	// DefaultURL is used when EnvURL is unset.
	DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	// OwnerRole owns every test database and runs the migrations.
	OwnerRole = "strangler_test_owner"
	// AppRole is the runtime role the app URL connects as.
	AppRole = migrations.AppRole

	// templatePrefix names template databases: prefix + 16 hex of the digest.
	templatePrefix = "strangler_tpl_"
	// templateLockKey guards template databases across test binaries.
	templateLockKey int64 = 0x5374_726e_5470_6c31 // "StrnTpl1"
	// startHint is how to start the server on the development machines.
	startHint = "start PostgreSQL with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
	// opTimeout bounds every administrative operation.
	opTimeout = 2 * time.Minute
)

// AdminURL is the superuser URL from EnvURL, or DefaultURL.
func AdminURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase creates an empty database for t, owned by OwnerRole, and
// returns a URL that connects to it as OwnerRole. It is dropped at cleanup.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	admin := connectAdmin(ctx, t)
	defer admin.Close(context.Background())
	ensureOwnerRole(ctx, t, admin)

	name := databaseName(t)
	exec(ctx, t, admin, "create database "+ident(name)+" owner "+ident(OwnerRole))
	scheduleDrop(t, name)
	return roleURL(t, name, OwnerRole)
}

// Migrated creates a database for t with every embedded migration applied.
// ownerURL connects as the owner of the schema (OwnerRole); appURL connects
// as strangler_app, which row-level security binds. Dropped at cleanup.
func Migrated(t testing.TB) (ownerURL, appURL string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	admin := connectAdmin(ctx, t)
	defer admin.Close(context.Background())

	tpl := templatePrefix + migrations.Digest()[:16]
	name := databaseName(t)

	// Fast path: the template exists; copy it under the shared lock so no
	// one drops it meanwhile.
	exec(ctx, t, admin, "select pg_advisory_lock_shared($1)", templateLockKey)
	ready := templateReady(ctx, t, admin, tpl)
	if ready {
		createFromTemplate(ctx, t, admin, name, tpl)
	}
	exec(ctx, t, admin, "select pg_advisory_unlock_shared($1)", templateLockKey)

	if !ready {
		exec(ctx, t, admin, "select pg_advisory_lock($1)", templateLockKey)
		func() {
			defer exec(context.Background(), t, admin, "select pg_advisory_unlock($1)", templateLockKey)
			if !templateReady(ctx, t, admin, tpl) {
				buildTemplate(ctx, t, admin, tpl)
			}
			createFromTemplate(ctx, t, admin, name, tpl)
		}()
	}
	scheduleDrop(t, name)
	return roleURL(t, name, OwnerRole), roleURL(t, name, AppRole)
}

// Pool opens a pgx pool on url, closed at cleanup.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: open pool: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		t.Fatalf("pgtest: ping %s: %v", redact(url), err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Conn opens one connection on url, closed at cleanup.
func Conn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect %s: %v", redact(url), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// templateReady reports whether tpl exists and was completed (a template is
// marked IS_TEMPLATE only after its migrations succeeded).
func templateReady(ctx context.Context, t testing.TB, admin *pgx.Conn, tpl string) bool {
	t.Helper()
	var isTemplate bool
	err := admin.QueryRow(ctx, "select datistemplate from pg_catalog.pg_database where datname = $1", tpl).Scan(&isTemplate)
	if errors.Is(err, pgx.ErrNoRows) {
		return false
	}
	if err != nil {
		t.Fatalf("pgtest: look up template %s: %v", tpl, err)
	}
	return isTemplate
}

// buildTemplate (under the exclusive lock) drops stale templates and any
// half-built tpl, then creates tpl and migrates it as OwnerRole.
func buildTemplate(ctx context.Context, t testing.TB, admin *pgx.Conn, tpl string) {
	t.Helper()
	ensureOwnerRole(ctx, t, admin)
	rows, err := admin.Query(ctx, "select datname from pg_catalog.pg_database where datname like $1", templatePrefix+"%")
	if err != nil {
		t.Fatalf("pgtest: list templates: %v", err)
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("pgtest: list templates: %v", err)
	}
	for _, db := range stale {
		exec(ctx, t, admin, "alter database "+ident(db)+" is_template false")
		exec(ctx, t, admin, "drop database if exists "+ident(db)+" with (force)")
	}

	exec(ctx, t, admin, "create database "+ident(tpl)+" owner "+ident(OwnerRole))
	conn, err := pgx.Connect(ctx, roleURL(t, tpl, OwnerRole))
	if err != nil {
		t.Fatalf("pgtest: connect to template %s as %s: %v", tpl, OwnerRole, err)
	}
	_, err = migrations.Up(ctx, conn, nil)
	conn.Close(context.Background())
	if err != nil {
		t.Fatalf("pgtest: migrate template %s: %v", tpl, err)
	}
	// No connections to a template: CREATE DATABASE ... TEMPLATE refuses a
	// source with other sessions.
	exec(ctx, t, admin, "alter database "+ident(tpl)+" allow_connections false")
	exec(ctx, t, admin, "alter database "+ident(tpl)+" is_template true")
}

// createFromTemplate copies tpl into name, retrying while the source is
// briefly in use (a session that has just closed may still be exiting).
func createFromTemplate(ctx context.Context, t testing.TB, admin *pgx.Conn, name, tpl string) {
	t.Helper()
	sql := "create database " + ident(name) + " template " + ident(tpl) + " owner " + ident(OwnerRole)
	for attempt := 0; ; attempt++ {
		_, err := admin.Exec(ctx, sql)
		if err == nil {
			return
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" && attempt < 20 {
			time.Sleep(250 * time.Millisecond)
			continue
		}
		t.Fatalf("pgtest: create database %s from template %s: %v", name, tpl, err)
	}
}

// ensureOwnerRole creates OwnerRole if absent (roles are cluster-wide:
// tolerate a concurrent creation).
func ensureOwnerRole(ctx context.Context, t testing.TB, admin *pgx.Conn) {
	t.Helper()
	exec(ctx, t, admin, `
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '`+OwnerRole+`') THEN
    BEGIN
      CREATE ROLE `+OwnerRole+` LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$`)
}

// scheduleDrop drops the database at cleanup, even if sessions remain.
func scheduleDrop(t testing.TB, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer admin.Close(context.Background())
		if _, err := admin.Exec(ctx, "drop database if exists "+ident(name)+" with (force)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
}

func connectAdmin(ctx context.Context, t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("pgtest: cannot connect to PostgreSQL at %s (%s): %v\n%s",
			redact(AdminURL()), EnvURL, err, startHint)
	}
	return conn
}

func exec(ctx context.Context, t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", strings.TrimSpace(firstLine(sql)), err)
	}
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// databaseName is "t_" + the sanitized test name + a random suffix, within
// PostgreSQL's 63-byte identifier limit.
func databaseName(t testing.TB) string {
	t.Helper()
	base := unsafeChars.ReplaceAllString(strings.ToLower(t.Name()), "_")
	base = strings.Trim(base, "_")
	if len(base) > 40 {
		base = base[:40]
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: random: %v", err)
	}
	return "t_" + base + "_" + hex.EncodeToString(b[:])
}

// roleURL is the admin URL pointed at database db, connecting as role
// without a password.
func roleURL(t testing.TB, db, role string) string {
	t.Helper()
	u, err := url.Parse(AdminURL())
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL, got %q", EnvURL, redact(AdminURL()))
	}
	u.User = url.User(role)
	u.Path = "/" + db
	u.RawPath = ""
	return u.String()
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// redact hides a password in a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
