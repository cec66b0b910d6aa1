package tenancy

import (
	"fmt"

	"github.com/7cycles-ai/strangler/config"
)

// ErrAuthRequired: the request carries no credentials, and the route (auth:
// required), its permission or the org it names needs an authenticated
// caller. Wraps ErrNoCredentials; the proxy answers 401.
var ErrAuthRequired = fmt.Errorf("authentication required: %w", ErrNoCredentials)

// anonymous decides what a request without any credential is on a route
// with the given auth policy (SPEC §5 step 3):
//
//   - required: refused, ErrAuthRequired (401).
//   - optional, none: an anonymous caller, nil Principal, who belongs to
//     tenancy.default_org with no role (resolve.go).
//   - anything else (config validation lets nothing else through; a Config
//     built in Go might): refused like required — fail closed.
//
// Invalid credentials never reach this point: they are a 401 on every
// route, none included.
func anonymous(policy string) (*Principal, error) {
	switch policy {
	case config.AuthOptional, config.AuthNone:
		return nil, nil
	}
	return nil, ErrAuthRequired
}
