package decide

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// remoteConfig is what posthog-js loads from /array/<token>/config (and the
// same object inside config.js) before it sends anything: the fields that
// keep its gzip compression and its flag requests on, and the features this
// stack does not serve turned off. "surveys" is left out on purpose: posthog-js
// fetches its surveys script from this host whenever the key is a boolean,
// even false, and this stack serves no scripts.
type remoteConfig struct {
	Token                 string     `json:"token"`
	SupportedCompression  []string   `json:"supportedCompression"`
	HasFeatureFlags       bool       `json:"hasFeatureFlags"`
	AutocaptureOptOut     bool       `json:"autocapture_opt_out"`
	CapturePerformance    bool       `json:"capturePerformance"`
	SessionRecording      bool       `json:"sessionRecording"`
	Heatmaps              bool       `json:"heatmaps"`
	SiteApps              []struct{} `json:"siteApps"`
	ElementsChainAsString bool       `json:"elementsChainAsString"`
	DefaultIdentifiedOnly bool       `json:"defaultIdentifiedOnly"`
}

// serveRemoteConfig answers GET /array/<token>/config (JSON) and
// /array/<token>/config.js (a script setting
// window._POSTHOG_REMOTE_CONFIG[token], which posthog-js tries first). An
// unknown token is a 404, after which posthog-js carries on without remote
// config.
func (h *Handler) serveRemoteConfig(w http.ResponseWriter, r *http.Request, path string) {
	if !h.methodAllowed(w, r, "remote config is read with GET", http.MethodGet, http.MethodHead) {
		return
	}
	token, file, ok := strings.Cut(strings.TrimPrefix(path, "/array/"), "/")
	if !ok || (file != "config" && file != "config.js") {
		h.fail(w, &requestError{status: http.StatusNotFound, kind: "invalid_request", code: "not_found",
			detail: "remote config lives at /array/<project token>/config and /array/<project token>/config.js"})
		return
	}
	t := h.snap.Load().teams[token]
	if t == nil {
		h.fail(w, &requestError{status: http.StatusNotFound, kind: "invalid_request", code: "unknown_token",
			detail: "no project has this API key: use the project's API key (teams.api_token) in the path"})
		return
	}
	cfg := remoteConfig{
		Token:                 token,
		SupportedCompression:  []string{"gzip", "gzip-js"},
		HasFeatureFlags:       len(t.flags) > 0,
		SiteApps:              []struct{}{},
		ElementsChainAsString: true,
		DefaultIdentifiedOnly: true,
	}
	h.metrics.requests.WithLabelValues(outcomeOK).Inc()
	if file == "config" {
		writeJSON(w, http.StatusOK, cfg)
		return
	}
	body, _ := json.Marshal(map[string]any{"config": cfg, "siteApps": []struct{}{}})
	key, _ := json.Marshal(token)
	w.Header().Set("Content-Type", "application/javascript")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "(function(){window._POSTHOG_REMOTE_CONFIG=window._POSTHOG_REMOTE_CONFIG||{};window._POSTHOG_REMOTE_CONFIG[%s]=%s;})();\n", key, body)
}
