package decide

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDistinctIDLen is where distinct_ids are cut, as capture cuts them.
const maxDistinctIDLen = 200

// decideRequest is the JSON body of a /decide call.
type decideRequest struct {
	Token            string          `json:"token"`
	APIKey           string          `json:"api_key"`
	DollarToken      string          `json:"$token"`
	DistinctID       json.RawMessage `json:"distinct_id"`
	PersonProperties map[string]any  `json:"person_properties"`
	// Groups maps group type names to the keys of the caller's groups, e.g.
	// {"company":"acme"}; GroupProperties maps them to properties of those groups
	// that override the stored ones, e.g. {"company":{"plan":"pro"}}.
	Groups          map[string]any `json:"groups"`
	GroupProperties map[string]any `json:"group_properties"`
}

// requestError is a client error with its HTTP status and PostHog-style body.
type requestError struct {
	status int
	kind   string // PostHog's error "type"
	code   string
	detail string
}

func (e *requestError) Error() string { return e.code + ": " + e.detail }

// parseRequest decodes body and returns the request, its project token and its
// distinct_id, or a *requestError.
func parseRequest(body []byte) (*decideRequest, string, string, *requestError) {
	var req decideRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		return nil, "", "", &requestError{status: http.StatusBadRequest, kind: "validation_error", code: "malformed_request",
			detail: "the body must be a JSON object {token, distinct_id, person_properties?, groups?, group_properties?}: " + err.Error()}
	}
	token, rerr := pickToken(req.Token, req.APIKey, req.DollarToken)
	if rerr != nil {
		return nil, "", "", rerr
	}
	id, rerr := distinctID(req.DistinctID)
	if rerr != nil {
		return nil, "", "", rerr
	}
	return &req, token, id, nil
}

// pickToken returns the one project token of the request.
func pickToken(candidates ...string) (string, *requestError) {
	token := ""
	for _, c := range candidates {
		c = strings.TrimSpace(c)
		switch {
		case c == "":
		case token == "":
			token = c
		case c != token:
			return "", &requestError{status: http.StatusUnauthorized, kind: "authentication_error", code: "mixed_tokens",
				detail: "token, api_key and $token disagree; send one project API key"}
		}
	}
	switch {
	case token == "":
		return "", &requestError{status: http.StatusUnauthorized, kind: "authentication_error", code: "missing_api_key",
			detail: `no project API key: send "token" (or "api_key") with the project's API key in the body`}
	case strings.HasPrefix(token, "phx_"):
		return "", &requestError{status: http.StatusUnauthorized, kind: "authentication_error", code: "personal_api_key",
			detail: "a personal API key (phx_...) cannot call /decide: send the project API key instead"}
	}
	return token, nil
}

// distinctID stringifies the distinct_id (numbers keep their JSON text) and cuts it
// to 200 characters.
func distinctID(raw json.RawMessage) (string, *requestError) {
	missing := &requestError{status: http.StatusBadRequest, kind: "validation_error", code: "missing_distinct_id",
		detail: `no distinct_id: send "distinct_id" as a non-empty string or number`}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", missing
	}
	var id string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &id); err != nil {
			return "", missing
		}
	case 'n':
		return "", missing
	case 't', 'f':
		id = string(raw)
	case '{', '[':
		return "", missing
	default:
		if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
			return "", missing
		}
		id = string(raw)
	}
	if strings.TrimSpace(id) == "" {
		return "", missing
	}
	if utf8.RuneCountInString(id) > maxDistinctIDLen {
		id = string([]rune(id)[:maxDistinctIDLen])
	}
	return id, nil
}

// flagsVersion maps /flags' own versions onto the answer shapes of /decide:
// /flags?v=2, what current SDKs call, is the detailed form (decide v=4, with
// "flags"); v=1 or none is the map form (decide v=3).
func flagsVersion(v int) int {
	if v >= 2 {
		return 4
	}
	return 3
}

// apiVersion reads ?v=; absent or unparsable means 1 (the list form).
func apiVersion(r *http.Request) int {
	v, err := strconv.Atoi(strings.TrimSpace(r.URL.Query().Get("v")))
	if err != nil || v < 1 {
		return 1
	}
	return v
}
