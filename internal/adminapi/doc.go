// Package adminapi is the HTTP plumbing shared by the clients of the admin
// API (flags, shadow reports, platform views): one request/answer cycle
// with the bearer token, a bounded read of the answer, and the SPEC §5 error
// document turned into an *Error. The domain packages keep their typed
// clients; this package keeps them from repeating the wire handling.
package adminapi
