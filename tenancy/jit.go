package tenancy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Just-in-time users (SPEC §6): a valid token of an external issuer whose
// sub is unknown creates the user (external_subject = sub, with the token's
// email) as a member of tenancy.default_org, which also becomes the user's
// default org — so today's users keep working on day one.
//
// Concurrency: in one process, concurrent first requests of a subject share
// one creation (flight). Across replicas, both may try: the store's unique
// external_subject lets one CreateUser win; the other gets ErrConflict,
// reads the winner's user and — when that user is younger than
// jitRaceWindow — makes sure of the membership and default org itself
// (both idempotent), so its own first request does not fail while the
// winner is still finishing. One user results, with one membership.
//
// Decisions:
//
//   - No linking by email: if the token's email already belongs to another
//     user (say, one of the built-in issuer), the new user is created
//     without an email and a warning is logged. An external issuer may let
//     users claim unverified emails; linking would hand them that account.
//     Link deliberately by setting external_subject (seed file, admin).
//   - Created users are plain members; a removed JIT membership is not
//     recreated (only a new subject is provisioned), so removing a member
//     works for JIT users too.
//   - If the process fails between creating the user and adding the
//     membership, the user stays without membership (default org, no
//     role) until an admin adds it: the request that failed got a 500.
//   - tenancy.default_org missing: the user is created without membership
//     (warning logged).

// jitRaceWindow bounds how young a user created concurrently by another
// replica must be for this one to complete its membership.
const jitRaceWindow = time.Minute

// jitProvisioner creates users of external issuers on first sight.
type jitProvisioner struct {
	store Store
	// defaultOrg returns tenancy.default_org (nil when it does not exist).
	defaultOrg func(ctx context.Context) (*orgRecord, error)
	now        func() time.Time
	log        *zap.Logger
	// created is called after each user created here (metrics).
	created func()
}

// userID returns the store's user ID of the principal: the built-in
// issuer's sub as is; an external subject through the cache, the store,
// or just-in-time creation.
func (rs *Resolver) userID(ctx context.Context, p *Principal) (string, error) {
	if p.UserID != "" {
		return p.UserID, nil
	}
	if p.Issuer == BuiltinIssuerName || p.Subject == "" {
		return "", invalidf("token has no usable subject")
	}
	c := rs.caches
	if id, ok := c.subjects.get(p.Subject, rs.now().UnixNano()); ok {
		return id, nil
	}
	return c.subjectFlight.do(ctx, p.Subject, func(ctx context.Context) (string, error) {
		epoch := c.epoch.Load()
		u, err := rs.store.GetUserByExternalSubject(ctx, p.Subject)
		if errors.Is(err, ErrNotFound) {
			u, err = rs.jit.provision(ctx, p)
		}
		if err != nil {
			return "", err
		}
		t := rs.now()
		// A user's subject never changes: the mapping only goes when the
		// user changes or the caches flush.
		c.subjects.put(p.Subject, u.ID, t.UnixNano(), c.expiry(t, c.opts.UserTTL), epoch)
		return u.ID, nil
	})
}

// provision creates the user of p, or completes one another replica is
// creating at the same moment.
func (j *jitProvisioner) provision(ctx context.Context, p *Principal) (User, error) {
	org, err := j.defaultOrg(ctx)
	if err != nil {
		return User{}, err
	}
	u, created, err := j.createUser(ctx, p)
	if err != nil {
		return User{}, err
	}
	if !created && j.now().Sub(u.CreatedAt) > jitRaceWindow {
		return u, nil // an established user: its memberships are its admins' business
	}
	if org == nil {
		j.log.Warn("tenancy.default_org does not exist: just-in-time user created without membership",
			zap.String("user_id", u.ID), zap.String("issuer", p.Issuer))
		return u, nil
	}
	if _, err := j.store.AddMember(ctx, org.id, u.ID, RoleMember); err != nil && !errors.Is(err, ErrConflict) {
		return User{}, fmt.Errorf("just-in-time membership: %w", err)
	}
	if u.DefaultOrgID == "" {
		if err := j.store.SetDefaultOrg(ctx, u.ID, org.id); err != nil {
			return User{}, fmt.Errorf("just-in-time default org: %w", err)
		}
		u.DefaultOrgID = org.id
	}
	if created {
		j.log.Info("created user just in time", zap.String("user_id", u.ID), zap.String("issuer", p.Issuer),
			zap.String("org_id", org.id))
		if j.created != nil {
			j.created()
		}
	}
	return u, nil
}

// createUser creates the user of p; created is false when another creator
// won the race (the user is then read back).
func (j *jitProvisioner) createUser(ctx context.Context, p *Principal) (u User, created bool, err error) {
	email := p.Email
	for {
		u, err = j.store.CreateUser(ctx, User{ExternalSubject: p.Subject, Email: email})
		if err == nil {
			return u, true, nil
		}
		if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrInvalid) {
			return User{}, false, fmt.Errorf("just-in-time user: %w", err)
		}
		// A conflict on the subject: someone else created it.
		existing, gerr := j.store.GetUserByExternalSubject(ctx, p.Subject)
		if gerr == nil {
			return existing, false, nil
		}
		if !errors.Is(gerr, ErrNotFound) {
			return User{}, false, fmt.Errorf("just-in-time user: %w", gerr)
		}
		if email == "" {
			// Nothing else to drop: the subject itself is unacceptable.
			return User{}, false, fmt.Errorf("%w: just-in-time user: %w", ErrInvalidCredentials, err)
		}
		// The email is taken by another user, or not an email the store
		// accepts: create the user without it (no linking by email).
		j.log.Warn("just-in-time user created without the token's email: it belongs to another user or is invalid",
			zap.String("issuer", p.Issuer), zap.Error(err))
		email = ""
	}
}
