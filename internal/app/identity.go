package app

// mountIdentity mounts the built-in identity endpoints (/auth/*) and the
// tenant management API (/orgs/...) on the public listener.
func (a *App) mountIdentity() error {
	return nil
}
