package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newKillSwitchCmd() *cobra.Command {
	var conn adminConn
	var reason string
	cmd := &cobra.Command{
		Use:   "kill-switch on|off|status --reason TEXT",
		Short: "Global kill switch: off sends every request to legacy and stops shadowing",
		Long: `The global kill switch (flag strangler-enabled) through the admin API.

  strangler kill-switch off --reason "5xx spike on the new backend"
  strangler kill-switch on --reason "fixed in release 2024.06.2"
  strangler kill-switch status

off: every replica routes every request to legacy within a second,
whatever the route flags say, and shadowing stops. on: the route flags
decide again. Both are recorded with who, when and why.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || (args[0] != "on" && args[0] != "off" && args[0] != "status") {
				return usageError("%s: want on, off or status (usage: %s)", cmdName(cmd), useLine(cmd))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := callContext(cmd)
			defer cancel()
			c := conn.client()
			out := cmd.OutOrStdout()
			if args[0] == "status" {
				k, err := c.KillSwitch(ctx)
				if err != nil {
					return apiFailure(cmd, err)
				}
				fmt.Fprintln(out, killSwitchLine(k))
				return nil
			}
			if err := requireReason(cmd, reason); err != nil {
				return err
			}
			ch, err := c.SetKillSwitch(ctx, args[0] == "on", reason)
			if err != nil {
				return apiFailure(cmd, err)
			}
			was := "on"
			if !ch.Before.Enabled {
				was = "off"
			}
			fmt.Fprintf(out, "%s (was %s)\n", killSwitchLine(ch.KillSwitch), was)
			return nil
		},
	}
	conn.register(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why (required for on and off; recorded in the history)")
	return cmd
}
