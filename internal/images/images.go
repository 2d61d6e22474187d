// Package images builds the container images the reference stack runs, from this
// repository and Debian's packages, with no registry: the reference image (the static
// shakedown binary on an otherwise empty root) and Debian-based ClickHouse and PostgreSQL
// images (a `debootstrap --variant=minbase` root with the packages installed in a
// chroot). Each is imported into the local Docker engine with `docker import` semantics
// and tagged; a label holds a key of what went in, so an unchanged image is not built
// again.
//
// Users with a registry keep the official images the chart names; these serve machines
// that cannot pull any.
package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/moby/moby/client"

	"github.com/shakedown-dev/shakedown/internal/flock"
)

// Names of the images Ensure builds.
const (
	Reference  = "reference"
	ClickHouse = "clickhouse"
	Postgres   = "postgres"
	// Pause is the sandbox image of real nodes (see internal/images/pause).
	Pause = "pause"
)

// Names lists every image Ensure can build, in build order.
var Names = []string{Reference, ClickHouse, Postgres, Pause}

// KeyLabel is the image label holding the key of what went into the image.
const KeyLabel = "dev.shakedown.image.key"

// recipeVersion changes whenever the way images are built changes, so older images
// are rebuilt.
const recipeVersion = "1"

// Default local tags.
const (
	DefaultReferenceTag  = "shakedown/reference:local"
	DefaultClickHouseTag = "shakedown/clickhouse-server:bookworm"
	DefaultPostgresTag   = "shakedown/postgres:15-bookworm"
	DefaultPauseTag      = "shakedown/pause:local"
)

// DefaultTag returns the local tag of image name.
func DefaultTag(name string) string {
	switch name {
	case Reference:
		return DefaultReferenceTag
	case ClickHouse:
		return DefaultClickHouseTag
	case Postgres:
		return DefaultPostgresTag
	case Pause:
		return DefaultPauseTag
	}
	return ""
}

// Options configures Ensure.
type Options struct {
	// Docker is the engine's client (required).
	Docker *client.Client
	// Tag overrides the image's DefaultTag.
	Tag string
	// Arch is the GOARCH of the reference image (default runtime.GOARCH). The Debian
	// images are built for this machine's architecture only.
	Arch string
	// SourceDir is the root of the shakedown module the reference binary is built from
	// (default: found upward from the working directory).
	SourceDir string
	// Go is the go command (default "go").
	Go string
	// Mirror is the Debian mirror for debootstrap (default: the first Debian mirror in
	// this machine's apt sources).
	Mirror string
	// Suite is the Debian release (default "bookworm").
	Suite string
	// WorkDir holds build roots while building (default os.TempDir()).
	WorkDir string
	// Force rebuilds even when an image with the same key exists.
	Force bool
	// Step is told each build step as it begins (may be nil).
	Step func(string)
	// Log receives the build tools' output (default: discarded, but the tail is in errors).
	Log io.Writer
}

// Image is an image in the local engine.
type Image struct {
	// Name is one of Names.
	Name string
	// Ref is its tag, e.g. "shakedown/reference:local".
	Ref string
	// ID is the engine's image id.
	ID string
	// Built says Ensure built it (false: an image with the same key was there).
	Built bool
}

// Ensure returns image name, building and importing it when the engine has no image of
// that tag with the same key.
func Ensure(ctx context.Context, name string, opts Options) (Image, error) {
	if opts.Docker == nil {
		return Image{}, errors.New("images: no Docker client")
	}
	if opts.Tag == "" {
		opts.Tag = DefaultTag(name)
	}
	if opts.Tag == "" {
		return Image{}, fmt.Errorf("image %q: want one of %s", name, strings.Join(Names, ", "))
	}
	// A name without a tag is name:latest, as docker reads it.
	if i := strings.LastIndex(opts.Tag, ":"); i < 0 || strings.Contains(opts.Tag[i:], "/") {
		opts.Tag += ":latest"
	}
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	if opts.Go == "" {
		opts.Go = "go"
	}
	if opts.Suite == "" {
		opts.Suite = "bookworm"
	}
	if opts.Step == nil {
		opts.Step = func(string) {}
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	img := Image{Name: name, Ref: opts.Tag}
	var r recipe
	var err error
	switch name {
	case Reference:
		r, err = referenceRecipe(ctx, opts)
	case ClickHouse:
		r = clickhouseRecipe(opts)
	case Postgres:
		r = postgresRecipe(opts)
	case Pause:
		r, err = pauseRecipe(ctx, opts)
	}
	if err != nil {
		return img, err
	}
	if r.cleanup != nil {
		defer r.cleanup()
	}
	// One build of an image at a time on this machine (two test packages, say).
	unlock, err := flock.Lock(ctx, filepath.Join(os.TempDir(), "shakedown-image-"+name+".lock"))
	if err != nil {
		return img, err
	}
	defer unlock()
	if !opts.Force {
		if id, ok := existing(ctx, opts.Docker, opts.Tag, r.key); ok {
			img.ID = id
			return img, nil
		}
	}
	if err := r.build(ctx, opts, &img); err != nil {
		return img, fmt.Errorf("build image %s (%s): %w", name, opts.Tag, err)
	}
	img.Built = true
	return img, nil
}

// recipe is how one image is made: key names what goes in, build makes and imports it.
type recipe struct {
	key     string
	build   func(ctx context.Context, opts Options, img *Image) error
	cleanup func()
}

// existing returns the id of the image tagged ref when its key label equals key.
func existing(ctx context.Context, docker *client.Client, ref, key string) (string, bool) {
	res, err := docker.ImageInspect(ctx, ref)
	if err != nil || res.Config == nil || res.Config.Labels[KeyLabel] != key {
		return "", false
	}
	return res.ID, true
}

// importRoot imports a root tar stream into the engine as ref (`docker import`), with
// the Dockerfile-style changes, for this machine's architecture.
func importRoot(ctx context.Context, opts Options, ref string, tarStream io.Reader, changes []string, img *Image) error {
	res, err := opts.Docker.ImageImport(ctx, client.ImageImportSource{Source: tarStream, SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("docker import %s: %w", ref, err)
	}
	return finish(ctx, opts.Docker, "docker import", ref, res, img)
}

// finish reads an import's or load's progress stream, fails on an error in it, and
// records the id of the image now tagged ref.
func finish(ctx context.Context, docker *client.Client, verb, ref string, res io.ReadCloser, img *Image) error {
	defer res.Close()
	out, _ := io.ReadAll(res)
	if bytes.Contains(out, []byte(`"error"`)) {
		return fmt.Errorf("%s %s: %s", verb, ref, strings.TrimSpace(string(out)))
	}
	inspected, err := docker.ImageInspect(ctx, ref)
	if err != nil {
		return fmt.Errorf("inspect image %s after %s: %w", ref, verb, err)
	}
	img.ID = inspected.ID
	return nil
}

// tarDir streams dir as a tar archive (GNU tar keeps owners, modes, links and devices).
func tarDir(ctx context.Context, dir string, log io.Writer) (io.ReadCloser, func() error, error) {
	cmd := exec.CommandContext(ctx, "tar", "--numeric-owner", "--xattrs", "-C", dir, "-c", ".")
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("tar %s: %w", dir, err)
	}
	return out, cmd.Wait, nil
}

// keyOf hashes its parts into an image key.
func keyOf(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// run runs a command, its output to log; on failure the error carries the output's tail.
func run(ctx context.Context, log io.Writer, dir string, env []string, name string, args ...string) error {
	var buf bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	w := io.MultiWriter(log, &buf)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, lastLines(buf.String(), 20))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FindSourceDir walks up from dir to the root of the shakedown module.
func FindSourceDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/shakedown-dev/shakedown\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("the reference image is built from shakedown's source: run from a clone of the repository (no go.mod of github.com/shakedown-dev/shakedown above %s)", abs)
		}
	}
}

// sortedCopy returns a sorted copy of s.
func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
