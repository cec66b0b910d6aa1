package tenancy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// Seed is the seed file of the memory store (SPEC §4; also loadable into
// PostgreSQL): orgs with their projects, users with passwords, external
// subjects and memberships, and API keys generated at load.
//
//	orgs:
//	  - { slug: acme, name: "Acme Inc", projects: [{ slug: web, name: Web }] }
//	users:
//	  - email: alice@acme.test
//	    password: "correct horse battery"     # hashed (argon2id) when loaded
//	    external_subject: "0b7f...-uuid"       # optional: an external issuer's sub
//	    platform_admin: false
//	    memberships: [{ org: acme, role: owner }]
//	api_keys:
//	  - { org: acme, project: web, name: ci, role: member, scopes: [read, agents.run] }
//	flags: { ... }                             # read by the flags package
type Seed struct {
	Orgs    []SeedOrg    `yaml:"orgs"`
	Users   []SeedUser   `yaml:"users"`
	APIKeys []SeedAPIKey `yaml:"api_keys"`
	// Flags is the flags section, kept undecoded: the flags package reads
	// it (Flags.Decode), so one file seeds both.
	Flags yaml.Node `yaml:"flags"`
}

// SeedOrg is an organization of the seed file.
type SeedOrg struct {
	Slug     string        `yaml:"slug"`
	Name     string        `yaml:"name"`
	Projects []SeedProject `yaml:"projects"`
}

// SeedProject is a project of a seeded org.
type SeedProject struct {
	Slug string `yaml:"slug"`
	Name string `yaml:"name"`
}

// SeedUser is a user of the seed file.
type SeedUser struct {
	Email string `yaml:"email"`
	Name  string `yaml:"name"`
	// Password is plaintext in the file and hashed with argon2id at load.
	Password        string           `yaml:"password"`
	ExternalSubject string           `yaml:"external_subject"`
	PlatformAdmin   bool             `yaml:"platform_admin"`
	Memberships     []SeedMembership `yaml:"memberships"`
}

// SeedMembership names an org (by slug) and the user's role in it. The
// user's first membership becomes the default org.
type SeedMembership struct {
	Org  string `yaml:"org"`
	Role Role   `yaml:"role"`
}

// SeedAPIKey is an API key generated at load; its plaintext is returned
// once by LoadSeed so the demo can print it.
type SeedAPIKey struct {
	Org     string   `yaml:"org"`
	Project string   `yaml:"project"`
	Name    string   `yaml:"name"`
	Role    Role     `yaml:"role"`
	Scopes  []string `yaml:"scopes"`
}

// SeededAPIKey is a key LoadSeed generated.
type SeededAPIKey struct {
	Org     string
	Project string
	Name    string
	Role    Role
	Scopes  []string
	Prefix  string
	// Key is the plaintext, shown once. Empty when a key of that name
	// already existed in the org (a second load into PostgreSQL): the old
	// plaintext cannot be recovered, and no duplicate is made.
	Key string
}

// SeedResult is what LoadSeed did.
type SeedResult struct {
	// Orgs, Users by slug / email (or external subject), as stored.
	Orgs  map[string]Org
	Users map[string]User
	// APIKeys in file order.
	APIKeys []SeededAPIKey
}

// ParseSeed decodes a seed file strictly (unknown keys are errors, as in the
// configuration) and validates it, reporting every problem with its YAML
// path.
func ParseSeed(data []byte) (Seed, error) {
	var s Seed
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file is an empty seed
		return Seed{}, fmt.Errorf("seed: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Seed{}, err
	}
	return s, nil
}

// ReadSeedFile reads and parses a seed file.
func ReadSeedFile(path string) (Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("seed: %w", err)
	}
	return ParseSeed(data)
}

// Validate checks the seed's own consistency and returns every problem,
// each with its YAML path. References to orgs not in the file are allowed
// (they may exist in the store) and checked at load.
func (s Seed) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("seed: %s: %s: %w", path, fmt.Sprintf(format, args...), ErrInvalid))
	}
	orgs := map[string]map[string]bool{}
	for i, o := range s.Orgs {
		p := fmt.Sprintf("orgs[%d]", i)
		slug := normSlug(o.Slug)
		if !validSlug(slug) {
			bad(p+".slug", "%q is not a slug (a-z, 0-9, _ and -, at most 63, not a UUID)", o.Slug)
		} else if orgs[slug] != nil {
			bad(p+".slug", "%q is defined twice", o.Slug)
		}
		if !validName(o.Name) {
			bad(p+".name", "must be 1 to 200 characters")
		}
		projects := map[string]bool{}
		for j, pr := range o.Projects {
			pp := fmt.Sprintf("%s.projects[%d]", p, j)
			ps := normSlug(pr.Slug)
			if !validSlug(ps) {
				bad(pp+".slug", "%q is not a slug", pr.Slug)
			} else if projects[ps] {
				bad(pp+".slug", "%q is defined twice", pr.Slug)
			}
			if !validName(pr.Name) {
				bad(pp+".name", "must be 1 to 200 characters")
			}
			projects[ps] = true
		}
		orgs[slug] = projects
	}
	ids := map[string]bool{}
	for i, u := range s.Users {
		p := fmt.Sprintf("users[%d]", i)
		email := normEmail(u.Email)
		switch {
		case email == "" && u.ExternalSubject == "":
			bad(p, "needs an email or an external_subject")
		case email != "" && !validEmail(email):
			bad(p+".email", "%q is not an email address", u.Email)
		}
		for _, id := range []string{"email:" + email, "sub:" + u.ExternalSubject} {
			if id != "email:" && id != "sub:" {
				if ids[id] {
					bad(p, "%s is defined twice", id)
				}
				ids[id] = true
			}
		}
		if u.ExternalSubject != "" && !validSubject(u.ExternalSubject) {
			bad(p+".external_subject", "must be 1 to 255 characters")
		}
		if u.Password != "" && len(u.Password) > maxPasswordBytes {
			bad(p+".password", "longer than %d bytes", maxPasswordBytes)
		}
		seen := map[string]bool{}
		for j, m := range u.Memberships {
			mp := fmt.Sprintf("%s.memberships[%d]", p, j)
			if !m.Role.Valid() {
				bad(mp+".role", "%q is not owner, admin, member or viewer", m.Role)
			}
			if slug := normSlug(m.Org); slug == "" {
				bad(mp+".org", "is required")
			} else if seen[slug] {
				bad(mp+".org", "%q listed twice", m.Org)
			} else {
				seen[slug] = true
			}
		}
	}
	for i, k := range s.APIKeys {
		p := fmt.Sprintf("api_keys[%d]", i)
		if normSlug(k.Org) == "" {
			bad(p+".org", "is required")
		} else if projects, ok := orgs[normSlug(k.Org)]; ok && k.Project != "" && !projects[normSlug(k.Project)] {
			bad(p+".project", "%q is not a project of org %q in this file", k.Project, k.Org)
		}
		if !validName(k.Name) {
			bad(p+".name", "must be 1 to 200 characters")
		}
		if !k.Role.Valid() {
			bad(p+".role", "%q is not owner, admin, member or viewer", k.Role)
		}
	}
	return errors.Join(errs...)
}

// LoadSeed writes the seed into s and returns what it stored, with the
// plaintexts of the generated API keys. It is idempotent: orgs, projects,
// users and memberships that exist are kept (a membership's role is not
// changed), and an API key whose name exists in its org is not made again.
// Passwords are hashed with argon2id (HashPassword).
func LoadSeed(ctx context.Context, s Store, seed Seed) (SeedResult, error) {
	if err := seed.Validate(); err != nil {
		return SeedResult{}, err
	}
	res := SeedResult{Orgs: map[string]Org{}, Users: map[string]User{}}
	orgBySlug := func(path, slug string) (Org, error) {
		slug = normSlug(slug)
		if o, ok := res.Orgs[slug]; ok {
			return o, nil
		}
		o, err := s.GetOrgBySlug(ctx, slug)
		if err != nil {
			return Org{}, fmt.Errorf("seed: %s: org %q: %w", path, slug, err)
		}
		res.Orgs[slug] = o
		return o, nil
	}

	for i, so := range seed.Orgs {
		p := fmt.Sprintf("orgs[%d]", i)
		o, err := s.GetOrgBySlug(ctx, so.Slug)
		if errors.Is(err, ErrNotFound) {
			o, err = s.CreateOrg(ctx, Org{Slug: so.Slug, Name: so.Name}, "")
		}
		if err != nil {
			return res, fmt.Errorf("seed: %s: %w", p, err)
		}
		res.Orgs[o.Slug] = o
		for j, sp := range so.Projects {
			_, err := s.GetProjectBySlug(ctx, o.ID, sp.Slug)
			if errors.Is(err, ErrNotFound) {
				_, err = s.CreateProject(ctx, Project{OrgID: o.ID, Slug: sp.Slug, Name: sp.Name})
			}
			if err != nil {
				return res, fmt.Errorf("seed: %s.projects[%d]: %w", p, j, err)
			}
		}
	}

	for i, su := range seed.Users {
		p := fmt.Sprintf("users[%d]", i)
		u, err := seedUser(ctx, s, su)
		if err != nil {
			return res, fmt.Errorf("seed: %s: %w", p, err)
		}
		for j, sm := range su.Memberships {
			mp := fmt.Sprintf("%s.memberships[%d]", p, j)
			o, err := orgBySlug(mp+".org", sm.Org)
			if err != nil {
				return res, err
			}
			if _, err := s.AddMember(ctx, o.ID, u.ID, sm.Role); err != nil && !errors.Is(err, ErrConflict) {
				return res, fmt.Errorf("seed: %s: %w", mp, err)
			}
			if j == 0 && u.DefaultOrgID == "" {
				if err := s.SetDefaultOrg(ctx, u.ID, o.ID); err != nil {
					return res, fmt.Errorf("seed: %s: default org: %w", mp, err)
				}
			}
		}
		if su.PlatformAdmin && !u.PlatformAdmin {
			if err := s.SetPlatformAdmin(ctx, u.ID, true); err != nil {
				return res, fmt.Errorf("seed: %s: %w", p, err)
			}
		}
		if u, err = s.GetUser(ctx, u.ID); err != nil {
			return res, fmt.Errorf("seed: %s: %w", p, err)
		}
		key := u.Email
		if key == "" {
			key = u.ExternalSubject
		}
		res.Users[key] = u
	}

	for i, sk := range seed.APIKeys {
		p := fmt.Sprintf("api_keys[%d]", i)
		k, err := seedAPIKey(ctx, s, sk, orgBySlug, p)
		if err != nil {
			return res, err
		}
		res.APIKeys = append(res.APIKeys, k)
	}
	return res, nil
}

// seedUser finds the user by email or external subject, or creates it.
func seedUser(ctx context.Context, s Store, su SeedUser) (User, error) {
	var u User
	var err error
	if su.Email != "" {
		u, err = s.GetUserByEmail(ctx, su.Email)
	} else {
		u, err = s.GetUserByExternalSubject(ctx, su.ExternalSubject)
	}
	if err == nil || !errors.Is(err, ErrNotFound) {
		return u, err
	}
	hash := ""
	if su.Password != "" {
		if hash, err = HashPassword(su.Password); err != nil {
			return User{}, err
		}
	}
	return s.CreateUser(ctx, User{Email: su.Email, Name: su.Name, ExternalSubject: su.ExternalSubject, PasswordHash: hash})
}

// seedAPIKey generates and stores one key, unless its name exists in the org.
func seedAPIKey(ctx context.Context, s Store, sk SeedAPIKey, orgBySlug func(path, slug string) (Org, error), p string) (SeededAPIKey, error) {
	o, err := orgBySlug(p+".org", sk.Org)
	if err != nil {
		return SeededAPIKey{}, err
	}
	out := SeededAPIKey{Org: o.Slug, Name: sk.Name, Role: sk.Role, Scopes: cloneStrings(sk.Scopes)}
	projectID := ""
	if sk.Project != "" {
		pr, err := s.GetProjectBySlug(ctx, o.ID, sk.Project)
		if err != nil {
			return SeededAPIKey{}, fmt.Errorf("seed: %s.project: %q: %w", p, sk.Project, err)
		}
		projectID, out.Project = pr.ID, pr.Slug
	}
	existing, err := s.ListAPIKeys(ctx, o.ID)
	if err != nil {
		return SeededAPIKey{}, fmt.Errorf("seed: %s: %w", p, err)
	}
	for _, k := range existing {
		if k.Name == sk.Name && k.RevokedAt.IsZero() {
			out.Prefix = k.Prefix
			return out, nil
		}
	}
	plain, prefix, hash := GenerateAPIKey()
	if _, err := s.CreateAPIKey(ctx, APIKey{OrgID: o.ID, ProjectID: projectID, Name: sk.Name, Prefix: prefix, Hash: hash,
		Role: sk.Role, Scopes: sk.Scopes}); err != nil {
		return SeededAPIKey{}, fmt.Errorf("seed: %s: %w", p, err)
	}
	out.Prefix, out.Key = prefix, plain
	return out, nil
}
