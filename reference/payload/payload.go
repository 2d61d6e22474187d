// Package payload reads the body of a PostHog-style request and undoes every
// encoding PostHog's clients use, returning plain JSON bytes.
//
// Supported, in the order they are recognised:
//   - GET (or an empty body) with `?data=<value>`;
//   - a form body `data=<value>[&compression=...]` (application/x-www-form-urlencoded,
//     or any body starting with "data=");
//   - gzip: the magic bytes 1f 8b, `compression=gzip|gzip-js`, or Content-Encoding: gzip;
//   - `compression=base64|b64`;
//   - `compression=lz64|lz-string`: lz-string's compressToBase64;
//   - raw JSON.
//
// A form or query value is decoded by the same rules: plain JSON, else per the
// compression parameter, else base64 and then lz-string are tried.
//
// The byte limit applies both to what is read from the wire and to the decoded
// result, so a small compressed body cannot expand past it.
package payload

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/shakedown-dev/shakedown/reference/payload/lzstring"
)

// Kind classifies why a payload could not be read.
type Kind uint8

const (
	// Malformed means the payload is not valid in its declared or detected encoding,
	// or is not JSON once decoded. HTTP 400.
	Malformed Kind = iota + 1
	// TooLarge means the body, or its decoded form, exceeds the limit. HTTP 413.
	TooLarge
	// UnsupportedMediaType means the Content-Type, Content-Encoding or compression
	// parameter names something this package does not decode. HTTP 400: PostHog's
	// endpoints answer 400 for any payload they cannot use (the code tells them apart).
	UnsupportedMediaType
)

// String returns the kind's snake_case name, usable as an error code.
func (k Kind) String() string {
	switch k {
	case Malformed:
		return "malformed_payload"
	case TooLarge:
		return "payload_too_large"
	case UnsupportedMediaType:
		return "unsupported_media_type"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// HTTPStatus returns the status code a handler should answer with.
func (k Kind) HTTPStatus() int {
	if k == TooLarge {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// Error is the error every function of this package returns.
type Error struct {
	Kind Kind
	// Detail says what was wrong and how to fix it, in words fit for the client.
	Detail string
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "payload: " + e.Detail + ": " + e.Err.Error()
	}
	return "payload: " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status for err: the Kind's status for an *Error,
// 500 for anything else, 200 for nil.
func StatusCode(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind.HTTPStatus()
	}
	return http.StatusInternalServerError
}

func errorf(k Kind, cause error, format string, args ...any) *Error {
	return &Error{Kind: k, Detail: fmt.Sprintf(format, args...), Err: cause}
}

// Compression names a client-declared encoding (the `compression` parameter).
type Compression string

// The compression values clients send. Unknown values are refused.
const (
	None   Compression = ""
	Gzip   Compression = "gzip"
	Base64 Compression = "base64"
	LZ64   Compression = "lz64"
)

// ParseCompression maps a `compression` parameter to a Compression; aliases
// gzip-js, b64 and lz-string are accepted, case-insensitively.
func ParseCompression(s string) (Compression, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "identity":
		return None, nil
	case "gzip", "gzip-js":
		return Gzip, nil
	case "base64", "b64":
		return Base64, nil
	case "lz64", "lz-string", "lzstring":
		return LZ64, nil
	}
	return None, errorf(UnsupportedMediaType, nil,
		"compression %q is not supported; use gzip, gzip-js, base64, b64 or lz64, or send plain JSON", s)
}

// Encoding describes how a body arrived; ReadBody fills it from the request.
type Encoding struct {
	// Compression is the `compression` query parameter, raw (not yet parsed).
	Compression string
	// ContentType is the Content-Type header.
	ContentType string
	// ContentEncoding is the Content-Encoding header.
	ContentEncoding string
}

// ReadBody returns the request's payload as JSON bytes, undoing every encoding PostHog clients use.
// limit (> 0) caps both the bytes read and the decoded size. It does not close r.Body.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("payload: limit must be positive, got %d", limit)
	}
	query := r.URL.Query()
	enc := Encoding{
		Compression:     query.Get("compression"),
		ContentType:     r.Header.Get("Content-Type"),
		ContentEncoding: r.Header.Get("Content-Encoding"),
	}
	var raw []byte
	if r.Body != nil && r.Body != http.NoBody && r.Method != http.MethodGet && r.Method != http.MethodHead {
		if r.ContentLength > limit {
			return nil, errorf(TooLarge, nil, "body is %d bytes, the limit is %d; send fewer events per request", r.ContentLength, limit)
		}
		var err error
		raw, err = readLimited(r.Body, limit, r.ContentLength, "body")
		if err != nil {
			return nil, err
		}
	}
	if len(raw) == 0 {
		data, ok := query["data"]
		if !ok || len(data) == 0 || data[0] == "" {
			return nil, errorf(Malformed, nil, "no payload: send the events as the request body, or as ?data= on a GET")
		}
		if int64(len(data[0])) > limit {
			return nil, errorf(TooLarge, nil, "data parameter is %d bytes, the limit is %d", len(data[0]), limit)
		}
		return DecodeValue(data[0], enc.Compression, limit)
	}
	return Decode(raw, enc, limit)
}

// readLimited reads all of rd, failing with TooLarge past limit bytes. size is the
// expected length (Content-Length), or negative when unknown: a known size is read
// into one buffer of that size, where io.ReadAll would grow, copy and leave garbage
// of about twice the body.
func readLimited(rd io.Reader, limit, size int64, what string) ([]byte, error) {
	var (
		b   []byte
		err error
	)
	if size >= 0 && size <= limit {
		b = make([]byte, 0, size+1) // +1: room to see a body longer than announced
		b, err = readInto(b, io.LimitReader(rd, limit+1))
	} else {
		b, err = io.ReadAll(io.LimitReader(rd, limit+1))
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(TooLarge, err, "%s exceeds the server's limit", what)
		}
		return nil, errorf(Malformed, err, "reading the %s failed", what)
	}
	if int64(len(b)) > limit {
		return nil, errorf(TooLarge, nil, "%s is larger than the limit of %d bytes; send fewer or smaller events per request", what, limit)
	}
	return b, nil
}

// Decode undoes the encodings of a request body (already read from the wire)
// and returns JSON bytes of at most limit bytes.
func Decode(raw []byte, enc Encoding, limit int64) ([]byte, error) {
	comp, err := ParseCompression(enc.Compression)
	if err != nil {
		return nil, err
	}
	if err := checkContentEncoding(enc.ContentEncoding); err != nil {
		return nil, err
	}
	mediaType, err := checkContentType(enc.ContentType)
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > limit {
		return nil, errorf(TooLarge, nil, "body is larger than the limit of %d bytes", limit)
	}
	gzipped := isGzip(raw) || strings.EqualFold(strings.TrimSpace(enc.ContentEncoding), "gzip")
	if gzipped || (comp == Gzip && !isForm(mediaType, raw)) {
		out, err := gunzip(raw, limit)
		if err != nil {
			return nil, err
		}
		// A gzipped body holds JSON, or (rarely) a form; decode what is inside.
		if isForm(mediaType, out) {
			return decodeForm(out, None, limit)
		}
		return validJSON(out, "gzip body")
	}
	if isForm(mediaType, raw) {
		return decodeForm(raw, comp, limit)
	}
	switch comp {
	case Base64:
		return decodeBase64(string(raw), limit)
	case LZ64:
		return decodeLZ64(string(raw), limit)
	}
	return validJSON(raw, "body")
}

// DecodeValue decodes a `data` form field or query parameter: plain JSON,
// base64 or lz64 (per compression, or detected when compression is empty).
func DecodeValue(v string, compression string, limit int64) ([]byte, error) {
	comp, err := ParseCompression(compression)
	if err != nil {
		return nil, err
	}
	if int64(len(v)) > limit {
		return nil, errorf(TooLarge, nil, "data value is larger than the limit of %d bytes", limit)
	}
	return decodeValue(v, comp, limit)
}

func decodeValue(v string, comp Compression, limit int64) ([]byte, error) {
	t := strings.TrimSpace(v)
	if t == "" {
		return nil, errorf(Malformed, nil, "data is empty; put the JSON events in data")
	}
	if t[0] == '{' || t[0] == '[' {
		return validJSON([]byte(t), "data")
	}
	switch comp {
	case Base64:
		return decodeBase64(t, limit)
	case LZ64:
		return decodeLZ64(t, limit)
	case Gzip:
		// gzip-js in a text field is gzip bytes, base64 encoded.
		b, err := unbase64(t)
		if err != nil {
			return nil, errorf(Malformed, err, "data is not base64-encoded gzip")
		}
		out, err := gunzip(b, limit)
		if err != nil {
			return nil, err
		}
		return validJSON(out, "gzip data")
	}
	// No declared compression: base64 first (old clients), then lz-string.
	if b, err := unbase64(t); err == nil {
		if isGzip(b) {
			if out, err := gunzip(b, limit); err == nil {
				return validJSON(out, "gzip data")
			} else if StatusCode(err) == http.StatusRequestEntityTooLarge {
				return nil, err
			}
		}
		if out, err := validJSON(b, "data"); err == nil {
			return out, nil
		}
	}
	out, err := decodeLZ64(t, limit)
	if err != nil {
		if StatusCode(err) == http.StatusRequestEntityTooLarge {
			return nil, err
		}
		return nil, errorf(Malformed, nil, "data is neither JSON, base64 JSON nor lz64; set compression=base64|lz64 to say which")
	}
	return out, nil
}

func decodeForm(body []byte, comp Compression, limit int64) ([]byte, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, errorf(Malformed, err, "form body cannot be parsed")
	}
	if c := form.Get("compression"); c != "" && comp == None {
		if comp, err = ParseCompression(c); err != nil {
			return nil, err
		}
	}
	data := form.Get("data")
	if data == "" {
		return nil, errorf(Malformed, nil, "form body has no data field; send data=<events>")
	}
	return decodeValue(data, comp, limit)
}

func decodeBase64(s string, limit int64) ([]byte, error) {
	b, err := unbase64(strings.TrimSpace(s))
	if err != nil {
		return nil, errorf(Malformed, err, "payload is not valid base64 (compression=base64)")
	}
	if int64(len(b)) > limit {
		return nil, errorf(TooLarge, nil, "decoded payload is larger than the limit of %d bytes", limit)
	}
	if isGzip(b) {
		out, err := gunzip(b, limit)
		if err != nil {
			return nil, err
		}
		return validJSON(out, "gzip payload")
	}
	return validJSON(b, "base64 payload")
}

func decodeLZ64(s string, limit int64) ([]byte, error) {
	out, err := lzstring.DecompressFromBase64(strings.TrimSpace(s), limit)
	switch {
	case errors.Is(err, lzstring.ErrTooLarge):
		return nil, errorf(TooLarge, err, "lz64 payload decompresses past the limit of %d bytes; send fewer events per request", limit)
	case err != nil:
		return nil, errorf(Malformed, err, "payload is not valid lz64 (lz-string compressToBase64)")
	}
	return validJSON([]byte(out), "lz64 payload")
}

// unbase64 accepts standard and URL alphabets, padded or not, and treats
// spaces as '+' (what form decoding makes of an unescaped plus).
func unbase64(s string) ([]byte, error) {
	s = strings.ReplaceAll(s, " ", "+")
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// readInto appends all of rd to b, growing it only when rd holds more than b's capacity.
func readInto(b []byte, rd io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// gunzip decompresses b, refusing output beyond limit bytes.
func gunzip(b []byte, limit int64) ([]byte, error) {
	if !isGzip(b) {
		return nil, errorf(Malformed, nil, "compression=gzip but the body is not gzip (no 1f 8b header); compress it or drop the parameter")
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, errorf(Malformed, err, "gzip header is invalid")
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, errorf(Malformed, err, "gzip stream is corrupt")
	}
	if int64(len(out)) > limit {
		return nil, errorf(TooLarge, nil, "gzip body decompresses past the limit of %d bytes; send fewer events per request", limit)
	}
	return out, nil
}

func validJSON(b []byte, what string) ([]byte, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errorf(Malformed, nil, "%s is empty; send a JSON event, array or batch", what)
	}
	if !json.Valid(b) {
		return nil, errorf(Malformed, jsonError(b), "%s is not valid JSON", what)
	}
	return b, nil
}

// jsonError returns the decoder's description of why b is not JSON.
func jsonError(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return nil
}

// isForm reports whether body is form-encoded: declared so, or starting with "data=".
func isForm(mediaType string, body []byte) bool {
	if mediaType == "application/x-www-form-urlencoded" {
		t := bytes.TrimSpace(body)
		return len(t) > 0 && t[0] != '{' && t[0] != '['
	}
	return bytes.HasPrefix(body, []byte("data="))
}

// checkContentType returns the media type, refusing types that cannot carry a payload.
func checkContentType(ct string) (string, error) {
	if strings.TrimSpace(ct) == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", errorf(UnsupportedMediaType, err, "Content-Type %q cannot be parsed; use application/json", ct)
	}
	switch {
	case mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "text/plain", mt == "application/x-www-form-urlencoded",
		mt == "application/octet-stream", mt == "application/gzip", mt == "application/x-gzip",
		mt == "application/x-lz64", mt == "text/json":
		return mt, nil
	}
	return "", errorf(UnsupportedMediaType, nil,
		"Content-Type %q is not supported; use application/json, text/plain or application/x-www-form-urlencoded", mt)
}

func checkContentEncoding(ce string) error {
	switch strings.ToLower(strings.TrimSpace(ce)) {
	case "", "identity", "gzip":
		return nil
	}
	return errorf(UnsupportedMediaType, nil, "Content-Encoding %q is not supported; use gzip or none", ce)
}
