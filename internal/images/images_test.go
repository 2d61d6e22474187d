package images

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestMirrorInReadsBothAptFormats(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ text, want string }{
		"one-line": {"# comment\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main\n", "http://mirror.example/debian"},
		"deb822":   {"Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: https://mirror.example/debian\nSuites: bookworm\n", "https://mirror.example/debian"},
		"none":     {"# nothing here\n", ""},
	}
	for name, c := range cases {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := mirrorIn(path); got != c.want {
			t.Errorf("%s: mirror %q, want %q", name, got, c.want)
		}
	}
}

func TestReferenceRootHoldsTheBinaryAndARuntimeUser(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "shakedown")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeReferenceRoot(&buf, bin, []byte("CA")); err != nil {
		t.Fatal(err)
	}
	got := map[string]*tar.Header{}
	contents := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
		b, _ := io.ReadAll(tr)
		contents[h.Name] = string(b)
	}
	if h := got["usr/local/bin/shakedown"]; h == nil || h.Mode != 0o755 || contents[h.Name] != "binary" {
		t.Errorf("binary entry %+v, content %q", h, contents["usr/local/bin/shakedown"])
	}
	if h := got["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("/tmp entry %+v, want mode 1777", h)
	}
	if h := got["var/lib/shakedown/"]; h == nil || h.Uid != ReferenceUID {
		t.Errorf("data dir %+v, want owned by %d", h, ReferenceUID)
	}
	if !bytes.Contains([]byte(contents["etc/passwd"]), []byte(":10001:10001:")) {
		t.Errorf("passwd lacks the runtime user: %q", contents["etc/passwd"])
	}
	if contents["etc/ssl/certs/ca-certificates.crt"] != "CA" {
		t.Error("the CA bundle is missing")
	}
}

func TestKeyChangesWithEveryInput(t *testing.T) {
	base := keyOf("1", "reference", "amd64", "h")
	for _, other := range []string{keyOf("2", "reference", "amd64", "h"), keyOf("1", "reference", "arm64", "h"), keyOf("1", "referenceamd64", "", "h")} {
		if other == base {
			t.Errorf("different inputs gave the same key %s", base)
		}
	}
}
