package main

import "github.com/spf13/cobra"

// TODO: implemented by the owner of this command.
func newVersionCmd() *cobra.Command {
	return &cobra.Command{Use: "version", Short: "not implemented yet"}
}
