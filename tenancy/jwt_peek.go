package tenancy

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// MaxTokenBytes is the longest token the verifier reads. Longer tokens are
// refused before any decoding, so a hostile header (huge JSON, thousands of
// dots, megabytes of base64) costs one length check. Real access tokens are
// well under 2 KiB (Supabase's are about 1 KiB with metadata); 8 KiB leaves
// room for generous custom claims and stays far below net/http's header cap.
const MaxTokenBytes = 8 << 10

// maxKIDLen bounds the kid header: it is a map key, a log field, and keyfunc
// looks it up in storage.
const maxKIDLen = 256

// tokenPeek is what routing needs to know about a token before verifying
// it: header alg/kid/typ and the payload's iss. None of it is trusted: the
// chosen entry's parser checks everything again.
type tokenPeek struct {
	alg, kid, typ, iss string
	// sub and role (strings only) spot Supabase API keys early.
	sub, role string
}

type peekHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

type peekPayload struct {
	Iss  string     `json:"iss"`
	Sub  lenientStr `json:"sub"`
	Role lenientStr `json:"role"`
}

// lenientStr decodes a JSON string and ignores any other JSON value: the
// peek must not refuse a token for a claim whose type only the verified
// parse judges.
type lenientStr string

func (s *lenientStr) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = lenientStr(v)
	}
	return nil
}

// peekToken checks the shape of a compact JWS (exactly three non-empty
// base64url segments, within MaxTokenBytes) and reads the routing fields.
func peekToken(raw string) (tokenPeek, error) {
	var tp tokenPeek
	if len(raw) > MaxTokenBytes {
		return tp, invalidf("token longer than %d bytes", MaxTokenBytes)
	}
	if strings.Count(raw, ".") != 2 {
		return tp, invalidf("token is not a compact JWS (need 3 segments)")
	}
	h, rest, _ := strings.Cut(raw, ".")
	p, sig, _ := strings.Cut(rest, ".")
	if h == "" || p == "" || sig == "" {
		return tp, invalidf("token has an empty segment")
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return tp, invalidf("token header is not base64url")
	}
	var hdr peekHeader
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return tp, invalidf("token header is not a JSON object of string members")
	}
	if hdr.Alg == "" {
		return tp, invalidf("token header has no alg")
	}
	if len(hdr.Kid) > maxKIDLen {
		return tp, invalidf("token kid longer than %d bytes", maxKIDLen)
	}
	// RFC 7515 §4.1.11: a recipient must reject a token with critical
	// extensions it does not understand, and we understand none.
	if len(hdr.Crit) != 0 && string(hdr.Crit) != "null" {
		return tp, invalidf("token header has crit extensions")
	}
	pb, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return tp, invalidf("token payload is not base64url")
	}
	var pl peekPayload
	if err := json.Unmarshal(pb, &pl); err != nil {
		return tp, invalidf("token payload is not a JSON object with a string iss")
	}
	tp.alg, tp.kid, tp.typ, tp.iss = hdr.Alg, hdr.Kid, hdr.Typ, pl.Iss
	tp.sub, tp.role = string(pl.Sub), string(pl.Role)
	return tp, nil
}
