package main

import "github.com/spf13/cobra"

// TODO: implemented by the owner of this command.
func newMigrateCmd() *cobra.Command {
	return &cobra.Command{Use: "migrate", Short: "not implemented yet"}
}
