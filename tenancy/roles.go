package tenancy

import (
	"errors"
	"fmt"
	"slices"

	"github.com/7cycles-ai/strangler/config"
)

// RolePermissions maps the four roles to their permissions
// (config tenancy.roles; a role the configuration leaves out keeps the
// defaults of SPEC §4). It is immutable once built and safe for concurrent
// use: the slices it returns are shared and must not be modified.
type RolePermissions struct {
	// perms is indexed by Role.Rank(); index 0 (no role) grants nothing.
	perms [5][]string
}

// NewRolePermissions builds the table from tenancy.roles. Roles missing from
// cfg get config.DefaultRoles(); an unknown role name or an empty or
// duplicate permission is an error (config validation reports these first,
// with their YAML paths; this check guards configurations built in Go).
func NewRolePermissions(cfg map[string][]string) (*RolePermissions, error) {
	rp := &RolePermissions{}
	defaults := config.DefaultRoles()
	var errs []error
	for name := range cfg {
		if !Role(name).Valid() {
			errs = append(errs, fmt.Errorf("tenancy.roles.%s: unknown role", name))
		}
	}
	for _, name := range config.Roles() {
		perms, ok := cfg[name]
		if !ok {
			perms = defaults[name]
		}
		seen := make(map[string]bool, len(perms))
		out := make([]string, 0, len(perms))
		for i, p := range perms {
			switch {
			case p == "":
				errs = append(errs, fmt.Errorf("tenancy.roles.%s[%d]: empty permission", name, i))
			case seen[p]:
				errs = append(errs, fmt.Errorf("tenancy.roles.%s[%d]: duplicate permission %q", name, i, p))
			default:
				seen[p] = true
				out = append(out, p)
			}
		}
		rp.perms[Role(name).Rank()] = slices.Clip(out)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rp, nil
}

// Permissions returns the permissions of role r (nil for no or an unknown
// role). The slice is shared: read only.
func (rp *RolePermissions) Permissions(r Role) []string { return rp.perms[r.Rank()] }

// Has reports whether role r grants perm.
func (rp *RolePermissions) Has(r Role, perm string) bool {
	return slices.Contains(rp.perms[r.Rank()], perm)
}

// Effective returns what an API key may do: the permissions of its role
// cap that its scopes also name (role ∩ scopes), in the role's order. Empty
// scopes mean the role's permissions, unrestricted. A scope the role does
// not grant adds nothing: scopes only narrow.
func (rp *RolePermissions) Effective(r Role, scopes []string) []string {
	perms := rp.perms[r.Rank()]
	if len(scopes) == 0 {
		return perms
	}
	out := make([]string, 0, min(len(perms), len(scopes)))
	for _, p := range perms {
		if slices.Contains(scopes, p) {
			out = append(out, p)
		}
	}
	return slices.Clip(out)
}
