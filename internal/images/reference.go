package images

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// ReferenceUID is the user the reference image runs as (not root; the chart's
// securityContext names the same id).
const ReferenceUID = 10001

// SourceRepository is the repository the reference image is built from.
const SourceRepository = "https://github.com/shakedown-dev/shakedown"

// caBundle is copied into the reference image when this machine has it, so the
// components can reach TLS endpoints (managed ClickHouse, PostgreSQL).
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

// referenceRecipe builds the static shakedown binary now (its hash is the key) and
// imports it on an otherwise empty root.
func referenceRecipe(ctx context.Context, opts Options) (recipe, error) {
	opts.Step(fmt.Sprintf("building the static shakedown binary for linux/%s", opts.Arch))
	tmp, bin, binHash, cleanup, err := buildStatic(ctx, opts, "reference", "./cmd/shakedown", "shakedown")
	if err != nil {
		return recipe{}, err
	}
	ca, _ := os.ReadFile(caBundle) // absent: no bundle in the image
	key := keyOf(recipeVersion, "reference", opts.Arch, binHash, string(ca))
	return recipe{key: key, cleanup: cleanup, build: func(ctx context.Context, opts Options, img *Image) error {
		opts.Step(fmt.Sprintf("loading %s (linux/%s)", opts.Tag, opts.Arch))
		layer := filepath.Join(tmp, "layer.tar")
		f, err := os.Create(layer)
		if err != nil {
			return err
		}
		werr := writeReferenceRoot(f, bin, ca)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write the image root: %w", werr)
		}
		return loadRoot(ctx, opts, opts.Tag, layer, imageConfig{
			Entrypoint: []string{"/usr/local/bin/shakedown", "serve"},
			User:       fmt.Sprintf("%d:%d", ReferenceUID, ReferenceUID),
			Env:        []string{"HOME=/tmp", "PATH=/usr/local/bin:/usr/bin:/bin"},
			Labels: map[string]string{KeyLabel: key,
				// Links a pushed image to its repository (the registry shows it there).
				"org.opencontainers.image.source": SourceRepository},
		}, img)
	}}, nil
}

// writeReferenceRoot writes the reference image's root as a tar stream: the binary,
// a passwd and group naming the runtime user, /tmp, a data directory, and the CA bundle.
func writeReferenceRoot(w io.Writer, bin string, ca []byte) error {
	tw := tar.NewWriter(w)
	now := time.Unix(0, 0)
	dir := func(name string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: uid, ModTime: now})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "usr/", "usr/local/", "usr/local/bin/", "var/", "var/lib/"} {
		if err := dir(d, 0o755, 0); err != nil {
			return err
		}
	}
	if err := dir("tmp/", 0o1777, 0); err != nil {
		return err
	}
	if err := dir("var/lib/shakedown/", 0o700, ReferenceUID); err != nil {
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nshakedown:x:%d:%d:shakedown:/tmp:/sbin/nologin\n", ReferenceUID, ReferenceUID)
	group := fmt.Sprintf("root:x:0:\nshakedown:x:%d:\n", ReferenceUID)
	for _, f := range []struct {
		name string
		data string
	}{{"etc/passwd", passwd}, {"etc/group", group}, {"etc/nsswitch.conf", "hosts: files dns\n"}} {
		if err := file(f.name, 0o644, []byte(f.data)); err != nil {
			return err
		}
	}
	if len(ca) > 0 {
		if err := file("etc/ssl/certs/ca-certificates.crt", 0o644, ca); err != nil {
			return err
		}
	}
	f, err := os.Open(bin)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "usr/local/bin/shakedown", Mode: 0o755, Size: st.Size(), ModTime: now}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	return tw.Close()
}

// buildStatic builds the main package pkg of the shakedown module (Options.SourceDir,
// else found from the working directory) as a static linux/opts.Arch binary named name,
// in a fresh directory. It returns the directory, the binary, its hash and a cleanup
// that removes the directory.
func buildStatic(ctx context.Context, opts Options, image, pkg, name string) (dir, bin, hash string, cleanup func(), err error) {
	src := opts.SourceDir
	if src == "" {
		if src, err = FindSourceDir("."); err != nil {
			return "", "", "", nil, err
		}
	}
	dir, err = os.MkdirTemp(opts.WorkDir, "shakedown-image-"+image+"-")
	if err != nil {
		return "", "", "", nil, fmt.Errorf("%s image: %w", image, err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	bin = filepath.Join(dir, name)
	if err := run(ctx, opts.Log, src, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + opts.Arch},
		opts.Go, "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, pkg); err != nil {
		cleanup()
		return "", "", "", nil, fmt.Errorf("%s image: %w", image, err)
	}
	if hash, err = fileHash(bin); err != nil {
		cleanup()
		return "", "", "", nil, err
	}
	return dir, bin, hash, cleanup, nil
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
