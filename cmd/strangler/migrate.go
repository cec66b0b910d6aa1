package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/migrations"
)

// envDatabaseURL is the fallback for --database-url.
const envDatabaseURL = "STRANGLER_DATABASE_URL"

// connectTimeout bounds connecting to PostgreSQL from the operations commands.
const connectTimeout = 15 * time.Second

func newMigrateCmd() *cobra.Command {
	var databaseURL string
	cmd := &cobra.Command{
		Use:   "migrate up|down|status",
		Short: "Apply, revert or list the embedded SQL migrations (under an advisory lock)",
		Long: `Apply, revert or list the embedded SQL migrations of schema "strangler".

Runs on one direct connection under a PostgreSQL advisory lock, so several
processes may run "migrate up" at once. Connect as the role that owns the
schema (not the runtime role strangler_app). "down" never drops the schema,
its version table or the cluster-wide role strangler_app.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("migrate: missing subcommand: up, down or status")
		},
	}
	cmd.PersistentFlags().StringVar(&databaseURL, "database-url", "", "PostgreSQL URL of the owner role (env "+envDatabaseURL+")")

	var to int32
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration (or up to --to)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("to") && to < 1 {
				return usageError("migrate up: --to must be at least 1, got %d", to)
			}
			return withMigrationConn(cmd, databaseURL, func(ctx context.Context, conn *pgx.Conn) error {
				progress := printProgress(cmd.OutOrStdout())
				var res migrations.Result
				var err error
				if cmd.Flags().Changed("to") {
					res, err = migrations.UpTo(ctx, conn, to, progress)
				} else {
					res, err = migrations.Up(ctx, conn, progress)
				}
				if err != nil {
					return fmt.Errorf("migrate up: %w", err)
				}
				printResult(cmd.OutOrStdout(), res)
				return nil
			})
		},
	}
	up.Flags().Int32Var(&to, "to", 0, "stop at this version instead of the latest")

	var steps int
	down := &cobra.Command{
		Use:   "down",
		Short: "Revert the last --steps migrations (default 1)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if steps < 1 {
				return usageError("migrate down: --steps must be at least 1, got %d", steps)
			}
			return withMigrationConn(cmd, databaseURL, func(ctx context.Context, conn *pgx.Conn) error {
				res, err := migrations.Down(ctx, conn, steps, printProgress(cmd.OutOrStdout()))
				if err != nil {
					return fmt.Errorf("migrate down: %w", err)
				}
				printResult(cmd.OutOrStdout(), res)
				return nil
			})
		},
	}
	down.Flags().IntVar(&steps, "steps", 1, "number of migrations to revert")

	status := &cobra.Command{
		Use:   "status",
		Short: "List the embedded migrations and which are applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withMigrationConn(cmd, databaseURL, func(ctx context.Context, conn *pgx.Conn) error {
				st, err := migrations.ReadStatus(ctx, conn)
				printStatus(cmd.OutOrStdout(), st)
				if err != nil {
					return fmt.Errorf("migrate status: %w", err)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(up, down, status)
	return cmd
}

// resolveDatabaseURL is --database-url, else STRANGLER_DATABASE_URL.
func resolveDatabaseURL(cmdName, flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if env := os.Getenv(envDatabaseURL); env != "" {
		return env, nil
	}
	return "", usageError("%s: --database-url (or %s) is required", cmdName, envDatabaseURL)
}

// withMigrationConn opens one direct connection (advisory locks are per
// session) and runs fn; the command's context cancels it.
func withMigrationConn(cmd *cobra.Command, flagURL string, fn func(context.Context, *pgx.Conn) error) error {
	url, err := resolveDatabaseURL(cmd.CommandPath(), flagURL)
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return usageError("%s: --database-url: %v", cmd.CommandPath(), err)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connect to %s: %w", cfg.Host, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(ctx, conn)
}

func printProgress(w io.Writer) migrations.Progress {
	return func(version int32, name, direction string) {
		fmt.Fprintf(w, "%s %03d %s\n", direction, version, name)
	}
}

func printResult(w io.Writer, res migrations.Result) {
	if res.From == res.To {
		fmt.Fprintf(w, "schema at version %d, nothing to do\n", res.To)
		return
	}
	fmt.Fprintf(w, "schema migrated from version %d to %d\n", res.From, res.To)
}

func printStatus(w io.Writer, st migrations.Status) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tMIGRATION\tSTATE")
	for _, m := range st.Migrations {
		state := "pending"
		if m.Applied {
			state = "applied"
		}
		fmt.Fprintf(tw, "%03d\t%s\t%s\n", m.Version, m.Name, state)
	}
	tw.Flush()
	fmt.Fprintf(w, "current version %d of %d, %d pending\n", st.Current, st.Latest, st.Pending())
}
