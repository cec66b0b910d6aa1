package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/7cycles-ai/strangler/flags"
	"github.com/7cycles-ai/strangler/shadow"
	"github.com/7cycles-ai/strangler/tenancy"
)

type nowFunc = func() time.Time

// orgDirectory lets flags and shadow resolve organizations without
// importing tenancy.
type orgDirectory struct {
	store tenancy.OrgStore
}

// lookup finds an org by id (a UUID) or slug.
func (d orgDirectory) lookup(ctx context.Context, idOrSlug string) (tenancy.Org, error) {
	if _, err := uuid.Parse(idOrSlug); err == nil {
		return d.store.GetOrg(ctx, idOrSlug)
	}
	return d.store.GetOrgBySlug(ctx, idOrSlug)
}

// flagsResolver is a flags.OrgResolver.
func (d orgDirectory) flagsResolver(ctx context.Context, idOrSlug string) (string, string, error) {
	o, err := d.lookup(ctx, idOrSlug)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", "", fmt.Errorf("%w: %s", flags.ErrOrgNotFound, idOrSlug)
	}
	if err != nil {
		return "", "", err
	}
	return o.ID, o.Slug, nil
}

// ResolveOrg implements shadow.OrgDirectory.
func (d orgDirectory) ResolveOrg(ctx context.Context, idOrSlug string) (string, string, error) {
	o, err := d.lookup(ctx, idOrSlug)
	if errors.Is(err, tenancy.ErrNotFound) {
		return "", "", fmt.Errorf("%w: %s", shadow.ErrOrgNotFound, idOrSlug)
	}
	if err != nil {
		return "", "", err
	}
	return o.ID, o.Slug, nil
}

// OrgSlugs implements shadow.OrgDirectory.
func (d orgDirectory) OrgSlugs(ctx context.Context, ids []string) (map[string]string, error) {
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			continue
		}
		o, err := d.store.GetOrg(ctx, id)
		if errors.Is(err, tenancy.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = o.Slug
	}
	return out, nil
}

var _ shadow.OrgDirectory = orgDirectory{}

// modeLister adapts the flag store to the shadow rollout overview: every
// organization whose mode of the route compares traffic (shadow or canary),
// by the same rules the store provider serves (override, allow-list, sticky
// rollout, default). It walks every org: an admin listing, never on the
// request path.
type modeLister struct {
	flags flags.Store
	orgs  tenancy.OrgStore
}

// OrgsInModes implements shadow.ModeLister.
func (m modeLister) OrgsInModes(ctx context.Context, route string) ([]shadow.OrgMode, error) {
	key := flags.RouteFlagPrefix + route
	st, err := m.flags.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load flags: %w", err)
	}
	ev := flags.NewEvaluator(st)
	var out []shadow.OrgMode
	after := ""
	for {
		page, err := m.orgs.ListOrgs(ctx, tenancy.ListOptions{Limit: 500, After: after})
		if err != nil {
			return nil, fmt.Errorf("list orgs: %w", err)
		}
		for _, o := range page {
			if mode := ev.ModeOf(key, o.ID, o.Slug); mode.Shadows() {
				out = append(out, shadow.OrgMode{OrgID: o.ID, OrgSlug: o.Slug, Mode: mode.String()})
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].Slug
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrgSlug < out[j].OrgSlug })
	return out, nil
}

var _ shadow.ModeLister = modeLister{}
