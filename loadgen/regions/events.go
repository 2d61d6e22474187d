package regions

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"mime"
	"net/url"
	"regexp"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/shakedown-dev/shakedown/reference/payload/lzstring"
)

// The stream's requests carry PostHog events, whose uuids identify them in a region's
// store. The same stream goes to every target, so to tell in which region an event
// landed each target must get its own uuids: eventCodec undoes the encoding of a
// request (the ones internal/phclient produces: plain JSON, gzip, base64 and lz64
// forms, plain forms, GET ?data=), and reencode gives target i's copy with every uuid
// replaced by uuidFor(key_i, uuid) and the same encoding. Nothing else changes: the
// JSON keeps its length, a compressed body may differ by a few bytes.

// uuidField matches the uuid of an event in a PostHog body ({"uuid":"..."}).
var uuidField = regexp.MustCompile(`"uuid":"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"`)

// wire is how a request's JSON is carried.
type wire int

const (
	wireJSON wire = iota
	wireGzip
	wireForm      // data=<JSON>
	wireFormB64   // data=<base64 JSON>&compression=base64
	wireFormLZ64  // data=<lz-string base64>&compression=lz64
	wireQueryData // GET ?data=<base64 JSON>
)

// decodedRequest is one request of the stream with its JSON decoded.
type decodedRequest struct {
	wire wire
	json []byte
	// form holds the other form fields (compression) of a form body.
	form url.Values
}

// decodeEvents decodes the JSON a stream request carries. ok is false for a request
// without events (e.g. /decide), which is passed on unchanged.
func decodeEvents(t vegeta.Target) (decodedRequest, bool, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return decodedRequest{}, false, fmt.Errorf("stream URL %q: %w", t.URL, err)
	}
	if data := u.Query().Get("data"); data != "" && len(t.Body) == 0 {
		js, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return decodedRequest{}, false, fmt.Errorf("?data= is not base64: %w", err)
		}
		return withUUIDs(decodedRequest{wire: wireQueryData, json: js})
	}
	if len(t.Body) >= 2 && t.Body[0] == 0x1f && t.Body[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(t.Body))
		if err != nil {
			return decodedRequest{}, false, fmt.Errorf("gzip body: %w", err)
		}
		js, err := io.ReadAll(zr)
		if err != nil {
			return decodedRequest{}, false, fmt.Errorf("gzip body: %w", err)
		}
		return withUUIDs(decodedRequest{wire: wireGzip, json: js})
	}
	if mt, _, _ := mime.ParseMediaType(t.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(t.Body))
		if err != nil {
			return decodedRequest{}, false, fmt.Errorf("form body: %w", err)
		}
		data := form.Get("data")
		d := decodedRequest{wire: wireForm, form: form, json: []byte(data)}
		switch c := form.Get("compression"); c {
		case "":
		case "base64":
			d.wire = wireFormB64
			if d.json, err = base64.StdEncoding.DecodeString(data); err != nil {
				return decodedRequest{}, false, fmt.Errorf("form data is not base64: %w", err)
			}
		case "lz64":
			d.wire = wireFormLZ64
			js, err := lzstring.DecompressFromBase64(data, 64<<20)
			if err != nil {
				return decodedRequest{}, false, fmt.Errorf("form data is not lz64: %w", err)
			}
			d.json = []byte(js)
		default:
			return decodedRequest{}, false, fmt.Errorf("form compression %q: cannot give each target its own event uuids", c)
		}
		return withUUIDs(d)
	}
	return withUUIDs(decodedRequest{wire: wireJSON, json: t.Body})
}

func withUUIDs(d decodedRequest) (decodedRequest, bool, error) {
	return d, uuidField.Match(d.json), nil
}

// reencode returns t carrying d's JSON with every event uuid u replaced by
// uuidFor(key, u), in d's encoding, and the new uuids in body order.
func (d decodedRequest) reencode(t vegeta.Target, key [16]byte) (vegeta.Target, []string, error) {
	var uuids []string
	js := uuidField.ReplaceAllFunc(d.json, func(m []byte) []byte {
		u := uuidFor(key, string(m[len(`"uuid":"`):len(m)-1]))
		uuids = append(uuids, u)
		return []byte(`"uuid":"` + u + `"`)
	})
	switch d.wire {
	case wireJSON:
		t.Body = js
	case wireGzip:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(js); err != nil {
			return t, nil, fmt.Errorf("gzip body: %w", err)
		}
		if err := zw.Close(); err != nil {
			return t, nil, fmt.Errorf("gzip body: %w", err)
		}
		t.Body = buf.Bytes()
	case wireForm, wireFormB64, wireFormLZ64:
		form := url.Values{}
		for k, v := range d.form {
			form[k] = v
		}
		switch d.wire {
		case wireForm:
			form.Set("data", string(js))
		case wireFormB64:
			form.Set("data", base64.StdEncoding.EncodeToString(js))
		default:
			form.Set("data", lzstring.CompressToBase64(string(js)))
		}
		t.Body = []byte(form.Encode())
	case wireQueryData:
		u, err := url.Parse(t.URL)
		if err != nil {
			return t, nil, err
		}
		q := u.Query()
		q.Set("data", base64.StdEncoding.EncodeToString(js))
		u.RawQuery = q.Encode()
		t.URL = u.String()
	}
	return t, uuids, nil
}

// targetKey derives the uuid key of the target named name.
func targetKey(name string) [16]byte {
	var key [16]byte
	for i := range 2 {
		h := fnv.New64a()
		fmt.Fprintf(h, "shakedown-region-%d:%s", i, name)
		x := h.Sum64()
		for b := range 8 {
			key[8*i+b] = byte(x >> (8 * b))
		}
	}
	// Keep the version nibble and the variant bits: the result is still a v4 uuid.
	key[6] &= 0x0f
	key[8] &= 0x3f
	return key
}

// uuidFor is u XOR key: a bijection per key, so distinct uuids stay distinct, and two
// targets' copies of one event differ.
func uuidFor(key [16]byte, u string) string {
	raw, err := hex.DecodeString(strings.ReplaceAll(u, "-", ""))
	if err != nil || len(raw) != 16 {
		return u // the pattern admits only 32 hex digits: unreachable
	}
	for i := range raw {
		raw[i] ^= key[i]
	}
	h := hex.EncodeToString(raw)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
