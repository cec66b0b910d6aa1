package adminapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// WriteJSON answers v with status, as every admin API endpoint does:
// indented (read with curl as often as by the CLI), never cached, never
// sniffed. A value that cannot be encoded is a 500 with the error shape of
// SPEC §5, not half a document.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
