// Package phclient builds HTTP requests the way PostHog's clients send events: the
// body shapes (single event, array, {api_key, batch}) and encodings (plain JSON, gzip,
// base64, lz64, form and GET data) that the capture API must accept. The e2e suite and
// the load generators use it to send realistic traffic.
package phclient

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shakedown-dev/shakedown/reference/payload/lzstring"
)

// Encoding is one way a PostHog client puts events on the wire.
type Encoding string

// The encodings PostHog clients use.
const (
	// JSON is a plain JSON body (server-side SDKs).
	JSON Encoding = "json"
	// GzipJS is a gzip body with ?compression=gzip-js (posthog-js).
	GzipJS Encoding = "gzip-js"
	// GzipMagic is a gzip body recognised by its magic bytes only.
	GzipMagic Encoding = "gzip-magic"
	// Base64Form is a form body data=<base64 JSON> with compression=base64 (older posthog-js).
	Base64Form Encoding = "base64"
	// LZ64Form is a form body data=<lz-string base64> with compression=lz64.
	LZ64Form Encoding = "lz64"
	// PlainForm is a form body data=<JSON>.
	PlainForm Encoding = "form"
	// GetData is a GET with ?data=<base64 JSON> (pixel / image beacons).
	GetData Encoding = "get"
)

// Encodings lists every Encoding, for mixes.
var Encodings = []Encoding{JSON, GzipJS, GzipMagic, Base64Form, LZ64Form, PlainForm, GetData}

// Event is one analytics event.
type Event struct {
	UUID       string         `json:"uuid,omitempty"`
	Event      string         `json:"event"`
	DistinctID string         `json:"distinct_id"`
	Properties map[string]any `json:"properties,omitempty"`
	Timestamp  string         `json:"timestamp,omitempty"`
}

// Batch is the body posthog-js and server SDKs send to /batch.
type Batch struct {
	APIKey string  `json:"api_key"`
	Batch  []Event `json:"batch"`
	SentAt string  `json:"sent_at,omitempty"`
}

// BatchBody returns the JSON of a /batch body carrying events.
func BatchBody(token string, events []Event, sentAt time.Time) ([]byte, error) {
	b := Batch{APIKey: token, Batch: events}
	if !sentAt.IsZero() {
		b.SentAt = sentAt.UTC().Format(time.RFC3339Nano)
	}
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch: %w", err)
	}
	return out, nil
}

// EventBody returns the JSON of one event carrying its token in properties, as
// posthog-js sends to /e.
func EventBody(token string, ev Event) ([]byte, error) {
	props := make(map[string]any, len(ev.Properties)+1)
	for k, v := range ev.Properties {
		props[k] = v
	}
	props["token"] = token
	ev.Properties = props
	out, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return out, nil
}

// NewRequest builds a request to baseURL+path carrying body (JSON) in encoding enc.
func NewRequest(ctx context.Context, baseURL, path string, body []byte, enc Encoding) (*http.Request, error) {
	target := strings.TrimRight(baseURL, "/") + path
	method, contentType := http.MethodPost, "application/json"
	query := url.Values{}
	var wire []byte
	switch enc {
	case JSON:
		wire = body
	case GzipJS, GzipMagic:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("gzip body: %w", err)
		}
		wire, contentType = buf.Bytes(), "text/plain"
		if enc == GzipJS {
			query.Set("compression", "gzip-js")
		}
	case Base64Form:
		wire = []byte(url.Values{"data": {base64.StdEncoding.EncodeToString(body)}, "compression": {"base64"}}.Encode())
		contentType = "application/x-www-form-urlencoded"
	case LZ64Form:
		wire = []byte(url.Values{"data": {lzstring.CompressToBase64(string(body))}, "compression": {"lz64"}}.Encode())
		contentType = "application/x-www-form-urlencoded"
	case PlainForm:
		wire = []byte(url.Values{"data": {string(body)}}.Encode())
		contentType = "application/x-www-form-urlencoded"
	case GetData:
		method, contentType = http.MethodGet, ""
		query.Set("data", base64.StdEncoding.EncodeToString(body))
	default:
		return nil, fmt.Errorf("unknown encoding %q: use one of %v", enc, Encodings)
	}
	query.Set("ver", "1.200.0")
	target += "?" + query.Encode()
	var reader *bytes.Reader
	if wire != nil {
		reader = bytes.NewReader(wire)
	}
	var req *http.Request
	var err error
	if reader != nil {
		req, err = http.NewRequestWithContext(ctx, method, target, reader)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, target, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, target, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}
