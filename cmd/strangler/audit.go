package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/tenancy"
)

func newAuditCmd() *cobra.Command {
	var conn adminConn
	var per period
	var org, actor, action, targetType, targetID, cursor, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "audit [--org O] [--actor A] [--action X] [--since 24h] [--limit N] [--format table|json]",
		Short: "Platform admin: the audit log of every organization and the platform, newest first",
		Long: `Read the audit log through the admin API (SPEC §11): every change made
through the tenant API, the identity endpoints and the admin API, with who
made it, when, the target before and after (--format json) and the reason.

--actor takes a user's email or id, an API key's id, or an admin
credential as the log names it (admin:bootstrap-token,
admin-token:NAME). --since and --until take a duration before now (24h,
90m, 7d), an RFC 3339 time, a date (2026-03-10), or "all".`,
		Example: `  strangler audit --since 24h
  strangler audit --org acme --action api_key.revoke
  strangler audit --actor alice@acme.test --since 7d --format json
  strangler audit --org acme --limit 100 --cursor 4711`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(cmd, format); err != nil {
				return err
			}
			if limit < 1 || limit > 500 {
				return usageError("%s: --limit must be from 1 to 500, got %d", cmdName(cmd), limit)
			}
			if cursor != "" {
				if n, err := strconv.ParseInt(cursor, 10, 64); err != nil || n < 1 {
					return usageError("%s: --cursor must be the next cursor a previous page printed, got %q", cmdName(cmd), cursor)
				}
			}
			since, until, err := per.params(cmd)
			if err != nil {
				return err
			}
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if org != "" {
				ref, err := orgRefArg(cmd, "--org", org)
				if err != nil {
					return err
				}
				q.Set("org", ref)
			}
			for k, v := range map[string]string{"actor": actor, "action": action, "target_type": targetType,
				"target_id": targetID, "since": since, "until": until, "cursor": cursor} {
				if v != "" {
					q.Set(k, v)
				}
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			c := viewsClientOf(&conn)
			var page tenancy.AuditPage
			if err := c.do(ctx, http.MethodGet, "audit", q, &page); err != nil {
				return viewsFailure(cmd, err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, page)
			}
			if len(page.Entries) == 0 {
				fmt.Fprintln(out, "no audit entries match")
				return nil
			}
			if err := writeAuditTable(out, page.Entries, orgSlugs(ctx, c, page.Entries)); err != nil {
				return err
			}
			if page.NextCursor != "" {
				fmt.Fprintf(out, "(older entries exist: add --cursor %s)\n", page.NextCursor)
			}
			return nil
		},
	}
	conn.register(cmd)
	per.register(cmd, "")
	cmd.Flags().StringVar(&org, "org", "", "only this organization (id or slug)")
	cmd.Flags().StringVar(&actor, "actor", "", "only changes by this actor (email, user or key id, admin:bootstrap-token, admin-token:NAME)")
	cmd.Flags().StringVar(&action, "action", "", "only this action, e.g. api_key.revoke, member.add, shadow.class.ack")
	cmd.Flags().StringVar(&targetType, "target-type", "", "only targets of this type, e.g. api_key, member, org")
	cmd.Flags().StringVar(&targetID, "target-id", "", "only this target (with --target-type)")
	cmd.Flags().StringVar(&cursor, "cursor", "", "continue from a previous page (the cursor it printed)")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json (json has before and after)")
	cmd.Flags().IntVar(&limit, "limit", 50, "at most this many entries (1-500)")
	return cmd
}

// maxSlugLookups bounds the org lookups one table makes to show slugs.
const maxSlugLookups = 50

// orgSlugs maps the org IDs of entries to slugs, best effort: an org that
// is gone (history outlives it) or a failed lookup shows its ID.
func orgSlugs(ctx context.Context, c *viewsClient, entries []tenancy.AuditEntry) map[string]string {
	out := map[string]string{}
	for _, e := range entries {
		if e.OrgID == "" {
			continue
		}
		if _, seen := out[e.OrgID]; seen || len(out) >= maxSlugLookups {
			continue
		}
		out[e.OrgID] = e.OrgID
		var d orgDetail
		if c.do(ctx, http.MethodGet, "orgs/"+url.PathEscape(e.OrgID), nil, &d) == nil && d.Org.Slug != "" {
			out[e.OrgID] = d.Org.Slug
		}
	}
	return out
}

func writeAuditTable(w io.Writer, entries []tenancy.AuditEntry, slugs map[string]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tORG\tACTOR\tACTION\tTARGET\tREASON")
	for _, e := range entries {
		org := "(platform)"
		if e.OrgID != "" {
			org = e.OrgID
			if s := slugs[e.OrgID]; s != "" {
				org = s
			}
		}
		actor := e.Actor
		if actor == "" {
			actor = e.ActorType
			if e.ActorID != "" {
				actor += ":" + e.ActorID
			}
		}
		target := "-"
		if e.TargetType != "" || e.TargetID != "" {
			target = e.TargetType + ":" + e.TargetID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", timeText(e.CreatedAt), org, flatText(actor), e.Action, flatText(target), dash(flatText(e.Reason)))
	}
	return tw.Flush()
}
