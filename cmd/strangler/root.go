package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

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
		Use:   "strangler",
		Short: "Reverse proxy for migrating a single-tenant service to a multi-tenant one, org by org",
		Long: `strangler sits in front of a legacy single-tenant HTTP service and lets a
team migrate it to a multi-tenant one, organization by organization and
route group by route group, without clients noticing.

  strangler demo                           everything in one process
  strangler serve --config FILE            run the proxy
  strangler config validate FILE           check a configuration

Exit status: 0 success, 1 failure, 2 usage error.`,
		Version:       versionLine(readVersion()),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if !cmd.HasParent() {
			return &exitCode{code: 2, err: fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())}
		}
		return &exitCode{code: 2, err: fmt.Errorf("%s: %w (see %s --help)", cmdName(cmd), err, cmd.CommandPath())}
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
		newFlagsCmd(),
		newKillSwitchCmd(),
		newDiffsCmd(),
		newOrgsCmd(), newKeysCmd(), newAuditCmd(),
	)
	return root
}

// run executes the command line and maps errors to exit codes.
func run(args []string) int {
	return runWith(args, os.Stdout, os.Stderr)
}

// runWith is run with explicit output streams. SIGINT and SIGTERM cancel
// the command's context (serve and demo then drain); a second signal
// kills the process the default way.
func runWith(args []string, stdout, stderr io.Writer) int {
	ctx, stop := interruptContext()
	defer stop()

	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "strangler:", oneLine(err))
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

// oneLine folds cobra's multi-line messages ("unknown command ... Did you
// mean this?\n\tserve") into one line; messages of our own that list
// several problems keep their lines.
func oneLine(err error) string {
	msg := err.Error()
	if before, after, ok := strings.Cut(msg, "\n\nDid you mean this?\n"); ok {
		var cands []string
		for c := range strings.FieldsSeq(after) {
			cands = append(cands, fmt.Sprintf("%q", c))
		}
		return fmt.Sprintf("%s; did you mean %s?", before, strings.Join(cands, " or "))
	}
	return strings.TrimRight(msg, "\n")
}

// interruptContext is canceled by the first SIGINT or SIGTERM. The
// signals' default action is restored before the cancel, so once anything
// can see the context done (a drain started, /readyz answering 503), a
// second signal ends the process at once. (signal.NotifyContext restores
// it only when its stop is called, after the cancel: a second signal in
// between was swallowed and the drain ran its whole grace period.)
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			signal.Stop(sigs)
			cancel()
		case <-done:
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(done)
			cancel()
		})
	}
}
