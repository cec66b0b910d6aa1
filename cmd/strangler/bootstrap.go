package main

import "github.com/spf13/cobra"

// TODO: implemented by the owner of this command.
func newBootstrapCmd() *cobra.Command {
	return &cobra.Command{Use: "bootstrap", Short: "not implemented yet"}
}
