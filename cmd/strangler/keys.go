package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/7cycles-ai/strangler/tenancy"
)

// keyList is GET /admin/api/orgs/{org}/api-keys.
type keyList struct {
	Org     tenancy.Org      `json:"org"`
	APIKeys []tenancy.APIKey `json:"api_keys"`
}

// keyRevocation is DELETE /admin/api/orgs/{org}/api-keys/{id}.
type keyRevocation struct {
	APIKey         tenancy.APIKey `json:"api_key"`
	AlreadyRevoked bool           `json:"already_revoked"`
}

const base62Chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// keyPrefixLen is the length of a key's prefix as listings show it.
const keyPrefixLen = len(tenancy.APIKeyPrefix) + 12

// keyRefArg checks KEY_ID: a key's ID (UUID) or prefix. A whole key —
// say, one found leaked — is cut to its prefix here, so the secret never
// leaves this machine.
func keyRefArg(cmd *cobra.Command, s string) (string, error) {
	s = strings.TrimSpace(s)
	if u, err := uuid.Parse(s); err == nil && len(s) == 36 {
		return u.String(), nil
	}
	if prefix, err := tenancy.ParseAPIKey(s); err == nil {
		return prefix, nil
	}
	if len(s) == keyPrefixLen && strings.HasPrefix(s, tenancy.APIKeyPrefix) &&
		strings.Trim(s[len(tenancy.APIKeyPrefix):], base62Chars) == "" {
		return s, nil
	}
	return "", usageError("%s: %q is not an API key ID or prefix (as keys list shows them: an id, or %s and 12 characters)",
		cmdName(cmd), s, tenancy.APIKeyPrefix)
}

func newKeysCmd() *cobra.Command {
	var conn adminConn
	cmd := &cobra.Command{
		Use:   "keys list|revoke",
		Short: "Platform admin: list an organization's API keys, revoke one",
		Long: `Platform-admin views of API keys through the admin API (SPEC §6, §11).

  strangler keys list --org acme
  strangler keys revoke --org acme sk_live_AbCdEf012345 --reason "leaked in a CI log"
  strangler keys revoke --org acme 9a1c0e0e-6f8d-4c55-9f5e-0d4f6f1b2c3d --reason "offboarding"

Keys are shown by prefix only: secrets are never stored. A revoked key is
refused by every replica within a second; the revocation is recorded in
the organization's audit log with who, the key before and after, and the
reason.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError("keys: missing subcommand: list or revoke")
		},
	}
	conn.register(cmd)
	cmd.AddCommand(newKeysListCmd(&conn), newKeysRevokeCmd(&conn))
	return cmd
}

func newKeysListCmd(conn *adminConn) *cobra.Command {
	var format, org string
	cmd := &cobra.Command{
		Use:   "list --org ORG [--format table|json]",
		Short: "List an organization's API keys, newest first, revoked ones included",
		Example: `  strangler keys list --org acme
  strangler keys list --org acme --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(cmd, format); err != nil {
				return err
			}
			ref, err := orgRefArg(cmd, "--org", org)
			if err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			c := viewsClientOf(conn)
			var l keyList
			if err := c.do(ctx, http.MethodGet, "orgs/"+url.PathEscape(ref)+"/api-keys", nil, &l); err != nil {
				return viewsFailure(cmd, err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, l)
			}
			now := time.Now()
			fmt.Fprintf(out, "api keys of %s: %s\n", l.Org.Slug, keyCounts(l.APIKeys, now))
			if len(l.APIKeys) == 0 {
				return nil
			}
			// Project IDs read better as slugs; the org view has them.
			var projects []tenancy.Project
			if hasProjectKeys(l.APIKeys) {
				var d orgDetail
				if err := c.do(ctx, http.MethodGet, "orgs/"+url.PathEscape(l.Org.ID), nil, &d); err == nil {
					projects = d.Projects
				}
			}
			return writeKeyTable(out, "", l.APIKeys, projects, now)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().StringVar(&org, "org", "", "organization id or slug (required)")
	return cmd
}

func newKeysRevokeCmd(conn *adminConn) *cobra.Command {
	var format, org, reason string
	cmd := &cobra.Command{
		Use:   "revoke --org ORG KEY_ID --reason TEXT",
		Short: "Revoke an API key (by id or prefix): every replica refuses it within a second (audited)",
		Long: `Revoke one API key of an organization. KEY_ID is the key's id or its
prefix (sk_live_ and 12 characters), as keys list shows them; a whole key
is accepted too and cut to its prefix locally, so its secret is never sent.
Revoking a key that is already revoked changes nothing.`,
		Example: `  strangler keys revoke --org acme sk_live_AbCdEf012345 --reason "leaked in a CI log"`,
		Args:    exactArgs("KEY_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(cmd, format); err != nil {
				return err
			}
			ref, err := orgRefArg(cmd, "--org", org)
			if err != nil {
				return err
			}
			key, err := keyRefArg(cmd, args[0])
			if err != nil {
				return err
			}
			if err := requireReason(cmd, reason); err != nil {
				return err
			}
			ctx, cancel := callContext(cmd)
			defer cancel()
			var rv keyRevocation
			path := "orgs/" + url.PathEscape(ref) + "/api-keys/" + url.PathEscape(key)
			if err := viewsClientOf(conn).do(ctx, http.MethodDelete, path, url.Values{"reason": {reason}}, &rv); err != nil {
				return viewsFailure(cmd, err)
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				return printJSON(out, rv)
			}
			k := rv.APIKey
			if rv.AlreadyRevoked {
				fmt.Fprintf(out, "key %s (%s, id %s) was already revoked at %s: nothing changed\n", k.Prefix, flatText(k.Name), k.ID, timeText(k.RevokedAt))
				return nil
			}
			fmt.Fprintf(out, "revoked key %s (%s, id %s) at %s: every replica refuses it within a second (reason: %s)\n",
				k.Prefix, flatText(k.Name), k.ID, timeText(k.RevokedAt), flatText(reason))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().StringVar(&org, "org", "", "organization id or slug (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the audit log)")
	return cmd
}

// keyStatus is "active", "revoked" or "expired".
func keyStatus(k tenancy.APIKey, now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	}
	return "active"
}

// keyCounts summarises keys: "3 (2 active, 1 revoked)".
func keyCounts(keys []tenancy.APIKey, now time.Time) string {
	n := map[string]int{}
	for _, k := range keys {
		n[keyStatus(k, now)]++
	}
	var parts []string
	for _, s := range []string{"active", "revoked", "expired"} {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return fmt.Sprintf("%d (%s)", len(keys), strings.Join(parts, ", "))
}

func hasProjectKeys(keys []tenancy.APIKey) bool {
	for _, k := range keys {
		if k.ProjectID != "" {
			return true
		}
	}
	return false
}

// writeKeyTable lists keys by prefix; indent prefixes every row.
func writeKeyTable(w io.Writer, indent string, keys []tenancy.APIKey, projects []tenancy.Project, now time.Time) error {
	slugs := make(map[string]string, len(projects))
	for _, p := range projects {
		slugs[p.ID] = p.Slug
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, indent+"PREFIX\tNAME\tROLE\tSCOPES\tPROJECT\tSTATUS\tCREATED\tLAST USED\tEXPIRES\tID")
	for _, k := range keys {
		project := "-"
		if k.ProjectID != "" {
			project = k.ProjectID
			if s, ok := slugs[k.ProjectID]; ok {
				project = s
			}
		}
		scopes := "(role)"
		if len(k.Scopes) > 0 {
			scopes = strings.Join(k.Scopes, ",")
		}
		status := keyStatus(k, now)
		if status == "revoked" {
			status += " " + timeText(k.RevokedAt)
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", indent, k.Prefix, flatText(k.Name), k.Role, scopes, project,
			status, timeText(k.CreatedAt), timeText(k.LastUsedAt), timeText(k.ExpiresAt), k.ID)
	}
	return tw.Flush()
}
