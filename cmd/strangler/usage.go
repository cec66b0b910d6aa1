package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// isCobraUsageError recognises cobra's own argument and command errors,
// which it returns as plain errors.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{
		"unknown command", "unknown flag", "unknown shorthand flag",
		"accepts ", "requires at least", "requires at most", "invalid argument",
		"flag needs an argument", "required flag",
		"if any flags in the group", "at least one of the flags in the group",
	} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a usage error that names the missing
// or extra arguments: "config validate: missing FILE".
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usageError("%s: missing %s (usage: %s)", cmdName(cmd), strings.Join(names[len(args):], " "), useLine(cmd))
		case len(args) > len(names):
			return usageError("%s: unexpected argument %q (usage: %s)", cmdName(cmd), args[len(names)], useLine(cmd))
		}
		return nil
	}
}

// noArgs rejects positional arguments with a usage error; for a command
// with subcommands the argument is an unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 && cmd.HasSubCommands() {
		return usageError("%s: unknown command %q (see %s --help)", cmdName(cmd), args[0], cmd.CommandPath())
	}
	if len(args) > 0 {
		return usageError("%s: unexpected argument %q (see %s --help)", cmdName(cmd), args[0], cmd.CommandPath())
	}
	return nil
}

// cmdName is the command path without the program name ("config
// validate"), which run already prints as the prefix "strangler: ".
func cmdName(cmd *cobra.Command) string {
	if !cmd.HasParent() {
		return cmd.Name()
	}
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// useLine is the command's usage line without cobra's " [flags]".
func useLine(cmd *cobra.Command) string {
	return strings.TrimSuffix(cmd.UseLine(), " [flags]")
}
