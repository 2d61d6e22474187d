package images

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/shakedown-dev/shakedown/internal/dockerd"
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

// TestReferenceImageForAnotherArchitecture imports the reference root for arm64, as the
// release workflow does, with a stand-in go command (a real arm64 build takes minutes):
// the image says arm64, runs `shakedown serve` as the unprivileged user, and is not
// imported again while its inputs stay the same.
func TestReferenceImageForAnotherArchitecture(t *testing.T) {
	ctx := context.Background()
	e, err := dockerd.Ensure(ctx, dockerd.Options{Host: os.Getenv("DOCKER_HOST")})
	if err != nil {
		t.Fatalf("a Docker engine is needed (make deps installs Debian's docker.io): %v", err)
	}
	t.Cleanup(func() { _ = e.Release() })
	docker, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer docker.Close()
	fakeGo := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\n[ \"$GOARCH\" = arm64 ] || { echo \"GOARCH=$GOARCH\" >&2; exit 1; }\n" +
		"while [ \"$1\" != -o ]; do shift; done\nprintf 'arm64 binary' > \"$2\"\n"
	if err := os.WriteFile(fakeGo, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tag := "shakedown-test/reference:arm64-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { _, _ = docker.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true}) })
	opts := Options{Docker: docker, Tag: tag, Arch: "arm64", Go: fakeGo, SourceDir: t.TempDir()}
	img, err := Ensure(ctx, Reference, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !img.Built {
		t.Error("a new image was not built")
	}
	res, err := docker.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if res.Architecture != "arm64" || res.Os != "linux" {
		t.Errorf("image platform %s/%s, want linux/arm64", res.Os, res.Architecture)
	}
	if got := strings.Join(res.Config.Entrypoint, " "); got != "/usr/local/bin/shakedown serve" {
		t.Errorf("entrypoint %q", got)
	}
	if res.Config.User != "10001:10001" || res.Config.Labels[KeyLabel] == "" {
		t.Errorf("user %q, key label %q", res.Config.User, res.Config.Labels[KeyLabel])
	}
	again, err := Ensure(ctx, Reference, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Built || again.ID != img.ID {
		t.Errorf("unchanged inputs were imported again (built %v, id %s then %s)", again.Built, img.ID, again.ID)
	}
}
