package traffic

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/shakedown-dev/shakedown/internal/phclient"
)

// Paths of the kinds. Single events go to /i/v0/e/ (posthog-js's current
// endpoint) and arrays to /e/, so a result's URL tells them apart.
const (
	eventPath  = "/i/v0/e/"
	arrayPath  = "/e/"
	batchPath  = "/batch/"
	decidePath = "/decide/"
)

// encParam names the encoding in the query of requests whose encoding nothing
// else in the URL shows (gzip by magic bytes only, form bodies; plain JSON has no
// parameter). The capture API ignores it.
const encParam = "enc"

// libVersion is the posthog-js version requests claim (ver=).
const libVersion = "1.200.0"

// headers are shared by every target of a content type; vegeta copies them into
// each request, and nothing writes to them.
type headers struct {
	json, text, form http.Header
}

func newHeaders() headers {
	return headers{
		json: http.Header{"Content-Type": {"application/json"}},
		text: http.Header{"Content-Type": {"text/plain"}},
		form: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
	}
}

// wire is one builder's reusable encoding state: a gzip writer (klauspost's, at
// its fastest level: about three times the speed of compress/gzip's, with
// output within a few percent of posthog-js's level-6 size), an lz-string
// compressor and scratch buffers.
type wire struct {
	gz    *gzip.Writer
	gzBuf bytes.Buffer
	lz    lzCompressor
	b64   []byte
	body  []byte
}

// encode puts the JSON body js on the wire in encoding enc: it returns the
// method, the query parameters the encoding adds (each preceded by '&'), the body
// (a fresh slice the target owns; nil for GET) and its content type.
func (w *wire) encode(js []byte, enc phclient.Encoding, h *headers) (method string, query []byte, body []byte, header http.Header) {
	w.body = w.body[:0]
	switch enc {
	case phclient.JSON:
		return http.MethodPost, nil, bytes.Clone(js), h.json
	case phclient.GzipJS, phclient.GzipMagic:
		if w.gz == nil {
			w.gz, _ = gzip.NewWriterLevel(&w.gzBuf, gzip.BestSpeed)
		}
		w.gzBuf.Reset()
		w.gz.Reset(&w.gzBuf)
		_, _ = w.gz.Write(js) // writes to a bytes.Buffer do not fail
		_ = w.gz.Close()
		if enc == phclient.GzipJS {
			query = []byte("&compression=gzip-js")
		} else {
			query = []byte("&" + encParam + "=gzip-magic")
		}
		return http.MethodPost, query, bytes.Clone(w.gzBuf.Bytes()), h.text
	case phclient.Base64Form:
		w.b64 = base64.StdEncoding.AppendEncode(w.b64[:0], js)
		w.body = append(w.body, "compression=base64&data="...)
		w.body = appendQueryEscape(w.body, w.b64)
		return http.MethodPost, []byte("&compression=base64"), bytes.Clone(w.body), h.form
	case phclient.LZ64Form:
		w.b64 = w.lz.appendBase64(w.b64[:0], js)
		w.body = append(w.body, "compression=lz64&data="...)
		w.body = appendQueryEscape(w.body, w.b64)
		return http.MethodPost, []byte("&compression=lz64"), bytes.Clone(w.body), h.form
	case phclient.PlainForm:
		w.body = append(w.body, "data="...)
		w.body = appendQueryEscape(w.body, js)
		return http.MethodPost, []byte("&" + encParam + "=form"), bytes.Clone(w.body), h.form
	case phclient.GetData:
		w.b64 = base64.StdEncoding.AppendEncode(w.b64[:0], js)
		query = append(query, "&data="...)
		query = appendQueryEscape(query, w.b64)
		return http.MethodGet, query, nil, nil
	}
	panic("traffic: unknown encoding " + string(enc)) // New only accepts phclient.Encodings
}

// unreserved marks the bytes url.QueryEscape leaves as they are.
var unreserved = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
	}
	return t
}()

// appendQueryEscape appends s escaped as url.QueryEscape does.
func appendQueryEscape(b, s []byte) []byte {
	const hex = "0123456789ABCDEF"
	n := len(b)
	b = slices.Grow(b, 3*len(s))[:n+3*len(s)]
	for _, c := range s {
		switch {
		case unreserved[c]:
			b[n] = c
			n++
		case c == ' ':
			b[n] = '+'
			n++
		default:
			b[n], b[n+1], b[n+2] = '%', hex[c>>4], hex[c&15]
			n += 3
		}
	}
	return b[:n]
}

// Classify tells a request's kind and encoding from its method and URL, as
// Generator targets carry them (so a vegeta Result's Method and URL are enough to
// break results down): the path names the kind (/i/v0/e/ a single event, /e/ an
// array, /batch/ a batch, /decide/ a decide call; a base path before it and a
// missing trailing slash are fine), GET is the get encoding, the compression
// parameter names gzip-js, base64 and lz64, the enc parameter gzip-magic and
// form, and a POST with neither is plain JSON. Both are empty when the URL does
// not parse or its path is none of the kinds'.
func Classify(method, rawURL string) (Kind, phclient.Encoding) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", ""
	}
	var kind Kind
	p := strings.TrimSuffix(u.Path, "/")
	switch {
	case strings.HasSuffix(p, strings.TrimSuffix(eventPath, "/")):
		kind = Event
	case strings.HasSuffix(p, strings.TrimSuffix(arrayPath, "/")):
		kind = Array
	case strings.HasSuffix(p, strings.TrimSuffix(batchPath, "/")):
		kind = Batch
	case strings.HasSuffix(p, strings.TrimSuffix(decidePath, "/")):
		kind = Decide
	default:
		return "", ""
	}
	if method == http.MethodGet {
		return kind, phclient.GetData
	}
	q := u.Query()
	switch strings.ToLower(q.Get("compression")) {
	case "gzip-js", "gzip":
		return kind, phclient.GzipJS
	case "base64", "b64":
		return kind, phclient.Base64Form
	case "lz64", "lz-string":
		return kind, phclient.LZ64Form
	}
	switch e := phclient.Encoding(q.Get(encParam)); e {
	case phclient.GzipMagic, phclient.PlainForm, phclient.JSON:
		return kind, e
	}
	return kind, phclient.JSON
}
