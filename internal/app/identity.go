package app

import (
	"fmt"

	"github.com/7cycles-ai/strangler/tenancy"
)

// mountIdentity mounts the built-in identity endpoints (/auth/*) and the
// tenant management API (/orgs/...) on the public listener. The JWKS is
// mounted once, by mount.
func (a *App) mountIdentity() error {
	h, err := tenancy.NewHandlers(tenancy.HandlersOptions{
		Config: a.cfg, Store: a.Tenancy, Auth: a.Auth, Signer: a.Signer,
		Sessions: a.sessions, Now: a.now, Logger: a.log,
	})
	if err != nil {
		return fmt.Errorf("identity endpoints: %w", err)
	}
	a.identity = h
	h.Register(a.Server.HandlePublic)
	return nil
}
