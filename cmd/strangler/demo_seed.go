package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/7cycles-ai/strangler/tenancy"
)

// demoPassword is the password of every seeded demo user.
const demoPassword = "correct horse battery"

// demoSeedYAML is the demo's data: the default org that owns all
// pre-migration traffic, two customer orgs, their users and API keys, and
// flags that put acme's affirmations and qa in shadow mode and globex's
// instagram in canary mode, so reports have something to show.
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
