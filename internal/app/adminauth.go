package app

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/7cycles-ai/strangler/tenancy"
)

// actorKey carries the authenticated admin's name through the request
// context, for audit entries.
type actorKey struct{}

// actorFrom returns who is calling the admin API ("" outside it).
func actorFrom(ctx context.Context) string {
	s, _ := ctx.Value(actorKey{}).(string)
	return s
}

// adminAuth guards /admin/api/. Three credentials are accepted, each as
// "Authorization: Bearer ...":
//   - the configured admin.bootstrap_token (compared in constant time);
//   - an admin token minted by `strangler bootstrap` (stored hashed);
//   - an access token of a platform-admin user (built-in or external issuer).
//
// Anything else is 401; a valid user token of a non-admin is 403.
type adminAuth struct {
	bootstrap []byte
	store     tenancy.Store
	stack     *tenancy.AuthStack
	log       *zap.Logger
}

func (a *adminAuth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, status, msg := a.authenticate(r)
		if status != 0 {
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="strangler-admin"`)
				writeError(w, r, status, "unauthenticated", msg)
				return
			}
			writeError(w, r, status, "forbidden", msg)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey{}, actor)))
	})
}

// authenticate returns the actor, or a status and message to refuse with.
func (a *adminAuth) authenticate(r *http.Request) (actor string, status int, msg string) {
	h := r.Header.Values("Authorization")
	if len(h) != 1 || !strings.HasPrefix(h[0], "Bearer ") {
		return "", http.StatusUnauthorized, "admin API: send Authorization: Bearer <admin token>"
	}
	tok := strings.TrimSpace(strings.TrimPrefix(h[0], "Bearer "))
	if tok == "" {
		return "", http.StatusUnauthorized, "admin API: empty bearer token"
	}
	if len(a.bootstrap) > 0 && subtle.ConstantTimeCompare([]byte(tok), a.bootstrap) == 1 {
		return "admin:bootstrap-token", 0, ""
	}
	if strings.HasPrefix(tok, "sat_") {
		t, err := tenancy.VerifyAdminToken(r.Context(), a.store, tok)
		if err != nil {
			return "", http.StatusUnauthorized, "admin API: invalid admin token"
		}
		return "admin-token:" + t.Name, 0, ""
	}
	if a.stack == nil {
		return "", http.StatusUnauthorized, "admin API: invalid admin token"
	}
	p, err := a.stack.Authenticate(r.Context(), r, "required")
	if err != nil || p == nil || p.UserID == "" {
		return "", http.StatusUnauthorized, "admin API: invalid credentials"
	}
	u, err := a.store.GetUser(tenancy.WithUserID(r.Context(), p.UserID), p.UserID)
	if err != nil {
		a.log.Warn("admin auth: load user", zap.String("user_id", p.UserID), zap.Error(err))
		return "", http.StatusUnauthorized, "admin API: invalid credentials"
	}
	if !u.PlatformAdmin {
		return "", http.StatusForbidden, "admin API: platform admins only"
	}
	return "user:" + u.Email, 0, ""
}
