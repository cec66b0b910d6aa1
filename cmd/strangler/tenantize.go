package main

import "github.com/spf13/cobra"

// TODO: implemented by the owner of this command.
func newTenantizeCmd() *cobra.Command {
	return &cobra.Command{Use: "tenantize", Short: "not implemented yet"}
}
