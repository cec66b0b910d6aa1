package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/7cycles-ai/strangler/config"
	"github.com/7cycles-ai/strangler/flags"
	"github.com/7cycles-ai/strangler/migrations"
	"github.com/7cycles-ai/strangler/shadow"
	"github.com/7cycles-ai/strangler/tenancy"
)

// stores are the three data stores of one driver.
type stores struct {
	tenancy tenancy.Store
	flags   flags.Store
	shadow  shadow.Store
	// pool is the PostgreSQL pool (nil for memory); ping is the readiness
	// check of the store.
	pool  *pgxpool.Pool
	ping  func(context.Context) error
	close func()
}

// openStores opens the stores of cfg.Store. A postgres store is refused when
// its role would bypass row-level security: RLS only protects tenants from
// application bugs if the application cannot skip it.
func openStores(ctx context.Context, cfg *config.Config, now nowFunc) (*stores, error) {
	switch cfg.Store.Driver {
	case "", "memory":
		ts := tenancy.NewMemoryStore(tenancy.WithMemoryClock(now))
		return &stores{
			tenancy: ts,
			flags:   flags.NewMemoryStore(now),
			shadow:  shadow.NewMemoryStore(shadow.MemoryStoreOptions{}),
			ping:    func(context.Context) error { return nil },
			close:   func() {},
		}, nil
	case "postgres":
		pool, err := pgxpool.New(ctx, cfg.Store.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("store.database_url: %w", err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("connect to store: %w", err)
		}
		conn, err := pool.Acquire(ctx)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("connect to store: %w", err)
		}
		err = migrations.CheckRuntimeRole(ctx, conn.Conn())
		if err == nil {
			err = checkMigrated(ctx, conn.Conn())
		}
		conn.Release()
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("store: %w", err)
		}
		ts := tenancy.NewPostgresStore(pool)
		fs := flags.NewPostgresStore(pool, flags.PostgresStoreOptions{})
		ss := shadow.NewPostgresStore(pool, shadow.PostgresStoreOptions{})
		return &stores{
			tenancy: ts,
			flags:   fs,
			shadow:  ss,
			pool:    pool,
			ping:    pool.Ping,
			close: func() {
				ts.Close()
				pool.Close()
			},
		}, nil
	default:
		return nil, fmt.Errorf("store.driver: unknown driver %q", cfg.Store.Driver)
	}
}

// errNotMigrated tells the operator what to run.
var errNotMigrated = errors.New("the database schema is not up to date: run `strangler migrate up --database-url URL` as the schema owner")

// checkMigrated refuses a database whose schema is older than the binary.
func checkMigrated(ctx context.Context, conn *pgx.Conn) error {
	st, err := migrations.ReadStatus(ctx, conn)
	if err != nil {
		return fmt.Errorf("%w (%v)", errNotMigrated, err)
	}
	if st.Current < st.Latest {
		return fmt.Errorf("%w: database at version %d, this binary needs %d", errNotMigrated, st.Current, st.Latest)
	}
	return nil
}
