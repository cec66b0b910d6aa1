// Package sampleapp holds two small HTTP services shaped like the first
// user's app (a FastAPI service whose agents answer questions, write
// affirmations, plan content, run Instagram, make visual posts and videos),
// for the demo, the load harness and end-to-end tests:
//
//   - NewLegacy: the single-tenant legacy service. It knows nothing of
//     organizations and ignores X-Tenant-* and X-Shadow-Request headers,
//     like the real one.
//   - NewTenantAware: the same API, multi-tenant: it scopes all data by the
//     X-Tenant-Org-ID header (else X-Tenant-Org-Slug, else one "default"
//     scope) and runs requests marked X-Shadow-Request: true without side
//     effects (a POST answers as usual but stores nothing).
//
// Both answer JSON with volatile fields (ids, created_at, generated_at)
// that differ between calls and between the services, and otherwise
// deterministic content, so a shadow comparison that ignores the volatile
// paths matches — except for one deliberate difference (DifferenceRoute,
// DifferencePath) that gives shadow reports something to show.
//
// The API (errors as FastAPI writes them: {"detail": ...}, 422 for an
// invalid body):
//
//	GET  /health                     {"status":"ok"}
//	GET  /api/affirmations           {"items":[...],"count":n,"language":"en","generated_at":...}
//	POST /api/affirmations           {"text":"..."} → 201 affirmation
//	POST /api/qa                     {"question":"..."} → answer with sources
//	GET  /api/qa/stream?question=..  text/event-stream: token events, then done
//	POST /api/qa/stream              {"question":"..."} → the same stream
//	GET  /api/knowledge/             knowledge-base documents
//	GET  /api/content-strategy       the current plan; POST {"goal":"..."} makes one
//	GET  /api/instagram/posts        drafts; POST {"caption":"..."} → 201 draft
//	GET  /api/visual-posts           images; POST {"prompt":"..."} → 201 image
//	GET  /api/video                  jobs; POST {"script":"..."} → 202 job
//
// Stored data is bounded per scope (and the number of scopes is bounded),
// so steady demo traffic cannot grow memory without limit. Handlers are
// safe for concurrent use; each service keeps its own state.
package sampleapp
