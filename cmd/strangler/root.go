package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// exitCode lets a subcommand choose the process exit status (2 for usage
// errors, 1 for failures) while still returning an error to cobra.
type exitCode struct {
	code int
	err  error
}

func (e *exitCode) Error() string { return e.err.Error() }
func (e *exitCode) Unwrap() error { return e.err }

// usageError marks bad flags or arguments: exit 2 with a one-line reason.
func usageError(format string, args ...any) error {
	return &exitCode{code: 2, err: fmt.Errorf(format, args...)}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "strangler",
		Short:         "Reverse proxy for migrating a single-tenant service to a multi-tenant one, org by org",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitCode{code: 2, err: err}
	})
	// Each command lives in its own file.
	root.AddCommand(
		newServeCmd(),
		newConfigCmd(),
		newVersionCmd(),
		newDemoCmd(),
		newMigrateCmd(),
		newBootstrapCmd(),
		newTenantizeCmd(),
	)
	return root
}

// run executes the command line and maps errors to exit codes.
func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "strangler:", err)
	var ec *exitCode
	if errors.As(err, &ec) {
		return ec.code
	}
	// cobra reports unknown commands and bad arguments as plain errors.
	if isCobraUsageError(err) {
		return 2
	}
	return 1
}
