package kubebin

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// DefaultReleaseURL is where the Kubernetes project publishes its release artifacts:
// <DefaultReleaseURL>/v<version>/kubernetes-server-linux-<arch>.tar.gz next to a .sha512
// file holding the tarball's digest.
const DefaultReleaseURL = "https://dl.k8s.io/release"

// ReleaseOff as Options.ReleaseURL turns downloading off: binaries are always built
// from source.
const ReleaseOff = "off"

// releaseFix is the remedy named in messages about a failed or refused download.
const releaseFix = "pass --release-url off (Options.NoDownload) to always build from source, " +
	"or --release-url with a mirror laid out like " + DefaultReleaseURL

const (
	releaseConnectTimeout = 10 * time.Second
	releaseHeaderTimeout  = 30 * time.Second
	// releaseIdleTimeout aborts a download that stalls (no bytes at all) this long.
	releaseIdleTimeout = 60 * time.Second
	maxChecksumSize    = 4 << 10
	maxTarballSize     = 4 << 30
	maxBinarySize      = 1 << 30
)

// releaseBinaries are the server binaries taken from the official tarball: the control
// plane (kubeCommands, which alone make an entry complete) and the node binaries.
func releaseBinaries() []string {
	return append(kubeCommands(), "kubelet", "kube-proxy", "kubectl")
}

// defaultHTTPClient gives up connecting after releaseConnectTimeout, so a machine
// without internet access falls back to the source build quickly. There is no overall
// timeout: the tarball is large; stalls are caught by releaseIdleTimeout.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: releaseConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = releaseConnectTimeout
	t.ResponseHeaderTimeout = releaseHeaderTimeout
	return &http.Client{Transport: t}
}

// normalizeReleaseURL validates Options.ReleaseURL: "" means DefaultReleaseURL, "off"
// stays "off", anything else must be an http(s) URL.
func normalizeReleaseURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return DefaultReleaseURL, nil
	case strings.EqualFold(s, ReleaseOff):
		return ReleaseOff, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("kubebin: release URL %q: want an http(s) base URL like %s, or %q to always build from source", s, DefaultReleaseURL, ReleaseOff)
	}
	return strings.TrimRight(s, "/"), nil
}

// checksumError is a download whose digest differs from the published one.
type checksumError struct {
	URL, Want, Got string
}

func (e *checksumError) Error() string {
	return fmt.Sprintf("checksum mismatch for %s: %s.sha512 says sha512 %s, the download has %s; "+
		"the download is corrupt or was tampered with and is not used (%s)", e.URL, e.URL, e.Want, e.Got, releaseFix)
}

// buildKubeEntry fills out with the Kubernetes server binaries: the official release
// binaries when downloadable and matching their published checksum, otherwise built
// from source. The build log records which.
func (c *Cache) buildKubeEntry(ctx context.Context, v, out string, log io.Writer) error {
	if c.opts.NoDownload || c.opts.ReleaseURL == ReleaseOff {
		fmt.Fprintf(log, "# source: building k8s.io/kubernetes v%s from source (downloading official binaries is off)\n", v)
		return c.buildFromSource(ctx, v, out, log)
	}
	tarURL, dlErr := c.downloadKube(ctx, v, out, log)
	if dlErr == nil {
		fmt.Fprintf(log, "# source: official release binaries from %s (sha512 verified)\n", tarURL)
		return nil
	}
	if ctx.Err() != nil { // interrupted: do not start an 8-14 minute build
		return dlErr
	}
	// Nothing of a failed download may end up in the entry.
	if err := clearDir(out); err != nil {
		return fmt.Errorf("%w; clearing %s before building from source: %v", dlErr, out, err)
	}
	var sumErr *checksumError
	if errors.As(dlErr, &sumErr) {
		fmt.Fprintf(log, "# CHECKSUM MISMATCH, official binaries refused: %v\n", dlErr)
		c.note(fmt.Sprintf("checksum mismatch: %s has sha512 %s, expected %s; refusing it and building from source",
			sumErr.URL, short(sumErr.Got), short(sumErr.Want)), false)
	} else {
		fmt.Fprintf(log, "# official binaries not used: %v (%s)\n", dlErr, releaseFix)
		c.note(fmt.Sprintf("official binaries unavailable (%v); building from source", dlErr), true)
	}
	fmt.Fprintf(log, "# source: building k8s.io/kubernetes v%s from source\n", v)
	if err := c.buildFromSource(ctx, v, out, log); err != nil {
		return fmt.Errorf("official binaries not used (%v), and building from source failed: %w", dlErr, err)
	}
	return nil
}

// downloadKube downloads the official server tarball of v and its checksum, verifies
// the digest and only then unpacks the server binaries into out. It returns the
// tarball's URL.
func (c *Cache) downloadKube(ctx context.Context, v, out string, log io.Writer) (string, error) {
	if runtime.GOOS != "linux" {
		return "", fmt.Errorf("official server binaries exist for linux only, not %s", runtime.GOOS)
	}
	tarURL := fmt.Sprintf("%s/v%s/kubernetes-server-linux-%s.tar.gz", c.opts.ReleaseURL, v, runtime.GOARCH)
	c.step(fmt.Sprintf("downloading official kubernetes v%s server binaries (%s)", v, tarURL))
	fail := func(err error) (string, error) {
		c.fail()
		return "", err
	}

	fmt.Fprintf(log, "$ GET %s.sha512\n", tarURL)
	want, err := c.fetchChecksum(ctx, tarURL+".sha512")
	if err != nil {
		return fail(err)
	}
	work, err := os.MkdirTemp(out, ".download-")
	if err != nil {
		return fail(fmt.Errorf("create download directory in %s: %w", out, err))
	}
	defer os.RemoveAll(work)
	tarball := filepath.Join(work, path.Base(tarURL))
	fmt.Fprintf(log, "$ GET %s\n", tarURL)
	got, n, err := c.fetchHashed(ctx, tarURL, tarball)
	if err != nil {
		return fail(err)
	}
	if got != want {
		return fail(&checksumError{URL: tarURL, Want: want, Got: got})
	}
	fmt.Fprintf(log, "# %d bytes, sha512 %s matches %s.sha512\n", n, got, tarURL)
	found, err := extractServerBinaries(tarball, out, releaseBinaries())
	if err != nil {
		return fail(fmt.Errorf("unpack %s: %w", tarURL, err))
	}
	fmt.Fprintf(log, "# unpacked %s\n", strings.Join(found, ", "))
	var missing []string
	for _, name := range kubeCommands() {
		if !isExecutable(filepath.Join(out, name)) {
			missing = append(missing, "kubernetes/server/bin/"+name)
		}
	}
	if len(missing) > 0 {
		return fail(fmt.Errorf("%s lacks %s", tarURL, strings.Join(missing, ", ")))
	}
	c.done()
	return tarURL, nil
}

// get starts a GET of u that is aborted when ctx ends or no body bytes arrive for
// releaseIdleTimeout. The caller closes the body and then calls stop.
func (c *Cache) get(ctx context.Context, u string) (body io.ReadCloser, stop func(), err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	idle := time.AfterFunc(releaseIdleTimeout, func() {
		cancel(fmt.Errorf("no data from %s for %s", u, releaseIdleTimeout))
	})
	stop = func() { idle.Stop(); cancel(nil) }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		stop()
		return nil, nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return &idleReader{r: resp.Body, timer: idle, ctx: ctx}, stop, nil
}

// idleReader restarts the idle timer on every read and reports why the request was
// canceled, not just that it was.
type idleReader struct {
	r     io.ReadCloser
	timer *time.Timer
	ctx   context.Context
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.timer.Reset(releaseIdleTimeout)
	}
	if err != nil && err != io.EOF {
		if cause := context.Cause(r.ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
	}
	return n, err
}

func (r *idleReader) Close() error { return r.r.Close() }

// fetchChecksum returns the lower-case hex sha512 digest published at u, whose body is
// either the bare digest or "<digest>  <file name>".
func (c *Cache) fetchChecksum(ctx context.Context, u string) (string, error) {
	body, stop, err := c.get(ctx, u)
	if err != nil {
		return "", err
	}
	defer stop()
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, maxChecksumSize+1))
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", u, err)
	}
	if len(data) > maxChecksumSize {
		return "", fmt.Errorf("%s: more than %d bytes, not a checksum file", u, maxChecksumSize)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "", fmt.Errorf("%s: empty checksum file", u)
	}
	sum := strings.ToLower(fields[0])
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha512.Size {
		return "", fmt.Errorf("%s: %q is not a hex sha512 digest", u, short(fields[0]))
	}
	return sum, nil
}

// fetchHashed streams u into file dst, returning its hex sha512 digest and size.
func (c *Cache) fetchHashed(ctx context.Context, u, dst string) (string, int64, error) {
	body, stop, err := c.get(ctx, u)
	if err != nil {
		return "", 0, err
	}
	defer stop()
	defer body.Close()
	f, err := os.Create(dst)
	if err != nil {
		return "", 0, fmt.Errorf("download %s: %w", u, err)
	}
	h := sha512.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(body, maxTarballSize+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", n, fmt.Errorf("download %s into %s: %w", u, dst, err)
	}
	if n > maxTarballSize {
		return "", n, fmt.Errorf("download %s: larger than %d bytes", u, int64(maxTarballSize))
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// extractServerBinaries writes the members kubernetes/server/bin/<name> of the gzipped
// tarball, for each of names, into out/<name> with mode 0755 and returns the names
// found. Member names are matched exactly and the output path is built from names
// alone, so no member can write anywhere else; links under a wanted name are refused.
func extractServerBinaries(tarball, out string, names []string) ([]string, error) {
	want := make(map[string]string, len(names))
	for _, name := range names {
		want["kubernetes/server/bin/"+name] = name
	}
	f, err := os.Open(tarball)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var found []string
	seen := map[string]bool{}
	for len(seen) < len(want) {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, tar.ErrInsecurePath) {
			continue // "../x" or "/x": never a wanted name; skip its data
		}
		if err != nil {
			return found, err
		}
		name, ok := want[strings.TrimPrefix(hdr.Name, "./")]
		if !ok {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return found, fmt.Errorf("member %s is not a regular file (type %q)", hdr.Name, hdr.Typeflag)
		}
		if hdr.Size > maxBinarySize {
			return found, fmt.Errorf("member %s: %d bytes is implausibly large", hdr.Name, hdr.Size)
		}
		if err := writeExecutable(filepath.Join(out, name), tr, hdr.Size); err != nil {
			return found, fmt.Errorf("member %s: %w", hdr.Name, err)
		}
		if !seen[name] {
			seen[name] = true
			found = append(found, name)
		}
	}
	return found, nil
}

func writeExecutable(dst string, r io.Reader, size int64) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	_, err = io.CopyN(f, r, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Chmod(dst, 0o755) // the umask may have narrowed OpenFile's mode
}

// clearDir removes everything inside dir, keeping dir itself.
func clearDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// note shows a one-off message as a finished progress step.
func (c *Cache) note(msg string, ok bool) {
	if c.opts.Progress == nil {
		return
	}
	if ok {
		c.opts.Progress.Note(msg)
		return
	}
	c.opts.Progress.Step(msg) // a refused checksum shows as a failed step
	c.opts.Progress.Fail()
}

// short abbreviates a hex digest for one-line messages.
func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}
