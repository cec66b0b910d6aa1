// Package shadow is the comparison engine of strangler: it proves, with real
// traffic, that the new backend answers like the legacy one before an
// organization is cut over (SPEC §10).
//
// The pieces, in the order a request meets them:
//
//   - Capture (capture.go, tap.go, pool.go): a sampled request's body is teed
//     into a pooled, bounded buffer while it streams to the serving backend,
//     and the serving response is teed the same way while it streams to the
//     client. The serving path never waits: bytes are copied into memory
//     already owned by the request, never through a pipe to the shadow
//     (Skipper#3340). Over max_body_bytes copying stops and the exchange is
//     recorded as dropped with reason too_large (envoy#18364 skipped such
//     requests silently; here they are counted).
//   - Dispatch (queue.go, worker.go, transport.go): Engine.Submit is a
//     non-blocking channel send into a bounded queue with a byte budget
//     (Traefik#7533 grew without bound); a full queue drops the comparison
//     and records it as dropped. A fixed pool of workers sends the copy to the
//     other backend with X-Shadow-Request: true, a detached context and its
//     own timeout, reads at most max_body_bytes+1 of the answer, compares and
//     records.
//   - Compare (diff.go, jsondiff.go, jsonparse.go, rules.go, path.go,
//     number.go, decode.go, noise.go): status, headers outside
//     ignore_headers (Date, X-Request-Id, Content-Length and hop-by-hop
//     headers are never compared), bodies decoded per Content-Encoding
//     (Diffy#93 compared gzip bytes), JSON structurally with numbers compared
//     as exact decimals, ignore_paths and unordered_arrays rules, learned
//     noise; other bodies byte for byte.
//   - Record (result.go, fingerprint.go, redact.go, recorder.go, aggregate.go,
//     store*.go, retention.go): each result has an outcome (match, diff,
//     candidate_error, dropped); a diff's fingerprint names its diff class. A
//     batching recorder aggregates results into hourly (and, in PostgreSQL,
//     daily) rollups per org × route (counts per outcome, latency histograms
//     of both backends), class counts per org × hour and a few redacted
//     exemplars per class per day, and writes them to a Store (memory or
//     PostgreSQL). Raw results are not stored: every report is answered
//     from these aggregates.
//
// Orientation: in every Difference, class and exemplar, "primary" is the
// legacy backend (the reference being replaced) and "candidate" the new one,
// whichever of the two served the client. A difference therefore keeps its
// kind and its fingerprint when an organization moves from shadow to canary
// mode. Dispatch speaks of the "serving" backend (the one that answered the
// client) and the "shadow" backend (the one that received the copy); the
// outcome candidate_error means the shadow copy failed.
//
// Configuration (SPEC §4):
//
//	shadow:
//	  workers: 8
//	  queue_size: 4096
//	  max_body_bytes: 1MiB
//	  timeout: 10s
//	  noise_probe: false
//	  redact_headers: [Authorization, Cookie, Set-Cookie, X-API-Key]
//	  redact_fields: [password, token, secret, api_key, refresh_token]
//	  retention: 168h
//	routes:
//	  - name: qa
//	    shadow:
//	      sample_rate: 1.0
//	      unsafe_methods: false
//	      ignore_paths: ["$.generated_at", "$.items[*].id", "$..updated_at"]
//	      ignore_headers: [Date, X-Request-ID]
//	      unordered_arrays: ["$.tags"]
//
// Wiring on the serving path (see Tap): Engine.Wants (no allocation) →
// Engine.Tap before forwarding → Tap.CaptureResponse in
// ReverseProxy.ModifyResponse → deferred Tap.Finish.
//
// Shared state: an Engine is safe for concurrent use. Between requests it
// shares only the buffer pool, the bounded queue, the learned noise (read by
// workers through an atomic snapshot) and the recorder's buffer; none of it
// is touched under a lock held across I/O.
package shadow
