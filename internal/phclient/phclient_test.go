package phclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shakedown-dev/shakedown/reference/payload"
)

// Every encoding must decode back to the same JSON with the capture API's own decoder.
func TestEveryEncodingRoundTripsThroughThePayloadDecoder(t *testing.T) {
	body, err := BatchBody("phc_test", []Event{{Event: "pageview", DistinctID: "ü-user", Properties: map[string]any{"$current_url": "https://example.test/?q=a+b"}}}, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range Encodings {
		t.Run(string(enc), func(t *testing.T) {
			var got []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, err = payload.ReadBody(r, 1<<20)
				if err != nil {
					http.Error(w, err.Error(), 400)
				}
			}))
			defer srv.Close()
			req, err := NewRequest(context.Background(), srv.URL, "/batch/", body, enc)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("decoder refused %s: %s", enc, msg)
			}
			var a, b any
			if err := json.Unmarshal(got, &a); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(body, &b)
			if ja, _ := json.Marshal(a); string(ja) != mustJSON(b) {
				t.Fatalf("round trip changed the payload:\n got %s\nwant %s", ja, mustJSON(b))
			}
		})
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestUnknownEncodingIsAnError(t *testing.T) {
	if _, err := NewRequest(context.Background(), "http://x", "/e", []byte("{}"), "brotli"); err == nil {
		t.Fatal("want an error for an unknown encoding")
	}
}
