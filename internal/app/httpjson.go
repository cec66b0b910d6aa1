package app

import (
	"encoding/json"
	"net/http"

	"github.com/7cycles-ai/strangler/proxy"
)

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers the error shape of SPEC §5.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	type body struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id,omitempty"`
	}
	writeJSON(w, status, map[string]body{"error": {Code: code, Message: message, RequestID: proxy.RequestIDFromContext(r.Context())}})
}
