package tenancy

import "errors"

// Sentinel errors of the Store. Every implementation returns them (wrapped
// with context) so callers decide with errors.Is, never by driver codes.
var (
	// ErrNotFound: the entity does not exist, or it exists in another
	// organization than the one the operation is scoped to. The two cases are
	// deliberately indistinguishable, so a caller cannot probe other tenants.
	ErrNotFound = errors.New("not found")

	// ErrConflict: a uniqueness rule was violated (org slug, user email or
	// external subject, project slug within an org, a membership that already
	// exists, an API key prefix, a pending invitation for the same email).
	ErrConflict = errors.New("conflict")

	// ErrLastOwner: the change would leave an organization without an owner
	// (removing or demoting its last owner). Checked atomically with the
	// change, so two concurrent demotions cannot both succeed.
	ErrLastOwner = errors.New("organization must keep at least one owner")

	// ErrForbidden: the database refused the operation for the current
	// tenant context (PostgreSQL insufficient_privilege, 42501: a row-level
	// security check failed). Seeing it means a caller tried to write across
	// tenants; the data stayed untouched.
	ErrForbidden = errors.New("forbidden by tenant isolation")

	// ErrInvalid: the input breaks a rule of the data model (empty required
	// field, unknown role, a reference to an entity of another org).
	ErrInvalid = errors.New("invalid input")

	// ErrRevoked: a refresh token (or its family) was revoked.
	ErrRevoked = errors.New("revoked")

	// ErrTokenReused: a refresh token that was already rotated was presented
	// again outside the grace window. The store has revoked its whole
	// family before returning this error (RFC 9700 §4.14).
	ErrTokenReused = errors.New("refresh token reused")
)
