package tenancy

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MemoryStore is the embedded Store for one node, development and the demo.
// It keeps everything in maps behind one RWMutex: lookups by ID, prefix,
// email, external subject and (org, user) are O(1) map reads under the read
// lock; writes take the write lock, so every rule (uniqueness, the last
// owner) is checked atomically with the change. Nothing is persisted.
//
// Returned values are copies: callers may keep and modify them.
type MemoryStore struct {
	now func() time.Time

	mu sync.RWMutex

	orgs      map[string]Org
	orgBySlug map[string]string

	projects      map[string]Project
	projectBySlug map[orgKey]string // (org, slug) -> project ID

	users         map[string]User
	userByEmail   map[string]string
	userBySubject map[string]string

	members    map[orgKey]Membership          // (org, user)
	orgMembers map[string]map[string]struct{} // org -> users
	userOrgs   map[string]map[string]struct{} // user -> orgs
	owners     map[string]int                 // org -> number of owners

	projectMembers map[orgKey]ProjectMembership // (project, user)

	invitations map[string]Invitation

	apiKeys        map[string]APIKey
	apiKeyByPrefix map[string]string

	sessions      map[string]Session
	sessionByHash map[string]string

	adminTokens      map[string]AdminToken
	adminTokenByHash map[string]string

	audit    []AuditEntry // in append order; ID = index+1
	auditSeq int64

	subMu   sync.Mutex
	subs    map[int]func(Change)
	nextSub int
	// deliverMu serialises calls of subscribers: writers on different
	// goroutines never call one subscriber concurrently.
	deliverMu sync.Mutex
}

// orgKey is a pair of IDs (org+user, org+slug, project+user) used as a map key.
type orgKey struct{ a, b string }

var (
	_ Store          = (*MemoryStore)(nil)
	_ ChangeNotifier = (*MemoryStore)(nil)
)

// MemoryOption configures a MemoryStore.
type MemoryOption func(*MemoryStore)

// WithMemoryClock sets the clock used for CreatedAt, UpdatedAt, RevokedAt
// and similar timestamps. Default time.Now.
func WithMemoryClock(now func() time.Time) MemoryOption {
	return func(s *MemoryStore) { s.now = now }
}

// NewMemoryStore returns an empty store.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	s := &MemoryStore{
		now:              time.Now,
		orgs:             map[string]Org{},
		orgBySlug:        map[string]string{},
		projects:         map[string]Project{},
		projectBySlug:    map[orgKey]string{},
		users:            map[string]User{},
		userByEmail:      map[string]string{},
		userBySubject:    map[string]string{},
		members:          map[orgKey]Membership{},
		orgMembers:       map[string]map[string]struct{}{},
		userOrgs:         map[string]map[string]struct{}{},
		owners:           map[string]int{},
		projectMembers:   map[orgKey]ProjectMembership{},
		invitations:      map[string]Invitation{},
		apiKeys:          map[string]APIKey{},
		apiKeyByPrefix:   map[string]string{},
		sessions:         map[string]Session{},
		sessionByHash:    map[string]string{},
		adminTokens:      map[string]AdminToken{},
		adminTokenByHash: map[string]string{},
		subs:             map[int]func(Change){},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *MemoryStore) clock() time.Time { return dbTime(s.now()) }

// Subscribe implements ChangeNotifier: fn receives ChangeAll at once (the
// subscription is live on return), then is called synchronously after each
// write, outside the store's lock, never concurrently with itself.
func (s *MemoryStore) Subscribe(fn func(Change)) (cancel func()) {
	s.subMu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = fn
	s.subMu.Unlock()
	s.deliverMu.Lock()
	fn(Change{Kind: ChangeAll})
	s.deliverMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.subMu.Lock()
			delete(s.subs, id)
			s.subMu.Unlock()
		})
	}
}

// notify delivers changes to subscribers; call it after releasing s.mu.
func (s *MemoryStore) notify(changes ...Change) {
	if len(changes) == 0 {
		return
	}
	s.subMu.Lock()
	fns := make([]func(Change), 0, len(s.subs))
	for _, fn := range s.subs {
		fns = append(fns, fn)
	}
	s.subMu.Unlock()
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	for _, fn := range fns {
		for _, c := range changes {
			fn(c)
		}
	}
}

// ---- organizations ----

// CreateOrg implements OrgStore.
func (s *MemoryStore) CreateOrg(_ context.Context, org Org, ownerUserID string) (Org, error) {
	id, ok := idOrNew(org.ID)
	if !ok {
		return Org{}, fmt.Errorf("create org: id %q: %w", org.ID, ErrInvalid)
	}
	org.ID = id
	org.Slug = normSlug(org.Slug)
	if !validSlug(org.Slug) || !validName(org.Name) {
		return Org{}, fmt.Errorf("create org: slug %q or name: %w", org.Slug, ErrInvalid)
	}
	owner := ""
	if ownerUserID != "" {
		if owner, ok = canonicalID(ownerUserID); !ok {
			return Org{}, fmt.Errorf("create org: owner %q: %w", ownerUserID, ErrNotFound)
		}
	}
	s.mu.Lock()
	if _, taken := s.orgBySlug[org.Slug]; taken {
		s.mu.Unlock()
		return Org{}, fmt.Errorf("create org: slug %q: %w", org.Slug, ErrConflict)
	}
	if _, taken := s.orgs[org.ID]; taken {
		s.mu.Unlock()
		return Org{}, fmt.Errorf("create org: id: %w", ErrConflict)
	}
	if owner != "" {
		if _, exists := s.users[owner]; !exists {
			s.mu.Unlock()
			return Org{}, fmt.Errorf("create org: owner: %w", ErrNotFound)
		}
	}
	now := s.clock()
	org.CreatedAt, org.UpdatedAt = now, now
	s.orgs[org.ID] = org
	s.orgBySlug[org.Slug] = org.ID
	if owner != "" {
		s.putMemberLocked(Membership{OrgID: org.ID, UserID: owner, Role: RoleOwner, CreatedAt: now, UpdatedAt: now})
	}
	s.mu.Unlock()
	if owner != "" {
		// A membership addition, announced like every other (a cached
		// membership list of the owner must learn of the new org).
		s.notify(Change{Kind: ChangeMembership, OrgID: org.ID, UserID: owner})
	}
	return org, nil
}

// GetOrg implements OrgStore.
func (s *MemoryStore) GetOrg(_ context.Context, orgID string) (Org, error) {
	id, ok := canonicalID(orgID)
	if !ok {
		return Org{}, fmt.Errorf("get org: %w", ErrNotFound)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.orgs[id]
	if !ok {
		return Org{}, fmt.Errorf("get org: %w", ErrNotFound)
	}
	return o, nil
}

// GetOrgBySlug implements OrgStore.
func (s *MemoryStore) GetOrgBySlug(_ context.Context, slug string) (Org, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.orgBySlug[normSlug(slug)]
	if !ok {
		return Org{}, fmt.Errorf("get org by slug: %w", ErrNotFound)
	}
	return s.orgs[id], nil
}

// ListOrgs implements OrgStore.
func (s *MemoryStore) ListOrgs(_ context.Context, opts ListOptions) ([]Org, error) {
	s.mu.RLock()
	out := make([]Org, 0, len(s.orgs))
	for _, o := range s.orgs {
		if opts.After == "" || o.Slug > opts.After {
			out = append(out, o)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Org) int { return strings.Compare(a.Slug, b.Slug) })
	if n := opts.limit(); len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// UpdateOrg implements OrgStore.
func (s *MemoryStore) UpdateOrg(_ context.Context, orgID string, patch OrgPatch) (Org, error) {
	id, ok := canonicalID(orgID)
	if !ok {
		return Org{}, fmt.Errorf("update org: %w", ErrNotFound)
	}
	if patch.Name != nil && !validName(*patch.Name) {
		return Org{}, fmt.Errorf("update org: name: %w", ErrInvalid)
	}
	var slug string
	if patch.Slug != nil {
		if slug = normSlug(*patch.Slug); !validSlug(slug) {
			return Org{}, fmt.Errorf("update org: slug %q: %w", slug, ErrInvalid)
		}
	}
	s.mu.Lock()
	o, ok := s.orgs[id]
	if !ok {
		s.mu.Unlock()
		return Org{}, fmt.Errorf("update org: %w", ErrNotFound)
	}
	if patch.Slug != nil && slug != o.Slug {
		if _, taken := s.orgBySlug[slug]; taken {
			s.mu.Unlock()
			return Org{}, fmt.Errorf("update org: slug %q: %w", slug, ErrConflict)
		}
		delete(s.orgBySlug, o.Slug)
		s.orgBySlug[slug] = id
		o.Slug = slug
	}
	if patch.Name != nil {
		o.Name = *patch.Name
	}
	o.UpdatedAt = s.clock()
	s.orgs[id] = o
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeOrg, OrgID: id, ID: id})
	return o, nil
}

// DeleteOrg implements OrgStore.
func (s *MemoryStore) DeleteOrg(_ context.Context, orgID string) error {
	id, ok := canonicalID(orgID)
	if !ok {
		return fmt.Errorf("delete org: %w", ErrNotFound)
	}
	s.mu.Lock()
	o, ok := s.orgs[id]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("delete org: %w", ErrNotFound)
	}
	var changes []Change
	for _, p := range s.projects {
		if p.OrgID == id {
			s.deleteProjectLocked(p)
		}
	}
	for uid := range s.orgMembers[id] {
		s.deleteMemberLocked(id, uid)
		changes = append(changes, Change{Kind: ChangeMembership, OrgID: id, UserID: uid})
	}
	for iid, inv := range s.invitations {
		if inv.OrgID == id {
			delete(s.invitations, iid)
		}
	}
	for kid, k := range s.apiKeys {
		if k.OrgID == id {
			delete(s.apiKeys, kid)
			delete(s.apiKeyByPrefix, k.Prefix)
			changes = append(changes, Change{Kind: ChangeAPIKey, OrgID: id, ID: kid})
		}
	}
	for sid, x := range s.sessions {
		if x.OrgID == id {
			x.OrgID = ""
			s.sessions[sid] = x
		}
	}
	delete(s.orgs, id)
	delete(s.orgBySlug, o.Slug)
	delete(s.owners, id)
	s.mu.Unlock()
	s.notify(append([]Change{{Kind: ChangeOrg, OrgID: id, ID: id}}, changes...)...)
	return nil
}

// ---- projects ----

// CreateProject implements ProjectStore.
func (s *MemoryStore) CreateProject(_ context.Context, p Project) (Project, error) {
	id, ok := idOrNew(p.ID)
	if !ok {
		return Project{}, fmt.Errorf("create project: id %q: %w", p.ID, ErrInvalid)
	}
	p.ID = id
	org, ok := canonicalID(p.OrgID)
	if !ok {
		return Project{}, fmt.Errorf("create project: org: %w", ErrNotFound)
	}
	p.OrgID = org
	p.Slug = normSlug(p.Slug)
	if !validSlug(p.Slug) || !validName(p.Name) {
		return Project{}, fmt.Errorf("create project: slug %q or name: %w", p.Slug, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.orgs[org]; !exists {
		return Project{}, fmt.Errorf("create project: org: %w", ErrNotFound)
	}
	if _, taken := s.projectBySlug[orgKey{org, p.Slug}]; taken {
		return Project{}, fmt.Errorf("create project: slug %q: %w", p.Slug, ErrConflict)
	}
	if _, taken := s.projects[id]; taken {
		return Project{}, fmt.Errorf("create project: id: %w", ErrConflict)
	}
	now := s.clock()
	p.CreatedAt, p.UpdatedAt = now, now
	s.projects[id] = p
	s.projectBySlug[orgKey{org, p.Slug}] = id
	return p, nil
}

// projectLocked returns the org's project; the caller holds s.mu.
func (s *MemoryStore) projectLocked(orgID, projectID string) (Project, bool) {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(projectID)
	if !ok1 || !ok2 {
		return Project{}, false
	}
	p, ok := s.projects[id]
	if !ok || p.OrgID != org {
		return Project{}, false
	}
	return p, true
}

// GetProject implements ProjectStore.
func (s *MemoryStore) GetProject(_ context.Context, orgID, projectID string) (Project, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projectLocked(orgID, projectID)
	if !ok {
		return Project{}, fmt.Errorf("get project: %w", ErrNotFound)
	}
	return p, nil
}

// GetProjectBySlug implements ProjectStore.
func (s *MemoryStore) GetProjectBySlug(_ context.Context, orgID, slug string) (Project, error) {
	org, ok := canonicalID(orgID)
	if !ok {
		return Project{}, fmt.Errorf("get project by slug: %w", ErrNotFound)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.projectBySlug[orgKey{org, normSlug(slug)}]
	if !ok {
		return Project{}, fmt.Errorf("get project by slug: %w", ErrNotFound)
	}
	return s.projects[id], nil
}

// ListProjects implements ProjectStore.
func (s *MemoryStore) ListProjects(_ context.Context, orgID string) ([]Project, error) {
	org, _ := canonicalID(orgID)
	s.mu.RLock()
	out := []Project{}
	for _, p := range s.projects {
		if p.OrgID == org {
			out = append(out, p)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Project) int { return strings.Compare(a.Slug, b.Slug) })
	return out, nil
}

// UpdateProject implements ProjectStore.
func (s *MemoryStore) UpdateProject(_ context.Context, orgID, projectID string, patch ProjectPatch) (Project, error) {
	if patch.Name != nil && !validName(*patch.Name) {
		return Project{}, fmt.Errorf("update project: name: %w", ErrInvalid)
	}
	var slug string
	if patch.Slug != nil {
		if slug = normSlug(*patch.Slug); !validSlug(slug) {
			return Project{}, fmt.Errorf("update project: slug %q: %w", slug, ErrInvalid)
		}
	}
	s.mu.Lock()
	p, ok := s.projectLocked(orgID, projectID)
	if !ok {
		s.mu.Unlock()
		return Project{}, fmt.Errorf("update project: %w", ErrNotFound)
	}
	if patch.Slug != nil && slug != p.Slug {
		if _, taken := s.projectBySlug[orgKey{p.OrgID, slug}]; taken {
			s.mu.Unlock()
			return Project{}, fmt.Errorf("update project: slug %q: %w", slug, ErrConflict)
		}
		delete(s.projectBySlug, orgKey{p.OrgID, p.Slug})
		s.projectBySlug[orgKey{p.OrgID, slug}] = p.ID
		p.Slug = slug
	}
	if patch.Name != nil {
		p.Name = *patch.Name
	}
	p.UpdatedAt = s.clock()
	s.projects[p.ID] = p
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeProject, OrgID: p.OrgID, ID: p.ID})
	return p, nil
}

// DeleteProject implements ProjectStore.
func (s *MemoryStore) DeleteProject(_ context.Context, orgID, projectID string) error {
	s.mu.Lock()
	p, ok := s.projectLocked(orgID, projectID)
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("delete project: %w", ErrNotFound)
	}
	changes := s.deleteProjectLocked(p)
	s.mu.Unlock()
	s.notify(append([]Change{{Kind: ChangeProject, OrgID: p.OrgID, ID: p.ID}}, changes...)...)
	return nil
}

// deleteProjectLocked removes p, its project memberships and its API keys.
func (s *MemoryStore) deleteProjectLocked(p Project) []Change {
	var changes []Change
	for k, pm := range s.projectMembers {
		if pm.ProjectID == p.ID {
			delete(s.projectMembers, k)
			changes = append(changes, Change{Kind: ChangeMembership, OrgID: p.OrgID, UserID: pm.UserID})
		}
	}
	for kid, k := range s.apiKeys {
		if k.ProjectID == p.ID {
			delete(s.apiKeys, kid)
			delete(s.apiKeyByPrefix, k.Prefix)
			changes = append(changes, Change{Kind: ChangeAPIKey, OrgID: p.OrgID, ID: kid})
		}
	}
	delete(s.projects, p.ID)
	delete(s.projectBySlug, orgKey{p.OrgID, p.Slug})
	return changes
}

// ---- users ----

// CreateUser implements UserStore.
func (s *MemoryStore) CreateUser(_ context.Context, u User) (User, error) {
	id, ok := idOrNew(u.ID)
	if !ok {
		return User{}, fmt.Errorf("create user: id %q: %w", u.ID, ErrInvalid)
	}
	u.ID = id
	u.Email = normEmail(u.Email)
	if err := validateUser(u); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	if u.DefaultOrgID != "" {
		return User{}, fmt.Errorf("create user: default org is set after a membership exists (SetDefaultOrg): %w", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.users[id]; taken {
		return User{}, fmt.Errorf("create user: id: %w", ErrConflict)
	}
	if u.Email != "" {
		if _, taken := s.userByEmail[u.Email]; taken {
			return User{}, fmt.Errorf("create user: email: %w", ErrConflict)
		}
	}
	if u.ExternalSubject != "" {
		if _, taken := s.userBySubject[u.ExternalSubject]; taken {
			return User{}, fmt.Errorf("create user: external subject: %w", ErrConflict)
		}
	}
	now := s.clock()
	u.CreatedAt, u.UpdatedAt = now, now
	s.users[id] = u
	if u.Email != "" {
		s.userByEmail[u.Email] = id
	}
	if u.ExternalSubject != "" {
		s.userBySubject[u.ExternalSubject] = id
	}
	return u, nil
}

// GetUser implements UserStore.
func (s *MemoryStore) GetUser(_ context.Context, userID string) (User, error) {
	id, ok := canonicalID(userID)
	if !ok {
		return User{}, fmt.Errorf("get user: %w", ErrNotFound)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, fmt.Errorf("get user: %w", ErrNotFound)
	}
	return u, nil
}

// GetUserByEmail implements UserStore.
func (s *MemoryStore) GetUserByEmail(_ context.Context, email string) (User, error) {
	e := normEmail(email)
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.userByEmail[e]
	if !ok || e == "" {
		return User{}, fmt.Errorf("get user by email: %w", ErrNotFound)
	}
	return s.users[id], nil
}

// GetUserByExternalSubject implements UserStore.
func (s *MemoryStore) GetUserByExternalSubject(_ context.Context, subject string) (User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.userBySubject[subject]
	if !ok || subject == "" {
		return User{}, fmt.Errorf("get user by external subject: %w", ErrNotFound)
	}
	return s.users[id], nil
}

// updateUser applies fn to the user under the write lock and announces it.
func (s *MemoryStore) updateUser(op, userID string, fn func(*User) error) error {
	id, ok := canonicalID(userID)
	if !ok {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	s.mu.Lock()
	u, ok := s.users[id]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if err := fn(&u); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("%s: %w", op, err)
	}
	u.UpdatedAt = s.clock()
	s.users[id] = u
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeUser, UserID: id})
	return nil
}

// SetDefaultOrg implements UserStore.
func (s *MemoryStore) SetDefaultOrg(_ context.Context, userID, orgID string) error {
	return s.updateUser("set default org", userID, func(u *User) error {
		if orgID == "" {
			u.DefaultOrgID = ""
			return nil
		}
		org, ok := canonicalID(orgID)
		if !ok {
			return ErrNotFound
		}
		if _, member := s.members[orgKey{org, u.ID}]; !member {
			return ErrNotFound
		}
		u.DefaultOrgID = org
		return nil
	})
}

// SetPlatformAdmin implements UserStore.
func (s *MemoryStore) SetPlatformAdmin(_ context.Context, userID string, admin bool) error {
	return s.updateUser("set platform admin", userID, func(u *User) error {
		u.PlatformAdmin = admin
		return nil
	})
}

// SetPasswordHash implements UserStore.
func (s *MemoryStore) SetPasswordHash(_ context.Context, userID, hash string) error {
	if !validPasswordHash(hash) {
		return fmt.Errorf("set password hash: not a PHC string: %w", ErrInvalid)
	}
	return s.updateUser("set password hash", userID, func(u *User) error {
		u.PasswordHash = hash
		return nil
	})
}

// ---- memberships ----

// putMemberLocked stores m and keeps the indexes and owner count in step.
func (s *MemoryStore) putMemberLocked(m Membership) {
	k := orgKey{m.OrgID, m.UserID}
	if old, ok := s.members[k]; ok && old.Role == RoleOwner {
		s.owners[m.OrgID]--
	}
	s.members[k] = m
	if m.Role == RoleOwner {
		s.owners[m.OrgID]++
	}
	if s.orgMembers[m.OrgID] == nil {
		s.orgMembers[m.OrgID] = map[string]struct{}{}
	}
	s.orgMembers[m.OrgID][m.UserID] = struct{}{}
	if s.userOrgs[m.UserID] == nil {
		s.userOrgs[m.UserID] = map[string]struct{}{}
	}
	s.userOrgs[m.UserID][m.OrgID] = struct{}{}
}

// deleteMemberLocked removes the membership, the user's project memberships
// in the org and a default org pointing at it.
func (s *MemoryStore) deleteMemberLocked(orgID, userID string) {
	k := orgKey{orgID, userID}
	m, ok := s.members[k]
	if !ok {
		return
	}
	if m.Role == RoleOwner {
		s.owners[orgID]--
	}
	delete(s.members, k)
	delete(s.orgMembers[orgID], userID)
	if len(s.orgMembers[orgID]) == 0 {
		delete(s.orgMembers, orgID)
	}
	delete(s.userOrgs[userID], orgID)
	if len(s.userOrgs[userID]) == 0 {
		delete(s.userOrgs, userID)
	}
	for pk, pm := range s.projectMembers {
		if pm.OrgID == orgID && pm.UserID == userID {
			delete(s.projectMembers, pk)
		}
	}
	if u, ok := s.users[userID]; ok && u.DefaultOrgID == orgID {
		u.DefaultOrgID = ""
		u.UpdatedAt = s.clock()
		s.users[userID] = u
	}
}

// AddMember implements MembershipStore.
func (s *MemoryStore) AddMember(_ context.Context, orgID, userID string, role Role) (Membership, error) {
	if !role.Valid() {
		return Membership{}, fmt.Errorf("add member: role %q: %w", role, ErrInvalid)
	}
	org, ok1 := canonicalID(orgID)
	user, ok2 := canonicalID(userID)
	if !ok1 || !ok2 {
		return Membership{}, fmt.Errorf("add member: %w", ErrNotFound)
	}
	s.mu.Lock()
	if _, ok := s.orgs[org]; !ok {
		s.mu.Unlock()
		return Membership{}, fmt.Errorf("add member: org: %w", ErrNotFound)
	}
	if _, ok := s.users[user]; !ok {
		s.mu.Unlock()
		return Membership{}, fmt.Errorf("add member: user: %w", ErrNotFound)
	}
	if _, ok := s.members[orgKey{org, user}]; ok {
		s.mu.Unlock()
		return Membership{}, fmt.Errorf("add member: %w", ErrConflict)
	}
	now := s.clock()
	m := Membership{OrgID: org, UserID: user, Role: role, CreatedAt: now, UpdatedAt: now}
	s.putMemberLocked(m)
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeMembership, OrgID: org, UserID: user})
	return m, nil
}

// GetMembership implements MembershipStore. Stored keys are canonical, so
// a hit needs no validation of the IDs; only a miss checks whether they
// were merely written differently (upper case).
func (s *MemoryStore) GetMembership(_ context.Context, orgID, userID string) (Membership, error) {
	s.mu.RLock()
	m, ok := s.members[orgKey{orgID, userID}]
	s.mu.RUnlock()
	if ok {
		return m, nil
	}
	org, ok1 := canonicalID(orgID)
	user, ok2 := canonicalID(userID)
	if ok1 && ok2 && (org != orgID || user != userID) {
		s.mu.RLock()
		m, ok = s.members[orgKey{org, user}]
		s.mu.RUnlock()
		if ok {
			return m, nil
		}
	}
	return Membership{}, fmt.Errorf("get membership: %w", ErrNotFound)
}

// ListMembers implements MembershipStore.
func (s *MemoryStore) ListMembers(_ context.Context, orgID string) ([]Member, error) {
	org, _ := canonicalID(orgID)
	s.mu.RLock()
	out := make([]Member, 0, len(s.orgMembers[org]))
	for uid := range s.orgMembers[org] {
		out = append(out, Member{Membership: s.members[orgKey{org, uid}], Email: s.users[uid].Email})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Member) int {
		if c := strings.Compare(a.Email, b.Email); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
	return out, nil
}

// ListUserMemberships implements MembershipStore.
func (s *MemoryStore) ListUserMemberships(_ context.Context, userID string) ([]UserMembership, error) {
	user, _ := canonicalID(userID)
	s.mu.RLock()
	out := make([]UserMembership, 0, len(s.userOrgs[user]))
	for oid := range s.userOrgs[user] {
		o := s.orgs[oid]
		out = append(out, UserMembership{Membership: s.members[orgKey{oid, user}], OrgSlug: o.Slug, OrgName: o.Name})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b UserMembership) int { return strings.Compare(a.OrgSlug, b.OrgSlug) })
	return out, nil
}

// UpdateMemberRole implements MembershipStore.
func (s *MemoryStore) UpdateMemberRole(_ context.Context, orgID, userID string, role Role) (Membership, error) {
	if !role.Valid() {
		return Membership{}, fmt.Errorf("update member role: role %q: %w", role, ErrInvalid)
	}
	org, ok1 := canonicalID(orgID)
	user, ok2 := canonicalID(userID)
	if !ok1 || !ok2 {
		return Membership{}, fmt.Errorf("update member role: %w", ErrNotFound)
	}
	s.mu.Lock()
	m, ok := s.members[orgKey{org, user}]
	if !ok {
		s.mu.Unlock()
		return Membership{}, fmt.Errorf("update member role: %w", ErrNotFound)
	}
	if m.Role == RoleOwner && role != RoleOwner && s.owners[org] <= 1 {
		s.mu.Unlock()
		return Membership{}, fmt.Errorf("update member role: %w", ErrLastOwner)
	}
	m.Role = role
	m.UpdatedAt = s.clock()
	s.putMemberLocked(m)
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeMembership, OrgID: org, UserID: user})
	return m, nil
}

// RemoveMember implements MembershipStore.
func (s *MemoryStore) RemoveMember(_ context.Context, orgID, userID string) error {
	org, ok1 := canonicalID(orgID)
	user, ok2 := canonicalID(userID)
	if !ok1 || !ok2 {
		return fmt.Errorf("remove member: %w", ErrNotFound)
	}
	s.mu.Lock()
	m, ok := s.members[orgKey{org, user}]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("remove member: %w", ErrNotFound)
	}
	if m.Role == RoleOwner && s.owners[org] <= 1 {
		s.mu.Unlock()
		return fmt.Errorf("remove member: %w", ErrLastOwner)
	}
	s.deleteMemberLocked(org, user)
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeMembership, OrgID: org, UserID: user}, Change{Kind: ChangeUser, UserID: user})
	return nil
}

// ---- project memberships ----

// AddProjectMember implements ProjectMembershipStore.
func (s *MemoryStore) AddProjectMember(_ context.Context, orgID, projectID, userID string, role Role) (ProjectMembership, error) {
	if !role.Valid() {
		return ProjectMembership{}, fmt.Errorf("add project member: role %q: %w", role, ErrInvalid)
	}
	user, ok := canonicalID(userID)
	if !ok {
		return ProjectMembership{}, fmt.Errorf("add project member: %w", ErrNotFound)
	}
	s.mu.Lock()
	p, ok := s.projectLocked(orgID, projectID)
	if !ok {
		s.mu.Unlock()
		return ProjectMembership{}, fmt.Errorf("add project member: project: %w", ErrNotFound)
	}
	if _, ok := s.members[orgKey{p.OrgID, user}]; !ok {
		s.mu.Unlock()
		return ProjectMembership{}, fmt.Errorf("add project member: not a member of the org: %w", ErrNotFound)
	}
	k := orgKey{p.ID, user}
	if _, ok := s.projectMembers[k]; ok {
		s.mu.Unlock()
		return ProjectMembership{}, fmt.Errorf("add project member: %w", ErrConflict)
	}
	now := s.clock()
	pm := ProjectMembership{ProjectID: p.ID, OrgID: p.OrgID, UserID: user, Role: role, CreatedAt: now, UpdatedAt: now}
	s.projectMembers[k] = pm
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeMembership, OrgID: p.OrgID, UserID: user})
	return pm, nil
}

// projectMemberLocked finds a project membership within the org.
func (s *MemoryStore) projectMemberLocked(orgID, projectID, userID string) (ProjectMembership, bool) {
	p, ok := s.projectLocked(orgID, projectID)
	if !ok {
		return ProjectMembership{}, false
	}
	user, ok := canonicalID(userID)
	if !ok {
		return ProjectMembership{}, false
	}
	pm, ok := s.projectMembers[orgKey{p.ID, user}]
	return pm, ok
}

// GetProjectMembership implements ProjectMembershipStore.
func (s *MemoryStore) GetProjectMembership(_ context.Context, orgID, projectID, userID string) (ProjectMembership, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	pm, ok := s.projectMemberLocked(orgID, projectID, userID)
	if !ok {
		return ProjectMembership{}, fmt.Errorf("get project membership: %w", ErrNotFound)
	}
	return pm, nil
}

// ListProjectMembers implements ProjectMembershipStore.
func (s *MemoryStore) ListProjectMembers(_ context.Context, orgID, projectID string) ([]ProjectMembership, error) {
	s.mu.RLock()
	p, ok := s.projectLocked(orgID, projectID)
	if !ok {
		s.mu.RUnlock()
		return nil, fmt.Errorf("list project members: %w", ErrNotFound)
	}
	out := []ProjectMembership{}
	for _, pm := range s.projectMembers {
		if pm.ProjectID == p.ID {
			out = append(out, pm)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b ProjectMembership) int { return strings.Compare(a.UserID, b.UserID) })
	return out, nil
}

// UpdateProjectMemberRole implements ProjectMembershipStore.
func (s *MemoryStore) UpdateProjectMemberRole(_ context.Context, orgID, projectID, userID string, role Role) (ProjectMembership, error) {
	if !role.Valid() {
		return ProjectMembership{}, fmt.Errorf("update project member role: role %q: %w", role, ErrInvalid)
	}
	s.mu.Lock()
	pm, ok := s.projectMemberLocked(orgID, projectID, userID)
	if !ok {
		s.mu.Unlock()
		return ProjectMembership{}, fmt.Errorf("update project member role: %w", ErrNotFound)
	}
	pm.Role = role
	pm.UpdatedAt = s.clock()
	s.projectMembers[orgKey{pm.ProjectID, pm.UserID}] = pm
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeMembership, OrgID: pm.OrgID, UserID: pm.UserID})
	return pm, nil
}

// RemoveProjectMember implements ProjectMembershipStore.
func (s *MemoryStore) RemoveProjectMember(_ context.Context, orgID, projectID, userID string) error {
	s.mu.Lock()
	pm, ok := s.projectMemberLocked(orgID, projectID, userID)
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("remove project member: %w", ErrNotFound)
	}
	delete(s.projectMembers, orgKey{pm.ProjectID, pm.UserID})
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeMembership, OrgID: pm.OrgID, UserID: pm.UserID})
	return nil
}

// ---- invitations ----

// CreateInvitation implements InvitationStore.
func (s *MemoryStore) CreateInvitation(_ context.Context, inv Invitation) (Invitation, error) {
	id, ok := idOrNew(inv.ID)
	if !ok {
		return Invitation{}, fmt.Errorf("create invitation: id %q: %w", inv.ID, ErrInvalid)
	}
	inv.ID = id
	inv.Email = normEmail(inv.Email)
	if !validEmail(inv.Email) || !inv.Role.Valid() {
		return Invitation{}, fmt.Errorf("create invitation: email and a valid role are required: %w", ErrInvalid)
	}
	org, ok := canonicalID(inv.OrgID)
	if !ok {
		return Invitation{}, fmt.Errorf("create invitation: org: %w", ErrNotFound)
	}
	inv.OrgID = org
	if inv.InvitedBy != "" {
		if inv.InvitedBy, ok = canonicalID(inv.InvitedBy); !ok {
			return Invitation{}, fmt.Errorf("create invitation: inviter: %w", ErrNotFound)
		}
	}
	inv.AcceptedAt, inv.RevokedAt = time.Time{}, time.Time{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[org]; !ok {
		return Invitation{}, fmt.Errorf("create invitation: org: %w", ErrNotFound)
	}
	if inv.InvitedBy != "" {
		if _, ok := s.users[inv.InvitedBy]; !ok {
			return Invitation{}, fmt.Errorf("create invitation: inviter: %w", ErrNotFound)
		}
	}
	now := s.clock()
	inv.ExpiresAt = invitationExpiry(inv.ExpiresAt, now)
	for oid, o := range s.invitations {
		if o.OrgID == org && o.Email == inv.Email && o.AcceptedAt.IsZero() && o.RevokedAt.IsZero() {
			if o.Pending(now) {
				return Invitation{}, fmt.Errorf("create invitation: %w", ErrConflict)
			}
			o.RevokedAt = now // an expired invitation is replaced
			s.invitations[oid] = o
		}
	}
	if _, taken := s.invitations[id]; taken {
		return Invitation{}, fmt.Errorf("create invitation: id: %w", ErrConflict)
	}
	inv.CreatedAt = now
	s.invitations[id] = inv
	return inv, nil
}

// ListInvitations implements InvitationStore.
func (s *MemoryStore) ListInvitations(_ context.Context, orgID string) ([]Invitation, error) {
	org, _ := canonicalID(orgID)
	s.mu.RLock()
	out := []Invitation{}
	for _, inv := range s.invitations {
		if inv.OrgID == org && inv.AcceptedAt.IsZero() && inv.RevokedAt.IsZero() {
			out = append(out, inv)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Invitation) int { return strings.Compare(a.Email, b.Email) })
	return out, nil
}

// RevokeInvitation implements InvitationStore.
func (s *MemoryStore) RevokeInvitation(_ context.Context, orgID, invitationID string) error {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(invitationID)
	if !ok1 || !ok2 {
		return fmt.Errorf("revoke invitation: %w", ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invitations[id]
	if !ok || inv.OrgID != org || !inv.AcceptedAt.IsZero() || !inv.RevokedAt.IsZero() {
		return fmt.Errorf("revoke invitation: %w", ErrNotFound)
	}
	inv.RevokedAt = s.clock()
	s.invitations[id] = inv
	return nil
}

// AcceptInvitations implements InvitationStore.
func (s *MemoryStore) AcceptInvitations(_ context.Context, userID, email string) ([]Membership, error) {
	user, ok := canonicalID(userID)
	if !ok {
		return nil, fmt.Errorf("accept invitations: user: %w", ErrNotFound)
	}
	e := normEmail(email)
	s.mu.Lock()
	u, ok := s.users[user]
	if !ok {
		s.mu.Unlock()
		return nil, fmt.Errorf("accept invitations: user: %w", ErrNotFound)
	}
	if e == "" || u.Email != e {
		s.mu.Unlock()
		return nil, fmt.Errorf("accept invitations: email is not the user's: %w", ErrInvalid)
	}
	now := s.clock()
	out := []Membership{}
	var changes []Change
	for id, inv := range s.invitations {
		if inv.Email != e || !inv.Pending(now) {
			continue
		}
		inv.AcceptedAt = now
		s.invitations[id] = inv
		if _, member := s.members[orgKey{inv.OrgID, user}]; member {
			continue
		}
		m := Membership{OrgID: inv.OrgID, UserID: user, Role: inv.Role, CreatedAt: now, UpdatedAt: now}
		s.putMemberLocked(m)
		out = append(out, m)
		changes = append(changes, Change{Kind: ChangeMembership, OrgID: inv.OrgID, UserID: user})
	}
	s.mu.Unlock()
	s.notify(changes...)
	slices.SortFunc(out, func(a, b Membership) int { return strings.Compare(a.OrgID, b.OrgID) })
	return out, nil
}

// ---- API keys ----

func cloneAPIKey(k APIKey) APIKey {
	k.Hash = cloneBytes(k.Hash)
	k.Scopes = cloneStrings(k.Scopes)
	return k
}

// CreateAPIKey implements APIKeyStore.
func (s *MemoryStore) CreateAPIKey(_ context.Context, k APIKey) (APIKey, error) {
	id, ok := idOrNew(k.ID)
	if !ok {
		return APIKey{}, fmt.Errorf("create api key: id %q: %w", k.ID, ErrInvalid)
	}
	k.ID = id
	if err := validateAPIKey(k); err != nil {
		return APIKey{}, fmt.Errorf("create api key: %w", err)
	}
	org, ok := canonicalID(k.OrgID)
	if !ok {
		return APIKey{}, fmt.Errorf("create api key: org: %w", ErrNotFound)
	}
	k.OrgID = org
	if k.CreatedBy != "" {
		if k.CreatedBy, ok = canonicalID(k.CreatedBy); !ok {
			return APIKey{}, fmt.Errorf("create api key: creator: %w", ErrNotFound)
		}
	}
	k = cloneAPIKey(k)
	k.ExpiresAt = dbTime(k.ExpiresAt)
	k.RevokedAt, k.LastUsedAt = time.Time{}, time.Time{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orgs[org]; !ok {
		return APIKey{}, fmt.Errorf("create api key: org: %w", ErrNotFound)
	}
	if k.ProjectID != "" {
		p, ok := s.projectLocked(org, k.ProjectID)
		if !ok {
			return APIKey{}, fmt.Errorf("create api key: project: %w", ErrNotFound)
		}
		k.ProjectID = p.ID
	}
	if k.CreatedBy != "" {
		if _, ok := s.users[k.CreatedBy]; !ok {
			return APIKey{}, fmt.Errorf("create api key: creator: %w", ErrNotFound)
		}
	}
	if _, taken := s.apiKeyByPrefix[k.Prefix]; taken {
		return APIKey{}, fmt.Errorf("create api key: prefix: %w", ErrConflict)
	}
	if _, taken := s.apiKeys[id]; taken {
		return APIKey{}, fmt.Errorf("create api key: id: %w", ErrConflict)
	}
	k.CreatedAt = s.clock()
	s.apiKeys[id] = k
	s.apiKeyByPrefix[k.Prefix] = id
	return cloneAPIKey(k), nil
}

// GetAPIKeyByPrefix implements APIKeyStore.
func (s *MemoryStore) GetAPIKeyByPrefix(_ context.Context, prefix string) (APIKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.apiKeyByPrefix[prefix]
	if !ok {
		return APIKey{}, fmt.Errorf("get api key by prefix: %w", ErrNotFound)
	}
	return cloneAPIKey(s.apiKeys[id]), nil
}

// apiKeyLocked finds the org's key.
func (s *MemoryStore) apiKeyLocked(orgID, keyID string) (APIKey, bool) {
	org, ok1 := canonicalID(orgID)
	id, ok2 := canonicalID(keyID)
	if !ok1 || !ok2 {
		return APIKey{}, false
	}
	k, ok := s.apiKeys[id]
	if !ok || k.OrgID != org {
		return APIKey{}, false
	}
	return k, true
}

// GetAPIKey implements APIKeyStore.
func (s *MemoryStore) GetAPIKey(_ context.Context, orgID, keyID string) (APIKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.apiKeyLocked(orgID, keyID)
	if !ok {
		return APIKey{}, fmt.Errorf("get api key: %w", ErrNotFound)
	}
	return cloneAPIKey(k), nil
}

// ListAPIKeys implements APIKeyStore.
func (s *MemoryStore) ListAPIKeys(_ context.Context, orgID string) ([]APIKey, error) {
	org, _ := canonicalID(orgID)
	s.mu.RLock()
	out := []APIKey{}
	for _, k := range s.apiKeys {
		if k.OrgID == org {
			out = append(out, cloneAPIKey(k))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b APIKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// RevokeAPIKey implements APIKeyStore.
func (s *MemoryStore) RevokeAPIKey(_ context.Context, orgID, keyID string) (APIKey, error) {
	s.mu.Lock()
	k, ok := s.apiKeyLocked(orgID, keyID)
	if !ok {
		s.mu.Unlock()
		return APIKey{}, fmt.Errorf("revoke api key: %w", ErrNotFound)
	}
	if k.RevokedAt.IsZero() {
		k.RevokedAt = s.clock()
		s.apiKeys[k.ID] = k
	}
	out := cloneAPIKey(k)
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeAPIKey, OrgID: k.OrgID, ID: k.ID})
	return out, nil
}

// TouchAPIKeys implements APIKeyStore.
func (s *MemoryStore) TouchAPIKeys(_ context.Context, keyIDs []string, at time.Time) error {
	at = dbTime(at)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, keyID := range keyIDs {
		id, ok := canonicalID(keyID)
		if !ok {
			continue
		}
		if k, ok := s.apiKeys[id]; ok && at.After(k.LastUsedAt) {
			k.LastUsedAt = at
			s.apiKeys[id] = k
		}
	}
	return nil
}

// ---- sessions ----

func cloneSession(x Session) Session {
	x.TokenHash = cloneBytes(x.TokenHash)
	return x
}

// insertSessionLocked validates and stores a token.
func (s *MemoryStore) insertSessionLocked(x Session) (Session, error) {
	if _, ok := s.users[x.UserID]; !ok {
		return Session{}, fmt.Errorf("user: %w", ErrNotFound)
	}
	if x.OrgID != "" {
		if _, ok := s.orgs[x.OrgID]; !ok {
			return Session{}, fmt.Errorf("org: %w", ErrNotFound)
		}
	}
	if _, taken := s.sessionByHash[string(x.TokenHash)]; taken {
		return Session{}, fmt.Errorf("token hash: %w", ErrConflict)
	}
	if _, taken := s.sessions[x.ID]; taken {
		return Session{}, fmt.Errorf("id: %w", ErrConflict)
	}
	x.CreatedAt = s.clock()
	s.sessions[x.ID] = x
	s.sessionByHash[string(x.TokenHash)] = x.ID
	return cloneSession(x), nil
}

// prepareSession validates the caller's fields of a new token.
func prepareSession(x Session) (Session, error) {
	id, ok := idOrNew(x.ID)
	if !ok {
		return Session{}, fmt.Errorf("id %q: %w", x.ID, ErrInvalid)
	}
	x.ID = id
	if len(x.TokenHash) != sha256.Size || x.ExpiresAt.IsZero() {
		return Session{}, fmt.Errorf("a SHA-256 token hash and an expiry are required: %w", ErrInvalid)
	}
	ip, ok := normIP(x.ClientIP)
	if utf8.RuneCountInString(x.UserAgent) > 512 || !ok {
		return Session{}, fmt.Errorf("user agent or client ip: %w", ErrInvalid)
	}
	x.ClientIP = ip
	x = cloneSession(x)
	x.ExpiresAt = dbTime(x.ExpiresAt)
	x.UsedAt, x.RevokedAt = time.Time{}, time.Time{}
	return x, nil
}

// CreateSession implements SessionStore.
func (s *MemoryStore) CreateSession(_ context.Context, x Session) (Session, error) {
	x, err := prepareSession(x)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	user, ok := canonicalID(x.UserID)
	if !ok {
		return Session{}, fmt.Errorf("create session: user: %w", ErrNotFound)
	}
	x.UserID, x.FamilyID, x.ParentID = user, x.ID, ""
	if x.OrgID != "" {
		if x.OrgID, ok = canonicalID(x.OrgID); !ok {
			return Session{}, fmt.Errorf("create session: org: %w", ErrNotFound)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.insertSessionLocked(x)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	return out, nil
}

// GetSessionByTokenHash implements SessionStore.
func (s *MemoryStore) GetSessionByTokenHash(_ context.Context, hash []byte) (Session, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.sessionByHash[string(hash)]
	if !ok {
		return Session{}, fmt.Errorf("get session by token hash: %w", ErrNotFound)
	}
	return cloneSession(s.sessions[id]), nil
}

// GetSession implements SessionStore.
func (s *MemoryStore) GetSession(_ context.Context, userID, sessionID string) (Session, error) {
	user, ok1 := canonicalID(userID)
	id, ok2 := canonicalID(sessionID)
	if !ok1 || !ok2 {
		return Session{}, fmt.Errorf("get session: %w", ErrNotFound)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	x, ok := s.sessions[id]
	if !ok || x.UserID != user {
		return Session{}, fmt.Errorf("get session: %w", ErrNotFound)
	}
	return cloneSession(x), nil
}

// RotateSession implements SessionStore.
func (s *MemoryStore) RotateSession(_ context.Context, in RotateInput) (Session, error) {
	child, err := prepareSession(in.Child)
	if err != nil {
		return Session{}, fmt.Errorf("rotate session: %w", err)
	}
	parentID, ok1 := canonicalID(in.ParentID)
	user, ok2 := canonicalID(in.UserID)
	if !ok1 || !ok2 {
		return Session{}, fmt.Errorf("rotate session: %w", ErrNotFound)
	}
	now := dbTime(in.Now)
	s.mu.Lock()
	parent, ok := s.sessions[parentID]
	if !ok || parent.UserID != user {
		s.mu.Unlock()
		return Session{}, fmt.Errorf("rotate session: %w", ErrNotFound)
	}
	if !parent.RevokedAt.IsZero() {
		s.mu.Unlock()
		return Session{}, fmt.Errorf("rotate session: %w", ErrRevoked)
	}
	if !parent.UsedAt.IsZero() && now.Sub(parent.UsedAt) > in.Grace {
		s.revokeFamilyLocked(parent.UserID, parent.FamilyID)
		s.mu.Unlock()
		s.notify(Change{Kind: ChangeSession, UserID: parent.UserID, ID: parent.FamilyID})
		return Session{}, fmt.Errorf("rotate session: %w", ErrTokenReused)
	}
	child.UserID, child.OrgID, child.FamilyID, child.ParentID = parent.UserID, parent.OrgID, parent.FamilyID, parent.ID
	out, err := s.insertSessionLocked(child)
	if err != nil {
		s.mu.Unlock()
		return Session{}, fmt.Errorf("rotate session: %w", err)
	}
	if parent.UsedAt.IsZero() {
		parent.UsedAt = now
		s.sessions[parent.ID] = parent
	}
	s.mu.Unlock()
	return out, nil
}

// revokeFamilyLocked revokes every token of the family; it reports whether
// the user has the family at all.
func (s *MemoryStore) revokeFamilyLocked(userID, familyID string) bool {
	found := false
	now := s.clock()
	for id, x := range s.sessions {
		if x.UserID != userID || (familyID != "" && x.FamilyID != familyID) {
			continue
		}
		found = true
		if x.RevokedAt.IsZero() {
			x.RevokedAt = now
			s.sessions[id] = x
		}
	}
	return found
}

// RevokeSessionFamily implements SessionStore.
func (s *MemoryStore) RevokeSessionFamily(_ context.Context, userID, familyID string) error {
	user, ok1 := canonicalID(userID)
	family, ok2 := canonicalID(familyID)
	if !ok1 || !ok2 {
		return fmt.Errorf("revoke session family: %w", ErrNotFound)
	}
	s.mu.Lock()
	found := s.revokeFamilyLocked(user, family)
	s.mu.Unlock()
	if !found {
		return fmt.Errorf("revoke session family: %w", ErrNotFound)
	}
	s.notify(Change{Kind: ChangeSession, UserID: user, ID: family})
	return nil
}

// RevokeUserSessions implements SessionStore.
func (s *MemoryStore) RevokeUserSessions(_ context.Context, userID string) error {
	user, ok := canonicalID(userID)
	if !ok {
		return nil
	}
	s.mu.Lock()
	s.revokeFamilyLocked(user, "")
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeSession, UserID: user})
	return nil
}

// ListSessions implements SessionStore.
func (s *MemoryStore) ListSessions(_ context.Context, userID string) ([]Session, error) {
	user, _ := canonicalID(userID)
	s.mu.RLock()
	out := []Session{}
	for _, x := range s.sessions {
		if x.UserID == user && x.UsedAt.IsZero() && x.RevokedAt.IsZero() {
			out = append(out, cloneSession(x))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// ---- admin tokens ----

// CreateAdminToken implements AdminTokenStore.
func (s *MemoryStore) CreateAdminToken(_ context.Context, t AdminToken) (AdminToken, error) {
	id, ok := idOrNew(t.ID)
	if !ok {
		return AdminToken{}, fmt.Errorf("create admin token: id %q: %w", t.ID, ErrInvalid)
	}
	t.ID = id
	if len(t.Hash) != sha256.Size || !validName(t.Name) {
		return AdminToken{}, fmt.Errorf("create admin token: a SHA-256 hash and a name are required: %w", ErrInvalid)
	}
	if t.UserID != "" {
		if t.UserID, ok = canonicalID(t.UserID); !ok {
			return AdminToken{}, fmt.Errorf("create admin token: user: %w", ErrNotFound)
		}
	}
	hash := string(t.Hash)
	t.Hash = nil
	t.ExpiresAt = dbTime(t.ExpiresAt)
	t.UsedAt, t.LastUsedAt, t.RevokedAt = time.Time{}, time.Time{}, time.Time{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.UserID != "" {
		if _, ok := s.users[t.UserID]; !ok {
			return AdminToken{}, fmt.Errorf("create admin token: user: %w", ErrNotFound)
		}
	}
	if _, taken := s.adminTokenByHash[hash]; taken {
		return AdminToken{}, fmt.Errorf("create admin token: hash: %w", ErrConflict)
	}
	if _, taken := s.adminTokens[id]; taken {
		return AdminToken{}, fmt.Errorf("create admin token: id: %w", ErrConflict)
	}
	t.CreatedAt = s.clock()
	s.adminTokens[id] = t
	s.adminTokenByHash[hash] = id
	return t, nil
}

// AuthenticateAdminToken implements AdminTokenStore.
func (s *MemoryStore) AuthenticateAdminToken(_ context.Context, hash []byte) (AdminToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.adminTokenByHash[string(hash)]
	if !ok {
		return AdminToken{}, fmt.Errorf("authenticate admin token: %w", ErrNotFound)
	}
	t := s.adminTokens[id]
	now := s.clock()
	if !t.Usable(now) {
		return AdminToken{}, fmt.Errorf("authenticate admin token: %w", ErrNotFound)
	}
	if t.UsedAt.IsZero() {
		t.UsedAt = now
	}
	t.LastUsedAt = now
	s.adminTokens[id] = t
	t.UsedAt, t.LastUsedAt = time.Time{}, time.Time{} // as the PostgreSQL function returns it
	return t, nil
}

// ListAdminTokens implements AdminTokenStore.
func (s *MemoryStore) ListAdminTokens(_ context.Context) ([]AdminToken, error) {
	s.mu.RLock()
	out := make([]AdminToken, 0, len(s.adminTokens))
	for _, t := range s.adminTokens {
		out = append(out, t)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b AdminToken) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeAdminToken implements AdminTokenStore.
func (s *MemoryStore) RevokeAdminToken(_ context.Context, tokenID string) error {
	id, ok := canonicalID(tokenID)
	if !ok {
		return fmt.Errorf("revoke admin token: %w", ErrNotFound)
	}
	s.mu.Lock()
	t, ok := s.adminTokens[id]
	if !ok || !t.RevokedAt.IsZero() {
		s.mu.Unlock()
		return fmt.Errorf("revoke admin token: %w", ErrNotFound)
	}
	t.RevokedAt = s.clock()
	s.adminTokens[id] = t
	s.mu.Unlock()
	s.notify(Change{Kind: ChangeAdminToken, ID: id})
	return nil
}

// ---- audit ----

func cloneAudit(e AuditEntry) AuditEntry {
	e.Before = cloneBytes(e.Before)
	e.After = cloneBytes(e.After)
	return e
}

// AppendAudit implements AuditStore.
func (s *MemoryStore) AppendAudit(_ context.Context, e AuditEntry) error {
	e, err := prepareAudit(e)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	e = cloneAudit(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auditSeq++
	e.ID = strconv.FormatInt(s.auditSeq, 10)
	e.CreatedAt = s.clock()
	s.audit = append(s.audit, e)
	return nil
}

// ListAuditEntries implements AuditStore.
func (s *MemoryStore) ListAuditEntries(_ context.Context, f AuditFilter) (AuditPage, error) {
	org, ok := canonicalID(f.OrgID)
	if !ok {
		if f.OrgID == "" {
			return AuditPage{}, fmt.Errorf("list audit entries: org is required: %w", ErrInvalid)
		}
		return AuditPage{Entries: []AuditEntry{}}, nil
	}
	f.OrgID = org
	return s.listAudit(f)
}

// ListPlatformAuditEntries implements AuditStore.
func (s *MemoryStore) ListPlatformAuditEntries(_ context.Context, f AuditFilter) (AuditPage, error) {
	if f.OrgID != "" {
		org, ok := canonicalID(f.OrgID)
		if !ok {
			return AuditPage{Entries: []AuditEntry{}}, nil
		}
		f.OrgID = org
	}
	return s.listAudit(f)
}

func (s *MemoryStore) listAudit(f AuditFilter) (AuditPage, error) {
	before := int64(-1)
	if f.Cursor != "" {
		n, err := strconv.ParseInt(f.Cursor, 10, 64)
		if err != nil || n < 1 {
			return AuditPage{}, fmt.Errorf("list audit entries: cursor: %w", ErrInvalid)
		}
		before = n
	}
	limit := f.limit()
	since, until := dbTime(f.Since), dbTime(f.Until)
	out := []AuditEntry{}
	s.mu.RLock()
	defer s.mu.RUnlock()
	end := len(s.audit) // entries[i] has ID i+1
	if before > 0 && before-1 < int64(end) {
		end = int(before - 1)
	}
	for i := end - 1; i >= 0; i-- {
		e := s.audit[i]
		if (f.OrgID != "" && e.OrgID != f.OrgID) ||
			(f.ActorID != "" && e.ActorID != f.ActorID) ||
			(f.Action != "" && e.Action != f.Action) ||
			(f.TargetType != "" && e.TargetType != f.TargetType) ||
			(f.TargetID != "" && e.TargetID != f.TargetID) ||
			(!since.IsZero() && e.CreatedAt.Before(since)) ||
			(!until.IsZero() && !e.CreatedAt.Before(until)) {
			continue
		}
		if len(out) == limit {
			return AuditPage{Entries: out, NextCursor: out[len(out)-1].ID}, nil
		}
		out = append(out, cloneAudit(e))
	}
	return AuditPage{Entries: out}, nil
}
