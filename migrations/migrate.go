package migrations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

// Schema is the PostgreSQL schema that holds every strangler object.
const Schema = "strangler"

// VersionTable is tern's version table. It lives in our own schema: the
// legacy database may use tern too, with its default public.schema_version.
const VersionTable = Schema + ".schema_version"

// LockKey is the session advisory lock held around every run of the
// migrator (tern takes its own lock inside; ours also covers creating the
// schema before tern's version table exists). It is per database.
const LockKey int64 = 0x5374_726e_4d69_6772 // "StrnMigr"

// ErrDatabaseNewer means the database was migrated by a newer binary: it
// knows migrations this binary does not.
var ErrDatabaseNewer = errors.New("database schema is newer than this binary")

// Progress is called before each migration step runs.
type Progress func(version int32, name, direction string)

// Result says what a run did.
type Result struct {
	// From is the version before the run, To the version after it.
	From, To int32
}

// MigrationStatus is one embedded migration and whether it is applied.
type MigrationStatus struct {
	Version int32
	Name    string
	Applied bool
}

// Status is the state of a database relative to the embedded migrations.
type Status struct {
	// Current is the applied version (0: nothing applied, or no version table).
	Current int32
	// Latest is the highest embedded version.
	Latest     int32
	Migrations []MigrationStatus
}

// Pending reports how many embedded migrations are not applied.
func (s Status) Pending() int32 {
	if s.Current >= s.Latest {
		return 0
	}
	return s.Latest - s.Current
}

// Up applies every pending migration.
func Up(ctx context.Context, conn *pgx.Conn, progress Progress) (Result, error) {
	return run(ctx, conn, progress, func(m *migrate.Migrator, current int32) (int32, error) {
		return int32(len(m.Migrations)), nil
	})
}

// UpTo applies pending migrations up to and including version. It never
// goes down: a target below the current version is an error.
func UpTo(ctx context.Context, conn *pgx.Conn, version int32, progress Progress) (Result, error) {
	return run(ctx, conn, progress, func(m *migrate.Migrator, current int32) (int32, error) {
		if version < current {
			return 0, fmt.Errorf("target version %d is below the current version %d: use Down", version, current)
		}
		if version > int32(len(m.Migrations)) {
			return 0, fmt.Errorf("target version %d: only %d migrations exist", version, len(m.Migrations))
		}
		return version, nil
	})
}

// Down reverts the last steps applied migrations (fewer if fewer are
// applied). Down never drops the strangler schema, its version table, or
// the cluster-wide runtime role.
func Down(ctx context.Context, conn *pgx.Conn, steps int, progress Progress) (Result, error) {
	if steps < 1 {
		return Result{}, fmt.Errorf("down: steps must be at least 1, got %d", steps)
	}
	return run(ctx, conn, progress, func(m *migrate.Migrator, current int32) (int32, error) {
		target := int64(current) - int64(steps)
		if target < 0 {
			target = 0
		}
		return int32(target), nil
	})
}

// ReadStatus reads the applied version without changing anything (it creates
// neither the schema nor the version table).
func ReadStatus(ctx context.Context, conn *pgx.Conn) (Status, error) {
	m, err := loadMigrator(ctx, nil)
	if err != nil {
		return Status{}, err
	}
	var current int32
	var table *string
	if err := conn.QueryRow(ctx, "select to_regclass($1)::text", VersionTable).Scan(&table); err != nil {
		return Status{}, fmt.Errorf("look up %s: %w", VersionTable, err)
	}
	if table != nil {
		if err := conn.QueryRow(ctx, "select coalesce(max(version), 0) from "+VersionTable).Scan(&current); err != nil {
			return Status{}, fmt.Errorf("read schema version: %w", err)
		}
	}
	st := Status{Current: current, Latest: int32(len(m.Migrations))}
	for _, mig := range m.Migrations {
		st.Migrations = append(st.Migrations, MigrationStatus{
			Version: mig.Sequence,
			Name:    mig.Name,
			Applied: mig.Sequence <= current,
		})
	}
	if current > st.Latest {
		return st, fmt.Errorf("%w: database at version %d, binary knows %d", ErrDatabaseNewer, current, st.Latest)
	}
	return st, nil
}

// Latest is the highest embedded migration version.
func Latest() int32 {
	m, err := loadMigrator(context.Background(), nil)
	if err != nil {
		return 0
	}
	return int32(len(m.Migrations))
}

// run holds the advisory lock, makes sure the schema exists, and migrates to
// the version chosen by target (called under the lock with the current
// version).
func run(ctx context.Context, conn *pgx.Conn, progress Progress, target func(*migrate.Migrator, int32) (int32, error)) (res Result, err error) {
	if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", LockKey); err != nil {
		return Result{}, fmt.Errorf("acquire migration lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done: the lock belongs to the session and
		// would otherwise outlive this call on a pooled connection.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, "select pg_advisory_unlock($1)", LockKey); uerr != nil && err == nil {
			err = fmt.Errorf("release migration lock: %w", uerr)
		}
	}()

	if err := ensureSchema(ctx, conn); err != nil {
		return Result{}, err
	}
	m, err := loadMigrator(ctx, conn)
	if err != nil {
		return Result{}, err
	}
	if progress != nil {
		m.OnStart = func(seq int32, name, direction, _ string) { progress(seq, name, direction) }
	}
	current, err := m.GetCurrentVersion(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("read schema version: %w", err)
	}
	res.From, res.To = current, current
	if current > int32(len(m.Migrations)) {
		return res, fmt.Errorf("%w: database at version %d, binary knows %d", ErrDatabaseNewer, current, len(m.Migrations))
	}
	to, err := target(m, current)
	if err != nil {
		return res, err
	}
	if to == current {
		return res, nil
	}
	if err := m.MigrateTo(ctx, to); err != nil {
		// Report where the database stopped.
		if v, verr := m.GetCurrentVersion(ctx); verr == nil {
			res.To = v
		}
		return res, fmt.Errorf("migrate from %d to %d: %w", current, to, err)
	}
	res.To = to
	return res, nil
}

// ensureSchema creates the strangler schema when absent. Existence is
// checked first because CREATE SCHEMA IF NOT EXISTS still demands the
// CREATE privilege on the database.
func ensureSchema(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, "select exists (select 1 from pg_catalog.pg_namespace where nspname = $1)", Schema).Scan(&exists); err != nil {
		return fmt.Errorf("look up schema %s: %w", Schema, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "create schema if not exists "+pgx.Identifier{Schema}.Sanitize()); err != nil {
		return fmt.Errorf("create schema %s: %w", Schema, err)
	}
	return nil
}

// loadMigrator builds a tern migrator over the embedded files. With a nil
// conn it only parses them (tern then touches no database).
func loadMigrator(ctx context.Context, conn *pgx.Conn) (*migrate.Migrator, error) {
	m, err := migrate.NewMigratorEx(ctx, conn, VersionTable, &migrate.MigratorOptions{})
	if err != nil {
		return nil, fmt.Errorf("prepare version table %s: %w", VersionTable, err)
	}
	if err := m.LoadMigrations(sqlFiles); err != nil {
		return nil, fmt.Errorf("load embedded migrations: %w", err)
	}
	return m, nil
}
