package tenancy

// ChangeKind names the kind of entity a Change concerns.
type ChangeKind string

// Kinds of changes. Caches in front of the store drop what a change names.
const (
	// ChangeOrg: an org was updated or deleted (ID = org ID). On delete,
	// everything of the org is gone: memberships, projects, API keys.
	ChangeOrg ChangeKind = "org"
	// ChangeProject: a project was updated or deleted (OrgID, ID).
	ChangeProject ChangeKind = "project"
	// ChangeUser: a user changed (UserID): default org, platform admin,
	// password.
	ChangeUser ChangeKind = "user"
	// ChangeMembership: a user's org or project membership was added,
	// changed or removed (OrgID, UserID).
	ChangeMembership ChangeKind = "membership"
	// ChangeAPIKey: an API key was created, revoked or deleted (OrgID, ID).
	// Caches keyed by prefix keep an ID index to act on it.
	ChangeAPIKey ChangeKind = "api_key"
	// ChangeSession: a refresh-token family was revoked (UserID, ID = the
	// family ID; empty ID: every family of the user).
	ChangeSession ChangeKind = "session"
	// ChangeAdminToken: an admin token was revoked (ID).
	ChangeAdminToken ChangeKind = "admin_token"
	// ChangeAll: changes may have been missed (the notification connection
	// was (re)established): drop every cached entry.
	ChangeAll ChangeKind = "all"
	// ChangeFeedDown: the notification connection was lost; changes go
	// unheard until the ChangeAll that follows reconnection. Caches drop
	// everything and keep entries only briefly until then.
	ChangeFeedDown ChangeKind = "feed_down"
)

// Change tells caches what to forget. It carries IDs only, never secrets.
// Every update and removal is announced, and every membership change
// including additions (a cache may hold a "not a member" answer). Creations
// of other entities are not: a cache holds nothing for what did not exist,
// and negative entries for them must be short-lived.
type Change struct {
	Kind   ChangeKind `json:"k"`
	OrgID  string     `json:"o,omitempty"`
	UserID string     `json:"u,omitempty"`
	ID     string     `json:"i,omitempty"`
}

// ChangeNotifier delivers the changes committed through any store that
// shares the data: the memory store calls subscribers directly after each
// write; the PostgreSQL store sends NOTIFY in the writing transaction and
// listens on a dedicated connection, so every replica hears every change
// within milliseconds of its commit.
type ChangeNotifier interface {
	// Subscribe calls fn for every change until cancel is called. fn first
	// receives ChangeAll when the subscription is live — every change
	// committed after that is delivered — and again whenever changes may
	// have been missed (PostgreSQL: the listening connection was lost and
	// re-established); ChangeFeedDown as soon as a lost connection is
	// noticed. fn runs on the notifier's goroutine (the memory
	// store: the writer's, after the write), never concurrently with
	// itself, and must return quickly without calling the store. A cache is correct if it drops what each Change
	// names and everything on ChangeAll.
	Subscribe(fn func(Change)) (cancel func())
}
