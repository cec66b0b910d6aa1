package main

import "github.com/spf13/cobra"

// TODO: implemented by the owner of this command.
func newConfigCmd() *cobra.Command {
	return &cobra.Command{Use: "config", Short: "not implemented yet"}
}
