package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Configuration tools",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("config: missing subcommand: validate (see strangler config --help)")
		},
	}
	cmd.AddCommand(newConfigValidateCmd())
	return cmd
}

func newConfigValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Parse and validate a configuration file",
		Long: `Parse and validate a configuration file, with ${ENV} references expanded
from the environment.

Prints "ok" and exits 0 when the file is valid (warnings, if any, go to
stderr); otherwise prints every problem with its YAML path and line, such as

  routes[2].auth: must be one of required, optional, none, got "maybe" (line 14)

and exits 1. An unreadable file exits 1 too.`,
		Example: `  strangler config validate configs/strangler.example.yaml
  SUPABASE_PROJECT_REF=abc SUPABASE_JWT_SECRET=... STRANGLER_DATABASE_URL=postgres://... \
    strangler config validate configs/7cycles.yaml`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				return configFailure(cmd.ErrOrStderr(), args[0], err)
			}
			for _, w := range config.Warnings(cfg) {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
}

// configFailure prints the problems of an invalid configuration, one per
// line, and returns the error that ends the command with exit status 1.
func configFailure(w io.Writer, path string, err error) error {
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		return &exitCode{code: 1, err: err}
	}
	for _, p := range cerr.Problems {
		fmt.Fprintf(w, "%s: %s\n", path, p)
	}
	n := len(cerr.Problems)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return &exitCode{code: 1, err: fmt.Errorf("%s: invalid configuration: %d problem%s", path, n, plural)}
}
