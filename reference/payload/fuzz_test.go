package payload

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bodies and parameters to the pure decode step.
// Seeds live in testdata/fuzz/FuzzDecode. Invariants: no panic; success means
// valid JSON within the limit; failure is always a *Error with a known Kind.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(event), "", "application/json")
	f.Add([]byte("data=W10="), "", "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, raw []byte, compression, contentType string) {
		const limit = 1 << 16
		out, err := Decode(raw, Encoding{Compression: compression, ContentType: contentType}, limit)
		if err == nil {
			if len(out) > limit {
				t.Fatalf("output of %d bytes passes the limit %d", len(out), limit)
			}
			if !json.Valid(out) {
				t.Fatalf("output is not JSON: %q", out)
			}
			return
		}
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T) is not a *Error", err, err)
		}
		switch pe.Kind {
		case Malformed, TooLarge, UnsupportedMediaType:
		default:
			t.Fatalf("unknown kind %v", pe.Kind)
		}
	})
}
