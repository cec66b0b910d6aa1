package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/7cycles-ai/strangler/tenancy"
)

// demoPassword is the password of every seeded demo user.
const demoPassword = "correct horse battery"

// demoSeedYAML is the demo's data: the default org that owns all
// pre-migration traffic, two customer orgs, their users and API keys, and
// flags that put acme's affirmations and qa in shadow mode, globex's
// instagram in canary mode and globex's default route on the new service,
// so reports have something to show and the new service's view of the
// tenant context can be seen.
const demoSeedYAML = `
orgs:
  - { slug: legacy, name: "Legacy (pre-migration data)" }
  - { slug: acme, name: "Acme Inc", projects: [{ slug: web, name: Web }] }
  - { slug: globex, name: "Globex" }
users:
  - email: alice@acme.test
    name: Alice
    password: "` + demoPassword + `"
    platform_admin: true
    memberships: [{ org: acme, role: owner }]
  - email: bob@acme.test
    name: Bob
    password: "` + demoPassword + `"
    memberships: [{ org: acme, role: viewer }]
  - email: carol@globex.test
    name: Carol
    password: "` + demoPassword + `"
    memberships: [{ org: globex, role: owner }]
api_keys:
  - { org: acme, project: web, name: demo, role: member, scopes: [read, write, agents.run] }
  - { org: globex, name: demo, role: member, scopes: [read, write, agents.run] }
flags:
  overrides:
    - { flag: route.affirmations, org: acme, variant: shadow, reason: "demo: pilot org" }
    - { flag: route.qa, org: acme, variant: shadow, reason: "demo: pilot org" }
    - { flag: route.instagram, org: globex, variant: canary, reason: "demo: canary" }
    - { flag: route.default, org: globex, variant: new, reason: "demo: cut over" }
`

// demoSeed parses the demo's seed.
func demoSeed() (tenancy.Seed, error) {
	s, err := tenancy.ParseSeed([]byte(demoSeedYAML))
	if err != nil {
		return tenancy.Seed{}, fmt.Errorf("demo seed: %w", err)
	}
	return s, nil
}

// demoAdminToken is a fresh admin bootstrap token for this demo run.
func demoAdminToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "demo-admin-" + hex.EncodeToString(b)
}

// seededKey returns the plaintext of the seeded key of org.
func seededKey(res tenancy.SeedResult, org string) string {
	for _, k := range res.APIKeys {
		if k.Org == org {
			return k.Key
		}
	}
	return ""
}

// demoLogin logs email in through the proxy's own handler (in process,
// before the listeners serve) and returns the access token.
func demoLogin(h http.Handler, email string) (string, error) {
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, demoPassword)
	req := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return "", fmt.Errorf("demo login %s: %d %s", email, rec.Code, rec.Body.String())
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("demo login %s: no access token in %s", email, rec.Body.String())
	}
	return tok.AccessToken, nil
}
