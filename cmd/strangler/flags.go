package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/flags"
)

// Environment fallbacks of the ops commands that talk to the admin API.
const (
	envAdminURL     = "STRANGLER_ADMIN_URL"
	envAdminToken   = "STRANGLER_ADMIN_TOKEN"
	defaultAdminURL = "http://127.0.0.1:9090"
	// adminCallTimeout bounds one admin API call from the CLI.
	adminCallTimeout = 30 * time.Second
)

// adminConn holds --admin-url and --token of the ops commands.
type adminConn struct {
	url   string
	token string
}

func (a *adminConn) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&a.url, "admin-url", "", "admin API base URL (env "+envAdminURL+", default "+defaultAdminURL+")")
	cmd.PersistentFlags().StringVar(&a.token, "token", "", "admin token (env "+envAdminToken+")")
}

// client resolves flags, then environment, then defaults.
func (a *adminConn) client() *flags.AdminClient {
	u, tok := a.url, a.token
	if u == "" {
		u = os.Getenv(envAdminURL)
	}
	if u == "" {
		u = defaultAdminURL
	}
	if tok == "" {
		tok = os.Getenv(envAdminToken)
	}
	return &flags.AdminClient{BaseURL: u, Token: tok}
}

// apiFailure turns an admin API error into the command's error: a request
// the API rejects as invalid is a usage error (exit 2), the rest exit 1.
func apiFailure(cmd *cobra.Command, err error) error {
	var ae *flags.APIError
	switch {
	case flags.IsUnauthorized(err):
		return fmt.Errorf("%s: the admin API refused the credentials: set --token or %s (%w)", cmdName(cmd), envAdminToken, err)
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
		return usageError("%s: %s", cmdName(cmd), ae.Message)
	}
	return fmt.Errorf("%s: %w", cmdName(cmd), err)
}

// routeFlag turns "qa" or "route.qa" into the flag key "route.qa".
func routeFlag(cmd *cobra.Command, s string) (string, error) {
	if s == "" {
		return "", usageError("%s: --route is required (a route group name, e.g. qa)", cmdName(cmd))
	}
	key := s
	if key != flags.KillSwitchFlag && !strings.HasPrefix(key, flags.RouteFlagPrefix) {
		key = flags.RouteFlagPrefix + key
	}
	if err := flags.ValidateFlagKey(key); err != nil {
		return "", usageError("%s: %q is not a route group: %v", cmdName(cmd), s, err)
	}
	return key, nil
}

func requireReason(cmd *cobra.Command, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return usageError("%s: --reason is required: say why, it goes into the audit history", cmdName(cmd))
	}
	return nil
}

func checkFormat(cmd *cobra.Command, format string) error {
	if format != "table" && format != "json" {
		return usageError("%s: --format must be table or json, got %q", cmdName(cmd), format)
	}
	return nil
}

func callContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, adminCallTimeout)
}

func newFlagsCmd() *cobra.Command {
	var conn adminConn
	cmd := &cobra.Command{
		Use:   "flags list|get|set|unset|history",
		Short: "Show and change the routing mode of each organization and route group",
		Long: `Show and change the flags that route each (organization, route group) to
legacy, shadow, canary or new, through the admin API (SPEC §8, §11).

  strangler flags list
  strangler flags get qa
  strangler flags set --org acme --route qa --mode shadow --reason "pilot"
  strangler flags set --route qa --mode shadow --percent 25 --reason "widen"
  strangler flags set --route qa --mode legacy --reason "default for everyone"
  strangler flags unset --org acme --route qa --reason "back to the rule"
  strangler flags history qa --org acme

Every change is recorded with who made it, before, after and the reason.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("flags: missing subcommand: list, get, set, unset or history")
		},
	}
	conn.register(cmd)
	cmd.AddCommand(newFlagsListCmd(&conn), newFlagsGetCmd(&conn), newFlagsSetCmd(&conn),
		newFlagsUnsetCmd(&conn), newFlagsHistoryCmd(&conn))
	return cmd
}

func newFlagsListCmd(conn *adminConn) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the route flags, their rules and override counts, and the kill switch",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(cmd, format); err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			list, err := conn.client().ListFlags(ctx)
			if err != nil {
				return apiFailure(cmd, err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, list)
			}
			fmt.Fprintln(out, killSwitchLine(list.KillSwitch))
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FLAG\tDEFAULT\tROLLOUT\tALLOW-LISTED\tOVERRIDES")
			for _, f := range list.Flags {
				def, rollout, allow := "legacy (no rule)", "-", "-"
				if r := f.Rule; r != nil {
					def, rollout, allow = r.DefaultVariant.String(), rolloutText(r.Rollout), allowText(r.Allow)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", f.Key, def, rollout, allow, f.OverrideCount)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func newFlagsGetCmd(conn *adminConn) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Show one route flag (qa or route.qa): its rule and every per-org override",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format); err != nil {
				return err
			}
			key, err := routeFlag(cmd, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			f, err := conn.client().GetFlag(ctx, key)
			if err != nil {
				return apiFailure(cmd, err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, f)
			}
			fmt.Fprintf(out, "flag %s\n", f.Key)
			if r := f.Rule; r != nil {
				fmt.Fprintf(out, "  default:  %s\n  rollout:  %s\n  allow:    %s\n  set by:   %s at %s\n",
					r.DefaultVariant, rolloutText(r.Rollout), allowText(r.Allow), r.Actor, timeText(r.UpdatedAt))
			} else {
				fmt.Fprintln(out, "  no rule: organizations without an override are legacy")
			}
			if len(f.Overrides) == 0 {
				fmt.Fprintln(out, "  no per-org overrides")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ORG ID\tSLUG\tMODE\tSET BY\tAT\tREASON")
			for _, o := range f.Overrides {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", o.OrgID, dash(o.OrgSlug), o.Variant, o.Actor, timeText(o.UpdatedAt), flatText(o.Reason))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}

func newFlagsSetCmd(conn *adminConn) *cobra.Command {
	var org, route, mode, reason string
	var percent float64
	cmd := &cobra.Command{
		Use:   "set --route R --mode M --reason TEXT [--org O | --percent P]",
		Short: "Set one organization's mode (--org), or the route's default or rollout",
		Long: `Set the mode of a route group.

With --org (an organization id or slug): a per-org override, which wins
over the rule. Without --org: the route's rule; --mode alone sets the
default for every organization, --mode with --percent sends that sticky
percentage of organizations to the mode (the rest keep the default).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := routeFlag(cmd, route)
			if err != nil {
				return err
			}
			if mode == "" {
				return usageError("%s: --mode is required: legacy, shadow, canary or new", cmdName(cmd))
			}
			m, err := flags.ParseMode(mode)
			if err != nil {
				return usageError("%s: --mode: %v", cmdName(cmd), err)
			}
			if err := requireReason(cmd, reason); err != nil {
				return err
			}
			withPercent := cmd.Flags().Changed("percent")
			if org != "" && withPercent {
				return usageError("%s: --percent applies to the route's rollout, not to one organization (drop --org or --percent)", cmdName(cmd))
			}
			if withPercent && (percent < 0 || percent > 100) {
				return usageError("%s: --percent must be within 0 and 100, got %v", cmdName(cmd), percent)
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			c := conn.client()
			out := cmd.OutOrStdout()
			if org != "" {
				ch, err := c.SetOverride(ctx, key, org, m, reason)
				if err != nil {
					return apiFailure(cmd, err)
				}
				before := "rule"
				if ch.Before != nil {
					before = ch.Before.Variant.String()
				}
				fmt.Fprintf(out, "%s for %s: %s -> %s (reason: %s)\n", key, orgText(*ch.Override), before, ch.Override.Variant, flatText(reason))
				return nil
			}
			// The rule: read, change one part, write back.
			cur, err := c.GetFlag(ctx, key)
			if err != nil {
				return apiFailure(cmd, err)
			}
			req := flags.RuleRequest{DefaultVariant: flags.ModeLegacy.String(), Reason: reason}
			if r := cur.Rule; r != nil {
				req.DefaultVariant = r.DefaultVariant.String()
				for _, l := range r.Allow {
					req.Allow = append(req.Allow, flags.AllowListRequest{Variant: l.Variant.String(), Orgs: l.Orgs})
				}
				if r.Rollout != nil {
					req.Rollout = &flags.RolloutRequest{Variant: r.Rollout.Variant.String(), Percent: r.Rollout.Percent}
				}
			}
			if withPercent {
				req.Rollout = &flags.RolloutRequest{Variant: m.String(), Percent: percent}
			} else {
				req.DefaultVariant = m.String()
			}
			ch, err := c.SetRule(ctx, key, req)
			if err != nil {
				return apiFailure(cmd, err)
			}
			r := ch.Rule
			fmt.Fprintf(out, "%s: default %s, rollout %s (reason: %s)\n", key, r.DefaultVariant, rolloutText(r.Rollout), flatText(reason))
			return nil
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization id or slug (omit to change the route's rule)")
	cmd.Flags().StringVar(&route, "route", "", "route group, e.g. qa (or route.qa)")
	cmd.Flags().StringVar(&mode, "mode", "", "legacy, shadow, canary or new")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the history)")
	cmd.Flags().Float64Var(&percent, "percent", 0, "without --org: sticky percentage of organizations sent to --mode (0-100, two decimals)")
	return cmd
}

func newFlagsUnsetCmd(conn *adminConn) *cobra.Command {
	var org, route, reason string
	cmd := &cobra.Command{
		Use:   "unset --org O --route R --reason TEXT",
		Short: "Remove one organization's override: it follows the route's rule again",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" {
				return usageError("%s: --org is required (an organization id or slug)", cmdName(cmd))
			}
			key, err := routeFlag(cmd, route)
			if err != nil {
				return err
			}
			if err := requireReason(cmd, reason); err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			ch, err := conn.client().UnsetOverride(ctx, key, org, reason)
			if err != nil {
				return apiFailure(cmd, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s for %s: %s -> rule (reason: %s)\n", key, orgText(*ch.Before), ch.Before.Variant, flatText(reason))
			return nil
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization id or slug")
	cmd.Flags().StringVar(&route, "route", "", "route group, e.g. qa (or route.qa)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the history)")
	return cmd
}

func newFlagsHistoryCmd(conn *adminConn) *cobra.Command {
	var format, org string
	var limit int
	cmd := &cobra.Command{
		Use:   "history KEY",
		Short: "Show who changed a route flag (qa or route.qa; strangler-enabled for the kill switch), when, and why",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format); err != nil {
				return err
			}
			if limit < 1 || limit > 1000 {
				return usageError("%s: --limit must be from 1 to 1000, got %d", cmdName(cmd), limit)
			}
			key, err := routeFlag(cmd, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			page, err := conn.client().History(ctx, key, org, limit, 0)
			if err != nil {
				return apiFailure(cmd, err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, page)
			}
			if len(page.Entries) == 0 {
				fmt.Fprintf(out, "no changes recorded for %s\n", key)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AT\tACTOR\tACTION\tORG\tBEFORE\tAFTER\tREASON")
			for _, e := range page.Entries {
				o := dash(e.OrgSlug)
				if e.OrgID != "" && e.OrgSlug == "" {
					o = e.OrgID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", timeText(e.At), e.Actor, e.Action, o,
					docText(e.Before), docText(e.After), flatText(e.Reason))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.NextBefore != 0 {
				fmt.Fprintf(out, "(older entries exist: raise --limit or use the admin API with ?before=%d)\n", page.NextBefore)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().StringVar(&org, "org", "", "only this organization (id or slug)")
	cmd.Flags().IntVar(&limit, "limit", 50, "number of entries, newest first (1-1000)")
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func killSwitchLine(k flags.KillSwitch) string {
	state := "on: routing follows the flags"
	if !k.Enabled {
		state = "OFF: every request goes to legacy, shadowing stopped"
	}
	line := "kill switch " + state
	if k.Actor != "" {
		line += fmt.Sprintf(" (set by %s at %s: %s)", k.Actor, timeText(k.UpdatedAt), flatText(k.Reason))
	}
	return line
}

func rolloutText(r *flags.Rollout) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%v%% %s", r.Percent, r.Variant)
}

func allowText(lists []flags.AllowList) string {
	if len(lists) == 0 {
		return "-"
	}
	parts := make([]string, len(lists))
	for i, l := range lists {
		parts[i] = fmt.Sprintf("%s: %d org(s)", l.Variant, len(l.Orgs))
	}
	return strings.Join(parts, ", ")
}

func orgText(o flags.Override) string {
	if o.OrgSlug != "" {
		return fmt.Sprintf("%s (%s)", o.OrgSlug, o.OrgID)
	}
	return o.OrgID
}

// docText renders a history before/after document on one line: a mode, a
// kill switch state, or a rule.
func docText(raw json.RawMessage) string {
	var m map[string]any
	if len(raw) == 0 || string(raw) == "null" || json.Unmarshal(raw, &m) != nil {
		return "-"
	}
	if v, ok := m["variant"]; ok && len(m) == 1 {
		return fmt.Sprint(v)
	}
	if v, ok := m["enabled"]; ok && len(m) == 1 {
		if v == true {
			return "on"
		}
		return "off"
	}
	var r flags.Rule
	if _, ok := m["default_variant"]; ok && json.Unmarshal(raw, &r) == nil {
		text := "default " + r.DefaultVariant.String()
		if r.Rollout != nil {
			text += ", rollout " + rolloutText(r.Rollout)
		}
		if len(r.Allow) > 0 {
			text += ", allow " + allowText(r.Allow)
		}
		return text
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return "-"
	}
	return buf.String()
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// flatText keeps a free-text reason on one table row.
func flatText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
