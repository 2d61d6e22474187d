package kubebin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shakedown-dev/shakedown/internal/progress"
)

const testKubeVersion = "1.34.4"

// serverBinaries are the binaries of the official tarball that Kube keeps.
var serverBinaries = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"}

type tarMember struct {
	name     string
	body     string
	typeflag byte // 0 means a regular file
	linkname string
}

func makeTarball(t *testing.T, members []tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		hdr := &tar.Header{Name: m.name, Mode: 0o755, Size: int64(len(m.body)), Typeflag: tar.TypeReg}
		if m.typeflag != 0 {
			hdr.Typeflag, hdr.Linkname, hdr.Size = m.typeflag, m.linkname, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := io.WriteString(tw, m.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func fakeBinary(name, origin string) string {
	return fmt.Sprintf("#!/bin/sh\necho v%s %s %s\n", testKubeVersion, name, origin)
}

// officialMembers is a small stand-in for kubernetes-server-linux-<arch>.tar.gz.
func officialMembers(origin string) []tarMember {
	ms := []tarMember{{name: "kubernetes/", typeflag: tar.TypeDir}, {name: "kubernetes/server/bin/kube-apiserver.docker_tag", body: "v1.34.4\n"}}
	for _, name := range serverBinaries {
		ms = append(ms, tarMember{name: "kubernetes/server/bin/" + name, body: fakeBinary(name, origin)})
	}
	return ms
}

func sha512Hex(b []byte) string {
	s := sha512.Sum512(b)
	return hex.EncodeToString(s[:])
}

// releaseServer serves tarball and checksum at the official layout on 127.0.0.1 and
// 404 for everything else.
type releaseServer struct {
	*httptest.Server
	hits atomic.Int32
}

func serveRelease(t *testing.T, tarball []byte, checksum string) *releaseServer {
	t.Helper()
	s := &releaseServer{}
	base := fmt.Sprintf("/v%s/kubernetes-server-linux-%s.tar.gz", testKubeVersion, runtime.GOARCH)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		switch r.URL.Path {
		case base:
			if tarball != nil {
				w.Write(tarball)
				return
			}
		case base + ".sha512":
			if checksum != "" {
				io.WriteString(w, checksum)
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// testCache is a Cache whose source build is a fake that counts its calls.
type testCache struct {
	*Cache
	log, progress bytes.Buffer
	sourceBuilds  atomic.Int32
}

func newTestCache(t *testing.T, releaseURL string, sourceErr error) *testCache {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("official server binaries exist for linux only")
	}
	tc := &testCache{}
	c, err := New(Options{Dir: filepath.Join(t.TempDir(), "cache"), ReleaseURL: releaseURL, Log: &tc.log, Progress: progress.New(&tc.progress)})
	if err != nil {
		t.Fatal(err)
	}
	c.buildFromSource = func(_ context.Context, v, out string, log io.Writer) error {
		tc.sourceBuilds.Add(1)
		fmt.Fprintln(log, "fake source build of", v)
		if sourceErr != nil {
			return sourceErr
		}
		for _, name := range kubeCommands() {
			if err := os.WriteFile(filepath.Join(out, name), []byte(fakeBinary(name, "from-source")), 0o755); err != nil {
				return err
			}
		}
		return nil
	}
	tc.Cache = c
	return tc
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// assertFromSource checks that the entry holds exactly the fake source build.
func (tc *testCache) assertFromSource(t *testing.T) {
	t.Helper()
	if n := tc.sourceBuilds.Load(); n != 1 {
		t.Fatalf("source builds: %d, want 1", n)
	}
	dir := tc.entryDir("kube", testKubeVersion)
	for _, name := range kubeCommands() {
		if got, want := readFile(t, filepath.Join(dir, name)), fakeBinary(name, "from-source"); got != want {
			t.Errorf("%s = %q, want the source build %q", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "kubelet")); !os.IsNotExist(err) {
		t.Errorf("kubelet from the refused/failed download is in the entry: %v", err)
	}
}

func TestKubeUsesVerifiedReleaseBinaries(t *testing.T) {
	tarball := makeTarball(t, officialMembers("official"))
	sum := sha512Hex(tarball)
	for form, checksum := range map[string]string{
		"bare digest":            sum,
		"digest and file name":   fmt.Sprintf("%s  kubernetes-server-linux-%s.tar.gz\n", strings.ToUpper(sum), runtime.GOARCH),
		"digest with whitespace": " " + sum + "\r\n",
	} {
		t.Run(form, func(t *testing.T) {
			srv := serveRelease(t, tarball, checksum)
			tc := newTestCache(t, srv.URL+"/", nil)
			bins, err := tc.Kube(context.Background(), "v"+testKubeVersion)
			if err != nil {
				t.Fatal(err)
			}
			if n := tc.sourceBuilds.Load(); n != 0 {
				t.Fatalf("built from source %d times although the official binaries verified", n)
			}
			dir := filepath.Dir(bins.APIServer)
			for _, name := range serverBinaries {
				p := filepath.Join(dir, name)
				if !isExecutable(p) {
					t.Errorf("%s is not an executable file", p)
					continue
				}
				if got, want := readFile(t, p), fakeBinary(name, "official"); got != want {
					t.Errorf("%s = %q, want the served %q", name, got, want)
				}
			}
			out, err := exec.Command(bins.APIServer).Output()
			if err != nil || string(out) != "v1.34.4 kube-apiserver official\n" {
				t.Errorf("running %s: %q, %v", bins.APIServer, out, err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(serverBinaries) {
				t.Errorf("entry holds %d files, want only the %d binaries: %v", len(entries), len(serverBinaries), entries)
			}
			if !strings.Contains(tc.log.String(), "# source: official release binaries from "+srv.URL) {
				t.Errorf("log does not record the source:\n%s", tc.log.String())
			}
			if _, ok := tc.Cached(testKubeVersion); ok {
				t.Error("Cached reports etcd and kwok that were never built")
			}
			// A second call is served from the cache without any request.
			hits := srv.hits.Load()
			if _, err := tc.Kube(context.Background(), testKubeVersion); err != nil || srv.hits.Load() != hits {
				t.Errorf("second Kube: %v, %d requests, want none", err, srv.hits.Load()-hits)
			}
		})
	}
}

func TestKubeRefusesTamperedTarball(t *testing.T) {
	good := makeTarball(t, officialMembers("official"))
	sum := sha512Hex(good)
	tampered := makeTarball(t, officialMembers("EVIL")) // a valid tarball, just not the published one
	if sha512Hex(tampered) == sum {
		t.Fatal("test tarballs must differ")
	}

	t.Run("nothing unpacked", func(t *testing.T) {
		srv := serveRelease(t, tampered, sum)
		tc := newTestCache(t, srv.URL, nil)
		out := t.TempDir()
		_, err := tc.downloadKube(context.Background(), testKubeVersion, out, io.Discard)
		var ce *checksumError
		if !errors.As(err, &ce) || ce.Want != sum || ce.Got != sha512Hex(tampered) {
			t.Fatalf("want a checksum error naming both digests, got %v", err)
		}
		if entries, _ := os.ReadDir(out); len(entries) != 0 {
			t.Fatalf("a tarball failing its checksum left %v in the build directory", entries)
		}
	})

	t.Run("falls back to source", func(t *testing.T) {
		srv := serveRelease(t, tampered, sum)
		tc := newTestCache(t, srv.URL, nil)
		if _, err := tc.Kube(context.Background(), testKubeVersion); err != nil {
			t.Fatal(err)
		}
		tc.assertFromSource(t)
		log := tc.log.String()
		for _, want := range []string{"CHECKSUM MISMATCH", sum, sha512Hex(tampered), srv.URL, "# source: building k8s.io/kubernetes v1.34.4 from source"} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if !strings.Contains(tc.progress.String(), "checksum mismatch") {
			t.Errorf("progress does not say the checksum did not match:\n%s", tc.progress.String())
		}
	})

	t.Run("fallback fails", func(t *testing.T) {
		srv := serveRelease(t, tampered, sum)
		tc := newTestCache(t, srv.URL, errors.New("compiler exploded"))
		_, err := tc.Kube(context.Background(), testKubeVersion)
		if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), "compiler exploded") {
			t.Fatalf("want an error naming the checksum mismatch and the build failure, got %v", err)
		}
		if _, err := os.Stat(tc.entryDir("kube", testKubeVersion)); !os.IsNotExist(err) {
			t.Fatalf("an entry exists after the download was refused and the build failed: %v", err)
		}
		filepath.WalkDir(tc.Dir(), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), "kube") && !strings.HasSuffix(p, ".log") {
				t.Errorf("left behind: %s", p)
			}
			return nil
		})
	})
}

func TestKubeFallsBackWhenReleaseUnavailable(t *testing.T) {
	tarball := makeTarball(t, officialMembers("official"))
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for name, tc := range map[string]struct {
		url     func(t *testing.T) string
		logHint string
	}{
		"404":                 {func(t *testing.T) string { return serveRelease(t, nil, "").URL }, "404"},
		"tarball 404":         {func(t *testing.T) string { return serveRelease(t, nil, sha512Hex(tarball)).URL }, "404"},
		"unreachable":         {func(*testing.T) string { return closedURL }, "connection refused"},
		"checksum not a hash": {func(t *testing.T) string { return serveRelease(t, tarball, "<html>").URL }, "not a hex sha512"},
		"not a tarball":       {func(t *testing.T) string { return serveRelease(t, []byte("nope"), sha512Hex([]byte("nope"))).URL }, "unpack"},
		"lacks kube-scheduler": {func(t *testing.T) string {
			var ms []tarMember // everything but kube-scheduler: what was unpacked must not stay
			for _, m := range officialMembers("official") {
				if !strings.HasSuffix(m.name, "/kube-scheduler") {
					ms = append(ms, m)
				}
			}
			b := makeTarball(t, ms)
			return serveRelease(t, b, sha512Hex(b)).URL
		}, "lacks kubernetes/server/bin/kube-scheduler"},
	} {
		t.Run(name, func(t *testing.T) {
			c := newTestCache(t, tc.url(t), nil)
			if _, err := c.Kube(context.Background(), testKubeVersion); err != nil {
				t.Fatal(err)
			}
			c.assertFromSource(t)
			if log := c.log.String(); !strings.Contains(log, "official binaries not used") || !strings.Contains(log, tc.logHint) {
				t.Errorf("log does not give the reason %q:\n%s", tc.logHint, log)
			}
		})
	}
}

func TestKubeReleaseOffNeverDownloads(t *testing.T) {
	tarball := makeTarball(t, officialMembers("official"))
	srv := serveRelease(t, tarball, sha512Hex(tarball))
	for name, noDownload := range map[string]bool{"off": false, "NoDownload": true} {
		t.Run(name, func(t *testing.T) {
			url := "OFF"
			if noDownload {
				url = srv.URL
			}
			tc := newTestCache(t, url, nil)
			tc.opts.NoDownload = noDownload
			if _, err := tc.Kube(context.Background(), testKubeVersion); err != nil {
				t.Fatal(err)
			}
			tc.assertFromSource(t)
			if n := srv.hits.Load(); n != 0 {
				t.Fatalf("%d requests with downloading off", n)
			}
		})
	}
}

func TestNewRejectsBadReleaseURL(t *testing.T) {
	for _, bad := range []string{"ftp://example.invalid/release", "dl.k8s.io/release", "https://"} {
		if _, err := New(Options{Dir: t.TempDir(), ReleaseURL: bad}); err == nil {
			t.Errorf("ReleaseURL %q accepted", bad)
		}
	}
	c, err := New(Options{Dir: t.TempDir()})
	if err != nil || c.opts.ReleaseURL != DefaultReleaseURL || c.opts.HTTPClient == nil {
		t.Fatalf("defaults: %+v, %v", c.opts, err)
	}
}

func TestExtractIgnoresPathTraversal(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "a", "b", "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(root, "abs-evil")
	members := append([]tarMember{
		{name: "../evil", body: "evil"},
		{name: "../../evil", body: "evil"},
		{name: "kubernetes/server/bin/../../../../evil", body: "evil"},
		{name: "kubernetes/server/bin/../../../../a/b/out/kube-apiserver", body: "evil"},
		{name: abs, body: "evil"},
		{name: "kubernetes/server/bin/evil", body: "evil"},
	}, officialMembers("official")...)
	tarball := makeTarball(t, members)
	tarPath := filepath.Join(root, "server.tar.gz")
	if err := os.WriteFile(tarPath, tarball, 0o644); err != nil {
		t.Fatal(err)
	}

	found, err := extractServerBinaries(tarPath, out, releaseBinaries())
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(releaseBinaries()) {
		t.Errorf("found %v, want %v", found, releaseBinaries())
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == tarPath {
			return err
		}
		if filepath.Dir(p) != out {
			t.Errorf("written outside the output directory: %s", p)
		} else if got := readFile(t, p); got != fakeBinary(d.Name(), "official") {
			t.Errorf("%s = %q, want the regular member", p, got)
		}
		return nil
	})

	// The same tarball through Kube: the entry is complete and nothing escaped.
	srv := serveRelease(t, tarball, sha512Hex(tarball))
	tc := newTestCache(t, srv.URL, nil)
	bins, err := tc.Kube(context.Background(), testKubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	if tc.sourceBuilds.Load() != 0 || readFile(t, bins.APIServer) != fakeBinary("kube-apiserver", "official") {
		t.Error("the traversal members spoiled the download")
	}
	filepath.WalkDir(filepath.Dir(tc.Dir()), func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), "evil") {
			t.Errorf("traversal member written: %s", p)
		}
		return nil
	})
}

func TestExtractRefusesLinks(t *testing.T) {
	root := t.TempDir()
	target := filepath.Join(root, "target")
	members := []tarMember{
		{name: "kubernetes/server/bin/kube-apiserver", typeflag: tar.TypeSymlink, linkname: target},
		{name: "kubernetes/server/bin/kube-apiserver", body: "overwrite through the link"},
	}
	tarPath := filepath.Join(root, "server.tar.gz")
	if err := os.WriteFile(tarPath, makeTarball(t, members), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := extractServerBinaries(tarPath, out, releaseBinaries()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("want a symlink member refused, got %v", err)
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatalf("link target written: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(out, "kube-apiserver")); !os.IsNotExist(err) {
		t.Fatalf("link created: %v", err)
	}
}
