package main

import "github.com/spf13/cobra"

// TODO: implemented by the owner of this command.
func newDemoCmd() *cobra.Command {
	return &cobra.Command{Use: "demo", Short: "not implemented yet"}
}
