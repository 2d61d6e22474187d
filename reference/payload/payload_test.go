package payload

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/shakedown-dev/shakedown/reference/payload/lzstring"
)

const event = `{"event":"$pageview","distinct_id":"u1","properties":{"token":"phc_x","s":"héllo ✓"}}`

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func req(method, target, contentType string, body []byte) *http.Request {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestReadBodyEncodings(t *testing.T) {
	lz := lzstring.CompressToBase64(event)
	tests := []struct {
		name string
		r    *http.Request
	}{
		{"raw json", req("POST", "/e", "application/json", []byte(event))},
		{"raw json no content type", req("POST", "/e", "", []byte(event))},
		{"raw json charset", req("POST", "/e", "application/json; charset=utf-8", []byte(event))},
		{"raw json text/plain", req("POST", "/e", "text/plain", []byte(event))},
		{"surrounding whitespace", req("POST", "/e", "application/json", []byte("\n  "+event+"\n"))},
		{"gzip by magic bytes", req("POST", "/e", "application/json", gz(t, event))},
		{"gzip param", req("POST", "/e?compression=gzip", "text/plain", gz(t, event))},
		{"gzip-js param", req("POST", "/e?compression=gzip-js", "text/plain", gz(t, event))},
		{"gzip octet-stream", req("POST", "/e", "application/octet-stream", gz(t, event))},
		{"base64 param", req("POST", "/e?compression=base64", "text/plain", []byte(b64([]byte(event))))},
		{"b64 param", req("POST", "/e?compression=b64", "text/plain", []byte(b64([]byte(event))))},
		{"base64 unpadded url alphabet", req("POST", "/e?compression=base64", "", []byte(base64.RawURLEncoding.EncodeToString([]byte(event))))},
		{"lz64 param", req("POST", "/e?compression=lz64", "text/plain", []byte(lz))},
		{"lz64 param uppercase", req("POST", "/e?compression=LZ64", "", []byte(lz))},
		{"form plain json", req("POST", "/e", "application/x-www-form-urlencoded", []byte(form("data", event)))},
		{"form base64", req("POST", "/e", "application/x-www-form-urlencoded", []byte(form("data", b64([]byte(event)))))},
		{"form base64 declared", req("POST", "/e", "application/x-www-form-urlencoded", []byte(form("data", b64([]byte(event)), "compression", "base64")))},
		{"form lz64 detected", req("POST", "/e", "application/x-www-form-urlencoded", []byte(form("data", lz)))},
		{"form lz64 in body param", req("POST", "/e", "application/x-www-form-urlencoded", []byte(form("data", lz, "compression", "lz64")))},
		{"form lz64 in query param", req("POST", "/e?compression=lz64", "application/x-www-form-urlencoded", []byte(form("data", lz)))},
		{"form without content type", req("POST", "/e", "text/plain", []byte(form("data", b64([]byte(event)))))},
		{"form gzip base64", req("POST", "/e?compression=gzip-js", "application/x-www-form-urlencoded", []byte(form("data", b64(gz(t, event)))))},
		{"gzipped form", req("POST", "/e", "application/x-www-form-urlencoded", gz(t, form("data", b64([]byte(event)))))},
		{"content-encoding gzip", func() *http.Request {
			r := req("POST", "/e", "application/json", gz(t, event))
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}()},
		{"GET data json", req("GET", "/e?data="+url.QueryEscape(event), "", nil)},
		{"GET data base64", req("GET", "/e?data="+url.QueryEscape(b64([]byte(event))), "", nil)},
		{"GET data lz64", req("GET", "/e?compression=lz64&data="+url.QueryEscape(lz), "", nil)},
		{"GET data lz64 detected", req("GET", "/e?data="+url.QueryEscape(lz), "", nil)},
		{"POST empty body with query data", req("POST", "/e?data="+url.QueryEscape(event), "", []byte{})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadBody(tc.r, 1<<20)
			if err != nil {
				t.Fatalf("ReadBody: %v", err)
			}
			if string(got) != event {
				t.Fatalf("ReadBody = %q, want %q", got, event)
			}
		})
	}
}

func TestReadBodyErrors(t *testing.T) {
	const limit = 4096
	bomb := gz(t, `{"event":"x","properties":{"pad":"`+strings.Repeat("0", 2<<20)+`"}}`)
	bigLZ := lzstring.CompressToBase64(`["` + strings.Repeat("ab", 50_000) + `"]`)
	tests := []struct {
		name string
		r    *http.Request
		kind Kind
	}{
		{"malformed json", req("POST", "/e", "application/json", []byte(`{"event":`)), Malformed},
		{"not json at all", req("POST", "/e", "", []byte(`hello`)), Malformed},
		{"empty body no data", req("POST", "/e", "application/json", nil), Malformed},
		{"GET without data", req("GET", "/e", "", nil), Malformed},
		{"GET data garbage", req("GET", "/e?data=%25%25%25", "", nil), Malformed},
		{"bad base64", req("POST", "/e?compression=base64", "", []byte("!!!not base64!!!")), Malformed},
		{"base64 of non-json", req("POST", "/e?compression=base64", "", []byte(b64([]byte("nope")))), Malformed},
		{"bad lz64", req("POST", "/e?compression=lz64", "", []byte("!!!!")), Malformed},
		{"gzip param on plain body", req("POST", "/e?compression=gzip", "", []byte(event)), Malformed},
		{"truncated gzip", req("POST", "/e", "", gz(t, event)[:20]), Malformed},
		{"gzip of non-json", req("POST", "/e", "", gz(t, "nope")), Malformed},
		{"form without data", req("POST", "/e", "application/x-www-form-urlencoded", []byte("foo=bar")), Malformed},
		{"form with bad escape", req("POST", "/e", "application/x-www-form-urlencoded", []byte("data=%zz")), Malformed},
		{"unknown compression", req("POST", "/e?compression=brotli", "", []byte(event)), UnsupportedMediaType},
		{"xml content type", req("POST", "/e", "application/xml", []byte(event)), UnsupportedMediaType},
		{"multipart content type", req("POST", "/e", "multipart/form-data; boundary=x", []byte(event)), UnsupportedMediaType},
		{"unparseable content type", req("POST", "/e", "application/json; =", []byte(event)), UnsupportedMediaType},
		{"br content encoding", func() *http.Request {
			r := req("POST", "/e", "application/json", []byte(event))
			r.Header.Set("Content-Encoding", "br")
			return r
		}(), UnsupportedMediaType},
		{"body over limit", req("POST", "/e", "application/json", []byte(`["`+strings.Repeat("x", limit)+`"]`)), TooLarge},
		{"body over limit, unknown length", func() *http.Request {
			r := req("POST", "/e", "application/json", []byte(`["`+strings.Repeat("x", limit)+`"]`))
			r.ContentLength = -1
			return r
		}(), TooLarge},
		{"gzip bomb", req("POST", "/e", "", bomb), TooLarge},
		{"gzip bomb in form", req("POST", "/e?compression=gzip", "application/x-www-form-urlencoded", []byte(form("data", b64(bomb)))), TooLarge},
		{"lz64 bomb", req("POST", "/e?compression=lz64", "", []byte(bigLZ)), TooLarge},
		{"GET data over limit", req("GET", "/e?data="+strings.Repeat("x", limit+1), "", nil), TooLarge},
	}
	if len(bomb) > limit || len(bigLZ) > limit {
		t.Fatalf("bombs must be small: gzip %d, lz %d bytes", len(bomb), len(bigLZ))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadBody(tc.r, limit)
			if err == nil {
				t.Fatalf("ReadBody = %q, want a %v error", got, tc.kind)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *payload.Error", err, err)
			}
			if pe.Kind != tc.kind {
				t.Fatalf("kind = %v (%v), want %v", pe.Kind, err, tc.kind)
			}
			if pe.Detail == "" {
				t.Fatal("error has no detail")
			}
			if StatusCode(err) != tc.kind.HTTPStatus() {
				t.Fatalf("StatusCode = %d, want %d", StatusCode(err), tc.kind.HTTPStatus())
			}
		})
	}
}

func TestFormUnescapedPlus(t *testing.T) {
	// Clients that forget to escape '+' in base64 send it as a space after form decoding.
	js := event
	for i := 0; !strings.Contains(b64([]byte(js)), "+"); i++ {
		js = `{"event":"e","distinct_id":"d","properties":{"p":"` + strings.Repeat(">", i) + `"}}`
	}
	got, err := ReadBody(req("POST", "/e", "application/x-www-form-urlencoded", []byte("data="+b64([]byte(js)))), 1<<20)
	if err != nil || string(got) != js {
		t.Fatalf("ReadBody = %q, %v; want %q", got, err, js)
	}
}

func TestReadBodyMaxBytesReader(t *testing.T) {
	r := req("POST", "/e", "application/json", []byte(`["`+strings.Repeat("x", 100)+`"]`))
	r.ContentLength = -1
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	_, err := ReadBody(r, 1000)
	if StatusCode(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("err = %v, want 413", err)
	}
}

func TestReadBodyLimitBoundary(t *testing.T) {
	body := []byte(`["` + strings.Repeat("x", 96) + `"]`) // exactly 100 bytes
	if _, err := ReadBody(req("POST", "/e", "", body), 100); err != nil {
		t.Fatalf("body at the limit: %v", err)
	}
	if _, err := ReadBody(req("POST", "/e", "", gz(t, string(body))), 100); err != nil {
		t.Fatalf("gzip body decompressing to the limit: %v", err)
	}
	if _, err := ReadBody(req("POST", "/e", "", gz(t, string(body))), 99); StatusCode(err) != http.StatusRequestEntityTooLarge {
		t.Fatalf("gzip body decompressing one past the limit: %v, want 413", err)
	}
	if _, err := ReadBody(req("POST", "/e", "", body), 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}

func TestStatusCode(t *testing.T) {
	if got := StatusCode(nil); got != 200 {
		t.Errorf("nil: %d", got)
	}
	if got := StatusCode(errors.New("x")); got != 500 {
		t.Errorf("plain error: %d", got)
	}
	wrapped := errors.Join(errors.New("ctx"), &Error{Kind: TooLarge, Detail: "d"})
	if got := StatusCode(wrapped); got != 413 {
		t.Errorf("wrapped TooLarge: %d", got)
	}
	// PostHog's endpoints answer 400 for every payload they cannot use.
	if got := UnsupportedMediaType.HTTPStatus(); got != 400 {
		t.Errorf("UnsupportedMediaType: %d, want 400", got)
	}
	for k, want := range map[Kind]string{Malformed: "malformed_payload", TooLarge: "payload_too_large", UnsupportedMediaType: "unsupported_media_type"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q want %q", k, k.String(), want)
		}
	}
}
