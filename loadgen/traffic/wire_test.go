package traffic

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/shakedown-dev/shakedown/internal/phclient"
	"github.com/shakedown-dev/shakedown/reference/payload"
	"github.com/shakedown-dev/shakedown/reference/payload/lzstring"
)

func TestLZCompressorMatchesLZString(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	inputs := []string{"a", "ab", "aaaaaaa", "abababababab", "héllo wörld", "emoji 😀 and ☃ and \xff bad utf-8", strings.Repeat("x", 70_000)}
	for i := 0; i < 200; i++ {
		b := make([]byte, r.IntN(3000))
		for j := range b {
			b[j] = "ab{}\":,c01"[r.IntN(10)]
		}
		inputs = append(inputs, string(b))
	}
	// Many distinct units, to grow past 16-bit codes.
	var wide strings.Builder
	for i := 0; i < 40_000; i++ {
		wide.WriteRune(rune(0x100 + r.IntN(0x5000)))
	}
	inputs = append(inputs, wide.String())
	g := newGen(t, Options{Seed: 9, Encodings: map[phclient.Encoding]float64{phclient.JSON: 1}})
	for i := uint64(0); i < 50; i++ {
		tg, _ := g.At(context.Background(), i)
		inputs = append(inputs, string(tg.Body))
	}
	var z lzCompressor
	for _, in := range inputs {
		got := string(z.appendBase64(nil, []byte(in)))
		if want := lzstring.CompressToBase64(in); got != want {
			t.Fatalf("input of %d bytes (%.40q...): got %.60q..., want %.60q...", len(in), in, got, want)
		}
	}
}

func TestAppendQueryEscapeMatchesURL(t *testing.T) {
	var all []byte
	for c := 0; c < 256; c++ {
		all = append(all, byte(c))
	}
	if got, want := string(appendQueryEscape(nil, all)), url.QueryEscape(string(all)); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestEncodingsMatchPhclient checks every encoding against internal/phclient's
// NewRequest, the reference of the wire formats: same method, content type and
// body (gzip compared after decompression), and a body the capture API's
// decoder turns back into the JSON.
func TestEncodingsMatchPhclient(t *testing.T) {
	ctx := context.Background()
	js := []byte(`{"event":"$pageview","distinct_id":"u1","properties":{"token":"phc_x","$current_url":"https://a.test/x?y=1 2&z=ü"}}`)
	var w wire
	h := newHeaders()
	for _, enc := range phclient.Encodings {
		method, query, body, header := w.encode(js, enc, &h)
		ref, err := phclient.NewRequest(ctx, "http://x", "/e/", js, enc)
		if err != nil {
			t.Fatal(err)
		}
		var refBody []byte
		if ref.Body != nil {
			refBody, _ = io.ReadAll(ref.Body)
		}
		if method != ref.Method || header.Get("Content-Type") != ref.Header.Get("Content-Type") {
			t.Errorf("%s: %s %q, phclient %s %q", enc, method, header.Get("Content-Type"), ref.Method, ref.Header.Get("Content-Type"))
		}
		switch enc {
		case phclient.GzipJS, phclient.GzipMagic:
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("%s: %v", enc, err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(plain, js) {
				t.Errorf("%s: gunzipped %q (%v), want %q", enc, plain, err, js)
			}
		default:
			if !bytes.Equal(body, refBody) {
				t.Errorf("%s: body %q, phclient %q", enc, body, refBody)
			}
		}
		if enc == phclient.GetData {
			q, _ := url.ParseQuery(strings.TrimPrefix(string(query), "&"))
			if q.Get("data") != ref.URL.Query().Get("data") {
				t.Errorf("get: data %q, phclient %q", q.Get("data"), ref.URL.Query().Get("data"))
			}
		}
		// The capture API's decoder gets the JSON back.
		req, _ := http.NewRequest(method, "http://x/e/?_=1"+string(query), bytes.NewReader(body))
		if header != nil {
			req.Header = header.Clone()
		}
		got, err := payload.ReadBody(req, 1<<20)
		if err != nil || !bytes.Equal(got, js) {
			t.Errorf("%s: capture decodes %q (%v), want %q", enc, got, err, js)
		}
	}
}

func TestClassify(t *testing.T) {
	ctx := context.Background()
	g := newGen(t, Options{Seed: 4, BaseURL: "http://127.0.0.1:8010/base/"})
	seen := map[string]bool{}
	for i := uint64(0); i < 3000; i++ {
		tg, err := g.At(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		kind, enc := Classify(tg.Method, tg.URL)
		if kind != tg.Kind || enc != tg.Encoding {
			t.Fatalf("Classify(%s %s) = %s, %s; the target is %s, %s", tg.Method, tg.URL, kind, enc, tg.Kind, tg.Encoding)
		}
		seen[string(kind)+"/"+string(enc)] = true
	}
	for _, k := range Kinds() {
		for _, e := range phclient.Encodings {
			if !seen[string(k)+"/"+string(e)] && !(e == phclient.GetData && (k == Array || k == Batch)) {
				t.Errorf("no %s target in %s among 3000: the test covers too little", k, e)
			}
		}
	}
	for _, c := range []struct {
		method, url string
		kind        Kind
		enc         phclient.Encoding
	}{
		{"POST", "http://h/i/v0/e", Event, phclient.JSON},
		{"POST", "http://h/e?compression=gzip-js", Array, phclient.GzipJS},
		{"POST", "http://h/e/?compression=LZ64#hit-3", Array, phclient.LZ64Form},
		{"POST", "http://h/batch/?enc=form", Batch, phclient.PlainForm},
		{"GET", "http://h/decide/?v=3&data=e30%3D", Decide, phclient.GetData},
		{"POST", "http://h/capture/", "", ""},
		{"POST", "http://h/e/%zz", "", ""},
	} {
		if kind, enc := Classify(c.method, c.url); kind != c.kind || enc != c.enc {
			t.Errorf("Classify(%s %s) = %q, %q; want %q, %q", c.method, c.url, kind, enc, c.kind, c.enc)
		}
	}
}

// TestTargetsDecodeToTheirEvents sends every target through the capture API's
// decoder: the body must come back as the JSON of its kind, with the uuids the
// target lists, the token where posthog-js and the server SDKs put it, and
// events shaped as before (posthog-js properties, RFC 3339 timestamps).
func TestTargetsDecodeToTheirEvents(t *testing.T) {
	ctx := context.Background()
	g := newGen(t, Options{Seed: 11, Token: `phc_"odd"`})
	for i := uint64(0); i < 1500; i++ {
		tg, _ := g.At(ctx, i)
		req, err := tg.Request()
		if err != nil {
			t.Fatal(err)
		}
		js, err := payload.ReadBody(req, 20<<20)
		if err != nil {
			t.Fatalf("target %d (%s %s): capture cannot decode it: %v", i, tg.Kind, tg.Encoding, err)
		}
		var events []phclient.Event
		switch tg.Kind {
		case Decide:
			var d struct {
				Token      string         `json:"token"`
				DistinctID string         `json:"distinct_id"`
				Groups     map[string]any `json:"groups"`
			}
			if err := json.Unmarshal(js, &d); err != nil || d.Token != `phc_"odd"` || d.DistinctID != tg.DistinctID || d.Groups == nil {
				t.Fatalf("decide %d: %s (%v)", i, js, err)
			}
			continue
		case Event:
			var ev phclient.Event
			err = json.Unmarshal(js, &ev)
			events = []phclient.Event{ev}
		case Array:
			err = json.Unmarshal(js, &events)
		case Batch:
			var b phclient.Batch
			err = json.Unmarshal(js, &b)
			events = b.Batch
			if b.APIKey != `phc_"odd"` || !strings.HasSuffix(b.SentAt, "Z") {
				t.Fatalf("batch %d: api_key %q sent_at %q", i, b.APIKey, b.SentAt)
			}
		}
		if err != nil {
			t.Fatalf("target %d (%s): %v\n%s", i, tg.Kind, err, js)
		}
		if len(events) != len(tg.UUIDs) {
			t.Fatalf("target %d: %d events, %d uuids", i, len(events), len(tg.UUIDs))
		}
		for j, ev := range events {
			p := ev.Properties
			if ev.UUID != tg.UUIDs[j] || ev.DistinctID != tg.DistinctID || p["distinct_id"] != tg.DistinctID || ev.Event == "" {
				t.Fatalf("target %d event %d: %+v", i, j, ev)
			}
			if _, err := time.Parse(time.RFC3339Nano, ev.Timestamp); err != nil {
				t.Fatalf("target %d event %d: timestamp %q: %v", i, j, ev.Timestamp, err)
			}
			for _, k := range []string{"$current_url", "$host", "$pathname", "$browser", "$browser_version", "$os", "$device_type",
				"$screen_height", "$screen_width", "$viewport_height", "$viewport_width", "$lib", "$lib_version", "$insert_id",
				"$time", "$session_id", "$window_id", "$referrer", "$referring_domain", "$device_id", "$is_identified",
				"$raw_user_agent", "$active_feature_flags"} {
				if _, ok := p[k]; !ok {
					t.Fatalf("target %d event %d lacks %s: %v", i, j, k, p)
				}
			}
			if tok, ok := p["token"]; (tg.Kind == Batch) == ok || ok && tok != `phc_"odd"` {
				t.Fatalf("target %d (%s) event %d: properties.token %v", i, tg.Kind, j, tok)
			}
		}
	}
}

// TestTargetsOwnTheirBytes checks that what a target carries is not memory the
// Generator reuses: building more targets must not change an earlier one.
func TestTargetsOwnTheirBytes(t *testing.T) {
	ctx := context.Background()
	g := newGen(t, Options{Seed: 2})
	var kept []Target
	var copies [][]byte
	for i := uint64(0); i < 300; i++ {
		tg, _ := g.At(ctx, i)
		kept = append(kept, tg)
		copies = append(copies, bytes.Clone(tg.Body))
	}
	for i, tg := range kept {
		if !bytes.Equal(tg.Body, copies[i]) {
			t.Fatalf("target %d's body changed after more targets were built", i)
		}
		for j := i + 1; j < len(kept) && j < i+8; j++ {
			if sameBacking(tg.Body, kept[j].Body) {
				t.Fatalf("targets %d and %d share body memory", i, j)
			}
		}
	}
}

func sameBacking(a, b []byte) bool {
	if cap(a) == 0 || cap(b) == 0 {
		return false
	}
	pa, pb := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return pa < pb+uintptr(cap(b)) && pb < pa+uintptr(cap(a))
}

func BenchmarkLZ(b *testing.B) {
	g := newGen(b, Options{Seed: 1, Kinds: map[Kind]float64{Array: 1}, Encodings: map[phclient.Encoding]float64{phclient.JSON: 1}})
	var bodies [][]byte
	size := 0
	for i := uint64(0); i < 100; i++ {
		tg, _ := g.At(context.Background(), i)
		bodies = append(bodies, tg.Body)
		size += len(tg.Body)
	}
	var z lzCompressor
	var out []byte
	b.SetBytes(int64(size / len(bodies)))
	for i := 0; b.Loop(); i++ {
		out = z.appendBase64(out[:0], bodies[i%len(bodies)])
	}
}

func TestTimeFieldsMatchTheirReferences(t *testing.T) {
	var clock clockCache
	r := rand.New(rand.NewPCG(3, 4))
	for _, ms := range append([]int64{0, 1, 10, 100, 999, 1000, 1767225600120, -1, -1500}, r.Int64N(1<<42), r.Int64N(1<<42)) {
		want, _ := json.Marshal(float64(ms) / 1000)
		if got := appendSeconds(nil, ms); string(got) != string(want) {
			t.Errorf("appendSeconds(%d) = %s, encoding/json writes %s", ms, got, want)
		}
		if got, want := string(appendTimestamp(nil, ms, &clock)), time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z"); got != want {
			t.Errorf("appendTimestamp(%d) = %s, want %s", ms, got, want)
		}
	}
}
