package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// chartAtGitRef extracts the chart directory workDir as it is at ref, with
// `git archive`, into a new directory under tmpDir and returns the chart's
// directory there.
func chartAtGitRef(ctx context.Context, ref, workDir, tmpDir string) (string, error) {
	prefix, err := git(ctx, workDir, "rev-parse", "--show-prefix")
	if err != nil {
		return "", fmt.Errorf("integration: %s is neither a chart path nor a git ref: %w (fix: pass a directory, a .tgz or a ref of the repository holding %s)", ref, err, workDir)
	}
	prefix = strings.TrimSuffix(strings.TrimSpace(prefix), "/")
	if prefix == "" {
		prefix = "."
	}
	archive, err := gitBytes(ctx, workDir, "archive", "--format=tar", ref, "--", ".")
	if err != nil {
		return "", fmt.Errorf("integration: read chart %s at git ref %s: %w (fix: check the ref exists, e.g. git tag --list, and that the chart existed there)", prefix, ref, err)
	}
	dest, err := os.MkdirTemp(tmpDir, "chart-"+sanitize(ref)+"-")
	if err != nil {
		return "", fmt.Errorf("integration: extract chart at %s: %w", ref, err)
	}
	if err := untar(bytes.NewReader(archive), dest); err != nil {
		return "", fmt.Errorf("integration: extract chart %s at git ref %s: %w", prefix, ref, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "Chart.yaml")); err != nil {
		return "", fmt.Errorf("integration: no chart at %s in git ref %s (fix: pick a ref where %s/Chart.yaml exists)", prefix, ref, prefix)
	}
	return dest, nil
}

// git runs git in dir and returns its standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	out, err := gitBytes(ctx, dir, args...)
	return string(out), err
}

func gitBytes(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// untar writes the regular files and directories of a tar stream under dest,
// refusing paths that leave it.
func untar(r io.Reader, dest string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if name == "." || strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			continue
		}
		target := filepath.Join(dest, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, data, 0o644); err != nil {
				return err
			}
		}
	}
}

// sanitize makes s usable in a file name.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}
