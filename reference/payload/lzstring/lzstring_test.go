package lzstring

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// vector is one pair produced by the JavaScript lz-string 1.5.0 (testdata/vectors.json).
type vector struct {
	Plain string `json:"plain"`
	LZ64  string `json:"lz64"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}

func TestMatchesJavaScript(t *testing.T) {
	for i, v := range loadVectors(t) {
		got, err := DecompressFromBase64(v.LZ64, 0)
		if err != nil {
			t.Fatalf("vector %d: decompress: %v", i, err)
		}
		if got != v.Plain {
			t.Errorf("vector %d: decompress = %.60q, want %.60q", i, got, v.Plain)
		}
		if enc := CompressToBase64(v.Plain); enc != v.LZ64 {
			t.Errorf("vector %d: compress = %.60q, want %.60q", i, enc, v.LZ64)
		}
	}
}

func TestSpaceMeansPlus(t *testing.T) {
	for _, v := range loadVectors(t) {
		if !strings.Contains(v.LZ64, "+") {
			continue
		}
		got, err := DecompressFromBase64(strings.ReplaceAll(v.LZ64, "+", " "), 0)
		if err != nil || got != v.Plain {
			t.Fatalf("with spaces for '+': got %.40q, %v", got, err)
		}
		return
	}
	t.Skip("no vector contains '+'")
}

func TestLimit(t *testing.T) {
	plain := strings.Repeat("abcdefgh", 10_000)
	enc := CompressToBase64(plain)
	if _, err := DecompressFromBase64(enc, int64(len(plain))); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := DecompressFromBase64(enc, int64(len(plain)-1))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("one byte over the limit: err = %v, want ErrTooLarge", err)
	}
	// Multi-byte UTF-8: the byte limit applies after conversion.
	wide := strings.Repeat("é", 100) // 200 bytes, 100 units
	if _, err := DecompressFromBase64(CompressToBase64(wide), 150); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("utf-8 expansion: err = %v, want ErrTooLarge", err)
	}
}

func TestCorrupt(t *testing.T) {
	for _, in := range []string{"", "!!!!", "A", "AAAA", "////////", "gA"} {
		if _, err := DecompressFromBase64(in, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecompressFromBase64(%q) err = %v, want ErrCorrupt", in, err)
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"a", "hello hello hello", "日本語", "🎉x🎉", `{"a":[1,2,3]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isUTF8Clean(s) {
			return
		}
		enc := CompressToBase64(s)
		if s == "" {
			return
		}
		got, err := DecompressFromBase64(enc, 0)
		if err != nil {
			t.Fatalf("decompress(compress(%q)): %v", s, err)
		}
		if got != s {
			t.Fatalf("round trip: got %q want %q", got, s)
		}
	})
}

func FuzzDecompress(f *testing.F) {
	f.Add("BIUwNmD2A0AEDqkBOYAmBCIA")
	f.Add("JIAgFghgbgpiDOB7AtneAXATgSwHYHMR1EQAjOAYxQAdMZ54YATIAA==")
	f.Add("gA")
	f.Fuzz(func(t *testing.T, s string) {
		const limit = 1 << 16
		out, err := DecompressFromBase64(s, limit)
		if err == nil && len(out) > limit {
			t.Fatalf("output %d bytes exceeds limit %d", len(out), limit)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

// isUTF8Clean reports whether s survives a UTF-8 -> UTF-16 -> UTF-8 trip unchanged.
func isUTF8Clean(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
