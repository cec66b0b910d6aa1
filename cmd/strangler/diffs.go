package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/shadow"
)

// diffsConn is the admin connection of the diffs commands.
type diffsConn struct{ adminConn }

func (c *diffsConn) shadowClient() *shadow.AdminClient {
	fc := c.client()
	return &shadow.AdminClient{BaseURL: fc.BaseURL, Token: fc.Token}
}

// diffsFailure turns an admin API error into the command's error: a
// request the API rejects as invalid is a usage error (exit 2), the rest
// exit 1.
func diffsFailure(cmd *cobra.Command, err error) error {
	var ae *shadow.APIError
	switch {
	case shadow.IsUnauthorized(err):
		return fmt.Errorf("%s: the admin API refused the credentials: set --token or %s (%w)", cmdName(cmd), envAdminToken, err)
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
		return usageError("%s: %s", cmdName(cmd), ae.Message)
	case errors.As(err, &ae):
		return fmt.Errorf("%s: %s", cmdName(cmd), ae.Message)
	}
	return fmt.Errorf("%s: %w", cmdName(cmd), err)
}

// period holds --since and --until, checked locally so that a typo is a
// usage error before any call; the server resolves them against its clock.
type period struct{ since, until string }

func (p *period) register(cmd *cobra.Command, defSince string) {
	cmd.Flags().StringVar(&p.since, "since", defSince,
		`start: a duration before now (24h, 90m, 7d), an RFC 3339 time, a date (2026-03-10), or "all"`)
	cmd.Flags().StringVar(&p.until, "until", "", "end (same forms as --since); default now")
}

func (p *period) params(cmd *cobra.Command) (since, until string, err error) {
	now := time.Now()
	var s, u time.Time
	if p.since != "" && p.since != "all" {
		if s, err = shadow.ParseTimeBound(p.since, now); err != nil {
			return "", "", usageError("%s: --since %v", cmdName(cmd), err)
		}
		since = p.since
	}
	if p.until != "" {
		if u, err = shadow.ParseTimeBound(p.until, now); err != nil {
			return "", "", usageError("%s: --until %v", cmdName(cmd), err)
		}
		until = p.until
	}
	if !s.IsZero() && !u.IsZero() && !s.Before(u) {
		return "", "", usageError("%s: --since must be before --until", cmdName(cmd))
	}
	return since, until, nil
}

func checkFormatOf(cmd *cobra.Command, format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	return usageError("%s: --format must be %s, got %q", cmdName(cmd), strings.Join(allowed, ", "), format)
}

// fingerprintArg checks a FINGERPRINT argument (16 hex digits).
func fingerprintArg(cmd *cobra.Command, s string) (string, error) {
	fp := strings.ToLower(strings.TrimSpace(s))
	if !shadow.ValidFingerprint(fp) {
		return "", usageError("%s: %q is not a diff class fingerprint (16 hexadecimal digits, as diffs report lists them)", cmdName(cmd), s)
	}
	return fp, nil
}

func requireNote(cmd *cobra.Command, note string) error {
	if strings.TrimSpace(note) == "" {
		return usageError("%s: --note is required: say why; it is kept with the class and audited", cmdName(cmd))
	}
	return nil
}

func newDiffsCmd() *cobra.Command {
	var conn diffsConn
	cmd := &cobra.Command{
		Use:   "diffs report|rollout|classes|show|ack|reopen",
		Short: "Shadow diff reports, diff classes and promotion-readiness verdicts",
		Long: `Read what shadow comparison found, through the admin API (SPEC §10, §11).

  strangler diffs report --since 24h
  strangler diffs report --org acme --route qa --since 7d --format markdown
  strangler diffs rollout --route qa
  strangler diffs classes --status open
  strangler diffs show 0123456789abcdef
  strangler diffs ack 0123456789abcdef --note "dates are formatted differently; accepted"

A report lists, per organization and route group, the comparisons (dropped
and failed ones included: they count in every rate), match rate,
candidate error rate, p50/p99 latency of both backends and the diff
classes, with a verdict READY or NOT READY and every reason against it
(shadow.readiness in the configuration). An acknowledged class no longer
blocks readiness but stays visible.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("diffs: missing subcommand: report, rollout, classes, show, ack or reopen")
		},
	}
	conn.register(cmd)
	cmd.AddCommand(newDiffsReportCmd(&conn), newDiffsRolloutCmd(&conn), newDiffsClassesCmd(&conn),
		newDiffsShowCmd(&conn), newDiffsAckCmd(&conn, true), newDiffsAckCmd(&conn, false))
	return cmd
}

// reportFlags are the flags shared by report and rollout.
type reportFlags struct {
	period
	format string
	top    int
}

func (f *reportFlags) register(cmd *cobra.Command) {
	f.period.register(cmd, "24h")
	cmd.Flags().StringVar(&f.format, "format", "table", "output format: table, json or markdown (for a pull request)")
	cmd.Flags().IntVar(&f.top, "top", shadow.DefaultTopClasses, fmt.Sprintf("diff classes listed per org and route (0-%d)", shadow.MaxTopClasses))
}

func (f *reportFlags) params(cmd *cobra.Command) (shadow.ReportParams, error) {
	if err := checkFormatOf(cmd, f.format, "table", "json", "markdown"); err != nil {
		return shadow.ReportParams{}, err
	}
	if f.top < 0 || f.top > shadow.MaxTopClasses {
		return shadow.ReportParams{}, usageError("%s: --top must be from 0 to %d, got %d", cmdName(cmd), shadow.MaxTopClasses, f.top)
	}
	since, until, err := f.period.params(cmd)
	if err != nil {
		return shadow.ReportParams{}, err
	}
	p := shadow.ReportParams{Since: since, Until: until}
	if cmd.Flags().Changed("top") {
		top := f.top
		p.Top = &top
	}
	return p, nil
}

func (f *reportFlags) print(cmd *cobra.Command, rep shadow.PromotionReport) error {
	out := cmd.OutOrStdout()
	switch f.format {
	case "json":
		return printJSON(out, rep)
	case "markdown":
		return shadow.WriteReportMarkdown(out, rep)
	}
	return shadow.WriteReportTable(out, rep)
}

func newDiffsReportCmd(conn *diffsConn) *cobra.Command {
	var f reportFlags
	var org, route string
	cmd := &cobra.Command{
		Use:   "report [--org O] [--route R] [--since 24h] [--until T] [--format table|json|markdown]",
		Short: "Per org and route: comparisons, rates, latency, diff classes and the READY / NOT READY verdict",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.params(cmd)
			if err != nil {
				return err
			}
			p.Org, p.Route = org, route
			ctx, cancel := callContext(cmd)
			defer cancel()
			rep, err := conn.shadowClient().Report(ctx, p)
			if err != nil {
				return diffsFailure(cmd, err)
			}
			return f.print(cmd, rep)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&org, "org", "", "only this organization (id or slug)")
	cmd.Flags().StringVar(&route, "route", "", "only this route group, e.g. qa")
	return cmd
}

func newDiffsRolloutCmd(conn *diffsConn) *cobra.Command {
	var f reportFlags
	var route string
	cmd := &cobra.Command{
		Use:   "rollout --route R [--since 24h] [--format table|json|markdown]",
		Short: "For one route group: every organization in shadow or canary mode with its verdict",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if route == "" {
				return usageError("%s: --route is required (a route group name, e.g. qa)", cmdName(cmd))
			}
			p, err := f.params(cmd)
			if err != nil {
				return err
			}
			p.Route = route
			ctx, cancel := callContext(cmd)
			defer cancel()
			rep, err := conn.shadowClient().Rollout(ctx, p)
			if err != nil {
				return diffsFailure(cmd, err)
			}
			return f.print(cmd, rep)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&route, "route", "", "route group, e.g. qa")
	return cmd
}

func newDiffsClassesCmd(conn *diffsConn) *cobra.Command {
	var per period
	var org, route, status, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "classes [--org O] [--route R] [--status open|acknowledged] [--since 24h] [--limit N]",
		Short: "List diff classes by number of diffs",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormatOf(cmd, format, "table", "json"); err != nil {
				return err
			}
			if status != "" && status != string(shadow.StatusOpen) && status != string(shadow.StatusAcknowledged) {
				return usageError("%s: --status must be open or acknowledged, got %q", cmdName(cmd), status)
			}
			if limit < 1 || limit > shadow.MaxClassLimit {
				return usageError("%s: --limit must be from 1 to %d, got %d", cmdName(cmd), shadow.MaxClassLimit, limit)
			}
			since, until, err := per.params(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			l, err := conn.shadowClient().Classes(ctx, shadow.ReportParams{Org: org, Route: route, Status: status, Since: since, Until: until, Limit: limit})
			if err != nil {
				return diffsFailure(cmd, err)
			}
			if format == "json" {
				return printJSON(cmd.OutOrStdout(), l)
			}
			return shadow.WriteClassListTable(cmd.OutOrStdout(), l)
		},
	}
	per.register(cmd, "24h")
	cmd.Flags().StringVar(&org, "org", "", "only diffs of this organization (id or slug)")
	cmd.Flags().StringVar(&route, "route", "", "only this route group")
	cmd.Flags().StringVar(&status, "status", "", "open or acknowledged (default both)")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().IntVar(&limit, "limit", 50, fmt.Sprintf("at most this many classes (1-%d)", shadow.MaxClassLimit))
	return cmd
}

func newDiffsShowCmd(conn *diffsConn) *cobra.Command {
	var format string
	var exemplar, rows, width int
	cmd := &cobra.Command{
		Use:   "show FINGERPRINT [--exemplar N] [--format text|json]",
		Short: "One diff class: orgs affected, noise, and an exemplar side by side with the differing paths marked",
		Long: `Show one diff class: what differs, which organizations it affects, the
noise learned for its route, and one redacted exemplar side by side: the
request line, both statuses and latencies, the headers that differ, and
both bodies aligned by JSON path, marked

  !  changed        + added (new only)     - removed (legacy only)
  ~  differs, but ignored by a rule or as learned noise

followed by every recorded difference with both values.`,
		Args: exactArgs("FINGERPRINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormatOf(cmd, format, "text", "json"); err != nil {
				return err
			}
			fp, err := fingerprintArg(cmd, args[0])
			if err != nil {
				return err
			}
			if exemplar < 1 {
				return usageError("%s: --exemplar must be 1 or more, got %d", cmdName(cmd), exemplar)
			}
			if rows < 1 || width < 16 || width > 500 {
				return usageError("%s: --rows must be at least 1 and --width from 16 to 500", cmdName(cmd))
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			v, err := conn.shadowClient().Class(ctx, fp)
			if err != nil {
				return diffsFailure(cmd, err)
			}
			if format == "json" {
				return printJSON(cmd.OutOrStdout(), v)
			}
			if n := len(v.Exemplars); n > 0 && exemplar > n {
				return usageError("%s: --exemplar %d: the class has %d exemplar(s)", cmdName(cmd), exemplar, n)
			}
			return shadow.WriteClassText(cmd.OutOrStdout(), v, shadow.ClassTextOptions{Exemplar: exemplar - 1, MaxRows: rows, Width: width})
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	cmd.Flags().IntVar(&exemplar, "exemplar", 1, "which exemplar to show, 1 being the newest")
	cmd.Flags().IntVar(&rows, "rows", 200, "at most this many body rows")
	cmd.Flags().IntVar(&width, "width", 48, "characters per side")
	return cmd
}

// newDiffsAckCmd is "ack" (acknowledge) or, with ack false, "reopen".
func newDiffsAckCmd(conn *diffsConn, ack bool) *cobra.Command {
	var note string
	use, short := "ack FINGERPRINT --note TEXT", "Acknowledge a diff class: it stops blocking readiness but stays visible (audited)"
	if !ack {
		use, short = "reopen FINGERPRINT --note TEXT", "Reopen an acknowledged diff class: it blocks readiness again (audited)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs("FINGERPRINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fp, err := fingerprintArg(cmd, args[0])
			if err != nil {
				return err
			}
			if err := requireNote(cmd, note); err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			c := conn.shadowClient()
			out := cmd.OutOrStdout()
			if !ack {
				cl, err := c.Reopen(ctx, fp, note)
				if err != nil {
					return diffsFailure(cmd, err)
				}
				fmt.Fprintf(out, "class %s (route %s) is open again: it blocks readiness (note: %s)\n", cl.Fingerprint, cl.Route, flatText(note))
				return nil
			}
			cl, err := c.Ack(ctx, fp, note)
			if err != nil {
				return diffsFailure(cmd, err)
			}
			fmt.Fprintf(out, "class %s (route %s) acknowledged by %s at %s: %s\n", cl.Fingerprint, cl.Route, cl.AckBy, timeText(cl.AckAt), flatText(cl.AckNote))
			return nil
		},
	}
	cmd.Flags().StringVar(&note, "note", "", "why (required; kept with the class and audited)")
	return cmd
}
