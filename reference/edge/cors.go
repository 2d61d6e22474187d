package edge

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PreflightMaxAge is how long browsers may cache a preflight's answer: short, so a
// changed policy takes effect within minutes (PostHog's Django sends a day).
const PreflightMaxAge = 10 * time.Minute

// AnyOrigin in CORS.Origins reflects every origin with credentials, as PostHog does.
const AnyOrigin = "*"

// CORS is the cross-origin policy of the API routes (never of /metrics or the
// health checks). The zero value answers any origin with
// "Access-Control-Allow-Origin: *" and no credentials.
type CORS struct {
	// Origins, when not empty, lists the origins (scheme://host[:port]) answered
	// with their own origin and Access-Control-Allow-Credentials: true; other origins
	// get no CORS headers, so browsers withhold the reply. AnyOrigin reflects every
	// origin (PostHog's behaviour), except "null", which never gets credentials.
	Origins []string
}

// ParseCORSOrigins reads a comma-separated origin list (the --cors-origins flag and
// CORS_ORIGINS): empty for "*" without credentials, "*" to reflect any origin.
func ParseCORSOrigins(s string) (CORS, error) {
	var c CORS
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != AnyOrigin {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return CORS{}, fmt.Errorf("CORS origin %q: want scheme://host[:port], like https://app.example.com, or * for any", o)
			}
			o = u.Scheme + "://" + strings.ToLower(u.Host)
		}
		c.Origins = append(c.Origins, o)
	}
	return c, nil
}

// allowed says whether origin gets itself reflected with credentials.
func (c CORS) allowed(origin string) bool {
	if origin == "null" {
		return false
	}
	return slices.Contains(c.Origins, AnyOrigin) || slices.Contains(c.Origins, strings.ToLower(origin))
}

// Apply sets r's CORS reply headers on w, preflight answers included when r is an
// OPTIONS request. allowHeaders is used when the preflight names none.
func (c CORS) Apply(w http.ResponseWriter, r *http.Request, allowHeaders string) {
	origin := r.Header.Get("Origin")
	h := w.Header()
	if len(c.Origins) > 0 {
		h.Add("Vary", "Origin")
	}
	if origin == "" {
		return
	}
	switch {
	case len(c.Origins) == 0:
		h.Set("Access-Control-Allow-Origin", "*")
	case c.allowed(origin):
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	default:
		return
	}
	h.Set("Access-Control-Expose-Headers", "Retry-After") // the SDKs back off by it
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		} else {
			h.Set("Access-Control-Allow-Headers", allowHeaders)
		}
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(PreflightMaxAge.Seconds())))
	}
}
