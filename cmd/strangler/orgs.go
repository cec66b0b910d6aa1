package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/internal/adminapi"
	"github.com/7cycles-ai/strangler/tenancy"
)

// The platform-admin views (orgs, keys, audit) call the tenancy endpoints
// of the admin API through viewsClient.

// viewsClient calls /admin/api/orgs... and /admin/api/audit.
type viewsClient struct{ c adminapi.Client }

// viewsClientOf resolves --admin-url and --token (flags, environment,
// defaults) as every ops command does.
func viewsClientOf(conn *adminConn) *viewsClient {
	fc := conn.client()
	return &viewsClient{c: adminapi.Client{BaseURL: fc.BaseURL, Token: fc.Token, HTTP: &http.Client{Timeout: adminCallTimeout}}}
}

// do calls /admin/api/<path> and decodes the answer into out.
func (c *viewsClient) do(ctx context.Context, method, path string, q url.Values, out any) error {
	return c.c.Do(ctx, method, "/admin/api/"+path, q, nil, out)
}

// viewsFailure turns an error of the admin API into the command's one-line
// error: a request the API rejects as invalid is a usage error (exit 2);
// refused credentials, unknown orgs or keys and unreachable servers exit 1.
func viewsFailure(cmd *cobra.Command, err error) error {
	var ae *adminapi.Error
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w", cmdName(cmd), err)
	}
	switch ae.Status {
	case http.StatusUnauthorized:
		return fmt.Errorf("%s: admin API refused the token: set --token or %s", cmdName(cmd), envAdminToken)
	case http.StatusForbidden:
		return fmt.Errorf("%s: admin API refused the token: %s", cmdName(cmd), ae.Message)
	case http.StatusBadRequest:
		return usageError("%s: %s", cmdName(cmd), ae.Message)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		if ae.Code == "http_error" {
			return fmt.Errorf("%s: the server at --admin-url does not serve this view (%d): is it the admin listener of a strangler of this version?",
				cmdName(cmd), ae.Status)
		}
	}
	return fmt.Errorf("%s: %s", cmdName(cmd), ae.Error())
}

// orgList is GET /admin/api/orgs.
type orgList struct {
	Orgs []tenancy.Org `json:"orgs"`
}

// orgDetail is GET /admin/api/orgs/{org}.
type orgDetail struct {
	Org         tenancy.Org       `json:"org"`
	Projects    []tenancy.Project `json:"projects"`
	MemberCount int               `json:"member_count"`
	APIKeys     []tenancy.APIKey  `json:"api_keys"`
}

// orgRefArg checks an ORG argument or --org value (an id or slug) before
// any call.
func orgRefArg(cmd *cobra.Command, what, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", usageError("%s: %s is required (an organization id or slug)", cmdName(cmd), what)
	}
	if len(s) > 128 || strings.ContainsAny(s, "/?#% \t\r\n") {
		return "", usageError("%s: %s %q is not an organization id or slug", cmdName(cmd), what, s)
	}
	return s, nil
}

func newOrgsCmd() *cobra.Command {
	var conn adminConn
	cmd := &cobra.Command{
		Use:   "orgs list|show",
		Short: "Platform admin: list organizations, show one with its projects, members and API keys",
		Long: `Platform-admin views of the organizations through the admin API (SPEC §11).

  strangler orgs list
  strangler orgs list --limit 20 --after acme
  strangler orgs show acme
  strangler orgs show 0b7f3c1e-0000-4000-8000-0000000000a1 --format json

API keys are listed by prefix (sk_live_ and 12 characters): their secrets
are shown once, at creation, and never stored. Needs an admin token
(--token or STRANGLER_ADMIN_TOKEN) or a platform admin's access token.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("orgs: missing subcommand: list or show")
		},
	}
	conn.register(cmd)
	cmd.AddCommand(newOrgsListCmd(&conn), newOrgsShowCmd(&conn))
	return cmd
}

func newOrgsListCmd(conn *adminConn) *cobra.Command {
	var format, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--after SLUG] [--format table|json]",
		Short: "List organizations by slug",
		Example: `  strangler orgs list
  strangler orgs list --limit 50 --after globex --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(cmd, format); err != nil {
				return err
			}
			if limit < 1 || limit > 500 {
				return usageError("%s: --limit must be from 1 to 500, got %d", cmdName(cmd), limit)
			}
			q := url.Values{"limit": {strconv.Itoa(limit)}}
			if after != "" {
				q.Set("after", after)
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			var l orgList
			if err := viewsClientOf(conn).do(ctx, http.MethodGet, "orgs", q, &l); err != nil {
				return viewsFailure(cmd, err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, l)
			}
			if len(l.Orgs) == 0 {
				fmt.Fprintln(out, "no organizations")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SLUG\tNAME\tID\tCREATED")
			for _, o := range l.Orgs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Slug, flatText(o.Name), o.ID, timeText(o.CreatedAt))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(l.Orgs) == limit {
				fmt.Fprintf(out, "(more may follow: --after %s)\n", l.Orgs[len(l.Orgs)-1].Slug)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many organizations (1-500)")
	cmd.Flags().StringVar(&after, "after", "", "start after this slug (the last one of the previous page)")
	return cmd
}

func newOrgsShowCmd(conn *adminConn) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show ORG [--format table|json]",
		Short: "One organization (id or slug): its projects, member count and API keys",
		Example: `  strangler orgs show acme
  strangler orgs show acme --format json`,
		Args: exactArgs("ORG"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format); err != nil {
				return err
			}
			org, err := orgRefArg(cmd, "ORG", args[0])
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			var d orgDetail
			if err := viewsClientOf(conn).do(ctx, http.MethodGet, "orgs/"+url.PathEscape(org), nil, &d); err != nil {
				return viewsFailure(cmd, err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, d)
			}
			o := d.Org
			fmt.Fprintf(out, "org %s (%s)\n  id:       %s\n  created:  %s\n  members:  %d\n", o.Slug, flatText(o.Name), o.ID, timeText(o.CreatedAt), d.MemberCount)
			fmt.Fprintf(out, "\nprojects: %d\n", len(d.Projects))
			if len(d.Projects) > 0 {
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "  SLUG\tNAME\tID\tCREATED")
				for _, p := range d.Projects {
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Slug, flatText(p.Name), p.ID, timeText(p.CreatedAt))
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			fmt.Fprintf(out, "\napi keys: %s\n", keyCounts(d.APIKeys, time.Now()))
			if len(d.APIKeys) > 0 {
				return writeKeyTable(out, "  ", d.APIKeys, d.Projects, time.Now())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return cmd
}
