// Package kubebin builds, once per version, the binaries a local Kubernetes control
// plane needs — kube-apiserver, kube-controller-manager and kube-scheduler from the
// k8s.io/kubernetes module, etcd 3.5 and kwok — and caches them on disk.
//
// The Kubernetes binaries come from the official release tarball
// (Options.ReleaseURL, default DefaultReleaseURL) when it is reachable and its sha512
// matches the published checksum; otherwise, and always with ReleaseURL "off" or
// NoDownload, they are built from source. A tarball whose checksum does not match is
// never used: the mismatch is reported and the source build runs instead. Source builds
// (and etcd, kwok) go through the module proxy configured for `go`; nothing else is
// downloaded from anywhere. A cache entry is a directory that appears in one rename, so a killed
// build never leaves a half-filled entry, and a file lock per entry keeps two
// processes from building the same version at once.
//
// Layout under Options.Dir (default os.UserCacheDir()/shakedown):
//
//	kube/<version>/{kube-apiserver,kube-controller-manager,kube-scheduler}
//	                (plus kubelet, kube-proxy, kubectl when downloaded)
//	etcd/<version>/etcd
//	kwok/<version>/kwok
//	logs/<name>-<version>.log   output of the last build
package kubebin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/shakedown-dev/shakedown/internal/progress"
)

// Default versions of the helper binaries. etcd stays on 3.5 (Debian's 3.4 breaks the
// watch-list clients of Kubernetes 1.34); kwok v0.7.0 pins client libraries (v0.33)
// within the supported skew of every control plane version built here.
const (
	DefaultEtcdVersion = "3.5.35"
	DefaultKwokVersion = "0.7.0"
)

// Options configures a Cache.
type Options struct {
	// Dir is the cache root (default os.UserCacheDir()/shakedown).
	Dir string
	// Go is the go command (default "go" from PATH).
	Go string
	// Parallel is passed to `go build -p` (default 2).
	Parallel int
	// Progress shows build steps; nil is silent.
	Progress *progress.Reporter
	// Log, if set, also receives the go command's output.
	Log io.Writer
	// EtcdVersion and KwokVersion override the defaults.
	EtcdVersion, KwokVersion string
	// ReleaseURL is the base URL of the official Kubernetes release binaries
	// (default DefaultReleaseURL); "off" (ReleaseOff) always builds from source.
	ReleaseURL string
	// NoDownload always builds the Kubernetes binaries from source, like ReleaseURL "off".
	NoDownload bool
	// HTTPClient downloads release binaries (default: a client that gives up
	// connecting after 10 s, so machines without internet fall back quickly).
	HTTPClient *http.Client
}

// Cache finds or builds binaries. It is safe for concurrent use, including from
// several processes.
type Cache struct {
	opts Options
	// buildFromSource builds the control plane of a version into out when the official
	// binaries are not used (default buildKube; replaced in tests).
	buildFromSource func(ctx context.Context, version, out string, log io.Writer) error
}

// Binaries are the paths of everything one local control plane runs.
type Binaries struct {
	// Version is the Kubernetes version, without a leading "v" (e.g. "1.34.4").
	Version           string
	APIServer         string
	ControllerManager string
	Scheduler         string
	Etcd              string
	Kwok              string
}

// New returns a Cache with defaults filled in.
func New(opts Options) (*Cache, error) {
	if opts.Dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("kubebin: no user cache directory (set HOME or XDG_CACHE_HOME, or pass Options.Dir): %w", err)
		}
		opts.Dir = filepath.Join(base, "shakedown")
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 2
	}
	if opts.EtcdVersion == "" {
		opts.EtcdVersion = DefaultEtcdVersion
	}
	if opts.KwokVersion == "" {
		opts.KwokVersion = DefaultKwokVersion
	}
	releaseURL, err := normalizeReleaseURL(opts.ReleaseURL)
	if err != nil {
		return nil, err
	}
	opts.ReleaseURL = releaseURL
	if opts.HTTPClient == nil {
		opts.HTTPClient = defaultHTTPClient()
	}
	c := &Cache{opts: opts}
	c.buildFromSource = c.buildKube
	return c, nil
}

// Dir is the cache root.
func (c *Cache) Dir() string { return c.opts.Dir }

// Ensure returns the binaries for Kubernetes version, building whatever is missing.
func (c *Cache) Ensure(ctx context.Context, version string) (Binaries, error) {
	v, err := NormalizeVersion(version)
	if err != nil {
		return Binaries{}, err
	}
	kube, err := c.Kube(ctx, v)
	if err != nil {
		return Binaries{}, err
	}
	etcd, err := c.Etcd(ctx)
	if err != nil {
		return Binaries{}, err
	}
	kwok, err := c.Kwok(ctx)
	if err != nil {
		return Binaries{}, err
	}
	kube.Etcd, kube.Kwok = etcd, kwok
	return kube, nil
}

// Cached returns the binaries for version if all are already in the cache.
func (c *Cache) Cached(version string) (Binaries, bool) {
	v, err := NormalizeVersion(version)
	if err != nil {
		return Binaries{}, false
	}
	b := c.kubePaths(v)
	b.Etcd = filepath.Join(c.entryDir("etcd", c.opts.EtcdVersion), "etcd")
	b.Kwok = filepath.Join(c.entryDir("kwok", c.opts.KwokVersion), "kwok")
	for _, p := range []string{b.APIServer, b.ControllerManager, b.Scheduler, b.Etcd, b.Kwok} {
		if !isExecutable(p) {
			return Binaries{}, false
		}
	}
	return b, true
}

var versionRE = regexp.MustCompile(`^\d+\.\d+\.\d+$`)

// NormalizeVersion turns "v1.34.4" or "1.34.4" into "1.34.4" and rejects anything that
// is not a full release version.
func NormalizeVersion(v string) (string, error) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if !versionRE.MatchString(v) {
		return "", fmt.Errorf("kubernetes version %q: want a release like 1.34.4", v)
	}
	return v, nil
}

func (c *Cache) entryDir(kind, version string) string {
	return filepath.Join(c.opts.Dir, kind, version)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}
