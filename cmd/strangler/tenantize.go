package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/migrations"
)

func newTenantizeCmd() *cobra.Command {
	var (
		databaseURL   string
		opts          migrations.TenantizeOptions
		dryRun        bool
		rollback      bool
		lockTimeout   time.Duration
		batchSize     int
		projectColumn bool
	)
	cmd := &cobra.Command{
		Use:   "tenantize --database-url URL --default-org SLUG [flags] TABLE...",
		Short: "Prepare legacy tables for multi-tenancy without downtime (org_id, backfill, constraints, RLS)",
		Long: `Prepare legacy tables for multi-tenancy without downtime.

For each TABLE (in --schema): add a nullable org_id (and project_id with
--project-column) whose default is the transaction's org (strangler.org_id)
or else the default org; backfill the default org in batches, each its own
short transaction; add CHECK (org_id IS NOT NULL) NOT VALID, VALIDATE it,
SET NOT NULL; CREATE INDEX CONCURRENTLY; add the foreign key to
strangler.organizations NOT VALID and VALIDATE it; protect the table with
the RLS template (migrations/templates/tenant_table_rls.sql); grant the
runtime role; verify (no NULL org_id, row count); record every step.

Statements that take a lock blocking writers wait at most --lock-timeout and
are retried, so legacy writers keep working. An interrupted run resumes.
--dry-run prints the SQL plan and changes nothing; --rollback undoes exactly
the recorded steps. Connect as the owner of the tables and of schema
strangler (after "strangler migrate up" and "strangler bootstrap").`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, tables []string) error {
			url, err := resolveDatabaseURL("tenantize", databaseURL)
			if err != nil {
				return err
			}
			if !rollback && opts.DefaultOrg == "" {
				return usageError("tenantize: --default-org is required")
			}
			if batchSize < 1 {
				return usageError("tenantize: --batch-size must be at least 1, got %d", batchSize)
			}
			if lockTimeout <= 0 {
				return usageError("tenantize: --lock-timeout must be positive, got %s", lockTimeout)
			}
			seen := map[string]bool{}
			for _, t := range tables {
				if seen[t] {
					return usageError("tenantize: table %q listed twice", t)
				}
				seen[t] = true
			}
			opts.BatchSize, opts.LockTimeout, opts.ProjectColumn = batchSize, lockTimeout, projectColumn
			out := cmd.OutOrStdout()
			opts.Logf = func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
			return withMigrationConn(cmd, url, func(ctx context.Context, conn *pgx.Conn) error {
				for _, table := range tables {
					if err := tenantizeOne(ctx, conn, out, table, opts, dryRun, rollback); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&databaseURL, "database-url", "", "PostgreSQL URL of the owner role (env "+envDatabaseURL+")")
	f.StringVar(&opts.DefaultOrg, "default-org", "", "slug of the org that owns every existing row (required unless --rollback)")
	f.StringVar(&opts.Schema, "schema", migrations.DefaultTenantizeSchema, "schema of the tables")
	f.BoolVar(&projectColumn, "project-column", false, "also add project_id with a foreign key (org_id, project_id) to strangler.projects")
	f.IntVar(&batchSize, "batch-size", migrations.DefaultTenantizeBatchSize, "rows per backfill transaction")
	f.DurationVar(&lockTimeout, "lock-timeout", migrations.DefaultLockTimeout, "longest wait for a lock that blocks writers before retrying")
	f.BoolVar(&dryRun, "dry-run", false, "print the plan (SQL) and change nothing")
	f.BoolVar(&rollback, "rollback", false, "undo exactly what tenantize did to the tables")
	return cmd
}

func tenantizeOne(ctx context.Context, conn *pgx.Conn, out io.Writer, table string, opts migrations.TenantizeOptions, dryRun, rollback bool) error {
	switch {
	case dryRun && rollback:
		plan, err := migrations.PlanRollbackTenantize(ctx, conn, table, opts)
		if err != nil {
			return fmt.Errorf("plan rollback of %q: %w", table, err)
		}
		printPlan(out, plan, "rollback")
	case dryRun:
		plan, err := migrations.PlanTenantize(ctx, conn, table, opts)
		if err != nil {
			return fmt.Errorf("plan tenantize of %q: %w", table, err)
		}
		printPlan(out, plan, "tenantize")
	case rollback:
		if _, err := migrations.RollbackTenantize(ctx, conn, table, opts); err != nil {
			return err
		}
	default:
		rep, err := migrations.Tenantize(ctx, conn, table, opts)
		if err != nil {
			return err
		}
		if rep.AlreadyDone {
			fmt.Fprintf(out, "%s: already tenantized (rows before %d, after %d); nothing to do\n",
				pgx.Identifier{rep.Schema, rep.Table}.Sanitize(), rep.RowsBefore, rep.RowsAfter)
		}
	}
	return nil
}

// printPlan prints a plan as runnable-looking SQL with step comments.
func printPlan(w io.Writer, p migrations.Plan, what string) {
	name := pgx.Identifier{p.Schema, p.Table}.Sanitize()
	fmt.Fprintf(w, "-- %s plan for %s", what, name)
	if p.DefaultOrgID != "" {
		fmt.Fprintf(w, " (default org %s)", p.DefaultOrgID)
	}
	fmt.Fprintln(w)
	for _, warning := range p.Warnings {
		fmt.Fprintf(w, "-- WARNING: %s\n", warning)
	}
	if p.AlreadyDone {
		fmt.Fprintln(w, "-- already tenantized: nothing to do")
		return
	}
	for _, s := range p.Steps {
		state := ""
		if s.Done {
			state = " (done)"
		}
		fmt.Fprintf(w, "\n-- step %s%s\n", s.Name, state)
		for _, sql := range s.SQL {
			sql = strings.TrimSpace(sql)
			if strings.HasPrefix(sql, "--") || strings.HasSuffix(sql, ";") {
				fmt.Fprintln(w, sql)
				continue
			}
			fmt.Fprintln(w, sql+";")
		}
	}
}
