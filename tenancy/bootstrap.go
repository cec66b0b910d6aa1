package tenancy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// BootstrapTokenName names the admin tokens Bootstrap issues.
const BootstrapTokenName = "bootstrap"

// BootstrapInput is what `strangler bootstrap` asks for.
type BootstrapInput struct {
	// OrgSlug and OrgName are the default org: the one that owns all
	// pre-migration data (tenancy.default_org in the configuration).
	OrgSlug string
	OrgName string
	// AdminEmail is the first platform admin, made owner of the default org.
	AdminEmail string
	// NewToken issues a fresh admin token although bootstrap already ran,
	// revoking the bootstrap tokens issued before (a lost or leaked token).
	NewToken bool
}

// BootstrapResult is what Bootstrap found or created.
type BootstrapResult struct {
	Org   Org
	Admin User
	// Token is the admin token's plaintext, to be shown once; empty when
	// this run issued none (already bootstrapped, NewToken false).
	Token string
	// TokenID identifies the issued token (empty with Token).
	TokenID string
	// Created* tell what this run created; RevokedTokens how many earlier
	// bootstrap tokens NewToken revoked.
	CreatedOrg, CreatedAdmin, CreatedMembership bool
	RevokedTokens                               int
}

// Validate checks the input and returns every problem.
func (in BootstrapInput) Validate() error {
	var errs []error
	if !validSlug(normSlug(in.OrgSlug)) {
		errs = append(errs, fmt.Errorf("org slug %q: must be a-z, 0-9, _ and - (at most 63, not a UUID): %w", in.OrgSlug, ErrInvalid))
	}
	if !validName(in.OrgName) {
		errs = append(errs, fmt.Errorf("org name: must be 1 to 200 characters: %w", ErrInvalid))
	}
	if !validEmail(normEmail(in.AdminEmail)) {
		errs = append(errs, fmt.Errorf("admin email %q: %w", in.AdminEmail, ErrInvalid))
	}
	return errors.Join(errs...)
}

// Bootstrap prepares an empty installation: the default org, its first
// owner as platform admin (default org set), and an admin token for the
// admin API. It is idempotent — every step first looks for what it would
// create — so a second run creates nothing and returns created == false
// (and no token: the plaintext of the first cannot be shown again). With
// in.NewToken a fresh token is issued and earlier bootstrap tokens are
// revoked. A run interrupted half-way is completed by the next one.
//
// It needs no privileged connection: it runs through the ordinary Store, as
// the runtime role (org IDs are generated before the insert, so the new
// org's tenant context can be set first). An existing org keeps its name;
// an existing admin who is a member of it with a lower role is promoted to
// owner. Each change is recorded in the audit log as the system actor.
func Bootstrap(ctx context.Context, s Store, in BootstrapInput) (res BootstrapResult, created bool, err error) {
	if err := in.Validate(); err != nil {
		return res, false, fmt.Errorf("bootstrap: %w", err)
	}
	slug, email := normSlug(in.OrgSlug), normEmail(in.AdminEmail)

	if res.Admin, res.CreatedAdmin, err = bootstrapAdmin(ctx, s, email); err != nil {
		return res, false, fmt.Errorf("bootstrap: admin: %w", err)
	}
	if res.Org, res.CreatedOrg, err = bootstrapOrg(ctx, s, slug, in.OrgName, res.Admin.ID); err != nil {
		return res, false, fmt.Errorf("bootstrap: org: %w", err)
	}
	if !res.CreatedOrg {
		if res.CreatedMembership, err = bootstrapOwner(ctx, s, res.Org.ID, res.Admin.ID); err != nil {
			return res, false, fmt.Errorf("bootstrap: owner: %w", err)
		}
	}
	if !res.Admin.PlatformAdmin {
		if err := s.SetPlatformAdmin(ctx, res.Admin.ID, true); err != nil {
			return res, false, fmt.Errorf("bootstrap: platform admin: %w", err)
		}
	}
	if res.Admin.DefaultOrgID == "" {
		if err := s.SetDefaultOrg(ctx, res.Admin.ID, res.Org.ID); err != nil {
			return res, false, fmt.Errorf("bootstrap: default org: %w", err)
		}
	}
	if res.Admin, err = s.GetUser(ctx, res.Admin.ID); err != nil {
		return res, false, fmt.Errorf("bootstrap: %w", err)
	}
	if err := bootstrapToken(ctx, s, in.NewToken, &res); err != nil {
		return res, false, fmt.Errorf("bootstrap: admin token: %w", err)
	}
	created = res.CreatedOrg || res.CreatedAdmin || res.CreatedMembership || res.Token != ""
	if created {
		after, _ := json.Marshal(map[string]any{
			"org": res.Org.Slug, "admin": res.Admin.Email, "created_org": res.CreatedOrg, "created_admin": res.CreatedAdmin,
			"created_membership": res.CreatedMembership, "token_id": res.TokenID, "revoked_tokens": res.RevokedTokens,
		})
		if err := s.AppendAudit(ctx, AuditEntry{OrgID: res.Org.ID, ActorType: ActorSystem, Actor: "strangler bootstrap",
			Action: "platform.bootstrap", TargetType: "org", TargetID: res.Org.ID, After: after}); err != nil {
			return res, created, fmt.Errorf("bootstrap: audit: %w", err)
		}
	}
	return res, created, nil
}

// bootstrapAdmin finds or creates the admin user (without a password: the
// admin token is the credential; a password can be set later).
func bootstrapAdmin(ctx context.Context, s Store, email string) (User, bool, error) {
	u, err := s.GetUserByEmail(ctx, email)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return u, false, err
	}
	u, err = s.CreateUser(ctx, User{Email: email})
	if errors.Is(err, ErrConflict) { // a concurrent bootstrap won
		u, err = s.GetUserByEmail(ctx, email)
		return u, false, err
	}
	return u, err == nil, err
}

// bootstrapOrg finds the org or creates it with the admin as owner.
func bootstrapOrg(ctx context.Context, s Store, slug, name, adminID string) (Org, bool, error) {
	o, err := s.GetOrgBySlug(ctx, slug)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return o, false, err
	}
	o, err = s.CreateOrg(ctx, Org{Slug: slug, Name: name}, adminID)
	if errors.Is(err, ErrConflict) {
		o, err = s.GetOrgBySlug(ctx, slug)
		return o, false, err
	}
	return o, err == nil, err
}

// bootstrapOwner makes the admin an owner of an existing org.
func bootstrapOwner(ctx context.Context, s Store, orgID, adminID string) (bool, error) {
	m, err := s.GetMembership(ctx, orgID, adminID)
	switch {
	case errors.Is(err, ErrNotFound):
		_, err = s.AddMember(ctx, orgID, adminID, RoleOwner)
		return err == nil, err
	case err != nil:
		return false, err
	case m.Role != RoleOwner:
		_, err = s.UpdateMemberRole(ctx, orgID, adminID, RoleOwner)
	}
	return false, err
}

// bootstrapToken issues a token when no usable bootstrap token exists, or
// when asked to (revoking the earlier ones).
func bootstrapToken(ctx context.Context, s Store, fresh bool, res *BootstrapResult) error {
	tokens, err := s.ListAdminTokens(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	var active []AdminToken
	for _, t := range tokens {
		if t.Name == BootstrapTokenName && t.Usable(now) {
			active = append(active, t)
		}
	}
	if len(active) > 0 && !fresh {
		return nil
	}
	plain, hash := GenerateAdminToken()
	t, err := s.CreateAdminToken(ctx, AdminToken{Name: BootstrapTokenName, Hash: hash, UserID: res.Admin.ID})
	if err != nil {
		return err
	}
	res.Token, res.TokenID = plain, t.ID
	for _, old := range active {
		if err := s.RevokeAdminToken(ctx, old.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("revoke %s: %w", old.ID, err)
		}
		res.RevokedTokens++
	}
	return nil
}
