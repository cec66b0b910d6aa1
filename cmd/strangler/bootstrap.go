package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/tenancy"
)

func newBootstrapCmd() *cobra.Command {
	var (
		databaseURL string
		in          tenancy.BootstrapInput
	)
	cmd := &cobra.Command{
		Use:   "bootstrap --database-url URL --org-slug SLUG --org-name NAME --admin-email EMAIL",
		Short: "Create the default org and the first platform admin; print a one-time admin token",
		Long: `Prepare a migrated database: the default org (the one that owns all
pre-migration data, tenancy.default_org), the first platform admin as its
owner, and an admin token for the admin API.

The token is printed once, alone on standard output, so it can be captured:
  STRANGLER_ADMIN_TOKEN=$(strangler bootstrap ...)
Only its SHA-256 is stored. Progress goes to standard error.

Idempotent: a second run finds everything in place, creates nothing and
prints no token (the first one cannot be shown again). --new-token issues a
fresh token and revokes the earlier bootstrap tokens — for a lost or leaked
token. A run interrupted half-way is completed by the next one.

Runs through the tenancy store and works as the runtime role strangler_app
(row-level security stays on); the owner role works too. Run
"strangler migrate up" first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if databaseURL == "" {
				databaseURL = os.Getenv(envDatabaseURL)
			}
			var missing []string
			for _, f := range []struct{ name, value string }{
				{"--database-url", databaseURL}, {"--org-slug", in.OrgSlug}, {"--org-name", in.OrgName}, {"--admin-email", in.AdminEmail},
			} {
				if f.value == "" {
					missing = append(missing, f.name)
				}
			}
			if len(missing) > 0 {
				return usageError("bootstrap: missing %s", strings.Join(missing, ", "))
			}
			if err := in.Validate(); err != nil {
				return usageError("bootstrap: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
			}
			cfg, err := pgxpool.ParseConfig(databaseURL)
			if err != nil {
				return usageError("bootstrap: --database-url: %v", err)
			}
			cfg.MaxConns = 2
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*connectTimeout)
			defer cancel()
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				return fmt.Errorf("bootstrap: connect: %w", err)
			}
			defer pool.Close()
			if err := pool.Ping(ctx); err != nil {
				return fmt.Errorf("bootstrap: connect: %w", err)
			}
			store := tenancy.NewPostgresStore(pool)
			defer store.Close()

			res, created, err := tenancy.Bootstrap(ctx, store, in)
			switch {
			case errors.Is(err, tenancy.ErrInvalid):
				return usageError("%v", err)
			case isMissingSchema(err):
				return fmt.Errorf("%w (is the database migrated? run: strangler migrate up)", err)
			case err != nil:
				return err
			}
			report(cmd, res, created)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&databaseURL, "database-url", "", "PostgreSQL URL (env "+envDatabaseURL+"); the runtime role strangler_app is enough")
	f.StringVar(&in.OrgSlug, "org-slug", "", "slug of the default org, e.g. legacy (tenancy.default_org)")
	f.StringVar(&in.OrgName, "org-name", "", "display name of the default org (kept if the org exists)")
	f.StringVar(&in.AdminEmail, "admin-email", "", "email of the first platform admin")
	f.BoolVar(&in.NewToken, "new-token", false, "issue a fresh admin token even if bootstrap already ran (revokes the earlier bootstrap tokens)")
	return cmd
}

// report prints what happened to standard error and the token, if any,
// alone on standard output.
func report(cmd *cobra.Command, res tenancy.BootstrapResult, created bool) {
	w := cmd.ErrOrStderr()
	state := func(b bool) string {
		if b {
			return "created"
		}
		return "exists"
	}
	fmt.Fprintf(w, "bootstrap: org %q (%s): %s\n", res.Org.Slug, res.Org.ID, state(res.CreatedOrg))
	fmt.Fprintf(w, "bootstrap: admin %s (%s): %s; platform admin; owner of %q\n", res.Admin.Email, res.Admin.ID, state(res.CreatedAdmin), res.Org.Slug)
	switch {
	case res.Token != "":
		if res.RevokedTokens > 0 {
			fmt.Fprintf(w, "bootstrap: revoked %d earlier bootstrap token(s)\n", res.RevokedTokens)
		}
		fmt.Fprintf(w, "bootstrap: admin token %s issued; it is shown once, below — store it now (e.g. as STRANGLER_ADMIN_TOKEN)\n", res.TokenID)
		fmt.Fprintln(cmd.OutOrStdout(), res.Token)
	case !created:
		fmt.Fprintln(w, "bootstrap: already done; nothing created, no token shown (--new-token issues a fresh one and revokes the old)")
	}
}

// isMissingSchema recognises "relation/function does not exist": the
// database was not migrated.
func isMissingSchema(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42883" || pe.Code == "3F000")
}
