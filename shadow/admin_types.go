package shadow

import (
	"context"
	"errors"
	"time"
)

// The JSON documents of the shadow admin API (SPEC §11), shared by the
// handler and AdminClient. Reports are PromotionReport documents.

// ClassList is GET /admin/api/shadow/classes: the classes seen in the
// period, by count (descending).
type ClassList struct {
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until"`
	// Classes carry their count in the period (and org, when filtered)
	// and the organizations affected.
	Classes []Class `json:"classes"`
	// OrgSlugs maps the organization ids of the listing to their slugs,
	// where known.
	OrgSlugs map[string]string `json:"org_slugs,omitempty"`
}

// ClassView is GET /admin/api/shadow/classes/{fingerprint}: the class with
// its counts over every retained hour, its exemplars (newest first; each
// with the differing paths and both values), every organization affected
// and the noise learned for its route.
type ClassView struct {
	ClassDetail
	OrgSlugs map[string]string `json:"org_slugs,omitempty"`
}

// AckRequest is the body of POST .../classes/{fingerprint}/ack and
// .../reopen.
type AckRequest struct {
	// Note says why the difference is acceptable (ack) or why the class
	// is open again (reopen). Required.
	Note string `json:"note"`
}

// AckEvent is an acknowledgement or reopening, as handed to the audit
// sink.
type AckEvent struct {
	// Action is AuditActionAck or AuditActionReopen.
	Action      string      `json:"action"`
	Fingerprint string      `json:"fingerprint"`
	Route       string      `json:"route"`
	Actor       string      `json:"actor"`
	Note        string      `json:"note"`
	At          time.Time   `json:"at"`
	Before      ClassStatus `json:"before"`
	After       ClassStatus `json:"after"`
	// OrgIDs are the organizations the class affected (every retained
	// hour), so that an audit log scoped by organization can show it.
	OrgIDs []string `json:"org_ids"`
}

// Audit actions of AckEvent.
const (
	AuditActionAck    = "shadow.class.acknowledge"
	AuditActionReopen = "shadow.class.reopen"
)

// AckAuditor records acknowledgements in an audit log (the composer wires
// it to the tenancy audit log). An error fails the request with 500 after
// the class was changed; the change stays, and a retry audits it again.
type AckAuditor func(ctx context.Context, e AckEvent) error

// ErrOrgNotFound is what an OrgDirectory returns (wrapped) for an unknown
// organization.
var ErrOrgNotFound = errors.New("organization not found")

// OrgDirectory resolves organizations for the shadow admin API; the shadow
// package does not read tenancy, the composer adapts it.
type OrgDirectory interface {
	// ResolveOrg maps an organization id or slug to its id and slug;
	// ErrOrgNotFound (wrapped) when unknown.
	ResolveOrg(ctx context.Context, idOrSlug string) (id, slug string, err error)
	// OrgSlugs returns the slugs of the ids it knows; unknown ids are left
	// out.
	OrgSlugs(ctx context.Context, ids []string) (map[string]string, error)
}

// ErrorBody is the error document of SPEC §5.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an ErrorBody.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}
