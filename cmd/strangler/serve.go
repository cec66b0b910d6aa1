package main

import "github.com/spf13/cobra"

// TODO: implemented by the owner of this command.
func newServeCmd() *cobra.Command {
	return &cobra.Command{Use: "serve", Short: "not implemented yet"}
}
