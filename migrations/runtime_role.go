package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// AppRole is the runtime role the application connects as.
const AppRole = "strangler_app"

// ErrUnsafeRuntimeRole means the connecting role would not be bound by
// row-level security: it is a superuser, has BYPASSRLS, or owns (or is a
// member of the owner of) strangler tables.
var ErrUnsafeRuntimeRole = errors.New("connecting role bypasses row-level security")

// Querier is what CheckRuntimeRole needs: *pgx.Conn, *pgxpool.Pool and
// pgx.Tx all satisfy it.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CheckRuntimeRole fails with ErrUnsafeRuntimeRole when the connecting role
// would skip row-level security, naming every reason. `serve` calls it
// before using a postgres store: RLS only protects tenants from application
// bugs if the application cannot bypass it.
func CheckRuntimeRole(ctx context.Context, q Querier) error {
	var (
		role      string
		super     bool
		bypassRLS bool
		owned     []string
	)
	err := q.QueryRow(ctx, `
		select r.rolname, r.rolsuper, r.rolbypassrls,
		       coalesce((select array_agg(c.relname::text order by c.relname)
		                 from pg_catalog.pg_class c
		                 join pg_catalog.pg_namespace n on n.oid = c.relnamespace
		                 where n.nspname = $1
		                   and c.relkind in ('r', 'p')
		                   and pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE')), '{}')
		from pg_catalog.pg_roles r
		where r.rolname = current_user`, Schema).Scan(&role, &super, &bypassRLS, &owned)
	if err != nil {
		return fmt.Errorf("inspect connecting role: %w", err)
	}
	var reasons []string
	if super {
		reasons = append(reasons, "is a superuser")
	}
	if bypassRLS {
		reasons = append(reasons, "has BYPASSRLS")
	}
	if len(owned) > 0 {
		reasons = append(reasons, fmt.Sprintf("owns %d strangler tables (e.g. %s)", len(owned), owned[0]))
	}
	if len(reasons) > 0 {
		return fmt.Errorf("%w: role %q %s; connect as %s (NOSUPERUSER, NOBYPASSRLS, not the owner)",
			ErrUnsafeRuntimeRole, role, strings.Join(reasons, ", "), AppRole)
	}
	return nil
}
