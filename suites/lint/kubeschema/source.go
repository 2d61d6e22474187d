package kubeschema

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/shakedown-dev/shakedown/internal/gomod"
)

// DefaultGo is the Go command used when [SourceOptions.Go] is empty.
const DefaultGo = "go"

// kubernetesModule is the Go module whose source carries the OpenAPI specs.
const kubernetesModule = "k8s.io/kubernetes"

// ErrNoSpec means a Kubernetes version ships no OpenAPI spec this package can
// read (neither api/openapi-spec/v3 nor api/openapi-spec/swagger.json).
var ErrNoSpec = errors.New("no OpenAPI spec")

// SourceOptions configures a [Source].
type SourceOptions struct {
	// Go is the Go command that downloads k8s.io/kubernetes modules.
	// Empty means DefaultGo ("go") from PATH.
	Go string
	// Dir optionally holds copies of specs, checked before the module: for
	// version 1.34.4, Dir/1.34.4 is either a copy of the module's layout
	// (api/openapi-spec/v3/*.json, api/openapi-spec/swagger.json,
	// pkg/generated/openapi/zz_generated.openapi.go) or a flat directory
	// holding those files. Empty means only the module is used.
	Dir string
	// Log receives the stderr of `go mod download`. Nil discards it.
	Log io.Writer
}

// Source finds and loads the specs of Kubernetes versions. It remembers the
// specs it loaded until [Source.Release]. Safe for concurrent use.
type Source struct {
	opts SourceOptions

	mu    sync.Mutex
	specs map[string]*specEntry // by version, e.g. "1.34.4"
	dirs  map[string]string     // module directory by version, kept after Release
}

// specEntry is a spec being loaded or loaded; ready is closed when done.
type specEntry struct {
	ready chan struct{}
	spec  *Spec
	err   error
}

// NewSource returns a Source with opts; see [SourceOptions] for defaults.
func NewSource(opts SourceOptions) *Source {
	if opts.Go == "" {
		opts.Go = DefaultGo
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	return &Source{opts: opts, specs: map[string]*specEntry{}, dirs: map[string]string{}}
}

// Spec returns the spec of one Kubernetes version, e.g. "1.34.4" (a leading
// "v" is accepted). The first call for a version finds its files, downloading
// the k8s.io/kubernetes module if needed; schemas are parsed later, when
// objects are validated. The error wraps [ErrNoSpec] when the version ships
// no readable spec. When ctx ends first, Spec returns its error but the
// download goes on, so that concurrent and later callers can use it.
func (s *Source) Spec(ctx context.Context, version string) (*Spec, error) {
	version = strings.TrimPrefix(version, "v")
	if !isVersion(version) {
		return nil, fmt.Errorf("kubeschema: Kubernetes version %q: want MAJOR.MINOR.PATCH such as 1.34.4", version)
	}
	s.mu.Lock()
	e, ok := s.specs[version]
	if !ok {
		e = &specEntry{ready: make(chan struct{})}
		s.specs[version] = e
		go s.load(context.WithoutCancel(ctx), version, e)
	}
	s.mu.Unlock()
	select {
	case <-e.ready:
		return e.spec, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("kubeschema: spec of Kubernetes %s: %w", version, ctx.Err())
	}
}

// isVersion reports whether v is MAJOR.MINOR.PATCH, all numbers.
func isVersion(v string) bool {
	parts := strings.Split(v, ".")
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			return false
		}
	}
	return len(parts) == 3
}

// Release forgets the spec of version, so that it can be garbage collected
// once its callers drop it. A later [Source.Spec] loads it again (without a
// new download).
func (s *Source) Release(version string) {
	version = strings.TrimPrefix(version, "v")
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.specs[version]; ok {
		select {
		case <-e.ready:
			delete(s.specs, version)
		default: // still loading: its waiters need it
		}
	}
}

// load finds the files of version and completes e. A failed load is
// forgotten so that a later call retries.
func (s *Source) load(ctx context.Context, version string, e *specEntry) {
	defer close(e.ready)
	files, err := s.findFiles(ctx, version)
	if err == nil {
		e.spec = newSpec(version, files)
	}
	e.err = err
	if err != nil {
		s.mu.Lock()
		delete(s.specs, version)
		s.mu.Unlock()
	}
}

// findFiles locates the spec files of version: first in opts.Dir, then in
// the k8s.io/kubernetes module.
func (s *Source) findFiles(ctx context.Context, version string) (specFiles, error) {
	if s.opts.Dir != "" {
		root := filepath.Join(s.opts.Dir, version)
		if _, err := os.Stat(root); err == nil {
			files, err := filesIn(root)
			if err != nil {
				return files, fmt.Errorf("kubeschema: Kubernetes %s: %s: %w (copy api/openapi-spec/v3 of k8s.io/kubernetes@v%s there, or remove the directory to use the module)", version, root, err, version)
			}
			return files, nil
		}
	}
	dir, err := s.moduleDir(ctx, version)
	if err != nil {
		return specFiles{}, err
	}
	files, err := filesIn(dir)
	if err != nil {
		return files, fmt.Errorf("kubeschema: Kubernetes %s: module %s@v%s: %w (the caller can fall back to another check for this version)", version, kubernetesModule, version, err)
	}
	return files, nil
}

// moduleDir returns the directory of k8s.io/kubernetes@v<version> in the
// module cache, downloading it if needed.
func (s *Source) moduleDir(ctx context.Context, version string) (string, error) {
	s.mu.Lock()
	dir, ok := s.dirs[version]
	s.mu.Unlock()
	if ok {
		return dir, nil
	}
	m, err := gomod.Download(ctx, s.opts.Go, os.TempDir(), kubernetesModule, "v"+version, s.opts.Log)
	var notRun *exec.Error
	if errors.As(err, &notRun) || errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("kubeschema: Kubernetes %s: %w; set SourceOptions.Go to the go command", version, err)
	}
	if err != nil {
		return "", fmt.Errorf("kubeschema: Kubernetes %s: %w", version, err)
	}
	s.mu.Lock()
	s.dirs[version] = m.Dir
	s.mu.Unlock()
	return m.Dir, nil
}
