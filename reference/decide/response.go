package decide

import (
	"encoding/json"
	"net/http"

	"github.com/google/uuid"
)

// decideResponse is PostHog's decide answer (v=2 and later).
type decideResponse struct {
	FeatureFlags              any                        `json:"featureFlags"`
	FeatureFlagPayloads       map[string]json.RawMessage `json:"featureFlagPayloads"`
	ErrorsWhileComputingFlags bool                       `json:"errorsWhileComputingFlags"`
	// Flags is set (a map[string]flagDetail, empty or not) from v=4 on;
	// current SDKs warn about an old endpoint when it is absent.
	Flags                any            `json:"flags,omitempty"`
	Config               responseConfig `json:"config"`
	SupportedCompression []string       `json:"supportedCompression"`
	SessionRecording     bool           `json:"sessionRecording"`
	IsAuthenticated      bool           `json:"isAuthenticated"`
	ToolbarParams        struct{}       `json:"toolbarParams"`
	SiteApps             []struct{}     `json:"siteApps"`
	CapturePerformance   bool           `json:"capturePerformance"`
	AutocaptureOptOut    bool           `json:"autocapture_opt_out"`
	// RequestID identifies the answer; SDKs attach it to $feature_flag_called.
	RequestID string `json:"requestId"`
}

type responseConfig struct {
	EnableCollectEverything bool `json:"enable_collect_everything"`
}

// flagDetail is the per-flag detail of v=4 answers.
type flagDetail struct {
	Key      string          `json:"key"`
	Enabled  bool            `json:"enabled"`
	Variant  *string         `json:"variant"`
	Reason   flagReason      `json:"reason"`
	Metadata flagDetailExtra `json:"metadata"`
}

type flagReason struct {
	Code           string `json:"code"`
	ConditionIndex *int   `json:"condition_index"`
}

type flagDetailExtra struct {
	ID      int64           `json:"id"`
	Version *int            `json:"version"` // flags are not versioned here
	Payload json.RawMessage `json:"payload,omitempty"`
}

// payloadString returns a payload as the SDKs read it: a JSON string holding
// the JSON value. PostHog stores payloads that way; one stored as a bare JSON
// value is wrapped, since posthog-go refuses a whole answer whose payload is
// not a string.
func payloadString(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || raw[0] == '"' {
		return raw
	}
	b, err := json.Marshal(string(raw))
	if err != nil {
		return raw
	}
	return b
}

// newResponse renders ev in the shape of API version v: v=1 lists the enabled
// flags' keys; v>=2 maps every flag to false, true or its variant; v>=4 adds "flags".
func newResponse(ev evaluation, v int) *decideResponse {
	resp := &decideResponse{
		FeatureFlagPayloads:       map[string]json.RawMessage{},
		ErrorsWhileComputingFlags: ev.errors,
		Config:                    responseConfig{EnableCollectEverything: true},
		SupportedCompression:      []string{"gzip", "gzip-js"},
		SiteApps:                  []struct{}{},
		RequestID:                 uuid.NewString(),
	}
	if v < 2 {
		enabled := make([]string, 0, len(ev.flags))
		for _, f := range ev.flags {
			if f.enabled {
				enabled = append(enabled, f.key)
			}
		}
		resp.FeatureFlags = enabled
	} else {
		values := make(map[string]any, len(ev.flags))
		for _, f := range ev.flags {
			values[f.key] = f.value()
		}
		resp.FeatureFlags = values
	}
	for _, f := range ev.flags {
		if f.enabled && f.payload != nil {
			resp.FeatureFlagPayloads[f.key] = payloadString(f.payload)
		}
	}
	if v >= 4 {
		details := make(map[string]flagDetail, len(ev.flags))
		resp.Flags = details
		for _, f := range ev.flags {
			d := flagDetail{Key: f.key, Enabled: f.enabled, Reason: flagReason{Code: f.reason},
				Metadata: flagDetailExtra{ID: f.id, Payload: payloadString(f.payload)}}
			if f.variant != "" {
				d.Variant = &f.variant
			}
			if f.condition >= 0 {
				d.Reason.ConditionIndex = &f.condition
			}
			details[f.key] = d
		}
	}
	return resp
}

// errorBody is PostHog's error shape.
type errorBody struct {
	Type   string  `json:"type"`
	Code   string  `json:"code"`
	Detail string  `json:"detail"`
	Attr   *string `json:"attr"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"type":"server_error","code":"encode_failed","detail":"the answer could not be encoded","attr":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *requestError) {
	writeJSON(w, e.status, errorBody{Type: e.kind, Code: e.code, Detail: e.detail})
}
